"""collectSubmission: its checks, the zip, the PDF, and that no student file is touched.

Each test builds a small but real kit in a temporary folder: the graded modules with blocks of
student code, and six notebooks saved as if run from top to bottom (execution counts, printed
output, a PNG plot, an answer). The PDF test runs the real engine (nbconvert and headless
Chromium, merged with pypdf); it is skipped when the engine is missing, unless
CS231N_REQUIRE_PDF=1 (as in .ci/run, which installs it).
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import collect_submission as cs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _png(width: int = 40, height: int = 30) -> str:
    """A real PNG (a red rectangle), base64-encoded as in a notebook: a stand-in for a plot."""
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
    return base64.b64encode(png + chunk(b"IEND", b"")).decode()


PNG = _png()
MODULE = f"""def f(x):
    # TODO: write the forward pass: y.
    {cs.START}
    y = 2 * x
    {cs.END}
    return y
"""


def _code(source: str, count: int | None, outputs: list | None = None) -> dict:
    return {
        "cell_type": "code",
        "id": f"c{count}",
        "metadata": {},
        "source": source,
        "execution_count": count,
        "outputs": outputs or [],
    }


def _markdown(source: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": source}


def _notebook(name: str) -> dict:
    """A notebook saved after running it top to bottom."""
    stem = Path(name).stem
    cells = [
        _markdown(f"# {stem} title\n\nWhat {stem} covers.", "m0"),
        _code("QUICK = False", 1),
        _code(
            f"print('hello')\n{cs.START}\nx = 1\n{cs.END}",
            2,
            [{"output_type": "stream", "name": "stdout", "text": "hello\n"}],
        ),
        _code(
            "plot()",
            3,
            [{"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG}}],
        ),
        _markdown("**Question.** Why?", "m1"),
        _markdown(f"**Your Answer:** Because {stem} says so, with $\\alpha^2$.", "m2"),
    ]
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    """A complete kit whose six notebooks were run and saved."""
    for rel in cs.GRADED_MODULES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(MODULE)
    (tmp_path / "cs231n" / "im2col_cython.pyx").write_text("# cython\n")
    (tmp_path / "cs231n" / "datasets").mkdir()
    (tmp_path / "cs231n" / "datasets" / "fetch.py").write_text("z = 3\n")
    (tmp_path / "cs231n" / "__pycache__").mkdir()
    (tmp_path / "cs231n" / "__pycache__" / "layers.py").write_text("cached\n")
    for name in cs.NOTEBOOKS:
        _save(tmp_path / name, _notebook(name))
    return tmp_path


def _save(path: Path, nb: dict) -> None:
    path.write_text(json.dumps(nb, indent=1))


def _edit(path: Path, change) -> None:
    nb = json.loads(path.read_text())
    change(nb["cells"])
    _save(path, nb)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def no_pdf(monkeypatch) -> list:
    """Replace the PDF engine by a stub that records which notebooks it was given."""
    calls = []

    def fake(root: Path, notebooks: list[str], out: Path) -> None:
        calls.append(list(notebooks))
        out.write_bytes(b"%PDF-stub")

    monkeypatch.setattr(cs, "pdf_engine_missing", lambda: None)
    monkeypatch.setattr(cs, "write_pdf", fake)
    return calls


def _members(kit: Path) -> list[str]:
    with zipfile.ZipFile(kit / cs.ZIP_NAME) as zf:
        return sorted(zf.namelist())


# ------------------------------------------------------------------------------------ the zip


def test_zip_holds_the_notebooks_and_the_code(kit: Path, no_pdf, capsys) -> None:
    assert cs.main(["--root", str(kit)]) == 0
    expected = sorted([*cs.NOTEBOOKS, *cs.GRADED_MODULES, "cs231n/im2col_cython.pyx"])
    assert _members(kit) == expected
    assert no_pdf == [list(cs.NOTEBOOKS)]
    out = capsys.readouterr().out
    assert cs.ZIP_NAME in out and cs.PDF_NAME in out


def test_student_files_are_never_touched_and_reruns_replace_only_the_outputs(
    kit: Path, no_pdf
) -> None:
    before = _snapshot(kit)
    assert cs.main(["--root", str(kit)]) == 0
    first = (kit / cs.ZIP_NAME).stat().st_mtime_ns
    assert cs.main(["--root", str(kit)]) == 0
    after = _snapshot(kit)
    assert {k: v for k, v in after.items() if k not in (cs.ZIP_NAME, cs.PDF_NAME)} == before
    assert set(after) - set(before) == {cs.ZIP_NAME, cs.PDF_NAME}  # no temporary files left
    assert (kit / cs.ZIP_NAME).stat().st_mtime_ns >= first


def test_without_a_pdf_engine_the_zip_is_written_and_the_fix_named(
    kit: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("CHROMIUM", "no-such-browser-here")
    assert cs.main(["--root", str(kit)]) == 1
    err = capsys.readouterr().err
    assert "Chromium not found" in err and "make pdf-deps" in err and "apt-get install" in err
    assert (kit / cs.ZIP_NAME).is_file() and not (kit / cs.PDF_NAME).exists()


# ------------------------------------------------------------------------------------ checks


def _fails_with(kit: Path, capsys, *needles: str) -> str:
    before = _snapshot(kit)
    assert cs.main(["--root", str(kit)]) == 1
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err
    assert _snapshot(kit) == before  # nothing written
    return err


def test_missing_notebook(kit: Path, no_pdf, capsys) -> None:
    (kit / "Dropout.ipynb").unlink()
    _fails_with(kit, capsys, "Dropout.ipynb: missing")


def test_missing_graded_module(kit: Path, no_pdf, capsys) -> None:
    (kit / "cs231n" / "optim.py").unlink()
    _fails_with(kit, capsys, "cs231n/optim.py: missing")


def test_notebook_never_run(kit: Path, no_pdf, capsys) -> None:
    def clear(cells):
        for cell in cells:
            if cell["cell_type"] == "code":
                cell["execution_count"], cell["outputs"] = None, []

    _edit(kit / "BatchNormalization.ipynb", clear)
    _fails_with(kit, capsys, "BatchNormalization.ipynb: never run", "run all cells and save")


def test_notebook_with_a_cell_that_never_ran(kit: Path, no_pdf, capsys) -> None:
    def skip_one(cells):
        cells[3]["execution_count"] = None

    _edit(kit / "FullyConnectedNets.ipynb", skip_one)
    _fails_with(kit, capsys, "FullyConnectedNets.ipynb: 1 code cell(s) never ran (cells 4)")


def test_notebook_run_out_of_order(kit: Path, no_pdf, capsys) -> None:
    def reorder(cells):
        cells[2]["execution_count"], cells[3]["execution_count"] = 7, 5

    _edit(kit / "ConvolutionalNetworks.ipynb", reorder)
    _fails_with(
        kit, capsys, "ConvolutionalNetworks.ipynb cell 4", "ran out of order (execution count 5"
    )


def test_notebook_with_an_error(kit: Path, no_pdf, capsys) -> None:
    def fail(cells):
        cells[3]["outputs"].append(
            {
                "output_type": "error",
                "ename": "NotImplementedError",
                "evalue": "affine_forward: write the forward pass in cs231n/layers.py",
                "traceback": [],
            }
        )

    _edit(kit / "ConvolutionalNetworks.ipynb", fail)
    _fails_with(
        kit, capsys, "ConvolutionalNetworks.ipynb cell 4", "NotImplementedError: affine_forward"
    )


def test_edited_marker_is_named_with_file_and_line(kit: Path, no_pdf, capsys) -> None:
    path = kit / "cs231n" / "layers.py"
    path.write_text(path.read_text().replace("START OF YOUR CODE (DO NOT", "START OF MY CODE (DO"))
    _fails_with(kit, capsys, "cs231n/layers.py, line 3: marker line edited")


def test_deleted_marker_is_named_with_file_and_line(kit: Path, no_pdf, capsys) -> None:
    path = kit / "cs231n" / "classifiers" / "cnn.py"
    path.write_text(path.read_text().replace(f"    {cs.END}\n", ""))
    _fails_with(kit, capsys, "cs231n/classifiers/cnn.py, line 3: START is never closed")


def test_edited_marker_in_a_notebook_cell(kit: Path, no_pdf, capsys) -> None:
    def edit(cells):
        cells[2]["source"] = cells[2]["source"].replace(cs.END, "# end of my code")

    _edit(kit / "Dropout.ipynb", edit)
    _fails_with(kit, capsys, "Dropout.ipynb cell 3, line 2: START is never closed")


def test_deleted_pair_of_markers_found_from_the_release_counts(kit: Path, no_pdf, capsys) -> None:
    (kit / "tools").mkdir()
    (kit / cs.MARKER_COUNTS).write_text(json.dumps({"cs231n/layers.py": 2}))
    _fails_with(kit, capsys, "cs231n/layers.py: 1 blocks of student code, the starter kit has 2")


def test_force_packages_anyway_and_records_the_problems(kit: Path, no_pdf, capsys) -> None:
    (kit / "Dropout.ipynb").unlink()
    assert cs.main(["--root", str(kit), "--force"]) == 0
    assert "warning: Dropout.ipynb: missing" in capsys.readouterr().err
    with zipfile.ZipFile(kit / cs.ZIP_NAME) as zf:
        assert "Dropout.ipynb: missing" in zf.read(cs.WARNINGS_NAME).decode()
    assert no_pdf == [[n for n in cs.NOTEBOOKS if n != "Dropout.ipynb"]]


def _clear(cells: list[dict]) -> None:
    """As if the notebook was never run."""
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["execution_count"], cell["outputs"] = None, []


def _stop_at_imports(cells: list[dict]) -> None:
    """As if only the first code cells ran, the second stopping (TensorFlow not installed)."""
    _clear(cells)
    code = [c for c in cells if c["cell_type"] == "code"]
    code[0]["execution_count"], code[1]["execution_count"] = 1, 2
    error = {"output_type": "error", "ename": "ModuleNotFoundError", "evalue": "tensorflow",
             "traceback": []}  # fmt: skip
    code[1]["outputs"] = [error]


@pytest.mark.parametrize("framework", ["PyTorch.ipynb", "TensorFlow.ipynb"])
def test_one_framework_notebook_is_optional(kit: Path, no_pdf, capsys, framework: str) -> None:
    done = next(n for n in cs.EITHER if n != framework)
    _edit(kit / framework, _clear)
    assert cs.main(["--root", str(kit)]) == 0
    out = capsys.readouterr()
    assert f"note: {framework} not run (optional: {done} is)" in out.out
    assert framework not in out.err
    assert no_pdf[-1] == [n for n in cs.NOTEBOOKS if n != framework]

    _edit(kit / framework, _stop_at_imports)  # started, then given up: still optional
    assert cs.main(["--root", str(kit)]) == 0
    assert f"note: {framework} not fully run (optional: {done} is)" in capsys.readouterr().out
    assert no_pdf[-1] == [n for n in cs.NOTEBOOKS if n != framework]


def test_the_framework_question_needs_one_notebook(kit: Path, no_pdf, capsys) -> None:
    _edit(kit / "TensorFlow.ipynb", _clear)
    _edit(kit / "PyTorch.ipynb", _clear)  # neither
    err = _fails_with(kit, capsys, "PyTorch.ipynb: never run")
    assert "TensorFlow.ipynb: never run" in err
    _edit(kit / "PyTorch.ipynb", _stop_at_imports)  # one started: its problems are named
    err = _fails_with(kit, capsys, "PyTorch.ipynb cell")
    assert "ModuleNotFoundError" in err and "TensorFlow.ipynb" not in err


# ------------------------------------------------------------------------------------ the PDF


def test_pdf_of_the_six_notebooks_with_titles_and_answers(kit: Path) -> None:
    missing = cs.pdf_engine_missing()
    if missing and os.environ.get("CS231N_REQUIRE_PDF") != "1":
        pytest.skip(f"PDF engine missing ({missing}): make pdf-deps")
    from pypdf import PdfReader

    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "collect_submission.py"), "--root", str(kit)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    reader = PdfReader(kit / cs.PDF_NAME)
    text = "\n".join(page.extract_text() for page in reader.pages)
    for name in cs.NOTEBOOKS:
        stem = Path(name).stem
        assert f"{stem} title" in text and f"Because {stem} says so" in text
    assert "\\alpha" not in text and "α" in text  # LaTeX typeset (MathJax, offline)
    assert [item.title for item in reader.outline] == [Path(n).stem for n in cs.NOTEBOOKS]
    images = sum(len(page.images) for page in reader.pages)
    assert images >= len(cs.NOTEBOOKS)  # each notebook's plot
