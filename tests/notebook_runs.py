"""Running the kit's notebooks from the tests: in quick mode, with our notebook runner
(scripts/run_notebooks.py), and reading back what they printed. The starter ships no notebook
test, so it does not ship this module."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def execute_quick(name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], str]:
    """Execute the kit's notebook ``name`` in quick mode (``QUICK = True``) into a
    temporary folder: (cells, stdout). Skips without papermill or CIFAR-10."""
    output = run_notebook_quick(name, tmp_path_factory.mktemp(Path(name).stem))
    return executed_cells_and_stdout(output)


def run_notebook_quick(name: str, out_dir: Path, notebook_dir: Path = ROOT, **env: str) -> Path:
    """Execute ``notebook_dir/name`` in quick mode into ``out_dir`` with our notebook runner,
    its kernel seeing CIFAR-10 and ``env``; return the executed notebook. Skips without
    papermill or CIFAR-10; raises what the runner raises when a cell fails."""
    pytest.importorskip("papermill")
    from cs231n.data_utils import resolve_cifar10_dir

    if not resolve_cifar10_dir().is_dir():
        pytest.skip("CIFAR-10 not found: set CS231N_CIFAR10 (see cs231n/data_utils.py)")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from run_notebooks import run_notebook
    finally:
        sys.path.pop(0)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"CS231N_CIFAR10": str(resolve_cifar10_dir()), **env}.items():
            mp.setenv(key, value)  # the kernel inherits them
        return run_notebook(name, out_dir, quick=True, notebook_dir=notebook_dir)


def executed_cells_and_stdout(notebook: Path) -> tuple[list[dict], str]:
    """The cells of an executed notebook and everything its code cells printed to stdout."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    text = "".join(
        "".join(out.get("text", ""))
        for cell in cells
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
        if out["output_type"] == "stream" and out["name"] == "stdout"
    )
    return cells, text
