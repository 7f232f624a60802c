"""The grader (tools/grade): our solution scores 100%, the starter 0%, hostile submissions are
contained, zips and folders grade alike, and the reports have the promised shape.

Submissions are built in tmp_path from this repository's ``cs231n`` (our solution) with
text patches applied; a patch whose old text is not found exactly once fails loudly, so
that a change to the solution cannot silently turn a test into one that cannot fail. The
catalogue of typical student bugs lives in tools/grade/mistakes.py (tests/test_grade_bugs.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grade_fixtures import stripe_images, trained_model  # noqa: E402

from cs231n import torch_utils as tu  # noqa: E402
from tools.grade import cases as case_table  # noqa: E402
from tools.grade import mistakes, q5, report, runner  # noqa: E402
from tools.grade.recognize import CLUE, HINT  # noqa: E402

# Fresh inputs for every test session, as in real grading; the seed is in every failure message
# (GRADE_SEED=N repeats a session's inputs).
SEED = int(os.environ.get("GRADE_SEED", secrets.randbits(31)))
# Case timeout well above a case's normal time (milliseconds), even on a loaded machine.
FAST = runner.Limits(case_seconds=10.0, total_seconds=120.0)
Q1_TO_Q4 = [c for c in case_table.CASES if c.question != 5]
MAX_Q1_TO_Q4 = 90.0


@pytest.fixture(scope="session")
def reference() -> runner.Reference:
    return runner.Reference(SEED, Q1_TO_Q4)


def make_submission(dest: Path, patches=(), source: Path = ROOT) -> Path:
    """A folder like a student's: ``source``'s cs231n (code only) with ``patches`` applied.

    ``patches``: (file relative to cs231n/, old text, new text); old must occur exactly once.
    """
    shutil.copytree(
        source / "cs231n",
        dest / "cs231n",
        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c", "datasets", "*.png", "*.jpg"),
    )
    for rel, old, new in patches:
        path = dest / "cs231n" / rel
        path.write_text(mistakes.patch_text(path.read_text(), old, new, rel))
    return dest


def executed_notebook(path: Path, line: str) -> None:
    """A minimal executed notebook whose one code cell printed ``line``."""
    cell = {
        "cell_type": "code",
        "id": "c1",
        "metadata": {},
        "execution_count": 1,
        "source": ["print('...')"],
        "outputs": [{"output_type": "stream", "name": "stdout", "text": [line + "\n"]}],
    }
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}
    path.write_text(json.dumps(nb))


def grade(path: Path, reference, limits=FAST, with_q5=False) -> runner.Result:
    return runner.grade(path, reference, limits, with_q5=with_q5)


def grade_all(paths: list[Path], reference) -> list[runner.Result]:
    """``grade`` each submission, two at a time (one worker per core), in the given order."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda path: grade(path, reference), paths))


def lost(result: runner.Result) -> dict[str, float]:
    """Points lost per case id (only cases that lost any)."""
    return {
        r.case.program: round(r.case.points - r.earned, 4)
        for r in result.results
        if r.earned < r.case.points - 1e-9
    }


def describe(result: runner.Result) -> str:
    return f"seed {SEED}\n" + report.table(result)


# ------------------------------------------------------------------------------- fidelity


def test_case_table_adds_up_to_the_weights():
    case_table.check_table()
    assert sum(w for _, _, w in case_table.QUESTIONS.values()) == 100
    assert len({c.program for c in case_table.CASES}) == len(case_table.CASES)


def test_solution_scores_full_marks(tmp_path, reference):
    sub = make_submission(tmp_path / "solution")
    executed_notebook(sub / "PyTorch.ipynb", "Part IV test acc: 0.9950 on 600 test images")
    images, labels = stripe_images(600, seed=1)  # Q5: a model the grader evaluates
    tu.save_model(trained_model(*stripe_images(2000, seed=2)), path=sub / "PyTorch_model.pt")
    sets = q5.ImageSets({q5.TEST: images}, {q5.TEST: labels}, frozenset({"torch"}))
    result = runner.grade(sub, reference, FAST, True, None, sets)
    assert result.total == 100, describe(result)
    assert result.status == "ok", describe(result)
    assert "landlock ABI" in result.sandbox, result.sandbox
    assert not any(r.mistakes or r.clues for r in result.results)
    assert HINT not in report.table(result) and CLUE not in report.table(result)


def test_zip_and_folder_grade_alike(tmp_path, reference):
    sub = make_submission(tmp_path / "sub", [("layers.py", "    margins[rows, y] = 0\n", "")])
    zpath = tmp_path / "a2_code_submission.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for path in sub.rglob("*.py"):
            zf.write(path, path.relative_to(sub).as_posix())
        zf.writestr("../evil.py", "x = 1")  # a path outside the folder is ignored
    folder, zipped = grade(sub, reference), grade(zpath, reference)
    assert lost(folder) == lost(zipped) == {"svm_loss": 0.5}, describe(zipped)
    assert not (tmp_path.parent / "evil.py").exists()


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "starter"
    subprocess.run(
        [sys.executable, "-m", "tools.release", str(out)], cwd=ROOT, check=True, capture_output=True
    )
    return out


def test_starter_scores_zero_without_crashing(starter, reference):
    result = grade(starter, reference, with_q5=True)
    assert result.total == 0, describe(result)
    assert result.status == "ok", describe(result)
    text = report.table(result)
    assert "NotImplementedError" in text and "cs231n/layers.py" in text
    assert HINT not in text and CLUE not in text  # unwritten work is no mistake


# ------------------------------------------------------------------------------- feedback


def test_feedback_names_the_wrong_output_and_the_matching_ones(tmp_path, reference):
    patch = ("layers.py", "    dx = dxc - dxc.mean(axis=0)", "    dx = dxc")
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert lost(result) == {"batchnorm_backward": pytest.approx(7 / 3, abs=1e-3)}, describe(result)
    (feedback,) = [r.feedback for r in result.results if r.feedback]
    line, hint = feedback.split("\n")
    assert line.startswith("batchnorm_backward: dx differs from the reference by ")
    assert "(max relative error) on x of shape (" in line
    assert line.endswith("; dgamma and dbeta match")
    known = mistakes.BY_NAME["batchnorm backward forgets the mean's gradient"]
    assert hint == HINT + known.hint + " (explains dx)"
    assert f"dgamma and dbeta match\n      {HINT}" in report.table(result)  # indented under it


def test_reports_gradescope_json_and_csv(tmp_path, reference):
    patch = ("layers.py", "    dx = dxc - dxc.mean(axis=0)", "    dx = dxc")
    result = grade(make_submission(tmp_path / "s", [patch]), reference, with_q5=True)
    path = tmp_path / "results.json"
    report.write_json(path, result)
    data = json.loads(path.read_text())
    assert data["score"] == pytest.approx(100 - 7 / 3 - 10, abs=0.01)
    assert data["stdout_visibility"] in ("hidden", "visible", "after_due_date", "after_published")
    assert {"name", "score", "max_score", "output", "visibility"} <= set(data["tests"][0])
    assert sum(t["max_score"] for t in data["tests"]) == 100
    (bn,) = [t for t in data["tests"] if t["name"] == "Q2 batchnorm_backward"]
    assert bn["output"].splitlines()[1].startswith(HINT) and bn["visibility"] == "visible"
    report.write_csv(tmp_path / "s.csv", [result, result])
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert rows[0].startswith("id,Q1,Q2,Q3,Q4,Q5,total,status") and len(rows) == 3


def test_inputs_change_with_the_seed():
    a = runner.Reference(1, Q1_TO_Q4[:1]).inputs["affine_forward"]["0:x"]
    b = runner.Reference(2, Q1_TO_Q4[:1]).inputs["affine_forward"]["0:x"]
    assert a.shape != b.shape or not np.allclose(a, b)


# ------------------------------------------------------------------------------- hostile


USERS_OF_LAYER_UTILS = {
    "affine_relu", "two_layer_net_loss", "two_layer_net_init", "fc_net_init", "fc_net_loss",
    "fc_net_batchnorm", "fc_net_layernorm", "fc_net_dropout", "conv_relu_sandwiches",
    "conv_bn_sandwiches", "three_layer_convnet",
}  # fmt: skip


def test_import_error_outside_the_blocks_needs_regrade_and_takes_no_points(tmp_path, reference):
    """An import that fails outside the student's blocks is the machine's fault (issue 23)."""
    patch = ("layer_utils.py", "import numpy as np\n", "import numpy as np\nimport no_such_mod\n")
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert lost(result) == {}, describe(result)
    flagged = {r.case.program for r in result.results if r.regrade}
    assert flagged == USERS_OF_LAYER_UTILS, describe(result)
    assert result.status.startswith("needs regrade"), result.status
    assert "ModuleNotFoundError" in report.table(result) and "needs regrade" in report.table(result)


def test_a_fault_of_the_grader_itself_needs_regrade_not_an_error(tmp_path, reference, monkeypatch):
    """An exception in the grader's own code (here: reading the edition) is not the
    student's: the row says "needs regrade" with the cause, not "error"."""

    def broken(root):
        raise SystemError("AST constructor recursion depth mismatch (before=18, after=14)")

    monkeypatch.setattr(runner.editions, "detect", broken)
    result = grade(make_submission(tmp_path / "s"), reference)
    assert result.status.startswith("needs regrade: the grader failed: SystemError"), result.status


def test_import_error_inside_a_block_costs_the_functions_that_need_it(tmp_path, reference):
    anchor = "    a, fc_cache = affine_forward(x, w, b)\n"
    patch = ("layer_utils.py", anchor, "    import no_such_mod\n" + anchor)
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert "affine_relu" in lost(result) and result.status == "ok", describe(result)
    assert not any(r.regrade for r in result.results)


def test_exception_costs_only_its_function(tmp_path, reference):
    patch = ("layers.py", "    dx = dxc - dxc.mean(axis=0)", "    raise RuntimeError('oops')")
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert lost(result) == {"batchnorm_backward": 7}, describe(result)


def test_endless_loop_times_out_and_costs_only_its_function(tmp_path, reference):
    patch = ("layers.py", "    margins[rows, y] = 0\n", "    while True:\n        pass\n")
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert lost(result) == {"svm_loss": 1}, describe(result)
    assert "timed out" in report.table(result)


def test_huge_allocation_fails_in_the_worker_only(tmp_path, reference):
    patch = (
        "layers.py",
        "            out[:, :, i, j] = window.max(axis=(2, 3))",
        "            out[:, :, i, j] = np.ones(50 * 2**30 // 8)[0] * window.max(axis=(2, 3))",
    )
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert set(lost(result)) == {"max_pool_forward_naive", "max_pool_backward_naive"}
    assert "MemoryError" in report.table(result)


@pytest.mark.parametrize(
    "module, call, cases",
    [
        ("optim.py", "sys.exit(0)", {"sgd", "sgd_momentum", "rmsprop", "adam"}),
        ("classifiers/cnn.py", "os._exit(0)", {"three_layer_convnet"}),
    ],
)
def test_exit_at_import_costs_only_that_module(tmp_path, reference, module, call, cases):
    anchor = "import numpy as np\n"
    patch = (module, anchor, f"{anchor}import os, sys\n{call}\n")
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert set(lost(result)) == cases, describe(result)


FAKE_SCORE = """import numpy as np
import sys
print('{"score": 100.0, "tests": []}')
print("Total score: 100 / 100")
sys.stderr.write("Q1 16/16 Q2 34/34\\n")
"""


def test_printing_a_fake_score_changes_nothing(tmp_path, starter, reference):
    sub = tmp_path / "s"
    shutil.copytree(starter / "cs231n", sub / "cs231n")
    path = sub / "cs231n" / "layers.py"
    path.write_text(path.read_text().replace("import numpy as np\n", FAKE_SCORE, 1))
    result = grade(sub, reference)
    assert result.total == 0, describe(result)


MONKEYPATCH = """import numpy as np
import torch
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.max = lambda *a, **k: 0.0
torch.allclose = lambda *a, **k: True
"""


def test_monkeypatching_numpy_and_torch_changes_nothing(tmp_path, reference):
    bug = ("layers.py", "    dx = dxc - dxc.mean(axis=0)", "    dx = dxc")
    patch = ("layers.py", "import numpy as np\n", MONKEYPATCH)
    result = grade(make_submission(tmp_path / "s", [patch, bug]), reference)
    assert "batchnorm_backward" in lost(result), describe(result)
    assert np.max(np.array([1.0, 2.0])) == 2.0  # this process's numpy is untouched


ESCAPE = """import numpy as np
for _target in {targets!r}:
    try:
        with open(_target, "w") as _f:
            _f.write('{{"score": 100.0}}')
    except OSError as _exc:
        print("blocked", _target, _exc)
"""


def test_writing_outside_its_folder_is_blocked(tmp_path, reference):
    sentinel = tmp_path / "grader_file.txt"
    sentinel.write_text("original")
    results = tmp_path / "results.json"
    targets = [str(sentinel), str(results), "results.json", str(ROOT / "tools" / "grade" / "x.py")]
    patch = ("layers.py", "import numpy as np\n", ESCAPE.format(targets=targets))
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert sentinel.read_text() == "original"
    assert not results.exists() and not (ROOT / "tools" / "grade" / "x.py").exists()
    assert result.total == MAX_Q1_TO_Q4, describe(result)  # writing in its own folder is harmless


STEAL = """import numpy as np
try:
    exec(open({path!r}).read())  # our solution, if it could be read
except OSError as _exc:
    print("blocked", _exc)
"""


def test_reading_the_reference_solution_is_blocked(tmp_path, starter, reference):
    sub = tmp_path / "s"
    shutil.copytree(starter / "cs231n", sub / "cs231n")
    path = sub / "cs231n" / "layers.py"
    steal = STEAL.format(path=str(ROOT / "cs231n" / "layers.py"))
    # After the starter's own definitions, so that a successful read would replace them.
    path.write_text(path.read_text() + "\n" + steal)
    result = grade(sub, reference)
    assert result.total == 0, describe(result)


def test_a_broken_submission_costs_only_its_own_row(tmp_path, reference):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    empty = tmp_path / "empty"
    empty.mkdir()
    for path in (bad, empty):
        result = grade(path, reference)
        assert result.total == 0 and result.status != "ok", result.status


# ----------------------------------------------------------------------------------- CLI


def _zip_folder(folder: Path, out: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(out, "w") as zf:
        for path in folder.rglob("*"):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return out


def test_cli_grades_a_folder_of_zips_one_row_each(tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    good = make_submission(tmp_path / "good")
    _zip_folder(good, batch / "alice.zip", prefix="a2/")  # a wrapping folder is fine
    endless = ("layers.py", "import numpy as np\n", "import numpy as np\nwhile True:\n    pass\n")
    hang = make_submission(tmp_path / "hang", [endless])
    _zip_folder(hang, batch / "bob.zip")
    (batch / "carol.zip").write_bytes(b"PK\x03\x04 broken")
    csv_path, json_dir = tmp_path / "scores.csv", tmp_path / "json"
    cmd = [sys.executable, "-m", "tools.grade", str(batch), "--jobs", "2", "--quiet",
           "--questions", "1,2,3,4", "--case-timeout", "6", "--submission-timeout", "15",
           "--csv", str(csv_path), "--json", str(json_dir), "--seed", str(SEED)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"seed {SEED}" in proc.stdout
    rows = {r.split(",")[0]: r.split(",") for r in csv_path.read_text().splitlines()[1:]}
    assert set(rows) == {"alice", "bob", "carol"}
    assert rows["alice"][6] == "90.00" and rows["alice"][7] == "ok"
    assert rows["bob"][6] == "0.00" and "timed out" in rows["bob"][7]
    assert rows["carol"][6] == "0.00" and rows["carol"][7].startswith("error")
    assert json.loads((json_dir / "alice.json").read_text())["score"] == 90


def test_pytest_plugin_grades_one_question_of_a_submission(tmp_path):
    bug = ("layers.py", "        out = x.copy()", "        out = x * p")
    sub = make_submission(tmp_path / "s", [bug])
    plugin = ["-p", "tools.grade.pytest_plugin", "-p", "no:cacheprovider"]
    args = ["tests/test_grade_submission.py", f"--submission={sub}", "-m", "q3", "-q"]
    cmd = [sys.executable, "-m", "pytest", *plugin, *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "2 failed, 2 passed" in proc.stdout, proc.stdout[-2000:]
    assert "dropout_forward (test): out differs from the reference" in proc.stdout


FORGE = """import glob
import numpy as np
for _p in glob.glob("out/*.npz"):  # the outputs of the cases that ran before this import
    np.savez(_p, out=np.array([object()], dtype=object), dx=np.full(3, np.nan))
for _p in glob.glob("out/*.json")[:3]:
    open(_p, "w").write("[1, 2")
"""


def test_forged_output_files_are_ignored(tmp_path, reference):
    patch = ("optim.py", "import numpy as np\n", FORGE)  # results come back on a pipe
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert result.status == "ok", result.status
    assert result.total == MAX_Q1_TO_Q4, describe(result)


KILL = """import os
import signal
import numpy as np
for _pid in {pids!r}:
    try:
        os.kill(_pid, signal.SIGKILL)
    except OSError as _exc:
        print("blocked", _pid, _exc)
"""


def test_signalling_processes_outside_the_sandbox_is_blocked(tmp_path, reference):
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        pids = [bystander.pid, os.getpid()]  # another process, and the grader itself
        patch = ("optim.py", "import numpy as np\n", KILL.format(pids=pids))
        result = grade(make_submission(tmp_path / "s", [patch]), reference)
        assert bystander.poll() is None, "the submission killed a process outside its sandbox"
        assert result.total == MAX_Q1_TO_Q4, describe(result)
    finally:
        bystander.kill()
        bystander.wait()


def test_feedback_agrees_in_number():
    assert runner._differ_text([("loss", 0.5, "rel")]).startswith("loss differs from")
    assert runner._differ_text([("scores", 0.5, "rel")]).startswith("scores differ from")
