"""Layers in vectorized numpy: every ``*_forward`` returns ``(out, cache)`` and every
``*_backward(dout, cache)`` returns the gradients with respect to the forward's inputs.

Inputs are never modified in place. Images are ``(N, C, H, W)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cs231n._checks import (
    check_conv_param,
    check_finite,
    check_labels,
    check_mode,
    check_ndim,
    check_pool_param,
    check_positive_int,
    check_probability,
    check_shape,
)

# Marker lines delimit the code a student writes; the release tool replaces what lies
# between each pair. Keep them exactly as they are.


###########################################################################
#                      Fully connected layers (Q1)                        #
###########################################################################


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Affine (fully connected) layer: ``out = x.reshape(N, D) @ w + b``.

    Inputs:
    - x: (N, d_1, ..., d_k), each sample flattened to D = d_1 * ... * d_k values
    - w: (D, M) weights
    - b: (M,) biases

    Returns (out, cache):
    - out: (N, M)
    - cache: (x, w), the inputs as given
    """
    check_ndim("w", w, 2)
    D, M = w.shape
    if x.ndim < 1 or int(np.prod(x.shape[1:])) != D:
        raise ValueError(
            f"x must have shape (N, d_1, ..., d_k) with d_1*...*d_k == w.shape[0] == {D}, "
            f"got x.shape {x.shape}"
        )
    check_shape("b", b, (M,))
    # TODO: write the forward pass: out (N, M), with each row of x flattened to D values.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    out = x.reshape(x.shape[0], D) @ w + b
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (x, w)


def affine_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of ``affine_forward``.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: (x, w) from the forward pass

    Returns (dx, dw, db): dx shaped like x (N, d_1, ..., d_k), dw (D, M), db (M,).
    """
    x, w = cache
    # TODO: write the backward pass: dx (shaped like x), dw (D, M) and db (M,).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x2d = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2d.T @ dout
    db = dout.sum(axis=0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit, elementwise ``max(0, x)``.

    x: any shape. Returns (out, cache): out shaped like x; cache is x.
    """
    # TODO: write the forward pass: out = max(0, x), elementwise.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    out = np.maximum(x, 0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of ``relu_forward``. dout and cache (the input x) share a shape."""
    x = cache
    # TODO: write the backward pass: dx is dout where x > 0 and 0 elsewhere.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dx = dout * (x > 0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx


###########################################################################
#                              Losses (Q1)                                #
###########################################################################

# Both losses require finite scores: a NaN or an infinite score (whose loss would be NaN or
# infinite) almost always comes from a network whose training diverged.
DIVERGED = (
    "scores from a model in training usually mean that it diverged: the learning rate or "
    "the weight scale is probably too large"
)


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy, averaged over the batch; stable for very large scores.

    Inputs:
    - x: (N, C) class scores, finite (a NaN or an infinity raises ValueError)
    - y: (N,) integer labels in [0, C)

    Returns (loss, dx): the scalar loss and its gradient dx (N, C).
    """
    check_ndim("x", x, 2)
    N, C = x.shape
    check_labels(y, N, C)
    check_finite("x", x, DIVERGED)
    # TODO: write the loss and its gradient: loss (mean over the N rows) and dx (N, C).
    # Subtract each row's maximum score first, so that huge scores do not overflow.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = -log_probs[rows, y].mean()
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= N
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return float(loss), dx


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Multiclass hinge loss with margin 1, averaged over the batch.

    ``loss_i = sum_{j != y_i} max(0, x_ij - x_iy_i + 1)``

    Inputs: x (N, C) finite scores, y (N,) integer labels in [0, C).
    Returns (loss, dx) with dx (N, C).
    """
    check_ndim("x", x, 2)
    N, C = x.shape
    check_labels(y, N, C)
    check_finite("x", x, DIVERGED)
    # TODO: write the loss and its gradient: loss (mean over the N rows) and dx (N, C).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    rows = np.arange(N)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / N
    dx = (margins > 0).astype(x.dtype)
    dx[rows, y] -= dx.sum(axis=1)
    dx /= N
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return float(loss), dx


###########################################################################
#                          Normalization (Q2)                             #
###########################################################################


def _normalize_backward(
    dxhat: np.ndarray, xhat: np.ndarray, std: np.ndarray, axis: Any
) -> np.ndarray:
    """Gradient through ``xhat = (x - mean(x)) / sqrt(var(x) + eps)`` in closed form.

    Mean and (biased) variance are taken over ``axis``; ``std`` keeps those axes as size 1
    (or broadcasts against them). Shared by the batch, layer and group norms.
    """
    # TODO: write the closed-form gradient: dx shaped like dxhat, from the means of
    # dxhat and of dxhat * xhat over axis (see the docstring).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    mean_dxhat = dxhat.mean(axis=axis, keepdims=True)
    mean_dxhat_xhat = (dxhat * xhat).mean(axis=axis, keepdims=True)
    dx = (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) / std
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple[np.ndarray, tuple | None]:
    """Batch normalization over the batch axis.

    In 'train' mode the batch mean and biased variance normalize x, and the running
    statistics are updated in place in ``bn_param``:
    ``running = momentum * running + (1 - momentum) * batch``.
    In 'test' mode the running statistics normalize x.

    Inputs:
    - x: (N, D)
    - gamma, beta: (D,) scale and shift
    - bn_param: 'mode' ('train' or 'test'), optional 'eps' (1e-5), 'momentum' (0.9),
      'running_mean' and 'running_var' (D,), created as zeros when absent

    Returns (out, cache):
    - out: (N, D)
    - cache (train mode): (xhat, xc, std, gamma) with xhat (N, D) the normalized input,
      xc (N, D) the centred input and std (D,) the batch standard deviation.
      In test mode the cache is (xhat, None, std, gamma) with the running std.
    """
    check_ndim("x", x, 2)
    N, D = x.shape
    check_shape("gamma", gamma, (D,))
    check_shape("beta", beta, (D,))
    mode = check_mode("bn_param", bn_param.get("mode"))
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    # TODO: write the forward pass: out, plus xhat, xc and std for the cache.
    # Train mode: batch mean and biased variance, and update running_mean and
    # running_var; test mode: normalize with the running statistics, xc = None.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    if mode == "train":
        mean = x.mean(axis=0)
        xc = x - mean
        var = (xc**2).mean(axis=0)
        std = np.sqrt(var + eps)
        xhat = xc / std
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        xc = None
        std = np.sqrt(running_var + eps)
        xhat = (x - running_mean) / std
    out = gamma * xhat + beta
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, (xhat, xc, std, gamma)


def batchnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of batch normalization, one node of the computation graph at a time.

    Inputs: dout (N, D); cache from ``batchnorm_forward`` in train mode.
    Returns (dx, dgamma, dbeta): dx (N, D), dgamma (D,), dbeta (D,).
    """
    xhat, xc, std, gamma = cache
    # TODO: write the backward pass node by node: dx, dgamma, dbeta, going back
    # through xhat = xc / std, std = sqrt(var + eps) and xc = x - mean.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    # xhat = xc / std
    dxc = dxhat / std
    dstd = -(dxhat * xc).sum(axis=0) / std**2
    # std = sqrt(var + eps), var = mean(xc**2)
    dvar = dstd / (2 * std)
    dxc += 2 * xc * dvar / N
    # xc = x - mean(x)
    dx = dxc - dxc.mean(axis=0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of batch normalization in simplified closed form.

    ``dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / std`` with
    ``dxhat = dout * gamma``, means over the batch.

    Inputs: dout (N, D); the same cache as ``batchnorm_backward``.
    Returns (dx, dgamma, dbeta): dx (N, D), dgamma (D,), dbeta (D,).
    """
    xhat, _, std, gamma = cache
    # TODO: write the backward pass in closed form: dx, dgamma, dbeta (see the
    # docstring; _normalize_backward computes the dx part).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = _normalize_backward(dout * gamma, xhat, std, axis=0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict
) -> tuple[np.ndarray, tuple]:
    """Layer normalization: each sample (row) normalized over its D features.

    Behaves the same in training and testing; reads only ``ln_param['eps']`` (1e-5).

    Inputs: x (N, D); gamma, beta (D,).
    Returns (out, cache): out (N, D); cache (xhat, std, gamma) with xhat (N, D) and
    std (N, 1) the per-row standard deviation.
    """
    check_ndim("x", x, 2)
    D = x.shape[1]
    check_shape("gamma", gamma, (D,))
    check_shape("beta", beta, (D,))
    eps = ln_param.get("eps", 1e-5)
    # TODO: write the forward pass: out, plus xhat (N, D) and std (N, 1) for the cache,
    # each row normalized over its D features.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    xc = x - x.mean(axis=1, keepdims=True)
    std = np.sqrt((xc**2).mean(axis=1, keepdims=True) + eps)
    xhat = xc / std
    out = gamma * xhat + beta
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (xhat, std, gamma)


def layernorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of layer normalization.

    Inputs: dout (N, D); cache from ``layernorm_forward``.
    Returns (dx, dgamma, dbeta): dx (N, D), dgamma (D,), dbeta (D,).
    """
    xhat, std, gamma = cache
    # TODO: write the backward pass: dx, dgamma, dbeta.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = _normalize_backward(dout * gamma, xhat, std, axis=1)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


###########################################################################
#                              Dropout (Q3)                               #
###########################################################################


def dropout_forward(x: np.ndarray, dropout_param: dict) -> tuple[np.ndarray, tuple]:
    """Inverted dropout.

    Inputs:
    - x: any shape
    - dropout_param: 'p', the probability of **keeping** each unit, in (0, 1];
      'mode' ('train' or 'test'); optional 'seed', which seeds numpy's global RNG so
      that masks are reproducible.

    In train mode each unit is kept with probability p and kept units are scaled by
    1 / p, so that the expected output equals x; test mode is the identity.

    Returns (out, cache): out has x's shape and dtype; cache (dropout_param, mask) with
    mask shaped like x (the scaled keep mask) in train mode, None in test mode.
    """
    p = check_probability("dropout_param['p'] (keep probability)", dropout_param.get("p"))
    mode = check_mode("dropout_param", dropout_param.get("mode"))
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])  # noqa: NPY002 (global RNG by contract)
    # TODO: write the forward pass: out and mask. Train mode: keep each unit with
    # probability p and scale the kept ones by 1 / p (mask holds that scaled keep
    # mask); test mode: out is a copy of x and mask is None.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p  # noqa: NPY002
        out = (x * mask).astype(x.dtype, copy=False)
    else:
        mask = None
        out = x.copy()
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (dropout_param, mask)


def dropout_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward pass of inverted dropout. dout: shaped like the forward's x."""
    dropout_param, mask = cache
    # TODO: write the backward pass: dx (through the mask in train mode; dout in test mode).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    if dropout_param["mode"] == "train":
        dx = (dout * mask).astype(dout.dtype, copy=False)
    else:
        dx = dout
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx


###########################################################################
#                     Convolutional layers (Q4)                           #
###########################################################################


def conv_forward_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, tuple]:
    """Convolution (cross-correlation) with zero padding, as a loop over output positions.

    Each output position is one tensor contraction over (C, HH, WW), vectorized over the
    N samples and F filters.

    Inputs:
    - x: (N, C, H, W) input images
    - w: (F, C, HH, WW) filters
    - b: (F,) biases
    - conv_param: 'stride' (positive int) and 'pad' (zeros added on every side)

    The filter must tile the padded input: (H + 2*pad - HH) % stride == 0, likewise for W.

    Returns (out, cache):
    - out: (N, F, H', W') with H' = 1 + (H + 2*pad - HH) // stride, W' likewise
    - cache: (x, w, conv_param), the inputs as given
    """
    stride, pad, H_out, W_out = check_conv_param(x, w, b, conv_param)
    N = x.shape[0]
    F, _, HH, WW = w.shape
    # TODO: write the forward pass: out (N, F, H_out, W_out), looping over the output
    # positions of the zero-padded input.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((N, F, H_out, W_out), dtype=np.result_type(x, w))
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    out += b[:, None, None]
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (x, w, conv_param)


def conv_backward_naive(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of ``conv_forward_naive``.

    Inputs:
    - dout: (N, F, H', W') upstream gradient
    - cache: (x, w, conv_param) from the forward pass

    Returns (dx, dw, db): dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    x, w, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    # TODO: write the backward pass: dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    _, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad, dtype=np.result_type(dout, w))
    dw = np.zeros_like(w, dtype=np.result_type(dout, x))
    for i in range(H_out):
        for j in range(W_out):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            g = dout[:, :, i, j]  # (N, F)
            dx_pad[:, :, rows, cols] += np.tensordot(g, w, axes=(1, 0))
            dw += np.tensordot(g, x_pad[:, :, rows, cols], axes=(0, 0))
    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]
    db = dout.sum(axis=(0, 2, 3))
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db


def max_pool_forward_naive(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, tuple]:
    """Max pooling without padding, as a loop over output positions (vectorized over N, C).

    Inputs:
    - x: (N, C, H, W)
    - pool_param: 'pool_height', 'pool_width', 'stride'; windows must tile the input:
      (H - pool_height) % stride == 0, likewise for W. Windows may overlap.

    Returns (out, cache): out (N, C, H', W') with H' = 1 + (H - pool_height) // stride;
    cache (x, pool_param).
    """
    ph, pw, stride, H_out, W_out = check_pool_param(x, pool_param)
    # TODO: write the forward pass: out (N, C, H_out, W_out), the maximum of each window.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    N, C = x.shape[:2]
    out = np.empty((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (x, pool_param)


def max_pool_backward_naive(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward pass of ``max_pool_forward_naive``.

    Each window's gradient goes to the first position (in row-major order) holding
    the window's maximum.

    Inputs: dout (N, C, H', W'); cache (x, pool_param). Returns dx (N, C, H, W).
    """
    x, pool_param = cache
    ph, pw, stride, H_out, W_out = check_pool_param(x, pool_param)
    # TODO: write the backward pass: dx, each window's gradient going to the first
    # position (row-major) of its maximum.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    N, C = x.shape[:2]
    dx = np.zeros_like(x, dtype=np.result_type(dout, x))
    for i in range(H_out):
        for j in range(W_out):
            rows = slice(i * stride, i * stride + ph)
            cols = slice(j * stride, j * stride + pw)
            flat = x[:, :, rows, cols].reshape(N, C, ph * pw)
            first_max = flat.argmax(axis=2)[:, :, None] == np.arange(ph * pw)
            dx[:, :, rows, cols] += (first_max * dout[:, :, i, j, None]).reshape(N, C, ph, pw)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx


def spatial_batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple[np.ndarray, tuple | None]:
    """Batch normalization of images: one mean and variance per channel over N, H, W.

    Inputs:
    - x: (N, C, H, W)
    - gamma, beta: (C,) per-channel scale and shift
    - bn_param: as for ``batchnorm_forward``; running statistics have shape (C,)

    Returns (out, cache): out (N, C, H, W); cache is ``batchnorm_forward``'s cache for
    x viewed as (N*H*W, C).
    """
    check_ndim("x", x, 4)
    C = x.shape[1]
    check_shape("gamma", gamma, (C,))
    check_shape("beta", beta, (C,))
    # TODO: write the forward pass: out and cache, by viewing x as (N*H*W, C) rows
    # for batchnorm_forward.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    N, _, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)
    out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, cache


def spatial_batchnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of ``spatial_batchnorm_forward``.

    Inputs: dout (N, C, H, W); cache from the forward pass (train mode).
    Returns (dx, dgamma, dbeta): dx (N, C, H, W), dgamma (C,), dbeta (C,).
    """
    # TODO: write the backward pass: dx, dgamma, dbeta, reshaping as in the forward pass.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    N, C, H, W = dout.shape
    drows = dout.transpose(0, 2, 3, 1).reshape(N * H * W, C)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(drows, cache)
    dx = dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, G: int, gn_param: dict
) -> tuple[np.ndarray, tuple]:
    """Group normalization: per sample, each group of C/G consecutive channels is
    normalized over its channels and all H, W positions. Same in training and testing.

    Inputs:
    - x: (N, C, H, W)
    - gamma, beta: (1, C, 1, 1) per-channel scale and shift
    - G: number of groups, a divisor of C
    - gn_param: optional 'eps' (1e-5)

    Returns (out, cache): out (N, C, H, W); cache (xhat, std, gamma, G) with xhat
    (N, C, H, W) the normalized input and std (N, G, 1) the per-group standard deviation.
    """
    check_ndim("x", x, 4)
    N, C, H, W = x.shape
    check_shape("gamma", gamma, (1, C, 1, 1))
    check_shape("beta", beta, (1, C, 1, 1))
    G = check_positive_int("G", G)
    if C % G:
        raise ValueError(f"G must divide the number of channels C = {C}, got G = {G}")
    eps = gn_param.get("eps", 1e-5)
    # TODO: write the forward pass: out, plus xhat (N, C, H, W) and std (N, G, 1) for
    # the cache.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    groups = x.reshape(N, G, -1)
    xc = groups - groups.mean(axis=2, keepdims=True)
    std = np.sqrt((xc**2).mean(axis=2, keepdims=True) + eps)
    xhat = (xc / std).reshape(N, C, H, W)
    out = gamma * xhat + beta
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, (xhat, std, gamma, G)


def spatial_groupnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of ``spatial_groupnorm_forward``.

    Inputs: dout (N, C, H, W); cache (xhat, std, gamma, G) from the forward pass.
    Returns (dx, dgamma, dbeta): dx (N, C, H, W), dgamma and dbeta (1, C, 1, 1).
    """
    xhat, std, gamma, G = cache
    # TODO: write the backward pass: dx, dgamma and dbeta (both (1, C, 1, 1)).
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    N = dout.shape[0]
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)
    dxhat = (dout * gamma).reshape(N, G, -1)
    dx = _normalize_backward(dxhat, xhat.reshape(N, G, -1), std, axis=2).reshape(dout.shape)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta
