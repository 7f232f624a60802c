"""Execute the kit's six notebooks headless with papermill and write a report (``make run``).

Each notebook has a cell tagged ``parameters`` that defines ``QUICK = False``; ``--quick``
injects ``QUICK = True`` (every cell on a small subset). The notebooks run one after the
other, in the order a student works through them. Under ``--out`` (default ``build/run``;
``build/run-quick`` with ``--quick``, so that a smoke test keeps the last full report):

    NAME.ipynb     the executed notebook, outputs included
    NAME.html      the same rendered as a web page, plots embedded (no Jupyter needed)
    summary.md     per notebook: status, wall time, checks, each headline figure and its target
    summary.json   the same for programs

A notebook that fails does not stop the others; once all have run, the exit status is 1 and
the message names each notebook that failed, the cell, and where its executed copy is: papermill
keeps the notebook executed up to the failing cell, the error in that cell, later cells not run.
In full mode a notebook also fails when any of its ``[target]`` lines says ``missed``, enforced
in the notebook or not: a notebook never stops a student's run for a target on the student's
own choices (the best nets, the open-ended models, their wall times), so this is where our run
of the solution enforces them. The notebooks in the repository are never written to.

    python scripts/run_notebooks.py                     # all six, full mode
    python scripts/run_notebooks.py --quick             # all six, quick mode
    python scripts/run_notebooks.py --quick PyTorch.ipynb
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from cs231n.notebook_checks import CHECK_LINE, TARGET_LINE

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.collect_submission import (  # noqa: E402
    NOTEBOOKS,  # the six, in the students' order
    offline_html_exporter,
)


@dataclass
class Result:
    """What one notebook's run produced, as the summary reports it."""

    notebook: str
    status: str = "not run"  # "ok", "failed at cell ...: Name: message", "not run: why"
    wall_s: float | None = None
    cpu_s: float | None = None  # CPU time of the kernel (and its children), all cores
    checks_ok: int = 0
    checks_failed: int = 0
    targets: list[dict] = field(default_factory=list)  # TARGET_LINE's groups, per figure
    html: str | None = None
    executed: str | None = None  # the executed notebook; after a failure, up to the error

    def where(self) -> str:
        """Where a failed run's work is: the notebook executed up to the error (and its page)."""
        if not self.executed:
            return ""
        page = f" and {Path(self.executed).with_suffix('.html')}" if self.html else ""
        return f"; executed up to the error, which shows in its cell: {self.executed}{page}"

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_notebook(
    name: str, out_dir: Path, quick: bool, *, notebook_dir: Path = ROOT, progress: bool = False
) -> Path:
    """Execute ``notebook_dir/name`` into ``out_dir/name`` and return the output path.

    The kernel runs in ``notebook_dir`` and inherits this process's environment (e.g.
    ``CS231N_CIFAR10``). With ``progress``, papermill's per-cell progress bar is shown and
    everything the notebook prints is streamed to this process's stdout/stderr as it comes.
    Raises ``PapermillExecutionError`` when a cell raises; the output is written regardless.
    """
    source, output = Path(notebook_dir) / name, Path(out_dir) / name
    if output.resolve() == source.resolve():
        raise ValueError(f"out_dir: must differ from the notebook's folder, got {out_dir}")
    output.parent.mkdir(parents=True, exist_ok=True)
    streams = {"stdout_file": sys.stdout, "stderr_file": sys.stderr} if progress else {}
    papermill.execute_notebook(
        str(source),
        str(output),
        parameters={"QUICK": quick},
        cwd=str(notebook_dir),
        kernel_name="python3",
        progress_bar=progress,
        log_output=not progress,  # to the logger (quiet unless configured), e.g. under pytest
        **streams,
    )
    return output


def notebook_stdout(path: Path) -> str:
    """Everything the code cells of an executed notebook printed to stdout."""
    nb = nbformat.read(path, as_version=4)
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.output_type == "stream" and out.name == "stdout"
    )


def read_report_lines(result: Result, text: str) -> None:
    """Fill ``result``'s check counts and targets from the ``[check]``/``[target]`` lines."""
    for line in text.splitlines():
        if match := CHECK_LINE.match(line):
            if match["status"] == "ok":
                result.checks_ok += 1
            else:
                result.checks_failed += 1
        elif match := TARGET_LINE.match(line):
            target = match.groupdict()
            target["enforced"] = not target.pop("unenforced")
            result.targets.append(target)


def failure_status(error: Exception) -> str:
    """One line saying where and how a notebook failed."""
    if isinstance(error, PapermillExecutionError):
        return f"failed at cell In [{error.exec_count}]: {error.ename}: {first_line(error.evalue)}"
    return f"failed: {type(error).__name__}: {first_line(error)}"


def first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def write_html(notebook: Path) -> Path:
    """Render an executed notebook as a standalone HTML page next to it (plots embedded); the
    page loads nothing from the network (MathJax comes from this machine)."""
    body, _ = offline_html_exporter().from_filename(str(notebook))
    html = notebook.with_suffix(".html")
    write_atomically(html, body)
    return html


def children_cpu_s() -> float:
    """CPU time (user + system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute(name: str, out_dir: Path, quick: bool, notebook_dir: Path, progress: bool) -> Result:
    """Run one notebook and read back what the summary reports; never raises for a failure
    inside the notebook (it is recorded in ``status``)."""
    result = Result(name)
    if not (notebook_dir / name).is_file():
        result.status = "not run: no such file"
        return result
    start, started_at, cpu = time.perf_counter(), time.time(), children_cpu_s()
    try:
        output = run_notebook(name, out_dir, quick, notebook_dir=notebook_dir, progress=progress)
        result.status = "ok"
    except Exception as error:  # noqa: BLE001 (reported, and the next notebook runs)
        output = out_dir / name
        result.status = failure_status(error)
    result.wall_s = round(time.perf_counter() - start, 1)
    result.cpu_s = round(children_cpu_s() - cpu, 1)
    if output.is_file() and output.stat().st_mtime >= started_at - 1:  # not a stale copy
        result.executed = str(output)
        read_back(result, output)
    missed = [t for t in result.targets if t["status"] == "missed"]
    if result.ok and missed and not quick:
        result.status = "failed: target missed: " + "; ".join(
            f"{t['name']} {t['value']} (target {t['op']} {t['target']})" for t in missed
        )
    return result


def read_back(result: Result, output: Path) -> None:
    """Fill ``result`` from an executed notebook and render the notebook as HTML. A problem
    here is printed, not raised: the other notebooks and the summary matter more."""
    try:
        read_report_lines(result, notebook_stdout(output))
        result.html = write_html(output).name
    except Exception as error:  # noqa: BLE001
        print(f"could not read back {output}: {type(error).__name__}: {error}", file=sys.stderr)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def row(*cells: str) -> str:
    """One markdown table row; a ``|`` inside a cell is escaped."""
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def summary_markdown(results: list[Result], quick: bool) -> str:
    """The report: one row per notebook, then one row per headline figure."""
    lines = [f"# make run ({'quick' if quick else 'full'} mode)", ""]
    lines += [row("notebook", "status", "wall time", "CPU time", "checks"), "|---|---|---|---|---|"]
    for r in results:
        checks = f"{r.checks_ok} ok" + (f", {r.checks_failed} FAILED" if r.checks_failed else "")
        lines.append(
            row(r.notebook, r.status, format_seconds(r.wall_s), format_seconds(r.cpu_s), checks)
        )
    total = format_seconds(sum(r.wall_s or 0.0 for r in results))
    lines += [row("total", f"{sum(r.ok for r in results)} of {len(results)} ok", total, "", "")]
    lines += ["", row("notebook", "headline figure", "value", "target", "result")]
    lines.append("|---|---|---|---|---|")
    for r in results:
        for t in r.targets:
            met = t["status"] + ("" if t["enforced"] else " (not enforced)")
            lines.append(row(r.notebook, t["name"], t["value"], f"{t['op']} {t['target']}", met))
    return "\n".join(lines) + "\n"


def write_summary(results: list[Result], out_dir: Path, quick: bool) -> None:
    """(Re)write ``summary.md`` and ``summary.json`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / "summary.md", summary_markdown(results, quick))
    data = {"mode": "quick" if quick else "full", "notebooks": [asdict(r) for r in results]}
    write_atomically(out_dir / "summary.json", json.dumps(data, indent=2) + "\n")


def run_all(
    names: list[str], out_dir: Path, quick: bool, notebook_dir: Path = ROOT, progress: bool = True
) -> list[Result]:
    """Run the notebooks in order; the summary is rewritten after each one."""
    results = [Result(name) for name in names]
    write_summary(results, out_dir, quick)
    for i, name in enumerate(names):
        mode = "quick" if quick else "full"
        print(f"[{i + 1}/{len(names)}] {name} ({mode} mode)", flush=True)
        results[i] = execute(name, out_dir, quick, notebook_dir, progress)
        write_summary(results, out_dir, quick)
        print(
            f"[{i + 1}/{len(names)}] {name}: {results[i].status}, "
            f"{format_seconds(results[i].wall_s)}",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook file names (default: all six)")
    parser.add_argument("--quick", action="store_true", help="small subsets, minutes not hours")
    parser.add_argument(
        "--out", type=Path, help="report folder (default build/run, build/run-quick with --quick)"
    )
    parser.add_argument("--notebook-dir", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # A quick smoke test never overwrites the report of a full run.
    args.out = args.out or ROOT / "build" / ("run-quick" if args.quick else "run")

    results = run_all(args.notebooks or NOTEBOOKS, args.out, args.quick, args.notebook_dir)
    print(f"report: {args.out / 'summary.md'}", flush=True)
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"make run: {r.notebook} {r.status}{r.where()}", file=sys.stderr)
    if failed:
        print(f"make run: {len(failed)} of {len(results)} notebooks did not pass", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
