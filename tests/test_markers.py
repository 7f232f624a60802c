"""The student-code markers are what the release tool cuts on: they must be well formed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
START = "# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
END = "# *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"


def _sources() -> list[tuple[str, list[str]]]:
    """(name, lines) of every package module and of every notebook code cell."""
    found = [
        (str(p.relative_to(ROOT)), p.read_text().splitlines()) for p in ROOT.glob("cs231n/**/*.py")
    ]
    for nb in ROOT.glob("*.ipynb"):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if cell["cell_type"] == "code":
                found.append((f"{nb.name} cell {i}", "".join(cell["source"]).splitlines()))
    return found


@pytest.mark.parametrize("name,lines", _sources(), ids=lambda v: v if isinstance(v, str) else "")
def test_markers_pair_up(name: str, lines: list[str]) -> None:
    open_at = None
    for no, line in enumerate(lines, 1):
        text = line.strip()
        if "START OF YOUR CODE" in text or "END OF YOUR CODE" in text:
            assert text in (START, END), f"{name}:{no}: marker line altered: {text!r}"
        if text == START:
            assert open_at is None, f"{name}:{no}: START inside the block opened at line {open_at}"
            open_at = no
        elif text == END:
            assert open_at is not None, f"{name}:{no}: END without START"
            indent = len(line) - len(line.lstrip())
            start_indent = len(lines[open_at - 1]) - len(lines[open_at - 1].lstrip())
            assert indent == start_indent, (
                f"{name}:{no}: END indented unlike START (line {open_at})"
            )
            open_at = None
    assert open_at is None, f"{name}: START at line {open_at} is never closed"


def test_layers_have_student_blocks() -> None:
    text = (ROOT / "cs231n" / "layers.py").read_text()
    assert text.count(START) == text.count(END) >= 10
