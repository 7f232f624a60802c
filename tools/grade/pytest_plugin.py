"""pytest's side of the grader: ``--submission PATH`` for tests/test_grade_submission.py.

    python -m pytest -p tools.grade.pytest_plugin tests/test_grade_submission.py \
        --submission a2_code_submission.zip -m q2

(or plain ``pytest --submission PATH -m q2`` once tests/conftest.py imports
``pytest_addoption`` from here). Without ``--submission`` those tests grade this
repository's own ``cs231n``, which must score full marks.
"""

from __future__ import annotations


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--submission",
        default=None,
        metavar="PATH",
        help="grade this submission (zip or kit folder) in tests/test_grade_submission.py "
        "instead of the repository's cs231n; combine with -m q1..q5",
    )
