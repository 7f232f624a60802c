"""The catalogue of known mistakes (tools/grade/mistakes.py) and the grader's recognition of
them (tools/grade/recognize.py), without grading whole submissions (those tests are in
tests/test_grade_bugs.py)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
from test_grade import SEED, describe, grade, lost, make_submission

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.grade import cases as case_table  # noqa: E402
from tools.grade import diagnose, programs, recognize, report, runner  # noqa: E402
from tools.grade.cases import CASES_BY_ID  # noqa: E402
from tools.grade.mistakes import BY_CASE, BY_NAME, CATALOGUE, patch_text  # noqa: E402
from tools.grade.recognize import HINT  # noqa: E402

GRADED = [c for c in case_table.CASES if c.question != 5]
# A wrong batchnorm_backward that the catalogue does not know.
UNKNOWN = (
    "layers.py",
    "    dx = dxc - dxc.mean(axis=0)",
    "    dx = 1.5 * (dxc - dxc.mean(axis=0))",
)


def test_catalogue_covers_every_graded_function():
    assert len(CATALOGUE) >= 60
    assert len({m.name for m in CATALOGUE}) == len(CATALOGUE)
    assert {m.case for m in CATALOGUE} <= set(case_table.CASES_BY_ID)
    assert [c.program for c in GRADED if c.program not in BY_CASE] == []


def test_every_patch_applies_once_and_the_hint_does_not_give_the_code():
    for m in CATALOGUE:
        assert m.hint and m.hint[0].islower() and not m.hint.endswith("."), m.name
        for rel, old, new in m.patches:
            patch_text((ROOT / "cs231n" / rel).read_text(), old, new, rel)  # raises if not once
            for line in filter(None, (s.strip() for s in new.splitlines())):
                assert line not in m.hint, f"{m.name}: the hint quotes the code {line!r}"


# ----------------------------------------------------------------------------- recognition


@pytest.fixture(scope="module")
def reference() -> runner.Reference:
    return runner.Reference(SEED, GRADED)


def test_each_mistake_run_here_differs_from_the_reference_and_is_named_alone(reference):
    """In the grader's process: the mistake's outputs, offered as a student's, are named by
    the first diagnosis, alone, and it explains every output the mistake changes."""
    wrong = []
    for m in CATALOGUE:
        outcome = recognize.outcome(m, reference)
        if outcome is None:
            wrong.append(f"{m.name}: same as the reference")
            continue
        report = {"error": outcome} if isinstance(outcome, str) else {"outputs": outcome}
        found = recognize.explain(CASES_BY_ID[m.case], report, reference)
        if not found or found[0].mistakes != (m.name,):
            wrong.append(f"{m.name}: {[f.key for f in found]}")
    assert not wrong, f"seed {SEED}: {wrong}"


def test_a_patched_solution_leaves_our_modules_alone(reference):
    """Modules reached by the patch are rebuilt beside ours; sys.modules is untouched."""
    ours = {k: v for k, v in sys.modules.items() if k.startswith("cs231n")}
    m = BY_NAME["batchnorm with the unbiased batch variance"]  # a patch to layers.py
    patched = recognize.PatchedSolution(m)
    assert patched.layers is not importlib.import_module("cs231n.layers")
    assert patched.fc_net is not importlib.import_module("cs231n.classifiers.fc_net")
    assert patched.optim is importlib.import_module("cs231n.optim")  # not reached: our own
    assert patched.layer_utils.batchnorm_forward is patched.layers.batchnorm_forward
    mistaken = recognize.run(m, reference.inputs[m.case])
    assert {k: v for k, v in sys.modules.items() if k.startswith("cs231n")} == ours
    a = {k: v.copy() for k, v in reference.inputs[m.case].items()}
    again = programs.batchnorm_forward_train(programs.Modules(), a)  # our solution, as before
    assert np.array_equal(again["out@0"], reference.outputs[m.case]["out@0"])
    assert not np.allclose(mistaken["out@0"], again["out@0"])


def test_output_distance_needs_the_same_nan_and_errors_the_same_text():
    case = CASES_BY_ID["rmsprop"]
    mistake = np.array([1.0, np.nan, 2.0])
    assert diagnose.output_distance(case, "w@0", mistake.copy(), mistake) == 0
    assert (
        0 < diagnose.output_distance(case, "w@0", np.array([1.0, np.nan, 2 + 1e-7]), mistake) <= 1
    )
    for w in ([1.0, 0.0, 2.0], [1.0, np.nan, 2.1], [np.nan, 1.0, 2.0]):
        assert diagnose.output_distance(case, "w@0", np.array(w), mistake) == np.inf, w
    assert diagnose.output_distance(case, "w@0", None, mistake) == np.inf
    error = "KeyError: 'W1'"
    assert diagnose.same_error({"error": error + " (at cs231n/x.py line 3, in f)"}, error)
    assert not diagnose.same_error({"error": "KeyError: 'W2'"}, error)
    assert not diagnose.same_error({"outputs": {}}, error)


# ------------------------------------------------------------------ grading (in the worker)


def test_two_mistakes_in_one_function_get_two_hints_and_an_unknown_one_a_clue(tmp_path, reference):
    two = [p for name in ("softmax loss not divided by N", "softmax gradient not divided by N")
           for p in BY_NAME[name].patches]  # fmt: skip
    result = grade(make_submission(tmp_path / "two", two), reference)
    (softmax,) = [r for r in result.results if r.case.program == "softmax_loss"]
    both = {"softmax loss not divided by N", "softmax gradient not divided by N"}
    assert set(softmax.mistakes) == both, describe(result)
    assert softmax.feedback.count(HINT) == 2, softmax.feedback
    result = grade(make_submission(tmp_path / "unknown", [UNKNOWN]), reference)
    assert lost(result), describe(result)
    assert not any(r.mistake for r in result.results), describe(result)
    (bn,) = [r for r in result.results if r.case.program == "batchnorm_backward"]
    assert bn.clues == ("dx off by a constant factor",), bn.feedback
    assert "dx is 1.5 times ours on every input" in report.table(result)


def test_an_unwritten_function_runs_no_mistake():
    """A starter's placeholder is unwritten work, not a mistake: ``explain`` returns at once,
    before it would run any mistake (the reference is not even looked at)."""
    case = CASES_BY_ID["affine_forward"]
    report = {"error": "NotImplementedError: affine_forward: write the forward pass (at x.py:3)"}
    assert recognize.explain(case, report, reference=None) == []
