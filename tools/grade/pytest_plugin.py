"""pytest's side of the grader: ``--submission PATH`` for tests/test_grade_submission.py.

    pytest --submission=a2_code_submission.zip -m q2

(the repository's top-level conftest.py loads this plugin; elsewhere
``python -m pytest -p tools.grade.pytest_plugin ...`` does).
Write ``--submission=PATH`` as one word: pytest takes a separate PATH for a test path when it
looks for its root folder.
With ``--submission``, only tests/test_grade_submission.py runs: the other tests check this
repository's own package, not the submission. Without it, nothing changes, and those tests
grade this repository's ``cs231n``, which must score full marks.
"""

from __future__ import annotations

GRADING_MODULE = "test_grade_submission.py"


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--submission",
        default=None,
        metavar="PATH",
        help="grade this submission (zip or kit folder) with tests/test_grade_submission.py "
        "instead of running the kit's tests; combine with -m q1..q5",
    )


def pytest_collection_modifyitems(config, items) -> None:
    if not config.getoption("--submission", default=None):
        return
    keep = [item for item in items if item.path.name == GRADING_MODULE]
    dropped = [item for item in items if item.path.name != GRADING_MODULE]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
