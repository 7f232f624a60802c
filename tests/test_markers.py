"""The student-code markers are what the release tool cuts on: they must be well formed, and each
block needs a TODO comment above it, which tells the student what to write."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from collect_submission import END, START, marker_blocks  # noqa: E402


def _sources() -> list[tuple[str, list[str]]]:
    """(name, lines) of every package module and of every notebook code cell."""
    found = [
        (str(p.relative_to(ROOT)), p.read_text().splitlines()) for p in ROOT.glob("cs231n/**/*.py")
    ]
    for nb in sorted(ROOT.glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if cell["cell_type"] == "code":
                found.append((f"{nb.name} cell {i}", "".join(cell["source"]).splitlines()))
    return found


SOURCES = _sources()


@pytest.mark.parametrize("name,lines", SOURCES, ids=[name for name, _ in SOURCES])
def test_markers_pair_up(name: str, lines: list[str]) -> None:
    _, problems = marker_blocks(lines)
    assert not problems, [f"{name}:{no + 1}: {what}" for no, what in problems]


@pytest.mark.parametrize("name,lines", SOURCES, ids=[name for name, _ in SOURCES])
def test_every_block_has_a_todo_above_it(name: str, lines: list[str]) -> None:
    blocks, _ = marker_blocks(lines)
    for start, _ in blocks:
        above = []
        no = start - 1
        while no >= 0 and lines[no].strip().startswith("#"):
            above.append(lines[no].strip())
            no -= 1
        assert any(line.startswith("# TODO: ") for line in above), (
            f"{name}:{start + 1}: no '# TODO: ...' comment just above this block"
        )


def test_marker_check_finds_broken_markers() -> None:
    good = ["def f():", f"    {START}", "    x = 1", f"    {END}"]
    assert marker_blocks(good) == ([(1, 3)], [])
    assert marker_blocks(good[:3])[1] == [(1, "START is never closed: its END was deleted")]
    edited = [*good[:3], "    # *****END OF MY CODE*****"]
    assert "marker line edited" in marker_blocks(edited)[1][0][1]
    shifted = [*good[:3], END]
    assert marker_blocks(shifted)[1] == [(3, "END indented unlike its START (line 2)")]


def test_layers_have_student_blocks() -> None:
    text = (ROOT / "cs231n" / "layers.py").read_text()
    assert text.count(START) == text.count(END) >= 10
