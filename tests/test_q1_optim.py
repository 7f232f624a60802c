"""Update rules: defaults, state handling and no in-place modification first, then several
steps against the rules unrolled in closed form and against torch.optim (state before weights),
so that ``pytest -x`` stops first at the test that names what is wrong.

Each test feeds a fixed sequence of gradients g_1..g_K, so that only the update rule
(not the dynamics of a loss) is compared.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_close, assert_equal, check_close, tn

from cs231n import optim

pytestmark = pytest.mark.q1

K = 6  # steps per run
SHAPE = (4, 5)
RULES = ["sgd", "sgd_momentum", "rmsprop", "adam"]


@pytest.fixture
def w0(rng) -> np.ndarray:
    return rng.standard_normal(SHAPE)


@pytest.fixture
def grads(rng) -> list[np.ndarray]:
    """Gradients of mixed scales, some small enough for epsilon to matter."""
    scales = np.logspace(-4, 0, SHAPE[1])
    return [rng.standard_normal(SHAPE) * scales for _ in range(K)]


def run_rule(name: str, w: np.ndarray, grads: list[np.ndarray], config: dict | None):
    """Apply the rule once per gradient; returns the weights after every step and the config."""
    rule = getattr(optim, name)
    ws = []
    for g in grads:
        w, config = rule(w, g, config)
        ws.append(w)
    return ws, config


def run_torch(make_opt, w: np.ndarray, grads: list[np.ndarray]):
    """The same with a torch optimizer; returns the weights after every step and the state."""
    p = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    opt = make_opt([p])
    ws = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        ws.append(tn(p).copy())
    return ws, opt.state[p]


def discounted_sums(rate: float, terms: list[np.ndarray], start: np.ndarray) -> list[np.ndarray]:
    """``s_k = rate**k * start + sum_{j<=k} rate**(k-j) * terms_j`` for k = 1..K, as explicit
    sums (not the recursion the rules use)."""
    return [
        rate**k * start + sum(rate ** (k - j) * terms[j - 1] for j in range(1, k + 1))
        for k in range(1, len(terms) + 1)
    ]


# ------------------------------------------------------------- defaults and state


DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}


@pytest.mark.parametrize("name", RULES)
def test_none_config_gets_the_defaults(name, w0, grads):
    next_w, config = getattr(optim, name)(w0, grads[0], None)
    for key, value in DEFAULTS[name].items():
        assert config[key] == value, key
    # The defaults give the same step as spelling them out.
    spelled_out, _ = getattr(optim, name)(w0, grads[0], dict(DEFAULTS[name]))
    assert np.array_equal(next_w, spelled_out)


@pytest.mark.parametrize("name", RULES)
def test_missing_config_argument_is_none(name, w0, grads):
    a, _ = getattr(optim, name)(w0, grads[0])
    b, _ = getattr(optim, name)(w0, grads[0], None)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("name", "state"),
    [("sgd_momentum", ["velocity"]), ("rmsprop", ["cache"]), ("adam", ["m", "v"])],
)
def test_state_starts_at_zeros_like_w(name, state, w0, grads):
    # One step from an empty config equals one step from explicit zero state.
    a, config = getattr(optim, name)(w0, grads[0], {})
    zeros = {key: np.zeros_like(w0) for key in state}
    b, _ = getattr(optim, name)(w0, grads[0], zeros)
    assert np.array_equal(a, b)
    for key in state:
        assert config[key].shape == w0.shape


@pytest.mark.parametrize("name", RULES)
def test_given_values_are_kept(name, w0, grads):
    config = {"learning_rate": 0.123}
    _, returned = getattr(optim, name)(w0, grads[0], config)
    assert returned["learning_rate"] == 0.123


@pytest.mark.parametrize("name", RULES)
def test_the_config_dict_is_updated_and_returned(name, w0, grads):
    # The notebooks read the new state from the dict they passed in.
    config = {}
    _, returned = getattr(optim, name)(w0, grads[0], config)
    assert returned is config


@pytest.mark.parametrize("name", RULES)
def test_inputs_and_state_arrays_not_modified_in_place(name, w0, grads, rng):
    config = {
        "velocity": rng.standard_normal(SHAPE),
        "cache": rng.uniform(0, 1, SHAPE),
        "m": rng.standard_normal(SHAPE),
        "v": rng.uniform(0, 1, SHAPE),
        "t": 3,
    }
    held = {key: value.copy() for key, value in config.items() if key != "t"}
    arrays = {key: config[key] for key in held}
    w, dw = w0.copy(), grads[0].copy()
    next_w, _ = getattr(optim, name)(w, dw, config)
    assert next_w is not w
    assert np.array_equal(w, w0) and np.array_equal(dw, grads[0])
    for key, value in held.items():
        assert np.array_equal(arrays[key], value), key


@pytest.mark.parametrize("name", RULES)
def test_float32_weights_stay_float32(name, w0, grads):
    ws, config = run_rule(name, w0.astype(np.float32), [g.astype(np.float32) for g in grads], None)
    assert all(w.dtype == np.float32 for w in ws)
    for key in ("velocity", "cache", "m", "v"):
        if key in config:
            assert config[key].dtype == np.float32, key


@pytest.mark.parametrize("name", RULES)
def test_gradient_of_the_wrong_shape_is_rejected(name, w0):
    with pytest.raises(ValueError, match="dw"):
        getattr(optim, name)(w0, np.zeros((5, 4)))


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("bad", [-1e-3, -np.float32(1.0), np.nan, np.inf, "1e-3", None, True])
def test_a_bad_learning_rate_is_rejected(name, bad, w0, grads):
    config = {"learning_rate": bad}
    with pytest.raises(ValueError, match=r"config\['learning_rate'\] must be a finite number >= 0"):
        getattr(optim, name)(w0, grads[0], config)
    assert config == {"learning_rate": bad}  # nothing else was filled in


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("rate", [0, 0.0, np.float32(1e-3), np.float64(1e-3), 1])
def test_any_finite_learning_rate_from_zero_up_is_accepted(name, rate, w0, grads):
    w, config = getattr(optim, name)(w0, grads[0], {"learning_rate": rate})
    assert config["learning_rate"] is rate
    if rate == 0:
        assert_equal(w, w0)  # a rate of 0 leaves w where it was


def textbook_step(name: str, w, dw, config: dict) -> np.ndarray:
    """One step of the rule as whole-array textbook expressions (defaults of DEFAULTS)."""
    c = {**DEFAULTS[name], **config}
    lr = c["learning_rate"]
    if name == "sgd":
        return w - lr * dw
    if name == "sgd_momentum":
        return w + (c["momentum"] * c["velocity"] - lr * dw)
    if name == "rmsprop":
        cache = c["decay_rate"] * c["cache"] + (1 - c["decay_rate"]) * dw**2
        return w - lr * dw / (np.sqrt(cache) + c["epsilon"])
    t = c["t"] + 1
    m = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    v = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw**2
    mhat, vhat = m / (1 - c["beta1"] ** t), v / (1 - c["beta2"] ** t)
    return w - lr * mhat / (np.sqrt(vhat) + c["epsilon"])


@pytest.mark.parametrize("name", RULES)
def test_large_and_non_contiguous_arrays(name, rng):
    # More entries than a slice of the solution's rules (optim.SLICE: its Adam works on
    # slices, shared out on threads), not a multiple of it, and every array a non-contiguous
    # view: the whole array is updated, each entry exactly as the textbook expression
    # computes it.
    shape = (1000, 389)
    assert shape[0] * shape[1] > optim.SLICE and shape[0] * shape[1] % optim.SLICE
    w, dw = (np.asfortranarray(rng.standard_normal(shape)) for _ in range(2))
    state = {
        key: rng.uniform(0, 1, (shape[1], shape[0])).T for key in ("velocity", "cache", "m", "v")
    }
    config = {"learning_rate": 0.01, "t": 4, **state}
    expected = textbook_step(name, w, dw, config)
    next_w, _ = getattr(optim, name)(w, dw[...], dict(config))
    assert_close(next_w, expected, rtol=1e-14, atol=0)


# --------------------------------------------------------------------- closed forms


def test_adam_increments_t_before_bias_correction(w0, grads):
    # From zero moments at t = 0 the corrected moments are exactly dw and dw**2, so the
    # first step is lr * dw / (|dw| + eps); without the increment the correction divides by 0.
    next_w, config = optim.adam(w0, grads[0], {"learning_rate": 0.1, "epsilon": 1e-3})
    assert config["t"] == 1
    expected = w0 - 0.1 * grads[0] / (np.abs(grads[0]) + 1e-3)
    check_close("adam next_w after one step from t = 0", next_w, expected, 1e-12)


def test_sgd_closed_form(w0, grads):
    ws, _ = run_rule("sgd", w0, grads, {"learning_rate": 0.3})
    for k in range(1, K + 1):
        check_close(f"sgd next_w after step {k}", ws[k - 1], w0 - 0.3 * sum(grads[:k]), 1e-12)


def test_sgd_momentum_closed_form(w0, grads, rng):
    lr, mu = 0.2, 0.7
    v0 = rng.standard_normal(SHAPE)
    ws, config = run_rule(
        "sgd_momentum", w0, grads, {"learning_rate": lr, "momentum": mu, "velocity": v0}
    )
    velocities = discounted_sums(mu, [-lr * g for g in grads], v0)
    check_close("sgd_momentum config['velocity']", config["velocity"], velocities[-1], 1e-12)
    for k in range(1, K + 1):
        check_close(
            f"sgd_momentum next_w after step {k}", ws[k - 1], w0 + sum(velocities[:k]), 1e-12
        )


def test_rmsprop_closed_form(w0, grads, rng):
    lr, r, eps = 0.05, 0.9, 1e-3
    cache0 = rng.uniform(0, 1e-4, SHAPE)
    ws, config = run_rule(
        "rmsprop",
        w0,
        grads,
        {"learning_rate": lr, "decay_rate": r, "epsilon": eps, "cache": cache0},
    )
    caches = discounted_sums(r, [(1 - r) * g**2 for g in grads], cache0)
    steps = [lr * g / (np.sqrt(c) + eps) for g, c in zip(grads, caches, strict=True)]
    check_close("rmsprop config['cache']", config["cache"], caches[-1], 1e-12)
    for k in range(1, K + 1):
        check_close(f"rmsprop next_w after step {k}", ws[k - 1], w0 - sum(steps[:k]), 1e-12)


def test_adam_closed_form(w0, grads, rng):
    lr, b1, b2, eps, t0 = 0.01, 0.8, 0.95, 1e-3, 5
    m0, v0 = rng.standard_normal(SHAPE) * 1e-2, rng.uniform(0, 1e-4, SHAPE)
    config = {"learning_rate": lr, "beta1": b1, "beta2": b2, "epsilon": eps}
    config.update(m=m0, v=v0, t=t0)
    ws, config = run_rule("adam", w0, grads, config)
    ms = discounted_sums(b1, [(1 - b1) * g for g in grads], m0)
    vs = discounted_sums(b2, [(1 - b2) * g**2 for g in grads], v0)
    steps = [
        lr * (m / (1 - b1 ** (t0 + k))) / (np.sqrt(v / (1 - b2 ** (t0 + k))) + eps)
        for k, (m, v) in enumerate(zip(ms, vs, strict=True), start=1)
    ]
    assert config["t"] == t0 + K, "adam: config['t'] counts the steps"
    check_close("adam config['m']", config["m"], ms[-1], 1e-12)
    check_close("adam config['v']", config["v"], vs[-1], 1e-12)
    for k in range(1, K + 1):
        check_close(f"adam next_w after step {k}", ws[k - 1], w0 - sum(steps[:k]), 1e-12)


# ------------------------------------------------------------------------ torch.optim


def test_sgd_matches_torch(w0, grads):
    ws, _ = run_rule("sgd", w0, grads, {"learning_rate": 0.3})
    expected, _ = run_torch(lambda p: torch.optim.SGD(p, lr=0.3), w0, grads)
    for k, (ours, theirs) in enumerate(zip(ws, expected, strict=True), start=1):
        check_close(f"sgd next_w after step {k} (vs torch)", ours, theirs, 1e-12)


def test_sgd_momentum_matches_torch(w0, grads):
    # torch keeps b = mu * b + g and steps w - lr * b (dampening 0). With a constant learning
    # rate our velocity is v = -lr * b: v_1 = -lr * g_1 = -lr * b_1, and if v = -lr * b then
    # mu * v - lr * g = -lr * (mu * b + g). So the weights coincide step by step.
    lr, mu = 0.2, 0.7
    ws, config = run_rule("sgd_momentum", w0, grads, {"learning_rate": lr, "momentum": mu})
    expected, state = run_torch(
        lambda p: torch.optim.SGD(p, lr=lr, momentum=mu, dampening=0), w0, grads
    )
    velocity = -lr * tn(state["momentum_buffer"])
    check_close("sgd_momentum config['velocity'] (vs torch)", config["velocity"], velocity, 1e-10)
    for k, (ours, theirs) in enumerate(zip(ws, expected, strict=True), start=1):
        check_close(f"sgd_momentum next_w after step {k} (vs torch)", ours, theirs, 1e-10)


def test_rmsprop_matches_torch(w0, grads):
    # torch's alpha is our decay_rate; both add eps outside the square root.
    lr, r, eps = 0.05, 0.9, 1e-3
    ws, config = run_rule(
        "rmsprop", w0, grads, {"learning_rate": lr, "decay_rate": r, "epsilon": eps}
    )
    expected, state = run_torch(
        lambda p: torch.optim.RMSprop(p, lr=lr, alpha=r, eps=eps), w0, grads
    )
    check_close(
        "rmsprop config['cache'] (vs torch)", config["cache"], tn(state["square_avg"]), 1e-10
    )
    for k, (ours, theirs) in enumerate(zip(ws, expected, strict=True), start=1):
        check_close(f"rmsprop next_w after step {k} (vs torch)", ours, theirs, 1e-10)


def test_adam_matches_torch(w0, grads):
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-3
    config = {"learning_rate": lr, "beta1": b1, "beta2": b2, "epsilon": eps}
    ws, config = run_rule("adam", w0, grads, config)
    expected, state = run_torch(
        lambda p: torch.optim.Adam(p, lr=lr, betas=(b1, b2), eps=eps, foreach=False), w0, grads
    )
    assert config["t"] == int(state["step"]) == K
    check_close("adam config['m'] (vs torch)", config["m"], tn(state["exp_avg"]), 1e-10)
    check_close("adam config['v'] (vs torch)", config["v"], tn(state["exp_avg_sq"]), 1e-10)
    for k, (ours, theirs) in enumerate(zip(ws, expected, strict=True), start=1):
        check_close(f"adam next_w after step {k} (vs torch)", ours, theirs, 1e-10)
