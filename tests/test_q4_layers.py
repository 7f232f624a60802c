"""Q4 layers: naive convolution and max pooling, spatial batch and group normalization.

PyTorch (float64 autograd) is the oracle for every forward and backward; numerical
gradients check the backward passes the way the notebook does.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_close, assert_equal, check_close, tn, tt

from cs231n.gradient_check import eval_numerical_gradient_array
from cs231n.layer_utils import (
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_bn_relu_pool_backward,
    conv_bn_relu_pool_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)

pytestmark = pytest.mark.q4


def distinct(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Float64 values without ties (so that every pooling window has one maximum)."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 10.0 - 1.0


# --------------------------------------------------------------------------- convolution

# (N, C, H, W, F, HH, WW, stride, pad); every case tiles its padded input.
CONV_CASES = [
    (2, 3, 4, 4, 3, 4, 4, 2, 1),  # the notebook's forward check
    (2, 3, 5, 5, 4, 3, 3, 1, 1),
    (2, 3, 7, 9, 3, 3, 5, 2, 0),  # non-square input and filter
    (2, 2, 6, 7, 3, 4, 2, 3, 2),  # stride 3, non-square everything
    (1, 3, 5, 5, 2, 3, 3, 2, 3),  # pad larger than half the filter
    (3, 1, 4, 4, 2, 1, 1, 1, 0),  # 1x1 filters
    (2, 3, 5, 5, 2, 1, 1, 2, 0),  # stride larger than the filter: some pixels unused
    (2, 2, 3, 3, 2, 3, 3, 1, 0),  # the filter covers the whole input
]


def conv_torch(x, w, b, stride, pad):
    xt, wt, bt = tt(x), tt(w), tt(b)
    return F.conv2d(xt, wt, bt, stride=stride, padding=pad), (xt, wt, bt)


def _conv_case(rng, case):
    N, C, H, W, Fn, HH, WW, stride, pad = case
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((Fn, C, HH, WW))
    b = rng.standard_normal(Fn)
    return x, w, b, {"stride": stride, "pad": pad}


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_forward_matches_torch(rng, case):
    x, w, b, conv_param = _conv_case(rng, case)
    out, _ = conv_forward_naive(x, w, b, conv_param)
    ref, _ = conv_torch(x, w, b, conv_param["stride"], conv_param["pad"])
    assert out.shape == ref.shape
    check_close("out", out, tn(ref), 1e-10)


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_backward_matches_torch(rng, case):
    x, w, b, conv_param = _conv_case(rng, case)
    out, cache = conv_forward_naive(x, w, b, conv_param)
    ref, (xt, wt, bt) = conv_torch(x, w, b, conv_param["stride"], conv_param["pad"])
    dout = rng.standard_normal(ref.shape)
    dx, dw, db = conv_backward_naive(dout, cache)
    ref.backward(torch.from_numpy(dout))
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    check_close("dx", dx, tn(xt.grad), 1e-10)
    check_close("dw", dw, tn(wt.grad), 1e-10)
    check_close("db", db, tn(bt.grad), 1e-10)


def test_conv_float32_keeps_dtype_and_matches_torch(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out, cache = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, dw, db = conv_backward_naive(dout, cache)
    assert {a.dtype for a in (out, dx, dw, db)} == {np.dtype(np.float32)}

    ref, (xt, wt, bt) = conv_torch(x, w, b, 1, 1)
    ref.backward(torch.from_numpy(dout.astype(np.float64)))
    for ours, theirs in ((out, ref), (dx, xt.grad), (dw, wt.grad), (db, bt.grad)):
        assert_close(ours, tn(theirs), rtol=1e-4, atol=1e-4)


def test_conv_backward_numerical(rng):
    x = rng.standard_normal((4, 3, 5, 5))
    w = rng.standard_normal((2, 3, 3, 3))
    b = rng.standard_normal(2)
    conv_param = {"stride": 1, "pad": 1}
    out, cache = conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward_naive(dout, cache)

    dx_num = eval_numerical_gradient_array(
        lambda a: conv_forward_naive(a, w, b, conv_param)[0], x, dout
    )
    dw_num = eval_numerical_gradient_array(
        lambda a: conv_forward_naive(x, a, b, conv_param)[0], w, dout
    )
    db_num = eval_numerical_gradient_array(
        lambda a: conv_forward_naive(x, w, a, conv_param)[0], b, dout
    )
    check_close("dx", dx, dx_num, 1e-8)
    check_close("dw", dw, dw_num, 1e-8)
    check_close("db", db, db_num, 1e-8)


def test_conv_does_not_modify_inputs(rng):
    x, w, b = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), np.ones(3)
    conv_param = {"stride": 1, "pad": 1}
    saved = [a.copy() for a in (x, w, b)]
    out, cache = conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dout_saved = dout.copy()
    conv_backward_naive(dout, cache)
    for a, s in zip((x, w, b, dout), (*saved, dout_saved), strict=True):
        assert_equal(a, s)
    assert conv_param == {"stride": 1, "pad": 1}


@pytest.mark.parametrize(
    "x_shape, w_shape, b_shape, conv_param, match",
    [
        ((2, 3, 6, 5), (2, 3, 3, 3), (2,), {"stride": 2, "pad": 0}, "height 3 with stride 2"),
        ((2, 3, 5, 6), (2, 3, 3, 3), (2,), {"stride": 2, "pad": 1}, "width 3 with stride 2"),
        ((2, 3, 5, 5), (2, 3, 8, 8), (2,), {"stride": 1, "pad": 1}, "does not fit"),
        ((2, 3, 5, 5), (2, 4, 3, 3), (2,), {"stride": 1, "pad": 1}, r"w must have shape"),
        ((2, 3, 5, 5), (2, 3, 3, 3), (3,), {"stride": 1, "pad": 1}, r"b must have shape"),
        ((3, 5, 5), (2, 3, 3, 3), (2,), {"stride": 1, "pad": 1}, r"x must be a 4-D"),
        ((2, 3, 5, 5), (2, 3, 3, 3), (2,), {"stride": 0, "pad": 1}, r"conv_param\['stride'\]"),
        ((2, 3, 5, 5), (2, 3, 3, 3), (2,), {"stride": 1, "pad": -1}, r"conv_param\['pad'\]"),
        ((2, 3, 5, 5), (2, 3, 3, 3), (2,), {"stride": 1.5, "pad": 1}, r"conv_param\['stride'\]"),
    ],
)
def test_conv_rejects_bad_input(x_shape, w_shape, b_shape, conv_param, match):
    with pytest.raises(ValueError, match=match):
        conv_forward_naive(np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape), conv_param)


# --------------------------------------------------------------------------- max pooling

# (N, C, H, W, pool_height, pool_width, stride)
POOL_CASES = [
    (2, 3, 4, 4, 2, 2, 2),  # tiling 2x2
    (2, 2, 6, 8, 2, 2, 2),
    (2, 2, 5, 5, 3, 3, 1),  # overlapping windows
    (1, 2, 7, 5, 3, 1, 2),  # tall windows, overlapping rows
    (2, 2, 6, 7, 2, 3, 2),  # non-square windows, overlapping columns
    (1, 3, 9, 9, 3, 3, 3),  # tiling 3x3
]


def _pool_case(rng, case):
    N, C, H, W, ph, pw, stride = case
    return distinct(rng, N, C, H, W), {"pool_height": ph, "pool_width": pw, "stride": stride}


def _pool_torch(x, pool_param):
    xt = tt(x)
    kernel = (pool_param["pool_height"], pool_param["pool_width"])
    return F.max_pool2d(xt, kernel_size=kernel, stride=pool_param["stride"]), xt


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool_forward_matches_torch(rng, case):
    x, pool_param = _pool_case(rng, case)
    out, _ = max_pool_forward_naive(x, pool_param)
    ref, _ = _pool_torch(x, pool_param)
    assert out.shape == ref.shape
    check_close("out", out, tn(ref), 1e-12)


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool_backward_matches_torch(rng, case):
    x, pool_param = _pool_case(rng, case)
    _, cache = max_pool_forward_naive(x, pool_param)
    ref, xt = _pool_torch(x, pool_param)
    dout = rng.standard_normal(ref.shape)
    dx = max_pool_backward_naive(dout, cache)
    ref.backward(torch.from_numpy(dout))
    assert dx.shape == x.shape
    check_close("dx", dx, tn(xt.grad), 1e-12)


def test_max_pool_backward_numerical(rng):
    x = distinct(rng, 3, 2, 8, 8)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward_naive(x, pool_param)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward_naive(dout, cache)
    dx_num = eval_numerical_gradient_array(
        lambda a: max_pool_forward_naive(a, pool_param)[0], x, dout
    )
    check_close("dx", dx, dx_num, 1e-10)


def test_max_pool_sends_each_window_gradient_to_one_maximum():
    x = np.ones((1, 1, 4, 4))  # every entry of every window ties
    out, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward_naive(np.full(out.shape, 3.0), cache)
    assert dx.sum() == 3.0 * out.size
    assert np.count_nonzero(dx) == out.size


def test_max_pool_float32_and_inputs_untouched(rng):
    x = distinct(rng, 2, 2, 4, 4).astype(np.float32)
    saved = x.copy()
    out, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward_naive(np.ones_like(out), cache)
    assert out.dtype == dx.dtype == np.float32
    assert_equal(x, saved)


@pytest.mark.parametrize(
    "x_shape, pool_param, match",
    [
        ((2, 3, 5, 5), {"pool_height": 2, "pool_width": 2, "stride": 2}, "height 2 with stride 2"),
        ((2, 3, 4, 5), {"pool_height": 2, "pool_width": 2, "stride": 2}, "width 2 with stride 2"),
        ((2, 3, 4, 4), {"pool_height": 5, "pool_width": 2, "stride": 1}, "does not fit"),
        ((2, 3, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 0}, "stride"),
        ((2, 3, 4, 4), {"pool_height": 0, "pool_width": 2, "stride": 2}, "pool_height"),
        ((2, 3, 4, 4), {"pool_width": 2, "stride": 2}, "pool_height"),
        ((3, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 2}, "4-D"),
    ],
)
def test_max_pool_rejects_bad_input(x_shape, pool_param, match):
    with pytest.raises(ValueError, match=match):
        max_pool_forward_naive(np.zeros(x_shape), pool_param)


# --------------------------------------------------------------------------- spatial batchnorm


def test_spatial_batchnorm_train_and_test_match_torch(rng):
    N, C, H, W = 4, 3, 5, 6
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    bn_param = {"mode": "train", "momentum": 0.8, "eps": 1e-4}
    running_mean, running_var = np.zeros(C), np.ones(C)
    bn_param.update(running_mean=running_mean.copy(), running_var=running_var.copy())

    for _ in range(3):
        x = 2.0 + 3.0 * rng.standard_normal((N, C, H, W))
        out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
        ref = F.batch_norm(
            tt(x, False), None, None, tt(gamma, False), tt(beta, False), training=True, eps=1e-4
        )
        check_close("out", out, tn(ref), 1e-10)
        running_mean = 0.8 * running_mean + 0.2 * x.mean(axis=(0, 2, 3))
        running_var = 0.8 * running_var + 0.2 * x.var(axis=(0, 2, 3))
    assert bn_param["running_mean"].shape == bn_param["running_var"].shape == (C,)
    check_close("bn_param['running_mean']", bn_param["running_mean"], running_mean, 1e-12)
    check_close("bn_param['running_var']", bn_param["running_var"], running_var, 1e-12)

    bn_param["mode"] = "test"
    x = rng.standard_normal((N, C, H, W))
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    ref = F.batch_norm(
        tt(x, False),
        tt(running_mean, False),
        tt(running_var, False),
        tt(gamma, False),
        tt(beta, False),
        training=False,
        eps=1e-4,
    )
    check_close("out", out, tn(ref), 1e-10)


def test_spatial_batchnorm_creates_running_stats_and_normalizes(rng):
    x = 4.0 + 10.0 * rng.standard_normal((10, 3, 4, 5))
    bn_param = {"mode": "train"}
    out, _ = spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), bn_param)
    assert_close(out.mean(axis=(0, 2, 3)), 0, atol=1e-10)
    assert_close(out.std(axis=(0, 2, 3)), 1, atol=1e-5)
    assert bn_param["running_mean"].shape == (3,)


def test_spatial_batchnorm_backward_matches_torch_and_numerical(rng):
    N, C, H, W = 2, 3, 4, 5
    x = 5 * rng.standard_normal((N, C, H, W)) + 12
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    bn_param = {"mode": "train"}
    out, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    dout = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    assert dgamma.shape == dbeta.shape == (C,)

    xt, gt, bt = tt(x), tt(gamma), tt(beta)
    F.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5).backward(torch.from_numpy(dout))
    check_close("dx", dx, tn(xt.grad), 1e-8)
    check_close("dgamma", dgamma, tn(gt.grad), 1e-10)
    check_close("dbeta", dbeta, tn(bt.grad), 1e-10)

    def f(xx, gg, bb):
        return spatial_batchnorm_forward(xx, gg, bb, {"mode": "train"})[0]

    dx_num = eval_numerical_gradient_array(lambda a: f(a, gamma, beta), x, dout)
    dg_num = eval_numerical_gradient_array(lambda a: f(x, a, beta), gamma, dout)
    db_num = eval_numerical_gradient_array(lambda a: f(x, gamma, a), beta, dout)
    check_close("dx", dx, dx_num, 1e-6)
    check_close("dgamma", dgamma, dg_num, 1e-8)
    check_close("dbeta", dbeta, db_num, 1e-8)


@pytest.mark.parametrize(
    "x_shape, C, bn_param, match",
    [
        ((2, 3, 4), 3, {"mode": "train"}, "4-D"),
        ((2, 3, 4, 4), 4, {"mode": "train"}, "gamma"),
        ((2, 3, 4, 4), 3, {"mode": "eval"}, "mode"),
    ],
)
def test_spatial_batchnorm_rejects_bad_input(x_shape, C, bn_param, match):
    with pytest.raises(ValueError, match=match):
        spatial_batchnorm_forward(np.zeros(x_shape), np.ones(C), np.zeros(C), bn_param)


# --------------------------------------------------------------------------- spatial groupnorm


@pytest.mark.parametrize("C, G", [(6, 1), (6, 2), (6, 3), (6, 6), (4, 2)])
def test_spatial_groupnorm_matches_torch(rng, C, G):
    N, H, W = 3, 4, 5
    x = 3 * rng.standard_normal((N, C, H, W)) - 2
    gamma = rng.standard_normal((1, C, 1, 1))
    beta = rng.standard_normal((1, C, 1, 1))
    out, cache = spatial_groupnorm_forward(x, gamma, beta, G, {"eps": 1e-4})
    xt, gt, bt = tt(x), tt(gamma.reshape(C)), tt(beta.reshape(C))
    ref = F.group_norm(xt, G, gt, bt, eps=1e-4)
    check_close("out", out, tn(ref), 1e-10)

    dout = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    ref.backward(torch.from_numpy(dout))
    assert dgamma.shape == dbeta.shape == (1, C, 1, 1)
    check_close("dx", dx, tn(xt.grad), 1e-8)
    check_close("dgamma.reshape(C)", dgamma.reshape(C), tn(gt.grad), 1e-10)
    check_close("dbeta.reshape(C)", dbeta.reshape(C), tn(bt.grad), 1e-10)


def test_spatial_groupnorm_backward_numerical(rng):
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 5 * rng.standard_normal((N, C, H, W)) + 12
    gamma = rng.standard_normal((1, C, 1, 1))
    beta = rng.standard_normal((1, C, 1, 1))
    out, cache = spatial_groupnorm_forward(x, gamma, beta, G, {})
    dout = rng.standard_normal(out.shape)
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)

    def f(xx, gg, bb):
        return spatial_groupnorm_forward(xx, gg, bb, G, {})[0]

    dx_num = eval_numerical_gradient_array(lambda a: f(a, gamma, beta), x, dout)
    dg_num = eval_numerical_gradient_array(lambda a: f(x, a, beta), gamma, dout)
    db_num = eval_numerical_gradient_array(lambda a: f(x, gamma, a), beta, dout)
    check_close("dx", dx, dx_num, 1e-6)
    check_close("dgamma", dgamma, dg_num, 1e-8)
    check_close("dbeta", dbeta, db_num, 1e-8)


def test_spatial_groupnorm_float32_and_inputs_untouched(rng):
    x = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    gamma = np.ones((1, 4, 1, 1), dtype=np.float32)
    beta = np.zeros((1, 4, 1, 1), dtype=np.float32)
    saved = x.copy()
    out, cache = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    dx, dgamma, dbeta = spatial_groupnorm_backward(np.ones_like(out), cache)
    assert {a.dtype for a in (out, dx, dgamma, dbeta)} == {np.dtype(np.float32)}
    assert_equal(x, saved)


@pytest.mark.parametrize(
    "C, G, gamma_shape, match",
    [
        (6, 4, (1, 6, 1, 1), "G must divide"),
        (6, 0, (1, 6, 1, 1), "G must be"),
        (6, 2, (6,), "gamma must have shape"),
        (6, 2, (1, 4, 1, 1), "gamma must have shape"),
    ],
)
def test_spatial_groupnorm_rejects_bad_input(C, G, gamma_shape, match):
    x = np.zeros((2, C, 3, 3))
    with pytest.raises(ValueError, match=match):
        spatial_groupnorm_forward(x, np.ones(gamma_shape), np.zeros((1, C, 1, 1)), G, {})


# --------------------------------------------------------------------------- conv sandwiches

SANDWICH_CONV = {"stride": 1, "pad": 1}
SANDWICH_POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def sandwich_inputs(rng):
    x = rng.standard_normal((3, 2, 6, 8))
    w = rng.standard_normal((4, 2, 3, 3))
    b = rng.standard_normal(4)
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    return x, w, b, gamma, beta


@pytest.mark.parametrize("norm", [False, True], ids=["conv_relu", "conv_bn_relu"])
@pytest.mark.parametrize("pool", [False, True], ids=["", "pool"])
def test_conv_sandwiches_match_torch(rng, norm, pool):
    x, w, b, gamma, beta = sandwich_inputs(rng)
    ours = [x, w, b]
    if norm and pool:
        out, cache = conv_bn_relu_pool_forward(
            x, w, b, gamma, beta, SANDWICH_CONV, {"mode": "train"}, SANDWICH_POOL
        )
    elif norm:
        out, cache = conv_bn_relu_forward(x, w, b, gamma, beta, SANDWICH_CONV, {"mode": "train"})
    elif pool:
        out, cache = conv_relu_pool_forward(x, w, b, SANDWICH_CONV, SANDWICH_POOL)
    else:
        out, cache = conv_relu_forward(x, w, b, SANDWICH_CONV)

    xt, wt, bt, gt, betat = (tt(a) for a in (x, w, b, gamma, beta))
    ref = F.conv2d(xt, wt, bt, padding=1)
    if norm:
        ref = F.batch_norm(ref, None, None, gt, betat, training=True)
        ours += [gamma, beta]
    ref = F.relu(ref)
    if pool:
        ref = F.max_pool2d(ref, 2, 2)
    assert out.shape == ref.shape
    check_close("out", out, tn(ref), 1e-10)

    dout = rng.standard_normal(out.shape)
    backward = {
        (False, False): conv_relu_backward,
        (True, False): conv_bn_relu_backward,
        (False, True): conv_relu_pool_backward,
        (True, True): conv_bn_relu_pool_backward,
    }[norm, pool]
    grads = backward(dout, cache)
    ref.backward(torch.from_numpy(dout))
    expected = [xt.grad, wt.grad, bt.grad] + ([gt.grad, betat.grad] if norm else [])
    assert len(grads) == len(expected)
    for name, g, e in zip(("dx", "dw", "db", "dgamma", "dbeta"), grads, expected, strict=False):
        if norm and name == "db":  # a bias right before a batchnorm cannot change the output
            assert np.abs(g).max() < 1e-12 and np.abs(tn(e)).max() < 1e-12
        else:
            check_close(name, g, tn(e), 1e-8)
