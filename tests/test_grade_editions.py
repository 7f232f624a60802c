"""The grader on code like real students': every edition of the classic starter, other correct
styles, classic given files, and the machine's faults (issue 23).

Fixtures are built from our solution by tests/grade_fixtures.py. Each edition's fixture gets
full marks, with its edition named; the same fixture with one real mistake loses points on
that function alone; the environment's faults take no points and say "needs regrade".
"""

from __future__ import annotations

import csv
import importlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

import grade_fixtures
import numpy as np
import pytest
from test_grade import Q1_TO_Q4, ROOT, describe, grade, grade_all, lost, make_submission

from tools.grade import cases as case_table
from tools.grade import compare, editions, envfaults, given, report, runner
from tools.grade.mistakes import BY_NAME
from tools.release import declared_functions

# A fixed draw (GRADE_SEED overrides it: seeds 100-140, 2030729485 and 2078385730, which once
# cost a fixture points, all give full marks and lose points on the planted mistake alone).
SEED = int(os.environ.get("GRADE_SEED", "7"))

# (edition, a mistake of the catalogue applied to our code first, the case it must cost)
MISTAKES = {
    "2017": ("dropout mask not scaled", "dropout_forward_train"),
    "2018": ("max pool gradient sent to the whole window", "max_pool_backward_naive"),
    "2019/2020": ("conv backward strips the padding as [pad:-pad]", "conv_backward_naive"),
    "2021-2024": ("rmsprop without the square root", "rmsprop"),
    "2025": ("batchnorm backward forgets the mean's gradient", "batchnorm_backward"),
    "2026": ("adam without bias correction", "adam"),
}


@pytest.fixture(scope="module")
def reference() -> runner.Reference:
    return runner.Reference(SEED, Q1_TO_Q4)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, reference) -> dict[str, tuple[runner.Result, runner.Result]]:
    """Each edition's fixture, graded as it is and with its one mistake."""
    tmp = tmp_path_factory.mktemp("editions")
    jobs = []
    for edition, (name, _) in MISTAKES.items():
        slug = grade_fixtures.slug(edition)
        jobs.append(grade_fixtures.build(ROOT, tmp / slug, edition))
        patches = BY_NAME[name].patches
        jobs.append(grade_fixtures.build(ROOT, tmp / f"{slug}-mistake", edition, patches))
    results = grade_all(jobs, reference)
    return {e: (results[2 * i], results[2 * i + 1]) for i, e in enumerate(MISTAKES)}


def _max(result: runner.Result) -> float:
    return sum(r.case.points for r in result.results)


@pytest.mark.parametrize("edition", list(MISTAKES))
def test_each_edition_gets_full_marks_and_is_named(graded, edition):
    result, _ = graded[edition]
    assert result.edition.startswith(edition + " ("), result.edition
    assert not lost(result), describe(result)
    asked_q = {q for q in (1, 2, 3, 4) if any(r.question == q for r in result.results)}
    assert result.total == pytest.approx(sum(case_table.QUESTIONS[q][2] for q in asked_q))
    assert result.total == pytest.approx(_max(result))
    for q in asked_q:  # each question keeps its weight over the functions the edition asks
        weight = case_table.QUESTIONS[q][2]
        assert sum(r.case.points for r in result.results if r.question == q) == pytest.approx(
            weight
        )


def test_what_an_edition_does_not_ask_is_not_graded(graded):
    asked = {e: {r.case.program for r in graded[e][0].results} for e in MISTAKES}
    assert {"svm_loss", "two_layer_net_loss"} & asked["2021-2024"] == set()
    assert {"svm_loss", "two_layer_net_loss"} <= asked["2019/2020"]
    assert not {"conv_relu_sandwiches", "conv_bn_sandwiches", "affine_relu"} & asked["2019/2020"]
    assert not {"layernorm_forward", "spatial_groupnorm_forward"} & asked["2017"]
    assert not {"affine_forward", "fc_net_loss", "adam"} & asked["2025"]
    assert "adam" in asked["2026"] and "fc_net_loss" not in asked["2026"]
    assert "not graded (the 2021-2024 starter" in report.table(graded["2021-2024"][0])


@pytest.mark.parametrize("edition", list(MISTAKES))
def test_one_mistake_loses_points_on_that_function_alone(graded, edition):
    _, result = graded[edition]
    name, case = MISTAKES[edition]
    assert set(lost(result)) == {case}, f"{name}\n{describe(result)}"


def test_eps_outside_the_square_root_keeps_full_marks_in_the_net(tmp_path):
    """At this seed, eps drawn as for the layers' own cases (1e-8 to 1e-6) let the
    2019/2020 fixture's batchnorm (eps outside the square root in test mode: correct) move
    the net's test-mode scores by 2.9e-4 and lose points; the net's cases draw eps smaller."""
    cases = [case_table.CASES_BY_ID[c] for c in ("fc_net_batchnorm", "batchnorm_forward_test")]
    submission = grade_fixtures.build(ROOT, tmp_path / "2019", "2019/2020")
    result = grade(submission, runner.Reference(2030729485, cases))
    assert not lost(result), describe(result)


def test_a_size1_array_stored_as_one_number_needs_regrade(graded):
    """The 2018 fixture's svm_loss stores a (1, 1) array as one element (numpy 1.x did)."""
    result, _ = graded["2018"]
    (flagged,) = [r for r in result.results if r.regrade]
    assert flagged.case.program == "svm_loss" and flagged.earned == flagged.case.points
    assert "numpy 1.x" in flagged.regrade and result.status.startswith("needs regrade")
    data = report.gradescope(result)
    assert data["extra_data"]["needs_regrade"] and "needs regrade" in data["output"]


def test_the_kit_given_modules_answer_the_classic_names():
    for module, names in given.CLASSIC_GIVEN_NAMES.items():
        found = importlib.import_module(f"cs231n.{module}")
        assert [n for n in names if not hasattr(found, n)] == [], module
    rels = {p.as_posix() for p in given.given_files()}
    assert {"solver.py", "fast_layers.py", "im2col.py", "gradient_check.py"} <= rels
    assert any(r.startswith("im2col_cython") and r.endswith(".so") for r in rels)
    assert "layers.py" not in rels and "optim.py" not in rels  # the student's own


# --------------------------------------------------------------------------- the case table


def test_cases_grade_only_functions_the_notebooks_declare():
    declared = set()
    for nb in ROOT.glob("*.ipynb"):
        declared |= set(declared_functions(json.loads(nb.read_text())))
    graded_functions = {f for c in case_table.CASES for f in c.writes}
    assert graded_functions <= declared, graded_functions - declared
    assert declared - graded_functions == set(case_table.UNGRADED), declared - graded_functions
    assert all(c.writes for c in case_table.CASES)
    assert not any("solver" in f for f in graded_functions)


def test_every_case_draws_several_inputs_that_reach_the_branches(reference):
    conv = reference.inputs["conv_backward_naive"]
    pads = {int(conv[f"{i}:pad"]) for i in range(5)}
    strides = {int(conv[f"{i}:stride"]) for i in range(5)}
    assert 0 in pads and max(pads) > 0 and max(strides) > 1
    assert any(conv[f"{i}:w"].shape[2] != conv[f"{i}:w"].shape[3] for i in range(5))
    assert any(conv[f"{i}:x"].dtype == np.float32 for i in range(5))
    bn = reference.inputs["batchnorm_backward"]
    assert any(bn[f"{i}:x"].shape[0] == bn[f"{i}:x"].shape[1] for i in range(3))
    drop = reference.inputs["dropout_forward_train"]
    ps = [float(drop[f"{i}:p"]) for i in range(4)]
    assert min(ps) < 0.06 and max(ps) > 0.94
    assert any(drop[f"{i}:x"].dtype == np.float32 for i in range(4))
    assert any(int(reference.inputs["max_pool_backward_naive"][f"{i}:ties"]) for i in range(4))
    assert 1 in {reference.inputs["affine_forward"][f"{i}:x"].shape[0] for i in range(4)}
    assert all(c.draws >= 2 for c in case_table.CASES if "init" not in c.program)


@pytest.mark.parametrize("seed", range(12))
def test_drawn_scores_keep_every_correct_class_probability_above_1e_9(seed):
    """A correct softmax may clip its probabilities or add a small epsilon before the log:
    the same loss as ours while no correct-class probability is tiny, as in training. The
    draws stay there (a ThreeLayerConvNet drawn with wide weights once went under 1e-40)."""
    models = ["two_layer_net_loss", "fc_net_loss", "fc_net_dropout", "three_layer_convnet"]
    selected = [case_table.CASES_BY_ID[p] for p in ["softmax_loss", *models]]
    ref = runner.Reference(10_000 + seed, selected)
    lowest = {}
    for program in ["softmax_loss", *models]:
        inputs, outputs = ref.inputs[program], ref.outputs[program]
        for d in range(selected[0].draws if program == "softmax_loss" else 1_000):
            scores = (
                inputs.get(f"{d}:x") if program == "softmax_loss" else outputs.get(f"scores@{d}")
            )
            if scores is None:
                break
            y = inputs[f"{d}:y"]
            shifted = scores - scores.max(axis=1, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            lowest[f"{program}@{d}"] = float(log_p[np.arange(len(y)), y].min())
    assert len(lowest) > 8, lowest
    assert min(lowest.values()) > np.log(1e-9), lowest


# --------------------------------------------------------------------------- environment


def test_a_missing_classic_package_in_a_block_needs_regrade(tmp_path, reference):
    anchor = "    a, fc_cache = affine_forward(x, w, b)\n"
    patch = ("layer_utils.py", anchor, "    from past.utils import x\n" + anchor)
    result = grade(make_submission(tmp_path / "s", [patch]), reference)
    assert lost(result) == {}, describe(result)
    assert {r.case.program for r in result.results if r.regrade} >= {"affine_relu"}
    assert "'past.utils' of the course's environment" in report.table(result)


def test_causes_of_environment_faults(tmp_path):
    (tmp_path / "cs231n").mkdir()
    (tmp_path / "cs231n" / "layers.py").write_text(
        "import numpy as np\n"
        "def f(x):\n"
        "    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****\n"
        "    y = undefined_name\n"
        "    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****\n"
        "    return helper(y)\n"
    )
    at = " (at cs231n/layers.py line {}, in f)"
    inside = {"error": "NameError: name 'undefined_name' is not defined" + at.format(4)}
    outside = {"error": "NameError: name 'helper' is not defined" + at.format(6)}
    assert envfaults.cause(inside, tmp_path) is None
    assert "outside the student's code" in envfaults.cause(outside, tmp_path)
    given_copy = (tmp_path / "cs231n" / "layers.py").read_text()  # markers, yet the kit's file
    (tmp_path / "cs231n" / "fast_layers.py").write_text(given_copy)
    in_given = {"error": "NameError: name 'col2im_6d_cython' is not defined" + at.format(4)}
    in_given["error"] = in_given["error"].replace("layers.py", "fast_layers.py")
    assert "outside the student's code" in envfaults.cause(in_given, tmp_path)
    removed = {"error": "AttributeError: module 'numpy' has no attribute 'cast'" + at.format(4)}
    assert "np.cast" in envfaults.cause(removed, tmp_path)
    # The worker answers np.float_ as numpy 1.x did: an error for it was not numpy's
    answered = {"error": "AttributeError: module 'numpy' has no attribute 'float_'" + at.format(4)}
    assert envfaults.cause(answered, tmp_path) is None
    typo = {"error": "AttributeError: module 'numpy' has no attribute 'maximun'" + at.format(4)}
    assert envfaults.cause(typo, tmp_path) is None
    future = {"error": "ModuleNotFoundError: No module named 'future'" + at.format(4)}
    assert "'future'" in envfaults.cause(future, tmp_path)
    # A classic package that is here: raised by the student's code, not missing from the machine
    forged = {"error": "ModuleNotFoundError: No module named 'scipy'" + at.format(4)}
    assert envfaults.cause(forged, tmp_path) is None
    dead = {"error": envfaults.NOT_STARTED + " (no output)", "stopped": True}
    assert envfaults.cause(dead, tmp_path, none_ran=True) == "the grading worker could not start"
    assert envfaults.cause(dead, tmp_path, none_ran=False) is None


# --------------------------------------------------------------------------- --compare


def test_compare_lists_every_moved_submission_and_why(tmp_path, graded):
    old_rows = [graded["2019/2020"][0], graded["2021-2024"][1]]
    report.write_csv(tmp_path / "old.csv", old_rows)
    new_rows = [graded["2019/2020"][0], graded["2021-2024"][0]]  # the mistake fixed
    new_rows[1].submission = old_rows[1].submission
    report.write_csv(tmp_path / "new.csv", new_rows)
    lines = compare.compare(tmp_path / "old.csv", tmp_path / "new.csv")
    name = old_rows[1].submission
    assert lines[0].startswith(f"{name}: ") and "(+" in lines[0], lines
    text = "\n".join(lines)
    assert "Q1 +" in text and "no longer loses: rmsprop (was -" in text, text
    assert lines[-1] == "1 of 2 submission(s) moved"
    with open(tmp_path / "old.csv") as f:
        assert list(csv.DictReader(f))[0]["edition"].startswith("2019/2020")


def test_rescaled_points_keep_each_question_weight():
    for edition in editions.EDITIONS.values():
        asked = editions.asked(edition, Q1_TO_Q4)
        for q in {c.question for c in asked}:
            total = sum(c.points for c in asked if c.question == q)
            assert total == pytest.approx(case_table.QUESTIONS[q][2]), (edition.name, q)


def test_detection_without_a_package_is_this_kit(tmp_path):
    assert editions.detect(tmp_path).edition is editions.OURS


class _CycleWithFinalizer:
    """Garbage whose collection runs Python code, which lets another thread in."""

    def __del__(self):
        sum(range(3))


def test_source_is_parsed_right_while_other_submissions_are_graded_on_threads():
    # CPython 3.11 counts the AST constructor's recursion in one shared place: two threads
    # parsing at once failed correct code with "AST constructor recursion depth mismatch".
    source = (ROOT / "cs231n" / "layers.py").read_text()
    failures = []

    def parse_with_garbage(_):
        for _ in range(40):
            junk = [_CycleWithFinalizer() for _ in range(200)]
            for a, b in zip(junk[::2], junk[1::2], strict=True):
                a.other, b.other = b, a
            del junk
            if editions.parse(source) is None:
                failures.append("correct source not parsed")

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(parse_with_garbage, range(2)))
    assert not failures, f"{len(failures)} of 80 parses failed"


@pytest.mark.parametrize(
    "source", ["x = " + "-" * 20_000 + "1", "x = " + "+".join(["a"] * 50_000), "x = 1\0"]
)
def test_source_too_deep_or_malformed_is_no_tree_and_spoils_nothing_after(source):
    assert editions.parse(source) is None
    assert editions.parse("y = 1") is not None
