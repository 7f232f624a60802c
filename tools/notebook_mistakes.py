"""Write the known mistakes' outputs on the notebooks' fixed inputs: the data behind the hints
of the notebooks' checks and of the public tests (``cs231n/known_mistakes.py``).

    python -m tools.notebook_mistakes [--notebook NAME ...]

Every catalogue entry (``tools/grade/mistakes.py``) runs the check cells on fixed inputs
(``cs231n/notebook_cells.py``) of its question's notebook, in our solution with the entry's
patches applied (``tools.grade.recognize.PatchedSolution``). The first check of a cell that
fails, as the student would see it, is recorded: its name, the output and the expected value
it was given. A check looser than ``MAX_LEVEL`` compares a statistic (a mean, a loss at
chance) that many mistakes share, and is not recorded. Only numbers and the entry's hint go
into ``cs231n/notebook_mistakes.npz``, never our code or the patches.

A record is kept only if it does not depend on numpy's global random state (each failing cell
runs twice, after two different seeds), as the student's notebook reaches a cell in a state
we cannot know. Our solution must pass every check cell, whatever the seed.

The file is committed, with a fingerprint per notebook of what its records were computed from
(the question's catalogue entries, the notebook's check cells, the checked modules);
``tests/test_notebook_mistakes.py`` fails when one is stale. ``--notebook`` recomputes that
notebook's records and keeps the others (the full run takes several minutes).
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import hashlib
import io
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cs231n import known_mistakes, notebook_cells, notebook_checks
from tools.grade import programs
from tools.grade.mistakes import CATALOGUE, Mistake
from tools.grade.recognize import PatchedSolution

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {
    1: "FullyConnectedNets.ipynb",
    2: "BatchNormalization.ipynb",
    3: "Dropout.ipynb",
    4: "ConvolutionalNetworks.ipynb",
}
# A check looser than this compares a statistic (a mean, a loss at chance), which many mistakes
# share: its values name no mistake, and are not recorded.
MAX_LEVEL = 1e-5
SEEDS = (1, 2)  # numpy's global seed before each of the two runs of a cell
# The checked modules: what the outputs depend on, besides the catalogue and the check cells.
SOURCES = tuple(f"{m.replace('.', '/')}.py" for m in programs.MODULES.values())


@dataclass(frozen=True)
class Seen:
    """One check as a cell ran it: its name, values and whether it failed."""

    name: str
    actual: np.ndarray
    expected: np.ndarray
    level: float
    failed: bool


def recorder(seen: list[Seen]) -> Callable[..., float]:
    """A ``check_close`` that appends what it checks to ``seen`` and then checks it."""

    def check_close(name, actual, expected, level=1e-7, *, per_entry=True):
        a, e = np.array(actual, dtype=np.float64), np.array(expected, dtype=np.float64)
        try:
            result = notebook_checks.check_close(name, actual, expected, level, per_entry=per_entry)
        except AssertionError:
            seen.append(Seen(name, a, e, level, True))
            raise
        seen.append(Seen(name, a, e, level, False))
        return result

    return check_close


def patched_import(solution: PatchedSolution) -> Callable[..., object]:
    """An ``__import__`` that takes the graded modules from ``solution``."""
    short = {full: name for name, full in programs.MODULES.items()}

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and fromlist and name in short:
            return getattr(solution, short[name])
        return builtins.__import__(name, globals, locals, fromlist, level)

    return _import


def run(
    notebook: dict, cell: notebook_cells.CheckCell, mistake: Mistake | None, seed: int
) -> list[Seen] | None:
    """The checks ``cell`` (after its prerequisites) made, in our solution or with
    ``mistake``; the last one failed if the cell stopped at a check. None when the cell raised
    anything else."""
    seen: list[Seen] = []
    namespace = {"check_close": recorder(seen)}
    if mistake is not None:
        namespace["__builtins__"] = {
            **vars(builtins),
            "__import__": patched_import(PatchedSolution(mistake)),
        }
    np.random.seed(seed)  # noqa: NPY002 (the notebooks draw from the global generator)
    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
    ):
        warnings.simplefilter("ignore")
        try:
            notebook_cells.run_cell(notebook, cell, namespace)
        except AssertionError:
            if not (seen and seen[-1].failed):
                return None  # a plain assert of the cell, no values to compare
        except Exception:  # noqa: BLE001 (the mistake's own error: no check to name it)
            return None
    return seen


def _same(a: list[Seen] | None, b: list[Seen] | None) -> bool:
    """Whether two runs of a cell made the same checks on the same values."""
    if a is None or b is None or len(a) != len(b):
        return a is b
    return all(
        x.name == y.name
        and np.array_equal(x.actual, y.actual, equal_nan=True)
        and np.array_equal(x.expected, y.expected, equal_nan=True)
        for x, y in zip(a, b, strict=True)
    )


def notebook_outputs(
    name: str, log: Callable[[str], None] = print
) -> dict[str, list[known_mistakes.KnownOutput]]:
    """The known outputs at the checks of notebook ``name`` (see the module docstring)."""
    notebook = notebook_cells.load(ROOT / name)
    question = next(q for q, nb in NOTEBOOKS.items() if nb == name)
    cells = notebook_cells.check_cells(notebook)
    for cell in cells:
        runs = [run(notebook, cell, None, seed) for seed in SEEDS]
        if runs[0] is None or any(s.failed for s in runs[0]) or not _same(*runs):
            raise RuntimeError(f"{name} {cell.label}: our solution fails it or depends on the seed")
    outputs: dict[str, list[known_mistakes.KnownOutput]] = {}
    for mistake in (m for m in CATALOGUE if m.question == question):
        named = set()
        for cell in cells:
            seen = run(notebook, cell, mistake, SEEDS[0])
            if not seen or not seen[-1].failed or seen[-1].name in named:
                continue
            if seen[-1].level > MAX_LEVEL:
                log(f"  {mistake.name}: {seen[-1].name} is a statistic, not recorded")
                continue
            if not _same(seen, run(notebook, cell, mistake, SEEDS[1])):
                log(f"  {mistake.name}: {cell.label} depends on the seed, not recorded")
                continue
            last = seen[-1]
            named.add(last.name)
            outputs.setdefault(last.name, []).append(
                known_mistakes.KnownOutput(
                    mistake.function,
                    mistake.hint,
                    f"{name}::{cell.label}",
                    known_mistakes.sample(last.actual),
                    last.actual.shape,
                    known_mistakes.sample(last.expected),
                    last.expected.shape,
                )
            )
        log(f"  {mistake.name}: {', '.join(sorted(named)) or 'not exercised'}")
    return outputs


def fingerprint(name: str) -> str:
    """A digest of what notebook ``name``'s outputs are computed from: its question's
    catalogue entries, the notebook's imports and check cells, ``SOURCES`` and how much is
    recorded."""
    question = next(q for q, nb in NOTEBOOKS.items() if nb == name)
    digest = hashlib.sha256(repr((known_mistakes.SAMPLE, MAX_LEVEL)).encode())
    for m in CATALOGUE:
        if m.question == question:
            digest.update(repr((m.case, m.name, m.hint, m.function, m.patches)).encode())
    notebook = notebook_cells.load(ROOT / name)
    digest.update(notebook_cells.setup_source(notebook).encode())
    for cell in notebook_cells.check_cells(notebook):
        digest.update(repr(cell).encode())
    for rel in SOURCES:
        digest.update((ROOT / rel).read_bytes())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.notebook_mistakes", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--notebook", action="append", choices=list(NOTEBOOKS.values()), help="only these"
    )
    args = parser.parse_args(argv)
    outputs, fingerprints = known_mistakes.load()
    for name in args.notebook or NOTEBOOKS.values():
        print(f"{name}:", flush=True)
        question = next(q for q, nb in NOTEBOOKS.items() if nb == name)
        own = {(m.function, m.hint) for m in CATALOGUE if m.question == question}
        kept = {c: [k for k in ks if (k.function, k.hint) not in own] for c, ks in outputs.items()}
        fresh = notebook_outputs(name, log=lambda line: print(line, flush=True))
        outputs = {c: ks + fresh.pop(c, []) for c, ks in kept.items() if ks or c in fresh} | fresh
        fingerprints[name] = fingerprint(name)
    known_mistakes.save(known_mistakes.DATA, outputs, fingerprints)
    count = sum(map(len, outputs.values()))
    print(
        f"wrote {known_mistakes.DATA.relative_to(ROOT)}: {count} outputs at {len(outputs)} checks"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
