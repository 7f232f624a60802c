"""Grading time per submission, and the recognition's share of it.

Grades our solution, and our solution with four mistakes in four functions (written as
students write them: tests/test_grade_diagnosis.py's TYPICAL), several times each with one
grading run's reference, as the grader does for a class; prints the median wall time per
submission and the time ``recognize.add_hints`` took on its wrong functions (the four, and
the functions that call them). The first
submission of a run also pays for running the catalogue's mistakes once on the run's inputs
(shared by all later submissions): printed apart.

    python benchmarks/bench_grade.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _machine import describe  # noqa: E402
from test_grade import FAST, Q1_TO_Q4, make_submission  # noqa: E402
from test_grade_diagnosis import TYPICAL  # noqa: E402

from tools.grade import recognize, runner  # noqa: E402

FOUR = ["affine dw the other way round", "batchnorm var with ddof=1",
        "sgd without the learning rate",
        "conv db a mean over the batch"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(describe())
    tmp = Path(tempfile.mkdtemp(prefix="bench-grade-"))
    patches = [p for t in TYPICAL if t.name in FOUR for p in t.patches]
    subs = {
        "solution": make_submission(tmp / "ok"),
        "four mistakes": make_submission(tmp / "four", patches),
    }
    reference = runner.Reference(1234, Q1_TO_Q4)
    start = time.perf_counter()
    first = runner.grade(subs["four mistakes"], reference, FAST, with_q5=False)
    print(
        f"first submission of a run (runs the catalogue once): {time.perf_counter() - start:.2f} s"
    )
    wrong = sum(1 for r in first.results if r.feedback)
    print(f"four mistakes: {wrong} functions lose points (the four, and those that call them)")
    timed = {}
    original = recognize.add_hints

    def add_hints(*a, **k):
        t0 = time.perf_counter()
        original(*a, **k)
        timed.setdefault("hints", []).append(time.perf_counter() - t0)

    runner.recognize.add_hints = add_hints
    for name, sub in subs.items():
        walls = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            runner.grade(sub, reference, FAST, with_q5=False)
            walls.append(time.perf_counter() - t0)
        print(f"{name}: {statistics.median(walls):.3f} s per submission (median of {len(walls)})")
    hints = timed["hints"][args.repeat :]  # the four-mistake submissions
    print(
        f"recognition ({wrong} wrong functions): {1000 * statistics.median(hints):.1f} ms (median)"
    )


if __name__ == "__main__":
    main()
