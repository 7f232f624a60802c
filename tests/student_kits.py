"""The starter as a student has it after notebook k: derived from the solution with what
notebooks 1..k declare written in (``tools.release``). Shared by the student-path tests."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import release  # noqa: E402
from tools.collect_submission import NOTEBOOKS  # noqa: E402


def declared(name: str) -> list[str]:
    """The ``file::function`` entries that notebook ``name`` declares, in order."""
    return release.declared_functions(json.loads((ROOT / name).read_text()))


def derive_kit(dest: Path, solved: set[str]) -> Path:
    """The starter in ``dest`` with ``solved`` filled in, the Cython extension beside it (its
    source is the same in the starter, so the solution's build serves)."""
    dest.mkdir(parents=True)
    release.build(ROOT, dest, frozenset(solved))
    for built in (ROOT / "cs231n").glob("im2col_cython*.so"):
        shutil.copy2(built, dest / "cs231n")
    return dest


def derive_kits(base: Path) -> dict[str, Path]:
    """{notebook k: the starter with notebooks 1..k's functions and notebook k written}, in
    folders ``base/kit<k>``."""
    solved: set[str] = set()
    found = {}
    for k, name in enumerate(NOTEBOOKS, start=1):
        solved |= set(declared(name))
        found[name] = derive_kit(base / f"kit{k}", solved | {name})
    return found


def owner(function: str) -> str:
    """Which notebook declares ``function`` (a placeholder's name, e.g. ``dropout_forward``
    or ``FullyConnectedNet.loss``), and so the marker of a test that needs it."""
    for k, name in enumerate(NOTEBOOKS, start=1):
        if any(f.split("::")[1] == function for f in declared(name)):
            return f"{name} declares (a test that needs it is marked q{min(k, 5)})"
    return "no notebook declares"
