"""The catalogue of known mistakes (tools/grade/mistakes.py) and the grader's recognition of
them (tools/grade/recognize.py), without grading whole submissions (those tests are in
tests/test_grade_bugs.py)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.grade import cases as case_table  # noqa: E402
from tools.grade.mistakes import BY_CASE, CATALOGUE, patch_text  # noqa: E402

GRADED = [c for c in case_table.CASES if c.question != 5]


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
