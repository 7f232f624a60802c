"""Layers in vectorized numpy: every ``*_forward`` returns ``(out, cache)`` and every
``*_backward(dout, cache)`` returns the gradients with respect to the forward's inputs.

Inputs are never modified in place. Images are ``(N, C, H, W)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cs231n._checks import check_labels, check_mode, check_ndim, check_shape

# Marker lines delimit the code a student writes; the release tool replaces what lies
# between each pair. Keep them exactly as they are.


###########################################################################
#                      Fully connected layers (Q1)                        #
###########################################################################


def affine_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, tuple]:
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
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    out = np.maximum(x, 0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of ``relu_forward``. dout and cache (the input x) share a shape."""
    x = cache
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dx = dout * (x > 0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx


###########################################################################
#                              Losses (Q1)                                #
###########################################################################


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy, averaged over the batch; stable for very large scores.

    Inputs:
    - x: (N, C) class scores
    - y: (N,) integer labels in [0, C)

    Returns (loss, dx): the scalar loss and its gradient dx (N, C).
    """
    check_ndim("x", x, 2)
    N, C = x.shape
    check_labels(y, N, C)
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

    Inputs: x (N, C) scores, y (N,) integer labels in [0, C).
    Returns (loss, dx) with dx (N, C).
    """
    check_ndim("x", x, 2)
    N, C = x.shape
    check_labels(y, N, C)
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
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    mean_dxhat = dxhat.mean(axis=axis, keepdims=True)
    mean_dxhat_xhat = (dxhat * xhat).mean(axis=axis, keepdims=True)
    return (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) / std
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****


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
    cache = (xhat, xc, std, gamma)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, ...]:
    """Backward pass of batch normalization, one node of the computation graph at a time.

    Inputs: dout (N, D); cache from ``batchnorm_forward`` in train mode.
    Returns (dx, dgamma, dbeta): dx (N, D), dgamma (D,), dbeta (D,).
    """
    xhat, xc, std, gamma = cache
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
    p = dropout_param.get("p")
    if not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ValueError(f"dropout_param['p'] (keep probability) must be in (0, 1], got {p!r}")
    mode = check_mode("dropout_param", dropout_param.get("mode"))
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])  # noqa: NPY002 (global RNG by contract)
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
