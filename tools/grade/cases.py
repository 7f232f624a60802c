"""The case table: what is graded, for how many points, on which inputs, how strictly.

Each case names a program in ``programs.py`` (the calls), the question and function it
grades, its points, the student functions of this kit it grades (``writes``: blocks that the
notebooks declare, as tools/release.py knows them; nothing the kit gives is graded), and an
input generator. Inputs are drawn from a generator seeded per grading run, so shapes and
values change from run to run; a submission that hard-codes the notebooks' fixed values
gains nothing. A case draws its inputs several times (``draws``); draw ``i`` reaches the
branches that its generator's docstring names (pad 0, stride > 1, a batch of 1, ties, ...),
so that a function that is wrong only there still loses points. A case's points are split
equally over the outputs its program returns on every draw (or by ``weights``), which is
the partial credit inside a function.

Outputs are compared with ``error = max|actual - expected| / max|expected|`` (relative to
the reference's scale, so that entries near zero do not blow up) against ``rel``
tolerances, or with ``max|actual - expected|`` against ``abs`` tolerances for statistics
of random draws (dropout masks, initial weights).

**Why the tolerance is 1e-4.** Correct code written another way than ours differs in float
detail: float32 intermediates (rounding 6e-8 per operation, summed over up to ~50 terms:
about 1e-6 of the output's scale, and more where a backward pass cancels terms), another
order of summation, a variance computed as E[x^2] - E[x]^2 (which loses digits where the
mean is large against the spread: the inputs keep |mean| below 3 spreads, ~1e-6 in
float64), and eps added inside or outside the square root, or left out. eps is drawn in
[1e-8, 1e-6] against variances above ~0.25, so where eps sits moves an output by at most
~2e-6 of its scale (the nets' cases, whose hidden features may vary less, draw it in
[1e-12, 1e-10]: ``_fc_norm``). 1e-4 leaves room above all of these; every catalogued mistake
(mistakes.py, tests/test_grade_bugs.py) misses it by orders of magnitude.
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
DEFAULT_TOLERANCE = ("rel", 1e-4)

L, LU, OPT = "cs231n/layers.py::", "cs231n/layer_utils.py::", "cs231n/optim.py::"
FC, CNN = "cs231n/classifiers/fc_net.py::", "cs231n/classifiers/cnn.py::"

# Student blocks that no case grades on their own, and why (tests/test_grade.py checks that
# every block the notebooks declare is graded by a case or named here).
UNGRADED: dict[str, str] = {}  # none at present: every block is graded


@dataclass(frozen=True)
class Case:
    program: str  # a function in programs.py; also the case's id
    question: int
    function: str  # what the feedback names, e.g. "batchnorm_backward"
    points: float
    inputs: Callable[[np.random.Generator, int], dict]  # (rng, draw index) -> one draw
    writes: tuple[str, ...] = ()  # the student functions it grades ("file::function")
    draws: int = 1
    shape_of: str = "x"  # the input whose shape the feedback quotes
    tolerances: dict = field(default_factory=dict)  # output -> ("rel" | "abs", tol)
    weights: dict = field(default_factory=dict)  # output -> share of the points
    # Outputs read from one computation (statistics of one dropout mask): a mistake that
    # explains one of them must explain every wrong one (diagnose.py).
    together: tuple[frozenset[str], ...] = ()

    def tolerance(self, output: str) -> tuple[str, float]:
        return self.tolerances.get(base_name(output), DEFAULT_TOLERANCE)

    def weight(self, output: str) -> float:
        return self.weights.get(base_name(output), 1.0)

    def draw_inputs(self, rng: np.random.Generator) -> dict:
        """Every draw's inputs, keyed ``"i:name"`` (programs.per_draw splits them)."""
        return {f"{i}:{k}": v for i in range(self.draws) for k, v in self.inputs(rng, i).items()}


def base_name(output: str) -> str:
    """``"dx@2"`` -> ``"dx"``: an output's name without its draw."""
    return output.split("@", 1)[0]


def draw_of(output: str) -> str:
    """``"dx@2"`` -> ``"2"`` ("" for an output without a draw)."""
    return output.split("@", 1)[1] if "@" in output else ""


def where(case: Case, inputs: dict, outputs: list[str]) -> str:
    """`` on x of shape (2, 3)`` (with the draw's pad and stride, if any) for the first of
    ``outputs`` (those that were wrong); "" when the input is not known."""
    d = draw_of(outputs[0]) if outputs else ""
    prefix = f"{d}:" if d else ""
    shape = inputs.get(prefix + case.shape_of)
    if shape is None:
        return ""
    extra = [f"{k}={int(inputs[prefix + k])}" for k in ("pad", "stride") if prefix + k in inputs]
    if prefix + "x" in inputs and inputs[prefix + "x"].dtype == np.float32:
        extra.append("float32")
    return f" on {case.shape_of} of shape {tuple(shape.shape)}" + (
        f" ({', '.join(extra)})" if extra else ""
    )


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
    mistake: str = ""  # the first known mistake recognized in the answer (recognize.py)
    mistakes: tuple[str, ...] = ()  # every known mistake recognized, one per diagnosis
    clues: tuple[str, ...] = ()  # the relations that explain other wrong outputs (relations.py)
    regrade: str = ""  # an environment fault (envfaults.py): no points taken, regrade by hand

    @property
    def question(self) -> int:
        return self.case.question


def _n(rng, lo, hi) -> int:
    return int(rng.integers(lo, hi + 1))


def _normal(rng, *shape, loc=0.0, scale=1.0):
    return rng.normal(loc, scale, size=shape)


def _as32(a: dict, keys=("x", "dout")) -> dict:
    """The draw with its float inputs ``keys`` in float32."""
    return {k: v.astype(np.float32) if k in keys else v for k, v in a.items()}


def _eps(rng, exponents: tuple[float, float] = (-8, -6)) -> float:
    """Small enough that eps inside or outside the square root, or left out, agree within the
    tolerance (see the module docstring); still passed, so a function must read it. Drawn
    log-uniformly between 10 to the ``exponents``."""
    return 10.0 ** rng.uniform(*exponents)


# ----------------------------------------------------------------------------------- Q1


def _affine(rng, i: int = 0):
    """Draws: 0 a batch of 3-6, 1 a batch of 1, 2 a batch whose size equals the feature
    count D, 3 float32; x is (N, d1, d2) with odd and non-square d1, d2."""
    dims = (_n(rng, 2, 5), _n(rng, 2, 5))
    D = dims[0] * dims[1]
    N, M = [_n(rng, 3, 6), 1, D, _n(rng, 2, 5)][i % 4], _n(rng, 3, 7)
    a = {
        "x": _normal(rng, N, *dims),
        "w": _normal(rng, D, M),
        "b": _normal(rng, M),
        "dout": _normal(rng, N, M),
    }
    return _as32(a, ("x", "w", "b", "dout")) if i % 4 == 3 else a


def _relu(rng, i: int = 0):
    """Draws: 0 a batch of 3-6, 1 a batch of 1, 2 float32."""
    shape = ([_n(rng, 3, 6), 1, _n(rng, 2, 5)][i % 3], _n(rng, 4, 8))
    a = {"x": _normal(rng, *shape), "dout": _normal(rng, *shape)}
    return _as32(a) if i % 3 == 2 else a


def _scores(rng, i: int = 0):
    """Draws: 0 a batch of 20-40, 1 a batch of 1, 2 a batch as large as the class count."""
    C = _n(rng, 4, 10)
    N = [_n(rng, 20, 40), 1, C][i % 3]
    return {"x": _normal(rng, N, C), "y": rng.integers(0, C, size=N)}


def _seed(rng) -> int:
    """A seed for numpy's global RNG, set before a model draws its initial weights: a
    student's draws and a catalogued mistake's (recognize.py) are then the same numbers."""
    return _n(rng, 0, 2**31 - 1)


def _two_layer_init(rng, i: int = 0):
    """One draw; the parameter names are checked with the shapes."""
    dims = {"D": _n(rng, 150, 250), "H": _n(rng, 40, 60), "C": 10}
    return {**dims, "weight_scale": 0.1, "seed": _seed(rng)}


def _net_data(rng, dims, N: int | None = None):
    N = N or _n(rng, 5, 9)
    a = {"X": _normal(rng, N, dims[0]), "y": rng.integers(0, dims[-1], size=N)}
    for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), start=1):
        a[f"W{i}"] = _normal(rng, fan_in, fan_out, scale=0.5)
        a[f"b{i}"] = _normal(rng, fan_out, scale=0.2)
    a["reg"] = rng.uniform(0.3, 1.0)
    a["num_layers"] = len(dims) - 1
    return a


def _two_layer_loss(rng, i: int = 0):
    """Draws: 0 a batch of 5-9, 1 a batch of 1."""
    dims = [_n(rng, 4, 8), _n(rng, 5, 9), _n(rng, 3, 5)]
    return _net_data(rng, dims, None if i % 2 == 0 else 1)


def _fc_init(rng, i: int = 0):
    """One draw; the parameter names (W1.., b1..) are checked with the shapes."""
    dims = {"D": _n(rng, 150, 250), "H1": _n(rng, 40, 60), "H2": _n(rng, 30, 50), "C": 10}
    return {**dims, "weight_scale": 0.05, "seed": _seed(rng)}


def _fc_loss(rng, i: int = 0):
    """Draws: 0 a batch of 5-9, 1 a batch of 1 (three layers, odd sizes)."""
    dims = [_n(rng, 4, 8), _n(rng, 5, 9), _n(rng, 4, 7), _n(rng, 3, 5)]
    return _net_data(rng, dims, None if i % 2 == 0 else 1)


def _rule(rng, i: int = 0):
    """Draws: 0 a matrix, 1 a vector (a bias); three steps each, from fresh and given state."""
    shape = (_n(rng, 3, 5), _n(rng, 3, 5)) if i % 2 == 0 else (_n(rng, 3, 7),)
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
        "eps": _eps(rng),
    }


def _bn_rows(rng, i: int = 0):
    """Draws: 0 N < D, 1 N == D (a square batch: N and D confused still lose), 2 N > D.
    No batch of 1: its variance is 0, where eps left out (correct otherwise) divides by 0."""
    D = _n(rng, 4, 7)  # N, D >= 3: with 2 rows (or columns) normalizing leaves dx = 0
    N = [_n(rng, 3, D - 1), D, _n(rng, D + 1, 12)][i % 3]
    return _bn(rng, (N, D), D)


def _fc_norm(rng, i: int = 0):
    """Draws: 0 and 1, other sizes (batch 5-9).

    eps (set in the net's bn_params) is drawn far smaller than for the layers' own cases:
    here the variances are those of hidden features over a batch of 5-9, which can be small,
    and the test-mode scores after one step divide by a running variance of a tenth of that:
    with eps in [1e-8, 1e-6], eps outside the square root (correct) moved them by 2.9e-4 at
    ``--seed 2030729485``."""
    a = _fc_loss(rng)
    for k in range(1, a["num_layers"]):
        M = a[f"W{k}"].shape[1]
        a[f"gamma{k}"] = _normal(rng, M, loc=1.0, scale=0.3)
        a[f"beta{k}"] = _normal(rng, M, scale=0.3)
    a["eps"] = _eps(rng, (-12, -10))
    return a


# ----------------------------------------------------------------------------------- Q3


def _dropout(rng, i: int = 0):
    """Draws: keep probability p 0 in [0.2, 0.8], 1 near 0 (0.02-0.05), 2 near 1
    (0.95-0.99), 3 float32 inputs (the output must stay float32)."""
    shape = (_n(rng, 90, 120), _n(rng, 90, 120))  # 8000+ units: kept_fraction within 0.01
    p = [rng.uniform(0.2, 0.8), rng.uniform(0.02, 0.05), rng.uniform(0.95, 0.99)][i % 4 % 3]
    a = {
        "x": 1.0 + np.abs(_normal(rng, *shape)),
        "dout": _normal(rng, *shape),
        "p": p,
        "seed": _n(rng, 0, 10_000),
    }
    return _as32(a) if i % 4 == 3 else a


def _fc_dropout(rng, i: int = 0):
    """Draws: keep probability 0 in [0.3, 0.7], 1 near 1 (0.9-0.95)."""
    a = _fc_loss(rng)
    a["p"] = rng.uniform(0.3, 0.7) if i % 2 == 0 else rng.uniform(0.9, 0.95)
    return a


# ----------------------------------------------------------------------------------- Q4

# (pad, stride) of each conv draw: pad 0 with stride 1 and 2, pad 1, pad 2 with stride 3,
# and a float32 draw with pad 0 (a pad stripped as [pad:-pad] is empty at pad 0).
CONV_DRAWS = [(0, 1), (0, 2), (1, 1), (2, 3), (0, 2)]


def _conv(rng, i: int = 0):
    """Draws: ``CONV_DRAWS`` (pad, stride); non-square filters (HH != WW), odd and
    non-square images, a batch of 1 in draw 2; draw 4 in float32."""
    pad, stride = CONV_DRAWS[i % len(CONV_DRAWS)]
    N, C, F = (1 if i == 2 else _n(rng, 2, 3)), _n(rng, 2, 3), _n(rng, 2, 4)
    HH, WW = [(3, 2), (2, 3), (3, 5), (5, 3), (1, 3)][i % 5]
    out_h, out_w = _n(rng, 2, 4), _n(rng, 2, 4)
    out_h += max(0, -(-(2 * pad + 2 - HH) // stride))  # at least 2 rows of the image itself
    out_w += max(0, -(-(2 * pad + 2 - WW) // stride))
    H, W = stride * (out_h - 1) + HH - 2 * pad, stride * (out_w - 1) + WW - 2 * pad
    a = {
        "x": _normal(rng, N, C, H, W),
        "w": _normal(rng, F, C, HH, WW),
        "b": _normal(rng, F),
        "dout": _normal(rng, N, F, out_h, out_w),
        "stride": stride,
        "pad": pad,
    }
    return _as32(a, ("x", "w", "b", "dout")) if i == 4 else a


def _pool(rng, i: int = 0):
    """Draws: 0 overlapping windows (stride 1), 1 non-square windows with stride 2, 2 ties:
    each window's maximum repeated (non-overlapping windows; the gradient may go to one tie
    or to each), 3 a batch of 1 in float32."""
    N, C = (1 if i == 3 else _n(rng, 2, 3)), _n(rng, 2, 3)
    ph, pw, stride = [(2, 2, 1), (_n(rng, 2, 3), _n(rng, 1, 3), 2), (2, 2, 2), (3, 2, 2)][i % 4]
    if ph == pw == 2 and i == 1:
        pw = 3  # non-square
    out_h, out_w = _n(rng, 2, 4), _n(rng, 2, 4)
    H, W = ph + stride * (out_h - 1), pw + stride * (out_w - 1)
    x = _normal(rng, N, C, H, W)
    if i % 4 == 2:  # small integers: every window holds its maximum twice or more
        x = rng.integers(0, 2, size=(N, C, H, W)).astype(np.float64)
    a = {
        "x": x,
        "dout": _normal(rng, N, C, out_h, out_w),
        "ph": ph,
        "pw": pw,
        "pool_stride": stride,
        "ties": int(i % 4 == 2),
    }
    return _as32(a) if i % 4 == 3 else a


def _spatial_bn(rng, i: int = 0):
    """Draws: 0 non-square images, 1 a batch of 1 (H*W samples per channel), 2 square."""
    N, C, H, W = (_n(rng, 2, 4) if i != 1 else 1), _n(rng, 3, 4), _n(rng, 3, 5), _n(rng, 3, 5)
    if i == 0 and H == W:
        W += 1
    return _bn(rng, (N, C, H, W), C)


def _groupnorm(rng, i: int = 0):
    """Draws: 0 G groups of 2-3 channels, 1 G = 1 (one group: a layer norm), 2 G = C (a group
    per channel); non-square images."""
    G, per_group = [(_n(rng, 2, 3), _n(rng, 2, 3)), (1, _n(rng, 3, 4)), (_n(rng, 3, 4), 1)][i % 3]
    N, C, H, W = _n(rng, 2, 3), G * per_group, _n(rng, 3, 4), _n(rng, 5, 6)
    # Channels differ in scale so that grouping the wrong channels shows.
    scale = rng.uniform(0.5, 4.0, size=(1, C, 1, 1))
    return {
        "x": _normal(rng, N, C, H, W) * scale + _normal(rng, 1, C, 1, 1) * 3,
        "gamma": _normal(rng, 1, C, 1, 1, loc=1.0, scale=0.5),
        "beta": _normal(rng, 1, C, 1, 1),
        "dout": _normal(rng, N, C, H, W),
        "G": G,
        "eps": _eps(rng),
    }


def _sandwich(rng, i: int = 0):
    """Draws: 0 square, 1 non-square images (even sizes: 2x2 pools tile them), a batch of 1."""
    N, C, F = (_n(rng, 2, 3) if i == 0 else 1), _n(rng, 2, 3), _n(rng, 2, 4)
    H, W = 2 * _n(rng, 2, 3), 2 * _n(rng, 2, 3)
    W = H if i == 0 else W + 2 * (W == H)
    a = _bn(rng, (N, F, H, W), F)
    a.update(
        {
            "x": _normal(rng, N, C, H, W),
            "w": _normal(rng, F, C, 3, 3),
            "b": _normal(rng, F),
            "dout": _normal(rng, N, F, H, W),
            "dout_pool": _normal(rng, N, F, H // 2, W // 2),
            "stride": 1,
            "pad": 1,
            "ph": 2,
            "pw": 2,
            "pool_stride": 2,
        }
    )
    return a


def _convnet(rng, i: int = 0):
    """Draws: filter sizes 3 / 5 / 7 over the draws, non-square images; the initialization is
    checked on another drawn filter size and image (names and shapes), so that a net that
    ignores filter_size or the image's shape is caught.

    Each weight's spread is 1 / sqrt(fan-in), so that the scores stay of the order of one as
    in a net being trained: with wide ones, a correct-class probability can fall under
    1e-15, where a correct softmax that clips or adds a small epsilon before the log gives
    another loss (tests/test_grade_editions.py checks the bound)."""
    C, H, W = _n(rng, 2, 3), 2 * _n(rng, 2, 4), 2 * _n(rng, 2, 4)
    F, fs, hidden, classes = _n(rng, 2, 4), (3, 5, 7)[i % 3], _n(rng, 4, 7), _n(rng, 3, 5)
    flat = F * (H // 2) * (W // 2)
    a = _net_data(rng, [flat, hidden, classes])  # becomes W2, b2, W3, b3
    a["W3"], a["b3"] = a["W2"] / (0.5 * np.sqrt(hidden)), a["b2"]
    a["W2"], a["b2"] = a["W1"] / (0.5 * np.sqrt(flat)), a["b1"]
    a["W1"] = _normal(rng, F, C, fs, fs, scale=1 / np.sqrt(C * fs * fs))
    a["b1"] = _normal(rng, F, scale=0.2)
    a["X"] = _normal(rng, len(a["y"]), C, H, W)
    a["weight_scale"] = 0.05
    a["seed"] = _seed(rng)
    a["init_input_dim"] = np.array([_n(rng, 2, 3), 2 * _n(rng, 3, 5), 2 * _n(rng, 3, 5)])
    a["init_filters"] = _n(rng, 6, 10)
    a["init_filter_size"] = (5, 7, 3)[i % 3]
    return a


STATISTICS = {  # distances of random initial weights from their ideal spread and mean
    "weight_std_off": ("abs", 0.25),
    "weight_mean_off": ("abs", 0.35),
    "init_weight_std_off": ("abs", 0.25),
    "init_weight_mean_off": ("abs", 0.35),
}
FC_NET = (FC + "FullyConnectedNet.__init__", FC + "FullyConnectedNet.loss")
NORM_SANDWICH = (LU + "affine_norm_relu_dropout_forward", LU + "affine_norm_relu_dropout_backward")

CASES = [
    # Q1 fully connected nets: 16
    Case("affine_forward", 1, "affine_forward", 1, _affine, (L + "affine_forward",), 4),
    Case("affine_backward", 1, "affine_backward", 1.5, _affine, (L + "affine_backward",), 4),
    Case("relu_forward", 1, "relu_forward", 0.5, _relu, (L + "relu_forward",), 3),
    Case("relu_backward", 1, "relu_backward", 0.5, _relu, (L + "relu_backward",), 3),
    Case("softmax_loss", 1, "softmax_loss", 1, _scores, (L + "softmax_loss",), 3),
    Case("svm_loss", 1, "svm_loss", 1, _scores, (L + "svm_loss",), 3),
    Case(
        "affine_relu",
        1,
        "affine_relu_forward/backward",
        1,
        _affine,
        (LU + "affine_relu_forward", LU + "affine_relu_backward"),
        2,
    ),
    Case(
        "two_layer_net_init",
        1,
        "TwoLayerNet.__init__",
        0.5,
        _two_layer_init,
        (FC + "TwoLayerNet.__init__",),
        shape_of="D",
        tolerances=STATISTICS,
    ),
    Case(
        "two_layer_net_loss",
        1,
        "TwoLayerNet.loss",
        2,
        _two_layer_loss,
        (FC + "TwoLayerNet.loss",),
        2,
        "X",
    ),
    Case(
        "fc_net_init",
        1,
        "FullyConnectedNet.__init__",
        0.5,
        _fc_init,
        FC_NET[:1],
        shape_of="D",
        tolerances=STATISTICS,
    ),
    Case("fc_net_loss", 1, "FullyConnectedNet.loss", 2, _fc_loss, FC_NET, 2, "X"),
    # sgd, sgd_momentum: 1 point between them, which Solver.train had (the kit gives Solver).
    Case("sgd", 1, "sgd", 0.5, _rule, (OPT + "sgd",), 2, "w"),
    Case("sgd_momentum", 1, "sgd_momentum", 1.5, _rule, (OPT + "sgd_momentum",), 2, "w"),
    Case("rmsprop", 1, "rmsprop", 1, _rule, (OPT + "rmsprop",), 2, "w"),
    Case("adam", 1, "adam", 1.5, _rule, (OPT + "adam",), 2, "w"),
    # Q2 batch normalization: 34
    Case(
        "batchnorm_forward_train",
        2,
        "batchnorm_forward (train)",
        6,
        _bn_rows,
        (L + "batchnorm_forward",),
        3,
    ),
    Case(
        "batchnorm_forward_test",
        2,
        "batchnorm_forward (test)",
        3,
        _bn_rows,
        (L + "batchnorm_forward",),
        3,
    ),
    Case(
        "batchnorm_backward", 2, "batchnorm_backward", 7, _bn_rows, (L + "batchnorm_backward",), 3
    ),
    Case(
        "batchnorm_backward_alt",
        2,
        "batchnorm_backward_alt",
        5,
        _bn_rows,
        (L + "batchnorm_backward_alt", L + "_normalize_backward"),
        3,
    ),
    Case("layernorm_forward", 2, "layernorm_forward", 4, _bn_rows, (L + "layernorm_forward",), 3),
    Case(
        "layernorm_backward", 2, "layernorm_backward", 5, _bn_rows, (L + "layernorm_backward",), 3
    ),
    Case(
        "fc_net_batchnorm",
        2,
        "FullyConnectedNet (batchnorm)",
        2,
        _fc_norm,
        FC_NET + NORM_SANDWICH,
        2,
        "X",
    ),
    Case(
        "fc_net_layernorm",
        2,
        "FullyConnectedNet (layernorm)",
        2,
        _fc_norm,
        FC_NET + NORM_SANDWICH,
        2,
        "X",
    ),
    # Q3 dropout: 10
    Case(
        "dropout_forward_train",
        3,
        "dropout_forward (train)",
        4,
        _dropout,
        (L + "dropout_forward",),
        4,
        tolerances={"kept_fraction": ("abs", 0.03)},
        together=(frozenset({"kept_fraction", "kept_scale"}),),
    ),
    Case(
        "dropout_forward_test",
        3,
        "dropout_forward (test)",
        2,
        _dropout,
        (L + "dropout_forward",),
        4,
    ),
    Case(
        "dropout_backward",
        3,
        "dropout_backward",
        2,
        _dropout,
        (L + "dropout_backward",),
        4,
        tolerances={"train_mismatch": ("abs", 1e-5)},
    ),
    Case(
        "fc_net_dropout",
        3,
        "FullyConnectedNet (dropout)",
        2,
        _fc_dropout,
        FC_NET + NORM_SANDWICH,
        2,
        "X",
    ),
    # Q4 convolutional networks: 30
    Case("conv_forward_naive", 4, "conv_forward_naive", 5, _conv, (L + "conv_forward_naive",), 5),
    Case(
        "conv_backward_naive", 4, "conv_backward_naive", 5, _conv, (L + "conv_backward_naive",), 5
    ),
    Case(
        "max_pool_forward_naive",
        4,
        "max_pool_forward_naive",
        2,
        _pool,
        (L + "max_pool_forward_naive",),
        4,
    ),
    Case(
        "max_pool_backward_naive",
        4,
        "max_pool_backward_naive",
        3,
        _pool,
        (L + "max_pool_backward_naive",),
        4,
    ),
    Case(
        "spatial_batchnorm_forward",
        4,
        "spatial_batchnorm_forward",
        3,
        _spatial_bn,
        (L + "spatial_batchnorm_forward",),
        3,
    ),
    Case(
        "spatial_batchnorm_backward",
        4,
        "spatial_batchnorm_backward",
        3,
        _spatial_bn,
        (L + "spatial_batchnorm_backward",),
        3,
    ),
    Case(
        "spatial_groupnorm_forward",
        4,
        "spatial_groupnorm_forward",
        2,
        _groupnorm,
        (L + "spatial_groupnorm_forward",),
        3,
    ),
    Case(
        "spatial_groupnorm_backward",
        4,
        "spatial_groupnorm_backward",
        3,
        _groupnorm,
        (L + "spatial_groupnorm_backward",),
        3,
    ),
    Case(
        "conv_relu_sandwiches",
        4,
        "conv_relu, conv_relu_pool (layer_utils)",
        1,
        _sandwich,
        tuple(
            LU + f"{n}_{d}"
            for n in ("conv_relu", "conv_relu_pool")
            for d in ("forward", "backward")
        ),
        2,
    ),
    Case(
        "conv_bn_sandwiches",
        4,
        "conv_bn_relu, conv_bn_relu_pool (layer_utils)",
        1,
        _sandwich,
        tuple(
            LU + f"{n}_{d}"
            for n in ("conv_bn_relu", "conv_bn_relu_pool")
            for d in ("forward", "backward")
        ),
        2,
    ),
    Case(
        "three_layer_convnet",
        4,
        "ThreeLayerConvNet",
        2,
        _convnet,
        (CNN + "ThreeLayerConvNet.__init__", CNN + "ThreeLayerConvNet.loss"),
        2,
        "X",
        STATISTICS,
    ),
]
CASES_BY_ID = {case.program: case for case in CASES}


def check_table() -> None:
    """The case points add up to each question's weight (Q5 is graded from notebooks)."""
    for q, (label, _, weight) in QUESTIONS.items():
        total = sum(c.points for c in CASES if c.question == q)
        if q != 5 and abs(total - weight) > 1e-9:
            raise AssertionError(f"{label}: cases add up to {total}, expected {weight}")
