"""Q1 models: TwoLayerNet and FullyConnectedNet.

Loss and every gradient are compared with the same network written in PyTorch (float64
autograd) from the same weights, with no normalization, batchnorm, layernorm and
dropout; a numeric gradient check and an overfitting run complete the picture.

The cases with a normalization need BatchNormalization.ipynb's functions and carry the
marker q2; those with dropout need Dropout.ipynb's and carry q3 (see ``later`` in
conftest.py): ``pytest -m q1`` runs what FullyConnectedNets.ipynb alone makes pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_close, assert_equal, later, tn, tt

from cs231n.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from cs231n.gradient_check import eval_numerical_gradient
from cs231n.layers import dropout_forward

pytestmark = pytest.mark.q1

EXACT = {"rtol": 1e-9, "atol": 1e-12}
NUMERIC = {"rtol": 1e-5, "atol": 1e-8}
# Every normalization, for what __init__ alone does (FullyConnectedNets.ipynb writes it) ...
NORMALIZATIONS = [None, "batchnorm", "layernorm"]
# ... and for the loss, whose normalized cases need BatchNormalization.ipynb's sandwich.
NORMS = [None, *later("q2", "batchnorm", "layernorm")]
KEEPS = [1.0, *later("q3", 0.6)]  # dropout needs Dropout.ipynb's layer


def randomize_params(model, rng) -> None:
    """Non-trivial values for every parameter (biases, gammas and betas included)."""
    for name, value in model.params.items():
        scale = 0.3 if name.startswith("W") else 0.5
        new = rng.normal(scale=scale, size=value.shape)
        if name.startswith("gamma"):
            new += 1.0
        model.params[name] = new.astype(value.dtype)


def dropout_masks(model, N: int, hidden_dims) -> list[np.ndarray] | None:
    """The scaled keep masks the model's dropout layers draw for a batch of N.

    Each dropout layer reseeds from ``model.dropout_param['seed']``, so the mask of a
    layer of width H is what ``dropout_forward`` gives for ones of shape (N, H).
    """
    if not model.use_dropout:
        return None
    param = {**model.dropout_param, "mode": "train"}
    return [dropout_forward(np.ones((N, H)), dict(param))[0] for H in hidden_dims]


def torch_fc_loss(model, X, y, masks=None):
    """(loss, grads, scores) of ``model`` in train mode, recomputed with torch autograd."""
    params = {name: tt(value) for name, value in model.params.items()}
    L = model.num_layers
    h = tt(X, grad=False).reshape(X.shape[0], -1)
    for i in range(1, L):
        h = h @ params[f"W{i}"] + params[f"b{i}"]
        if model.normalization == "batchnorm":
            h = F.batch_norm(h, None, None, params[f"gamma{i}"], params[f"beta{i}"], True)
        elif model.normalization == "layernorm":
            h = F.layer_norm(h, h.shape[1:], params[f"gamma{i}"], params[f"beta{i}"])
        h = torch.relu(h)
        if masks is not None:
            h = h * tt(masks[i - 1], grad=False)
    scores = h @ params[f"W{L}"] + params[f"b{L}"]
    weights = [params[f"W{i}"] for i in range(1, L + 1)]
    loss = F.cross_entropy(scores, torch.from_numpy(y))
    loss = loss + 0.5 * model.reg * sum((W**2).sum() for W in weights)
    loss.backward()
    return loss.item(), {k: tn(v.grad) for k, v in params.items()}, tn(scores)


def _data(rng, N=6, D=8, C=5):
    return rng.normal(size=(N, D)), rng.integers(0, C, size=N)


# ----------------------------------------------------------------------------- TwoLayerNet


def test_two_layer_net_params():
    np.random.seed(0)  # noqa: NPY002 (the models draw weights from the global RNG)
    model = TwoLayerNet(input_dim=300, hidden_dim=200, num_classes=7, weight_scale=0.05, reg=0.3)
    shapes = {"W1": (300, 200), "b1": (200,), "W2": (200, 7), "b2": (7,)}
    assert {k: v.shape for k, v in model.params.items()} == shapes
    assert model.reg == 0.3
    assert abs(model.params["W1"].std() - 0.05) < 0.05 * 0.02
    assert abs(model.params["W1"].mean()) < 0.05 * 0.02
    assert np.all(model.params["b1"] == 0) and np.all(model.params["b2"] == 0)


def test_two_layer_net_default_dims():
    model = TwoLayerNet()
    assert model.params["W1"].shape == (3 * 32 * 32, 100)
    assert model.params["W2"].shape == (100, 10)
    assert model.reg == 0.0


def test_two_layer_net_initial_loss_is_log_c(rng):
    X, y = rng.normal(size=(20, 3 * 32 * 32)), rng.integers(0, 10, size=20)
    loss, _ = TwoLayerNet().loss(X, y)
    assert abs(loss - np.log(10)) < 1e-3


@pytest.mark.parametrize("reg", [0.0, 0.8])
def test_two_layer_net_matches_torch(rng, reg):
    X, y = rng.normal(size=(6, 2, 4)), rng.integers(0, 5, size=6)
    model = TwoLayerNet(input_dim=8, hidden_dim=7, num_classes=5, reg=reg)
    randomize_params(model, rng)
    X0 = X.copy()

    loss, grads = model.loss(X, y)
    scores = model.loss(X)

    params = {k: tt(v) for k, v in model.params.items()}
    h = torch.relu(tt(X, grad=False).reshape(6, -1) @ params["W1"] + params["b1"])
    scores_t = h @ params["W2"] + params["b2"]
    loss_t = F.cross_entropy(scores_t, torch.from_numpy(y))
    loss_t = loss_t + 0.5 * reg * ((params["W1"] ** 2).sum() + (params["W2"] ** 2).sum())
    loss_t.backward()

    assert_close(scores, tn(scores_t), **EXACT)
    assert_close(loss, loss_t.item(), **EXACT)
    assert grads.keys() == model.params.keys()
    for name, grad in grads.items():
        assert_close(grad, tn(params[name].grad), **EXACT, err_msg=name)
    assert_equal(X, X0)


def test_two_layer_net_numeric_gradient(rng):
    X, y = _data(rng, N=4, D=5, C=3)
    model = TwoLayerNet(input_dim=5, hidden_dim=6, num_classes=3, weight_scale=0.5, reg=0.4)
    _, grads = model.loss(X, y)
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param, verbose=False)
        assert_close(grads[name], numeric, **NUMERIC, err_msg=name)


# ----------------------------------------------------------------------------- FullyConnectedNet


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_fc_net_params_and_attributes(normalization):
    np.random.seed(0)  # noqa: NPY002 (the models draw weights from the global RNG)
    model = FullyConnectedNet(
        [200, 150], input_dim=400, num_classes=7, normalization=normalization, reg=0.2
    )
    expected = {"W1": (400, 200), "b1": (200,), "W2": (200, 150), "b2": (150,)}
    expected |= {"W3": (150, 7), "b3": (7,)}
    if normalization is not None:
        expected |= {"gamma1": (200,), "beta1": (200,), "gamma2": (150,), "beta2": (150,)}
    assert {k: v.shape for k, v in model.params.items()} == expected
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert model.num_layers == 3 and model.reg == 0.2 and model.dtype == np.float32
    assert model.use_dropout is False
    assert len(model.bn_params) == (0 if normalization is None else 2)
    assert all(isinstance(p, dict) for p in model.bn_params)

    W1 = model.params["W1"].astype(np.float64)
    assert abs(W1.std() - 1e-2) < 1e-2 * 0.02  # the default weight_scale
    assert abs(W1.mean()) < 1e-2 * 0.02
    for name, value in model.params.items():
        if name.startswith("b"):  # biases and betas
            assert np.all(value == 0), name
        elif name.startswith("gamma"):
            assert np.all(value == 1), name


@pytest.mark.parametrize("normalization", NORMS)
def test_fc_net_float64_and_input_cast(rng, normalization):
    model64 = FullyConnectedNet([6], input_dim=8, num_classes=5, dtype=np.float64)
    assert all(v.dtype == np.float64 for v in model64.params.values())

    model32 = FullyConnectedNet([6], input_dim=8, num_classes=5, normalization=normalization)
    X, y = _data(rng)  # float64 data into a float32 model
    loss, grads = model32.loss(X, y)
    assert np.isfinite(loss)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert model32.loss(X).dtype == np.float32
    if normalization == "batchnorm":
        assert model32.bn_params[0]["running_mean"].dtype == np.float32


@pytest.mark.parametrize("normalization", NORMS)
def test_fc_net_initial_loss_is_log_c(rng, normalization):
    # With a normalization the hidden units have unit scale, so the scores' spread (about
    # 1e-3 * sqrt(30)) moves the loss by up to a few 1e-3: the bound leaves room for that.
    np.random.seed(0)  # noqa: NPY002 (the models draw weights from the global RNG)
    X, y = rng.normal(size=(30, 50)), rng.integers(0, 10, size=30)
    model = FullyConnectedNet(
        [40, 30], input_dim=50, normalization=normalization, weight_scale=1e-3, dtype=np.float64
    )
    loss, _ = model.loss(X, y)
    assert abs(loss - np.log(10)) < 1e-2


@pytest.mark.parametrize("reg", [0.0, 0.7])
@pytest.mark.parametrize("keep", KEEPS)
@pytest.mark.parametrize("normalization", NORMS)
def test_fc_net_matches_torch(rng, normalization, keep, reg):
    hidden_dims = [7, 9, 6]
    X, y = _data(rng, N=6, D=8, C=5)
    model = FullyConnectedNet(
        hidden_dims,
        input_dim=8,
        num_classes=5,
        dropout_keep_ratio=keep,
        normalization=normalization,
        reg=reg,
        dtype=np.float64,
        seed=123,
    )
    randomize_params(model, rng)
    X0 = X.copy()

    loss, grads = model.loss(X, y)
    masks = dropout_masks(model, len(X), hidden_dims)
    loss_t, grads_t, _ = torch_fc_loss(model, X, y, masks)

    if keep < 1:  # the reference really drops units
        assert all(0 < np.count_nonzero(m) < m.size for m in masks)
    assert_close(loss, loss_t, **EXACT)
    assert grads.keys() == model.params.keys()
    for name, grad in grads.items():
        assert grad.shape == model.params[name].shape, name
        assert_close(grad, grads_t[name], **EXACT, err_msg=name)
    assert_equal(X, X0)


@pytest.mark.parametrize("normalization", NORMS)
def test_fc_net_numeric_gradient(rng, normalization):
    X, y = _data(rng, N=4, D=5, C=3)
    model = FullyConnectedNet(
        [6, 7],
        input_dim=5,
        num_classes=3,
        normalization=normalization,
        reg=0.3,
        weight_scale=0.5,
        dtype=np.float64,
    )
    _, grads = model.loss(X, y)
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param, verbose=False)
        assert_close(grads[name], numeric, **NUMERIC, err_msg=name)


def test_three_layer_net_overfits_small_data():
    """Plain full-batch SGD drives a 3-layer net to 100% accuracy on 50 random examples."""
    np.random.seed(0)  # noqa: NPY002 (the models draw weights from the global RNG)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 100)), rng.integers(0, 10, size=50)
    model = FullyConnectedNet([100, 100], input_dim=100, weight_scale=5e-2)
    for _ in range(300):
        _, grads = model.loss(X, y)
        for name in model.params:
            model.params[name] -= 0.1 * grads[name]
    accuracy = np.mean(model.loss(X).argmax(axis=1) == y)
    assert accuracy == 1.0


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("normalization", ["groupnorm", "BatchNorm", ""])
def test_fc_net_rejects_unknown_normalization(normalization):
    with pytest.raises(ValueError, match="normalization") as err:
        FullyConnectedNet([5], normalization=normalization)
    assert repr(normalization) in str(err.value)


@pytest.mark.parametrize("keep", [0, 1.5, -0.1])
def test_fc_net_rejects_bad_keep_ratio(keep):
    with pytest.raises(ValueError, match="dropout_keep_ratio"):
        FullyConnectedNet([5], dropout_keep_ratio=keep)


def test_fc_net_accepts_dropout_alias():
    model = FullyConnectedNet([5], dropout=0.25, seed=3)
    assert model.use_dropout
    assert model.dropout_param["p"] == 0.25 and model.dropout_param["seed"] == 3
    assert not FullyConnectedNet([5], dropout=1).use_dropout
    with pytest.raises(ValueError, match="not both"):
        FullyConnectedNet([5], dropout_keep_ratio=0.5, dropout=0.25)


# ----------------------------------------------------------------------------- test mode


@pytest.mark.q3  # batchnorm and dropout
def test_fc_net_test_mode_uses_running_stats(rng):
    X, y = _data(rng, N=10, D=8, C=5)
    model = FullyConnectedNet(
        [7, 6],
        input_dim=8,
        num_classes=5,
        normalization="batchnorm",
        dropout_keep_ratio=0.5,
        dtype=np.float64,
    )
    randomize_params(model, rng)
    model.loss(X, y)  # one training step fills the running statistics
    running = [{k: p[k].copy() for k in ("running_mean", "running_var")} for p in model.bn_params]
    assert all(np.any(r["running_mean"] != 0) for r in running)

    scores = model.loss(X)
    assert isinstance(scores, np.ndarray) and scores.shape == (10, 5)
    assert all(p["mode"] == "test" for p in model.bn_params)
    assert model.dropout_param["mode"] == "test"
    for p, r in zip(model.bn_params, running, strict=True):  # test mode leaves the statistics alone
        assert_equal(p["running_mean"], r["running_mean"])
        assert_equal(p["running_var"], r["running_var"])
    assert_equal(model.loss(X), scores)  # no dropout at test time

    h = torch.from_numpy(X)
    for i, r in enumerate(running, start=1):
        h = h @ torch.from_numpy(model.params[f"W{i}"]) + torch.from_numpy(model.params[f"b{i}"])
        gamma, beta = (torch.from_numpy(model.params[f"{k}{i}"]) for k in ("gamma", "beta"))
        mean, var = torch.from_numpy(r["running_mean"]), torch.from_numpy(r["running_var"])
        h = torch.relu(F.batch_norm(h, mean, var, gamma, beta, training=False, eps=1e-5))
    expected = h.numpy() @ model.params["W3"] + model.params["b3"]
    assert_close(scores, expected, **EXACT)

    model.loss(X, y)
    assert all(p["mode"] == "train" for p in model.bn_params)
    assert model.dropout_param["mode"] == "train"
