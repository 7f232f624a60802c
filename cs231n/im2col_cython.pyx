# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""im2col and col2im kernels for the fast layers, for float32 and float64 inputs.

The column matrix has the layout of ``cs231n.im2col.im2col_indices``: shape
``(C*field_height*field_width, N*H'*W')``, row ``(c*field_height + i)*field_width + j``,
column ``(h*W' + w)*N + n`` (the batch index varies fastest). Callers check that the
window tiles the padded input; these kernels trust their arguments.

Both kernels on the column matrix go through a padded, transposed copy of the images,
``(C, H + 2*padding, W + 2*padding, N)``, so that each window entry moves N contiguous
values at a time.
"""

import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy


cdef inline Py_ssize_t _output_size(int size, int field, int padding, int stride):
    return 1 + (size + 2 * padding - field) // stride


def im2col_cython(
    floating[:, :, :, :] x, int field_height, int field_width, int padding, int stride
):
    """Column matrix of ``x: (N, C, H, W)``: ``(C*fh*fw, N*H'*W')``, batch fastest."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t H_out = _output_size(H, field_height, padding, stride)
    cdef Py_ssize_t W_out = _output_size(W, field_width, padding, stride)
    dtype = np.float32 if floating is float else np.float64

    x_t = np.zeros((C, H + 2 * padding, W + 2 * padding, N), dtype=dtype)
    x_t[:, padding : padding + H, padding : padding + W, :] = np.asarray(x).transpose(1, 2, 3, 0)
    cols_arr = np.empty((C * field_height * field_width, H_out * W_out * N), dtype=dtype)

    cdef floating[:, :, :, ::1] src = x_t
    cdef floating[:, ::1] cols = cols_arr
    cdef Py_ssize_t row, c, i, j, h, w
    cdef size_t nbytes = N * sizeof(floating)
    for row in prange(C * field_height * field_width, nogil=True, schedule="static"):
        c = row // (field_height * field_width)
        i = (row // field_width) % field_height
        j = row % field_width
        for h in range(H_out):
            for w in range(W_out):
                memcpy(&cols[row, (h * W_out + w) * N], &src[c, h * stride + i, w * stride + j, 0], nbytes)
    return cols_arr


def col2im_cython(
    floating[:, ::1] cols, int N, int C, int H, int W,
    int field_height, int field_width, int padding, int stride
):
    """Adjoint of ``im2col_cython``: sum ``cols: (C*fh*fw, N*H'*W')`` into ``(N, C, H, W)``.

    Entries that fell on the padding are dropped.
    """
    cdef Py_ssize_t H_out = _output_size(H, field_height, padding, stride)
    cdef Py_ssize_t W_out = _output_size(W, field_width, padding, stride)
    dtype = np.float32 if floating is float else np.float64

    x_t_arr = np.zeros((C, H + 2 * padding, W + 2 * padding, N), dtype=dtype)
    cdef floating[:, :, :, ::1] x_t = x_t_arr
    cdef Py_ssize_t c, i, j, h, w, n, row, col
    for c in prange(C, nogil=True, schedule="static"):
        for i in range(field_height):
            for j in range(field_width):
                row = (c * field_height + i) * field_width + j
                for h in range(H_out):
                    for w in range(W_out):
                        col = (h * W_out + w) * N
                        for n in range(N):
                            x_t[c, h * stride + i, w * stride + j, n] += cols[row, col + n]
    x_t_arr = x_t_arr[:, padding : padding + H, padding : padding + W, :]
    return np.ascontiguousarray(x_t_arr.transpose(3, 0, 1, 2))


def col2im_6d_cython(
    floating[:, :, :, :, :, ::1] cols, int N, int C, int H, int W,
    int HH, int WW, int pad, int stride
):
    """Sum window entries ``cols: (C, HH, WW, N, H', W')`` back into ``(N, C, H, W)``.

    ``cols[c, i, j, n, h, w]`` belongs to row h*stride + i, column w*stride + j of
    channel c of sample n in the image padded by ``pad``; padding entries are dropped.
    """
    cdef Py_ssize_t H_out = cols.shape[4], W_out = cols.shape[5]
    dtype = np.float32 if floating is float else np.float64

    x_pad_arr = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dtype)
    cdef floating[:, :, :, ::1] x_pad = x_pad_arr
    cdef Py_ssize_t nc, n, c, i, j, h, w
    # One (sample, channel) plane per iteration: no two threads write the same pixel.
    for nc in prange(N * C, nogil=True, schedule="static"):
        n = nc // C
        c = nc % C
        for i in range(HH):
            for j in range(WW):
                for h in range(H_out):
                    for w in range(W_out):
                        x_pad[n, c, h * stride + i, w * stride + j] += cols[c, i, j, n, h, w]
    return x_pad_arr[:, :, pad : pad + H, pad : pad + W]
