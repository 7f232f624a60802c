"""The class report for course staff: ``python -m tools.grade DIR --report report.html``.

Across a batch of graded submissions: the distribution of points per question (a plot), per
graded function the share of submissions that lost points on it, and the most frequent known
mistakes (``recognize.py``) with their counts and hints; what a teaching assistant needs for
the next section meeting. Wrong outputs that no catalogued mistake explains but a relation
to the right output does ("dw N times too large", relations.py) are counted there too.
An ``.html`` report is one self-contained page (plots embedded as PNG); a ``.md`` report
is Markdown with its plots as PNG files beside it.

Plots are drawn with matplotlib, imported only here: grading itself does not need it.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tools.grade import text
from tools.grade.cases import QUESTIONS
from tools.grade.mistakes import BY_NAME
from tools.grade.runner import Result

SUFFIXES = (".html", ".md")
RELATION = "relation: "  # a row for a wrong output explained by a relation (relations.py)
BAR = "#3b6ea8"  # the plots' bars (the screenshot test looks for this colour)


@dataclass
class FunctionRow:
    label: str  # Q1..Q5
    function: str
    lost: int  # submissions that lost points on it
    share: float
    mean_lost: float  # points lost, averaged over the submissions that lost any
    points: float


@dataclass
class MistakeRow:
    name: str
    function: str
    count: int
    share: float
    hint: str


@dataclass
class Summary:
    submissions: int
    seed: int
    points: dict[int, list[float]]  # question -> each submission's points
    totals: list[float]
    functions: list[FunctionRow]
    mistakes: list[MistakeRow]  # most frequent first
    not_ok: list[str]  # "submission: status" where grading did not go smoothly
    q5_flags: list[str]  # "submission: flag" for each Q5 model to check by hand (q5.py)


def _hint(name: str) -> str:
    if name.startswith(RELATION):
        return "found by its relation to the right output (no catalogue entry): see the feedback"
    return BY_NAME[name].hint


def summarize(results: list[Result]) -> Summary:
    """The numbers of the report, from the graded submissions of one run."""
    if not results:
        raise ValueError("the class report needs at least one graded submission, got none")
    n = len(results)
    cases = {r.case.program: r.case for res in results for r in res.results}
    lost, lost_points = Counter(), Counter()
    mistakes = Counter()
    for res in results:
        for r in res.results:
            if r.earned < r.case.points - 1e-9:
                lost[r.case.program] += 1
                lost_points[r.case.program] += r.case.points - r.earned
            for name in (*r.mistakes, *(RELATION + c for c in r.clues)):
                mistakes[(name, r.case.function)] += 1
    functions = [
        FunctionRow(
            QUESTIONS[c.question][0],
            c.function,
            lost[p],
            lost[p] / n,
            lost_points[p] / lost[p] if lost[p] else 0.0,
            c.points,
        )
        for p, c in cases.items()
    ]
    ranked = sorted(mistakes.items(), key=lambda item: (-item[1], item[0]))
    questions = sorted({c.question for c in cases.values()})
    return Summary(
        submissions=n,
        seed=results[0].seed,
        points={q: [res.question_points(q) for res in results] for q in questions},
        totals=[res.total for res in results],
        functions=functions,
        mistakes=[MistakeRow(m, f, k, k / n, _hint(m)) for (m, f), k in ranked],
        not_ok=[f"{res.submission}: {res.status}" for res in results if res.status != "ok"],
        q5_flags=[f"{res.submission}: {f}" for res in results for f in res.q5.get("flags", [])],
    )


# ----------------------------------------------------------------------------------- plots


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def points_plot(summary: Summary) -> bytes:
    """One histogram of points per question, and one of the totals."""
    panels = [(QUESTIONS[q][0], summary.points[q], QUESTIONS[q][2]) for q in summary.points]
    panels.append(("total", summary.totals, sum(QUESTIONS[q][2] for q in summary.points)))
    fig = Figure(figsize=(2.4 * len(panels), 2.6), layout="constrained")
    for ax, (label, values, top) in zip(fig.subplots(1, len(panels)), panels, strict=True):
        ax.hist(values, bins=10, range=(0, top), color=BAR, edgecolor="white")
        ax.set_title(f"{label} (of {top:g})", fontsize=10)
        ax.set_xlabel("points", fontsize=9)
        ax.set_xlim(0, top)
    fig.axes[0].set_ylabel("submissions")
    fig.suptitle(f"Points per question, {summary.submissions} submissions", fontsize=11)
    return _png(fig)


def _barh(
    labels: list[str], values: list[float], title: str, xlabel: str, counts: bool = False
) -> bytes:
    fig = Figure(figsize=(8, 1.0 + 0.24 * len(labels)), layout="constrained")
    ax = fig.subplots()
    ax.barh(range(len(labels)), values, color=BAR)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel, fontsize=9)
    if counts:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(fig)


def functions_plot(summary: Summary) -> bytes:
    """The functions on which any submission lost points, the most often lost first."""
    rows = sorted((r for r in summary.functions if r.lost), key=lambda r: -r.share)
    rows = rows or [FunctionRow("", "(no points lost)", 0, 0.0, 0.0, 0.0)]
    return _barh(
        [r.function if r.function.startswith(r.label) else f"{r.label} {r.function}" for r in rows],
        [100 * r.share for r in rows],
        "Submissions losing points, per function (where any did)",
        "% of submissions",
    )


def mistakes_plot(summary: Summary, top: int = 15) -> bytes:
    rows = summary.mistakes[:top] or [MistakeRow("(none recognized)", "", 0, 0.0, "")]
    return _barh(
        [r.name for r in rows],
        [r.count for r in rows],
        "Most frequent known mistakes and relations",
        "submissions",
        counts=True,
    )


PLOTS = {"points": points_plot, "functions": functions_plot, "mistakes": mistakes_plot}


# ---------------------------------------------------------------------------------- tables


def _tables(summary: Summary) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Each table of the report as (header, rows of text): points, functions, mistakes."""
    points = []
    for q, values in summary.points.items():
        ordered = sorted(values)
        label, title, weight = QUESTIONS[q]
        points.append(
            [
                f"{label} {title}",
                f"{weight:g}",
                f"{sum(values) / len(values):.2f}",
                f"{ordered[len(ordered) // 2]:.2f}",
                f"{sum(v >= weight - 1e-9 for v in values)}",
            ]
        )
    functions = [
        [r.label, r.function, f"{r.points:g}", f"{r.lost}", f"{100 * r.share:.0f}%",
         f"{r.mean_lost:.2f}" if r.lost else ""]
        for r in summary.functions
    ]  # fmt: skip
    mistakes = [
        [str(i), r.name, r.function, f"{r.count}", f"{100 * r.share:.0f}%", r.hint]
        for i, r in enumerate(summary.mistakes, start=1)
    ]
    return {
        "points": (["question", "of", "mean", "median", "full marks"], points),
        "functions": (
            ["", "function", "points", "lost points", "share", "mean loss"],
            functions,
        ),
        "mistakes": (["#", "mistake", "function", "count", "share", "hint"], mistakes),
    }


TITLES = {
    "points": "Points per question",
    "functions": "Functions: who loses points",
    "mistakes": "Most frequent known mistakes and relations",
}


def _intro(summary: Summary) -> str:
    known = [r for r in summary.mistakes if not r.name.startswith(RELATION)]
    relations = [r for r in summary.mistakes if r.name.startswith(RELATION)]
    text = (
        f"{summary.submissions} submissions graded with inputs seed {summary.seed}; "
        f"{sum(r.count for r in known)} known mistakes recognized ({len(known)} different); "
        f"{sum(r.count for r in relations)} wrong outputs explained by a relation to the right "
        f"one ({len(relations)} different)."
    )
    if summary.not_ok:
        text += f" Not graded smoothly: {'; '.join(summary.not_ok)}."
    if summary.q5_flags:
        text += f" Q5 models to check by hand: {'; '.join(summary.q5_flags)}."
    return text


# ---------------------------------------------------------------------------------- writers

STYLE = """body { font-family: sans-serif; margin: 2em; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #eef2f7; } img { max-width: 100%; display: block; margin: 1em 0; }"""


def _html_table(header: list[str], rows: list[list[str]], kind: str) -> str:
    head = "".join(f"<th>{text.html_text(h)}</th>" for h in header)
    body = "".join(
        f'<tr class="{kind}">' + "".join(f"<td>{text.html_text(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def to_html(summary: Summary) -> str:
    """The report as one page, its plots embedded."""
    parts = [f"<h1>Class report</h1><p>{text.html_text(_intro(summary))}</p>"]
    for key, (header, rows) in _tables(summary).items():
        png = base64.b64encode(PLOTS[key](summary)).decode()
        parts.append(f"<h2>{TITLES[key]}</h2>")
        parts.append(f'<img alt="{TITLES[key]}" src="data:image/png;base64,{png}">')
        parts.append(_html_table(header, rows, key))
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Class report</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells):
        return "| " + " | ".join(text.markdown(c) for c in cells) + " |"

    rule = "|" + " --- |" * len(header)
    return "\n".join([line(header), rule, *map(line, rows)])


def to_markdown(summary: Summary, images: dict[str, str]) -> str:
    """The report as Markdown; ``images`` names each plot's PNG file."""
    parts = ["# Class report", text.markdown(_intro(summary))]
    for key, (header, rows) in _tables(summary).items():
        parts += [f"## {TITLES[key]}", f"![{TITLES[key]}]({images[key]})", _md_table(header, rows)]
    return "\n\n".join(parts) + "\n"


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def write(path: Path, results: list[Result]) -> list[Path]:
    """Write the report (``.html`` or ``.md``, with its plots); return the files written."""
    if path.suffix not in SUFFIXES:
        raise ValueError(f"the report must be a .html or .md file, got {path}")
    summary = summarize(results)
    if path.suffix == ".html":
        _write(path, to_html(summary).encode())
        return [path]
    images = {key: path.with_name(f"{path.stem}_{key}.png") for key in PLOTS}
    for key, image in images.items():
        _write(image, PLOTS[key](summary))
    _write(path, to_markdown(summary, {k: p.name for k, p in images.items()}).encode())
    return [path, *images.values()]
