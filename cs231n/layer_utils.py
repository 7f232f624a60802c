"""Sandwich layers: common sequences of layers with one forward and one backward each.

Every ``*_forward`` returns ``(out, cache)``; every ``*_backward(dout, cache)`` returns
``dx, dw, db`` (plus ``dgamma, dbeta`` where a normalization is inside).
"""

from __future__ import annotations

import numpy as np

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
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    cache = (fc_cache, relu_cache)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, cache


def affine_relu_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of ``affine_relu_forward``.

    Inputs: dout (N, M); cache from the forward pass.
    Returns (dx, dw, db): dx shaped like x, dw (D, M), db (M,).
    """
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    fc_cache, relu_cache = cache
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
    cache = (normalization, fc_cache, norm_cache, relu_cache, dropout_cache)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, cache


def affine_norm_relu_dropout_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray | None, ...]:
    """Backward pass of ``affine_norm_relu_dropout_forward``.

    Inputs: dout (N, M); cache from the forward pass.
    Returns (dx, dw, db, dgamma, dbeta): dx shaped like x, dw (D, M), db (M,), and
    dgamma, dbeta (M,), which are None when the layer has no normalization.
    """
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    normalization, fc_cache, norm_cache, relu_cache, dropout_cache = cache
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
