"""The ``make run`` executor (scripts/run_notebooks.py) on tiny synthetic notebooks.

One run of three notebooks is shared by the tests, in this order: one that raises in a cell
(``In [5]`` once papermill has injected the parameters cell), one that passes and prints
``[check]`` and ``[target]`` lines and a plot (so it runs after a failure), and one that is
missing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
try:
    import run_notebooks
finally:
    sys.path.pop(0)

PASSING = [
    "QUICK = False",
    "print('QUICK is', QUICK)",
    "print('[check] affine_forward out: rel error 1.00e-09 (must be <= 1e-07) ok')\n"
    "print('[check] relu_forward out: rel error 0.00e+00 (must be <= 1e-07) ok')",
    "print('[target] Net validation accuracy: 52.10% (target >= 50.00%): met')\n"
    "print('[target] Net training time: 3.5 min (target <= 12.0 min): missed"
    " (not enforced)')",
    "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
    "from IPython.display import Image, display\nimport io\n"
    "plt.plot([1, 2, 3])\nbuf = io.BytesIO()\nplt.savefig(buf, format='png')\n"
    "display(Image(buf.getvalue()))",
]
FAILING = [
    "QUICK = False",
    "print('[check] conv_forward_naive out: rel error 2.00e-08 (must be <= 1e-07) ok')",
    "x = 1",
    "raise ValueError('boom')",
    "print('never printed')",
]
NAMES = ["Failing.ipynb", "Passing.ipynb", "Missing.ipynb"]


def write_notebook(path: Path, sources: list[str]) -> None:
    """A notebook whose first code cell is tagged ``parameters``, with a markdown title."""
    cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}")]
    cells += [nbformat.v4.new_code_cell(src) for src in sources]
    cells[1].metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[int, str, Path, Path]:
    """(exit status, stderr, notebook folder, output folder) of one ``main`` run, quick mode."""
    src, out = tmp_path_factory.mktemp("notebooks"), tmp_path_factory.mktemp("out")
    write_notebook(src / "Passing.ipynb", PASSING)
    write_notebook(src / "Failing.ipynb", FAILING)
    args = [*NAMES, "--quick", "--out", str(out), "--notebook-dir", str(src)]
    with contextlib.redirect_stderr(io.StringIO()) as stderr:
        status = run_notebooks.main(args)
    return status, stderr.getvalue(), src, out


def test_exit_status_names_the_failed_notebook_and_cell(run) -> None:
    status, stderr, _, _ = run
    assert status == 1
    failed = [line for line in stderr.splitlines() if line.startswith("make run: Failing.ipynb")]
    assert len(failed) == 1, stderr
    assert "In [5]" in failed[0] and "ValueError: boom" in failed[0]
    # and says where its work is: the notebook executed up to the error, and its page
    _, _, _, out = run
    kept = f"executed up to the error, which shows in its cell: {out / 'Failing.ipynb'} and "
    assert kept + str(out / "Failing.html") in failed[0], failed[0]
    assert "make run: Missing.ipynb not run" in stderr
    assert "Passing.ipynb" not in stderr


def test_summary_json_has_status_time_checks_and_targets(run) -> None:
    _, _, _, out = run
    data = json.loads((out / "summary.json").read_text())
    assert data["mode"] == "quick"
    failing, passing, missing = data["notebooks"]
    assert [failing["notebook"], passing["notebook"], missing["notebook"]] == NAMES
    assert passing["status"] == "ok" and passing["checks_ok"] == 2
    assert passing["wall_s"] > 0 and passing["html"] == "Passing.html"
    assert [t["name"] for t in passing["targets"]] == [
        "Net validation accuracy",
        "Net training time",
    ]
    accuracy, time_ = passing["targets"]
    assert (accuracy["value"], accuracy["op"], accuracy["target"]) == ("52.10%", ">=", "50.00%")
    assert accuracy["status"] == "met" and accuracy["enforced"]
    assert time_["status"] == "missed" and not time_["enforced"]
    # the failed notebook still reports what ran before the error, and the cell
    assert failing["status"].startswith("failed at cell In [5]")
    assert failing["checks_ok"] == 1 and failing["html"] == "Failing.html"
    assert missing["status"] == "not run: no such file" and missing["wall_s"] is None


def test_summary_markdown_shows_each_notebook_and_figure(run) -> None:
    _, _, _, out = run
    text = (out / "summary.md").read_text()
    assert "# make run (quick mode)" in text
    assert "| Passing.ipynb | ok |" in text
    assert "| Failing.ipynb | failed at cell In [5]" in text
    assert "ValueError: boom" in text
    assert "| Missing.ipynb | not run: no such file |" in text
    assert "| Passing.ipynb | Net validation accuracy | 52.10% | >= 50.00% | met |" in text
    assert "| total | 1 of 3 ok |" in text
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary file behind


def test_outputs_executed_quick_with_html_and_sources_untouched(run) -> None:
    _, _, src, out = run
    executed = nbformat.read(out / "Passing.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "QUICK = True" in injected[0].source
    assert "QUICK is True" in run_notebooks.notebook_stdout(out / "Passing.ipynb")
    html = (out / "Passing.html").read_text()
    assert "<html" in html and "data:image/png;base64," in html  # the plot is embedded
    assert "boom" in (out / "Failing.html").read_text()
    assert "never printed" not in run_notebooks.notebook_stdout(out / "Failing.ipynb")
    assert not (out / "Missing.ipynb").exists() and not (out / "Missing.html").exists()
    for name in ("Passing.ipynb", "Failing.ipynb"):  # the sources have no outputs
        source = nbformat.read(src / name, as_version=4)
        assert all(not c.get("outputs") for c in source.cells if c.cell_type == "code")


def _error_cell_and_after(notebook: Path) -> tuple[dict, list[dict]]:
    """The code cell that raised ``boom`` and the code cells after it."""
    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    (k,) = [i for i, c in enumerate(cells) if "raise ValueError" in c.source]
    return cells[k], cells[k + 1 :]


def test_a_failed_run_keeps_the_notebook_executed_up_to_the_error(run) -> None:
    _, _, _, out = run
    failed, after = _error_cell_and_after(out / "Failing.ipynb")
    (error,) = [o for o in failed.outputs if o.output_type == "error"]
    assert (error.ename, error.evalue) == ("ValueError", "boom")
    assert all(c.execution_count is None and not c.outputs for c in after)
    before = nbformat.read(out / "Failing.ipynb", as_version=4).cells
    assert any(c.get("execution_count") == 4 and c.source == "x = 1" for c in before)


def test_papermill_keeps_a_students_headless_run_too(tmp_path: Path) -> None:
    """The README's headless command for students (papermill) keeps the work as `make run`
    does, where a plain `jupyter nbconvert --execute` writes nothing."""
    write_notebook(tmp_path / "Failing.ipynb", FAILING)
    done = subprocess.run(
        [sys.executable, "-m", "papermill", "Failing.ipynb", "Failing.run.ipynb", "-p", "QUICK",
         "True", "--cwd", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0 and "boom" in done.stderr
    failed, after = _error_cell_and_after(tmp_path / "Failing.run.ipynb")
    assert [o.ename for o in failed.outputs if o.output_type == "error"] == ["ValueError"]
    assert all(c.execution_count is None for c in after)


# A markdown cell's math still written as TeX: $...$ or $$...$$ (MathJax did not typeset it).
RAW_MATH = re.compile(r"\$\$?[^$\s][^$]*\$")


class MarkdownText(HTMLParser):
    """The text of a rendered page's markdown cells, without scripts and styles (MathJax keeps
    each formula's TeX in a ``<script type="math/tex">``)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []  # (tag, inside a markdown cell)
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        classes = dict(attrs).get("class") or ""
        inside = bool(self.stack and self.stack[-1][1]) or "jp-MarkdownCell" in classes
        if tag not in ("br", "img", "hr", "input", "meta", "link"):
            self.stack.append((tag, inside))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        tags = [tag for tag, _ in self.stack]
        if self.stack and self.stack[-1][1] and not {"script", "style"} & set(tags):
            self.text.append(data)


def test_report_pages_read_offline_in_chromium(tmp_path: Path) -> None:
    """A `make run` page loads nothing from the network, and in a browser without one its
    math is typeset: no markdown cell shows raw ``$...$``."""
    from tools.collect_submission import find_chromium, headless_chromium

    if find_chromium() is None:
        if os.environ.get("CS231N_REQUIRE_PDF") == "1":
            pytest.fail("Chromium missing: `make pdf-deps` installs it")
        pytest.skip("Chromium missing: `make pdf-deps` installs it")
    shutil.copy(ROOT / "BatchNormalization.ipynb", tmp_path)  # a real notebook, math and all
    html = run_notebooks.write_html(tmp_path / "BatchNormalization.ipynb")
    page = html.read_text()
    fetched = re.findall(
        r"""(?:src|href)=["']?(https?:[^"'\s>]+)|@import[^;]*https?:|url\(\s*["']?https?:""", page
    )
    assert not [f for f in fetched if f], fetched  # no script, style or font from the network

    source = "\n".join(
        c.source for c in nbformat.read(html.with_suffix(".ipynb"), as_version=4).cells
        if c.cell_type == "markdown"
    )  # fmt: skip
    assert len(RAW_MATH.findall(source)) > 20  # the page has math to typeset
    offline = ["--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]
    command = [*headless_chromium(tmp_path / "profile"), *offline, "--dump-dom", html.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert "</html>" in done.stdout, done.stderr[-2000:]
    parser = MarkdownText()
    parser.feed(done.stdout)
    text = "".join(parser.text)
    assert "Batch normalization" in text  # the markdown cells were found
    assert RAW_MATH.findall(text) == [], RAW_MATH.findall(text)[:5]


def test_refuses_to_write_over_the_source_notebook(tmp_path) -> None:
    write_notebook(tmp_path / "Passing.ipynb", PASSING)
    with pytest.raises(ValueError, match="out_dir"):
        run_notebooks.run_notebook("Passing.ipynb", tmp_path, True, notebook_dir=tmp_path)


def test_default_order_is_the_students_order() -> None:
    assert list(run_notebooks.NOTEBOOKS) == [
        "FullyConnectedNets.ipynb",
        "BatchNormalization.ipynb",
        "Dropout.ipynb",
        "ConvolutionalNetworks.ipynb",
        "PyTorch.ipynb",
        "TensorFlow.ipynb",
    ]


def test_summary_markdown_escapes_pipes_in_cells() -> None:
    result = run_notebooks.Result("A.ipynb", status="ok", wall_s=1.0)
    target = {"name": "a|b", "value": "1%", "op": ">=", "target": "0%", "status": "met"}
    result.targets.append({**target, "enforced": True})
    text = run_notebooks.summary_markdown([result], quick=False)
    assert "| A.ipynb | a\\|b | 1% | >= 0% | met |" in text


@pytest.mark.parametrize(("flags", "folder"), [([], "run"), (["--quick"], "run-quick")])
def test_quick_mode_keeps_the_full_report(monkeypatch, flags, folder) -> None:
    seen = {}

    def fake_run_all(names, out, quick, notebook_dir):
        seen.update(out=out, quick=quick)
        return []

    monkeypatch.setattr(run_notebooks, "run_all", fake_run_all)
    assert run_notebooks.main(flags) == 0
    assert seen == {"out": run_notebooks.ROOT / "build" / folder, "quick": bool(flags)}


def test_full_mode_fails_a_notebook_whose_target_is_missed(tmp_path: Path) -> None:
    """Quick mode reports a missed target; full mode fails the notebook on it, enforced in the
    notebook or not (a student's run never stops for one: ``make run`` enforces it)."""
    write_notebook(tmp_path / "Passing.ipynb", PASSING)
    quick = run_notebooks.execute("Passing.ipynb", tmp_path / "q", True, tmp_path, False)
    assert quick.ok
    full = run_notebooks.execute("Passing.ipynb", tmp_path / "f", False, tmp_path, False)
    assert full.status == (
        "failed: target missed: Net training time 3.5 min (target <= 12.0 min)"
    ), full.status
