"""Diagnosis of a function that lost points: each wrong output explained on its own.

The worker's report of one case (the student's outputs, or the error raised) is read against
our outputs on the same inputs and against the catalogued mistakes' outputs (``outcomes``:
a mistake's name -> its outputs on these inputs, the error it raised, or None when it changes
nothing here; recognize.py computes them). Nothing is run here.

1. **The catalogue, output by output.** A mistake explains an output when its value matches
   the student's on every draw while ours does not. A mistake is ruled out where it changes an
   output the student got right. The mistake that explains most outputs is named first, then
   the next for the outputs still unexplained: two mistakes in one function give two hints.
   Where two mistakes explain the same outputs equally closely, both are named as
   possibilities; where more do, none is.
2. **Relations** (relations.py) for each wrong output that no mistake explains: N times too
   large, transposed, off by ``reg * W``, never stored back, wrong only where ``x <= 0``...
3. An output that nothing explains gets nothing: no hint is better than a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.grade.cases import Case, base_name, compare, draw_of
from tools.grade.relations import PREFIXES, Draw, clues

AMBIGUOUS = 10.0  # the closest mistake is named alone when the next is this many times farther
# A mistake explains an output only when the student's is this many times closer to the
# mistake's than the mistake's is to ours: a mistake that barely moves an output (Adam's t
# off by one when t is large) matches a student's other mistake there by chance.
SPECIFIC = 10.0


@dataclass(frozen=True)
class Diagnosis:
    outputs: tuple[str, ...]  # the wrong outputs it explains (base names); () for an error
    text: str  # for the student
    key: str  # what the class report counts: a mistake's name, or a relation's key
    mistakes: tuple[str, ...] = ()  # the catalogued mistakes it names (two: either one)


def output_distance(case: Case, name: str, actual, expected: np.ndarray) -> float:
    """``compare``'s error over the tolerance (at most 1: a match); NaN and inf must sit where
    ``expected`` has them."""
    kind, tol = case.tolerance(name)
    expected = np.asarray(expected)
    odd = ~np.isfinite(expected) if expected.dtype.kind in "fc" else np.zeros(expected.shape, bool)
    if odd.any():
        a = np.asarray(actual) if actual is not None else np.empty(0)
        if a.shape != expected.shape or not np.array_equal(a[odd], expected[odd], equal_nan=True):
            return np.inf
        actual, expected = a[~odd], expected[~odd]
    ok, _, error = compare(actual, expected, kind, tol)
    return error / tol if ok else np.inf


def same_error(report: dict, error: str) -> bool:
    """Whether the worker's error is ``error`` (a mistake's, which names no place)."""
    raised = report.get("error")
    return bool(raised) and (raised == error or str(raised).startswith(error + " (at "))


def _by_output(names) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in names:
        out.setdefault(base_name(name), []).append(name)
    return out


def wrong_outputs(case: Case, outputs: dict, expected: dict) -> set[str]:
    """The base names of the outputs that miss ours on some draw."""
    return {
        base_name(k) for k, v in expected.items() if output_distance(case, k, outputs.get(k), v) > 1
    }


# ------------------------------------------------------------------------------- catalogue


def _explained(case, outputs, expected, wrong, outcome) -> tuple[set[str], float]:
    """The wrong outputs a mistake's ``outcome`` explains, and how far it is from the
    student's on them (in tolerances); nothing when it changes what the student got right."""
    changed = wrong_outputs(case, outcome, expected)
    if not changed or changed - wrong:
        return set(), np.inf
    keys = _by_output(expected)
    fits, farthest = set(), 0.0
    for base in changed:
        d = max(output_distance(case, k, outputs.get(k), outcome[k]) for k in keys[base])
        change = max(output_distance(case, k, outcome[k], expected[k]) for k in keys[base])
        if d <= 1 and d * SPECIFIC <= change:
            fits.add(base)
            farthest = max(farthest, d)
    for group in _groups(case, expected):  # half of one computation explained is not
        if fits & group and (wrong & group) - fits:
            fits -= group
    return fits, farthest


def _groups(case: Case, expected: dict) -> list[frozenset[str]]:
    """Outputs read from one computation: the case's ``together``, the statistics of one
    random draw (compared loosely: an initialization's spread and mean), and one output under
    several starts (``fresh_w`` and ``resumed_w``, ``running_var`` and its ``default_``)."""
    bases = {base_name(k) for k in expected}
    statistics = frozenset(b for b in bases if case.tolerance(b)[0] != "rel")
    by_stem: dict[str, set[str]] = {}
    for base in bases:
        stem = base
        for prefix in PREFIXES:
            stem = stem.removeprefix(prefix)
        by_stem.setdefault(stem, set()).add(base)
    stems = [frozenset(g) for g in by_stem.values() if len(g) > 1]
    return [*case.together, *([statistics] if len(statistics) > 1 else []), *stems]


def _mistake_hint(names: list[str], explains: set[str], hints: dict[str, str]) -> Diagnosis:
    outputs = tuple(sorted(explains))
    if len(names) == 1:
        return Diagnosis(outputs, hints[names[0]], names[0], (names[0],))
    text = f"one of two: {hints[names[0]]}; or: {hints[names[1]]}"
    return Diagnosis(outputs, text, " / ".join(names), tuple(names))


def catalogue(case, outputs, expected, outcomes, hints) -> list[Diagnosis]:
    """The catalogued mistakes that explain the wrong outputs, most outputs first."""
    wrong = wrong_outputs(case, outputs, expected)
    fits = {}
    for name, outcome in outcomes.items():
        if isinstance(outcome, dict):
            explains, d = _explained(case, outputs, expected, wrong, outcome)
            if explains:
                fits[name] = (explains, d)
    found, left = [], set(wrong)
    while left:
        gain = {n: (len(e & left), d) for n, (e, d) in fits.items() if e & left}
        if not gain:
            break
        most = max(g for g, _ in gain.values())
        tied = sorted((d, n) for n, (g, d) in gain.items() if g == most)
        (d0, first), rest = tied[0], tied[1:]
        alike = [n for d, n in rest if d <= max(d0 * AMBIGUOUS, 1e-6)]
        if len(alike) > 1:  # three or more fit alike: name none of them
            left -= fits[first][0]
            continue
        names = [first, *alike]
        explains = fits[first][0] & left
        found.append(_mistake_hint(names, explains, hints))
        left -= fits[first][0]
    return found


# --------------------------------------------------------------------------------- diagnose


def _draws(case: Case, base: str, outputs, expected, inputs) -> list[Draw]:
    draws = []
    for k in _by_output(expected)[base]:
        d = draw_of(k)
        prefix = f"{d}:" if d else ""
        here = {n[len(prefix) :]: v for n, v in inputs.items() if n.startswith(prefix)}
        ours = {base_name(n): v for n, v in expected.items() if draw_of(n) == d}
        actual = outputs.get(k)
        actual = None if actual is None else np.asarray(actual)
        draws.append(Draw(actual, expected[k], here, case.tolerance(k)[1], ours))
    return draws


def diagnose(
    case: Case, report: dict, inputs: dict, expected: dict, outcomes: dict, hints: dict
) -> list[Diagnosis]:
    """What explains the wrong outputs of one case's ``report`` (the worker's), given our
    ``expected`` outputs, the case's ``inputs``, the catalogued mistakes' ``outcomes`` and
    their ``hints`` (both by mistake name)."""
    if report.get("stopped"):  # a timeout or a crash: no answer to explain
        return []
    if report.get("error"):
        same = [n for n, o in outcomes.items() if isinstance(o, str) and same_error(report, o)]
        return [_mistake_hint(same, set(), hints)] if len(same) in (1, 2) else []
    outputs = report.get("outputs") or {}
    found = catalogue(case, outputs, expected, outcomes, hints)
    explained = {o for f in found for o in f.outputs}
    for base in sorted(wrong_outputs(case, outputs, expected) - explained):
        statistic = case.tolerance(base)[0] != "rel"  # of random draws: its meaning only
        for clue in clues(base, _draws(case, base, outputs, expected, inputs), statistic):
            found.append(Diagnosis((base,), clue.text, clue.key))
    return found
