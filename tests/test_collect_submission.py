"""collectSubmission: what goes into the zip, and that nothing else is touched."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import collect_submission  # noqa: E402


def _notebook(path: Path, outputs: list) -> None:
    cell = {
        "cell_type": "code",
        "source": "1",
        "metadata": {},
        "outputs": outputs,
        "execution_count": None,
    }
    path.write_text(
        json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    (tmp_path / "cs231n" / "classifiers").mkdir(parents=True)
    (tmp_path / "cs231n" / "datasets").mkdir()
    (tmp_path / "cs231n" / "layers.py").write_text("x = 1\n")
    (tmp_path / "cs231n" / "im2col_cython.pyx").write_text("# cython\n")
    (tmp_path / "cs231n" / "classifiers" / "fc_net.py").write_text("y = 2\n")
    (tmp_path / "cs231n" / "datasets" / "fetch.py").write_text("z = 3\n")
    _notebook(
        tmp_path / "Dropout.ipynb", [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    )
    _notebook(tmp_path / "PyTorch.ipynb", [])
    return tmp_path


def test_zip_holds_code_and_notebooks(kit: Path, capsys) -> None:
    assert collect_submission.main(["--root", str(kit)]) == 0
    with zipfile.ZipFile(kit / "a2_code_submission.zip") as zf:
        names = sorted(zf.namelist())
    assert names == [
        "Dropout.ipynb",
        "PyTorch.ipynb",
        "cs231n/classifiers/fc_net.py",
        "cs231n/im2col_cython.pyx",
        "cs231n/layers.py",
    ]
    err = capsys.readouterr().err
    assert "PyTorch.ipynb has no outputs" in err and "Dropout" not in err
    assert not list(kit.glob(".tmp-*"))
    assert (kit / "cs231n" / "layers.py").read_text() == "x = 1\n"


def test_no_notebooks_is_an_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "cs231n").mkdir()
    assert collect_submission.main(["--root", str(tmp_path)]) == 1
    assert "no notebooks" in capsys.readouterr().err
