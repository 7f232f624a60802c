"""Convolutional networks built from the fast layers and the sandwiches in
``cs231n.layer_utils``.

Both models follow the contract ``cs231n.solver.Solver`` relies on: a ``params`` dict of
arrays, and ``loss(X)`` returning class scores while ``loss(X, y)`` returns
``(loss, grads)`` with ``grads`` keyed like ``params``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cs231n._checks import (
    cast_params,
    check_input_dim,
    check_positive_int,
    check_probability,
    conv_output_size,
)
from cs231n.fast_layers import conv_backward_fast, max_pool_backward_fast
from cs231n.layer_utils import (
    affine_norm_relu_dropout_backward,
    affine_norm_relu_dropout_forward,
    affine_relu_backward,
    affine_relu_forward,
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_bn_relu_pool_backward,
    conv_bn_relu_pool_forward,
    conv_relu_pool_backward,  # noqa: F401 (the usual way to write ThreeLayerConvNet.loss)
    conv_relu_pool_forward,
)
from cs231n.layers import affine_backward, affine_forward, relu_backward, softmax_loss

# Every pooling layer in this module: 2x2 windows with stride 2, halving height and width.
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


def _conv_pool_shapes(
    input_dim: Sequence[int], num_filters: int, filter_size: int
) -> tuple[int, int, int, dict]:
    """The checked geometry of ThreeLayerConvNet's conv - relu - pool stage: (C, H_p, W_p,
    conv_param), with C the input channels and H_p, W_p the pooled height and width of a
    stride-1 convolution padded by ``(filter_size - 1) // 2``."""
    C, H, W = check_input_dim(input_dim)
    check_positive_int("num_filters", num_filters)
    filter_size = check_positive_int("filter_size", filter_size)
    conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
    pad = conv_param["pad"]
    H_p = conv_output_size("height", conv_output_size("height", H, filter_size, 1, pad), 2, 2)
    W_p = conv_output_size("width", conv_output_size("width", W, filter_size, 1, pad), 2, 2)
    return C, H_p, W_p, conv_param


class ThreeLayerConvNet:
    """Three-layer ConvNet:

    conv - relu - 2x2 max pool - affine - relu - affine - softmax

    The convolution has ``num_filters`` square filters of size ``filter_size``, stride 1
    and zero padding ``(filter_size - 1) // 2`` (which keeps H and W for odd sizes). The
    net works on minibatches (N, C, H, W).

    ``params`` holds W1 (F, C, filter_size, filter_size) and b1 (F,) for the convolution,
    W2 (F * H_p * W_p, hidden_dim) and b2 (hidden_dim,) for the hidden affine layer, with
    H_p, W_p the pooled height and width, and W3 (hidden_dim, num_classes), b3
    (num_classes,). Weights are drawn from N(0, weight_scale^2), biases start at zero; all
    parameters have dtype ``dtype``.
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: type = np.float32,
    ) -> None:
        """Inputs:
        - input_dim: (C, H, W) of one input image
        - num_filters: F, the number of convolution filters
        - filter_size: height and width of each filter
        - hidden_dim: units in the hidden affine layer
        - num_classes: number of scores to produce
        - weight_scale: standard deviation of the initial weights
        - reg: L2 regularization strength on W1, W2, W3
        - dtype: numpy float type of all parameters and computations
        """
        C, H_p, W_p, self.conv_param = _conv_pool_shapes(input_dim, num_filters, filter_size)
        self.reg = reg
        self.dtype = dtype
        self.params: dict[str, np.ndarray] = {}
        # TODO: initialize the parameters: W1, b1 (convolution), W2, b2 (hidden affine),
        # W3, b3 (output affine) in self.params, shapes as in the class docstring;
        # weights from N(0, weight_scale^2) with np.random.randn, biases zero.
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        F, fs = num_filters, filter_size
        # The global RNG, so that np.random.seed in a notebook fixes the initialization.
        self.params["W1"] = weight_scale * np.random.randn(F, C, fs, fs)  # noqa: NPY002
        self.params["b1"] = np.zeros(F)
        self.params["W2"] = weight_scale * np.random.randn(F * H_p * W_p, hidden_dim)  # noqa: NPY002
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)  # noqa: NPY002
        self.params["b3"] = np.zeros(num_classes)
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        cast_params(self.params, dtype)

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores, or loss and gradients, for a minibatch.

        Inputs:
        - X: (N, C, H, W) images; cast to ``dtype``
        - y: (N,) integer labels in [0, num_classes), or None

        Returns scores (N, num_classes) when y is None; otherwise (loss, grads), where
        loss is the softmax loss plus ``0.5 * reg * sum(W**2)`` over W1, W2, W3 and grads
        maps each parameter name to its gradient.
        """
        X = np.asarray(X).astype(self.dtype, copy=False)
        conv_param = self.conv_param
        pool_param = POOL_PARAM
        # TODO: write the forward pass: scores (N, C) of conv - relu - pool - affine -
        # relu - affine, keeping each layer's cache.
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        W1, b1, W2, b2, W3, b3 = (self.params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
        pooled, pool_cache = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)
        scores, scores_cache = affine_forward(hidden, W3, b3)
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        if y is None:
            return scores

        # TODO: write the backward pass: loss (softmax loss plus the L2 term on W1, W2,
        # W3) and grads, the gradient of every parameter keyed like self.params.
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(float(np.vdot(W, W)) for W in (W1, W2, W3))
        grads = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        # conv_relu_pool_backward without dx: the images need no gradient, and the conv
        # layer's backward does about half the work without it (need_dx=False).
        conv_cache, relu_cache, max_pool_cache = pool_cache
        drelu = relu_backward(max_pool_backward_fast(dpooled, max_pool_cache), relu_cache)
        _, grads["W1"], grads["b1"] = conv_backward_fast(drelu, conv_cache, need_dx=False)
        for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):
            grads[name] += self.reg * W
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        return loss, grads


def _check_architecture(
    input_dim: Sequence[int], stage_filters: Sequence[Sequence[int]], hidden_dims: Sequence[int]
) -> tuple[int, list[int], list[int], tuple[int, int]]:
    """DeepConvNet's layout checked: (C, the filters of every convolution in order, the
    hidden dims, the (H, W) left after every stage's 2x2 pool)."""
    C, H, W = check_input_dim(input_dim)
    if not stage_filters or any(len(stage) == 0 for stage in stage_filters):
        raise ValueError(
            f"stage_filters must list at least one stage of at least one convolution, "
            f"got {stage_filters!r}"
        )
    filters = [
        check_positive_int(f"stage_filters[{s}]", f)
        for s, stage in enumerate(stage_filters)
        for f in stage
    ]
    hidden = [check_positive_int("hidden_dims", h) for h in hidden_dims]
    for _ in stage_filters:  # each stage's pool must tile the image, halving it
        H = conv_output_size("height", H, 2, 2)
        W = conv_output_size("width", W, 2, 2)
    return C, filters, hidden, (H, W)


def _initial_params(
    rng: np.random.Generator, shapes: list[tuple[int, ...]], weight_scale: float | None, dtype
) -> dict[str, np.ndarray]:
    """W1..WL of ``shapes`` ((F, C, 3, 3) for a convolution, (D, M) for an affine layer) drawn
    with std ``weight_scale`` (None: He, sqrt(2 / fan_in)), zero biases b1..bL, and batchnorm
    gamma = 1, beta = 0 for every layer but the last."""
    params = {}
    for i, shape in enumerate(shapes, start=1):
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        fan_out = shape[0] if len(shape) == 4 else shape[1]
        std = np.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale
        params[f"W{i}"] = (std * rng.standard_normal(shape)).astype(dtype)
        params[f"b{i}"] = np.zeros(fan_out, dtype=dtype)
        if i < len(shapes):
            params[f"gamma{i}"] = np.ones(fan_out, dtype=dtype)
            params[f"beta{i}"] = np.zeros(fan_out, dtype=dtype)
    return params


class DeepConvNet:
    """A configurable deeper ConvNet with spatial batch normalization:

    {[conv3x3 - spatial batchnorm - relu] x n_s - 2x2 max pool} for each stage s
    - {affine - batchnorm - relu - [dropout]} for each hidden dim - affine - softmax

    Convolutions have stride 1 and pad 1, so only the pools shrink the image; each stage
    needs an even height and width. Layers are numbered 1..L in order (convolutions
    first), and ``params`` holds W1..WL and b1..bL, plus gamma1..gamma(L-1) and
    beta1..beta(L-1) for the batchnorm after every layer but the last. ``bn_params[i-1]``
    is layer i's batchnorm parameter dict (mode and running statistics). All parameters
    have dtype ``dtype``.

    Example: ``DeepConvNet(stage_filters=[[32], [64], [128]])`` is conv32-pool-conv64-pool-
    conv128-pool-affine.

    Data augmentation lives here too, so that the Solver trains the model itself and sees
    all of it (``params`` and ``bn_params``): with ``flip_prob`` > 0, ``loss(X, y)`` mirrors
    each training image left-right with that probability (its label unchanged); ``loss(X)``
    never augments.
    """

    def __init__(
        self,
        input_dim: Sequence[int] = (3, 32, 32),
        stage_filters: Sequence[Sequence[int]] = ((32,), (64,), (128,)),
        hidden_dims: Sequence[int] = (),
        num_classes: int = 10,
        dropout_keep_ratio: float = 1.0,
        weight_scale: float | None = None,
        reg: float = 0.0,
        dtype: type = np.float32,
        seed: int | None = None,
        flip_prob: float = 0.0,
    ) -> None:
        """Inputs:
        - input_dim: (C, H, W) of one input image
        - stage_filters: for each stage, the number of filters of each of its 3x3
          convolutions; a 2x2 max pool ends every stage
        - hidden_dims: the size of each hidden affine layer after the convolutions
        - num_classes: number of scores to produce
        - dropout_keep_ratio: probability of keeping a hidden affine unit, in (0, 1];
          1 means no dropout
        - weight_scale: standard deviation of the initial weights, or None for He
          (Kaiming) initialization, std sqrt(2 / fan_in) for each layer
        - reg: L2 regularization strength on the weights W1..WL
        - dtype: numpy float type of all parameters and computations
        - seed: seeds the initialization and the flips (one fresh generator: numpy's global
          RNG is untouched)
        - flip_prob: probability, in [0, 1], of mirroring each training image left-right in
          ``loss(X, y)``; 0 means no augmentation
        """
        C, filters, hidden, (H, W) = _check_architecture(input_dim, stage_filters, hidden_dims)
        check_probability("dropout_keep_ratio (keep probability)", dropout_keep_ratio)
        check_probability(
            "flip_prob (probability of mirroring a training image)", flip_prob, zero_allowed=True
        )

        self.reg = reg
        self.dtype = dtype
        self.flip_prob = float(flip_prob)
        self.num_conv_layers = len(filters)
        self.num_layers = len(filters) + len(hidden) + 1
        # Layer i's index within its stage tells whether a pool follows it.
        self.pool_after = [
            j == len(stage) - 1 for stage in stage_filters for j in range(len(stage))
        ]
        self.conv_param = {"stride": 1, "pad": 1}
        self.use_dropout = dropout_keep_ratio != 1
        self.dropout_param = {"mode": "train", "p": dropout_keep_ratio} if self.use_dropout else {}
        self.bn_params: list[dict] = [{"mode": "train"} for _ in range(self.num_layers - 1)]

        rng = np.random.default_rng(seed)
        shapes = [(f, c, 3, 3) for c, f in zip([C, *filters[:-1]], filters, strict=True)]
        dims = [filters[-1] * H * W, *hidden, num_classes]
        shapes += list(zip(dims[:-1], dims[1:], strict=True))
        self.params = _initial_params(rng, shapes, weight_scale, dtype)
        # The flips continue the same generator, so flip_prob does not change the weights.
        self.flip_rng = rng

    def augment(self, X: np.ndarray) -> np.ndarray:
        """A new (N, C, H, W) array: X with each image mirrored left-right (along W) with
        probability ``flip_prob``, drawn from ``flip_rng``. X itself is untouched."""
        flip = self.flip_rng.random(len(X)) < self.flip_prob
        return np.where(flip[:, None, None, None], X[..., ::-1], X)

    def _layer(self, i: int) -> tuple[np.ndarray, ...]:
        """Layer i's (W, b, gamma, beta, bn_param); the last layer has no batchnorm."""
        p = self.params
        if i == self.num_layers:
            return p[f"W{i}"], p[f"b{i}"], None, None, None
        return p[f"W{i}"], p[f"b{i}"], p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1]

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores, or loss and gradients, for a minibatch.

        Inputs:
        - X: (N, C, H, W) images; cast to ``dtype``
        - y: (N,) integer labels in [0, num_classes), or None

        With y None the net runs in test mode (batchnorm on its running statistics,
        dropout off, no flips) and returns scores (N, num_classes). Otherwise it runs in
        train mode on ``augment(X)`` when ``flip_prob`` > 0, and returns (loss, grads): the
        softmax loss plus ``0.5 * reg * sum(W**2)`` over every weight, and the gradient of
        each parameter keyed like ``params``.
        """
        X = np.asarray(X).astype(self.dtype, copy=False)
        if y is not None and self.flip_prob > 0:
            X = self.augment(X)
        mode = "test" if y is None else "train"
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        dropout_param = self.dropout_param if self.use_dropout else None
        L, K = self.num_layers, self.num_conv_layers

        out, caches = X, []
        for i in range(1, K + 1):
            w, b, gamma, beta, bn_param = self._layer(i)
            if self.pool_after[i - 1]:
                out, cache = conv_bn_relu_pool_forward(
                    out, w, b, gamma, beta, self.conv_param, bn_param, POOL_PARAM
                )
            else:
                out, cache = conv_bn_relu_forward(out, w, b, gamma, beta, self.conv_param, bn_param)
            caches.append(cache)
        for i in range(K + 1, L):
            w, b, gamma, beta, bn_param = self._layer(i)
            out, cache = affine_norm_relu_dropout_forward(
                out, w, b, gamma, beta, bn_param, "batchnorm", dropout_param
            )
            caches.append(cache)
        w, b, *_ = self._layer(L)
        scores, scores_cache = affine_forward(out, w, b)
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        weights = {f"W{i}": self.params[f"W{i}"] for i in range(1, L + 1)}
        loss += 0.5 * self.reg * sum(float(np.sum(W * W)) for W in weights.values())

        grads: dict[str, np.ndarray] = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, scores_cache)
        for i in range(L - 1, 0, -1):
            if i > K:
                backward = affine_norm_relu_dropout_backward
            elif self.pool_after[i - 1]:
                backward = conv_bn_relu_pool_backward
            else:
                backward = conv_bn_relu_backward
            dout, dw, db, dgamma, dbeta = backward(dout, caches[i - 1])
            grads[f"W{i}"], grads[f"b{i}"] = dw, db
            grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
        for name, W in weights.items():
            grads[name] += self.reg * W
        return loss, grads
