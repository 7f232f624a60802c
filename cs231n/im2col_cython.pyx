# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""im2col and col2im kernels for the fast layers, for float32 and float64 inputs.

The column matrix has the layout of ``cs231n.im2col.im2col_indices``: shape
``(C*field_height*field_width, N*H'*W')``, row ``(c*field_height + i)*field_width + j``,
column ``(h*W' + w)*N + n`` (the batch index varies fastest). Callers check that the
window tiles the padded input; the kernels themselves only reject arguments that would
make them read or write out of bounds (with a ValueError).

``im2col_cython`` and ``col2im_cython`` go channel by channel through a padded copy of
that channel with the batch last, ``(H + 2*padding, W + 2*padding, N)``, so that every
window entry moves N contiguous values at once.

The strides strategy of the fast layers uses a second layout, the windows as
``(C, HH, WW, N, H', W')``: ``im2col_6d_cython`` and its adjoint ``col2im_6d_cython``.

The max-pooling kernels ``max_pool_cython`` / ``max_pool_backward_cython`` work on the
images in place, one (sample, channel) plane at a time.

Threads: the kernels of the strides strategy, of max pooling and the window reductions
split their outer loop (window rows, or (sample, channel) planes) into one range per thread
(``cs231n._threads.parallel_for``) and release the GIL while they work. Every output entry
is written by one thread with the same arithmetic in the same order, so the results do not
depend on the number of threads.
"""

import numpy as np

from cython cimport floating
from libc.string cimport memcpy, memset

from cs231n._threads import parallel_for


cdef inline Py_ssize_t _output_size(Py_ssize_t size, Py_ssize_t field, Py_ssize_t padding,
                                    Py_ssize_t stride) noexcept nogil:
    return 1 + (size + 2 * padding - field) // stride


cdef _check_window(Py_ssize_t H, Py_ssize_t W, Py_ssize_t fh, Py_ssize_t fw,
                   Py_ssize_t padding, Py_ssize_t stride):
    """ValueError unless a (fh, fw) window with this stride fits the padded (H, W) input."""
    if stride < 1 or padding < 0 or fh < 1 or fw < 1:
        raise ValueError(
            f"need stride >= 1, padding >= 0 and a window of at least 1x1, got stride "
            f"{stride}, padding {padding}, window {fh}x{fw}"
        )
    if fh > H + 2 * padding or fw > W + 2 * padding:
        raise ValueError(
            f"a {fh}x{fw} window does not fit a {H}x{W} input padded by {padding}"
        )


cdef _check_cols_shape(array, tuple expected, str name="cols"):
    if tuple(array.shape[: len(expected)]) != expected:
        raise ValueError(f"{name} must have shape {expected}, got {tuple(array.shape)}")


def im2col_cython(
    const floating[:, :, :, :] x, int field_height, int field_width, int padding, int stride
):
    """Column matrix of ``x: (N, C, H, W)``: ``(C*fh*fw, N*H'*W')``, batch fastest."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t fh = field_height, fw = field_width, p = padding, s = stride
    _check_window(H, W, fh, fw, p, s)
    cdef Py_ssize_t H_out = _output_size(H, fh, p, s), W_out = _output_size(W, fw, p, s)
    dtype = np.float32 if floating is float else np.float64
    cols_arr = np.empty((C * fh * fw, H_out * W_out * N), dtype=dtype)
    # One padded channel of all images, batch last; the border stays zero.
    plane_arr = np.zeros((H + 2 * p, W + 2 * p, N), dtype=dtype)
    cdef floating[:, ::1] cols = cols_arr
    cdef floating[:, :, ::1] plane = plane_arr
    cdef Py_ssize_t c, i, j, h, w, n, row
    cdef size_t nbytes = N * sizeof(floating)
    with nogil:
        for c in range(C):
            for h in range(H):
                for n in range(N):
                    for w in range(W):
                        plane[h + p, w + p, n] = x[n, c, h, w]
            for i in range(fh):
                for j in range(fw):
                    row = (c * fh + i) * fw + j
                    for h in range(H_out):
                        for w in range(W_out):
                            memcpy(&cols[row, (h * W_out + w) * N],
                                   &plane[h * s + i, w * s + j, 0], nbytes)
    return cols_arr


def col2im_cython(
    const floating[:, ::1] cols, int N, int C, int H, int W,
    int field_height, int field_width, int padding, int stride
):
    """Adjoint of ``im2col_cython``: sum ``cols: (C*fh*fw, N*H'*W')`` into ``(N, C, H, W)``.

    Entries that fell on the padding are dropped.
    """
    cdef Py_ssize_t fh = field_height, fw = field_width, p = padding, s = stride
    _check_window(H, W, fh, fw, p, s)
    cdef Py_ssize_t H_out = _output_size(H, fh, p, s), W_out = _output_size(W, fw, p, s)
    _check_cols_shape(cols, (C * fh * fw, N * H_out * W_out))
    dtype = np.float32 if floating is float else np.float64
    x_arr = np.empty((N, C, H, W), dtype=dtype)
    # One padded channel of all images, batch last, summed into and then copied out.
    plane_arr = np.empty((H + 2 * p, W + 2 * p, N), dtype=dtype)
    cdef floating[:, :, :, ::1] x = x_arr
    cdef floating[:, :, ::1] plane = plane_arr
    cdef floating *dst
    cdef const floating *src
    cdef Py_ssize_t c, i, j, h, w, n, row
    with nogil:
        for c in range(C):
            memset(&plane[0, 0, 0], 0, plane.shape[0] * plane.shape[1] * N * sizeof(floating))
            for i in range(fh):
                for j in range(fw):
                    row = (c * fh + i) * fw + j
                    for h in range(H_out):
                        for w in range(W_out):
                            dst = &plane[h * s + i, w * s + j, 0]
                            src = &cols[row, (h * W_out + w) * N]
                            for n in range(N):
                                dst[n] += src[n]
            for h in range(H):
                for n in range(N):
                    for w in range(W):
                        x[n, c, h, w] = plane[h + p, w + p, n]
    return x_arr


cdef inline (Py_ssize_t, Py_ssize_t) _valid_range(
    Py_ssize_t size, Py_ssize_t offset, Py_ssize_t stride, Py_ssize_t count
) noexcept nogil:
    """(lo, hi): the k in [lo, hi) are those in [0, count) with 0 <= k*stride + offset < size."""
    cdef Py_ssize_t lo = 0 if offset >= 0 else (stride - 1 - offset) // stride
    cdef Py_ssize_t hi = 0 if size - 1 - offset < 0 else (size - 1 - offset) // stride + 1
    if hi > count:
        hi = count
    if lo > hi:
        lo = hi
    return lo, hi


def im2col_6d_cython(
    const floating[:, :, :, ::1] x, int HH, int WW, int pad, int stride, out=None
):
    """Windows of ``x: (N, C, H, W)`` zero-padded by ``pad``: ``(C, HH, WW, N, H', W')``.

    ``cols[c, i, j, n, h, w]`` is row h*stride + i, column w*stride + j of channel c of
    sample n in the padded image; ``col2im_6d_cython`` is its adjoint. ``out``: an
    optional C-contiguous array of x's dtype with room for the result, reused instead of
    allocating (its first C*HH*WW*N*H'*W' entries are overwritten and returned, reshaped).
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t s = stride, p = pad
    _check_window(H, W, HH, WW, p, s)
    cdef Py_ssize_t H_out = _output_size(H, HH, p, s), W_out = _output_size(W, WW, p, s)
    dtype = np.float32 if floating is float else np.float64
    shape = (C, HH, WW, N, H_out, W_out)
    if out is None:
        cols_arr = np.empty(shape, dtype=dtype)
    else:
        cols_arr = out.reshape(-1)[: C * HH * WW * N * H_out * W_out].reshape(shape)
    # The threads share out the C*HH*WW window rows (c, i, j).
    parallel_for(_im2col_6d_rows, C * HH * WW, x, cols_arr, p, s)
    return cols_arr


def _im2col_6d_rows(
    Py_ssize_t start, Py_ssize_t stop, const floating[:, :, :, ::1] x,
    floating[:, :, :, :, :, ::1] cols, Py_ssize_t p, Py_ssize_t s
):
    """Window rows ``start <= (c*HH + i)*WW + j < stop`` of ``im2col_6d_cython``."""
    cdef Py_ssize_t HH = cols.shape[1], WW = cols.shape[2], row
    with nogil:
        for row in range(start, stop):
            _im2col_6d_row(x, cols, row // (HH * WW), (row // WW) % HH, row % WW, p, s)


cdef void _im2col_6d_row(
    const floating[:, :, :, ::1] x, floating[:, :, :, :, :, ::1] cols,
    Py_ssize_t c, Py_ssize_t i, Py_ssize_t j, Py_ssize_t p, Py_ssize_t s
) noexcept nogil:
    """``cols[c, i, j]``: entry (i, j) of every window of channel c, for every sample."""
    cdef Py_ssize_t N = x.shape[0], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t H_out = cols.shape[4], W_out = cols.shape[5]
    cdef floating *dst
    cdef const floating *src
    cdef Py_ssize_t n, h, w, h_lo, h_hi, w_lo, w_hi
    # Output rows h in [h_lo, h_hi) and columns w in [w_lo, w_hi) read real pixels; the
    # others read padding. Explicit loops rather than memcpy / memset: the rows are short
    # (W' entries) and the compiler vectorizes these loops without a call per row.
    h_lo, h_hi = _valid_range(H, i - p, s, H_out)
    w_lo, w_hi = _valid_range(W, j - p, s, W_out)
    for n in range(N):
        for h in range(H_out):
            dst = &cols[c, i, j, n, h, 0]
            if h < h_lo or h >= h_hi:
                for w in range(W_out):
                    dst[w] = 0
                continue
            src = &x[n, c, h * s + i - p, 0]
            for w in range(w_lo):
                dst[w] = 0
            if s == 1:
                for w in range(w_lo, w_hi):
                    dst[w] = src[w + j - p]
            else:
                for w in range(w_lo, w_hi):
                    dst[w] = src[w * s + j - p]
            for w in range(w_hi, W_out):
                dst[w] = 0


def col2im_6d_cython(
    const floating[:, :, :, :, :, ::1] cols, int N, int C, int H, int W,
    int HH, int WW, int pad, int stride, out=None
):
    """Sum window entries ``cols: (C, HH, WW, N, H', W')`` back into ``(N, C, H, W)``.

    ``cols[c, i, j, n, h, w]`` belongs to row h*stride + i, column w*stride + j of
    channel c of sample n in the image padded by ``pad``; padding entries are dropped.
    The adjoint of ``im2col_6d_cython``. ``out``: an optional C-contiguous
    ``(N, C, H, W)`` array of cols' dtype, overwritten and returned instead of a new one.
    """
    cdef Py_ssize_t s = stride, p = pad
    _check_window(H, W, HH, WW, p, s)
    cdef Py_ssize_t H_out = _output_size(H, HH, p, s), W_out = _output_size(W, WW, p, s)
    _check_cols_shape(cols, (C, HH, WW, N, H_out, W_out))
    dtype = np.float32 if floating is float else np.float64
    if out is None:
        x_arr = np.empty((N, C, H, W), dtype=dtype)
    else:
        _check_cols_shape(out, (N, C, H, W), "out")
        x_arr = out
    # The threads share out the N*C (sample, channel) planes: no two write the same entry.
    parallel_for(_col2im_6d_planes, N * C, cols, x_arr, p, s)
    return x_arr


def _col2im_6d_planes(
    Py_ssize_t start, Py_ssize_t stop, const floating[:, :, :, :, :, ::1] cols,
    floating[:, :, :, ::1] x, Py_ssize_t p, Py_ssize_t s
):
    """Planes ``start <= n*C + c < stop`` of ``col2im_6d_cython``, one at a time so that
    each stays in the L1 cache."""
    cdef Py_ssize_t C = x.shape[1], plane
    with nogil:
        for plane in range(start, stop):
            _col2im_6d_plane(cols, x, plane // C, plane % C, p, s)


cdef void _col2im_6d_plane(
    const floating[:, :, :, :, :, ::1] cols, floating[:, :, :, ::1] x,
    Py_ssize_t n, Py_ssize_t c, Py_ssize_t p, Py_ssize_t s
) noexcept nogil:
    """Plane (n, c) of x: the sum of the window entries that fall on it."""
    cdef Py_ssize_t H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t HH = cols.shape[1], WW = cols.shape[2]
    cdef Py_ssize_t H_out = cols.shape[4], W_out = cols.shape[5]
    cdef floating *dst
    cdef const floating *src
    cdef Py_ssize_t i, j, h, w, y, h_lo, h_hi, w_lo, w_hi
    memset(&x[n, c, 0, 0], 0, H * W * sizeof(floating))
    for i in range(HH):
        h_lo, h_hi = _valid_range(H, i - p, s, H_out)
        for j in range(WW):
            w_lo, w_hi = _valid_range(W, j - p, s, W_out)
            for h in range(h_lo, h_hi):
                y = h * s + i - p
                src = &cols[c, i, j, n, h, 0]
                if s == 1:
                    dst = &x[n, c, y, 0]
                    for w in range(w_lo, w_hi):
                        dst[w + j - p] += src[w]
                else:
                    for w in range(w_lo, w_hi):
                        x[n, c, y, w * s + j - p] += src[w]


def window_max_cython(const floating[:, :, ::1] windows):
    """Largest entry of every window and the position of its first occurrence.

    ``windows: (R, K, P)`` holds R*P windows of K entries each, along the middle axis
    (e.g. ``im2col_6d_cython``'s output reshaped). Returns ``(out, argmax)``, both
    ``(R, P)``: ``out`` in the windows' dtype, ``argmax`` (int32) the smallest k with
    ``windows[r, k, p] == out[r, p]``.
    """
    cdef Py_ssize_t R = windows.shape[0], K = windows.shape[1], P = windows.shape[2]
    if K < 1:
        raise ValueError("windows must have at least one entry (shape[1] >= 1)")
    dtype = np.float32 if floating is float else np.float64
    out_arr = np.empty((R, P), dtype=dtype)
    argmax_arr = np.zeros((R, P), dtype=np.int32)
    parallel_for(_window_max_rows, R, windows, out_arr, argmax_arr)
    return out_arr, argmax_arr


def _window_max_rows(
    Py_ssize_t start, Py_ssize_t stop, const floating[:, :, ::1] windows,
    floating[:, ::1] out, int[:, ::1] argmax
):
    """Rows ``start <= r < stop`` of ``window_max_cython``."""
    cdef Py_ssize_t K = windows.shape[1], P = windows.shape[2], r, k, p
    cdef floating value
    with nogil:
        for r in range(start, stop):
            memcpy(&out[r, 0], &windows[r, 0, 0], P * sizeof(floating))
            for k in range(1, K):
                for p in range(P):
                    value = windows[r, k, p]
                    if value > out[r, p]:  # strictly: the first maximum stays
                        out[r, p] = value
                        argmax[r, p] = <int>k


def window_scatter_cython(const floating[:, ::1] dout, const int[:, ::1] argmax, int K):
    """Adjoint of picking ``windows[r, argmax[r, p], p]``: ``(R, K, P)`` zeros with
    ``dout[r, p]`` at ``[r, argmax[r, p], p]``. dout and argmax: ``(R, P)``."""
    cdef Py_ssize_t R = dout.shape[0], P = dout.shape[1]
    if argmax.shape[0] != R or argmax.shape[1] != P:
        raise ValueError(
            f"argmax must have dout's shape {(R, P)}, got {(argmax.shape[0], argmax.shape[1])}"
        )
    dtype = np.float32 if floating is float else np.float64
    dwindows_arr = np.zeros((R, K, P), dtype=dtype)
    if sum(parallel_for(_window_scatter_rows, R, dout, argmax, dwindows_arr)):
        raise ValueError(f"argmax entries must lie in [0, {K})")
    return dwindows_arr


def _window_scatter_rows(
    Py_ssize_t start, Py_ssize_t stop, const floating[:, ::1] dout, const int[:, ::1] argmax,
    floating[:, :, ::1] dwindows
):
    """Rows ``start <= r < stop`` of ``window_scatter_cython``; returns how many argmax
    entries were out of range (and skipped)."""
    cdef Py_ssize_t K = dwindows.shape[1], P = dout.shape[1], r, p, k, out_of_range = 0
    with nogil:
        for r in range(start, stop):
            for p in range(P):
                k = argmax[r, p]
                if k < 0 or k >= K:
                    out_of_range += 1
                else:
                    dwindows[r, k, p] = dout[r, p]
    return out_of_range


def max_pool_cython(const floating[:, :, :, ::1] x, int pool_height, int pool_width, int stride):
    """Max pooling of ``x: (N, C, H, W)`` read in place, windows ``pool_height x pool_width``.

    Returns ``(out, argmax)``: ``out (N, C, H', W')`` in x's dtype and ``argmax (N*C, H'*W')``
    (int32), the offset ``i*pool_width + j`` of the first maximum (row-major) of each window.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t ph = pool_height, pw = pool_width, s = stride
    _check_window(H, W, ph, pw, 0, s)
    cdef Py_ssize_t H_out = _output_size(H, ph, 0, s), W_out = _output_size(W, pw, 0, s)
    dtype = np.float32 if floating is float else np.float64
    out_arr = np.empty((N, C, H_out, W_out), dtype=dtype)
    argmax_arr = np.empty((N * C, H_out * W_out), dtype=np.int32)
    parallel_for(_max_pool_planes, N * C, x, out_arr, argmax_arr, ph, pw, s)
    return out_arr, argmax_arr


def _max_pool_planes(
    Py_ssize_t start, Py_ssize_t stop, const floating[:, :, :, ::1] x,
    floating[:, :, :, ::1] out, int[:, ::1] argmax, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t s
):
    """Planes ``start <= n*C + c < stop`` of ``max_pool_cython``."""
    cdef Py_ssize_t C = x.shape[1], plane
    with nogil:
        for plane in range(start, stop):
            _max_pool_plane(x, out, argmax, plane // C, plane % C, ph, pw, s)


cdef void _max_pool_plane(
    const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int[:, ::1] argmax,
    Py_ssize_t n, Py_ssize_t c, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t s
) noexcept nogil:
    """Plane (n, c) of out and its row n*C + c of argmax."""
    cdef Py_ssize_t W = x.shape[3], H_out = out.shape[2], W_out = out.shape[3]
    cdef Py_ssize_t row = n * out.shape[1] + c
    cdef const floating *window
    cdef floating best
    cdef int best_k
    cdef Py_ssize_t h, w, i, j
    for h in range(H_out):
        for w in range(W_out):
            window = &x[n, c, h * s, w * s]
            best, best_k = window[0], 0
            for i in range(ph):
                for j in range(pw):
                    if window[i * W + j] > best:  # strictly: the first maximum stays
                        best, best_k = window[i * W + j], <int>(i * pw + j)
            out[n, c, h, w] = best
            argmax[row, h * W_out + w] = best_k


def max_pool_backward_cython(
    const floating[:, ::1] dout, const int[:, ::1] argmax, int N, int C, int H, int W,
    int pool_height, int pool_width, int stride
):
    """Adjoint of ``max_pool_cython``: ``dx (N, C, H, W)``, zero but for ``dout[r, p]`` added
    at the maximum ``argmax[r, p]`` of window p of plane r. dout and argmax: ``(N*C, H'*W')``.
    """
    cdef Py_ssize_t ph = pool_height, pw = pool_width, s = stride
    _check_window(H, W, ph, pw, 0, s)
    cdef Py_ssize_t H_out = _output_size(H, ph, 0, s), W_out = _output_size(W, pw, 0, s)
    _check_cols_shape(dout, (N * C, H_out * W_out), "dout")
    _check_cols_shape(argmax, (N * C, H_out * W_out), "argmax")
    dtype = np.float32 if floating is float else np.float64
    dx_arr = np.empty((N, C, H, W), dtype=dtype)
    if sum(parallel_for(_max_pool_backward_planes, N * C, dout, argmax, dx_arr, ph, pw, s)):
        raise ValueError(f"argmax entries must lie in [0, {ph * pw})")
    return dx_arr


def _max_pool_backward_planes(
    Py_ssize_t start, Py_ssize_t stop, const floating[:, ::1] dout, const int[:, ::1] argmax,
    floating[:, :, :, ::1] dx, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t s
):
    """Planes ``start <= n*C + c < stop`` of ``max_pool_backward_cython``; returns how many
    argmax entries were out of range (and skipped)."""
    cdef Py_ssize_t C = dx.shape[1], plane, out_of_range = 0
    with nogil:
        for plane in range(start, stop):
            out_of_range += _max_pool_backward_plane(
                dout, argmax, dx, plane // C, plane % C, ph, pw, s
            )
    return out_of_range


cdef Py_ssize_t _max_pool_backward_plane(
    const floating[:, ::1] dout, const int[:, ::1] argmax, floating[:, :, :, ::1] dx,
    Py_ssize_t n, Py_ssize_t c, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t s
) noexcept nogil:
    """Plane (n, c) of dx; returns how many argmax entries of it were out of range."""
    cdef Py_ssize_t H = dx.shape[2], W = dx.shape[3], row = n * dx.shape[1] + c
    cdef Py_ssize_t W_out = 1 + (W - pw) // s, P = dout.shape[1], p, k, bad = 0
    memset(&dx[n, c, 0, 0], 0, H * W * sizeof(floating))
    for p in range(P):
        k = argmax[row, p]
        if k < 0 or k >= ph * pw:
            bad += 1
        else:
            dx[n, c, (p // W_out) * s + k // pw, (p % W_out) * s + k % pw] += dout[row, p]
    return bad
