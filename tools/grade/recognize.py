"""Recognizing known mistakes: what explains a wrong answer.

When a function loses points, the grader runs each of that function's catalogued mistakes on
the same inputs: the case's program (``programs.py``) against our solution with the
mistake's patches applied. That happens here, in the grader's own process, and runs only our
code: of the student's work, only the outputs the worker returned are read. diagnose.py then
explains each wrong output on its own, by a mistake whose output matches the student's or by
a relation to ours (relations.py), and the feedback gets a line for each:
``looks like a known mistake: <hint> (explains dx, dw)`` or ``a clue: <relation>``. A
function with full marks never gets one.

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
from typing import Protocol

import numpy as np

from tools.grade import diagnose, programs
from tools.grade.cases import CASES_BY_ID, Case, CaseResult
from tools.grade.mistakes import BY_CASE, Mistake, patch_text
from tools.grade.worker import describe_error

HINT = "looks like a known mistake: "
CLUE = "a clue: "
PACKAGE = "cs231n"
IMPORTS = re.compile(rf"^from {PACKAGE}(?:\.([\w.]+))? import (\([^)]*\)|.*)", re.MULTILINE)
NOWHERE = "\0"  # no file lies under it: the errors of a patched solution name no place


class Drawn(Protocol):
    """A grading run's inputs and our outputs on them, by case (runner.Reference)."""

    inputs: dict[str, dict]
    outputs: dict[str, dict]


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


_LOCK = threading.Lock()  # mistakes run one at a time: the programs seed numpy's global RNG
_OUTCOMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Reference -> {name: ...}


def outcome(mistake: Mistake, reference: Drawn) -> dict | str | None:
    """``run`` on the reference's inputs, computed once per reference; None when the mistake
    changes nothing on these inputs (its outputs match the reference's)."""
    with _LOCK:
        known = _OUTCOMES.setdefault(reference, {})
        if mistake.name not in known:
            result = run(mistake, reference.inputs[mistake.case])
            case, expected = CASES_BY_ID[mistake.case], reference.outputs[mistake.case]
            changes = isinstance(result, str) or diagnose.wrong_outputs(case, result, expected)
            known[mistake.name] = result if changes else None
        return known[mistake.name]


# -------------------------------------------------------------------------------- feedback


def explain(case: Case, report: dict, reference: Drawn) -> list[diagnose.Diagnosis]:
    """What explains the worker's ``report`` of ``case``: its known mistakes, then relations."""
    mistakes = BY_CASE.get(case.program, [])
    if report.get("stopped") or str(report.get("error") or "").startswith("NotImplementedError"):
        return []  # a timeout, a crash, or not written yet: nothing to run the mistakes for
    outcomes = {m.name: outcome(m, reference) for m in mistakes}
    hints = {m.name: m.hint for m in mistakes}
    inputs, expected = reference.inputs[case.program], reference.outputs[case.program]
    return diagnose.diagnose(case, report, inputs, expected, outcomes, hints)


def add_hints(results: list[CaseResult], reports: dict[str, dict], reference: Drawn) -> None:
    """Explain each function that lost points: a line per known mistake that explains some of
    its outputs, and per relation that explains another (diagnose.py)."""
    for r in results:
        report = reports.get(r.case.program)
        if report is None or r.earned >= r.case.points - 1e-9:
            continue
        try:
            found = explain(r.case, report, reference)
        except Exception:  # a hint is a help: a fault in finding one never costs the grade
            continue
        for f in found:
            explains = f" (explains {', '.join(f.outputs)})" if f.outputs else ""
            r.feedback += f"\n{HINT if f.mistakes else CLUE}{f.text}{explains}"
        r.mistakes = tuple(f.mistakes[0] for f in found if len(f.mistakes) == 1)
        r.clues = tuple(f.key for f in found if not f.mistakes)
        r.mistake = r.mistakes[0] if r.mistakes else ""
