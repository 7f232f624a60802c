"""One test per graded case, for a grader who wants pytest's own output.

    pytest --submission=a2_code_submission.zip -m q2

A test passes when its function earns full marks; its failure message is the grader's
feedback. The submission runs in the grader's sandbox (tools/grade/worker.py), never in this
process. Without ``--submission`` the repository's own ``cs231n`` is graded, so these tests
are also the check that our solution scores full marks on freshly drawn inputs.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.grade import cases as case_table  # noqa: E402
from tools.grade import q5, runner  # noqa: E402

SEED = int(os.environ.get("GRADE_SEED", secrets.randbits(31)))
PARAMS = [
    pytest.param(c.program, marks=getattr(pytest.mark, f"q{c.question}"), id=c.program)
    for c in case_table.CASES
]


@pytest.fixture(scope="module")
def submission(request) -> Path | None:
    path = request.config.getoption("--submission", default=None)
    return Path(path).resolve() if path else None


@pytest.fixture(scope="module")
def graded(request, submission) -> dict[str, runner.CaseResult]:
    """The selected cases of this module, graded in one worker run."""
    wanted = {
        item.callspec.params.get("case_id")
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    }
    selected = [c for c in case_table.CASES if c.program in wanted]
    reference = runner.Reference(SEED, selected)
    result = runner.grade(submission or ROOT, reference, runner.Limits(), with_q5=False)
    if result.status.startswith(("error", "no cs231n")):
        pytest.fail(f"the submission could not be graded: {result.status}")
    return {r.case.program: r for r in result.results}


@pytest.mark.parametrize("case_id", PARAMS)
def test_case(graded, case_id):
    r = graded[case_id]
    assert r.earned == r.case.points, f"{r.feedback} ({r.earned:g}/{r.case.points:g}; seed {SEED})"


@pytest.mark.q5
def test_framework_notebook(submission, tmp_path):
    if submission is None:
        pytest.skip("the repository's notebooks are committed without outputs")
    root = runner.unpack(submission, tmp_path / "submission")
    r, _ = q5.grade_q5(root, q5.ImageSets.load(), runner.Limits(), tmp_path / "q5")
    assert r.earned == r.case.points, f"{r.feedback} ({r.earned:g}/{r.case.points:g})"
