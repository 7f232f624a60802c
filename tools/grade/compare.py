"""What a grader change did to a class: ``python -m tools.grade --compare OLD.csv NEW.csv``.

Reads two grading runs' CSVs (``--csv``) and lists every submission whose total moved, or
whose status changed, with why: the points per question that moved, the functions that no
longer lose points and those that newly do (the ``deductions`` column), the edition and the
status where they changed. A submission graded in one run only is listed too. Course staff
read it before publishing a regrade.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tools.grade.cases import QUESTIONS


def read(path: Path) -> dict[str, dict[str, str]]:
    """The rows of a grader CSV, by submission id."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and ("id" not in rows[0] or "total" not in rows[0]):
        raise SystemExit(f"error: {path} is not a grader CSV (no id and total columns)")
    return {row["id"]: row for row in rows}


def _deductions(row: dict[str, str]) -> dict[str, float]:
    found = {}
    for item in filter(None, (part.strip() for part in row.get("deductions", "").split(";"))):
        name, _, points = item.rpartition(" -")
        try:
            found[name] = float(points)
        except ValueError:
            continue
    return found


def why(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """The reasons a submission's row moved, in words."""
    reasons = []
    labels = [QUESTIONS[q][0] for q in QUESTIONS]
    moved = [
        f"{q} {float(new[q]) - float(old[q]):+.2f}"
        for q in labels
        if q in old and q in new and abs(float(new[q]) - float(old[q])) > 1e-9
    ]
    if moved:
        reasons.append("questions: " + ", ".join(moved))
    before, after = _deductions(old), _deductions(new)
    gone = [f"{n} (was -{p:.2f})" for n, p in before.items() if n not in after]
    came = [f"{n} -{p:.2f}" for n, p in after.items() if n not in before]
    changed = [
        f"{n} -{before[n]:.2f} -> -{after[n]:.2f}"
        for n in before.keys() & after.keys()
        if abs(before[n] - after[n]) > 1e-9
    ]
    for label, items in (("no longer loses", gone), ("newly loses", came), ("changed", changed)):
        if items:
            reasons.append(f"{label}: {', '.join(sorted(items))}")
    for column in ("edition", "status"):
        if old.get(column, "") != new.get(column, ""):
            reasons.append(f"{column}: {old.get(column) or '-'} -> {new.get(column) or '-'}")
    if "deductions" not in old or "deductions" not in new:
        reasons.append("(a CSV without the deductions column: functions not compared)")
    return reasons


def compare(old_path: Path, new_path: Path) -> list[str]:
    """One block of lines per submission whose score or status moved."""
    old, new = read(old_path), read(new_path)
    lines = []
    for sid in sorted(old.keys() | new.keys()):
        if sid not in new or sid not in old:
            where = "old" if sid in old else "new"
            row = old.get(sid) or new[sid]
            lines.append(f"{sid}: only in the {where} run (total {row['total']})")
            continue
        a, b = float(old[sid]["total"]), float(new[sid]["total"])
        if abs(a - b) < 1e-9 and old[sid].get("status") == new[sid].get("status"):
            continue
        lines.append(f"{sid}: {a:.2f} -> {b:.2f} ({b - a:+.2f})")
        lines += [f"    {reason}" for reason in why(old[sid], new[sid])]
    moved = sum(1 for line in lines if not line.startswith(" "))
    lines.append(f"{moved} of {len(old.keys() | new.keys())} submission(s) moved")
    return lines
