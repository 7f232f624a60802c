"""Faults of the grading machine, not of the student: reported, never deducted.

A function that fails because of the machine (a package of the course's environment that
is missing here, an import or a name that fails in code outside the student's blocks, numpy 2
refusing what the course's numpy 1.x ran, a worker that could not start) takes no points: its
case keeps its points, its feedback says "needs regrade" with the cause, and the submission's
status says so in the table, the CSV and results.json. Course staff fix the machine and grade
again; the batch goes on meanwhile.

The recognized faults (``cause``):
- ``ModuleNotFoundError`` for a package of the classic environment (``CLASSIC_PACKAGES``)
  that is not installed here, wherever it is raised;
- ``ImportError`` / ``NameError`` raised outside the student's blocks (the marker blocks; in
  a module without markers, as in the 2025/26 starters, outside its functions and classes);
- ``AttributeError`` for a numpy name that numpy 2 removed and compat.py does not answer
  (for one it answers, numpy did not raise it);
- a size-1 array used as one number, which numpy 1.x allowed (compat.fault, in the worker);
- a worker that stopped before running any case.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import cache
from pathlib import Path

from tools.collect_submission import marker_blocks
from tools.grade import compat, editions, given
from tools.grade.cases import CaseResult

CLASSIC_PACKAGES = frozenset(
    {"future", "past", "builtins", "imageio", "scipy", "matplotlib", "six", "PIL", "h5py"}
)
LOCATION = re.compile(r"\(at (?P<file>[^()]+?) line (?P<line>\d+), in [^()]*\)$")
MISSING = re.compile(r"^ModuleNotFoundError: No module named '(?P<name>[\w.]+)'")
NUMPY_REMOVED = re.compile(r"^AttributeError: module 'numpy(?:\.\w+)*' has no attribute '(\w+)'")
# Attributes numpy 2 removed (numpy 2.0 release notes); compat.py answers most of them.
REMOVED_NAMES = frozenset(
    """int float bool object str complex long unicode product cumproduct sometrue alltrue
    round_ float_ complex_ unicode_ string_ int0 uint0 bool8 NaN NAN Inf Infinity infty PINF
    NINF in1d trapz row_stack asscalar msort alen asfarray mat cast find_common_type
    set_string_function safe_eval who issubclass_ deprecate disp source lookfor pad warnings
    byte_bounds compat math nbytes tracemalloc_domain recfromcsv recfromtxt""".split()
)
NOT_STARTED = "the worker stopped before running this case"


@cache
def _regions(path: Path, package_has_markers: bool) -> tuple[tuple[int, int], ...]:
    """1-based line ranges of the student's code in ``path``: its marker blocks; in a
    package without any markers (the 2025/26 starters), its top-level functions and classes;
    none in a file without markers of a package that has them (a given file)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ()
    blocks, _ = marker_blocks(text.split("\n"))
    if blocks:
        return tuple((start + 2, end) for start, end in blocks)
    if package_has_markers:
        return ()
    tree = editions.parse(text)
    if tree is None:
        return ()
    kinds = (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)
    return tuple((n.lineno, n.end_lineno) for n in tree.body if isinstance(n, kinds))


def in_student_code(error: str, root: Path) -> bool:
    """Whether the error's last place in the submission (worker.describe_error's
    ``(at FILE line N, in NAME)``) lies in the student's code."""
    found = LOCATION.search(error)
    if not found:
        return False
    line = int(found["line"])
    path = (root / found["file"]).resolve()
    package = (root / "cs231n").resolve()
    if not path.is_relative_to(package):
        return False
    if Path(path.relative_to(package)) in given.given_files():  # the kit's, put in by the grader
        return False
    return any(a <= line <= b for a, b in _regions(path, editions.has_markers(root)))


def _really_missing(package: str) -> bool:
    """Whether ``package`` is missing from this Python, which the worker runs too: a
    ModuleNotFoundError that student code raised itself for a package that is here is no
    fault of the machine."""
    try:
        return importlib.util.find_spec(package) is None
    except (ImportError, ValueError):
        return True


def cause(report: dict, root: Path, none_ran: bool = False) -> str | None:
    """The machine's fault behind a failed case's report, or None (the student's);
    ``none_ran``: no case of the submission ran at all."""
    error = str(report.get("error") or "")
    if not error:
        return None
    if report.get("environment"):
        return str(report["environment"])[:300]
    if none_ran and report.get("stopped") and error.startswith(NOT_STARTED):
        return "the grading worker could not start"
    missing = MISSING.match(error)
    top = missing["name"].split(".")[0] if missing else ""
    if top in CLASSIC_PACKAGES and _really_missing(top):
        return f"the package {missing['name']!r} of the course's environment is missing here"
    removed = NUMPY_REMOVED.match(error)
    if removed and removed[1] in REMOVED_NAMES and removed[1] not in compat.ANSWERED:
        return f"numpy 2 removed np.{removed[1]}, which the course's numpy 1.x had"
    kind = error.split(":", 1)[0]
    if kind in ("ImportError", "ModuleNotFoundError", "NameError") and not in_student_code(
        error, root
    ):
        return f"{kind} raised outside the student's code"
    return None


def mark(results: list[CaseResult], reports: dict[str, dict], root: Path) -> list[str]:
    """Give back the points of each case failed by the machine, with "needs regrade" and the
    cause in its feedback; returns the causes (one per such case)."""
    causes = []
    errors = [str(rep.get("error") or "") for rep in reports.values()]
    none_ran = bool(errors) and all(e.startswith(NOT_STARTED) for e in errors)
    for r in results:
        why = cause(reports.get(r.case.program) or {}, root, none_ran)
        if why is None or r.earned >= r.case.points:
            continue
        error = " ".join(str(reports[r.case.program].get("error")).split())[:300]
        r.earned, r.regrade, r.mistake = r.case.points, why, ""
        r.feedback = f"{r.case.function}: needs regrade, no points taken: {why} ({error})"
        causes.append(why)
    return causes
