"""The kit's given files stand in for a submission's copies.

A submission carries copies of files the student never writes: ``solver.py``,
``fast_layers.py``, ``im2col.py``, ``gradient_check.py``, the data utilities, ... Those copies
come from whichever edition the student started from, and may need what the grading machine
lacks (the classic ``solver.py`` imports ``future``; the classic ``fast_layers.py`` needs an
``im2col_cython`` extension that no submission carries built for this machine). As
nbgrader and otter-grader do with their given files, the grader replaces each of them with
the kit's own: every module of our ``cs231n`` without a student block (as the starter ships
it), and the ``im2col_cython`` extension built for the grader's Python. The student's own
modules (those with blocks) stay the student's and run on top of them. The kit's given
modules keep the classic names (tests/test_grade_editions.py checks the list).
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

from tools.collect_submission import marker_blocks
from tools.release import SOLUTION_ONLY_MODULES, _matches

KIT = Path(__file__).resolve().parents[2] / "cs231n"
EXTENSION = "im2col_cython"

# Names that the classic starters' student code imports from the given modules.
CLASSIC_GIVEN_NAMES = {
    "fast_layers": (
        "conv_forward_fast", "conv_backward_fast", "conv_forward_im2col", "conv_backward_im2col",
        "conv_forward_strides", "conv_backward_strides", "max_pool_forward_fast",
        "max_pool_backward_fast", "max_pool_forward_reshape", "max_pool_backward_reshape",
        "max_pool_forward_im2col", "max_pool_backward_im2col",
    ),
    "im2col": ("get_im2col_indices", "im2col_indices", "col2im_indices"),
    "im2col_cython": ("im2col_cython", "col2im_cython", "col2im_6d_cython"),
    "gradient_check": (
        "eval_numerical_gradient", "eval_numerical_gradient_array",
        "eval_numerical_gradient_blobs", "eval_numerical_gradient_net", "grad_check_sparse",
    ),
    "data_utils": ("load_CIFAR_batch", "load_CIFAR10", "get_CIFAR10_data"),
    "solver": ("Solver",),
}  # fmt: skip


@cache
def given_files() -> tuple[Path, ...]:
    """Our given files, relative to ``cs231n/``: modules without a student block (not the
    solution-only ones), and the built extension."""
    found = []
    for path in sorted(KIT.rglob("*.py")):
        rel = path.relative_to(KIT)
        if "__pycache__" in rel.parts or _matches(
            f"cs231n/{rel.as_posix()}", SOLUTION_ONLY_MODULES
        ):
            continue
        blocks, _ = marker_blocks(path.read_text().split("\n"))
        if not blocks:
            found.append(rel)
    found += [p.relative_to(KIT) for p in KIT.glob(f"{EXTENSION}*.so")]
    return tuple(found)


def install(root: Path) -> list[str]:
    """Put the kit's given files into the unpacked submission under ``root`` (a copy: the
    student's own files are never touched); returns the names of the copies replaced."""
    package = root / "cs231n"
    replaced = []
    for rel in given_files():
        target = package / rel
        if target.exists():
            replaced.append(rel.as_posix())
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(KIT / rel, target)
    return replaced
