"""Fast convolution and max-pooling layers (provided code, not a student exercise).

Same contracts as the naive layers in ``cs231n.layers``: ``conv_forward_fast`` /
``conv_backward_fast`` and ``max_pool_forward_fast`` / ``max_pool_backward_fast``. Each
fast forward picks a strategy and records it in its cache, so the matching backward
needs nothing else.

Convolution strategies, both matrix products with the filters ``w: (F, C*HH*WW)``:

- im2col: one product with the whole batch's column matrix from ``im2col_cython``
  (rows (c, i, j), columns (h', w', n)); the cache keeps that matrix for the backward.
- strides: the windows of the padded input in the 6-D layout ``(C, HH, WW, n, H', W')``
  of the classic ``as_strided`` trick (``im2col_6d_cython``, or a strided view copied
  by numpy), taken over chunks of n samples whose windows fit in a CPU cache
  (``CHUNK_BYTES``). The backward takes the windows again chunk by chunk and sums the
  window gradients back with ``col2im_6d_cython``; the cache keeps only x. The threads
  share out the chunks, each building its chunk's windows and multiplying them on its
  own core. ``conv_forward_fast`` uses this one: it is faster and needs far less memory.

Max-pooling strategies: direct, a kernel that reads the windows in place, one
(sample, channel) plane at a time (``max_pool_cython``; ``max_pool_forward_fast`` uses it);
a reshape when the windows tile the input exactly (pool_height == pool_width == stride);
an im2col of every channel for any windows. The last two lay the windows out as
(N*C, pool_height*pool_width, H'*W') and reduce them with ``window_max_cython``. In all
three, a window's gradient goes to the first position holding its maximum in row-major
order, like PyTorch and ``max_pool_backward_naive``; gradients are never split among ties.

Computation happens in x's dtype when it is float32 or float64 (float64 otherwise):
outputs and all gradients have that dtype. The index shuffling runs in the Cython
extension ``cs231n.im2col_cython`` when it is built (``pip install -e .`` or
``make install``); without it, numpy code from ``cs231n.im2col`` takes over after one
``ExtensionNotBuiltWarning``.

Threads: the Cython kernels and the chunks of the strides strategy run on ``num_threads()``
threads (every core by default; ``set_num_threads``, ``limited_threads`` or
``CS231N_NUM_THREADS`` change it). numpy's BLAS has threads of its own (``threadpoolctl`` or
``OPENBLAS_NUM_THREADS``). Importing this module lets OpenBLAS's idle threads sleep soon after
each product (``_blas.let_idle_threads_sleep``): by default they spin for ~0.1 s and take a
core from ours.
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from cs231n import _blas
from cs231n._checks import (
    check_conv_param,
    check_pool_param,
    check_shape,
)
from cs231n._threads import limited_threads as limited_threads  # the kernels' threads
from cs231n._threads import num_threads as num_threads
from cs231n._threads import parallel_for
from cs231n._threads import set_num_threads as set_num_threads
from cs231n.im2col import col2im_6d, col2im_indices, im2col_6d, im2col_indices

EXTENSION = "cs231n.im2col_cython"

# Without this, OpenBLAS's idle threads spin ~0.1 s after every product, on our second core.
_blas.let_idle_threads_sleep()


class ExtensionNotBuiltWarning(UserWarning):
    """The Cython extension is missing; the fast layers run slower numpy code."""


class Backend(NamedTuple):
    """The kernels behind the fast layers, with the signatures of ``cs231n.im2col_cython``."""

    name: str
    im2col: Callable[..., np.ndarray]  # (x, fh, fw, pad, stride) -> (C*fh*fw, N*H'*W')
    col2im: Callable[..., np.ndarray]  # (cols, N, C, H, W, fh, fw, pad, stride) -> x
    # (x, HH, WW, pad, stride, out=None) -> (C, HH, WW, N, H', W')
    im2col_6d: Callable[..., np.ndarray]
    # (cols, N, C, H, W, HH, WW, pad, stride, out=None) -> x
    col2im_6d: Callable[..., np.ndarray]
    window_max: Callable[..., tuple[np.ndarray, np.ndarray]]  # (R, K, P) -> max, argmax (R, P)
    window_scatter: Callable[..., np.ndarray]  # (dout (R, P), argmax (R, P), K) -> (R, K, P)
    # (x (N, C, H, W), ph, pw, stride) -> out (N, C, H', W'), argmax (N*C, H'*W')
    max_pool: Callable[..., tuple[np.ndarray, np.ndarray]]
    # (dout (N*C, H'*W'), argmax, N, C, H, W, ph, pw, stride) -> dx (N, C, H, W)
    max_pool_backward: Callable[..., np.ndarray]


def _window_max_numpy(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max over axis 1 of ``windows: (R, K, P)`` and the first index reaching it (int32)."""
    argmax = windows.argmax(axis=1).astype(np.int32)
    return np.take_along_axis(windows, argmax[:, None, :], axis=1)[:, 0], argmax


def _window_scatter_numpy(dout: np.ndarray, argmax: np.ndarray, K: int) -> np.ndarray:
    """(R, K, P) zeros holding ``dout[r, p]`` at ``[r, argmax[r, p], p]``."""
    dwindows = np.zeros((dout.shape[0], K, dout.shape[1]), dtype=dout.dtype)
    np.put_along_axis(dwindows, argmax[:, None, :], dout[:, None, :], axis=1)
    return dwindows


def _pool_by_windows(
    backend: Backend, x: np.ndarray, ph: int, pw: int, stride: int
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling of ``x: (N, C, H, W)`` through its windows: the N*C channels as one image,
    its windows ``(N*C, ph*pw, H'*W')`` from ``im2col_6d``, then ``window_max``.
    Returns out ``(N, C, H', W')`` and argmax ``(N*C, H'*W')``."""
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    windows = backend.im2col_6d(x.reshape(1, N * C, H, W), ph, pw, 0, stride)
    out, argmax = backend.window_max(windows.reshape(N * C, ph * pw, H_out * W_out))
    return out.reshape(N, C, H_out, W_out), argmax


def _unpool_by_windows(
    backend: Backend,
    dout_rows: np.ndarray,
    argmax: np.ndarray,
    N: int,
    C: int,
    H: int,
    W: int,
    ph: int,
    pw: int,
    stride: int,
) -> np.ndarray:
    """Backward of ``_pool_by_windows``: ``dout_rows (N*C, H'*W')`` scattered into windows
    (``window_scatter``), summed back onto the image (``col2im_6d``): dx ``(N, C, H, W)``."""
    H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    dwindows = backend.window_scatter(dout_rows, argmax, ph * pw)
    dwindows = dwindows.reshape(N * C, ph, pw, 1, H_out, W_out)
    return backend.col2im_6d(dwindows, 1, N * C, H, W, ph, pw, 0, stride).reshape(N, C, H, W)


def _max_pool_numpy(x: np.ndarray, ph: int, pw: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """``max_pool_cython`` in numpy: the windows of every channel, on the numpy kernels."""
    return _pool_by_windows(NUMPY_BACKEND, x, ph, pw, stride)


def _max_pool_backward_numpy(*args) -> np.ndarray:
    """``max_pool_backward_cython`` in numpy (same arguments), on the numpy kernels."""
    return _unpool_by_windows(NUMPY_BACKEND, *args)


NUMPY_BACKEND = Backend(
    name="numpy",
    im2col=im2col_indices,
    col2im=lambda cols, N, C, H, W, fh, fw, pad, stride: col2im_indices(
        cols, (N, C, H, W), fh, fw, pad, stride
    ),
    im2col_6d=im2col_6d,
    col2im_6d=lambda cols, N, C, H, W, HH, WW, pad, stride, out=None: col2im_6d(
        cols, (N, C, H, W), pad, stride, out
    ),
    window_max=_window_max_numpy,
    window_scatter=_window_scatter_numpy,
    max_pool=_max_pool_numpy,
    max_pool_backward=_max_pool_backward_numpy,
)


@functools.cache
def get_backend() -> Backend:
    """The Cython kernels when the extension imports, else numpy (warning once).

    Cached: the first call decides. Tests hide the extension by setting
    ``sys.modules["cs231n.im2col_cython"] = None`` and calling ``get_backend.cache_clear()``.
    """
    try:
        ext = importlib.import_module(EXTENSION)
        return Backend(
            "cython",
            ext.im2col_cython,
            ext.col2im_cython,
            ext.im2col_6d_cython,
            ext.col2im_6d_cython,
            ext.window_max_cython,
            ext.window_scatter_cython,
            ext.max_pool_cython,
            ext.max_pool_backward_cython,
        )
    except (ImportError, AttributeError) as err:  # AttributeError: built from an older .pyx
        warnings.warn(
            f"{EXTENSION} is not built or out of date ({err}); the fast layers use slower "
            "numpy code. Build it from the repository root with `pip install -e .` "
            "(or `make install`).",
            ExtensionNotBuiltWarning,
            stacklevel=2,
        )
        return NUMPY_BACKEND


def _float_dtype(x: np.ndarray) -> np.dtype:
    """x's dtype when it is float32 or float64, float64 otherwise."""
    return x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)


###########################################################################
#                              Convolution                                #
###########################################################################


# Bytes of window columns per chunk of the batch in the strides strategy, at most: small
# enough to stay in a core's cache (on 1 and 2 threads, 1-4 MiB are equally fast, 256 KiB up
# to 1.3x slower), large enough for efficient matrix products.
CHUNK_BYTES = 2 << 20
# Chunks per batch at least (when the batch has as many samples), so that 1, 2, 4 or 8
# threads get equal shares of it.
MIN_CHUNKS = 8


class ConvCache(NamedTuple):
    """What a conv backward needs: the strategy, x and w (both in the computation
    dtype), the im2col column matrix (None for the strides strategy), stride and pad."""

    strategy: str
    x: np.ndarray
    w: np.ndarray
    cols: np.ndarray | None
    stride: int
    pad: int


def _check_cache(cache: object, cls: type, strategies: tuple[str, ...]) -> None:
    if not isinstance(cache, cls) or cache.strategy not in strategies:
        raise ValueError(
            f"cache must come from a forward using strategy {' or '.join(strategies)}, "
            f"got {type(cache).__name__}"
            + (f" with strategy {cache.strategy!r}" if isinstance(cache, cls) else "")
        )


def _conv_output_shape(cache: ConvCache) -> tuple[int, int, int, int]:
    """(N, F, H', W') of the forward that made ``cache``."""
    N, _, H, W = cache.x.shape
    F, _, HH, WW = cache.w.shape
    s, p = cache.stride, cache.pad
    return N, F, 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s


def _as_float(x: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """x (C-contiguous) and ``arrays`` in x's float dtype, copied only where needed."""
    dtype = _float_dtype(x)
    return (np.ascontiguousarray(x, dtype=dtype), *(a.astype(dtype, copy=False) for a in arrays))


def conv_forward_im2col(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, ConvCache]:
    """Convolution as one matrix product with the im2col column matrix of the batch.

    Inputs: x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param 'stride', 'pad'; the
    filter must tile the padded input: (H + 2*pad - HH) % stride == 0, likewise for W.

    Returns (out, cache): out (N, F, H', W'), H' = 1 + (H + 2*pad - HH) // stride;
    cache a ``ConvCache`` holding the column matrix (C*HH*WW, H'*W'*N).
    """
    stride, pad, H_out, W_out = check_conv_param(x, w, b, conv_param)
    x, w, b = _as_float(x, w, b)
    N = x.shape[0]
    F, _, HH, WW = w.shape

    cols = get_backend().im2col(x, HH, WW, pad, stride)
    prod = (w.reshape(F, -1) @ cols).reshape(F, H_out, W_out, N)
    out = np.empty((N, F, H_out, W_out), dtype=x.dtype)
    np.add(prod.transpose(3, 0, 1, 2), b[:, None, None], out=out)
    return out, ConvCache("im2col", x, w, cols, stride, pad)


def conv_backward_im2col(
    dout: np.ndarray, cache: ConvCache, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Backward pass of ``conv_forward_im2col``: dout (N, F, H', W') -> dx, dw, db (dx None
    when ``need_dx`` is False)."""
    _check_cache(cache, ConvCache, ("im2col",))
    check_shape("dout", dout, _conv_output_shape(cache))
    N, C, H, W = cache.x.shape
    w = cache.w
    F, _, HH, WW = w.shape
    dout = dout.astype(w.dtype, copy=False)

    dout_rows = dout.transpose(1, 2, 3, 0).reshape(F, -1)  # (F, H'*W'*N)
    db = dout.sum(axis=(0, 2, 3))
    dw = (dout_rows @ cache.cols.T).reshape(w.shape)
    if not need_dx:
        return None, dw, db
    dcols = w.reshape(F, -1).T @ dout_rows
    dx = get_backend().col2im(dcols, N, C, H, W, HH, WW, cache.pad, cache.stride)
    return dx, dw, db


def _batch_chunks(N: int, bytes_per_sample: int) -> list[slice]:
    """range(N) cut into ``MIN_CHUNKS`` or more consecutive slices of near-equal sizes, each
    with at most about ``CHUNK_BYTES`` (one sample at least), for the threads to share out."""
    count = min(N, max(MIN_CHUNKS, -(-N * bytes_per_sample // CHUNK_BYTES)))
    bounds = [N * k // count for k in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]


def _view(buffer: np.ndarray, *shape: int) -> np.ndarray:
    """The first entries of the flat ``buffer`` as an array of ``shape``.

    The chunk loops reuse one buffer per intermediate: fresh large arrays cost page
    faults that take as long as the copies themselves.
    """
    return buffer[: int(np.prod(shape))].reshape(shape)


def _on_threads(kernel: Callable[..., object], count: int, *args: object) -> list[object]:
    """``parallel_for(kernel, count, *args)`` with numpy's BLAS on one thread per worker while
    it runs: each worker's matrix products then run on its own core, on the windows that
    core just built in its cache (2 BLAS threads on windows built by one core were slower)."""
    if min(num_threads(), count) == 1:
        return parallel_for(kernel, count, *args)
    with _blas.one_thread():
        return parallel_for(kernel, count, *args)


def conv_forward_strides(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, ConvCache]:
    """Convolution as matrix products with the windows of chunks of the batch.

    Inputs, outputs and requirements as ``conv_forward_im2col``. Each chunk of n samples
    gives windows (C*HH*WW, n*H'*W'), columns in order (n, h', w'); the threads share out
    the chunks. The cache holds x.
    """
    stride, pad, H_out, W_out = check_conv_param(x, w, b, conv_param)
    x, w, b = _as_float(x, w, b)
    F, _, HH, WW = w.shape
    out = np.empty((x.shape[0], F, H_out, W_out), dtype=x.dtype)
    chunks = _batch_chunks(x.shape[0], w[0].size * H_out * W_out * x.itemsize)
    _on_threads(_forward_chunks, len(chunks), chunks, x, w, b, out, stride, pad)
    return out, ConvCache("strides", x, w, None, stride, pad)


def _forward_chunks(
    first: int,
    last: int,
    chunks: list[slice],
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    out: np.ndarray,
    stride: int,
    pad: int,
) -> None:
    """``out`` of ``chunks[first:last]`` in ``conv_forward_strides``."""
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = out.shape
    w_rows = w.reshape(F, -1)
    K, P = w_rows.shape[1], H_out * W_out
    im2col_6d = get_backend().im2col_6d
    most = max(c.stop - c.start for c in chunks[first:last])
    cols_buffer = np.empty(K * most * P, dtype=x.dtype)
    for chunk in chunks[first:last]:
        n = chunk.stop - chunk.start
        cols = im2col_6d(x[chunk], HH, WW, pad, stride, out=cols_buffer).reshape(K, n, P)
        # One product per sample, (F, K) @ (K, H'*W'), written straight into out[chunk].
        out_rows = out[chunk].reshape(n, F, P)
        np.matmul(w_rows, cols.transpose(1, 0, 2), out=out_rows)
        out_rows += b[:, None]


def conv_backward_strides(
    dout: np.ndarray, cache: ConvCache, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Backward pass of ``conv_forward_strides``: dout (N, F, H', W') -> dx, dw, db (dx None
    when ``need_dx`` is False: the windows' gradients are then neither computed nor summed
    back, about half the work)."""
    _check_cache(cache, ConvCache, ("strides",))
    check_shape("dout", dout, _conv_output_shape(cache))
    x, w = cache.x, cache.w
    _, F, H_out, W_out = dout.shape
    dout = dout.astype(w.dtype, copy=False)
    K, P = w[0].size, H_out * W_out
    dx = np.empty_like(x) if need_dx else None
    chunks = _batch_chunks(x.shape[0], K * P * x.itemsize)
    # dw as (C*HH*WW, F), one term per chunk, summed in chunk order: the same bits on any
    # number of threads.
    dw_terms = np.empty((len(chunks), K, F), dtype=x.dtype)
    _on_threads(_backward_chunks, len(chunks), chunks, dout, cache, dx, dw_terms)
    dw_columns = dw_terms.sum(axis=0)
    db = dout.sum(axis=(0, 2, 3))
    return dx, np.ascontiguousarray(dw_columns.T).reshape(w.shape), db


def _backward_chunks(
    first: int,
    last: int,
    chunks: list[slice],
    dout: np.ndarray,
    cache: ConvCache,
    dx: np.ndarray | None,
    dw_terms: np.ndarray,
) -> None:
    """``dx`` (unless None) and ``dw_terms`` of ``chunks[first:last]`` in
    ``conv_backward_strides``."""
    x, w, stride, pad = cache.x, cache.w, cache.stride, cache.pad
    _, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    w_rows = w.reshape(F, -1)
    K, P = w_rows.shape[1], H_out * W_out
    backend = get_backend()
    most = max(c.stop - c.start for c in chunks[first:last])
    cols_buffer = np.empty(K * most * P, dtype=x.dtype)
    dcols_buffer = np.empty_like(cols_buffer) if dx is not None else None
    dout_buffer = np.empty(most * P * F, dtype=x.dtype)
    for k in range(first, last):
        chunk = chunks[k]
        n = chunk.stop - chunk.start
        cols = backend.im2col_6d(x[chunk], HH, WW, pad, stride, out=cols_buffer)
        # dout of the chunk as (n*H'*W', F): rows in the order of the columns of cols.
        # (With this layout both products below run faster than with (F, n*H'*W').)
        dout_columns = _view(dout_buffer, n, H_out, W_out, F)
        np.copyto(dout_columns, dout[chunk].transpose(0, 2, 3, 1))
        dout_columns = dout_columns.reshape(n * P, F)
        np.matmul(cols.reshape(K, n * P), dout_columns, out=dw_terms[k])
        if dx is None:
            continue
        dcols = np.matmul(w_rows.T, dout_columns.T, out=_view(dcols_buffer, K, n * P))
        backend.col2im_6d(dcols.reshape(cols.shape), n, C, H, W, HH, WW, pad, stride, out=dx[chunk])


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, ConvCache]:
    """Convolution, same contract as ``conv_forward_naive``.

    Uses the strides strategy: on every shape we benchmarked it is as fast as the im2col
    strategy or faster (up to 1.5x), and it keeps
    only x for the backward instead of a column matrix about HH*WW/stride**2 times as
    large as x.
    """
    return conv_forward_strides(x, w, b, conv_param)


def conv_backward_fast(
    dout: np.ndarray, cache: ConvCache, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Backward pass of ``conv_forward_fast`` (or of either strategy): dx, dw, db.

    ``need_dx=False`` skips dx and returns None in its place: for a network's first layer,
    whose input (the images) needs no gradient, as PyTorch skips the gradient of a tensor
    that does not require one.
    """
    _check_cache(cache, ConvCache, ("im2col", "strides"))
    if cache.strategy == "im2col":
        return conv_backward_im2col(dout, cache, need_dx)
    return conv_backward_strides(dout, cache, need_dx)


###########################################################################
#                              Max pooling                                #
###########################################################################


class PoolCache(NamedTuple):
    """What a max-pool backward needs: the strategy, x's shape, the pool sizes and
    ``argmax`` (N*C, H'*W'), the offset i*pool_width + j of each window's first maximum."""

    strategy: str
    x_shape: tuple[int, int, int, int]
    pool_height: int
    pool_width: int
    stride: int
    argmax: np.ndarray


def _pool_output_shape(cache: PoolCache) -> tuple[int, int, int, int]:
    """(N, C, H', W') of the forward that made ``cache``."""
    N, C, H, W = cache.x_shape
    s = cache.stride
    return N, C, 1 + (H - cache.pool_height) // s, 1 + (W - cache.pool_width) // s


def max_pool_forward_reshape(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """Max pooling of non-overlapping windows that tile x, through a reshape.

    Requires pool_height == pool_width == stride (dividing H and W). x: (N, C, H, W) is
    reshaped into blocks (N, C, H', ph, W', pw) and the blocks are reordered into
    windows (N*C, ph*pw, H'*W') for the reduction.
    Returns (out, cache): out (N, C, H', W'); the cache's argmax (N*C, H'*W') holds the
    offset i*pool_width + j of the first maximum of each window.
    """
    ph, pw, stride, H_out, W_out = check_pool_param(x, pool_param)
    if not ph == pw == stride:
        raise ValueError(
            "the reshape strategy needs pool_height == pool_width == stride, got "
            f"{ph}, {pw}, {stride}"
        )
    N, C, _, _ = x.shape
    blocks = x.astype(_float_dtype(x), copy=False).reshape(N, C, H_out, ph, W_out, pw)
    windows = np.ascontiguousarray(blocks.transpose(0, 1, 3, 5, 2, 4))
    out, argmax = get_backend().window_max(windows.reshape(N * C, ph * pw, H_out * W_out))
    return out.reshape(N, C, H_out, W_out), PoolCache("reshape", x.shape, ph, pw, stride, argmax)


def max_pool_backward_reshape(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of ``max_pool_forward_reshape``: dout (N, C, H', W') -> dx."""
    _check_cache(cache, PoolCache, ("reshape",))
    _, _, H_out, W_out = _pool_output_shape(cache)
    check_shape("dout", dout, _pool_output_shape(cache))
    N, C, H, W = cache.x_shape
    ph, pw = cache.pool_height, cache.pool_width
    dout_rows = np.ascontiguousarray(dout, dtype=_float_dtype(dout)).reshape(N * C, -1)
    dwindows = get_backend().window_scatter(dout_rows, cache.argmax, ph * pw)
    blocks = dwindows.reshape(N, C, ph, pw, H_out, W_out).transpose(0, 1, 4, 2, 5, 3)
    return blocks.reshape(N, C, H, W)


def max_pool_forward_im2col(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """Max pooling of any windows (overlapping too), through im2col of every channel.

    x: (N, C, H, W); windows must tile x: (H - pool_height) % stride == 0, likewise W.
    The N*C channels are treated as one image of N*C channels, whose windows
    (N*C, pool_height*pool_width, H'*W') come from ``im2col_6d``.
    Returns (out, cache): out (N, C, H', W'); the cache's argmax (N*C, H'*W') holds the
    offset i*pool_width + j of the first maximum of each window.
    """
    return _pool_forward(
        x, pool_param, "im2col", functools.partial(_pool_by_windows, get_backend())
    )


def max_pool_backward_im2col(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of ``max_pool_forward_im2col``: dout (N, C, H', W') -> dx."""
    return _pool_backward(
        dout, cache, "im2col", functools.partial(_unpool_by_windows, get_backend())
    )


def max_pool_forward_direct(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """Max pooling of any windows, read in place by one kernel (``max_pool_cython``).

    x: (N, C, H, W); windows must tile x: (H - pool_height) % stride == 0, likewise W.
    Returns (out, cache): out (N, C, H', W'); the cache's argmax (N*C, H'*W') holds the
    offset i*pool_width + j of the first maximum of each window.
    """
    return _pool_forward(x, pool_param, "direct", get_backend().max_pool)


def max_pool_backward_direct(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of ``max_pool_forward_direct``: dout (N, C, H', W') -> dx."""
    return _pool_backward(dout, cache, "direct", get_backend().max_pool_backward)


def _pool_forward(
    x: np.ndarray, pool_param: dict, strategy: str, pool: Callable[..., tuple]
) -> tuple[np.ndarray, PoolCache]:
    """The im2col and direct strategies: ``pool(x, ph, pw, stride) -> (out, argmax)`` on x
    (C-contiguous, in its float dtype), and the cache."""
    ph, pw, stride, _, _ = check_pool_param(x, pool_param)
    x = np.ascontiguousarray(x, dtype=_float_dtype(x))
    out, argmax = pool(x, ph, pw, stride)
    return out, PoolCache(strategy, x.shape, ph, pw, stride, argmax)


def _pool_backward(
    dout: np.ndarray, cache: PoolCache, strategy: str, unpool: Callable[..., np.ndarray]
) -> np.ndarray:
    """Their backward: ``unpool(dout_rows (N*C, H'*W'), argmax, N, C, H, W, ph, pw, stride)``."""
    _check_cache(cache, PoolCache, (strategy,))
    check_shape("dout", dout, _pool_output_shape(cache))
    N, C, _, _ = cache.x_shape
    dout_rows = np.ascontiguousarray(dout, dtype=_float_dtype(dout)).reshape(N * C, -1)
    ph, pw, stride = cache.pool_height, cache.pool_width, cache.stride
    return unpool(dout_rows, cache.argmax, *cache.x_shape, ph, pw, stride)


def max_pool_forward_fast(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """Max pooling, same contract as ``max_pool_forward_naive``: the direct strategy, one
    pass over x (the reshape and im2col strategies copy the windows first)."""
    return max_pool_forward_direct(x, pool_param)


_POOL_BACKWARD = {
    "direct": max_pool_backward_direct,
    "reshape": max_pool_backward_reshape,
    "im2col": max_pool_backward_im2col,
}


def max_pool_backward_fast(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Backward pass of ``max_pool_forward_fast`` (or of any strategy): dout (N, C, H', W')
    -> dx (N, C, H, W)."""
    _check_cache(cache, PoolCache, tuple(_POOL_BACKWARD))
    return _POOL_BACKWARD[cache.strategy](dout, cache)
