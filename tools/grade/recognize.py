"""Recognizing known mistakes: which catalogued mistake (``mistakes.py``) a wrong answer is.

When a function loses points, the grader runs each of that function's catalogued mistakes on
the same inputs: the case's program (``programs.py``) against our solution with the
mistake's patches applied. That happens here, in the grader's own process, and runs only our
code: of the student's work, only the outputs the worker returned are read. If the student's
outputs all match a mistake's within the case's tolerances (or the student's code raised the
same error), the feedback gets one more line, ``looks like a known mistake: <hint>``, for the
closest such mistake. A function with full marks never gets one.

A patched solution is a set of fresh module objects built from our sources; ``sys.modules``
is left alone. It holds the patched files, and every module that imports one of them (a
patch to layers.py also reaches layer_utils.py and the classifiers), each built when first
used. A mistake's outputs depend only on the grading run's inputs, so each is computed once
per run (per ``Reference``) and shared by all its submissions.
"""

from __future__ import annotations

import builtins
import importlib
import re
import threading
import types
import warnings
import weakref
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tools.grade import programs
from tools.grade.cases import CASES_BY_ID, Case, compare
from tools.grade.mistakes import BY_CASE, Mistake, patch_text
from tools.grade.worker import describe_error

if TYPE_CHECKING:
    from tools.grade.runner import CaseResult, Reference

HINT = "looks like a known mistake: "
PACKAGE = "cs231n"
IMPORTS = re.compile(rf"^from {PACKAGE}(?:\.([\w.]+))? import (\([^)]*\)|.*)", re.MULTILINE)
NOWHERE = "\0"  # no file lies under it: the errors of a patched solution name no place


# ------------------------------------------------------------------------ patched solution


@cache
def _source(module: str) -> str:
    return Path(importlib.import_module(module).__file__).read_text()


@cache
def _imports(module: str) -> frozenset[str]:
    """The modules of the package that ``module`` imports from (``from cs231n.x import``)."""
    found = set()
    for sub, names in IMPORTS.findall(_source(module)):
        if sub:
            found.add(f"{PACKAGE}.{sub}")
        else:  # from cs231n import optim
            names = names.strip("()").split(",")
            found.update(f"{PACKAGE}.{n.split()[0]}" for n in names if n.strip())
    return frozenset(found)


@cache
def _compiled(module: str, text: str) -> types.CodeType:
    return compile(text, f"{importlib.import_module(module).__file__} (patched)", "exec")


class PatchedSolution:
    """Our ``cs231n`` with a mistake's patches applied, as the programs use it (``cs.layers``).

    Modules that neither are patched nor import a patched module are our own, imported as
    usual.
    """

    def __init__(self, mistake: Mistake) -> None:
        self._texts: dict[str, str] = {}
        for rel, old, new in mistake.patches:
            name = f"{PACKAGE}." + rel.removesuffix(".py").replace("/", ".")
            self._texts[name] = patch_text(self._texts.get(name) or _source(name), old, new, rel)
        self._built: dict[str, types.ModuleType] = {}
        self._builtins = {**vars(builtins), "__import__": self._import}

    def __getattr__(self, short: str) -> types.ModuleType:
        if short not in programs.MODULES:
            raise AttributeError(f"the programs use no module {short!r}")
        return self._module(programs.MODULES[short])

    def _reached(self, name: str) -> bool:
        """Whether the patches change ``name``: it is patched, or imports what is."""
        return name in self._texts or any(self._reached(dep) for dep in _imports(name))

    def _module(self, name: str) -> types.ModuleType:
        if not self._reached(name):
            return importlib.import_module(name)
        if name not in self._built:
            module = types.ModuleType(name)
            module.__file__ = importlib.import_module(name).__file__
            module.__dict__["__builtins__"] = self._builtins
            self._built[name] = module
            exec(_compiled(name, self._texts.get(name) or _source(name)), module.__dict__)
        return self._built[name]

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        """``__import__`` for the patched modules: the package's modules resolve here."""
        if level == 0 and fromlist and name.startswith(PACKAGE + ".") and self._reached(name):
            return self._module(name)
        found = builtins.__import__(name, globals, locals, fromlist, level)
        if level == 0 and fromlist and name == PACKAGE:  # from cs231n import optim
            names = {n: getattr(found, n) for n in fromlist if n != "*"}
            return types.SimpleNamespace(
                **{
                    n: self._module(v.__name__) if isinstance(v, types.ModuleType) else v
                    for n, v in names.items()
                }
            )
        return found


# -------------------------------------------------------------------------------- outcomes


def run(mistake: Mistake, inputs: dict) -> dict | str:
    """The outputs of ``mistake``'s case on ``inputs`` with the mistake in our solution, or
    the error it raised (as the worker words errors)."""
    copies = {k: np.array(v) for k, v in inputs.items()}
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = getattr(programs, mistake.case)(PatchedSolution(mistake), copies)
        return {k: np.asarray(v) for k, v in out.items()}
    except Exception as exc:  # the mistake itself may raise, as the student's code did
        return describe_error(exc, NOWHERE)


def _output_distance(actual, expected: np.ndarray, kind: str, tol: float) -> float:
    """``compare``'s error over the tolerance; NaN and inf must sit where the mistake's are."""
    odd = ~np.isfinite(expected)
    if odd.any():
        a = np.asarray(actual) if actual is not None else np.empty(0)
        if a.shape != expected.shape or not np.array_equal(a[odd], expected[odd], equal_nan=True):
            return np.inf
        actual, expected = a[~odd], expected[~odd]
    ok, _, error = compare(actual, expected, kind, tol)
    return error / tol if ok else np.inf


def distance(case: Case, report: dict, outcome: dict | str) -> float:
    """How far a worker's report is from a mistake's outcome, in tolerances: at most 1 when
    every output matches (0 for the same error), inf when they cannot match."""
    error = report.get("error")
    if isinstance(outcome, str):
        same = error == outcome or str(error).startswith(outcome + " (at ")
        return 0.0 if same else np.inf
    if error:
        return np.inf
    outputs = report.get("outputs") or {}
    return max(
        (_output_distance(outputs.get(k), v, *case.tolerance(k)) for k, v in outcome.items()),
        default=np.inf,
    )


_LOCK = threading.Lock()  # mistakes run one at a time: the programs seed numpy's global RNG
_OUTCOMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Reference -> {name: ...}


def outcome(mistake: Mistake, reference: Reference) -> dict | str | None:
    """``run`` on the reference's inputs, computed once per reference; None when the mistake
    changes nothing on these inputs (its outputs match the reference's)."""
    with _LOCK:
        known = _OUTCOMES.setdefault(reference, {})
        if mistake.name not in known:
            result = run(mistake, reference.inputs[mistake.case])
            case, expected = CASES_BY_ID[mistake.case], {"outputs": reference.outputs[mistake.case]}
            known[mistake.name] = None if distance(case, expected, result) <= 1 else result
        return known[mistake.name]


# -------------------------------------------------------------------------------- feedback


def closest(case: Case, report: dict, reference: Reference) -> Mistake | None:
    """The catalogued mistake of ``case`` nearest to the worker's report, if any matches."""
    if report.get("stopped"):  # a timeout or a crash: no answer to compare
        return None
    if str(report.get("error") or "").startswith("NotImplementedError"):  # not written yet
        return None
    best, best_distance = None, np.inf
    for mistake in BY_CASE.get(case.program, []):
        result = outcome(mistake, reference)
        d = np.inf if result is None else distance(case, report, result)
        if d <= 1 and d < best_distance:
            best, best_distance = mistake, d
    return best


def add_hints(results: list[CaseResult], reports: dict[str, dict], reference: Reference) -> None:
    """Name the closest known mistake in the feedback of each function that lost points."""
    for r in results:
        report = reports.get(r.case.program)
        if report is None or r.earned >= r.case.points - 1e-9:
            continue
        mistake = closest(r.case, report, reference)
        if mistake is not None:
            r.mistake = mistake.name
            r.feedback += f"\n{HINT}{mistake.hint}"
