"""What the notebooks print when they check a result: one line per check, in one format.

Two kinds of line, read back by the course staff's run of the notebooks and by the tests that
execute them:

    [check] affine_forward out: rel error 9.8e-10 (must be <= 1e-07) ok
    [target] TwoLayerNet validation accuracy: 52.10% (target >= 50.00%): met

A check that fails raises ``AssertionError`` naming the function, so a broken implementation
stops the notebook at the cell that is wrong. A target that is missed raises too, unless
``enforce=False``. The notebooks pass ``enforce=not QUICK`` for the targets that check the
student's code (small subsets in quick mode cannot reach full-data targets), and
``enforce=False`` for the goals on the student's own choices (the best nets, the open-ended
models and their wall times): a student's run reports those as met or missed and goes on.
"""

from __future__ import annotations

import re

import numpy as np

CHECK_LINE = re.compile(
    r"^\[check\] (?P<name>.+): rel error (?P<error>\S+) "
    r"\(must be <= (?P<level>\S+)\) (?P<status>ok|FAILED)$"
)
TARGET_LINE = re.compile(
    r"^\[target\] (?P<name>.+?): (?P<value>[^:]+?) \(target (?P<op>>=|<=) (?P<target>.+?)\): "
    r"(?P<status>met|missed)(?P<unenforced> \(not enforced\))?$"
)


class ShapeMismatch(AssertionError, ValueError):
    """An output whose shape is not the expected one: a failed check (``AssertionError``) and a
    bad value (``ValueError``)."""


def same_shape(
    name: str, actual: np.ndarray | float, expected: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """``actual`` and ``expected`` as float64 arrays of one shape.

    Different shapes raise ``ShapeMismatch`` naming ``name`` (what is checked, e.g.
    ``"affine_forward out"``) and both shapes, never numpy's bare broadcasting error.
    """
    __tracebackhide__ = True  # pytest shows the caller's line
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        hint = ""
        if actual.size == expected.size:
            hint = " (the same number of entries: a transpose or a reshape?)"
        raise ShapeMismatch(
            f"{name}: shapes differ, {actual.shape} (output) vs {expected.shape} (expected){hint}"
        )
    return actual, expected


def entry_errors(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The relative error of each entry, ``|x - y| / max(1e-8, |x| + |y|)``; NaN where an
    infinite entry meets an infinite one (no warning: the NaN fails the check)."""
    with np.errstate(invalid="ignore"):
        return np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))


def worst_entry(actual: np.ndarray, expected: np.ndarray, errors: np.ndarray) -> str:
    """Where ``errors`` (one per entry, NaN counting as worst) is largest, and the two values
    there: ``"worst entry at index (1, 2): 0.5 vs 0.25 expected"``. Never the full arrays."""
    if errors.size == 0:
        return "no entries"
    index = np.unravel_index(np.argmax(np.where(np.isnan(errors), np.inf, errors)), errors.shape)
    at = f" at index {tuple(int(i) for i in index)}" if errors.ndim else ""
    return f"worst entry{at}: {actual[index]:.6g} vs {expected[index]:.6g} expected"


def rel_error(x: np.ndarray | float, y: np.ndarray | float, name: str = "rel_error") -> float:
    """The notebooks' measure of agreement: ``max(|x - y| / max(1e-8, |x| + |y|))``.

    ``x`` and ``y`` must have one shape; otherwise ``ShapeMismatch`` names ``name``."""
    x, y = same_shape(name, x, y)
    return float(np.max(entry_errors(x, y), initial=0.0))


def relative_error(actual: np.ndarray, expected: np.ndarray, per_entry: bool = True) -> float:
    """``check_close``'s measure for two arrays of one shape: the largest per-entry relative
    error, or with ``per_entry=False`` the largest difference relative to the largest entries,
    ``max|a - e| / max(1e-8, max|a| + max|e|)``."""
    if per_entry:
        return float(np.max(entry_errors(actual, expected), initial=0.0))
    with np.errstate(invalid="ignore"):
        error = float(np.max(np.abs(actual - expected), initial=0.0))
        largest = np.max(np.abs(actual), initial=0.0) + np.max(np.abs(expected), initial=0.0)
        return error / max(float(largest), 1e-8)


def check_close(
    name: str,
    actual: np.ndarray | float,
    expected: np.ndarray | float,
    level: float = 1e-7,
    *,
    per_entry: bool = True,
) -> float:
    """Print and assert that ``rel_error(actual, expected) <= level``; return the error.

    ``name`` says what is compared, starting with the function under test
    (``"batchnorm_backward dx"``), so that a failure names it: a wrong shape raises
    ``ShapeMismatch`` with both shapes, a wrong value ``AssertionError`` with the worst entry.
    With ``per_entry=False`` the error is the largest difference relative to the largest
    entries (``relative_error``): for whole gradients of a network, whose tiny entries make the
    per-entry error meaningless. On a notebook's fixed inputs a failure that matches a known
    mistake names it too (``cs231n/known_mistakes.py``).
    """
    __tracebackhide__ = True  # pytest shows the caller's line
    try:
        a, e = same_shape(name, actual, expected)
    except ShapeMismatch as error:
        raise ShapeMismatch(f"{error}{_hint(name, actual, expected, level, per_entry)}") from None
    error = relative_error(a, e, per_entry)
    with np.errstate(invalid="ignore"):
        where = worst_entry(a, e, entry_errors(a, e) if per_entry else np.abs(a - e))
    hint = "" if error <= level else _hint(name, actual, expected, level, per_entry)
    return check_error(name, error, level, where, hint)


def _hint(name: str, actual, expected, level: float, per_entry: bool) -> str:
    """The known mistake that a failed check's values match, as lines for its message."""
    from cs231n import known_mistakes  # read only when a check fails

    return known_mistakes.hint(name, actual, expected, level, per_entry)


def check_error(
    name: str, error: float, level: float = 1e-7, where: str = "", hint: str = ""
) -> float:
    """Print and assert an already computed relative error (e.g. from a gradient check);
    ``where`` (e.g. the worst entry) joins the message of a failure, ``hint`` (lines naming
    a known mistake) ends it."""
    __tracebackhide__ = True  # pytest shows the caller's line
    ok = bool(error <= level)  # a NaN error fails
    print(
        f"[check] {name}: rel error {error:.2e} (must be <= {level:.0e}) {'ok' if ok else 'FAILED'}"
    )
    if not ok:
        raise AssertionError(
            f"{name}: relative error {error:.2e} is above {level:.0e}"
            + (f"; {where}" if where else "")
            + "; fix the function named here"
            + hint
        )
    return error


def report_target(
    name: str,
    value: float,
    target: float,
    *,
    higher_is_better: bool = True,
    fmt: str = "{:.2%}",
    enforce: bool = True,
) -> bool:
    """Print a headline figure beside its target and whether it is met; return that.

    ``fmt`` formats both numbers (accuracies as percentages by default; ``"{:.1f} min"`` for
    times). A missed target raises ``AssertionError`` when ``enforce`` is true.
    """
    met = bool(value >= target) if higher_is_better else bool(value <= target)
    op = ">=" if higher_is_better else "<="
    note = "" if enforce else " (not enforced)"
    shown, wanted = fmt.format(value), fmt.format(target)
    print(f"[target] {name}: {shown} (target {op} {wanted}): {'met' if met else 'missed'}{note}")
    if enforce and not met:
        raise AssertionError(f"{name}: {shown} misses the target {op} {wanted}")
    return met
