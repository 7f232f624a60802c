"""The case table: what is graded, for how many points, on which inputs, how strictly.

Each case names a program in ``programs.py`` (the calls), the question and function it
grades, its points, and an input generator. Inputs are drawn from a generator seeded per
grading run, so shapes and values change from run to run; a submission that hard-codes the
notebooks' fixed values gains nothing. A case's points are split equally over the outputs
its program returns (or by ``weights``), which is the partial credit inside a function.

Outputs are compared with ``error = max|actual - expected| / max|expected|`` (relative to
the reference's scale, so that entries near zero do not blow up) against ``rel``
tolerances, or with ``max|actual - expected|`` against ``abs`` tolerances for statistics
of random draws (dropout masks, initial weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

QUESTIONS = {
    1: ("Q1", "fully connected nets", 16),
    2: ("Q2", "batch normalization", 34),
    3: ("Q3", "dropout", 10),
    4: ("Q4", "convolutional networks", 30),
    5: ("Q5", "PyTorch / TensorFlow", 10),
}
DEFAULT_TOLERANCE = ("rel", 1e-6)


@dataclass(frozen=True)
class Case:
    program: str  # a function in programs.py; also the case's id
    question: int
    function: str  # what the feedback names, e.g. "batchnorm_backward"
    points: float
    inputs: Callable[[np.random.Generator], dict]
    shape_of: str = "x"  # the input whose shape the feedback quotes
    tolerances: dict = field(default_factory=dict)  # output -> ("rel" | "abs", tol)
    weights: dict = field(default_factory=dict)  # output -> share of the points

    def tolerance(self, output: str) -> tuple[str, float]:
        return self.tolerances.get(output, DEFAULT_TOLERANCE)


def compare(actual, expected: np.ndarray, kind: str, tol: float) -> tuple[bool, str, float]:
    """(matches, what is wrong, error) for one output; "" for values that differ by error."""
    if actual is None:
        return False, "is missing", np.inf
    a = np.asarray(actual)
    if a.dtype.kind not in "biuf":
        return False, f"is not numeric (dtype {a.dtype})", np.inf
    if a.shape != expected.shape:
        if a.size == expected.size and a.squeeze().shape == expected.squeeze().shape:
            a = a.reshape(expected.shape)
        else:
            return False, f"has shape {a.shape}, expected {expected.shape}", np.inf
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        return False, "contains NaN or inf", np.inf
    e = expected.astype(np.float64)
    diff = float(np.max(np.abs(a - e))) if a.size else 0.0
    error = diff
    if kind == "rel":
        error = diff / max(1e-8, float(np.max(np.abs(e))) if e.size else 0.0)
    return error <= tol, "", error


@dataclass
class CaseResult:
    """The points one case earned, and its feedback (empty when full marks)."""

    case: Case
    earned: float
    feedback: str  # empty when full marks
    mistake: str = ""  # the known mistake recognized in the answer (recognize.py), if any

    @property
    def question(self) -> int:
        return self.case.question


def _n(rng, lo, hi) -> int:
    return int(rng.integers(lo, hi + 1))


def _normal(rng, *shape, loc=0.0, scale=1.0):
    return rng.normal(loc, scale, size=shape)


# ----------------------------------------------------------------------------------- Q1


def _affine(rng):
    N, dims, M = _n(rng, 3, 6), (_n(rng, 2, 4), _n(rng, 2, 4)), _n(rng, 3, 7)
    D = dims[0] * dims[1]
    return {
        "x": _normal(rng, N, *dims),
        "w": _normal(rng, D, M),
        "b": _normal(rng, M),
        "dout": _normal(rng, N, M),
    }


def _relu(rng):
    shape = (_n(rng, 3, 6), _n(rng, 4, 8))
    return {"x": _normal(rng, *shape), "dout": _normal(rng, *shape)}


def _scores(rng):
    N, C = _n(rng, 20, 40), _n(rng, 4, 10)
    return {"x": _normal(rng, N, C), "y": rng.integers(0, C, size=N)}


def _seed(rng) -> int:
    """A seed for numpy's global RNG, set before a model draws its initial weights: a
    student's draws and a catalogued mistake's (recognize.py) are then the same numbers."""
    return _n(rng, 0, 2**31 - 1)


def _two_layer_init(rng):
    dims = {"D": _n(rng, 150, 250), "H": _n(rng, 40, 60), "C": 10}
    return {**dims, "weight_scale": 0.1, "seed": _seed(rng)}


def _net_data(rng, dims):
    N = _n(rng, 5, 9)
    a = {"X": _normal(rng, N, dims[0]), "y": rng.integers(0, dims[-1], size=N)}
    for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), start=1):
        a[f"W{i}"] = _normal(rng, fan_in, fan_out, scale=0.5)
        a[f"b{i}"] = _normal(rng, fan_out, scale=0.2)
    a["reg"] = rng.uniform(0.3, 1.0)
    a["num_layers"] = len(dims) - 1
    return a


def _two_layer_loss(rng):
    return _net_data(rng, [_n(rng, 4, 8), _n(rng, 5, 9), _n(rng, 3, 5)])


def _fc_init(rng):
    dims = {"D": _n(rng, 150, 250), "H1": _n(rng, 40, 60), "H2": _n(rng, 30, 50), "C": 10}
    return {**dims, "weight_scale": 0.05, "seed": _seed(rng)}


def _fc_loss(rng):
    return _net_data(rng, [_n(rng, 4, 8), _n(rng, 5, 9), _n(rng, 4, 7), _n(rng, 3, 5)])


def _rule(rng):
    shape = (_n(rng, 3, 5), _n(rng, 3, 5))
    return {
        "w": _normal(rng, *shape),
        "dw": _normal(rng, 3, *shape),
        "lr": rng.uniform(0.01, 0.1),
        "momentum": rng.uniform(0.5, 0.9),
        "decay": rng.uniform(0.9, 0.99),
        "v0": _normal(rng, *shape, scale=0.1),
        "cache0": rng.uniform(0.1, 1.0, size=shape),
        "m0": _normal(rng, *shape, scale=0.1),
        "t0": _n(rng, 2, 9),
    }


def _solver(rng):
    n = 4 * _n(rng, 20, 40)
    cut = rng.uniform(0.3, 0.6)
    X_train, X_val = rng.uniform(0, 1, size=(n, 1)), rng.uniform(0, 1, size=(n, 1))
    return {
        "X_train": X_train,
        "y_train": (X_train[:, 0] > cut).astype(np.int64),
        "X_val": X_val,
        "y_val": (X_val[:, 0] > cut).astype(np.int64),
        "target": rng.uniform(1.5, 2.0),
        "lr": rng.uniform(0.15, 0.25),
        "lr_decay": rng.uniform(0.8, 0.9),
        "batch_size": n // 4,
        "num_epochs": 4,
    }


# ----------------------------------------------------------------------------------- Q2


def _bn(rng, shape, channels):
    return {
        "x": _normal(rng, *shape, loc=rng.uniform(-3, 3), scale=rng.uniform(1, 3)),
        "x2": _normal(rng, *shape, loc=1.0, scale=2.0),
        "gamma": _normal(rng, channels, loc=1.0, scale=0.5),
        "beta": _normal(rng, channels),
        "dout": _normal(rng, *shape),
        "running_mean": _normal(rng, channels),
        "running_var": rng.uniform(0.5, 2.0, size=channels),
        "momentum": rng.uniform(0.7, 0.95),
        "eps": 10.0 ** rng.uniform(-5, -3),
    }


def _bn_rows(rng):
    N, D = _n(rng, 4, 8), _n(rng, 3, 7)
    return _bn(rng, (N, D), D)


def _fc_norm(rng):
    a = _fc_loss(rng)
    for i in range(1, a["num_layers"]):
        M = a[f"W{i}"].shape[1]
        a[f"gamma{i}"] = _normal(rng, M, loc=1.0, scale=0.3)
        a[f"beta{i}"] = _normal(rng, M, scale=0.3)
    return a


# ----------------------------------------------------------------------------------- Q3


def _dropout(rng):
    shape = (_n(rng, 150, 200), _n(rng, 100, 150))
    p = rng.choice([rng.uniform(0.2, 0.4), rng.uniform(0.6, 0.8)])
    return {
        "x": 1.0 + np.abs(_normal(rng, *shape)),
        "dout": _normal(rng, *shape),
        "p": p,
        "seed": _n(rng, 0, 10_000),
    }


def _fc_dropout(rng):
    a = _fc_loss(rng)
    a["p"] = rng.uniform(0.3, 0.7)
    return a


# ----------------------------------------------------------------------------------- Q4


def _conv(rng):
    N, C, F = _n(rng, 2, 3), _n(rng, 2, 3), _n(rng, 2, 4)
    HH, WW = int(rng.choice([3, 5])), int(rng.choice([2, 3]))
    stride, pad = _n(rng, 2, 3), _n(rng, 1, 2)  # stride 1 would hide a stride ignored
    H = stride * _n(rng, 3, 5) + HH - 2 * pad
    W = stride * _n(rng, 3, 5) + WW - 2 * pad
    H, W = H + stride * (H < 2), W + stride * (W < 2)
    out_h, out_w = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    return {
        "x": _normal(rng, N, C, H, W),
        "w": _normal(rng, F, C, HH, WW),
        "b": _normal(rng, F),
        "dout": _normal(rng, N, F, out_h, out_w),
        "stride": stride,
        "pad": pad,
    }


def _pool(rng):
    N, C = _n(rng, 2, 3), _n(rng, 2, 3)
    ph, pw, stride = _n(rng, 2, 3), _n(rng, 2, 3), _n(rng, 1, 2)
    out_h, out_w = _n(rng, 2, 4), _n(rng, 2, 4)
    H, W = ph + stride * (out_h - 1), pw + stride * (out_w - 1)
    return {
        "x": _normal(rng, N, C, H, W),
        "dout": _normal(rng, N, C, out_h, out_w),
        "ph": ph,
        "pw": pw,
        "pool_stride": stride,
    }


def _spatial_bn(rng):
    N, C, H, W = _n(rng, 2, 4), _n(rng, 3, 4), _n(rng, 3, 5), _n(rng, 3, 5)
    return _bn(rng, (N, C, H, W), C)


def _groupnorm(rng):
    G, per_group = _n(rng, 2, 3), _n(rng, 2, 3)
    N, C, H, W = _n(rng, 2, 3), G * per_group, _n(rng, 3, 4), _n(rng, 3, 4)
    # Channels differ in scale so that grouping the wrong channels shows.
    scale = rng.uniform(0.5, 4.0, size=(1, C, 1, 1))
    return {
        "x": _normal(rng, N, C, H, W) * scale + _normal(rng, 1, C, 1, 1) * 3,
        "gamma": _normal(rng, 1, C, 1, 1, loc=1.0, scale=0.5),
        "beta": _normal(rng, 1, C, 1, 1),
        "dout": _normal(rng, N, C, H, W),
        "G": G,
        "eps": 10.0 ** rng.uniform(-5, -3),
    }


def _sandwich(rng):
    N, C, F, H = _n(rng, 2, 3), _n(rng, 2, 3), _n(rng, 2, 4), 2 * _n(rng, 2, 3)
    a = _bn(rng, (N, F, H, H), F)
    a.update(
        {
            "x": _normal(rng, N, C, H, H),
            "w": _normal(rng, F, C, 3, 3),
            "b": _normal(rng, F),
            "dout": _normal(rng, N, F, H, H),
            "dout_pool": _normal(rng, N, F, H // 2, H // 2),
            "stride": 1,
            "pad": 1,
            "ph": 2,
            "pw": 2,
            "pool_stride": 2,
        }
    )
    return a


def _convnet(rng):
    C, H = _n(rng, 2, 3), 2 * _n(rng, 2, 4)
    F, fs, hidden, classes = _n(rng, 2, 4), int(rng.choice([3, 5])), _n(rng, 4, 7), _n(rng, 3, 5)
    a = _net_data(rng, [F * (H // 2) ** 2, hidden, classes])  # becomes W2, b2, W3, b3
    a["W3"], a["b3"], a["W2"], a["b2"] = a["W2"], a["b2"], a["W1"], a["b1"]
    a["W1"], a["b1"] = _normal(rng, F, C, fs, fs, scale=0.5), _normal(rng, F, scale=0.2)
    a["X"] = _normal(rng, len(a["y"]), C, H, H)
    a["weight_scale"] = 0.05
    a["seed"] = _seed(rng)
    return a


STATISTICS = {  # distances of random initial weights from their ideal spread and mean
    "weight_std_off": ("abs", 0.25),
    "weight_mean_off": ("abs", 0.35),
    "init_weight_std_off": ("abs", 0.25),
    "init_weight_mean_off": ("abs", 0.35),
}

CASES = [
    # Q1 fully connected nets: 16
    Case("affine_forward", 1, "affine_forward", 1, _affine),
    Case("affine_backward", 1, "affine_backward", 1.5, _affine),
    Case("relu_forward", 1, "relu_forward", 0.5, _relu),
    Case("relu_backward", 1, "relu_backward", 0.5, _relu),
    Case("softmax_loss", 1, "softmax_loss", 1, _scores),
    Case("svm_loss", 1, "svm_loss", 1, _scores),
    Case("affine_relu", 1, "affine_relu_forward/backward", 1, _affine),
    Case("two_layer_net_init", 1, "TwoLayerNet.__init__", 0.5, _two_layer_init, "D", STATISTICS),
    Case("two_layer_net_loss", 1, "TwoLayerNet.loss", 2, _two_layer_loss, "X"),
    Case("fc_net_init", 1, "FullyConnectedNet.__init__", 0.5, _fc_init, "D", STATISTICS),
    Case("fc_net_loss", 1, "FullyConnectedNet.loss", 2, _fc_loss, "X"),
    Case("sgd_momentum", 1, "sgd_momentum", 1, _rule, "w"),
    Case("rmsprop", 1, "rmsprop", 1, _rule, "w"),
    Case("adam", 1, "adam", 1.5, _rule, "w"),
    Case("solver", 1, "Solver.train", 1, _solver, "X_train"),
    # Q2 batch normalization: 34
    Case("batchnorm_forward_train", 2, "batchnorm_forward (train)", 6, _bn_rows),
    Case("batchnorm_forward_test", 2, "batchnorm_forward (test)", 3, _bn_rows),
    Case("batchnorm_backward", 2, "batchnorm_backward", 7, _bn_rows),
    Case("batchnorm_backward_alt", 2, "batchnorm_backward_alt", 5, _bn_rows),
    Case("layernorm_forward", 2, "layernorm_forward", 4, _bn_rows),
    Case("layernorm_backward", 2, "layernorm_backward", 5, _bn_rows),
    Case("fc_net_batchnorm", 2, "FullyConnectedNet (batchnorm)", 2, _fc_norm, "X"),
    Case("fc_net_layernorm", 2, "FullyConnectedNet (layernorm)", 2, _fc_norm, "X"),
    # Q3 dropout: 10
    Case(
        "dropout_forward_train",
        3,
        "dropout_forward (train)",
        4,
        _dropout,
        tolerances={"kept_fraction": ("abs", 0.03)},
    ),
    Case("dropout_forward_test", 3, "dropout_forward (test)", 2, _dropout),
    Case(
        "dropout_backward",
        3,
        "dropout_backward",
        2,
        _dropout,
        tolerances={"train_mismatch": ("abs", 1e-9)},
    ),
    Case("fc_net_dropout", 3, "FullyConnectedNet (dropout)", 2, _fc_dropout, "X"),
    # Q4 convolutional networks: 30
    Case("conv_forward_naive", 4, "conv_forward_naive", 5, _conv),
    Case("conv_backward_naive", 4, "conv_backward_naive", 5, _conv),
    Case("max_pool_forward_naive", 4, "max_pool_forward_naive", 2, _pool),
    Case("max_pool_backward_naive", 4, "max_pool_backward_naive", 3, _pool),
    Case("spatial_batchnorm_forward", 4, "spatial_batchnorm_forward", 3, _spatial_bn),
    Case("spatial_batchnorm_backward", 4, "spatial_batchnorm_backward", 3, _spatial_bn),
    Case("spatial_groupnorm_forward", 4, "spatial_groupnorm_forward", 2, _groupnorm),
    Case("spatial_groupnorm_backward", 4, "spatial_groupnorm_backward", 3, _groupnorm),
    Case("conv_sandwiches", 4, "conv sandwich layers (layer_utils)", 2, _sandwich),
    Case("three_layer_convnet", 4, "ThreeLayerConvNet", 2, _convnet, "X", STATISTICS),
]
CASES_BY_ID = {case.program: case for case in CASES}


def check_table() -> None:
    """The case points add up to each question's weight (Q5 is graded from notebooks)."""
    for q, (label, _, weight) in QUESTIONS.items():
        total = sum(c.points for c in CASES if c.question == q)
        if q != 5 and abs(total - weight) > 1e-9:
            raise AssertionError(f"{label}: cases add up to {total}, expected {weight}")
