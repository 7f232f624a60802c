"""Q2 normalization: batch normalization (both backward passes) and layer normalization.

Torch's ``F.batch_norm`` and ``F.layer_norm`` in float64 are the oracles. Two conventions
differ from ours and are accounted for: torch's ``momentum`` is our ``1 - momentum``, and
torch keeps the *unbiased* batch variance in ``running_var`` while we keep the biased one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_close, assert_equal, tn, tt

from cs231n.gradient_check import eval_numerical_gradient_array
from cs231n.layers import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
)

pytestmark = pytest.mark.q2

EXACT = {"rtol": 1e-9, "atol": 1e-12}
NUMERIC = {"rtol": 1e-6, "atol": 1e-8}
BACKWARDS = [batchnorm_backward, batchnorm_backward_alt]


def _inputs(rng, N=8, D=5):
    x = rng.normal(loc=3.0, scale=2.0, size=(N, D))
    gamma = rng.normal(loc=1.0, scale=0.5, size=D)
    beta = rng.normal(size=D)
    dout = rng.normal(size=(N, D))
    return x, gamma, beta, dout


# ----------------------------------------------------------------------------- batchnorm forward


def test_batchnorm_train_output_has_beta_mean_and_gamma_std(rng):
    x, gamma, beta, _ = _inputs(rng, N=200, D=4)
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert_close(out.mean(axis=0), beta, atol=1e-10)
    assert_close(out.std(axis=0), np.abs(gamma), rtol=1e-4)


def test_batchnorm_creates_running_stats_as_zeros(rng):
    x, gamma, beta, _ = _inputs(rng)
    bn_param = {"mode": "train"}
    batchnorm_forward(x, gamma, beta, bn_param)
    assert bn_param["running_mean"].shape == bn_param["running_var"].shape == (x.shape[1],)
    assert_close(bn_param["running_mean"], 0.1 * x.mean(axis=0), **EXACT)
    assert_close(bn_param["running_var"], 0.1 * x.var(axis=0), **EXACT)

    test_param = {"mode": "test"}
    out, _ = batchnorm_forward(x, gamma, beta, test_param)
    assert_equal(test_param["running_mean"], np.zeros(x.shape[1]))
    assert_equal(test_param["running_var"], np.zeros(x.shape[1]))
    assert_close(out, gamma * x / np.sqrt(1e-5) + beta, **EXACT)


@pytest.mark.parametrize(("momentum", "eps"), [(None, None), (0.7, 1e-3)])
def test_batchnorm_train_forward_and_running_stats(rng, momentum, eps):
    x, gamma, beta, _ = _inputs(rng)
    D = x.shape[1]
    mean0, var0 = rng.normal(size=D), rng.uniform(0.5, 2.0, size=D)
    bn_param = {"mode": "train", "running_mean": mean0.copy(), "running_var": var0.copy()}
    if momentum is not None:
        bn_param |= {"momentum": momentum, "eps": eps}
    momentum, eps = bn_param.get("momentum", 0.9), bn_param.get("eps", 1e-5)
    x0 = x.copy()

    out, _ = batchnorm_forward(x, gamma, beta, bn_param)

    torch_mean, torch_var = torch.from_numpy(mean0.copy()), torch.from_numpy(var0.copy())
    out_t = F.batch_norm(
        torch.from_numpy(x),
        torch_mean,
        torch_var,
        torch.from_numpy(gamma),
        torch.from_numpy(beta),
        training=True,
        momentum=1 - momentum,
        eps=eps,
    )
    assert_close(out, out_t.numpy(), **EXACT)
    assert_close(bn_param["running_mean"], torch_mean.numpy(), **EXACT)
    expected_var = momentum * var0 + (1 - momentum) * x.var(axis=0)  # biased variance
    assert_close(bn_param["running_var"], expected_var, **EXACT)
    assert not np.allclose(expected_var, torch_var.numpy())  # torch's unbiased one differs
    assert_equal(x, x0)


def test_batchnorm_test_forward_uses_running_stats(rng):
    x, gamma, beta, _ = _inputs(rng)
    D = x.shape[1]
    mean, var = rng.normal(size=D), rng.uniform(0.5, 2.0, size=D)
    bn_param = {"mode": "test", "running_mean": mean.copy(), "running_var": var.copy()}

    out, _ = batchnorm_forward(x, gamma, beta, bn_param)

    out_t = F.batch_norm(
        *map(torch.from_numpy, (x, mean, var, gamma, beta)), training=False, eps=1e-5
    )
    assert_close(out, out_t.numpy(), **EXACT)
    assert_equal(bn_param["running_mean"], mean)  # untouched
    assert_equal(bn_param["running_var"], var)


def test_batchnorm_running_stats_converge(rng):
    """After many training batches, test mode normalizes fresh data from the same source."""
    D = 3
    gamma, beta = np.ones(D), np.zeros(D)
    bn_param = {"mode": "train"}
    loc, scale = np.array([5.0, -2.0, 0.0]), np.array([3.0, 0.5, 1.0])
    for _ in range(100):
        batchnorm_forward(rng.normal(loc, scale, size=(64, D)), gamma, beta, bn_param)
    bn_param["mode"] = "test"
    out, _ = batchnorm_forward(rng.normal(loc, scale, size=(2000, D)), gamma, beta, bn_param)
    assert_close(out.mean(axis=0), 0.0, atol=0.1)
    assert_close(out.std(axis=0), 1.0, atol=0.1)


def test_batchnorm_keeps_float32(rng):
    x, gamma, beta, dout = (a.astype(np.float32) for a in _inputs(rng))
    bn_param = {"mode": "train"}
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    assert out.dtype == np.float32 and bn_param["running_var"].dtype == np.float32
    assert all(g.dtype == np.float32 for g in batchnorm_backward_alt(dout, cache))


@pytest.mark.parametrize("bn_param", [{"mode": "eval"}, {"mode": "Train"}, {}])
def test_batchnorm_rejects_bad_mode(rng, bn_param):
    x, gamma, beta, _ = _inputs(rng)
    with pytest.raises(ValueError, match="mode"):
        batchnorm_forward(x, gamma, beta, bn_param)


def test_batchnorm_rejects_mismatched_gamma(rng):
    x, gamma, beta, _ = _inputs(rng)
    with pytest.raises(ValueError, match="gamma"):
        batchnorm_forward(x, gamma[:-1], beta, {"mode": "train"})


# ----------------------------------------------------------------------------- batchnorm backward


@pytest.mark.parametrize("backward", BACKWARDS)
def test_batchnorm_backward_matches_torch(rng, backward):
    x, gamma, beta, dout = _inputs(rng)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = backward(dout, cache)

    xt, gt, bt = tt(x), tt(gamma), tt(beta)
    F.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5).backward(tt(dout, grad=False))
    assert_close(dx, tn(xt.grad), **EXACT)
    assert_close(dgamma, tn(gt.grad), **EXACT)
    assert_close(dbeta, tn(bt.grad), **EXACT)


def test_batchnorm_backward_matches_numeric_gradient(rng):
    x, gamma, beta, dout = _inputs(rng, N=4, D=3)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

    def f(x_, gamma_, beta_):
        return batchnorm_forward(x_, gamma_, beta_, {"mode": "train"})[0]

    assert_close(dx, eval_numerical_gradient_array(lambda v: f(v, gamma, beta), x, dout), **NUMERIC)
    assert_close(
        dgamma, eval_numerical_gradient_array(lambda v: f(x, v, beta), gamma, dout), **NUMERIC
    )
    assert_close(
        dbeta, eval_numerical_gradient_array(lambda v: f(x, gamma, v), beta, dout), **NUMERIC
    )


def test_batchnorm_backward_alt_equals_graph_version(rng):
    x, gamma, beta, dout = _inputs(rng, N=16, D=7)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    graph = batchnorm_backward(dout, cache)
    alt = batchnorm_backward_alt(dout, cache)
    for name, g, a in zip(("dx", "dgamma", "dbeta"), graph, alt, strict=True):
        assert_close(a, g, rtol=1e-10, atol=1e-12, err_msg=name)


class _CountingArray(np.ndarray):
    """An array that counts every ufunc call (elementwise op or reduction) it takes part
    in; results derived from it are counting arrays too."""

    calls = 0

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        _CountingArray.calls += 1
        inputs = tuple(np.asarray(a) if isinstance(a, _CountingArray) else a for a in inputs)
        if out is not None:
            kwargs["out"] = tuple(np.asarray(o) for o in out)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return result.view(_CountingArray) if isinstance(result, np.ndarray) else result


def _array_ops(backward, dout, cache) -> int:
    _CountingArray.calls = 0
    backward(dout.view(_CountingArray), cache)
    return _CountingArray.calls


def test_batchnorm_backward_alt_is_the_closed_form(rng):
    """No timing: the simplified backward takes fewer array operations on the upstream
    gradient than the node-by-node one, and its dx is the closed-form expression."""
    x, gamma, beta, dout = _inputs(rng, N=16, D=7)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert _array_ops(batchnorm_backward_alt, dout, cache) < _array_ops(
        batchnorm_backward, dout, cache
    )

    # dx = gamma / std * (dout - mean(dout) - xhat * mean(dout * xhat)), means over N.
    std = np.sqrt(x.var(axis=0) + 1e-5)
    xhat = (x - x.mean(axis=0)) / std
    closed_form = gamma / std * (dout - dout.mean(axis=0) - xhat * (dout * xhat).mean(axis=0))
    assert_close(batchnorm_backward_alt(dout, cache)[0], closed_form, **EXACT)


def test_batchnorm_constant_column_stays_finite(rng):
    x, gamma, beta, dout = _inputs(rng)
    x[:, 1] = 4.0  # zero batch variance: only eps keeps the division finite
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert_close(out[:, 1], beta[1], atol=1e-12)

    xt, gt, bt = tt(x), tt(gamma), tt(beta)
    F.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5).backward(tt(dout, grad=False))
    for backward in BACKWARDS:
        grads = backward(dout, cache)
        assert all(np.all(np.isfinite(g)) for g in grads)
        assert_close(grads[0], tn(xt.grad), rtol=1e-7, atol=1e-9)
        assert_close(grads[1], tn(gt.grad), rtol=1e-7, atol=1e-9)


# ----------------------------------------------------------------------------- layernorm


@pytest.mark.parametrize(("N", "eps"), [(6, None), (6, 1e-3), (1, None)])
def test_layernorm_matches_torch(rng, N, eps):
    x, gamma, beta, dout = _inputs(rng, N=N, D=7)
    ln_param = {} if eps is None else {"eps": eps}
    eps = ln_param.get("eps", 1e-5)
    x0 = x.copy()

    out, cache = layernorm_forward(x, gamma, beta, ln_param)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)

    xt, gt, bt = tt(x), tt(gamma), tt(beta)
    out_t = F.layer_norm(xt, (x.shape[1],), gt, bt, eps=eps)
    out_t.backward(tt(dout, grad=False))
    assert_close(out, tn(out_t), **EXACT)
    assert_close(dx, tn(xt.grad), **EXACT)
    assert_close(dgamma, tn(gt.grad), **EXACT)
    assert_close(dbeta, tn(bt.grad), **EXACT)
    assert_equal(x, x0)


def test_layernorm_backward_matches_numeric_gradient(rng):
    x, gamma, beta, dout = _inputs(rng, N=3, D=4)
    _, cache = layernorm_forward(x, gamma, beta, {})
    dx, dgamma, _ = layernorm_backward(dout, cache)
    assert_close(
        dx,
        eval_numerical_gradient_array(lambda v: layernorm_forward(v, gamma, beta, {})[0], x, dout),
        **NUMERIC,
    )
    assert_close(
        dgamma,
        eval_numerical_gradient_array(lambda v: layernorm_forward(x, v, beta, {})[0], gamma, dout),
        **NUMERIC,
    )


def test_layernorm_ignores_mode(rng):
    x, gamma, beta, _ = _inputs(rng)
    expected, _ = layernorm_forward(x, gamma, beta, {})
    for param in ({"mode": "train"}, {"mode": "test"}, {"mode": "anything", "momentum": 0.5}):
        out, _ = layernorm_forward(x, gamma, beta, param)
        assert_equal(out, expected)


def test_layernorm_constant_row_stays_finite(rng):
    x, gamma, beta, dout = _inputs(rng, N=4, D=6)
    x[2] = -1.5  # zero variance within the row
    out, cache = layernorm_forward(x, gamma, beta, {})
    assert_close(out[2], beta, atol=1e-12)

    xt = tt(x)
    F.layer_norm(xt, (6,), tt(gamma, grad=False), tt(beta, grad=False)).backward(
        tt(dout, grad=False)
    )
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    assert np.all(np.isfinite(dx)) and np.all(np.isfinite(dgamma))
    assert_close(dx, tn(xt.grad), rtol=1e-7, atol=1e-9)


def test_layernorm_rejects_mismatched_beta(rng):
    x, gamma, beta, _ = _inputs(rng)
    with pytest.raises(ValueError, match="beta"):
        layernorm_forward(x, gamma, beta[:2], {})
