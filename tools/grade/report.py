"""What the grader writes: a table per submission, Gradescope's results.json, a CSV.

Feedback, statuses and names quote the submission (its error messages, its file names):
every writer escapes them for where they land (text.py). results.json asks Gradescope to
show every string as plain text (``output_format`` "text"), so that nothing renders as
Markdown or HTML.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tools.grade import text
from tools.grade.cases import QUESTIONS
from tools.grade.runner import Result


def table(result: Result) -> str:
    """Per-question points, then one line of feedback for each function that lost points."""
    head = f"inputs seed {result.seed}; {result.status}; sandbox: {result.sandbox}"
    lines = [f"== {result.submission}  ({head})"]
    if result.edition:
        lines.append(f"  edition: {result.edition}")
    lines += [f"  note: {note}" for note in result.notes if not note.startswith("the kit's given")]
    for q, (label, title, weight) in QUESTIONS.items():
        if any(r.question == q for r in result.results):
            lines.append(f"  {label} {title:<24} {result.question_points(q):6.2f} / {weight}")
    max_total = sum(r.case.points for r in result.results)
    lines.append(f"  {'total':<27} {result.total:6.2f} / {max_total:g}")
    if result.q5:
        lines.append(f"  Q5 check: {q5_line(result.q5)}")
        lines += [f"  ! for staff: {flag}" for flag in result.q5["flags"]]
    for r in result.results:
        if r.feedback:
            lost = f"-{r.case.points - r.earned:.2f}" if not r.regrade else "needs regrade"
            feedback = r.feedback.replace("\n", "\n      ")  # a hint goes on a line of its own
            lines.append(f"  - {QUESTIONS[r.question][0]} ({lost}) {feedback}")
    return "\n".join(text.visible(line) for line in "\n".join(lines).split("\n"))


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def q5_line(q5: dict) -> str:
    """Claimed and measured accuracy of the counted notebook, side by side."""

    def shown(value):
        return "-" if value is None else f"{value:.2%}"

    line = f"{q5['notebook']} claimed {shown(q5['claimed'])}, measured {shown(q5['measured'])}"
    if q5["heldout"] is not None:
        line += f", held-out {shown(q5['heldout'])}"
    return line + (f" ({q5['seconds']:.1f} s)" if q5["seconds"] else "")


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
                "output": _plain_lines(r.feedback or "ok"),
                "output_format": "text",
                "visibility": "visible",
            }
        )
    output = f"Inputs drawn with seed {result.seed}. {result.status}. {sandbox_line}"
    return {
        "score": result.total,
        "output": text.visible(" ".join([output, *_edition_lines(result)])),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "tests": tests,
        "stdout_visibility": "hidden",
        "extra_data": {
            "sandbox": text.visible(result.sandbox),
            "protections": result.protections,
            "edition": result.edition,
            "q5": {**result.q5, "flags": [text.visible(f) for f in result.q5.get("flags", [])]},
            "needs_regrade": [
                text.visible(f"{r.case.function}: {r.regrade}") for r in result.results if r.regrade
            ],
        },
    }


def _edition_lines(result: Result) -> list[str]:
    lines = [f"Starter edition: {result.edition}."] if result.edition else []
    return lines + [f"{note[0].upper()}{note[1:]}." for note in result.notes]


def deductions(result: Result) -> str:
    """``"function -points"`` for each function that lost points, ``;``-separated (the CSV's
    record of why; ``--compare`` reads it)."""
    return "; ".join(
        f"{r.case.function} -{r.case.points - r.earned:.2f}"
        for r in result.results
        if r.earned < r.case.points - 1e-9
    )


def _plain_lines(feedback: str) -> str:
    """Feedback as plain text, its own line breaks (a hint's) kept."""
    return "\n".join(text.visible(line) for line in feedback.split("\n"))


def write_json(path: Path, result: Result) -> None:
    """Write results.json atomically (whatever was there before is replaced)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(gradescope(result), indent=2))
    tmp.replace(path)


def write_csv(path: Path, results: list[Result]) -> None:
    header = ["id", *[QUESTIONS[q][0] for q in QUESTIONS], "total", "status", "seconds", "seed"]
    header += ["edition", "deductions", "q5_claimed", "q5_measured", "q5_heldout", "q5_flags"]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)  # quotes a cell that holds a comma or a quote
        writer.writerow(header)
        for res in results:
            points = [f"{res.question_points(q):.2f}" for q in QUESTIONS]
            name, status = text.csv_cell(res.submission), text.csv_cell(res.status)
            row = [name, *points, f"{res.total:.2f}", status, f"{res.seconds:.1f}"]
            q5 = res.q5 or {"claimed": None, "measured": None, "heldout": None, "flags": []}
            checked = [_percent(q5[key]) for key in ("claimed", "measured", "heldout")]
            flags = text.csv_cell("; ".join(q5["flags"]))
            writer.writerow([*row, res.seed, res.edition, deductions(res), *checked, flags])
