"""What the starter's files reach, checked against what the starter ships.

A derived kit must not point at the solution's parts that stay out of it. ``dangling(solution,
starter)`` lists every reference of the starter that the solution satisfies and the starter does
not:

- in Python files and notebook code cells: each ``import`` (absolute or relative, and a dotted
  string such as a ``pytest_plugins`` entry) that names a module of the solution, and each path
  reach, a chain ``base / "a" / "b"`` of string constants or a constant such as ``"a/b.py"``;
  a module or path counts from the kit's root, from the file's folder and its parents, and from
  every folder the file reaches (as with ``sys.path.insert(0, str(ROOT / "scripts"))``);
- in the Makefile and the requirements files (comments included): each path or file name of the
  solution, each dotted module (``python -m tools.grade``) and each ``make TARGET``.

A reference to something the solution lacks too (a third-party module, a file a command creates)
is not this check's business.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

TEXT_FILES = ("Makefile", "requirements*.txt")
PATH_TOKEN = re.compile(
    r"[\w.$()-]*[\w)]/[\w./-]*\w|[\w-]+\.(?:py|pyx|txt|md|ipynb|sh|toml|json)\b"
)
DOTTED = re.compile(r"(?<![\w/.-])-m ([A-Za-z_][\w.]*)")
MAKE_TARGET = re.compile(r"\bmake ([a-z][\w-]*)")


class Kit:
    """The files and folders of a kit, relative to its root (posix)."""

    def __init__(self, root: Path, files: list[str]) -> None:
        self.root = root
        self.files = set(files)
        self.dirs = {str(Path(f).parents[i].as_posix()) for f in files for i in range(f.count("/"))}
        self.names = {Path(f).name for f in files}

    def has(self, rel: str) -> bool:
        rel = rel.strip("/")
        return rel in self.files or rel in self.dirs

    def has_module(self, base: str, dotted: str) -> bool:
        """Whether ``dotted`` imports from folder ``base`` ("" for the root)."""
        path = "/".join(p for p in (base, dotted.replace(".", "/")) if p)
        return any(self.has(path + end) for end in (".py", ".pyx", "/__init__.py")) or (
            path in self.dirs  # a namespace package
        )


def bases(rel: str) -> list[str]:
    """The folders a file's modules and paths count from: its own folder, its parents, the
    root."""
    parts = rel.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(len(parts), -1, -1)]


# ------------------------------------------------------------------------------------ python


def _path_chain(node: ast.AST) -> str | None:
    """``"a/b"`` for ``anything / "a" / "b"``; None when the right-hand sides are not all str
    constants."""
    names = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        if not (isinstance(node.right, ast.Constant) and isinstance(node.right.value, str)):
            return None
        names.insert(0, node.right.value)
        node = node.left
    return "/".join(names) or None


def python_references(source: str, rel: str) -> tuple[list[str], list[str]]:
    """(modules, paths) that the Python ``source`` of file ``rel`` imports and reaches; modules
    dotted (relative imports resolved against ``rel``'s package), paths as written."""
    tree = ast.parse(source)
    modules, paths = [], []
    # the left side of ``x / "a" / "b"`` is itself a chain (``x / "a"``): only the whole counts
    inner = {id(n.left) for n in ast.walk(tree) if isinstance(n, ast.BinOp)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            package = rel.split("/")[:-1]
            if node.level > len(package):
                continue  # beyond the top package: an error in the solution as well
            prefix = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (prefix, node.module or "") if p)
            modules += [module] + [f"{module}.{a.name}" for a in node.names if a.name != "*"]
        elif isinstance(node, ast.BinOp) and id(node) not in inner and (chain := _path_chain(node)):
            paths.append(chain)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if "/" in text and PATH_TOKEN.fullmatch(text):
                paths.append(text)
            elif re.fullmatch(r"[A-Za-z_]\w*(\.\w+)+", text):
                modules.append(text)  # e.g. pytest_plugins = ["tools.grade.pytest_plugin"]
    return [m for m in modules if m], paths


def _reached_dirs(paths: list[str], rel: str, kit: Kit) -> list[str]:
    return [
        f"{b}/{p}".strip("/")
        for p in paths
        for b in bases(rel)
        if f"{b}/{p}".strip("/") in kit.dirs
    ]


def python_dangling(rel: str, source: str, solution: Kit, starter: Kit) -> list[str]:
    """The references of one Python file (or notebook cell) of the starter that only the
    solution satisfies."""
    try:
        modules, paths = python_references(source, rel)
    except SyntaxError:
        return []
    found = []
    for path in paths:
        for base in bases(rel):
            full = f"{base}/{path}".strip("/")
            if solution.has(full) and not starter.has(full):
                found.append(f"{rel}: reaches {full}, which the starter lacks")
                break
    places = bases(rel) + _reached_dirs(paths, rel, solution)
    for module in modules:
        # the first folder where the solution has the module is where Python finds it
        base = next((b for b in places if solution.has_module(b, module)), None)
        if base is not None and not starter.has_module(base, module):
            where = f" (from {base}/)" if base else ""
            found.append(f"{rel}: imports {module}{where}, which the starter lacks")
    return found


# ------------------------------------------------------------------------------------ text


def text_dangling(rel: str, text: str, solution: Kit, starter: Kit, targets: set[str]) -> list[str]:
    """The paths, file names, ``-m`` modules and ``make`` targets named in a Makefile or
    requirements file (comments included) that only the solution has."""
    found = []
    for no, line in enumerate(text.splitlines(), 1):
        for token in PATH_TOKEN.findall(line):
            token = token.rstrip(".")
            in_solution = solution.has(token) or ("/" not in token and token in solution.names)
            in_starter = starter.has(token) or ("/" not in token and token in starter.names)
            if in_solution and not in_starter:
                found.append(f"{rel}:{no}: names {token}, which the starter lacks")
        for module in DOTTED.findall(line):
            if solution.has_module("", module) and not starter.has_module("", module):
                found.append(f"{rel}:{no}: runs module {module}, which the starter lacks")
        for target in MAKE_TARGET.findall(line):
            if target not in targets:
                found.append(f"{rel}:{no}: names `make {target}`, which the starter lacks")
    return found


def _notebook_code(path: Path) -> Iterator[str]:
    """The code cells of a notebook, with IPython's magics and shell lines blanked."""
    import json

    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            yield "\n".join(
                "" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")
            )


def dangling(solution: Kit, starter: Kit) -> list[str]:
    """Every reference of the starter that only the solution satisfies (see the module
    docstring), as ``file: what``."""
    makefile = starter.root / "Makefile"
    text = makefile.read_text() if makefile.is_file() else ""
    targets = set(re.findall(r"^([\w-]+):", text, flags=re.MULTILINE))
    found = []
    for rel in sorted(starter.files):
        path = starter.root / rel
        if rel.endswith(".py"):
            found += python_dangling(rel, path.read_text(), solution, starter)
        elif rel.endswith(".ipynb"):
            for source in _notebook_code(path):
                found += python_dangling(rel, source, solution, starter)
        elif any(Path(rel).match(pattern) for pattern in TEXT_FILES) and "/" not in rel:
            found += text_dangling(rel, path.read_text(), solution, starter, targets)
    return found
