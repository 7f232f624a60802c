"""Q4 fast layers: conv and max pooling against PyTorch (float64 autograd), every
strategy, float32 and float64; im2col / col2im layouts, numpy against Cython; the parallel
kernels giving the same bits on 1 and 2 threads; the numpy fallback when the extension is
hidden; argument errors; agreement with the naive layers."""

from __future__ import annotations

import sys
import types
import warnings

import numpy as np
import pytest
import torch.nn.functional as F
from conftest import assert_close as assert_allclose
from conftest import assert_equal, check_close, tn, tt

from cs231n import fast_layers
from cs231n.fast_layers import (
    ExtensionNotBuiltWarning,
    conv_backward_fast,
    conv_backward_im2col,
    conv_backward_strides,
    conv_forward_fast,
    conv_forward_im2col,
    conv_forward_strides,
    max_pool_backward_direct,
    max_pool_backward_fast,
    max_pool_backward_im2col,
    max_pool_backward_reshape,
    max_pool_forward_direct,
    max_pool_forward_fast,
    max_pool_forward_im2col,
    max_pool_forward_reshape,
)
from cs231n.gradient_check import eval_numerical_gradient_array
from cs231n.im2col import (
    col2im_6d,
    col2im_indices,
    get_im2col_indices,
    im2col_6d,
    im2col_indices,
)
from cs231n.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

pytestmark = pytest.mark.q4

CONV_STRATEGIES = {
    "fast": (conv_forward_fast, conv_backward_fast),
    "im2col": (conv_forward_im2col, conv_backward_im2col),
    "strides": (conv_forward_strides, conv_backward_strides),
}
POOL_STRATEGIES = {
    "fast": (max_pool_forward_fast, max_pool_backward_fast),
    "direct": (max_pool_forward_direct, max_pool_backward_direct),
    "reshape": (max_pool_forward_reshape, max_pool_backward_reshape),
    "im2col": (max_pool_forward_im2col, max_pool_backward_im2col),
}

# (x shape, w shape, stride, pad): every window tiles the padded input.
CONV_CASES = [
    ((2, 3, 8, 8), (4, 3, 3, 3), 1, 1),
    ((3, 2, 7, 9), (5, 2, 3, 5), 2, 2),  # non-square input and filter
    ((2, 4, 10, 8), (3, 4, 5, 3), 3, 2),
    ((1, 3, 5, 5), (2, 3, 5, 5), 1, 0),  # one window covers the image
    ((2, 1, 4, 6), (2, 1, 1, 1), 1, 3),  # 1x1 filter, windows made only of padding
    ((4, 3, 6, 6), (2, 3, 2, 2), 2, 0),
    ((2, 2, 9, 5), (3, 2, 4, 2), 1, 3),  # even filter, pad larger than half the filter
]
CONV_IDS = [f"x{x}-w{w}-s{s}-p{p}" for x, w, s, p in CONV_CASES]

# (x shape, pool_height, pool_width, stride)
TILING_POOLS = [((2, 3, 8, 8), 2, 2, 2), ((2, 2, 9, 6), 3, 3, 3), ((3, 1, 4, 10), 2, 2, 2)]
OVERLAPPING_POOLS = [
    ((2, 3, 9, 9), 3, 3, 2),
    ((2, 2, 7, 8), 2, 3, 1),  # non-square window
    ((1, 3, 8, 6), 4, 2, 2),  # non-overlapping but not tiling the reshape way
    ((2, 2, 5, 5), 2, 2, 1),
]
POOL_IDS = [f"x{x}-{ph}x{pw}-s{s}" for x, ph, pw, s in TILING_POOLS + OVERLAPPING_POOLS]

# Tolerances against the float64 reference: (rtol, atol relative to the largest entry).
TOL = {np.float64: (1e-9, 1e-11), np.float32: (1e-4, 1e-5)}


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype) -> None:
    rtol, atol = TOL[dtype]
    scale = max(float(np.max(np.abs(expected))), 1.0)
    assert_allclose(actual, expected, rtol=rtol, atol=atol * scale)


def distinct(rng, shape, dtype=np.float64) -> np.ndarray:
    """Distinct, well separated values (no ties in any max-pool window)."""
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) / size - 0.5).astype(dtype)


def torch_conv(x, w, b, stride, pad, dout):
    tx, tw, tb = tt(x), tt(w), tt(b)
    out = F.conv2d(tx, tw, tb, stride=stride, padding=pad)
    out.backward(tt(dout, grad=False))
    return tn(out), tn(tx.grad), tn(tw.grad), tn(tb.grad)


def torch_pool(x, ph, pw, stride, dout):
    tx = tt(x)
    out = F.max_pool2d(tx, (ph, pw), stride)
    out.backward(tt(dout, grad=False))
    return tn(out), tn(tx.grad)


@pytest.fixture
def small_chunks(monkeypatch):
    """One sample per chunk in the strides strategy, so the chunk loop runs."""
    monkeypatch.setattr(fast_layers, "CHUNK_BYTES", 1)


@pytest.fixture
def numpy_backend(monkeypatch):
    """The fast layers with the Cython extension hidden; the backend is chosen afresh."""
    monkeypatch.setitem(sys.modules, fast_layers.EXTENSION, None)
    fast_layers.get_backend.cache_clear()
    yield
    monkeypatch.undo()
    fast_layers.get_backend.cache_clear()


def cython():
    return pytest.importorskip(
        fast_layers.EXTENSION, reason="the Cython extension is not built (pip install -e .)"
    )


# --------------------------------------------------------------------------- convolution


def conv_inputs(rng, x_shape, w_shape, stride, pad):
    """x, w, b and an upstream gradient of the output's shape, all float64."""
    N, _, H, W = x_shape
    F_, _, HH, WW = w_shape
    out_shape = (N, F_, 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride)
    return (
        rng.standard_normal(x_shape),
        rng.standard_normal(w_shape),
        rng.standard_normal(F_),
        rng.standard_normal(out_shape),
    )


def run_conv(strategy, x, w, b, stride, pad, dout):
    forward, backward = CONV_STRATEGIES[strategy]
    out, cache = forward(x, w, b, {"stride": stride, "pad": pad})
    return (out, *backward(dout, cache))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("strategy", CONV_STRATEGIES)
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES, ids=CONV_IDS)
def test_conv_matches_torch(rng, x_shape, w_shape, stride, pad, strategy, dtype):
    x, w, b, dout = conv_inputs(rng, x_shape, w_shape, stride, pad)
    expected = torch_conv(x, w, b, stride, pad, dout)
    args = [a.astype(dtype) for a in (x, w, b, dout)]
    results = run_conv(strategy, *args[:3], stride, pad, args[3])
    for name, got, want in zip(("out", "dx", "dw", "db"), results, expected, strict=True):
        assert got.dtype == dtype, name
        assert got.shape == want.shape, name
        assert_close(got, want, dtype)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES[:3], ids=CONV_IDS[:3])
def test_conv_strides_in_many_chunks(rng, small_chunks, x_shape, w_shape, stride, pad):
    x, w, b, dout = conv_inputs(rng, x_shape, w_shape, stride, pad)
    expected = torch_conv(x, w, b, stride, pad, dout)
    for got, want in zip(run_conv("strides", x, w, b, stride, pad, dout), expected, strict=True):
        assert_close(got, want, np.float64)


def test_conv_larger_batch_matches_torch(rng):
    # Several chunks of the default size, and a last chunk that is shorter.
    x, w, b, dout = conv_inputs(rng, (37, 16, 12, 12), (8, 16, 3, 3), 1, 1)
    expected = torch_conv(x, w, b, 1, 1, dout)
    for strategy in CONV_STRATEGIES:
        args = [a.astype(np.float32) for a in (x, w, b, dout)]
        for got, want in zip(run_conv(strategy, *args[:3], 1, 1, args[3]), expected, strict=True):
            assert_close(got, want, np.float32)


def test_conv_fast_numeric_gradient(rng):
    x, w, b, dout = conv_inputs(rng, (2, 2, 5, 5), (3, 2, 3, 3), 2, 1)
    param = {"stride": 2, "pad": 1}
    out, cache = conv_forward_fast(x, w, b, param)
    dx, dw, db = conv_backward_fast(dout, cache)
    f = lambda _: conv_forward_fast(x, w, b, param)[0]  # noqa: E731
    check_close("dx", dx, eval_numerical_gradient_array(f, x, dout), 1e-8)
    check_close("dw", dw, eval_numerical_gradient_array(f, w, dout), 1e-8)
    check_close("db", db, eval_numerical_gradient_array(f, b, dout), 1e-8)


@pytest.mark.parametrize("strategy", CONV_STRATEGIES)
def test_conv_leaves_inputs_unchanged(rng, strategy):
    x, w, b, dout = conv_inputs(rng, (2, 3, 6, 6), (4, 3, 3, 3), 1, 1)
    copies = [a.copy() for a in (x, w, b, dout)]
    run_conv(strategy, x, w, b, 1, 1, dout)
    for before, after in zip(copies, (x, w, b, dout), strict=True):
        assert_equal(before, after)


def test_conv_fast_accepts_non_contiguous_and_integer_input(rng):
    _, w, b, dout = conv_inputs(rng, (2, 3, 6, 6), (4, 3, 3, 3), 1, 1)
    x_view = rng.standard_normal((2, 3, 6, 12))[:, :, :, ::2]  # (2, 3, 6, 6), not contiguous
    out, cache = conv_forward_fast(x_view, w, b, {"stride": 1, "pad": 1})
    expected = torch_conv(np.ascontiguousarray(x_view), w, b, 1, 1, dout)
    assert_close(out, expected[0], np.float64)
    assert_close(conv_backward_fast(dout, cache)[1], expected[2], np.float64)
    x_int = rng.integers(-3, 4, size=(2, 3, 6, 6))
    out, _ = conv_forward_fast(x_int, w, b, {"stride": 1, "pad": 1})
    assert out.dtype == np.float64
    assert_close(out, torch_conv(x_int.astype(np.float64), w, b, 1, 1, dout)[0], np.float64)


@pytest.mark.parametrize("strategy", CONV_STRATEGIES)
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES[:3], ids=CONV_IDS[:3])
def test_conv_backward_without_dx(rng, small_chunks, strategy, x_shape, w_shape, stride, pad):
    # need_dx=False (a first layer, whose input needs no gradient): dx is None, dw and db are
    # PyTorch's, in many chunks as in one.
    x, w, b, dout = conv_inputs(rng, x_shape, w_shape, stride, pad)
    _, _, want_dw, want_db = torch_conv(x, w, b, stride, pad, dout)
    forward, backward = CONV_STRATEGIES[strategy]
    _, cache = forward(x, w, b, {"stride": stride, "pad": pad})
    dx, dw, db = backward(dout, cache, need_dx=False)
    assert dx is None
    assert_close(dw, want_dw, np.float64)
    assert_close(db, want_db, np.float64)


def test_conv_backward_fast_follows_the_cache(rng):
    x, w, b, dout = conv_inputs(rng, (2, 3, 6, 6), (4, 3, 3, 3), 1, 1)
    param = {"stride": 1, "pad": 1}
    _, im2col_cache = conv_forward_im2col(x, w, b, param)
    _, strides_cache = conv_forward_strides(x, w, b, param)
    assert im2col_cache.strategy == "im2col" and strides_cache.strategy == "strides"
    for a, b_ in zip(
        conv_backward_fast(dout, im2col_cache), conv_backward_fast(dout, strides_cache), strict=True
    ):
        assert_allclose(a, b_, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="strategy"):
        conv_backward_strides(dout, im2col_cache)
    with pytest.raises(ValueError, match="strategy"):
        conv_backward_im2col(dout, strides_cache)
    with pytest.raises(ValueError, match="cache"):
        conv_backward_fast(dout, (x, w, b, param))


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES[:4], ids=CONV_IDS[:4])
def test_conv_fast_matches_naive(rng, x_shape, w_shape, stride, pad):
    x, w, b, dout = conv_inputs(rng, x_shape, w_shape, stride, pad)
    param = {"stride": stride, "pad": pad}
    out_naive, cache = conv_forward_naive(x, w, b, param)
    expected = (out_naive, *conv_backward_naive(dout, cache))
    for got, want in zip(run_conv("fast", x, w, b, stride, pad, dout), expected, strict=True):
        check_close("got", got, want, 1e-9)


# --------------------------------------------------------------------------- max pooling


def pool_inputs(rng, x_shape, ph, pw, stride, dtype=np.float64):
    N, C, H, W = x_shape
    out_shape = (N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride)
    return distinct(rng, x_shape, dtype), rng.standard_normal(out_shape).astype(dtype)


def run_pool(strategy, x, ph, pw, stride, dout):
    forward, backward = POOL_STRATEGIES[strategy]
    out, cache = forward(x, {"pool_height": ph, "pool_width": pw, "stride": stride})
    return out, backward(dout, cache), cache


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape, ph, pw, stride", TILING_POOLS + OVERLAPPING_POOLS, ids=POOL_IDS)
def test_max_pool_matches_torch(rng, x_shape, ph, pw, stride, dtype):
    x, dout = pool_inputs(rng, x_shape, ph, pw, stride)
    expected = torch_pool(x, ph, pw, stride, dout)
    tiling = ph == pw == stride
    strategies = ["fast", "direct", "im2col"] + (["reshape"] if tiling else [])
    for strategy in strategies:
        out, dx, cache = run_pool(strategy, x.astype(dtype), ph, pw, stride, dout.astype(dtype))
        assert out.dtype == dx.dtype == dtype
        assert_close(out, expected[0], dtype)
        assert_close(dx, expected[1], dtype)
        if strategy == "fast":
            assert cache.strategy == "direct"


@pytest.mark.parametrize("strategy", POOL_STRATEGIES)
def test_max_pool_gradient_goes_to_the_first_of_tied_maxima(strategy):
    # Every 2x2 window holds its maximum twice (the whole image is one value in
    # channel 0); the gradient goes to the first of them in row-major order.
    x = np.zeros((1, 2, 4, 4))
    x[0, 1] = [[1, 3, 3, 0], [3, 2, 0, 3], [5, 5, 1, 1], [5, 5, 1, 1]]
    dout = np.arange(1.0, 9.0).reshape(1, 2, 2, 2)
    _, dx, _ = run_pool(strategy, x, 2, 2, 2, dout)
    expected = np.zeros_like(x)
    expected[0, 0, ::2, ::2] = dout[0, 0]
    expected[0, 1, 0, 1], expected[0, 1, 0, 2] = dout[0, 1, 0]
    expected[0, 1, 2, 0], expected[0, 1, 2, 2] = dout[0, 1, 1]
    assert_equal(dx, expected)


def test_max_pool_overlapping_ties_match_naive(rng):
    x = rng.integers(0, 3, size=(2, 3, 7, 7)).astype(np.float64)  # many ties
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    out, cache = max_pool_forward_naive(x, pool_param)
    dout = rng.standard_normal(out.shape)
    expected = max_pool_backward_naive(dout, cache)
    fast_out, fast_cache = max_pool_forward_fast(x, pool_param)
    assert_equal(fast_out, out)
    assert_allclose(max_pool_backward_fast(dout, fast_cache), expected, atol=1e-12)


@pytest.mark.parametrize(
    "x_shape, ph, pw, stride",
    TILING_POOLS[:1] + OVERLAPPING_POOLS[:2],
    ids=POOL_IDS[:1] + POOL_IDS[3:5],
)
def test_max_pool_fast_matches_naive(rng, x_shape, ph, pw, stride):
    x, dout = pool_inputs(rng, x_shape, ph, pw, stride)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward_naive(x, pool_param)
    fast_out, dx, _ = run_pool("fast", x, ph, pw, stride, dout)
    assert_equal(fast_out, out)
    assert_allclose(dx, max_pool_backward_naive(dout, cache), atol=1e-12)


@pytest.mark.parametrize("x_shape, size, stride", [((2, 2, 6, 6), 2, 2), ((2, 2, 7, 7), 3, 2)])
def test_max_pool_fast_numeric_gradient(rng, x_shape, size, stride):
    x, dout = pool_inputs(rng, x_shape, size, size, stride)
    pool_param = {"pool_height": size, "pool_width": size, "stride": stride}
    _, cache = max_pool_forward_fast(x, pool_param)
    dx = max_pool_backward_fast(dout, cache)
    f = lambda _: max_pool_forward_fast(x, pool_param)[0]  # noqa: E731
    check_close("dx", dx, eval_numerical_gradient_array(f, x, dout), 1e-8)


@pytest.mark.parametrize("strategy", POOL_STRATEGIES)
def test_max_pool_leaves_inputs_unchanged(rng, strategy):
    x, dout = pool_inputs(rng, (2, 3, 6, 6), 2, 2, 2)
    x_before, dout_before = x.copy(), dout.copy()
    run_pool(strategy, x, 2, 2, 2, dout)
    assert_equal(x, x_before)
    assert_equal(dout, dout_before)


def test_max_pool_backward_follows_the_cache(rng):
    x, dout = pool_inputs(rng, (2, 3, 6, 6), 2, 2, 2)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    _, reshape_cache = max_pool_forward_reshape(x, pool_param)
    _, im2col_cache = max_pool_forward_im2col(x, pool_param)
    assert_equal(
        max_pool_backward_fast(dout, reshape_cache), max_pool_backward_fast(dout, im2col_cache)
    )
    with pytest.raises(ValueError, match="strategy"):
        max_pool_backward_reshape(dout, im2col_cache)
    with pytest.raises(ValueError, match="strategy"):
        max_pool_backward_im2col(dout, reshape_cache)


# --------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    "x_shape, w_shape, b_shape, conv_param, match",
    [
        ((2, 3, 8, 8), (4, 3, 3, 3), (4,), {"stride": 2, "pad": 1}, "tile"),  # 9 % 2
        ((2, 3, 7, 8), (4, 3, 3, 3), (4,), {"stride": 2, "pad": 1}, "width"),
        ((2, 3, 8, 8), (4, 2, 3, 3), (4,), {"stride": 1, "pad": 1}, "w must have shape"),
        ((2, 3, 8, 8), (4, 3, 3, 3), (3,), {"stride": 1, "pad": 1}, "b must have shape"),
        ((3, 8, 8), (4, 3, 3, 3), (4,), {"stride": 1, "pad": 1}, "x must be a 4-D"),
        ((2, 3, 8, 8), (4, 3, 3), (4,), {"stride": 1, "pad": 1}, "w must be a 4-D"),
        ((2, 3, 4, 4), (4, 3, 7, 7), (4,), {"stride": 1, "pad": 1}, "does not fit"),
        ((2, 3, 8, 8), (4, 3, 3, 3), (4,), {"pad": 1}, "stride"),
        ((2, 3, 8, 8), (4, 3, 3, 3), (4,), {"stride": 0, "pad": 1}, "stride"),
        ((2, 3, 8, 8), (4, 3, 3, 3), (4,), {"stride": 1, "pad": -1}, "pad"),
        ((2, 3, 8, 8), (4, 3, 3, 3), (4,), {"stride": 1.0, "pad": 1}, "stride"),
    ],
)
@pytest.mark.parametrize("strategy", CONV_STRATEGIES)
def test_conv_bad_input_raises(x_shape, w_shape, b_shape, conv_param, match, strategy):
    forward, _ = CONV_STRATEGIES[strategy]
    with pytest.raises(ValueError, match=match):
        forward(np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape), conv_param)


@pytest.mark.parametrize(
    "x_shape, pool_param, match",
    [
        ((2, 3, 4, 4), {"pool_height": 5, "pool_width": 2, "stride": 1}, "does not fit"),
        ((2, 3, 4, 4), {"pool_height": 2, "pool_width": 5, "stride": 1}, "does not fit"),
        ((2, 3, 5, 5), {"pool_height": 2, "pool_width": 2, "stride": 2}, "tile"),
        ((2, 3, 8, 7), {"pool_height": 3, "pool_width": 3, "stride": 2}, "tile"),
        ((3, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 2}, "x must be a 4-D"),
        ((2, 3, 4, 4), {"pool_height": 2, "stride": 2}, "pool_width"),
        ((2, 3, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 0}, "stride"),
    ],
)
@pytest.mark.parametrize("strategy", POOL_STRATEGIES)
def test_max_pool_bad_input_raises(x_shape, pool_param, match, strategy):
    forward, _ = POOL_STRATEGIES[strategy]
    with pytest.raises(ValueError, match=match):
        forward(np.zeros(x_shape), pool_param)


def test_backward_rejects_a_dout_of_the_wrong_shape(rng):
    x, w, b, dout = conv_inputs(rng, (2, 3, 6, 6), (4, 3, 3, 3), 1, 1)
    for forward, backward in list(CONV_STRATEGIES.values()):
        _, cache = forward(x, w, b, {"stride": 1, "pad": 1})
        with pytest.raises(ValueError, match="dout must have shape"):
            backward(dout[:, :, :5], cache)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    for forward, backward in list(POOL_STRATEGIES.values()):
        out, cache = forward(x, pool_param)
        with pytest.raises(ValueError, match="dout must have shape"):
            backward(np.zeros((2, 3, 3, 2)), cache)


def test_max_pool_reshape_needs_square_tiling_windows():
    with pytest.raises(ValueError, match="pool_height == pool_width == stride"):
        max_pool_forward_reshape(
            np.zeros((1, 1, 6, 6)), {"pool_height": 2, "pool_width": 2, "stride": 1}
        )


# --------------------------------------------------------------------------- im2col layouts


def im2col_loops(x, fh, fw, pad, stride):
    """The column matrix by definition: row (c*fh + i)*fw + j, column (h*W' + w)*N + n."""
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out, W_out = 1 + (H + 2 * pad - fh) // stride, 1 + (W + 2 * pad - fw) // stride
    cols = np.empty((C * fh * fw, N * H_out * W_out), dtype=x.dtype)
    for c, i, j, h, w, n in np.ndindex(C, fh, fw, H_out, W_out, N):
        cols[(c * fh + i) * fw + j, (h * W_out + w) * N + n] = xp[
            n, c, h * stride + i, w * stride + j
        ]
    return cols


IM2COL_CASES = [((2, 3, 5, 5), 3, 3, 1, 1), ((3, 2, 7, 8), 3, 2, 1, 2), ((2, 2, 6, 4), 2, 4, 0, 2)]
IM2COL_IDS = [f"x{x}-{fh}x{fw}-p{p}-s{s}" for x, fh, fw, p, s in IM2COL_CASES]


@pytest.mark.parametrize("x_shape, fh, fw, pad, stride", IM2COL_CASES, ids=IM2COL_IDS)
def test_im2col_indices_layout(rng, x_shape, fh, fw, pad, stride):
    x = rng.standard_normal(x_shape)
    cols = im2col_indices(x, fh, fw, pad, stride)
    assert_equal(cols, im2col_loops(x, fh, fw, pad, stride))
    k, i, j = get_im2col_indices(x_shape, fh, fw, pad, stride)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    by_sample = xp[:, k, i, j]  # (N, C*fh*fw, H'*W')
    assert_equal(by_sample.transpose(1, 2, 0).reshape(cols.shape), cols)


@pytest.mark.parametrize("x_shape, fh, fw, pad, stride", IM2COL_CASES, ids=IM2COL_IDS)
def test_col2im_indices_is_the_adjoint(rng, x_shape, fh, fw, pad, stride):
    # <im2col(x), c> == <x, col2im(c)> for all x, c; and col2im of the columns of x
    # counts every pixel once per window that holds it.
    x = rng.standard_normal(x_shape)
    cols = rng.standard_normal(im2col_indices(x, fh, fw, pad, stride).shape)
    back = col2im_indices(cols, x_shape, fh, fw, pad, stride)
    assert back.shape == x_shape
    assert np.isclose(np.vdot(im2col_indices(x, fh, fw, pad, stride), cols), np.vdot(x, back))
    counts = col2im_indices(np.ones_like(cols), x_shape, fh, fw, pad, stride)
    assert_allclose(
        col2im_indices(im2col_indices(x, fh, fw, pad, stride), x_shape, fh, fw, pad, stride),
        counts * x,
    )


@pytest.mark.parametrize("x_shape, fh, fw, pad, stride", IM2COL_CASES, ids=IM2COL_IDS)
def test_im2col_6d_layout_and_adjoint(rng, x_shape, fh, fw, pad, stride):
    x = rng.standard_normal(x_shape)
    cols6 = im2col_6d(x, fh, fw, pad, stride)
    N, C = x_shape[:2]
    # Same entries as the im2col matrix, with the columns in (n, h', w') order.
    flat = im2col_loops(x, fh, fw, pad, stride).reshape(C, fh, fw, *cols6.shape[4:], N)
    assert_equal(cols6, flat.transpose(0, 1, 2, 5, 3, 4))
    c = rng.standard_normal(cols6.shape)
    assert np.isclose(np.vdot(cols6, c), np.vdot(x, col2im_6d(c, x_shape, pad, stride)))
    buffer = np.full(cols6.size + 5, np.nan)
    assert_equal(im2col_6d(x, fh, fw, pad, stride, out=buffer), cols6)
    out = np.full(x_shape, np.nan)
    assert col2im_6d(c, x_shape, pad, stride, out=out) is out
    assert_equal(out, col2im_6d(c, x_shape, pad, stride))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, fh, fw, pad, stride", IM2COL_CASES, ids=IM2COL_IDS)
def test_cython_kernels_match_numpy(rng, x_shape, fh, fw, pad, stride, dtype):
    ext = cython()
    x = rng.standard_normal(x_shape).astype(dtype)
    N, C, H, W = x_shape

    cols = ext.im2col_cython(x, fh, fw, pad, stride)
    assert cols.dtype == dtype
    assert_equal(cols, im2col_indices(x, fh, fw, pad, stride))
    c = rng.standard_normal(cols.shape).astype(dtype)
    back = ext.col2im_cython(c, N, C, H, W, fh, fw, pad, stride)
    assert back.dtype == dtype
    assert_close(back, col2im_indices(c.astype(np.float64), x_shape, fh, fw, pad, stride), dtype)

    cols6 = ext.im2col_6d_cython(x, fh, fw, pad, stride)
    assert cols6.dtype == dtype
    assert_equal(cols6, im2col_6d(x, fh, fw, pad, stride))
    c6 = rng.standard_normal(cols6.shape).astype(dtype)
    back6 = ext.col2im_6d_cython(c6, N, C, H, W, fh, fw, pad, stride)
    assert back6.dtype == dtype
    assert_close(back6, col2im_6d(c6.astype(np.float64), x_shape, pad, stride), dtype)
    out = np.full(x_shape, np.nan, dtype=dtype)
    assert ext.col2im_6d_cython(c6, N, C, H, W, fh, fw, pad, stride, out=out) is out
    assert_equal(out, back6)
    buffer = np.full(cols6.size + 3, np.nan, dtype=dtype)
    assert_equal(ext.im2col_6d_cython(x, fh, fw, pad, stride, out=buffer), cols6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_window_max_and_scatter_cython_match_numpy(rng, dtype):
    ext = cython()
    windows = rng.integers(0, 4, size=(5, 9, 7)).astype(dtype)  # many ties
    out, argmax = ext.window_max_cython(windows)
    assert_equal(out, windows.max(axis=1))
    assert_equal(argmax, windows.argmax(axis=1))  # numpy: first maximum
    assert out.dtype == dtype and argmax.dtype == np.int32
    dout = rng.standard_normal((5, 7)).astype(dtype)
    dwindows = ext.window_scatter_cython(dout, argmax, 9)
    expected = np.where(np.arange(9)[None, :, None] == argmax[:, None, :], dout[:, None, :], 0)
    assert_equal(dwindows, expected)
    with pytest.raises(ValueError, match="argmax entries"):
        ext.window_scatter_cython(dout, argmax, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, ph, pw, stride", TILING_POOLS + OVERLAPPING_POOLS, ids=POOL_IDS)
def test_max_pool_cython_matches_numpy(rng, x_shape, ph, pw, stride, dtype):
    ext = cython()
    x = rng.integers(0, 3, size=x_shape).astype(dtype)  # many ties
    N, C, H, W = x_shape
    out, argmax = ext.max_pool_cython(x, ph, pw, stride)
    want_out, want_argmax = fast_layers._max_pool_numpy(x, ph, pw, stride)
    assert out.dtype == dtype and argmax.dtype == np.int32
    assert_equal(out, want_out)
    assert_equal(argmax, want_argmax)
    dout = rng.standard_normal(argmax.shape).astype(dtype)
    dx = ext.max_pool_backward_cython(dout, argmax, N, C, H, W, ph, pw, stride)
    want = fast_layers._max_pool_backward_numpy(dout, argmax, N, C, H, W, ph, pw, stride)
    assert dx.dtype == dtype
    assert_close(dx, want, dtype)
    with pytest.raises(ValueError, match="argmax entries"):
        ext.max_pool_backward_cython(dout, argmax + ph * pw, N, C, H, W, ph, pw, stride)
    with pytest.raises(ValueError, match="dout must have shape"):
        ext.max_pool_backward_cython(dout[1:], argmax, N, C, H, W, ph, pw, stride)


# Shapes with more rows and planes than threads, odd sizes, strides and pads.
THREAD_CASES = [((5, 3, 11, 9), (7, 3, 3, 5), 2, 1), ((3, 5, 8, 8), (4, 5, 3, 3), 1, 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", THREAD_CASES)
def test_parallel_kernels_give_the_same_bits_on_1_and_2_threads(
    rng, x_shape, w_shape, stride, pad, dtype
):
    ext = cython()
    x, w, b, dout = (a.astype(dtype) for a in conv_inputs(rng, x_shape, w_shape, stride, pad))
    pool_x = x[:, :, :7, :7]  # 3x3 windows with stride 2 tile it

    def run():
        results = run_conv("fast", x, w, b, stride, pad, dout)
        out, cache = max_pool_forward_fast(pool_x, {"pool_height": 3, "pool_width": 3, "stride": 2})
        pooled = (out, cache.argmax, max_pool_backward_fast(np.ones_like(out), cache))
        windows = ext.im2col_6d_cython(x, 3, 3, 1, 1).reshape(-1, 9, x_shape[2] * x_shape[3])
        return (*results, *pooled, *ext.window_max_cython(windows))

    with fast_layers.limited_threads(1):
        serial = run()
    with fast_layers.limited_threads(3):  # more ranges than cores is fine too
        parallel = run()
    for one, two in zip(serial, parallel, strict=True):
        assert_equal(one, two)


def test_im2col_cython_accepts_views_and_read_only_input(rng):
    ext = cython()
    x = rng.standard_normal((3, 4, 6, 10))[:, ::2, :, ::2]
    assert_equal(ext.im2col_cython(x, 3, 3, 1, 1), im2col_indices(x, 3, 3, 1, 1))
    x = np.ascontiguousarray(x)
    x.setflags(write=False)
    assert_equal(ext.im2col_6d_cython(x, 3, 3, 1, 1), im2col_6d(x, 3, 3, 1, 1))


# --------------------------------------------------------------------------- numpy fallback


def test_numpy_fallback_warns_once_and_matches_torch(rng, numpy_backend):
    x, w, b, dout = conv_inputs(rng, (3, 2, 7, 9), (5, 2, 3, 5), 2, 2)
    expected = torch_conv(x, w, b, 2, 2, dout)
    with pytest.warns(ExtensionNotBuiltWarning, match="pip install -e") as record:
        for strategy in CONV_STRATEGIES:
            for got, want in zip(run_conv(strategy, x, w, b, 2, 2, dout), expected, strict=True):
                assert_close(got, want, np.float64)
        for x_shape, ph, pw, stride in (TILING_POOLS[0], OVERLAPPING_POOLS[0]):
            xp, doutp = pool_inputs(rng, x_shape, ph, pw, stride)
            want = torch_pool(xp, ph, pw, stride, doutp)
            for strategy in ("fast", "direct", "im2col"):
                out, dx, _ = run_pool(strategy, xp, ph, pw, stride, doutp)
                assert_close(out, want[0], np.float64)
                assert_close(dx, want[1], np.float64)
    assert [r.category for r in record] == [ExtensionNotBuiltWarning]
    assert fast_layers.get_backend().name == "numpy"


def test_outdated_extension_falls_back_with_a_warning(monkeypatch):
    stale = types.ModuleType(fast_layers.EXTENSION)
    stale.im2col_cython = lambda *args: None  # an old build without the other kernels
    monkeypatch.setitem(sys.modules, fast_layers.EXTENSION, stale)
    fast_layers.get_backend.cache_clear()
    try:
        with pytest.warns(ExtensionNotBuiltWarning, match="out of date"):
            assert fast_layers.get_backend().name == "numpy"
    finally:
        monkeypatch.undo()
        fast_layers.get_backend.cache_clear()


def test_built_extension_is_used_without_warning():
    cython()
    fast_layers.get_backend.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fast_layers.get_backend().name == "cython"


def test_cython_kernels_reject_arguments_out_of_bounds():
    ext = cython()
    x = np.zeros((2, 3, 5, 5))
    with pytest.raises(ValueError, match="stride"):
        ext.im2col_cython(x, 3, 3, 1, 0)
    with pytest.raises(ValueError, match="does not fit"):
        ext.im2col_6d_cython(x, 8, 3, 1, 1)
    with pytest.raises(ValueError, match="cols must have shape"):
        ext.col2im_cython(np.zeros((27, 49)), 2, 3, 5, 5, 3, 3, 1, 1)
    with pytest.raises(ValueError, match="cols must have shape"):
        ext.col2im_6d_cython(np.zeros((3, 3, 3, 2, 5, 4)), 2, 3, 5, 5, 3, 3, 1, 1)
