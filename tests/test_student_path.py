"""The starter as a student works through it, notebook by notebook.

For k = 1..6 the starter is derived with the solution filled in for what a student has written
by then: the package functions that notebooks 1..k declare (``tools.release.declared_functions``)
and notebook k's own cells (``student_kits.py``). Notebook k then runs in quick mode and must
pass, so no notebook depends on a function that a later one introduces. (That the public tests
of question k pass in kit k is ``test_student_questions.py``: a module of its own, so that the
two pytest workers run it beside this one.)

The executed notebooks are kept, as a student keeps them, and together they make the "weaker
student": every function right, the open-ended parts trained only briefly (quick mode). Every
notebook ran without an exception while its goals print "missed"; collectSubmission accepts
the kit, and the grader gives Q1-Q4 full marks and Q5 the partial credit its accuracy earns.

One module-scoped run (six notebooks one after the other, a few minutes); the tests read it.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from notebook_runs import executed_cells_and_stdout, run_notebook_quick
from student_kits import declared, derive_kit, derive_kits

from cs231n.notebook_checks import TARGET_LINE

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import release  # noqa: E402
from tools.collect_submission import MODEL_FILES, NOTEBOOKS, cell_source  # noqa: E402

# The goals on a student's own choices: printed, never enforced in the notebook.
GOALS = {
    "FullyConnectedNets.ipynb": ["Best fully connected net validation accuracy"],
    "ConvolutionalNetworks.ipynb": [
        "DeepConvNet test accuracy (10,000 images)",
        "DeepConvNet training + test wall time",
    ],
    "PyTorch.ipynb": [
        "PyTorch own model test accuracy",
        "PyTorch own model training + test wall time",
    ],
    "TensorFlow.ipynb": [
        "TensorFlow own model test accuracy",
        "TensorFlow own model training + test wall time",
    ],
}


def run_in_kit(name: str, kit: Path, out_dir: Path) -> tuple[Path, str | None]:
    """Execute ``kit/name`` in quick mode, its kernel importing the kit's ``cs231n``:
    (executed notebook, None) or (executed notebook, the error)."""
    try:
        return run_notebook_quick(name, out_dir, kit, PYTHONPATH=str(kit)), None
    except Exception as error:  # noqa: BLE001 (reported by the test of that notebook)
        return out_dir / name, f"{type(error).__name__}: {str(error)[-2000:]}"


# ------------------------------------------------------------------------------ declarations


def what_you_write_table(name: str) -> list[str]:
    """The ``file::function`` rows of the notebook's "What you write in this notebook" table."""
    cells = json.loads((ROOT / name).read_text())["cells"]
    (text,) = [
        cell_source(c) for c in cells if cell_source(c).startswith("## What you write in this")
    ]
    rows = re.findall(r"^\| \d+ \| `([^`]+)` \| `([^`]+)` \|", text, flags=re.MULTILINE)
    return [f"{file}::{function}" for function, file in rows]


def first_uses(name: str) -> list[str]:
    """The package functions the notebook's code cells use, in order of first use; a class
    stands for its ``__init__`` and then its other methods."""
    functions = [f for nb in NOTEBOOKS for f in declared(nb)]
    found = []
    for cell in json.loads((ROOT / name).read_text())["cells"]:
        if cell["cell_type"] != "code" or "solution-only" in cell["metadata"].get("tags", []):
            continue
        source = "\n".join(
            "" if line.lstrip().startswith("%") else line for line in cell_source(cell).split("\n")
        )
        names = sorted(
            (node.lineno, node.col_offset, node.id)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Name)
        )
        for *_, used in names:
            for function in functions:
                if function.split("::")[1].split(".")[0] == used and function not in found:
                    found.append(function)
    return found


def test_every_student_function_belongs_to_one_notebook() -> None:
    assert release.declaration_problems(ROOT) == []


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_table_shows_the_declared_functions_in_their_order_of_use(name: str) -> None:
    """The table at the top lists what the metadata declares, in the order the notebook's code
    first uses them (``_normalize_backward``, which only the batchnorm backward calls, comes
    just before it); none of them is used by an earlier notebook."""
    mine = declared(name)
    assert what_you_write_table(name) == mine
    earlier = [f for nb in NOTEBOOKS[: NOTEBOOKS.index(name)] for f in declared(nb)]
    used = [f for f in first_uses(name) if f not in earlier]
    helper = "cs231n/layers.py::_normalize_backward"
    assert [f for f in mine if f != helper] == used
    if helper in mine:
        assert mine[mine.index(helper) + 1] == "cs231n/layers.py::batchnorm_backward_alt"


# ------------------------------------------------------------------------------ the path


@pytest.fixture(scope="module")
def kits(tmp_path_factory) -> dict[str, Path]:
    return derive_kits(tmp_path_factory.mktemp("kits"))


@pytest.fixture(scope="module")
def student(kits, tmp_path_factory) -> dict:
    """Walk the six notebooks in order; {"errors": {name: error}, "kit": the final kit}."""
    base = tmp_path_factory.mktemp("student")
    errors, executed = {}, {}
    for k, (name, kit) in enumerate(kits.items(), start=1):
        executed[name], errors[name] = run_in_kit(name, kit, base / f"out{k}")
    # The weaker student's kit: everything written, each notebook saved as it ran.
    solved = {f for name in NOTEBOOKS for f in declared(name)}
    final = derive_kit(base / "weaker", solved | set(NOTEBOOKS))
    for name, path in executed.items():
        shutil.copy2(path, final / name)
        model = kits[name] / MODEL_FILES.get(name, "-")
        if model.is_file():  # Q5's model, saved where the notebook ran
            shutil.copy2(model, final / model.name)
    return {"errors": errors, "kit": final}


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_with_what_the_student_has_written_so_far(student, name: str) -> None:
    assert student["errors"][name] is None, f"{name} in quick mode: {student['errors'][name]}"


@pytest.mark.slow
def test_the_weaker_student_sees_goals_reported_as_missed(student) -> None:
    """The goals print a [target] line marked not enforced; accuracies on the small subsets miss
    theirs, and nothing stopped the notebook."""
    for name, goals in GOALS.items():
        _, text = executed_cells_and_stdout(student["kit"] / name)
        found = {m["name"]: m for m in map(TARGET_LINE.match, text.splitlines()) if m}
        for goal in goals:
            assert goal in found, f"{name}: no [target] line for {goal!r}"
            assert found[goal]["unenforced"], f"{name}: {goal!r} is enforced"
        assert found[goals[0]]["status"] == "missed", f"{name}: {found[goals[0]].string}"


@pytest.mark.slow
def test_collect_submission_accepts_the_weaker_student(student) -> None:
    kit = student["kit"]
    env = {k: v for k, v in os.environ.items() if k != "CS231N_REQUIRE_PDF"}
    env["CHROMIUM"] = "no-such-browser"  # the PDF has its own tests; the zip is the submission
    done = subprocess.run(
        ["bash", "collectSubmission.sh"],
        cwd=kit,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    archive = kit / "a2_code_submission.zip"
    assert archive.is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    assert set(NOTEBOOKS) <= set(zipfile.ZipFile(archive).namelist())


@pytest.mark.slow
def test_the_grader_gives_the_weaker_student_partial_q5_credit(student, tmp_path) -> None:
    archive = student["kit"] / "a2_code_submission.zip"
    if not archive.is_file():
        test_collect_submission_accepts_the_weaker_student(student)
    results = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "tools.grade", str(archive), "--json", str(results), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    tests = json.loads(results.read_text())["tests"]
    lost = [t["name"] for t in tests if "Q5" not in t["name"] and t["score"] < t["max_score"]]
    assert not lost, f"the weaker student's code lost points: {lost}"
    (q5,) = [t for t in tests if "Q5" in t["name"]]
    assert 2 < q5["score"] < q5["max_score"], q5
