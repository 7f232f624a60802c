"""`make autograder`'s zip, run the way Gradescope runs it, against a fake /autograder tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from test_grade import executed_notebook, make_submission  # noqa: E402

from tools.grade import build_autograder, notebooks  # noqa: E402


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    return build_autograder.build(tmp_path_factory.mktemp("build") / "autograder.zip")


def fake_tree(base: Path, autograder_zip: Path) -> Path:
    """/autograder as Gradescope lays it out: source (the zip unpacked), submission, results."""
    root = base / "autograder"
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir()
    return root


def run_autograder(root: Path) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable}
    env["OPENBLAS_NUM_THREADS"] = "1"
    script = root / "source" / "run_autograder"
    proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_zip_has_gradescopes_layout(autograder_zip):
    names = set(zipfile.ZipFile(autograder_zip).namelist())
    assert {"setup.sh", "run_autograder", "requirements-grader.txt"} <= names
    assert {"cs231n/layers.py", "tools/grade/worker.py", "tools/grade/__main__.py"} <= names
    pins = zipfile.ZipFile(autograder_zip).read("requirements-grader.txt").decode()
    assert all("==" in line for line in pins.splitlines())


def test_run_autograder_grades_a_submission_zip(tmp_path, autograder_zip):
    root = fake_tree(tmp_path, autograder_zip)
    sub = make_submission(tmp_path / "student", [("layers.py", "    dx = dxc - dxc.mean(axis=0)",
                                                  "    dx = dxc")])  # fmt: skip
    executed_notebook(sub / "PyTorch.ipynb", "Part IV test acc: 0.7300 on 10000 test images")
    with zipfile.ZipFile(root / "submission" / "a2_code_submission.zip", "w") as zf:
        for path in sub.rglob("*"):
            if path.is_file():
                zf.write(path, path.relative_to(sub).as_posix())
    data = run_autograder(root)
    assert data["score"] == pytest.approx(90 - 7 / 3 + notebooks.RUN_POINTS, abs=0.01)
    assert sum(t["max_score"] for t in data["tests"]) == 100
    (q5,) = [t for t in data["tests"] if t["name"].startswith("Q5")]
    assert "evaluated by the course staff" in q5["output"]  # --q5-unverified: no torch there
    (bn,) = [t for t in data["tests"] if t["score"] < t["max_score"] and t is not q5]
    assert bn["name"] == "Q2 batchnorm_backward" and "dx differs" in bn["output"]
    assert "\nlooks like a known mistake: the gradient through the batch mean" in bn["output"]


def test_run_autograder_writes_valid_results_for_an_empty_submission(tmp_path, autograder_zip):
    root = fake_tree(tmp_path, autograder_zip)
    data = run_autograder(root)
    assert data["score"] == 0 and data["tests"]
    shutil.rmtree(root / "source" / "tools")  # the grader itself broken: still valid JSON
    data = run_autograder(root)
    assert data["score"] == 0 and "grader failed" in data["output"]
