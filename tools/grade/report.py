"""What the grader writes: a table per submission, Gradescope's results.json, a CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tools.grade.cases import QUESTIONS
from tools.grade.runner import Result


def table(result: Result) -> str:
    """Per-question points, then one line of feedback for each function that lost points."""
    head = f"inputs seed {result.seed}; {result.status}; sandbox: {result.sandbox}"
    lines = [f"== {result.submission}  ({head})"]
    for q, (label, title, weight) in QUESTIONS.items():
        if any(r.question == q for r in result.results):
            lines.append(f"  {label} {title:<24} {result.question_points(q):6.2f} / {weight}")
    max_total = sum(r.case.points for r in result.results)
    lines.append(f"  {'total':<27} {result.total:6.2f} / {max_total:g}")
    for r in result.results:
        if r.feedback:
            lost = r.case.points - r.earned
            feedback = r.feedback.replace("\n", "\n      ")  # a hint goes on a line of its own
            lines.append(f"  - {QUESTIONS[r.question][0]} (-{lost:.2f}) {feedback}")
    return "\n".join(lines)


def gradescope(result: Result) -> dict:
    """Gradescope's results.json for one submission (its sandbox line included)."""
    sandbox_line = f"Sandbox: {result.sandbox}"
    tests = []
    for r in result.results:
        label = QUESTIONS[r.question][0]
        tests.append(
            {
                "name": f"{label} {r.case.function}",
                "score": round(r.earned, 2),
                "max_score": r.case.points,
                "output": r.feedback or "ok",
                "visibility": "visible",
            }
        )
    return {
        "score": result.total,
        "output": f"Inputs drawn with seed {result.seed}. {result.status}. {sandbox_line}",
        "tests": tests,
        "stdout_visibility": "hidden",
        "extra_data": {"sandbox": result.sandbox, "protections": result.protections},
    }


def write_json(path: Path, result: Result) -> None:
    """Write results.json atomically (whatever was there before is replaced)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(gradescope(result), indent=2))
    tmp.replace(path)


def write_csv(path: Path, results: list[Result]) -> None:
    header = ["id", *[QUESTIONS[q][0] for q in QUESTIONS], "total", "status", "seconds", "seed"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for res in results:
            points = [f"{res.question_points(q):.2f}" for q in QUESTIONS]
            row = [res.submission, *points, f"{res.total:.2f}", res.status, f"{res.seconds:.1f}"]
            writer.writerow([*row, res.seed])
