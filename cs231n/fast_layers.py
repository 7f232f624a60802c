"""Fast convolution and max-pooling layers (provided code, not a student exercise).

Same contracts as the naive layers in ``cs231n.layers``: ``conv_forward_fast`` /
``conv_backward_fast`` and ``max_pool_forward_fast`` / ``max_pool_backward_fast``. Each
fast forward picks a strategy and records it in its cache, so the matching backward
needs nothing else.

Convolution strategies, both a matrix product with the filters ``w: (F, C*HH*WW)``:

- im2col: the column matrix of ``im2col_cython`` (rows (c, i, j), columns (h', w', n)).
- strides: the windows of the padded input as a strided view, copied once into
  ``(C, HH, WW, N, H', W')``; the gradient goes back through ``col2im_6d_cython``.

Max-pooling strategies: a reshape when the windows tile the input exactly
(pool_height == pool_width == stride), an im2col over single channels otherwise. In
both, a window's gradient goes to the first position holding its maximum in row-major
order, like PyTorch and ``max_pool_backward_naive``; gradients are never split among ties.

Computation happens in x's dtype when it is float32 or float64 (float64 otherwise):
outputs and all gradients have that dtype. The index shuffling runs in the Cython
extension ``cs231n.im2col_cython`` when it is built (``pip install -e .`` or
``make install``); without it, numpy code from ``cs231n.im2col`` takes over after one
``ExtensionNotBuiltWarning``.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cs231n._checks import check_ndim, check_positive_int, check_shape, conv_output_size
from cs231n.im2col import col2im_6d, col2im_indices, im2col_indices

EXTENSION = "cs231n.im2col_cython"


class ExtensionNotBuiltWarning(UserWarning):
    """The Cython extension is missing; the fast layers run slower numpy code."""


class Backend(NamedTuple):
    """The im2col kernels, with the signatures of ``cs231n.im2col_cython``."""

    name: str
    im2col: Callable[..., np.ndarray]  # (x, fh, fw, pad, stride) -> (C*fh*fw, N*H'*W')
    col2im: Callable[..., np.ndarray]  # (cols, N, C, H, W, fh, fw, pad, stride) -> x
    col2im_6d: Callable[..., np.ndarray]  # (cols, N, C, H, W, HH, WW, pad, stride) -> x


NUMPY_BACKEND = Backend(
    name="numpy",
    im2col=im2col_indices,
    col2im=lambda cols, N, C, H, W, fh, fw, pad, stride: col2im_indices(
        cols, (N, C, H, W), fh, fw, pad, stride
    ),
    col2im_6d=lambda cols, N, C, H, W, HH, WW, pad, stride: col2im_6d(
        cols, (N, C, H, W), pad, stride
    ),
)


@functools.cache
def get_backend() -> Backend:
    """The Cython kernels when the extension imports, else numpy (warning once).

    Cached: the first call decides. Tests hide the extension by setting
    ``sys.modules["cs231n.im2col_cython"] = None`` and calling ``get_backend.cache_clear()``.
    """
    try:
        ext = importlib.import_module(EXTENSION)
    except ImportError as err:
        warnings.warn(
            f"{EXTENSION} is not built ({err}); the fast layers use slower numpy code. "
            "Build it from the repository root with `pip install -e .` (or `make install`).",
            ExtensionNotBuiltWarning,
            stacklevel=2,
        )
        return NUMPY_BACKEND
    return Backend("cython", ext.im2col_cython, ext.col2im_cython, ext.col2im_6d_cython)


def _float_dtype(x: np.ndarray) -> np.dtype:
    """x's dtype when it is float32 or float64, float64 otherwise."""
    return x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)


###########################################################################
#                              Convolution                                #
###########################################################################


class ConvCache(NamedTuple):
    """What a conv backward needs: the strategy, x's shape, the filters (in the
    computation dtype), the column matrix of the forward, stride and pad."""

    strategy: str
    x_shape: tuple[int, int, int, int]
    w: np.ndarray
    cols: np.ndarray
    stride: int
    pad: int


def _conv_checks(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[int, int, int, int]:
    """Validate the conv inputs; return (stride, pad, H', W')."""
    check_ndim("x", x, 4)
    check_ndim("w", w, 4)
    _, C, H, W = x.shape
    F, _, HH, WW = w.shape
    check_shape("w", w, (None, C, None, None))
    check_shape("b", b, (F,))
    stride = check_positive_int("conv_param['stride']", conv_param.get("stride"))
    pad = check_positive_int("conv_param['pad']", conv_param.get("pad"), minimum=0)
    H_out = conv_output_size("height", H, HH, stride, pad)
    W_out = conv_output_size("width", W, WW, stride, pad)
    return stride, pad, H_out, W_out


def _check_cache(cache: object, cls: type, strategies: tuple[str, ...]) -> None:
    if not isinstance(cache, cls) or cache.strategy not in strategies:
        raise ValueError(
            f"cache must come from a forward using strategy {' or '.join(strategies)}, "
            f"got {type(cache).__name__}"
            + (f" with strategy {cache.strategy!r}" if isinstance(cache, cls) else "")
        )


def conv_forward_im2col(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, ConvCache]:
    """Convolution as one matrix product with the im2col column matrix.

    Inputs: x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param 'stride', 'pad'; the
    filter must tile the padded input: (H + 2*pad - HH) % stride == 0, likewise for W.

    Returns (out, cache): out (N, F, H', W'), H' = 1 + (H + 2*pad - HH) // stride;
    cache a ``ConvCache`` holding the column matrix (C*HH*WW, H'*W'*N).
    """
    stride, pad, H_out, W_out = _conv_checks(x, w, b, conv_param)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    dtype = _float_dtype(x)
    x, w, b = (a.astype(dtype, copy=False) for a in (x, w, b))

    cols = get_backend().im2col(np.ascontiguousarray(x), HH, WW, pad, stride)
    prod = (w.reshape(F, -1) @ cols).reshape(F, H_out, W_out, N)
    out = np.empty((N, F, H_out, W_out), dtype=dtype)
    np.add(prod.transpose(3, 0, 1, 2), b[:, None, None], out=out)
    return out, ConvCache("im2col", (N, C, H, W), w, cols, stride, pad)


def conv_backward_im2col(dout: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, ...]:
    """Backward pass of ``conv_forward_im2col``: dout (N, F, H', W') -> dx, dw, db."""
    _check_cache(cache, ConvCache, ("im2col",))
    N, C, H, W = cache.x_shape
    w = cache.w
    F, _, HH, WW = w.shape
    dout = dout.astype(w.dtype, copy=False)

    dout_rows = dout.transpose(1, 2, 3, 0).reshape(F, -1)  # (F, H'*W'*N)
    db = dout.sum(axis=(0, 2, 3))
    dw = (dout_rows @ cache.cols.T).reshape(w.shape)
    dcols = w.reshape(F, -1).T @ dout_rows
    dx = get_backend().col2im(dcols, N, C, H, W, HH, WW, cache.pad, cache.stride)
    return dx, dw, db


def conv_forward_strides(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, ConvCache]:
    """Convolution as one matrix product with the input's windows, taken as a strided view.

    Inputs, outputs and requirements as ``conv_forward_im2col``; the cache holds the
    windows copied into (C*HH*WW, N*H'*W'), columns in order (n, h', w').
    """
    stride, pad, H_out, W_out = _conv_checks(x, w, b, conv_param)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    dtype = _float_dtype(x)
    x, w, b = (a.astype(dtype, copy=False) for a in (x, w, b))

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # (N, C, H', W', HH, WW) view of every window; no copy yet.
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    cols = np.ascontiguousarray(windows.transpose(1, 4, 5, 0, 2, 3)).reshape(C * HH * WW, -1)
    prod = (w.reshape(F, -1) @ cols).reshape(F, N, H_out, W_out)
    out = np.empty((N, F, H_out, W_out), dtype=dtype)
    np.add(prod.transpose(1, 0, 2, 3), b[:, None, None], out=out)
    return out, ConvCache("strides", (N, C, H, W), w, cols, stride, pad)


def conv_backward_strides(dout: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, ...]:
    """Backward pass of ``conv_forward_strides``: dout (N, F, H', W') -> dx, dw, db."""
    _check_cache(cache, ConvCache, ("strides",))
    N, C, H, W = cache.x_shape
    w = cache.w
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    dout = dout.astype(w.dtype, copy=False)

    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*H'*W')
    db = dout.sum(axis=(0, 2, 3))
    dw = (dout_rows @ cache.cols.T).reshape(w.shape)
    dcols = (w.reshape(F, -1).T @ dout_rows).reshape(C, HH, WW, N, H_out, W_out)
    dx = get_backend().col2im_6d(dcols, N, C, H, W, HH, WW, cache.pad, cache.stride)
    return dx, dw, db


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, ConvCache]:
    """Convolution, same contract as ``conv_forward_naive``; uses the strides strategy."""
    return conv_forward_strides(x, w, b, conv_param)


def conv_backward_fast(dout: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, ...]:
    """Backward pass of ``conv_forward_fast`` (or of either strategy): dx, dw, db."""
    _check_cache(cache, ConvCache, ("im2col", "strides"))
    if cache.strategy == "im2col":
        return conv_backward_im2col(dout, cache)
    return conv_backward_strides(dout, cache)


###########################################################################
#                              Max pooling                                #
###########################################################################


class PoolCache(NamedTuple):
    """What a max-pool backward needs: the strategy, x's shape, the pool sizes and
    the winning position of each window (``argmax``; its layout depends on strategy)."""

    strategy: str
    x_shape: tuple[int, int, int, int]
    pool_height: int
    pool_width: int
    stride: int
    argmax: np.ndarray


def _pool_checks(x: np.ndarray, pool_param: dict) -> tuple[int, int, int, int, int]:
    """Validate the pooling inputs; return (pool_height, pool_width, stride, H', W')."""
    check_ndim("x", x, 4)
    ph = check_positive_int("pool_param['pool_height']", pool_param.get("pool_height"))
    pw = check_positive_int("pool_param['pool_width']", pool_param.get("pool_width"))
    stride = check_positive_int("pool_param['stride']", pool_param.get("stride"))
    H_out = conv_output_size("height", x.shape[2], ph, stride)
    W_out = conv_output_size("width", x.shape[3], pw, stride)
    return ph, pw, stride, H_out, W_out


def max_pool_forward_reshape(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """Max pooling of non-overlapping windows that tile x, through a reshape.

    Requires pool_height == pool_width == stride dividing H and W. x: (N, C, H, W).
    Returns (out, cache): out (N, C, H', W'); the cache's argmax (N, C, H', W') holds
    the offset i*pool_width + j of the first maximum of each window.
    """
    ph, pw, stride, H_out, W_out = _pool_checks(x, pool_param)
    if not ph == pw == stride:
        raise ValueError(
            "the reshape strategy needs pool_height == pool_width == stride, got "
            f"{ph}, {pw}, {stride}"
        )
    N, C, _, _ = x.shape
    dtype = _float_dtype(x)
    blocks = x.astype(dtype, copy=False).reshape(N, C, H_out, ph, W_out, pw)
    # First maximum over the window offsets, in row-major order (strict > keeps the first).
    out = blocks[:, :, :, 0, :, 0].copy()
    argmax = np.zeros(out.shape, dtype=np.intp)
    for k in range(1, ph * pw):
        candidate = blocks[:, :, :, k // pw, :, k % pw]
        better = candidate > out
        argmax[better] = k
        np.maximum(out, candidate, out=out)
    return out, PoolCache("reshape", x.shape, ph, pw, stride, argmax)


def max_pool_backward_reshape(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of ``max_pool_forward_reshape``: dout (N, C, H', W') -> dx."""
    _check_cache(cache, PoolCache, ("reshape",))
    N, C, H, W = cache.x_shape
    ph, pw = cache.pool_height, cache.pool_width
    dout = dout.astype(_float_dtype(dout), copy=False)
    dx = np.empty((N, C, H // ph, ph, W // pw, pw), dtype=dout.dtype)
    for k in range(ph * pw):
        dx[:, :, :, k // pw, :, k % pw] = np.where(cache.argmax == k, dout, 0)
    return dx.reshape(N, C, H, W)


def max_pool_forward_im2col(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """Max pooling of any windows (overlapping too), through im2col of single channels.

    x: (N, C, H, W); windows must tile x: (H - pool_height) % stride == 0, likewise W.
    Returns (out, cache): out (N, C, H', W'); the cache's argmax (H'*W'*N*C,) holds the
    row of the first maximum in each column of the column matrix.
    """
    ph, pw, stride, H_out, W_out = _pool_checks(x, pool_param)
    N, C, H, W = x.shape
    dtype = _float_dtype(x)
    x_flat = np.ascontiguousarray(x, dtype=dtype).reshape(N * C, 1, H, W)
    cols = get_backend().im2col(x_flat, ph, pw, 0, stride)  # (ph*pw, H'*W'*N*C)
    argmax = cols.argmax(axis=0)
    best = np.take_along_axis(cols, argmax[None, :], axis=0)
    out = np.ascontiguousarray(best.reshape(H_out, W_out, N, C).transpose(2, 3, 0, 1))
    return out, PoolCache("im2col", x.shape, ph, pw, stride, argmax)


def max_pool_backward_im2col(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of ``max_pool_forward_im2col``: dout (N, C, H', W') -> dx."""
    _check_cache(cache, PoolCache, ("im2col",))
    N, C, H, W = cache.x_shape
    ph, pw = cache.pool_height, cache.pool_width
    dout = dout.astype(_float_dtype(dout), copy=False)
    dcols = np.zeros((ph * pw, cache.argmax.size), dtype=dout.dtype)
    np.put_along_axis(dcols, cache.argmax[None, :], dout.transpose(2, 3, 0, 1).reshape(1, -1), 0)
    dx = get_backend().col2im(dcols, N * C, 1, H, W, ph, pw, 0, cache.stride)
    return dx.reshape(N, C, H, W)


def max_pool_forward_fast(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """Max pooling, same contract as ``max_pool_forward_naive``.

    Uses the reshape strategy when pool_height == pool_width == stride (the windows then
    tile x exactly), the im2col strategy otherwise.
    """
    ph, pw, stride, _, _ = _pool_checks(x, pool_param)
    if ph == pw == stride:
        return max_pool_forward_reshape(x, pool_param)
    return max_pool_forward_im2col(x, pool_param)


def max_pool_backward_fast(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of ``max_pool_forward_fast``: dout (N, C, H', W') -> dx (N, C, H, W)."""
    _check_cache(cache, PoolCache, ("reshape", "im2col"))
    if cache.strategy == "reshape":
        return max_pool_backward_reshape(dout, cache)
    return max_pool_backward_im2col(dout, cache)
