"""Sandwich layers: common sequences of layers with one forward and one backward each.

Every ``*_forward`` returns ``(out, cache)``; every ``*_backward(dout, cache)`` returns
``dx, dw, db`` (plus ``dgamma, dbeta`` where a normalization is inside).
"""

from __future__ import annotations

import numpy as np

from cs231n.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231n.layers import *  # noqa: F403  (the classic kit exposes the layers here too)
from cs231n.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)

###########################################################################
#                    Fully connected sandwiches (Q1-Q3)                   #
###########################################################################

NORMALIZATIONS = (None, "batchnorm", "layernorm")


def check_normalization(normalization: object) -> None:
    """Require ``normalization`` to be one of ``NORMALIZATIONS``."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be None, 'batchnorm' or 'layernorm', got {normalization!r}"
        )


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Affine layer followed by a ReLU.

    Inputs: x (N, d_1, ..., d_k); w (D, M); b (M,).
    Returns (out, cache): out (N, M); cache (affine cache, relu cache).
    """
    # TODO: write the forward pass: out, fc_cache and relu_cache (affine_forward, relu_forward).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of ``affine_relu_forward``.

    Inputs: dout (N, M); cache from the forward pass.
    Returns (dx, dw, db): dx shaped like x, dw (D, M), db (M,).
    """
    fc_cache, relu_cache = cache
    # TODO: write the backward pass: dx, dw, db (relu_backward, affine_backward).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    da = relu_backward(dout, relu_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db


def affine_norm_relu_dropout_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray | None,
    beta: np.ndarray | None,
    norm_param: dict | None,
    normalization: str | None,
    dropout_param: dict | None,
) -> tuple[np.ndarray, tuple]:
    """One hidden layer of a fully connected net: affine - [norm] - relu - [dropout].

    Inputs:
    - x: (N, d_1, ..., d_k); w: (D, M); b: (M,)
    - normalization: None, 'batchnorm' or 'layernorm'
    - gamma, beta: (M,) scale and shift of the normalization (unused without one)
    - norm_param: the bn_param / ln_param dict of the normalization (unused without one)
    - dropout_param: the dict for ``dropout_forward``, or None for no dropout

    Returns (out, cache): out (N, M); cache (normalization, affine cache, norm cache or
    None, relu cache, dropout cache or None).
    """
    check_normalization(normalization)
    # TODO: write the forward pass: out, fc_cache, norm_cache, relu_cache and
    # dropout_cache (norm_cache and dropout_cache stay None without that layer).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    out, fc_cache = affine_forward(x, w, b)
    norm_cache = dropout_cache = None
    if normalization == "batchnorm":
        out, norm_cache = batchnorm_forward(out, gamma, beta, norm_param)
    elif normalization == "layernorm":
        out, norm_cache = layernorm_forward(out, gamma, beta, norm_param)
    out, relu_cache = relu_forward(out)
    if dropout_param is not None:
        out, dropout_cache = dropout_forward(out, dropout_param)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (normalization, fc_cache, norm_cache, relu_cache, dropout_cache)


def affine_norm_relu_dropout_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray | None, ...]:
    """Backward pass of ``affine_norm_relu_dropout_forward``.

    Inputs: dout (N, M); cache from the forward pass.
    Returns (dx, dw, db, dgamma, dbeta): dx shaped like x, dw (D, M), db (M,), and
    dgamma, dbeta (M,), which are None when the layer has no normalization.
    """
    normalization, fc_cache, norm_cache, relu_cache, dropout_cache = cache
    # TODO: write the backward pass: dx, dw, db, and dgamma, dbeta (None without
    # a normalization), going through the layers in reverse order.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dgamma = dbeta = None
    if dropout_cache is not None:
        dout = dropout_backward(dout, dropout_cache)
    dout = relu_backward(dout, relu_cache)
    if normalization == "batchnorm":
        dout, dgamma, dbeta = batchnorm_backward_alt(dout, norm_cache)
    elif normalization == "layernorm":
        dout, dgamma, dbeta = layernorm_backward(dout, norm_cache)
    dx, dw, db = affine_backward(dout, fc_cache)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db, dgamma, dbeta


###########################################################################
#                    Convolutional sandwiches (Q4)                        #
###########################################################################


def conv_relu_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, tuple]:
    """Convolution followed by a ReLU.

    Inputs: x (N, C, H, W); w (F, C, HH, WW); b (F,); conv_param 'stride', 'pad'.
    Returns (out, cache): out (N, F, H', W'); cache (conv cache, relu cache).
    """
    # TODO: write the forward pass: out, conv_cache and relu_cache (conv_forward_fast and
    # relu_forward).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of ``conv_relu_forward``: dout (N, F, H', W') -> (dx, dw, db)."""
    conv_cache, relu_cache = cache
    # TODO: write the backward pass: dx, dw, db.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    da = relu_backward(dout, relu_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db


def conv_bn_relu_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    conv_param: dict,
    bn_param: dict,
) -> tuple[np.ndarray, tuple]:
    """Convolution, spatial batch normalization, ReLU.

    Inputs: x (N, C, H, W); w (F, C, HH, WW); b (F,); gamma, beta (F,); conv_param
    'stride', 'pad'; bn_param as for ``spatial_batchnorm_forward``.
    Returns (out, cache): out (N, F, H', W'); cache (conv cache, batchnorm cache,
    relu cache).
    """
    # TODO: write the forward pass: out, conv_cache, bn_cache and relu_cache.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of ``conv_bn_relu_forward``: dout (N, F, H', W') ->
    (dx, dw, db, dgamma, dbeta)."""
    conv_cache, bn_cache, relu_cache = cache
    # TODO: write the backward pass: dx, dw, db, dgamma, dbeta.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db, dgamma, dbeta


def conv_relu_pool_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict, pool_param: dict
) -> tuple[np.ndarray, tuple]:
    """Convolution, ReLU, max pooling.

    Inputs: x (N, C, H, W); w (F, C, HH, WW); b (F,); conv_param 'stride', 'pad';
    pool_param 'pool_height', 'pool_width', 'stride'.
    Returns (out, cache): out (N, F, H'', W'') after pooling; cache (conv cache,
    relu cache, pool cache).
    """
    # TODO: write the forward pass: out, conv_cache, relu_cache and pool_cache.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of ``conv_relu_pool_forward``: dout (N, F, H'', W'') -> (dx, dw, db)."""
    conv_cache, relu_cache, pool_cache = cache
    # TODO: write the backward pass: dx, dw, db.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ds = max_pool_backward_fast(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db


def conv_bn_relu_pool_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    conv_param: dict,
    bn_param: dict,
    pool_param: dict,
) -> tuple[np.ndarray, tuple]:
    """Convolution, spatial batch normalization, ReLU, max pooling.

    Inputs as ``conv_bn_relu_forward`` plus pool_param 'pool_height', 'pool_width',
    'stride'. Returns (out, cache): out (N, F, H'', W'') after pooling; cache
    (conv-bn-relu cache, pool cache).
    """
    # TODO: write the forward pass: out, cbr_cache (conv_bn_relu_forward's cache) and
    # pool_cache.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    s, cbr_cache = conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (cbr_cache, pool_cache)


def conv_bn_relu_pool_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of ``conv_bn_relu_pool_forward``: dout (N, F, H'', W'') ->
    (dx, dw, db, dgamma, dbeta)."""
    cbr_cache, pool_cache = cache
    # TODO: write the backward pass: dx, dw, db, dgamma, dbeta.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ds = max_pool_backward_fast(dout, pool_cache)
    dx, dw, db, dgamma, dbeta = conv_bn_relu_backward(ds, cbr_cache)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db, dgamma, dbeta
