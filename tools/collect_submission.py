"""Check and package a student's work: a zip of the code and notebooks, and a PDF of the notebooks.

    python tools/collect_submission.py [--force] [--root DIR]    (or: bash collectSubmission.sh)

Before writing anything it checks that
- the six notebooks and the graded modules exist;
- every marker line (START / END OF YOUR CODE) is intact and paired, in the modules and in the
  notebooks' code cells (and, in a released kit, that no pair is missing, from
  ``tools/markers.json``);
- every notebook was run from top to bottom and saved: every code cell ran, the execution
  counts increase from cell to cell, and no cell shows an error. Question 5 is one of the two
  framework notebooks: once one of PyTorch.ipynb and TensorFlow.ipynb passes these checks, the
  other is optional (a note says "TensorFlow.ipynb not run (optional: PyTorch.ipynb is)", and
  it stays out of the PDF unless it passes them too).

Any problem: it names the file (and line or cell) and the fix, writes nothing and exits with 1.
``--force`` packages anyway and puts the list of problems into the zip as
``SUBMISSION_WARNINGS.txt``.

It writes ``a2_code_submission.zip`` (the notebooks, every ``.py`` and ``.pyx`` file of
``cs231n``, and the Q5 models the framework notebooks saved, ``PyTorch_model.pt`` and
``TensorFlow_model.keras``, which the grader evaluates; no data, caches or build products)
and ``a2_inline_submission.pdf`` (the run notebooks, with their plots and answers, one after
the other). The PDF is made by nbconvert (HTML) and headless Chromium (printing), merged
with pypdf: ``make pdf-deps`` installs them.
Without them the zip is still written and the message says what to install. Both outputs are
written to temporary files and renamed into place; no other file is created, changed or removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
START = "# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
END = "# *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
NOTEBOOKS = (
    "FullyConnectedNets.ipynb",
    "BatchNormalization.ipynb",
    "Dropout.ipynb",
    "ConvolutionalNetworks.ipynb",
    "PyTorch.ipynb",
    "TensorFlow.ipynb",
)
# Question 5: either framework notebook (one of them may stay unrun).
EITHER = ("PyTorch.ipynb", "TensorFlow.ipynb")
# The model each framework notebook saves last (torch_utils / tf_utils ``save_model``), in the
# kit's top folder: the grader evaluates it.
MODEL_FILES = {"PyTorch.ipynb": "PyTorch_model.pt", "TensorFlow.ipynb": "TensorFlow_model.keras"}
GRADED_MODULES = (
    "cs231n/layers.py",
    "cs231n/layer_utils.py",
    "cs231n/optim.py",
    "cs231n/solver.py",
    "cs231n/fast_layers.py",
    "cs231n/classifiers/fc_net.py",
    "cs231n/classifiers/cnn.py",
    "cs231n/torch_utils.py",
    "cs231n/tf_utils.py",
)
MARKER_COUNTS = "tools/markers.json"
ZIP_NAME = "a2_code_submission.zip"
PDF_NAME = "a2_inline_submission.pdf"
WARNINGS_NAME = "SUBMISSION_WARNINGS.txt"
EXCLUDED_DIRS = {"__pycache__", "datasets", "build", ".ipynb_checkpoints"}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_HELP = (
    "install the PDF engine with `make pdf-deps` (pypdf and nbconvert from requirements.txt, "
    "and headless Chromium: `sudo apt-get install chromium` on Debian/Ubuntu), then run "
    "collectSubmission.sh again"
)
RESTORE = "restore it exactly as in the starter kit"
# Long code lines wrap in the PDF instead of being cut off at the page's edge.
WRAP_CODE = "<style>pre { white-space: pre-wrap; overflow-wrap: anywhere; }</style>"


# ------------------------------------------------------------------------------------ markers


def marker_blocks(lines: list[str]) -> tuple[list[tuple[int, int]], list[tuple[int, str]]]:
    """The student blocks of ``lines`` and the marker problems found.

    Returns (blocks, problems): blocks as (start, end) 0-based indices of the marker lines;
    problems as (0-based line, what is wrong). A marker line that was edited, a START or END
    that lost its partner and an END indented unlike its START are problems.
    """
    blocks, problems, open_at = [], [], None
    for no, line in enumerate(lines):
        text = line.strip()
        kind = START if text == START else END if text == END else None
        if kind is None and ("YOUR CODE" in text or text.startswith("# *****")):
            problems.append((no, f"marker line edited ({text!r}); {RESTORE}"))
            kind = START if "START" in text.upper() else END if "END" in text.upper() else None
        if kind == START:
            if open_at is not None:
                problems.append(
                    (
                        no,
                        f"START while the block of line {open_at + 1} is open: its END was deleted",
                    )
                )
            open_at = no
        elif kind == END:
            if open_at is None:
                problems.append((no, "END without a START: a START line was deleted"))
                continue
            indent = len(lines[open_at]) - len(lines[open_at].lstrip())
            if len(line) - len(line.lstrip()) != indent:
                problems.append((no, f"END indented unlike its START (line {open_at + 1})"))
            blocks.append((open_at, no))
            open_at = None
    if open_at is not None:
        problems.append((open_at, "START is never closed: its END was deleted"))
    return blocks, problems


def cell_source(cell: dict) -> str:
    """A notebook cell's source as one string (nbformat stores a string or a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def file_marker_problems(root: Path, rel: str) -> tuple[int, list[str]]:
    """(number of blocks, problems) of a module or a notebook's code cells."""
    path = root / rel
    if rel.endswith(".ipynb"):
        units = [
            (f"{rel} cell {i + 1}", cell_source(cell).split("\n"))
            for i, cell in enumerate(json.loads(path.read_text())["cells"])
            if cell["cell_type"] == "code"
        ]
    else:
        units = [(rel, path.read_text().split("\n"))]
    count, problems = 0, []
    for where, lines in units:
        blocks, found = marker_blocks(lines)
        count += len(blocks)
        problems += [f"{where}, line {no + 1}: {what}" for no, what in found]
    return count, problems


# ------------------------------------------------------------------------------------ checks


def _cell_name(i: int, cell: dict) -> str:
    """``cell 12 ("first line of code...")``: the cell's place among all cells, from 1."""
    first = next((line.strip() for line in cell_source(cell).splitlines() if line.strip()), "")
    return f'cell {i + 1} ("{first[:40]}{"..." if len(first) > 40 else ""}")'


def notebook_run_problems(rel: str, nb: dict) -> list[str]:
    """Whether notebook ``rel`` was run top to bottom: every code cell ran, in order, cleanly."""
    fix = "restart the kernel, run all cells and save"
    code = [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    code = [(i, c) for i, c in code if cell_source(c).strip()]
    unrun = [i for i, c in code if c.get("execution_count") is None]
    if code and len(unrun) == len(code):
        return [f"{rel}: never run; open it, run all cells and save"]
    problems = []
    if unrun:
        shown = ", ".join(str(i + 1) for i in unrun[:8]) + (", ..." if len(unrun) > 8 else "")
        problems.append(f"{rel}: {len(unrun)} code cell(s) never ran (cells {shown}); {fix}")
    ran = [(i, c) for i, c in code if c.get("execution_count") is not None]
    for (i, a), (j, b) in zip(ran, ran[1:], strict=False):
        if b["execution_count"] <= a["execution_count"]:
            problems.append(
                f"{rel} {_cell_name(j, b)}: ran out of order (execution count "
                f"{b['execution_count']} after {a['execution_count']} in cell {i + 1}); {fix}"
            )
            break
    for i, cell in ran:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                error = f"{out.get('ename', 'error')}: {out.get('evalue', '')}".strip()
                problems.append(
                    f"{rel} {_cell_name(i, cell)}: stopped with {error}; fix it, then {fix}"
                )
    return problems


def never_run(nb: dict) -> bool:
    """No code cell of ``nb`` has run."""
    return all(
        c.get("execution_count") is None and not c.get("outputs")
        for c in nb["cells"]
        if c["cell_type"] == "code"
    )


def framework_notes(loaded: dict[str, dict]) -> tuple[dict[str, list[str]], list[str]]:
    """Question 5 asks for one of the two framework notebooks (``EITHER``). Returns (the run
    problems of each framework notebook present, notes on the one that is optional).

    When one of them was run cleanly, the other's problems are none of the submission's: it is
    left out of the PDF, and a note says so. Otherwise a notebook never run at all is left out
    when the other one was at least started (its problems stay)."""
    present = [rel for rel in EITHER if rel in loaded]
    problems = {rel: notebook_run_problems(rel, loaded[rel]) for rel in present}
    done = [rel for rel in present if not problems[rel]]
    if done:
        optional = [rel for rel in present if rel not in done]
        notes = [
            f"{rel} {'not run' if never_run(loaded[rel]) else 'not fully run'} "
            f"(optional: {done[0]} is); left out of the PDF"
            for rel in optional
        ]
        return {rel: problems[rel] for rel in done}, notes
    unrun = [rel for rel in present if never_run(loaded[rel])]
    if len(unrun) == 1 and len(present) == 2:
        return {rel: problems[rel] for rel in present if rel not in unrun}, []
    return problems, []


def check_kit(root: Path) -> tuple[list[str], list[str], list[str]]:
    """(problems, notes, notebooks to put into the PDF) of the kit at ``root``."""
    problems = [
        f"{rel}: missing; {RESTORE} and fill it in"
        for rel in (*NOTEBOOKS, *GRADED_MODULES)
        if not (root / rel).is_file()
    ]
    expected = {}
    if (root / MARKER_COUNTS).is_file():
        expected = json.loads((root / MARKER_COUNTS).read_text())
    present = [rel for rel in (*GRADED_MODULES, *NOTEBOOKS) if (root / rel).is_file()]
    for rel in present:
        count, found = file_marker_problems(root, rel)
        problems += found
        if rel in expected and count != expected[rel] and not found:
            problems.append(
                f"{rel}: {count} blocks of student code, the starter kit has {expected[rel]}: "
                f"a pair of marker lines was deleted; {RESTORE}"
            )
    loaded = {rel: json.loads((root / rel).read_text()) for rel in NOTEBOOKS if rel in present}
    frameworks, notes = framework_notes(loaded)
    pdf = [rel for rel in loaded if rel not in EITHER or rel in frameworks]
    for rel in pdf:
        problems += frameworks[rel] if rel in EITHER else notebook_run_problems(rel, loaded[rel])
    return problems, notes, pdf


# ------------------------------------------------------------------------------------ outputs


def submission_files(root: Path) -> list[Path]:
    """The code and notebook files to submit, relative to ``root``, sorted."""
    code = [
        p.relative_to(root)
        for p in root.glob("cs231n/**/*")
        if p.suffix in (".py", ".pyx")
        and p.is_file()
        and not EXCLUDED_DIRS & set(p.relative_to(root).parts)
    ]
    notebooks = [p.relative_to(root) for p in root.glob("*.ipynb")]
    models = [Path(name) for name in MODEL_FILES.values() if _regular_file(root / name)]
    return sorted(code + notebooks + models)


def _regular_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def model_notes(root: Path, counted: list[str]) -> tuple[list[str], list[str]]:
    """(what the zip carries for Q5, warnings): the model of each framework notebook that
    counts (``counted``, run cleanly) is in the zip, or a warning says how to save it."""
    carried = [f"{MODEL_FILES[rel]} ({rel}'s model, which the grader evaluates)"
               for rel in EITHER if _regular_file(root / MODEL_FILES[rel])]  # fmt: skip
    missing = [
        f"{rel} ran but {MODEL_FILES[rel]} is missing: run its last own-model cell (it saves "
        "the model), then collectSubmission.sh again; Q5's accuracy points come only from a "
        "model the grader evaluates"
        for rel in counted
        if rel in MODEL_FILES and not _regular_file(root / MODEL_FILES[rel])
    ]
    return carried, missing


def _replace_atomically(out: Path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``out``, then rename it to ``out``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.tmp-", dir=out.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_zip(root: Path, files: list[Path], out: Path, warnings: list[str]) -> None:
    """Write ``files`` (relative to ``root``), and the warnings if any, into the zip ``out``."""

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel in files:
                zf.write(root / rel, rel.as_posix())
            if warnings:
                text = "collectSubmission --force packaged this kit despite:\n"
                zf.writestr(WARNINGS_NAME, text + "".join(f"- {w}\n" for w in warnings))

    _replace_atomically(out, write)


def find_chromium() -> str | None:
    """The headless browser that prints the PDF: $CHROMIUM, else the first found on PATH."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    return next((shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n)), None)


def pdf_engine_missing() -> str | None:
    """What is missing to make the PDF, or None when everything is there."""
    missing = []
    for module in ("nbconvert", "pypdf"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if find_chromium() is None:
        missing.append("Chromium")
    return ", ".join(missing) or None


def local_mathjax_url() -> str | None:
    """MathJax from the installed jupyter-server-mathjax package, so that the notebooks' LaTeX
    is typeset without a network (nbconvert's default loads it from a CDN); None if absent."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    script = Path(jupyter_server_mathjax.__file__).parent / "static" / "MathJax.js"
    return script.as_uri() + "?config=TeX-AMS-MML_HTMLorMML-full,Safe" if script.is_file() else None


# nbconvert's "lab" page without what it would fetch from the network: require.js, the widget
# renderer and mermaid (none of which the notebooks use), and MathJax unless served locally.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
NO_MATHJAX = "{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}\n"


def offline_html_exporter() -> HTMLExporter:
    """An nbconvert HTML exporter whose pages load nothing from the network: MathJax comes from
    jupyter-server-mathjax (a file URL of this machine; without that package the LaTeX stays
    as written, and a warning says so)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    mathjax = local_mathjax_url()
    template = OFFLINE_TEMPLATE + ("" if mathjax else NO_MATHJAX)
    if not mathjax:
        print("warning: jupyter-server-mathjax is not installed: LaTeX is left as written in the "
              "HTML (pip install jupyter-server-mathjax)", file=sys.stderr)  # fmt: skip
    return HTMLExporter(
        template_name="lab",
        template_file="offline.html.j2",
        extra_loaders=[DictLoader({"offline.html.j2": template})],
        **({"mathjax_url": mathjax} if mathjax else {}),
    )


def headless_chromium(profile: Path) -> list[str]:
    """The start of a headless Chromium command line: a private profile in ``profile``, no
    background traffic, and time for the page's scripts (MathJax) to run (virtual ms)."""
    command = [
        find_chromium(),
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=20000",  # let MathJax typeset before printing
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(2, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    return command


def print_to_pdf(html: Path, pdf: Path, profile: Path) -> None:
    """Print the page ``html`` to ``pdf`` with headless Chromium."""
    command = [
        *headless_chromium(profile),
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        html.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise RuntimeError(f"Chromium did not print {html.name}: {done.stderr[-1000:]}")


def write_pdf(root: Path, notebooks: list[str], out: Path) -> None:
    """One PDF of ``notebooks`` (relative to ``root``, in order), a bookmark for each."""
    from pypdf import PdfWriter

    exporter = offline_html_exporter()
    with tempfile.TemporaryDirectory(prefix="collect-pdf-") as tmp:
        work = Path(tmp)
        writer = PdfWriter()
        for i, rel in enumerate(notebooks):
            body, _ = exporter.from_filename(str(root / rel))
            body = body.replace("</head>", WRAP_CODE + "</head>", 1)
            html, pdf = work / f"{i}.html", work / f"{i}.pdf"
            html.write_text(body, encoding="utf-8")
            print_to_pdf(html, pdf, work / "profile")
            first_page = len(writer.pages)
            writer.append(str(pdf))
            writer.add_outline_item(title=Path(rel).stem, page_number=first_page)
        _replace_atomically(out, lambda path: writer.write(str(path)))


# ------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the kit's top folder")
    parser.add_argument(
        "--force", action="store_true", help="package despite problems (listed in the zip)"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()

    problems, notes, pdf_notebooks = check_kit(root)
    for note in notes:
        print(f"note: {note}")
    if problems and not args.force:
        print(
            f"collectSubmission: {len(problems)} problem(s); nothing was written:", file=sys.stderr
        )
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print("Fix them and run it again (or pass --force to package anyway).", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)

    files = submission_files(root)
    write_zip(root, files, root / ZIP_NAME, problems)
    carried, missing = model_notes(root, [rel for rel in pdf_notebooks if rel in EITHER])
    with_models = f", with {' and '.join(carried)}" if carried else ""
    print(f"wrote {ZIP_NAME} ({len(files)} files{with_models})")
    for warning in missing:
        print(f"warning: {warning}", file=sys.stderr)
    missing = pdf_engine_missing()
    if missing:
        print(f"error: no PDF written, {missing} not found: {PDF_HELP}", file=sys.stderr)
        return 1
    try:
        write_pdf(root, pdf_notebooks, root / PDF_NAME)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"error: no PDF written: {error}", file=sys.stderr)
        return 1
    print(f"wrote {PDF_NAME} ({len(pdf_notebooks)} notebooks: {', '.join(pdf_notebooks)})")
    print("Upload both files.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
