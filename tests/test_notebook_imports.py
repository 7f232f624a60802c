"""Each notebook's imports cell, where the kit or a package it needs is missing, says the one
command that installs it (never a bare ``No module named ...``).

The cell runs in a fresh Python whose import system hides one module, as a Python without it
would; IPython's magics are left out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in ROOT.glob("*.ipynb"))

# The child Python: hide the module named in argv[1] (and its submodules), then run the cell.
HIDE_AND_RUN = """
import importlib.abc, sys
hidden = sys.argv[1]
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == hidden or name.startswith(hidden + "."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
QUICK = True
exec(compile(sys.stdin.read(), "imports cell", "exec"))
"""


def imports_cell(name: str) -> str:
    """The first code cell after the parameters cell, without IPython's magic lines."""
    cells = json.loads((ROOT / name).read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", []), name
    lines = "".join(code[1]["source"]).splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("%"))


def run_without(module: str, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", HIDE_AND_RUN, module],
        input=imports_cell(name),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
# matplotlib is the first import of most cells (fast); cs231n comes after torch (and TensorFlow)
@pytest.mark.parametrize("module", ["matplotlib", pytest.param("cs231n", marks=pytest.mark.slow)])
def test_a_missing_module_names_the_install_command(name: str, module: str) -> None:
    done = run_without(module, name)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ModuleNotFoundError: No module named '{module}' in this kernel's")
    extras = "notebooks,tensorflow" if name == "TensorFlow.ipynb" else "notebooks"
    assert last.endswith(f'%pip install -e "{ROOT}[{extras}]"'), last
    assert "During handling" not in done.stderr  # one error, not a chain


@pytest.mark.slow
def test_the_tensorflow_notebook_says_how_to_install_tensorflow() -> None:
    done = run_without("tensorflow", "TensorFlow.ipynb")
    last = done.stderr.strip().splitlines()[-1]
    assert "No module named 'tensorflow'" in last
    assert last.endswith(f'%pip install -e "{ROOT}[notebooks,tensorflow]"'), last


def test_every_third_party_import_of_the_cell_is_guarded() -> None:
    """Only the standard library is imported outside the ``try``."""
    import ast

    for name in NOTEBOOKS:
        tree = ast.parse(imports_cell(name))
        outside = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        modules = [a.name for n in outside if isinstance(n, ast.Import) for a in n.names]
        modules += [n.module for n in outside if isinstance(n, ast.ImportFrom)]
        assert all(m.split(".")[0] in sys.stdlib_module_names for m in modules), (name, modules)
        assert any(isinstance(n, ast.Try) for n in tree.body), name
