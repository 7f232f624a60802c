"""Q4 models: ThreeLayerConvNet and DeepConvNet against a PyTorch model with the same
weights (float64 autograd), numerical gradients, and overfitting a tiny dataset."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_close, assert_equal, check_close, tn, tt

from cs231n.classifiers.cnn import DeepConvNet, ThreeLayerConvNet
from cs231n.gradient_check import eval_numerical_gradient
from cs231n.solver import Solver

pytestmark = pytest.mark.q4


def torch_params(model) -> dict[str, torch.Tensor]:
    return {name: tt(value) for name, value in model.params.items()}


def torch_loss(scores: torch.Tensor, y: np.ndarray, weights, reg: float) -> torch.Tensor:
    data_loss = F.cross_entropy(scores, torch.from_numpy(y))
    return data_loss + 0.5 * reg * sum((W * W).sum() for W in weights)


def assert_grads_match(grads: dict, params: dict[str, torch.Tensor], tol: float) -> None:
    assert grads.keys() == params.keys()
    for name, p in params.items():
        assert grads[name].shape == p.shape, name
        check_close(name, grads[name], tn(p.grad), tol)


def blobs(rng, N, C, H, W, num_classes=10):
    """Random images (N, C, H, W) with random labels; a net can still memorize a few."""
    X = rng.standard_normal((N, C, H, W))
    y = rng.integers(num_classes, size=N)
    return X, y


def overfit(model, X, y, learning_rate, epochs) -> Solver:
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": learning_rate},
        batch_size=len(X),
        num_epochs=epochs,
        verbose=False,
    )
    solver.train()
    return solver


# --------------------------------------------------------------------------- ThreeLayerConvNet


def three_layer_torch(p: dict[str, torch.Tensor], X: np.ndarray, pad: int) -> torch.Tensor:
    out = F.conv2d(tt(X, False), p["W1"], p["b1"], padding=pad)
    out = F.max_pool2d(F.relu(out), 2, 2).flatten(1)
    out = F.relu(out @ p["W2"] + p["b2"])
    return out @ p["W3"] + p["b3"]


def test_three_layer_dtype_and_global_seed(rng):
    X, y = blobs(rng, 4, 3, 8, 8)
    np.random.seed(5)  # noqa: NPY002 (weights and minibatches use the global RNG)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=2, filter_size=3, hidden_dim=4)
    np.random.seed(5)  # noqa: NPY002 (weights and minibatches use the global RNG)
    again = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=2, filter_size=3, hidden_dim=4)
    for name, value in model.params.items():
        assert value.dtype == np.float32, name
        assert_equal(value, again.params[name])
    loss, grads = model.loss(X, y)
    assert model.loss(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_three_layer_initial_loss_and_regularization(rng):
    X, y = blobs(rng, 20, 3, 16, 16)
    model = ThreeLayerConvNet(input_dim=(3, 16, 16), num_filters=8, hidden_dim=20)
    loss, _ = model.loss(X, y)
    assert abs(loss - np.log(10)) < 1e-3
    model.reg = 10.0
    loss_reg, _ = model.loss(X, y)
    weights = sum(float(np.sum(model.params[f"W{i}"] ** 2)) for i in (1, 2, 3))
    assert loss_reg == pytest.approx(loss + 5.0 * weights, rel=1e-5)


@pytest.mark.parametrize("filter_size", [3, 5])
def test_three_layer_matches_torch(rng, filter_size):
    np.random.seed(0)  # noqa: NPY002 (weights and minibatches use the global RNG)
    model = ThreeLayerConvNet(
        input_dim=(3, 8, 10),
        num_filters=4,
        filter_size=filter_size,
        hidden_dim=7,
        num_classes=5,
        weight_scale=0.3,
        reg=0.1,
        dtype=np.float64,
    )
    assert model.params["W1"].shape == (4, 3, filter_size, filter_size)
    assert model.params["W2"].shape == (4 * 4 * 5, 7)
    assert model.params["W3"].shape == (7, 5)
    assert [model.params[b].shape for b in ("b1", "b2", "b3")] == [(4,), (7,), (5,)]
    X, y = blobs(rng, 6, 3, 8, 10, num_classes=5)
    loss, grads = model.loss(X, y)
    scores = model.loss(X)

    p = torch_params(model)
    ref_scores = three_layer_torch(p, X, (filter_size - 1) // 2)
    ref_loss = torch_loss(ref_scores, y, [p["W1"], p["W2"], p["W3"]], reg=0.1)
    ref_loss.backward()
    check_close("scores", scores, tn(ref_scores), 1e-10)
    assert abs(loss - ref_loss.item()) < 1e-10
    assert_grads_match(grads, p, 1e-8)


def test_three_layer_numerical_gradients(rng):
    np.random.seed(231)  # noqa: NPY002 (weights and minibatches use the global RNG)
    X, y = blobs(rng, 2, 3, 8, 8)
    model = ThreeLayerConvNet(
        input_dim=(3, 8, 8),
        num_filters=3,
        filter_size=3,
        hidden_dim=7,
        weight_scale=1e-2,
        reg=0.3,
        dtype=np.float64,
    )
    loss, grads = model.loss(X, y)
    for name, param in model.params.items():
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param, verbose=False)
        check_close(name, num, grads[name], 1e-5)


def test_three_layer_overfits_tiny_dataset(rng):
    np.random.seed(0)  # noqa: NPY002 (weights and minibatches use the global RNG)
    X, y = blobs(rng, 25, 3, 8, 8)
    model = ThreeLayerConvNet(
        input_dim=(3, 8, 8), num_filters=8, filter_size=3, hidden_dim=50, weight_scale=0.1
    )
    solver = overfit(model, X, y, learning_rate=1e-2, epochs=40)
    assert solver.train_acc_history[0] < 0.5
    assert solver.train_acc_history[-1] == 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"input_dim": (3, 32)}, "input_dim"),
        ({"filter_size": 4}, "height"),  # pad 1 gives 31 x 31, which 2x2 pools do not tile
        ({"input_dim": (3, 9, 8), "filter_size": 3}, "height"),
        ({"num_filters": 0}, "num_filters"),
    ],
)
def test_three_layer_rejects_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ThreeLayerConvNet(**kwargs)


# --------------------------------------------------------------------------- DeepConvNet


def deep_torch(model: DeepConvNet, p: dict[str, torch.Tensor], X: np.ndarray) -> torch.Tensor:
    """The same net in PyTorch, batchnorm in train mode (batch statistics), no dropout."""
    out = tt(X, False)
    for i in range(1, model.num_conv_layers + 1):
        out = F.conv2d(out, p[f"W{i}"], p[f"b{i}"], padding=1)
        out = F.relu(F.batch_norm(out, None, None, p[f"gamma{i}"], p[f"beta{i}"], training=True))
        if model.pool_after[i - 1]:
            out = F.max_pool2d(out, 2, 2)
    out = out.flatten(1)
    for i in range(model.num_conv_layers + 1, model.num_layers):
        out = out @ p[f"W{i}"] + p[f"b{i}"]
        out = F.relu(F.batch_norm(out, None, None, p[f"gamma{i}"], p[f"beta{i}"], training=True))
    L = model.num_layers
    return out @ p[f"W{L}"] + p[f"b{L}"]


def small_deep(**kwargs) -> DeepConvNet:
    defaults = dict(
        input_dim=(3, 8, 8),
        stage_filters=[[3, 4], [5]],
        hidden_dims=[6],
        num_classes=4,
        dtype=np.float64,
        seed=0,
    )
    return DeepConvNet(**{**defaults, **kwargs})


def test_deep_parameters_and_bn_params():
    model = small_deep()
    assert model.num_layers == 5 and model.num_conv_layers == 3
    assert model.pool_after == [False, True, True]
    shapes = {name: value.shape for name, value in model.params.items()}
    assert shapes == {
        "W1": (3, 3, 3, 3), "b1": (3,), "gamma1": (3,), "beta1": (3,),
        "W2": (4, 3, 3, 3), "b2": (4,), "gamma2": (4,), "beta2": (4,),
        "W3": (5, 4, 3, 3), "b3": (5,), "gamma3": (5,), "beta3": (5,),
        "W4": (5 * 2 * 2, 6), "b4": (6,), "gamma4": (6,), "beta4": (6,),
        "W5": (6, 4), "b5": (4,),
    }  # fmt: skip
    assert len(model.bn_params) == 4
    # He initialization: std sqrt(2 / fan_in) per layer.
    big = DeepConvNet(stage_filters=[[64]], hidden_dims=[256], seed=1)
    assert big.params["W1"].std() == pytest.approx(np.sqrt(2 / 27), rel=0.1)
    assert big.params["W2"].std() == pytest.approx(np.sqrt(2 / (64 * 16 * 16)), rel=0.05)
    assert small_deep(weight_scale=1e-3).params["W2"].std() < 2e-3
    assert_equal(small_deep().params["W3"], small_deep().params["W3"])


def test_deep_initial_loss_dtype_and_inputs_untouched(rng):
    model = DeepConvNet(input_dim=(3, 16, 16), stage_filters=[[8], [8]], weight_scale=1e-3)
    X, y = blobs(rng, 10, 3, 16, 16)
    X32 = X.astype(np.float32)
    saved = X32.copy()
    loss, grads = model.loss(X32, y)
    assert abs(loss - np.log(10)) < 1e-2
    assert_equal(X32, saved)
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert all(g.dtype == np.float32 for g in grads.values())
    assert model.loss(X).dtype == np.float32


def test_deep_matches_torch_in_train_mode(rng):
    model = small_deep(reg=0.05)
    X, y = blobs(rng, 6, 3, 8, 8, num_classes=4)
    loss, grads = model.loss(X, y)

    p = torch_params(model)
    ref_scores = deep_torch(model, p, X)
    weights = [p[f"W{i}"] for i in range(1, model.num_layers + 1)]
    ref_loss = torch_loss(ref_scores, y, weights, reg=0.05)
    ref_loss.backward()
    assert abs(loss - ref_loss.item()) < 1e-10
    assert_grads_match(grads, p, 1e-7)


def test_deep_test_mode_uses_running_statistics(rng):
    model = small_deep(stage_filters=[[3]], hidden_dims=[])
    X, y = blobs(rng, 8, 3, 8, 8, num_classes=4)
    for _ in range(3):
        model.loss(X + rng.standard_normal(X.shape), y)
    scores = model.loss(X)
    assert all(bn["mode"] == "test" for bn in model.bn_params)

    p = torch_params(model)
    bn = model.bn_params[0]
    out = F.conv2d(tt(X, False), p["W1"], p["b1"], padding=1)
    out = F.batch_norm(
        out, tt(bn["running_mean"], False), tt(bn["running_var"], False),
        p["gamma1"], p["beta1"], training=False,
    )  # fmt: skip
    ref = F.max_pool2d(F.relu(out), 2, 2).flatten(1) @ p["W2"] + p["b2"]
    check_close("scores", scores, tn(ref), 1e-10)
    assert not np.allclose(scores, tn(deep_torch(model, p, X)))


def test_deep_numerical_gradients_with_dropout(rng):
    model = small_deep(dropout_keep_ratio=0.7, reg=0.1)
    model.dropout_param["seed"] = 3  # the same mask in every forward pass
    X, y = blobs(rng, 5, 3, 8, 8, num_classes=4)
    loss, grads = model.loss(X, y)
    for name, param in model.params.items():
        num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param, verbose=False)
        if re.fullmatch(r"b\d+", name) and name != f"b{model.num_layers}":
            # A bias right before a batchnorm cannot change the loss.
            assert np.abs(grads[name]).max() < 1e-12 and np.abs(num).max() < 1e-8, name
        else:
            # atol: a channel that the ReLUs and pools cut off has gradient 0, and there
            # the centered difference returns rounding noise (~1e-11), not a relative match.
            assert_close(num, grads[name], rtol=1e-5, atol=1e-9, err_msg=name)


def test_deep_overfits_tiny_dataset(rng):
    np.random.seed(0)  # noqa: NPY002 (weights and minibatches use the global RNG)
    X, y = blobs(rng, 25, 3, 8, 8)
    model = DeepConvNet(input_dim=(3, 8, 8), stage_filters=[[8], [16]], hidden_dims=[32], seed=0)
    solver = overfit(model, X, y, learning_rate=1e-2, epochs=40)
    assert solver.train_acc_history[0] < 0.5
    assert solver.train_acc_history[-1] == 1.0


def test_deep_flips_only_training_images_and_keep_labels(rng):
    """flip_prob 1 mirrors every training image, each with its own label; scores never flip."""
    X, y = blobs(rng, 6, 3, 8, 8, num_classes=4)
    saved = X.copy()
    flipping, plain = small_deep(flip_prob=1.0), small_deep()
    loss, grads = flipping.loss(X, y)
    ref_loss, ref_grads = plain.loss(X[..., ::-1], y)
    assert_equal(X, saved)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for name, grad in grads.items():
        assert_close(grad, ref_grads[name], rtol=1e-10, atol=1e-12, err_msg=name)
    # Same running statistics now, so test-mode scores agree only if loss(X) does not flip.
    scores = flipping.loss(X)
    assert_close(scores, plain.loss(X), rtol=1e-12)
    assert not np.allclose(scores, plain.loss(X[..., ::-1]))


def test_deep_augment_mirrors_about_flip_prob_of_the_images(rng):
    model = small_deep(flip_prob=0.3, seed=4)
    X = rng.standard_normal((2000, 3, 2, 5))
    out = model.augment(X)
    same = np.all(out == X, axis=(1, 2, 3))
    mirrored = np.all(out == X[..., ::-1], axis=(1, 2, 3))
    assert np.all(same ^ mirrored)  # each image is itself or its mirror, never both
    assert mirrored.mean() == pytest.approx(0.3, abs=0.04)
    again = small_deep(flip_prob=0.3, seed=4).augment(X)
    assert_equal(out, again)  # the seed fixes the flips
    assert_equal(small_deep(flip_prob=0.3).params["W1"], small_deep().params["W1"])


class RecordingSolver(Solver):
    """A Solver that keeps, at every accuracy check, the val accuracy and a copy of the
    model's batchnorm running statistics."""

    def _record_accuracies(self, start: float) -> None:
        super()._record_accuracies(start)
        stats = [
            {k: v.copy() for k, v in bn.items() if k.startswith("running_")}
            for bn in self.model.bn_params
        ]
        self.snapshots.append((self.val_acc_history[-1], stats))


def test_solver_restores_best_batchnorm_statistics_with_flips(rng):
    """Training with flips must leave the model with the running statistics of the epoch
    whose parameters it restores (the best validation accuracy), not those of the last."""
    np.random.seed(1)  # noqa: NPY002 (the Solver's minibatches use the global RNG)
    X, y = blobs(rng, 40, 3, 8, 8, num_classes=4)
    X_val, y_val = blobs(rng, 40, 3, 8, 8, num_classes=4)  # random labels: val acc wanders
    model = small_deep(stage_filters=[[4]], hidden_dims=[], flip_prob=0.5)
    data = {"X_train": X, "y_train": y, "X_val": X_val, "y_val": y_val}
    solver = RecordingSolver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        batch_size=10,
        num_epochs=8,
        verbose=False,
    )
    solver.snapshots = []
    solver.train()

    accs = [acc for acc, _ in solver.snapshots]
    best = int(np.argmax(accs))
    assert best < len(accs) - 1, "the test needs a best epoch before the last one"
    best_stats, final_stats = solver.snapshots[best][1], solver.snapshots[-1][1]
    for bn, best_bn, last_bn in zip(model.bn_params, best_stats, final_stats, strict=True):
        for key in ("running_mean", "running_var"):
            assert not np.allclose(best_bn[key], last_bn[key]), key
            assert_equal(bn[key], best_bn[key], err_msg=key)
    assert solver.check_accuracy(X_val, y_val) == solver.best_val_acc


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"stage_filters": []}, "stage_filters"),
        ({"stage_filters": [[8], []]}, "stage_filters"),
        ({"stage_filters": [[8], [0]]}, r"stage_filters\[1\]"),
        ({"input_dim": (3, 12, 12), "stage_filters": [[4]] * 3}, "height"),  # 12 -> 6 -> 3
        ({"dropout_keep_ratio": 0}, "dropout_keep_ratio"),
        ({"hidden_dims": [10, -1]}, "hidden_dims"),
        ({"flip_prob": 1.5}, "flip_prob"),
        ({"flip_prob": float("nan")}, "flip_prob"),
        ({"flip_prob": "0.5"}, "flip_prob"),
    ],
)
def test_deep_rejects_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DeepConvNet(**kwargs)
