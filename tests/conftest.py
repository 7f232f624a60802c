"""Shared test helpers: the one assert for arrays (short messages), the notebooks' agreement
measure, numpy <-> torch bridges, and the rule that gives each test one question. The student
kit ships this file as it is, so it reaches nothing outside the public tests and the package
(the solution's helpers for running notebooks, and the grader's pytest plugin, live
elsewhere)."""

from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np
import pytest
import torch

from cs231n.notebook_checks import check_close, rel_error, same_shape, worst_entry

torch.set_num_threads(2)

__all__ = ["assert_close", "assert_equal", "check_close", "rel_error", "tn", "tt"]


def assert_close(
    actual, expected, rtol: float = 1e-7, atol: float = 0.0, err_msg: str = ""
) -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` entry by entry (NaNs equal
    where both are NaN), as ``np.testing.assert_allclose`` does, with a short message: what
    is compared (``err_msg``), the shapes, how many entries are off and the worst one with
    its index, never the full arrays. A scalar ``expected`` is compared with every entry.
    Without ``err_msg`` a failure names the test's expression for ``actual`` (e.g. ``dx``)."""
    __tracebackhide__ = True
    if np.ndim(expected) == 0:
        expected = np.broadcast_to(np.asarray(expected, dtype=np.float64), np.shape(actual))
    misshaped = np.shape(actual) != np.shape(expected)
    name = err_msg or (_compared_expression() if misshaped else "")
    actual, expected = same_shape(name, actual, expected)
    with np.errstate(invalid="ignore"):  # inf - inf
        excess = np.abs(actual - expected) / np.maximum(atol + rtol * np.abs(expected), 1e-300)
    equal = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    bad = ~equal & ~(np.abs(actual - expected) <= atol + rtol * np.abs(expected))
    if bad.any():
        name = err_msg or _compared_expression()
        where = worst_entry(actual, expected, np.where(bad, excess, 0.0))
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {bad.size} entries differ beyond rtol={rtol:g}, "
            f"atol={atol:g} (shape {actual.shape}); {where}"
        )


def assert_equal(actual, expected, err_msg: str = "") -> None:
    """``assert_close`` with no tolerance: every entry exactly equal."""
    __tracebackhide__ = True
    assert_close(actual, expected, rtol=0.0, atol=0.0, err_msg=err_msg)


def _compared_expression() -> str:
    """The source of the first argument of the failing ``assert_close``/``assert_equal`` call
    in the test (e.g. ``grads["W1"]``), found from the caller's frame; "value" if unknown."""
    frame = inspect.currentframe()
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    try:
        lines, first = inspect.getsourcelines(frame.f_code)
    except (AttributeError, OSError, TypeError):
        return "value"
    source = textwrap.dedent("".join(lines))
    line = frame.f_lineno - first + 1
    for node in ast.walk(ast.parse(source)):
        name = getattr(getattr(node, "func", None), "id", "")
        if name.startswith("assert_") and node.args and node.lineno <= line <= node.end_lineno:
            return ast.get_source_segment(source, node.args[0]) or "value"
    return "value"


def tt(a: np.ndarray, grad: bool = True) -> torch.Tensor:
    """A float64 leaf tensor copied from ``a`` (with requires_grad when ``grad``)."""
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def tn(t: torch.Tensor) -> np.ndarray:
    """A torch tensor (or its .grad) as a numpy array."""
    return t.detach().numpy()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(231)


# ------------------------------------------------------------------------------ questions

# The markers q1..q5 follow the notebooks: a test marked qk needs only the functions that
# notebooks 1..k declare (their metadata ``cs231n.functions``). A case that needs a later
# notebook's functions says so with that notebook's marker, on the test or on one of its
# parameters (``later("q2", "batchnorm")``). The course's own test suite proves it: it runs
# each question's tests in a starter where only notebooks 1..k are written.
QUESTIONS = ("q1", "q2", "q3", "q4", "q5")


def later(question: str, *values) -> list:
    """Parameter values that need ``question``'s notebook: each carries its marker."""
    return [pytest.param(value, marks=getattr(pytest.mark, question)) for value in values]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test belongs to one question, the latest it is marked with (its module's, its
    own or a parameter's), so that ``-m q1`` leaves out a q1 module's cases of question 2.
    Runs before ``-m`` selects."""
    latest = {}
    for item in items:
        marked = [mark.name for mark in item.iter_markers() if mark.name in QUESTIONS]
        latest[item] = max(marked, default=None)
    for item in items:
        for node in item.listchain():
            node.own_markers[:] = [m for m in node.own_markers if m.name not in QUESTIONS]
    for item, question in latest.items():
        if question is not None:
            item.add_marker(question)
