"""Q5: read the submitted framework notebooks (PyTorch.ipynb, TensorFlow.ipynb).

Nothing is executed: the notebooks are read as JSON. Q5's figure is self-reported, as in
the original course: the points come from whether the notebook was run and from the test
accuracy its own-model part printed. The better of the two notebooks counts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tools.grade.cases import Case, CaseResult

RUN_POINTS = 2.0  # the notebook was executed
ACCURACY_POINTS = 8.0  # scaled by accuracy / FULL_ACCURACY, capped at 1
FULL_ACCURACY = 0.70
MAX_NOTEBOOK_BYTES = 50 * 2**20

# What each notebook prints for its open-ended model; the last match counts.
PATTERNS = {
    "PyTorch.ipynb": [
        (re.compile(r"Part IV test acc(?:uracy)?:\s*([0-9]*\.?[0-9]+)(%?)"), "Part IV"),
        (re.compile(r"\[target\] PyTorch own model test accuracy:\s*([0-9.]+)(%)"), "Part IV"),
    ],
    "TensorFlow.ipynb": [
        (re.compile(r"Part V: test accuracy\s*([0-9]*\.?[0-9]+)(%?)"), "Part V"),
        (re.compile(r"\[target\] TensorFlow own model test accuracy:\s*([0-9.]+)(%)"), "Part V"),
    ],
}

Q5_CASE = Case("framework_notebook", 5, "Q5 notebook", RUN_POINTS + ACCURACY_POINTS, dict)


def _stdout(cells: list) -> tuple[bool, str]:
    """Whether any code cell was run, and everything the code cells printed."""
    ran, text = False, []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs") or []
        ran = ran or bool(outputs) or cell.get("execution_count") is not None
        for out in outputs:
            if isinstance(out, dict) and out.get("output_type") == "stream":
                chunk = out.get("text", "")
                text.append("".join(chunk) if isinstance(chunk, list) else str(chunk))
    return ran, "".join(text)


def read_notebook(path: Path) -> tuple[float, str]:
    """(points, explanation) for one framework notebook."""
    if not path.is_file():
        return 0.0, f"{path.name} is not in the submission"
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return 0.0, f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
    try:
        cells = json.loads(path.read_text(encoding="utf-8", errors="replace"))["cells"]
        ran, text = _stdout(cells)
    except (ValueError, KeyError, TypeError) as exc:
        return 0.0, f"{path.name} is not a readable notebook ({type(exc).__name__})"
    if not ran:
        return 0.0, f"{path.name} was not executed (no outputs): run it and submit it again"
    found = []
    for pattern, part in PATTERNS[path.name]:
        for match in pattern.finditer(text):
            value = float(match.group(1)) / (100 if match.group(2) else 1)
            found.append((match.start(), value, part))
    if not found:
        part = PATTERNS[path.name][0][1]
        return RUN_POINTS, f"{path.name} was run but prints no {part} test accuracy"
    _, accuracy, part = max(found)
    points = RUN_POINTS + ACCURACY_POINTS * min(1.0, max(0.0, accuracy) / FULL_ACCURACY)
    note = f"{path.name}: {part} test accuracy {accuracy:.2%} (self-reported)"
    if accuracy < FULL_ACCURACY:
        note += f"; full credit needs {FULL_ACCURACY:.0%}"
    return round(points, 2), note


def grade_q5(root: Path) -> CaseResult:
    """The Q5 CaseResult of a submission: its better framework notebook."""
    scored = [read_notebook(root / name) for name in PATTERNS]
    points, note = max(scored, key=lambda s: s[0])
    if points >= Q5_CASE.points:
        return CaseResult(Q5_CASE, points, "")
    others = "; ".join(n for p, n in scored if n != note)
    return CaseResult(Q5_CASE, points, note + (f" ({others})" if others else ""))
