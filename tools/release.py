"""Derive the student starter kit from this repository, which holds the solution.

    python -m tools.release OUT_DIR [--force]

Every block of student code (the lines between the START / END OF YOUR CODE markers, in the
package's modules and in the notebooks' code cells) is emptied and replaced by a placeholder
that stops with a clear message, e.g.

    raise NotImplementedError("affine_forward: write the forward pass in cs231n/layers.py")

The message names the enclosing function (or, for a block at the top level of a notebook cell,
the notebook section) and takes its wording from the ``# TODO:`` comment just above the block:
the text after ``TODO:`` up to the first colon or full stop. The marker lines and the TODO
comments stay as they are. Notebooks lose their outputs, answer cells go back to
``**Your Answer:** *fill this in*``, and cells tagged ``solution-only`` are left out.

What the starter holds: the notebooks, the ``cs231n`` package without the reference models
(``cs231n/reference_models*.py``), the public tests, ``collectSubmission.sh`` and its tool, a
student README (``tools/starter_README.md``), a Makefile cut down to the student's targets,
``requirements.txt``, ``requirements-tensorflow.txt``, ``setup.py``, ``pyproject.toml`` and
``.gitignore``. Nothing else: no grader, no benchmarks, no build outputs, no dataset, not this
tool.

OUT_DIR must not exist or be empty unless ``--force`` (which replaces it). The kit is built in a
temporary folder beside OUT_DIR and renamed into place, so OUT_DIR is either the old or the
complete new kit. After building, a leak check looks for any line of a solution block (or of a
reference module, or of an answer) in the starter and fails if it finds one, and a reach check
(``tools/reach.py``) fails if the starter imports, reaches or names a part of the solution that
it does not ship. A Makefile paragraph that starts with ``# Solution only`` stays out.
"""

from __future__ import annotations

import argparse
import ast
import copy
import fnmatch
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools.collect_submission import MARKER_COUNTS, cell_source, marker_blocks
from tools.reach import Kit, dangling

ROOT = Path(__file__).resolve().parent.parent
ANSWER = "**Your Answer:**"
ANSWER_PLACEHOLDER = "**Your Answer:** *fill this in*"
SOLUTION_ONLY_TAG = "solution-only"
DEFAULT_TODO = "write the code between the markers"

# Top-level files copied as they are.
TOP_FILES = (
    "collectSubmission.sh",
    "requirements.txt",
    "requirements-tensorflow.txt",
    "setup.py",
    "pyproject.toml",
    ".gitignore",
)
# Tests a student can run (the public checks); everything else under tests/ stays out.
PUBLIC_TESTS = (
    "conftest.py",
    "test_q1_*.py",
    "test_q2_*.py",
    "test_q3_*.py",
    "test_q4_*.py",
    "test_gradient_check.py",
    "test_data.py",
    "test_vis_utils.py",
    "test_markers.py",
    "test_notebook_checks.py",
    "test_notebook_cells.py",
)
# Package files that stay out: the reference solutions of the open-ended parts.
SOLUTION_ONLY_MODULES = ("cs231n/reference_models*.py",)
STUDENT_TOOLS = ("tools/collect_submission.py",)
STARTER_README = "tools/starter_README.md"
# Makefile targets the starter keeps (with the rules they need).
STARTER_TARGETS = ("install", "install-tensorflow", "data", "test", "pdf-deps", "clean")
STARTER_MAKEFILE_COMMENT = (
    "# Assignment 2: `make install` (the kit and PyTorch), `make install-tensorflow` (only for\n"
    "# TensorFlow.ipynb), `make data` (CIFAR-10), `make test` (the public checks),\n"
    "# `make pdf-deps` (the PDF engine of collectSubmission.sh)."
)
# A Makefile paragraph that starts with this comment is ours alone: the starter leaves it out.
SOLUTION_ONLY_MAKE = "# Solution only"
# Never copied, wherever they are.
SKIP_DIRS = {
    ".git",
    ".venv",
    "build",
    "dist",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    "runs",
    "cifar-10-batches-py",
}
SKIP_SUFFIXES = (".so", ".pyc", ".pkl", ".zip", ".pdf", ".tar.gz", ".egg-info")
# Build outputs and this machine's state (where CIFAR-10 was found), never released.
GENERATED = {"cs231n/im2col_cython.c", "cs231n/datasets/cifar10_location.txt"}


class ReleaseError(Exception):
    """A problem with the solution or the arguments that stops the release."""


# ------------------------------------------------------------------------------------ blocks


@dataclass
class Block:
    """Lines ``start`` and ``end`` (0-based) hold the markers; the body lies between them."""

    start: int
    end: int
    indent: str


def find_blocks(lines: list[str], where: str) -> list[Block]:
    """The student blocks of ``lines``; malformed markers raise ``ReleaseError`` naming
    ``where`` and the line (the checks are collectSubmission's)."""
    blocks, problems = marker_blocks(lines)
    if problems:
        no, what = problems[0]
        raise ReleaseError(f"{where}:{no + 1}: {what}")
    return [Block(a, b, lines[a][: len(lines[a]) - len(lines[a].lstrip())]) for a, b in blocks]


def todo_text(lines: list[str], block: Block) -> str:
    """What the TODO comment just above ``block`` asks for: the text after ``TODO:`` up to the
    first colon or full stop (``DEFAULT_TODO`` when there is no TODO comment)."""
    no = block.start - 1
    comments = []
    while no >= 0 and lines[no].strip().startswith("#"):
        comments.insert(0, lines[no].strip().lstrip("#").strip())
        no -= 1
    for comment in comments:
        if comment.startswith("TODO:"):
            first = re.split(r"[:.](?:\s|$)", comment[len("TODO:") :].strip() + " ")[0].strip()
            if first:
                return first
    return DEFAULT_TODO


def enclosing_name(source: str, line_no: int) -> str | None:
    """``Class.method`` or ``function`` around 1-based ``line_no`` of ``source``, or None at
    the top level (or when ``source`` does not parse, e.g. a notebook cell with magics)."""
    cleaned = "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )
    try:
        tree = ast.parse(cleaned)
    except SyntaxError:
        return None
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            if isinstance(child, kinds) and child.lineno <= line_no <= child.end_lineno:
                names.append(child.name)
                visit(child)
                return

    visit(tree)
    return ".".join(names) or None


def block_names(source: str, where: str, top_level_name: str) -> list[str]:
    """The name of each block of ``source``, in order: its enclosing function, or
    ``top_level_name`` outside any."""
    blocks = find_blocks(source.split("\n"), where)
    return [enclosing_name(source, block.start + 1) or top_level_name for block in blocks]


def placeholder(indent: str, message: str) -> list[str]:
    """The line(s) that raise ``NotImplementedError(message)``, within 100 characters."""
    literal = json.dumps(message)
    line = f"{indent}raise NotImplementedError({literal})"
    if len(line) <= 100:
        return [line]
    width = 100 - len(indent) - 6  # the indent, four spaces and the quotes
    pieces = [""]
    for word in re.split(r"(?<= )", message):  # words with their trailing spaces
        if pieces[-1] and len(json.dumps(pieces[-1] + word)) - 2 > width:
            pieces.append("")
        pieces[-1] += word
    literals = [f"{indent}    {json.dumps(piece)}" for piece in pieces]
    return [f"{indent}raise NotImplementedError(", *literals, f"{indent})"]


def empty_blocks(
    source: str, where: str, label: str, top_level_name: str, keep: frozenset[str] = frozenset()
) -> tuple[str, int]:
    """``source`` with every block's body replaced by a placeholder; returns (text, count).

    ``label`` is the file named in the messages; ``top_level_name`` names blocks outside any
    function (a notebook section). Blocks of the functions named in ``keep`` (as
    ``label::name``, e.g. ``cs231n/layers.py::affine_forward``) keep their solution; the count
    includes them."""
    lines = source.split("\n")
    blocks = find_blocks(lines, where)
    for block in reversed(blocks):
        name = enclosing_name(source, block.start + 1) or top_level_name
        if f"{label}::{name}" in keep:
            continue
        message = f"{name}: {todo_text(lines, block)} in {label}"
        lines[block.start + 1 : block.end] = placeholder(block.indent, message)
    return "\n".join(lines), len(blocks)


def block_lines(source: str, where: str) -> tuple[set[str], set[str]]:
    """(stripped lines inside blocks, stripped lines outside them) of ``source``."""
    lines = source.split("\n")
    inside = set()
    marked = set()
    for block in find_blocks(lines, where):
        for no in range(block.start, block.end + 1):
            marked.add(no)
            if block.start < no < block.end:
                inside.add(lines[no].strip())
    outside = {line.strip() for no, line in enumerate(lines) if no not in marked}
    return inside, outside


# ------------------------------------------------------------------------------------ notebooks


def _heading(markdown: str) -> str | None:
    """The text of the last heading line of a markdown cell, if any."""
    found = [line.lstrip("#").strip() for line in markdown.splitlines() if line.startswith("#")]
    return found[-1] if found else None


def starter_notebook(nb: dict, name: str, keep_blocks: bool = False) -> tuple[dict, int]:
    """The student version of notebook ``nb`` (file ``name``); returns (notebook, blocks).
    With ``keep_blocks`` its code blocks keep their solution (as a student fills them in)."""
    out = copy.deepcopy(nb)
    out["metadata"].pop("papermill", None)
    out["metadata"].pop("widgets", None)
    cells, count, section = [], 0, Path(name).stem
    for i, cell in enumerate(out["cells"]):
        if SOLUTION_ONLY_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        text = cell_source(cell)
        if cell["cell_type"] == "markdown":
            section = _heading(text) or section
            if text.startswith(ANSWER):
                cell["source"] = ANSWER_PLACEHOLDER
        elif cell["cell_type"] == "code":
            where = f"{name} cell {i}"
            if keep_blocks:
                n = len(find_blocks(text.split("\n"), where))
            else:
                cell["source"], n = empty_blocks(text, where, name, section)
            count += n
            cell["outputs"], cell["execution_count"] = [], None
            cell.get("metadata", {}).pop("execution", None)
            cell.get("metadata", {}).pop("papermill", None)
        cells.append(cell)
    out["cells"] = cells
    return out, count


def notebook_lines(nb: dict, name: str) -> tuple[set[str], set[str]]:
    """(solution lines, other lines) of a notebook: block bodies and answers are solution."""
    solution, other = set(), set()
    for i, cell in enumerate(nb["cells"]):
        text = cell_source(cell)
        if cell["cell_type"] == "code":
            inside, outside = block_lines(text, f"{name} cell {i}")
            solution |= inside
            other |= outside
        elif text.startswith(ANSWER) or SOLUTION_ONLY_TAG in cell["metadata"].get("tags", []):
            solution |= {line.strip() for line in text.splitlines()}
        else:
            other |= {line.strip() for line in text.splitlines()}
    return solution, other


def declared_functions(nb: dict) -> list[str]:
    """The package functions a notebook says the student writes in it, in order, as
    ``file::function`` (its metadata ``cs231n.functions``; the table near its top shows them)."""
    return list(nb.get("metadata", {}).get("cs231n", {}).get("functions", []))


def declaration_problems(root: Path) -> list[str]:
    """What is wrong with the notebooks' declarations: every block of the starter's modules
    must belong to exactly one notebook, and every declared function must have a block."""
    owners: dict[str, list[str]] = {}
    blocks: set[str] = set()
    for rel in solution_files(root):
        if rel.endswith(".ipynb") and "/" not in rel:
            for function in declared_functions(json.loads((root / rel).read_text())):
                owners.setdefault(function, []).append(rel)
        elif rel.startswith("cs231n/") and rel.endswith(".py") and in_starter(rel):
            blocks |= {f"{rel}::{name}" for name in block_names((root / rel).read_text(), rel, rel)}
    problems = []
    for function in sorted(blocks - owners.keys()):
        problems.append(f"{function} has a student block that no notebook declares")
    for function, notebooks in sorted(owners.items()):
        if function not in blocks:
            problems.append(f"{', '.join(notebooks)} declares {function}, which has no block")
        elif len(notebooks) > 1:
            problems.append(f"{function} is declared by {len(notebooks)} notebooks: {notebooks}")
    return problems


# ------------------------------------------------------------------------------------ files


def _matches(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(rel, p) for p in patterns)


def solution_files(root: Path) -> list[str]:
    """Every file of the solution (relative, posix), without caches, builds and data."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")
        )
        for filename in sorted(filenames):
            rel = (Path(dirpath) / filename).relative_to(root).as_posix()
            if not filename.endswith(SKIP_SUFFIXES) and rel not in GENERATED:
                found.append(rel)
    return found


def in_starter(rel: str) -> bool:
    """Whether the solution file ``rel`` goes into the starter (README and Makefile are
    written separately)."""
    parts = rel.split("/")
    if len(parts) == 1:
        return rel.endswith(".ipynb") or rel in TOP_FILES
    if parts[0] == "cs231n":
        return not _matches(rel, SOLUTION_ONLY_MODULES) and not rel.endswith(".tar.gz")
    if parts[0] == "tests" and len(parts) == 2:
        return _matches(parts[1], PUBLIC_TESTS)
    return rel in STUDENT_TOOLS


def starter_makefile(text: str) -> str:
    """The solution's Makefile with only the rules of ``STARTER_TARGETS`` (and the install
    stamp they depend on); ``.PHONY`` lists only those."""
    kept = []
    for paragraph in text.strip("\n").split("\n\n"):
        if paragraph.startswith(SOLUTION_ONLY_MAKE):
            continue
        targets = re.findall(r"^([^\s#:=][^:=]*?):(?!=)", paragraph, flags=re.MULTILINE)
        targets = [t for t in targets if t != ".PHONY"]
        if targets and not all(t in STARTER_TARGETS or t.startswith("$(") for t in targets):
            continue
        kept.append(paragraph)
    header = [line for line in kept[0].split("\n") if not line.startswith("#")]
    kept[0] = "\n".join([STARTER_MAKEFILE_COMMENT, *header])
    makefile = "\n\n".join(kept) + "\n"
    phony = " ".join(t for t in STARTER_TARGETS if re.search(rf"^{t}:", makefile, re.MULTILINE))
    makefile = re.sub(r"^\.PHONY:.*$", f".PHONY: {phony}", makefile, flags=re.MULTILINE)
    for target in ("install", "test"):
        if not re.search(rf"^{target}:", makefile, re.MULTILINE):
            raise ReleaseError(f"Makefile: the starter needs a '{target}' target, found none")
    return makefile


# ------------------------------------------------------------------------------------ build


@dataclass
class Report:
    files: list[str]
    module_blocks: int
    notebook_blocks: int
    leaks: list[str]
    dangling: list[str]  # what the starter reaches that only the solution has (tools/reach.py)


def build(root: Path, dest: Path, solved: frozenset[str] = frozenset()) -> Report:
    """Write the starter kit derived from ``root`` into the existing, empty folder ``dest``.

    Every function the student writes must be declared by one notebook (``declared_functions``),
    so that a student meets it where the notebook checks it.

    ``solved`` fills in part of the student's work from the solution, as a student who has got
    that far would have it: module functions named ``file::function`` (as notebooks declare
    them, see ``declared_functions``) and whole notebooks named by their file. The leak check
    then finds those lines, as it should."""
    problems = declaration_problems(root)
    if problems:
        raise ReleaseError("notebook declarations: " + "; ".join(problems))
    files, counts = [], {}
    for rel in solution_files(root):
        if not in_starter(rel):
            continue
        src, target = root / rel, dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".py") and rel.startswith("cs231n/"):
            text, n = empty_blocks(src.read_text(), rel, rel, rel, solved)
            compile(text, rel, "exec")  # the starter must at least be valid Python
            target.write_text(text)
            counts[rel] = n
        elif rel.endswith(".ipynb"):
            nb, counts[rel] = starter_notebook(json.loads(src.read_text()), rel, rel in solved)
            target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        else:
            shutil.copy2(src, target)
        files.append(rel)
    readme = root / STARTER_README
    if not readme.is_file():
        raise ReleaseError(f"{STARTER_README} is missing: it becomes the starter's README.md")
    shutil.copyfile(readme, dest / "README.md")
    (dest / "Makefile").write_text(starter_makefile((root / "Makefile").read_text()))
    # collectSubmission checks that no pair of markers went missing against these counts
    blocks = {rel: n for rel, n in sorted(counts.items()) if n}
    (dest / MARKER_COUNTS).write_text(json.dumps(blocks, indent=1) + "\n")
    files += ["README.md", "Makefile", MARKER_COUNTS]
    module_blocks = sum(n for rel, n in counts.items() if rel.endswith(".py"))
    notebook_blocks = sum(n for rel, n in counts.items() if rel.endswith(".ipynb"))
    reached = dangling(Kit(root, solution_files(root)), Kit(dest, files))
    return Report(sorted(files), module_blocks, notebook_blocks, find_leaks(root, dest), reached)


def solution_only_lines(root: Path) -> set[str]:
    """Lines that only the solution holds: block bodies, answers and reference modules, less
    any line that the starter takes from the solution too (and less trivial lines). Files that
    stay out of the starter (the grader's fixtures, benchmarks, ...) exempt no line."""
    solution, other = set(), set()
    for rel in solution_files(root):
        path = root / rel
        if not in_starter(rel) and not _matches(rel, SOLUTION_ONLY_MODULES):
            continue
        if rel.endswith(".ipynb"):
            inside, outside = notebook_lines(json.loads(path.read_text()), rel)
        elif rel.endswith(".py"):
            text = path.read_text()
            if _matches(rel, SOLUTION_ONLY_MODULES):
                inside, outside = {line.strip() for line in text.splitlines()}, set()
            elif rel.startswith("cs231n/"):
                inside, outside = block_lines(text, rel)
            else:
                inside, outside = set(), {line.strip() for line in text.splitlines()}
        else:
            continue
        solution |= inside
        other |= outside
    return {line for line in solution - other if len(line) >= 3}


def find_leaks(root: Path, starter: Path) -> list[str]:
    """``file: line`` for every solution-only line found in the starter."""
    secret = solution_only_lines(root)
    leaks = []
    for path in sorted(p for p in starter.rglob("*") if p.is_file()):
        rel = path.relative_to(starter).as_posix()
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if rel.endswith(".ipynb"):
            text = "\n".join(cell_source(c) for c in json.loads(text)["cells"])
        leaks += [f"{rel}: {line.strip()}" for line in text.splitlines() if line.strip() in secret]
    return leaks


def blocks_without_todo(starter: Path) -> dict[str, int]:
    """How many placeholders of each starter file fell back on ``DEFAULT_TODO``."""
    found = {}
    for path in sorted(starter.rglob("*")):
        if path.suffix in (".py", ".ipynb"):
            count = path.read_text().count(f": {DEFAULT_TODO} in ")
            if count:
                found[path.relative_to(starter).as_posix()] = count
    return found


def release(root: Path, out: Path, force: bool = False) -> Report:
    """Build the starter of ``root`` into ``out`` atomically (see the module docstring)."""
    root, out = root.resolve(), out.resolve()
    if root.is_relative_to(out):
        raise ReleaseError(f"OUT_DIR {out} holds the solution itself; choose another folder")
    if out.is_relative_to(root) and not SKIP_DIRS & set(out.relative_to(root).parts):
        raise ReleaseError(
            f"OUT_DIR {out} lies inside the solution; choose a folder outside it or under build/"
        )
    if out.exists() and not out.is_dir():
        raise ReleaseError(f"OUT_DIR {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise ReleaseError(f"OUT_DIR {out} is not empty; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        report = build(root, tmp)
        if report.leaks:
            shown = "\n  ".join(report.leaks[:20])
            raise ReleaseError(f"solution lines found in the starter:\n  {shown}")
        if report.dangling:
            shown = "\n  ".join(report.dangling)
            raise ReleaseError(f"the starter reaches what it does not ship:\n  {shown}")
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.release", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out_dir", type=Path, help="folder to write the starter kit into")
    parser.add_argument("--force", action="store_true", help="replace a non-empty OUT_DIR")
    parser.add_argument("--root", type=Path, default=ROOT, help="the solution (default: here)")
    args = parser.parse_args(argv)
    try:
        report = release(args.root, args.out_dir, args.force)
    except ReleaseError as error:
        print(f"release: error: {error}", file=sys.stderr)
        return 1
    print(
        f"release: wrote {args.out_dir} ({len(report.files)} files; emptied "
        f"{report.module_blocks} blocks in modules and {report.notebook_blocks} in notebooks; "
        f"leak check: no solution line in the starter; every import and path it names is in it)"
    )
    untold = blocks_without_todo(args.out_dir)
    if untold:
        where = ", ".join(f"{rel} ({n})" for rel, n in untold.items())
        print(f"release: note: blocks without a '# TODO: ...' comment above them: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
