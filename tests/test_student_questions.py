"""The public tests of each question pass in the starter as a student has it after that
question's notebook: kit k (``student_kits.derive_kits``) has what notebooks 1..k declare
written, and ``pytest -m qk`` passes there with no test skipped, so no test marked qk needs a
later notebook's function (the markers of conftest.py). The notebooks themselves run in
``test_student_path.py``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from student_kits import derive_kits, owner

from tools.collect_submission import NOTEBOOKS


@pytest.fixture(scope="module")
def kits(tmp_path_factory) -> dict[str, Path]:
    return derive_kits(tmp_path_factory.mktemp("kits"))


# The numpy questions: notebook k is question k (Q5's framework tests are not public).
QUESTION_NOTEBOOKS = list(enumerate(NOTEBOOKS[:4], start=1))


@pytest.mark.slow
@pytest.mark.parametrize(("k", "name"), QUESTION_NOTEBOOKS, ids=[n for _, n in QUESTION_NOTEBOOKS])
def test_public_tests_of_each_question_pass_with_what_is_written_so_far(kits, k, name) -> None:
    """``pytest -m qk`` passes in kit k, with no test skipped. A test of an earlier question
    passed in an earlier kit, which has a subset of these functions written and the same code
    for them, so ``-m "q1 or ... or qk"`` passes here too without running it all again."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", f"q{k}", "-q", "-rfEs", "--tb=line"]
        + ["-p", "no:cacheprovider"],
        cwd=kits[name],
        env={**os.environ, "PYTHONPATH": str(kits[name])},
        capture_output=True,
        text=True,
        timeout=600,
    )
    needs = sorted(set(re.findall(r"NotImplementedError: (\w+(?:\.\w+)?): ", done.stdout)))
    hint = "".join(f"\n  needs {f}, which {owner(f)}" for f in needs)
    assert done.returncode == 0, f"pytest -m q{k} after {name}:{hint}\n" + done.stdout[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, summary
