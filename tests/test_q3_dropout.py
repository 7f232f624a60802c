"""Q3 dropout: the inverted dropout layer and dropout inside FullyConnectedNet.

``p`` is the probability of **keeping** a unit. The net's dropout is compared with a torch
float64 network that multiplies by the very masks the layer draws.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_close, assert_equal, tn, tt

from cs231n.classifiers.fc_net import FullyConnectedNet
from cs231n.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from cs231n.layers import dropout_backward, dropout_forward

pytestmark = pytest.mark.q3

EXACT = {"rtol": 1e-9, "atol": 1e-12}
NUMERIC = {"rtol": 1e-5, "atol": 1e-8}


def _train(p: float, seed: int | None = 0) -> dict:
    param = {"mode": "train", "p": p}
    if seed is not None:
        param["seed"] = seed
    return param


# ----------------------------------------------------------------------------- the layer


@pytest.mark.parametrize("p", [0.25, 0.4, 0.7, 1.0])
def test_dropout_keeps_fraction_p_and_scales_by_1_over_p(rng, p):
    x = rng.uniform(1.0, 2.0, size=(500, 1000))  # no zeros of its own
    x0 = x.copy()
    out, _ = dropout_forward(x, _train(p))
    kept = out != 0
    assert abs(kept.mean() - p) < 0.005
    assert_close(out[kept], x[kept] / p, rtol=1e-12)
    assert_close(out.mean(), x.mean(), rtol=0.01)  # expectation preserved
    assert_equal(x, x0)


@pytest.mark.parametrize("p", [0.3, 1.0])
def test_dropout_test_mode_is_identity(rng, p):
    x = rng.normal(size=(20, 30))
    out, cache = dropout_forward(x, {"mode": "test", "p": p})
    assert_equal(out, x)
    dout = rng.normal(size=x.shape)
    assert_equal(dropout_backward(dout, cache), dout)


def test_dropout_seed_makes_masks_reproducible(rng):
    x = rng.normal(size=(50, 40))
    first, _ = dropout_forward(x, _train(0.5, seed=7))
    again, _ = dropout_forward(x, _train(0.5, seed=7))
    other, _ = dropout_forward(x, _train(0.5, seed=8))
    assert_equal(first, again)
    assert np.any(first != other)
    # Without a seed the layer draws from numpy's global RNG.
    np.random.seed(3)  # noqa: NPY002
    unseeded, _ = dropout_forward(x, _train(0.5, seed=None))
    assert_equal(unseeded, dropout_forward(x, _train(0.5, seed=3))[0])


@pytest.mark.parametrize("mode", ["train", "test"])
def test_dropout_preserves_float32(rng, mode):
    x = rng.normal(size=(10, 12)).astype(np.float32)
    out, cache = dropout_forward(x, {"mode": mode, "p": 0.6, "seed": 1})
    assert out.dtype == np.float32
    dx = dropout_backward(np.ones_like(x), cache)
    assert dx.dtype == np.float32


def test_dropout_backward_uses_the_forward_mask(rng):
    x = rng.uniform(1.0, 2.0, size=(30, 40))
    dout = rng.normal(size=x.shape)
    out, cache = dropout_forward(x, _train(0.6, seed=5))
    dx = dropout_backward(dout, cache)

    mask = out / x  # 0 or 1/p, as drawn by the forward pass
    xt = tt(x)
    (xt * tt(mask, grad=False)).backward(tt(dout, grad=False))
    assert_close(dx, tn(xt.grad), **EXACT)
    assert np.all(dx[out == 0] == 0)

    # With the seed fixed the forward is deterministic, so centred differences apply.
    numeric = eval_numerical_gradient_array(
        lambda v: dropout_forward(v, _train(0.6, seed=5))[0], x[:4, :5].copy(), dout[:4, :5]
    )
    out_small, cache_small = dropout_forward(x[:4, :5], _train(0.6, seed=5))
    assert_close(dropout_backward(dout[:4, :5], cache_small), numeric, **NUMERIC)
    assert np.any(out_small == 0) and np.any(out_small != 0)


@pytest.mark.parametrize("p", [0, 1.5, -0.1, None])
def test_dropout_rejects_p_outside_0_1(rng, p):
    with pytest.raises(ValueError, match="p"):
        dropout_forward(rng.normal(size=(3, 4)), {"mode": "train", "p": p})


def test_dropout_rejects_bad_mode(rng):
    with pytest.raises(ValueError, match="mode"):
        dropout_forward(rng.normal(size=(3, 4)), {"mode": "eval", "p": 0.5})


# ----------------------------------------------------------------------------- inside the net


def _net(keep: float, seed: int | None = 42, reg: float = 0.2) -> FullyConnectedNet:
    np.random.seed(0)  # noqa: NPY002 (the net draws its weights from the global RNG)
    return FullyConnectedNet(
        [9, 7],
        input_dim=6,
        num_classes=4,
        dropout_keep_ratio=keep,
        reg=reg,
        weight_scale=0.5,
        dtype=np.float64,
        seed=seed,
    )


def _data(rng, N=5):
    return rng.normal(size=(N, 6)), rng.integers(0, 4, size=N)


def test_fc_net_dropout_matches_torch(rng):
    model = _net(keep=0.5)
    X, y = _data(rng)
    loss, grads = model.loss(X, y)

    # Every dropout layer reseeds from the same seed: its mask is what the layer draws
    # for a batch of ones of that width.
    masks = [dropout_forward(np.ones((len(X), H)), _train(0.5, seed=42))[0] for H in (9, 7)]
    assert all(0 < np.count_nonzero(m) < m.size for m in masks)
    params = {k: tt(v) for k, v in model.params.items()}
    h = tt(X, grad=False)
    for i, mask in enumerate(masks, start=1):
        h = torch.relu(h @ params[f"W{i}"] + params[f"b{i}"]) * tt(mask, grad=False)
    scores = h @ params["W3"] + params["b3"]
    loss_t = F.cross_entropy(scores, torch.from_numpy(y))
    loss_t = loss_t + 0.5 * model.reg * sum((params[f"W{i}"] ** 2).sum() for i in (1, 2, 3))
    loss_t.backward()

    assert_close(loss, loss_t.item(), **EXACT)
    for name, grad in grads.items():
        assert_close(grad, tn(params[name].grad), **EXACT, err_msg=name)


@pytest.mark.parametrize("keep", [1.0, 0.75, 0.5])
def test_fc_net_dropout_numeric_gradient(rng, keep):
    model = _net(keep=keep)
    X, y = _data(rng, N=3)
    _, grads = model.loss(X, y)
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param, verbose=False)
        assert_close(grads[name], numeric, **NUMERIC, err_msg=name)


def test_fc_net_dropout_seed_and_modes(rng):
    X, y = _data(rng, N=20)
    dropped = _net(keep=0.5, seed=1)
    assert dropped.use_dropout and dropped.dropout_param == {"mode": "train", "p": 0.5, "seed": 1}
    full = _net(keep=1.0)
    assert not full.use_dropout

    # Same seed, same masks; another seed, other masks.
    assert dropped.loss(X, y)[0] == dropped.loss(X, y)[0]
    assert _net(keep=0.5, seed=2).loss(X, y)[0] != dropped.loss(X, y)[0]
    assert dropped.loss(X, y)[0] != full.loss(X, y)[0]

    # Test mode turns dropout off: the same weights give the same scores as without it.
    scores = dropped.loss(X)
    assert dropped.dropout_param["mode"] == "test"
    assert_equal(scores, full.loss(X))
    dropped.loss(X, y)
    assert dropped.dropout_param["mode"] == "train"
