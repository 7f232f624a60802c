"""The catalogue of known mistakes (tools/grade/mistakes.py), applied to our solution one at a
time: each must cost points on its own function, and the grader must recognize it there by
name (tools/grade/recognize.py).

The patches are anchored on code lines and must match exactly once, so a change to the
solution that moves an anchor fails here loudly instead of testing nothing. All variants are
graded in one batch (two at a time) with Q1-Q4's cases; a mistake may also cost points
elsewhere through functions that call the broken one (a wrong batchnorm also breaks spatial
batchnorm), but it must cost points on the function it belongs to.
"""

from __future__ import annotations

import pytest
from test_grade import Q1_TO_Q4, SEED, describe, grade_all, make_submission

from tools.grade import runner
from tools.grade.mistakes import CATALOGUE
from tools.grade.recognize import HINT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> list[runner.Result]:
    """Every catalogued mistake applied to our solution and graded, in catalogue order."""
    reference = runner.Reference(SEED, Q1_TO_Q4)
    tmp = tmp_path_factory.mktemp("mistakes")
    subs = [make_submission(tmp / f"m{i:02d}", m.patches) for i, m in enumerate(CATALOGUE)]
    return grade_all(subs, reference)


def test_every_mistake_loses_points_on_its_own_function(graded):
    lines, missed = [], []
    for mistake, result in zip(CATALOGUE, graded, strict=True):
        lost = {r.case.program: r.case.points - r.earned for r in result.results}
        by_q = {q: 0.0 for q in (1, 2, 3, 4)}
        for r in result.results:
            by_q[r.question] += r.case.points - r.earned
        lines.append(
            f"Q{mistake.question} {mistake.name}: "
            + ", ".join(f"Q{q} -{v:.2f}" for q, v in by_q.items() if v > 1e-9)
        )
        if lost[mistake.case] <= 1e-9:
            missed.append(f"{mistake.name} ({mistake.case}):\n{describe(result)}")
    print(f"mistake catalogue, inputs seed {SEED}:\n" + "\n".join(lines))
    assert not missed, "\n\n".join(missed)


def test_every_mistake_is_recognized_by_name_on_its_own_function(graded):
    wrong = []
    for mistake, result in zip(CATALOGUE, graded, strict=True):
        (own,) = [r for r in result.results if r.case.program == mistake.case]
        if own.mistake != mistake.name or f"{HINT}{mistake.hint}" not in own.feedback:
            wrong.append(f"{mistake.name} ({mistake.case}): got {own.mistake!r}\n{own.feedback}")
    print(f"recognized {len(CATALOGUE) - len(wrong)} of {len(CATALOGUE)} (seed {SEED})")
    assert not wrong, "\n\n".join(wrong)
