"""Relations between a wrong output and ours that need no catalogued mistake.

A wrong output often stands in a plain relation to the right one: N times too large, the
opposite sign, transposed, off by ``reg * W``, equal to an input passed through, wrong only
where ``x <= 0``. Each relation here is tested on every draw of the case (the draws differ in
shapes and values, so a relation that holds on all of them is no coincidence) and is worded
as a teaching assistant would say it: the fact, then its usual cause.

Everything here reads numbers only: a wrong output's draws (``Draw``: the student's array,
ours, the draw's inputs and the tolerance) go in, ``Clue`` s come out. A relation is a fact
about the outputs, so a clue is never a wrong statement; where several causes fit one fact
equally (the factor is both N and 2 on every draw), the clue states the fact without a cause.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# State an output carries from one call to the next, and the input it started from
# (programs.py): an update rule's config entries, batchnorm's running statistics.
STATE_START = {
    "velocity": "v0", "cache": "cache0", "m": "m0", "v": "cache0", "t": "t0",
    "running_mean": "running_mean", "running_var": "running_var",
}  # fmt: skip
PREFIXES = ("fresh_", "resumed_", "default_")
SCALARS = ("reg", "lr", "p", "momentum", "decay")  # named scalar inputs a factor may be


@dataclass(frozen=True)
class Draw:
    """One draw of one output: the student's value, ours, the draw's inputs, the tolerance
    (relative to the largest entry of ours, as cases.compare measures), and our outputs of
    the same draw by name."""

    actual: np.ndarray | None
    expected: np.ndarray
    inputs: dict[str, np.ndarray]
    tol: float
    ours: dict[str, np.ndarray] = field(default_factory=dict)  # our other outputs, this draw


@dataclass(frozen=True)
class Clue:
    key: str  # what the class report counts, e.g. "N times too large"
    text: str  # the sentence for the student, naming the output


def _close(actual: np.ndarray, expected: np.ndarray, tol: float) -> bool:
    scale = max(1e-8, float(np.max(np.abs(expected)))) if expected.size else 1.0
    return bool(np.max(np.abs(actual - expected), initial=0.0) <= tol * scale)


def _values(d: Draw) -> np.ndarray | None:
    """The student's value as float64 in our shape (NaN and inf kept: no relation but a mask
    fits them), or None (missing, not numbers, another size)."""
    if d.actual is None:
        return None
    a = np.asarray(d.actual)
    if a.dtype.kind not in "biuf" or a.size != d.expected.size:
        return None
    a = a.astype(np.float64)
    if a.shape != d.expected.shape:
        if a.squeeze().shape != d.expected.squeeze().shape:
            return None
        a = a.reshape(d.expected.shape)
    return a


def _batch(inputs: dict[str, np.ndarray]) -> np.ndarray | None:
    for name in ("x", "X"):
        if name in inputs and np.ndim(inputs[name]) >= 2:
            return inputs[name]
    return None


def constants(inputs: dict[str, np.ndarray]) -> dict[str, float]:
    """Named numbers a wrong factor is likely to be, on one draw."""
    found = {"2": 2.0, "1/2": 0.5, "-1": -1.0}
    x = _batch(inputs)
    if x is not None:
        n = x.shape[0]
        found.update({"N": n, "1/N": 1 / n})
        if n > 1:
            found.update({"N/(N-1)": n / (n - 1), "sqrt((N-1)/N)": np.sqrt((n - 1) / n)})
            found["sqrt(N/(N-1))"] = np.sqrt(n / (n - 1))
        if x.ndim == 4:
            m = n * x.shape[2] * x.shape[3]
            found.update({"N*H*W": m, "1/(N*H*W)": 1 / m})
        if x.ndim == 2 and x.shape[1] > 1:  # scores (N, C)
            found.update({"C": x.shape[1], "1/C": 1 / x.shape[1]})
    for name in SCALARS:
        if name in inputs and np.ndim(inputs[name]) == 0 and float(inputs[name]) not in (0, 1):
            s = float(inputs[name])
            found.update({name: s, f"1/{name}": 1 / s, f"-{name}": -s})
    return {k: float(v) for k, v in found.items()}


def _named(values: list[float], per_draw: list[dict[str, float]]) -> list[str]:
    """The constants that equal ``values[i]`` on every draw i (within 1e-6, relative)."""
    names = set(per_draw[0])
    for v, consts in zip(values, per_draw, strict=True):
        names &= {k for k, c in consts.items() if abs(v - c) <= 1e-6 * max(1.0, abs(c))}
    return sorted(names)


# ------------------------------------------------------------------------------ relations
# Each takes (output name, draws, the student's values per draw) and returns a Clue or None.

FACTOR_WORDS = {
    "N": ("N times too large", "a sum over the batch where a mean belongs"),
    "1/N": ("N times too small", "divided by the batch size N once too often"),
    "2": ("twice too large", "a factor 2 too many (the derivative of 0.5 * a^2 is a)"),
    "1/2": ("half of what it should be", "a factor 1/2 too many, or a 2 left out"),
    "-1": ("of the opposite sign", "a sign is flipped: check each minus"),
    "N/(N-1)": ("N/(N-1) times too large", "the unbiased variance (dividing by N - 1) "
                "where the biased one belongs (divide by N)"),
    "sqrt((N-1)/N)": ("sqrt((N-1)/N) times too small", "the unbiased variance (dividing by "
                      "N - 1) where the biased one belongs (divide by N)"),
    "sqrt(N/(N-1))": ("sqrt(N/(N-1)) times too large", "the variance is divided by N - 1 "
                      "or N where the other belongs"),
    "N*H*W": ("N*H*W times too large", "a sum over the batch and the image where a mean "
              "belongs"),
    "1/(N*H*W)": ("N*H*W times too small", "divided by N*H*W once too often"),
    "1/C": ("C times too small", "divided by the number of columns C (a mean over the "
            "classes too, not only over the samples)"),
    "C": ("C times too large", "a sum over the columns (the classes) where none belongs"),
    "lr": ("learning-rate times too small", "the learning rate applied twice"),
    "1/lr": ("missing the learning rate", "the step is not multiplied by the learning rate"),
}  # fmt: skip


def _factor_words(name: str, key: str) -> tuple[str, str]:
    if key in FACTOR_WORDS:
        return FACTOR_WORDS[key]
    return f"{key} times what it should be", f"a factor {key} does not belong there"


def factor(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """``actual = c * ours`` on every draw, c a named constant (N, 1/N, 2, -1, lr, ...)."""
    cs = []
    for d, a in zip(draws, values, strict=True):
        e = d.expected.astype(np.float64)
        if not np.any(e):
            return None
        c = 1.0 if _close(a, e, d.tol) else float(np.vdot(a, e) / np.vdot(e, e))
        if abs(c) < 1e-9 or not _close(a, c * e, d.tol):
            return None
        cs.append(c)  # 1 where the draw is right: the named factor must be 1 there (N = 1)
    if all(c == 1.0 for c in cs):
        return None
    names = _named(cs, [constants(d.inputs) for d in draws])
    if len(names) != 1:
        if len(set(np.round(cs, 9))) == 1 and len(draws) > 1:  # one number, no name or two
            return Clue(f"{output} off by a constant factor",
                        f"{output} is {cs[0]:.4g} times ours on every input")  # fmt: skip
        return None
    fact, cause = _factor_words(output, names[0])
    return Clue(f"{output} {fact}", f"{output} is {fact} on every input: {cause}")


def passed_through(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """``actual`` equals an input (other than ours): passed through unchanged."""
    name = _the_one_equal(draws, values, lambda d: d.inputs, output)
    if name is None:
        return None
    return Clue(f"{output} equals the input {name}",
                f"{output} equals the input {name} unchanged: the step that transforms it "
                "is missing")  # fmt: skip


def _the_one_equal(draws, values, arrays, output: str) -> str | None:
    """The one name among ``arrays(draw)`` (a dict of arrays) whose array equals the
    student's value on every draw while ours does not; None for none or several."""
    common = None
    for d, a in zip(draws, values, strict=True):
        here = {
            k for k, v in arrays(d).items()
            if k != output and np.ndim(v) and np.shape(v) == a.shape
            and _close(a, np.asarray(v, np.float64), d.tol)
            and not _close(d.expected, np.asarray(v, np.float64), d.tol)
        }  # fmt: skip
        common = here if common is None else common & here
    return next(iter(common)) if common and len(common) == 1 else None


def _start(output: str, d: Draw) -> np.ndarray | None:
    """The value a state output had before the calls (zeros for a fresh config)."""
    base = output
    for prefix in PREFIXES:
        base = base.removeprefix(prefix)
    if base not in STATE_START:
        return None
    if output.startswith(("fresh_", "default_")):  # a config or bn_param without it: zeros
        return np.zeros_like(d.expected, dtype=np.float64)
    start = d.inputs.get(STATE_START[base])
    return None if start is None or np.shape(start) != d.expected.shape else start


def not_stored(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """A state (config entry, running statistic) still holds its starting value."""
    for d, a in zip(draws, values, strict=True):
        start = _start(output, d)
        if start is None or not _close(a, np.asarray(start, np.float64), d.tol):
            return None
    where = "bn_param" if "running" in output else "config"
    return Clue(f"{output} never stored back",
                f"{output} keeps its value from before the call: the new value is computed "
                f"but never stored back into {where}")  # fmt: skip


def step_factor(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """An update rule's first step (``w[0] - w``) is c times ours, c named."""
    if output not in ("w", "fresh_w", "resumed_w"):
        return None
    steps = []
    for d, a in zip(draws, values, strict=True):
        w = d.inputs.get("w")
        if w is None or a.shape[1:] != np.shape(w):
            return None
        steps.append(Draw(a[0] - w, d.expected[0] - w, d.inputs, d.tol))
    if not any(np.any(s.actual) for s in steps):
        return Clue(f"{output} never changes",
                    f"{output} never changes: the update is computed but the old w is "
                    "returned")  # fmt: skip
    clue = factor("the step", steps, [s.actual for s in steps])
    if clue is None:
        return None
    return Clue(f"{output}: {clue.key}", f"{output}: {clue.text}")


def offset(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """``actual - ours = c * T`` with T an input of the output's shape (a weight, x, dout)
    and c a named constant (reg, 0.5 * reg, ...): a term too many or too few."""
    found = None
    for d, a in zip(draws, values, strict=True):
        e = d.expected
        diff, here = a - e, set()
        for name, t in d.inputs.items():
            t = np.asarray(t, np.float64)
            if t.ndim == 0 or t.shape != a.shape or not np.any(t):
                continue
            c = float(np.vdot(diff, t) / np.vdot(t, t))
            if np.max(np.abs(diff - c * t)) <= d.tol * max(1e-8, float(np.max(np.abs(e)))):
                consts = constants(d.inputs)
                consts.update({f"{k}/2": v / 2 for k, v in constants(d.inputs).items()})
                consts["1"] = 1.0
                here |= {(name, k) for k in _named([c], [consts])}
        found = here if found is None else found & here
    if not found or len(found) != 1:
        return None
    ((name, k),) = found
    sign = "-" if k.startswith("-") else "+"
    term = f"{k.lstrip('-')} * {name}" if k != "1" else name
    return Clue(f"{output} off by {k} * {name}",
                f"{output} is ours {sign} {term} on every input: a term {term} "
                f"{'too many' if sign == '+' else 'missing'}")  # fmt: skip


def l2_term(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """A scalar loss off by c * sum(W^2) over all the weights, or over one of them, with c
    named (reg, reg/2, -reg/2, ...): the L2 term without its 0.5, left out, or counted twice."""
    found = None
    for d, a in zip(draws, values, strict=True):
        weights = {k: v for k, v in d.inputs.items() if k.startswith("W") and np.ndim(v) >= 2}
        if a.ndim or not weights or "reg" not in d.inputs or not float(d.inputs["reg"]):
            return None
        terms = {"all the weights": sum(float(np.sum(w**2)) for w in weights.values())}
        terms.update({k: float(np.sum(w**2)) for k, w in weights.items()})
        reg = float(d.inputs["reg"])
        named = {"reg": reg, "reg/2": reg / 2, "-reg": -reg, "-reg/2": -reg / 2}
        diff, scale = float(a - d.expected), max(1e-8, abs(float(d.expected)))
        here = {(t, k) for t, r in terms.items() for k, c in named.items()
                if abs(diff - c * r) <= d.tol * scale}  # fmt: skip
        found = here if found is None else found & here
    if not found or len(found) != 1:
        return None
    ((over, k),) = found
    what = "sum(W^2) over " + over if over == "all the weights" else f"sum({over}^2)"
    cause = {
        "reg/2": "the L2 term is counted twice, or its 0.5 left out",
        "reg": "the L2 term is counted twice",
        "-reg/2": "the L2 term 0.5 * reg * sum(W^2) is left out",
        "-reg": "the L2 term is taken with a factor 0.5 where the kit has none, or left out",
    }[k]
    if over != "all the weights":
        cause += f" (for {over} only)"
    return Clue(f"{output} off by {k} * {what}",
                f"{output} is off by {k} * {what} on every input: {cause}")  # fmt: skip


def constant_offset(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """A scalar off by the same number on every draw (a margin counted once too often)."""
    if len(draws) < 2 or any(a.ndim for a in values):
        return None
    diffs = {round(float(a - d.expected), 9) for d, a in zip(draws, values, strict=True)}
    if len(diffs) != 1:
        return None
    (diff,) = diffs
    return Clue(f"{output} off by a constant",
                f"{output} is off by {diff:+.4g} on every input: a constant term (a margin, "
                "the correct class counted among the others) is extra or missing")  # fmt: skip


AXIS_NAMES = {2: ("the batch", "the features"), 4: ("N", "C", "H", "W")}


def _normalized(x: np.ndarray, gamma, beta, eps: float, axes: tuple, ddof: int) -> np.ndarray:
    """x normalized over ``axes`` (variance with ``ddof``), scaled by gamma, shifted by beta."""
    if x.ndim == 4 and np.size(gamma) == x.shape[1]:
        gamma, beta = np.reshape(gamma, (1, -1, 1, 1)), np.reshape(beta, (1, -1, 1, 1))
    n = int(np.prod([x.shape[a] for a in axes]))
    if n - ddof < 1:
        return np.full(x.shape, np.nan)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).sum(axis=axes, keepdims=True) / (n - ddof)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def _normalizations(d: Draw) -> dict[tuple, np.ndarray]:
    """Every way to normalize the draw's x: (axes, ddof) -> output."""
    x, gamma, beta = (d.inputs.get(k) for k in ("x", "gamma", "beta"))
    if x is None or gamma is None or beta is None or np.ndim(x) not in AXIS_NAMES:
        return {}
    x = np.asarray(x, np.float64)
    eps = float(d.inputs.get("eps", 1e-5))
    subsets = [tuple(a for a in range(x.ndim) if mask >> a & 1) for mask in range(1, 2**x.ndim)]
    return {(axes, ddof): _normalized(x, gamma, beta, eps, axes, ddof)
            for axes in subsets for ddof in (0, 1)}  # fmt: skip


def normalized_over(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """A normalization over other axes than ours, or with the unbiased variance (ddof=1):
    the student's output is x normalized another way, on every draw."""
    if output not in ("out", "test_out"):
        return None
    theirs = ours = None
    for d, a in zip(draws, values, strict=True):
        ways = _normalizations(d)
        fit = {w for w, v in ways.items() if v.shape == a.shape and _close(a, v, d.tol)}
        mine = {w for w, v in ways.items() if v.shape == a.shape and _close(d.expected, v, d.tol)}
        theirs = fit if theirs is None else theirs & fit
        ours = mine if ours is None else ours & mine
    if not theirs or len(ours or ()) != 1 or len(theirs) != 1 or theirs == ours:
        return None
    ((axes, _),), ((our_axes, _),) = theirs, ours
    names = AXIS_NAMES[draws[0].expected.ndim]
    over = ", ".join(names[a] for a in axes)
    if axes == our_axes:
        return Clue(f"{output} normalized with the unbiased variance",
                    f"{output} uses the unbiased variance (dividing by n - 1): normalize with "
                    "the biased one (divide by n)")  # fmt: skip
    should = ", ".join(names[a] for a in our_axes)
    return Clue(
        f"{output} normalized over the wrong axes",
        f"{output} normalizes over {over}; this function normalizes over {should}",
    )


def per_sample_offset(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """``actual - ours`` is the same for every sample (row), and not zero: a term that is
    constant over the batch (a mean over it) is missing or extra."""
    for d, a in zip(draws, values, strict=True):
        diff = a - d.expected
        if a.ndim < 2 or a.shape[0] < 2 or not _close(diff, diff[:1], d.tol):
            return None
    return Clue(f"{output} off by a term constant over the batch",
                f"{output} is off by the same amount for every sample: a term averaged over "
                "the batch (like the mean of dout) is missing or extra")  # fmt: skip


def _masks(d: Draw, a: np.ndarray) -> dict[str, np.ndarray]:
    """Where an output may be wrong alone: x <= 0, ties of x, and on images (N, C, H, W) the
    border, or the first or last index of an axis (a loop's bounds)."""
    masks = {}
    for name in ("x", "X"):
        x = d.inputs.get(name)
        if x is None or np.shape(x) != a.shape:
            continue
        x = np.asarray(x)
        masks[f"where {name} <= 0"] = x <= 0
        _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
        masks[f"where {name} has tied values"] = (counts[inverse] > 1).reshape(x.shape)
    if a.ndim == 4:
        k = max(1, int(d.inputs.get("pad", 1)))
        border = np.ones(a.shape[2:], bool)
        border[k:-k, k:-k] = False
        masks["at the border of the image"] = np.broadcast_to(border, a.shape)
    for axis in range(a.ndim if a.ndim == 4 else 0):  # the loops of the naive conv and pool
        if a.shape[axis] > 1:
            for index, which in ((0, "first"), (-1, "last")):
                m = np.zeros(a.shape, bool)
                m[(slice(None),) * axis + (index,)] = True
                masks[f"at the {which} index of axis {axis}"] = m
    return masks


MASK_CAUSES = {
    "<= 0": "look at the entries the ReLU turns off (x <= 0 gets no gradient)",
    "tied": "at ties of a maximum, the gradient goes to one place, as the forward pass chose",
    "border": "look at the padding: its size and which side it is on",
    "first index": "a loop or a slice that starts one too late, or skips the first entry",
    "last index": "a loop or a slice that stops one short (range(n - 1), [:-1])",
}


def only_where(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """The output is wrong only on a mask (where x <= 0, at ties, at the border, at the
    first or last index of an axis), on every draw where it is wrong."""
    fits, telling, seen = None, set(), []  # telling: masks that leave out something somewhere
    for d, a in zip(draws, values, strict=True):
        scale = max(1e-8, float(np.max(np.abs(d.expected), initial=0.0)))
        wrong = ~(np.abs(a - d.expected) <= d.tol * scale)  # NaN is wrong
        if not wrong.any():
            continue
        masks = _masks(d, a)
        here = {k for k, m in masks.items() if not np.any(wrong & ~m)}
        telling |= {k for k in here if not masks[k].all()}
        fits = here if fits is None else fits & here
        seen.append(masks)
    fits = (fits or set()) & telling
    # The narrowest mask, where one lies inside every other that fits (the last column lies
    # on the border): it says more.
    narrowest = [k for k in fits if all(not np.any(m[k] & ~m[o]) for m in seen for o in fits)]
    if len(narrowest) != 1:
        return None
    (where,) = narrowest
    cause = next(c for k, c in MASK_CAUSES.items() if k in where)
    return Clue(f"{output} wrong only {where}", f"{output} is wrong only {where}: {cause}")


def all_zero(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """Zeros where ours is not: never computed, or overwritten."""
    if any(np.any(a) for a in values) or not any(np.any(d.expected) for d in draws):
        return None
    return Clue(f"{output} all zeros",
                f"{output} is all zeros: it is never computed, or its array is created and "
                "never filled")  # fmt: skip


def clipped(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """Ours with its negative entries set to zero: a ReLU where none belongs."""
    for d, a in zip(draws, values, strict=True):
        if not _close(a, np.maximum(d.expected, 0), d.tol):
            return None
    return Clue(f"{output} clipped at zero",
                f"{output} is ours with its negative entries set to zero: a ReLU (or a "
                "maximum with 0) where none belongs")  # fmt: skip


def swapped(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """What another output of ours should hold: two outputs swapped, or the wrong one kept."""
    other = _the_one_equal(draws, values, lambda d: d.ours, output)
    if other is None:
        return None
    return Clue(f"{output} holds {other}",
                f"{output} holds what {other} should: two results swapped, or one stored "
                "under the other's name")  # fmt: skip


def _properties(d: Draw) -> dict[str, bool]:
    """What sets one draw apart from the others (the branches a case's draws reach)."""
    i, x = d.inputs, _batch(d.inputs)
    found = {}
    if "stride" in i:
        found["stride > 1"] = int(i["stride"]) > 1
    if "pad" in i:
        found["pad > 0"] = int(i["pad"]) > 0
    if "pool_stride" in i and "ph" in i:
        found["pooling windows that overlap"] = int(i["pool_stride"]) < max(
            int(i["ph"]), int(i["pw"])
        )
    if "ties" in i:
        found["tied values in a window"] = bool(int(i["ties"]))
    if x is not None:
        found["a batch of one sample"] = x.shape[0] == 1
        found["float32 inputs"] = x.dtype == np.float32
    return found


def only_on_draws(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """Wrong only on draws with one property (stride > 1, pad > 0, float32, ...), right on
    the others; of several such properties, those true on the fewest draws."""
    wrong = [not _close(a, d.expected, d.tol) for d, a in zip(draws, values, strict=True)]
    if all(wrong) or len(draws) < 3:  # two draws split one way by chance too often
        return None
    props = [_properties(d) for d in draws]
    cover = {
        k: sum(p.get(k, False) for p in props)
        for k in props[0]
        if all(p.get(k) or not w for p, w in zip(props, wrong, strict=True))
        and not all(p.get(k) for p in props)
    }  # fmt: skip
    if not cover:
        return None
    fewest = min(cover.values())
    which = " and ".join(k for k, n in cover.items() if n == fewest)
    return Clue(f"{output} wrong only with {which}",
                f"{output} is wrong only on inputs with {which}, right on the others: look at "
                "the code that handles that case")  # fmt: skip


def wrong_shape(output: str, draws: list[Draw], _values) -> Clue | None:
    """The right values in the wrong shape: transposed, or not reshaped back."""
    kinds = set()
    for d in draws:
        a = None if d.actual is None else np.asarray(d.actual)
        if a is None or a.dtype.kind not in "biuf" or a.size != d.expected.size:
            return None
        e = d.expected
        if a.shape == e.shape:
            continue
        if a.ndim == 2 and a.T.shape == e.shape and _close(a.T.astype(float), e, d.tol):
            kinds.add("transposed")
        elif _close(a.reshape(e.shape).astype(float), e, d.tol):
            kinds.add("reshaped")
        else:
            return None
    if kinds == {"transposed"}:
        return Clue(f"{output} transposed",
                    f"{output} holds the right values, transposed: swap the order of the "
                    "product or transpose the result")  # fmt: skip
    if kinds == {"reshaped"}:
        shape = tuple(draws[0].expected.shape)
        return Clue(f"{output} not reshaped",
                    f"{output} holds the right values in the wrong shape: reshape it to the "
                    f"input's shape (here {shape})")  # fmt: skip
    return None


# What a wrong output of an initialization case (programs._init_summary) says by itself.
MEANINGS = {
    "missing_names": "self.params lacks some of the parameters the net needs: check each "
    "name (W1, b1, ..., numbered from 1)",
    "unexpected_names": "self.params holds names the net does not have: check the names and "
    "their numbering (from 1)",
    "shapes": "a parameter has the wrong shape: a weight is (inputs, outputs), a bias (outputs,)",
    "weight_std_off": "the weights' spread is not weight_scale: draw them as weight_scale "
    "times standard normal numbers",
    "weight_mean_off": "the weights are not centered at zero: draw them from a normal "
    "distribution of mean 0 (randn, not rand)",
    "bias_max": "the biases do not start at zero",
}


def meaning(output: str, draws: list[Draw], values: list[np.ndarray]) -> Clue | None:
    """What a wrong summary of an initialization means (its name says what it measures)."""
    base = output.removeprefix("init_")
    if base not in MEANINGS:
        return None
    return Clue(f"{base} wrong", MEANINGS[base])


VALUE_RELATIONS: list[Callable] = [
    not_stored, all_zero, passed_through, swapped, factor, step_factor, offset, l2_term,
    constant_offset, normalized_over, clipped, per_sample_offset, only_where, only_on_draws,
]  # fmt: skip
MAX_CLUES = 1  # per output: the first that fits, in the order above (most specific first)


def clues(output: str, draws: list[Draw], statistic: bool = False) -> list[Clue]:
    """What relates a wrong output to ours on every draw (none when nothing does). An
    initialization's summaries get their meaning; another ``statistic`` of random draws
    (compared loosely) gets nothing."""
    said = meaning(output, draws, [])
    if said is not None or statistic:  # an initialization's summary says it by its name
        return [said] if said else []
    shape = wrong_shape(output, draws, None)
    if shape is not None:
        return [shape]
    values = [_values(d) for d in draws]
    if any(v is None for v in values):
        return []
    found = []
    for relation in VALUE_RELATIONS:
        clue = relation(output, draws, values)
        if clue is not None:
            found.append(clue)
        if len(found) == MAX_CLUES:
            break
    return found
