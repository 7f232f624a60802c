"""im2col and col2im in pure numpy: the reference for ``im2col_cython`` and the fallback
that the fast layers use when the Cython extension is not built.

A window of ``field_height x field_width`` slides with ``stride`` over each image of
``x: (N, C, H, W)`` zero-padded by ``padding`` on every side, giving H' x W' positions,
``H' = 1 + (H + 2*padding - field_height) // stride`` (W' likewise). The column matrix
``cols`` has shape ``(C*field_height*field_width, N*H'*W')``:

- row ``(c*field_height + i)*field_width + j`` holds channel c at offset (i, j) of the window;
- column ``(h*W' + w)*N + n`` is sample n at window position (h, w): the batch index
  varies fastest along a row.

``im2col_cython`` produces exactly the same layout. ``im2col_6d`` / ``col2im_6d`` use a
second layout, the windows as ``(C, HH, WW, N, H', W')`` (the counterparts of
``im2col_6d_cython`` / ``col2im_6d_cython``). Callers check that the window tiles the
padded input; these functions trust their arguments.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _output_size(size: int, field: int, padding: int, stride: int) -> int:
    return 1 + (size + 2 * padding - field) // stride


def get_im2col_indices(
    x_shape: tuple[int, int, int, int],
    field_height: int,
    field_width: int,
    padding: int = 1,
    stride: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays (k, i, j) with ``x_padded[:, k, i, j]: (N, C*fh*fw, H'*W')``.

    ``x_padded`` is x zero-padded by ``padding`` on both spatial sides. k (channel) has
    shape (C*fh*fw, 1); i (row) and j (column) have shape (C*fh*fw, H'*W'). Entry
    ``[r, p]`` addresses row r of the column matrix at window position p = h*W' + w.
    """
    _, C, H, W = x_shape
    H_out = _output_size(H, field_height, padding, stride)
    W_out = _output_size(W, field_width, padding, stride)
    # Offsets inside the window, in row order (c, di, dj).
    di = np.tile(np.repeat(np.arange(field_height), field_width), C)
    dj = np.tile(np.arange(field_width), field_height * C)
    # Top-left corner of each window position, in order (h, w).
    top = stride * np.repeat(np.arange(H_out), W_out)
    left = stride * np.tile(np.arange(W_out), H_out)
    i = di[:, None] + top[None, :]
    j = dj[:, None] + left[None, :]
    k = np.repeat(np.arange(C), field_height * field_width)[:, None]
    return k, i, j


def im2col_indices(
    x: np.ndarray, field_height: int, field_width: int, padding: int = 1, stride: int = 1
) -> np.ndarray:
    """Column matrix of ``x: (N, C, H, W)``: shape ``(C*fh*fw, N*H'*W')``, batch fastest.

    A gather with the index arrays of ``get_im2col_indices``.
    """
    p = padding
    x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    k, i, j = get_im2col_indices(x.shape, field_height, field_width, padding, stride)
    cols = x_padded[:, k, i, j]  # (N, C*fh*fw, H'*W')
    return cols.transpose(1, 2, 0).reshape(cols.shape[1], -1)


def col2im_indices(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    field_height: int = 3,
    field_width: int = 3,
    padding: int = 1,
    stride: int = 1,
) -> np.ndarray:
    """Adjoint of ``im2col_indices``: sum every column entry back into its pixel.

    cols: ``(C*fh*fw, N*H'*W')`` in the layout above. Returns ``(N, C, H, W)``; entries
    that fell on the padding are dropped.
    """
    N, C, H, W = x_shape
    H_out = _output_size(H, field_height, padding, stride)
    W_out = _output_size(W, field_width, padding, stride)
    cols6 = cols.reshape(C, field_height, field_width, H_out, W_out, N)
    return col2im_6d(cols6.transpose(0, 1, 2, 5, 3, 4), x_shape, padding, stride)


def im2col_6d(
    x: np.ndarray,
    field_height: int,
    field_width: int,
    padding: int,
    stride: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Windows of ``x: (N, C, H, W)`` zero-padded by ``padding``: ``(C, HH, WW, N, H', W')``.

    ``cols[c, i, j, n, h, w]`` is pixel (row h*stride + i, column w*stride + j) of
    channel c of sample n in the padded image: a strided view of the windows, copied
    once. ``out``: an optional C-contiguous buffer of x's dtype, at least that large,
    written and returned (reshaped) instead of a new array. The numpy counterpart of
    ``im2col_6d_cython``.
    """
    p = padding
    x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    windows = sliding_window_view(x_padded, (field_height, field_width), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride].transpose(1, 4, 5, 0, 2, 3)
    if out is None:
        return np.ascontiguousarray(windows)
    cols = out.reshape(-1)[: windows.size].reshape(windows.shape)
    np.copyto(cols, windows)
    return cols


def col2im_6d(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    padding: int,
    stride: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Sum window entries ``cols: (C, HH, WW, N, H', W')`` back into ``(N, C, H, W)``.

    The adjoint of ``im2col_6d``: ``cols[c, i, j, n, h, w]`` belongs to pixel
    (row h*stride + i, column w*stride + j) of channel c of sample n in the padded
    image. ``out``: an optional array of shape x_shape, overwritten and returned. The
    numpy counterpart of ``col2im_6d_cython``; one strided slice addition per window
    offset (i, j).
    """
    N, C, H, W = x_shape
    _, HH, WW, _, H_out, W_out = cols.shape
    p = padding
    x_padded = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=cols.dtype)
    by_sample = cols.transpose(3, 0, 1, 2, 4, 5)  # (N, C, HH, WW, H', W')
    for i in range(HH):
        rows = slice(i, i + stride * H_out, stride)
        for j in range(WW):
            x_padded[:, :, rows, j : j + stride * W_out : stride] += by_sample[:, :, i, j]
    if out is None:
        return x_padded[:, :, p : p + H, p : p + W]
    np.copyto(out, x_padded[:, :, p : p + H, p : p + W])
    return out
