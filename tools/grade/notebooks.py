"""Q5: read the submitted framework notebooks (PyTorch.ipynb, TensorFlow.ipynb).

Nothing is executed: the notebooks are read as JSON, within bounds (file size, nesting depth:
the parser's recursion limit, cell count, printed text), and a notebook that cannot be read
costs only its own points, with a message that says why: the other framework's notebook is
still read. What a notebook prints is a claim: whether it ran gives Q5's run points, and the
test accuracy its own-model part printed is compared with the accuracy the grader measures
on the model it saved (q5.py), which gives the accuracy points.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tools.grade.cases import Case

RUN_POINTS = 2.0  # the notebook was executed
ACCURACY_POINTS = 8.0  # from the measured accuracy (q5.accuracy_points)
FULL_ACCURACY = 0.70  # measured test accuracy that earns all of them
MAX_NOTEBOOK_BYTES = 50 * 2**20
MAX_CELLS = 10_000
MAX_TEXT_CHARS = 8 * 2**20  # printed text read from one notebook

# What each notebook prints for its open-ended model; the last match counts.
PATTERNS = {
    "PyTorch.ipynb": [
        re.compile(r"Part IV test acc(?:uracy)?:\s*([0-9]*\.?[0-9]+)(%?)"),
        re.compile(r"\[target\] PyTorch own model test accuracy:\s*([0-9.]+)(%)"),
    ],
    "TensorFlow.ipynb": [
        re.compile(r"Part V: test accuracy\s*([0-9]*\.?[0-9]+)(%?)"),
        re.compile(r"\[target\] TensorFlow own model test accuracy:\s*([0-9.]+)(%)"),
    ],
}

Q5_CASE = Case("framework_notebook", 5, "Q5 notebook", RUN_POINTS + ACCURACY_POINTS, dict)


def _stdout(cells: list) -> tuple[bool, str]:
    """Whether any code cell was run, and everything the code cells printed."""
    if not isinstance(cells, list):
        raise TypeError("cells is not a list")
    if len(cells) > MAX_CELLS:
        raise ValueError(f"it has {len(cells)} cells, more than {MAX_CELLS}")
    ran, text, size = False, [], 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs") or []
        ran = ran or bool(outputs) or cell.get("execution_count") is not None
        for out in outputs:
            if (
                isinstance(out, dict)
                and out.get("output_type") == "stream"
                and size < MAX_TEXT_CHARS
            ):
                chunk = out.get("text", "")
                chunk = "".join(map(str, chunk)) if isinstance(chunk, list) else str(chunk)
                text.append(chunk[: MAX_TEXT_CHARS - size])
                size += len(text[-1])
    return ran, "".join(text)


@dataclass
class Claim:
    """What a framework notebook says: whether it ran, and the test accuracy it printed."""

    ran: bool = False
    accuracy: float | None = None  # a fraction; None: nothing printed (or not readable)
    note: str = ""  # why it did not run, or could not be read


def _read(path: Path) -> Claim:
    if not path.is_file():
        return Claim(note=f"{path.name} is not in the submission")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return Claim(note=f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    try:
        cells = json.loads(path.read_text(encoding="utf-8", errors="replace"))["cells"]
        ran, text = _stdout(cells)
    except RecursionError:
        return Claim(note=f"{path.name} is not a readable notebook (its JSON is nested too deeply)")
    except (ValueError, KeyError, TypeError) as exc:
        return Claim(note=f"{path.name} is not a readable notebook ({type(exc).__name__}: {exc})")
    if not ran:
        return Claim(note=f"{path.name} was not executed (no outputs): run it and submit it again")
    found = []
    for pattern in PATTERNS[path.name]:
        for match in pattern.finditer(text):
            value = float(match.group(1)) / (100 if match.group(2) else 1)
            found.append((match.start(), value))
    return Claim(True, max(found)[1] if found else None)


def read_claim(path: Path) -> Claim:
    """The ``Claim`` of one framework notebook; a failure to read it costs only this notebook."""
    try:
        return _read(path)
    except Exception as exc:  # MemoryError, a broken file system: this notebook only
        return Claim(note=f"{path.name} could not be read ({type(exc).__name__})")
