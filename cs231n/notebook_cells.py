"""The notebooks' checks on fixed inputs, run outside Jupyter.

A numpy notebook checks each function in a code cell of its own: inputs fixed by a seed or
written out, the call, and ``check_close`` lines (``cs231n/notebook_checks.py``). The public
tests (``tests/test_notebook_cells.py``) run those very cells, so that ``pytest`` and the
notebook check a function on the same inputs and say the same thing when it is wrong.

A cell counts as a check on fixed inputs when it calls ``check_close`` or ``check_error``, does
not read ``QUICK`` (its inputs would depend on the mode) and every name it reads comes from the
notebook's imports (its first cell that imports from ``cs231n``) or from an earlier such check
cell: those are its prerequisites, run before it. A cell that needs CIFAR-10 or a trained model
reads a name that no check cell defines, and is left out.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from dataclasses import dataclass
from pathlib import Path

CHECKS = ("check_close", "check_error")
STUDENT_BLOCK = re.compile(r"^\s*# \*+START OF YOUR\sCODE", re.MULTILINE)  # a student block
MODE_FLAG = "QUICK"
SOLUTION_ONLY = "solution-only"  # the tag of our cells that the starter leaves out


@dataclass(frozen=True)
class CheckCell:
    """A notebook cell that checks on fixed inputs: its index among the notebook's cells, its
    source, a label for the tests (``"check2-affine_backward"``) and the indices of the cells
    that must run before it, in order."""

    index: int
    source: str
    label: str
    needs: tuple[int, ...]


def _code(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


SCOPES = (ast.FunctionDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _names(node: ast.AST) -> tuple[set[str], set[str]]:
    """(names that ``node``'s scope reads from outside, names it defines): a function's
    arguments and locals, or a comprehension's variables, stay inside their own scope."""
    read, defined = set(), set()

    def visit(child: ast.AST) -> None:
        if isinstance(child, SCOPES):
            if isinstance(child, ast.FunctionDef):
                defined.add(child.name)
            inner_read, inner_defined = _names(child)
            read.update(inner_read - inner_defined)
            return
        if isinstance(child, ast.Name):
            (read if isinstance(child.ctx, ast.Load) else defined).add(child.id)
        elif isinstance(child, ast.arg):
            defined.add(child.arg)
        elif isinstance(child, ast.ClassDef):
            defined.add(child.name)
        elif isinstance(child, ast.Import | ast.ImportFrom):
            defined.update((a.asname or a.name).split(".")[0] for a in child.names)
        elif isinstance(child, ast.ExceptHandler) and child.name:
            defined.add(child.name)
        for grandchild in ast.iter_child_nodes(child):
            visit(grandchild)

    for child in ast.iter_child_nodes(node):
        visit(child)
    return read, defined


def _calls(tree: ast.AST, functions: set[str]) -> list[ast.Call]:
    """The calls in ``tree`` of the functions named in ``functions``, in source order."""
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in functions
    ]
    return sorted(calls, key=lambda c: (c.lineno, c.col_offset))


def _label(tree: ast.AST, number: int) -> str:
    """``check<number>`` (its place among the check cells, the same in the starter, which
    lacks our solution-only cells) and the function that the cell's first check names, if it
    names one in words (``"check2-affine_backward"``)."""
    for call in _calls(tree, set(CHECKS)):
        name = call.args[0] if call.args else None
        if isinstance(name, ast.JoinedStr) and name.values:
            name = name.values[0]
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            word = name.value.split(" ")[0]
            if word.isidentifier() or word.replace(".", "_").isidentifier():
                return f"check{number}-{word}"
    return f"check{number}"


def setup_source(notebook: dict) -> str:
    """The imports (also those inside ``try``) and function definitions of the notebook's
    first cell that imports from ``cs231n``: what its checks need, without its settings."""
    for cell in notebook["cells"]:
        text = _code(cell)
        if cell["cell_type"] == "code" and "from cs231n" in text:
            lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            kept, todo = [], list(ast.parse("\n".join(lines)).body)
            while todo:
                node = todo.pop(0)
                if isinstance(node, ast.Try):
                    todo[:0] = node.body
                elif isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef):
                    kept.append(ast.unparse(node))
            return "\n".join(kept)
    raise ValueError("the notebook has no cell that imports from cs231n")


def check_cells(notebook: dict) -> list[CheckCell]:
    """The notebook's check cells on fixed inputs (see the module docstring), in order."""
    _, imported = _names(ast.parse(setup_source(notebook)))
    available = {name: () for name in imported}  # name -> the cells that define it
    checkers = set(CHECKS)  # with the functions that check cells define
    found = []
    for index, cell in enumerate(notebook["cells"]):
        text = _code(cell)
        if SOLUTION_ONLY in cell.get("metadata", {}).get("tags", []):
            continue  # not in the starter: its checks are ours
        try:
            tree = ast.parse(text) if cell["cell_type"] == "code" else None
        except SyntaxError:  # magics: not plain Python
            continue
        if tree is None:
            continue
        read, defined = _names(tree)
        free = read - defined - set(dir(builtins))
        fixed = MODE_FLAG not in read and free <= available.keys()
        if not (fixed and _calls(tree, checkers)) or STUDENT_BLOCK.search(text):
            for name in defined:  # from here on, the name holds what no check cell made
                available.pop(name, None)
            continue
        needs = tuple(sorted({i for name in free for i in available[name]}))
        found.append(CheckCell(index, text, _label(tree, len(found) + 1), needs))
        for name in defined:
            available[name] = (*needs, index)
        checkers.update(n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
    return found


def load(path: str | Path) -> dict:
    """A notebook file as a dict."""
    return json.loads(Path(path).read_text())


def run_cell(notebook: dict, cell: CheckCell, namespace: dict | None = None) -> dict:
    """Run ``cell`` after the notebook's imports and the cell's prerequisites; return the
    namespace. ``namespace`` (e.g. with its own ``__builtins__``) is filled in and used; what
    it holds already wins over the imports (a replacement for ``check_close``)."""
    namespace = {} if namespace is None else namespace
    given = dict(namespace)
    exec(compile(setup_source(notebook), "<notebook imports>", "exec"), namespace)
    namespace.update(given)
    sources = {c.index: c.source for c in check_cells(notebook)}
    for index in (*cell.needs, cell.index):
        exec(compile(sources[index], f"<notebook cell {index}>", "exec"), namespace)
    return namespace
