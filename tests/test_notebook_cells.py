"""The numpy notebooks' checks on fixed inputs, one test per cell (``cs231n/notebook_cells.py``).

Each test runs a cell as the notebook runs it, after the notebook's imports and the cells it
needs: a failure says what the notebook's cell says, and names a known mistake when the values
match one. A test carries the marker of its notebook's question (q1 to q4). Warnings are shown,
not raised, as in the notebook.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from cs231n import notebook_cells

KIT = Path(__file__).resolve().parent.parent  # where the notebooks are
NOTEBOOKS = {
    "FullyConnectedNets.ipynb": pytest.mark.q1,
    "BatchNormalization.ipynb": pytest.mark.q2,
    "Dropout.ipynb": pytest.mark.q3,
    "ConvolutionalNetworks.ipynb": pytest.mark.q4,
}


def cell_params() -> list:
    """Every notebook's check cells, named ``<notebook>-<cell label>``, with their marker."""
    return [
        pytest.param(name, cell, id=f"{Path(name).stem}-{cell.label}", marks=mark)
        for name, mark in NOTEBOOKS.items()
        for cell in notebook_cells.check_cells(notebook_cells.load(KIT / name))
    ]


@pytest.mark.parametrize(("notebook", "cell"), cell_params())
def test_notebook_cell(notebook: str, cell: notebook_cells.CheckCell) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            notebook_cells.run_cell(notebook_cells.load(KIT / notebook), cell)
    except ModuleNotFoundError as missing:
        if (missing.name or "").split(".")[0] == "cs231n":
            raise
        pytest.skip(f"{notebook} imports {missing.name}: pip install -e .[notebooks]")
