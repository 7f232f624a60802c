"""The four numpy notebooks (Q1-Q4), executed in quick mode as ``make run QUICK=1`` would.

Each notebook runs once (a class-scoped fixture, one test class per notebook, so that
``pytest -n 2 --dist loadscope`` runs two notebooks at a time) and its outputs are checked:
quick mode was injected, no cell raised, enough ``[check]`` lines and all of them ``ok``, the
headline ``[target]`` lines printed, enough plots. A notebook that does not exist fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from notebook_runs import execute_quick

from cs231n.notebook_checks import CHECK_LINE, TARGET_LINE

ROOT = Path(__file__).resolve().parent.parent

# What each notebook must show in quick mode: at least `checks` [check] lines (all ok), each
# name in `targets` as a [target] line, at least `pngs` plots.
EXPECTED = {
    "FullyConnectedNets.ipynb": {
        "checks": 46,
        "pngs": 5,
        "targets": [
            "TwoLayerNet validation accuracy",
            "3-layer net training accuracy on 50 examples",
            "5-layer net training accuracy on 50 examples",
            "Best fully connected net validation accuracy",
        ],
    },
    "BatchNormalization.ipynb": {
        "checks": 78,
        "pngs": 4,
        "targets": [
            "Batchnorm lead in final training accuracy (deep net)",
            "Batchnorm lead in best validation accuracy, mean over the weight-scale sweep",
            "Batchnorm lead over the baseline in training accuracy, batch 50 minus batch 5",
        ],
    },
    "Dropout.ipynb": {
        "checks": 32,
        "pngs": 1,
        "targets": [
            "Dropout narrows the train/val gap (final epoch, keep 1.0 minus keep 0.25)",
            "Dropout keeps the best validation accuracy (keep 0.25 minus keep 1.0)",
        ],
    },
    "ConvolutionalNetworks.ipynb": {
        "checks": 47,
        "pngs": 4,
        "targets": [
            "ThreeLayerConvNet training accuracy on 100 examples",
            "ThreeLayerConvNet training accuracy after one epoch",
            "DeepConvNet test accuracy (10,000 images)",
            "DeepConvNet training + test wall time",
        ],
    },
}


def run_quick(name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], str]:
    """Execute ``name`` in quick mode (a missing notebook fails): (cells, stdout text)."""
    if not (ROOT / name).is_file():
        pytest.fail(f"{name} does not exist")
    return execute_quick(name, tmp_path_factory)


@pytest.fixture(scope="class")
def executed(request, tmp_path_factory) -> tuple[list[dict], str]:
    """The notebook of the requesting test class, run once for the class."""
    return run_quick(request.cls.name, tmp_path_factory)


class NotebookInQuickMode:
    """The checks shared by the four notebooks; subclasses set ``name``."""

    name: str

    def test_quick_mode_was_injected(self, executed) -> None:
        cells, _ = executed
        injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
        assert len(injected) == 1 and "QUICK = True" in "".join(injected[0]["source"])

    def test_no_cell_raised(self, executed) -> None:
        cells, _ = executed
        errors = [
            f"{out['ename']}: {out['evalue']}"
            for cell in cells
            for out in cell.get("outputs", [])
            if out["output_type"] == "error"
        ]
        assert not errors, errors[:1]

    def test_checks_printed_and_all_ok(self, executed) -> None:
        _, text = executed
        lines = [line for line in text.splitlines() if line.startswith("[check]")]
        assert len(lines) >= EXPECTED[self.name]["checks"], lines
        bad = [line for line in lines if not (CHECK_LINE.match(line) and line.endswith(" ok"))]
        assert not bad, bad[:3]

    def test_headline_targets_reported(self, executed) -> None:
        _, text = executed
        found = [TARGET_LINE.match(line) for line in text.splitlines()]
        names = {match["name"] for match in found if match}
        missing = set(EXPECTED[self.name]["targets"]) - names
        assert not missing, f"no [target] line for {sorted(missing)}; found {sorted(names)}"
        assert all(match["unenforced"] for match in found if match)  # quick mode: not enforced

    def test_plots_produced(self, executed) -> None:
        cells, _ = executed
        pngs = sum(
            "image/png" in out.get("data", {})
            for cell in cells
            if cell["cell_type"] == "code"
            for out in cell.get("outputs", [])
        )
        assert pngs >= EXPECTED[self.name]["pngs"]


@pytest.mark.slow
@pytest.mark.q1
class TestFullyConnectedNets(NotebookInQuickMode):
    name = "FullyConnectedNets.ipynb"


@pytest.mark.slow
@pytest.mark.q2
class TestBatchNormalization(NotebookInQuickMode):
    name = "BatchNormalization.ipynb"


@pytest.mark.slow
@pytest.mark.q3
class TestDropout(NotebookInQuickMode):
    name = "Dropout.ipynb"


@pytest.mark.slow
@pytest.mark.q4
class TestConvolutionalNetworks(NotebookInQuickMode):
    name = "ConvolutionalNetworks.ipynb"


def test_expectations_cover_the_four_notebooks() -> None:
    tested = {cls.name for cls in NotebookInQuickMode.__subclasses__()}
    assert tested == set(EXPECTED)
    assert all(re.fullmatch(r"\w+\.ipynb", name) for name in EXPECTED)
