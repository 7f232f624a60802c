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


def rel_error(x: np.ndarray | float, y: np.ndarray | float) -> float:
    """The notebooks' measure of agreement: ``max(|x - y| / max(1e-8, |x| + |y|))``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: shapes differ, {x.shape} vs {y.shape}")
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def check_close(
    name: str, actual: np.ndarray | float, expected: np.ndarray | float, level: float = 1e-7
) -> float:
    """Print and assert that ``rel_error(actual, expected) <= level``; return the error.

    ``name`` says what is compared, starting with the function under test
    (``"batchnorm_backward dx"``), so that a failure names it.
    """
    return check_error(name, rel_error(actual, expected), level)


def check_error(name: str, error: float, level: float = 1e-7) -> float:
    """Print and assert an already computed relative error (e.g. from a gradient check)."""
    ok = bool(error <= level)  # a NaN error fails
    print(
        f"[check] {name}: rel error {error:.2e} (must be <= {level:.0e}) {'ok' if ok else 'FAILED'}"
    )
    if not ok:
        raise AssertionError(
            f"{name}: relative error {error:.2e} is above {level:.0e}; fix the function named here"
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
