"""The grader's side: unpack a submission, run the worker on it, score what comes back.

Student code never runs in this process. The reference outputs come from our own
``cs231n`` (imported here) running the same programs on the same inputs; the worker gets
only the inputs. The worker runs in the sandbox of sandbox.py (bubblewrap where the machine
allows, an unprivileged uid, rlimits, Landlock); when it ends, nothing it started remains.
A function that loses points is then compared with its known mistakes (``recognize.py``, our
solution patched, also run here).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tools.grade import cases as case_table
from tools.grade import notebooks, programs, recognize, sandbox
from tools.grade.cases import CaseResult

HERE = Path(__file__).resolve().parent
KEPT_SUFFIXES = (".py", ".pyx", ".ipynb")
MAX_FILE_BYTES = 20 * 2**20
MAX_TOTAL_BYTES = 100 * 2**20
MAX_OUTPUT_BYTES = 64 * 2**20  # a worker's outputs for one case, unpacked


@dataclass
class Limits:
    case_seconds: float = 20.0  # wall clock for one case
    total_seconds: float = 240.0  # wall clock for all of a submission's cases
    cpu_seconds: int = 240  # per worker process
    memory_bytes: int = 3 * 2**30  # address space per worker process
    file_bytes: int = 64 * 2**20  # largest file a worker may write
    processes: int = 64  # processes and threads of a worker (where the sandbox can count them)
    disk_bytes: int = 256 * 2**20  # all the files a worker may write, its output included


@dataclass
class Result:
    submission: str
    seed: int
    results: list[CaseResult] = field(default_factory=list)
    status: str = "ok"
    seconds: float = 0.0
    sandbox: str = ""  # the protections that were active (sandbox.Plan.describe)
    protections: dict[str, bool] = field(default_factory=dict)

    def question_points(self, q: int) -> float:
        return round(sum(r.earned for r in self.results if r.question == q), 2)

    @property
    def total(self) -> float:
        return round(sum(r.earned for r in self.results), 2)


# ------------------------------------------------------------------------------- reference


class Reference:
    """Inputs drawn for one grading run, and our solution's outputs on them."""

    def __init__(self, seed: int, selected: list[case_table.Case]) -> None:
        self.seed = seed
        self.cases = selected
        self.inputs: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        cs = programs.Modules()
        for index, case in enumerate(case_table.CASES):
            if case not in selected:
                continue
            rng = np.random.default_rng([seed, index])
            a = {k: np.asarray(v) for k, v in case.inputs(rng).items()}
            self.inputs[case.program] = a
            copies = {k: v.copy() for k, v in a.items()}
            with np.errstate(all="ignore"):
                out = getattr(programs, case.program)(cs, copies)
            self.outputs[case.program] = {k: np.asarray(v) for k, v in out.items()}

    def write_inputs(self, path: Path) -> None:
        flat = {f"{c}.{k}": v for c, a in self.inputs.items() for k, v in a.items()}
        np.savez(path, **flat)


# ------------------------------------------------------------------------------ submission


def _safe_name(name: str) -> str | None:
    """A zip member's path if it is a plain relative path to a kept file, else None."""
    parts = Path(name.replace("\\", "/")).parts
    if not parts or name.startswith("/") or ".." in parts or not name.endswith(KEPT_SUFFIXES):
        return None
    if any(p.startswith(".") or p in ("__pycache__", "__MACOSX") for p in parts):
        return None
    return "/".join(parts)


def _extract(zip_path: Path, dest: Path) -> None:
    total = 0
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            name = None if info.is_dir() else _safe_name(info.filename)
            if name is None or info.file_size > MAX_FILE_BYTES:
                continue
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise ValueError(f"{zip_path.name} unpacks to more than {MAX_TOTAL_BYTES} bytes")
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def _copy_tree(src: Path, dest: Path) -> None:
    for path in src.rglob("*"):
        rel = path.relative_to(src).as_posix()
        if path.is_symlink() or not path.is_file() or _safe_name(rel) is None:
            continue
        if rel.count("/") > 0 and not rel.startswith("cs231n/"):
            continue  # only the package and top-level notebooks
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _find_root(unpacked: Path) -> Path:
    """The folder holding ``cs231n/`` (the top, or a single wrapping folder)."""
    if (unpacked / "cs231n").is_dir():
        return unpacked
    found = [p.parent for p in unpacked.glob("*/cs231n") if p.is_dir()]
    return found[0] if len(found) == 1 else unpacked


def unpack(submission: Path, dest: Path) -> Path:
    """Copy the submission's code and notebooks (only those) under ``dest``; return its root.

    A submission is a zip (``a2_code_submission.zip``) or a folder laid out like the kit, or
    a folder holding one such zip (Gradescope's ``/autograder/submission``).
    """
    if submission.is_dir() and not (submission / "cs231n").is_dir():
        zips = sorted(submission.glob("*.zip"))
        named = [z for z in zips if z.name == "a2_code_submission.zip"]
        if named or len(zips) == 1:
            submission = (named or zips)[0]
    if submission.is_dir():
        _copy_tree(submission, dest)
    else:
        _extract(submission, dest)
    return _find_root(dest)


# ---------------------------------------------------------------------------------- worker


def _read_paths(root: Path) -> list[str]:
    system = ["/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev", "/bin"]
    return sandbox.python_paths() + system + [str(root)]


def _worker_env(workdir: Path) -> dict:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir)}
    env.update({"TMPDIR": str(workdir), "LANG": "C.UTF-8"})
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CS231N_NUM_THREADS"):
        env[var] = "1"
    return env


def _progress(workdir: Path) -> list[str]:
    try:
        return (workdir / "out" / "progress.txt").read_text().split()
    except OSError:
        return []


def _run_worker(job: dict, paths: tuple, limits: Limits, uid: int | None, deadline: float):
    """Run the worker until it finishes, dies, or a case overruns; return (culprit, why)."""
    runtime, workdir, root = paths
    (runtime / "job.json").write_text(json.dumps(job))
    sandbox.fresh_workdir(workdir, uid)  # what an earlier run left counts no more
    plan = sandbox.plan()
    argv = [sys.executable, "-I", "-S", str(runtime / "worker.py"), str(runtime), str(workdir)]
    cmd, ids = sandbox.command(
        plan, argv, [str(root), str(runtime)], workdir, uid, limits.disk_bytes
    )
    with open(workdir / "worker.log", "wb") as log:
        io = {"stdin": subprocess.DEVNULL, "stdout": log, "stderr": log}
        proc, pid1 = sandbox.start(cmd, plan, cwd=workdir, env=_worker_env(workdir), **io, **ids)
    current, since, why = None, time.monotonic(), None
    while proc.poll() is None:
        time.sleep(0.02)
        started = _progress(workdir)
        if started and started[-1] != current:
            current, since = started[-1], time.monotonic()
        now = time.monotonic()
        if now - since > limits.case_seconds or now > deadline:
            why = f"timed out after {limits.case_seconds:.0f} s (an endless loop?)"
            if now > deadline:
                why = "not run: the submission used up its grading time"
            break
        if sandbox.disk_used(workdir) > limits.disk_bytes:
            break
    code = sandbox.stop(proc, pid1, uid)
    started = _progress(workdir)
    culprit = started[-1] if started else None
    if sandbox.disk_used(workdir) > limits.disk_bytes:  # charged to the case that was running
        return culprit, f"stopped: its files passed the disk limit of {limits.disk_bytes >> 20} MiB"
    if culprit and (workdir / "out" / f"{culprit}.json").exists():
        culprit = None
    return culprit, why or _death(code)


def _log_tail(workdir: Path) -> str:
    try:
        lines = (workdir / "worker.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1][:300] if lines else "no output"


def _death(code: int) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed)"}.get(name, "")
        return f"the worker process died on {name}{hint}"
    return (
        f"the worker process exited (status {code}) while running this case: "
        "sys.exit/os._exit at import time, or a crash?"
    )


def run_cases(root: Path, tmp: Path, reference: Reference, limits: Limits) -> tuple:
    """Run every selected case in the worker; return ({case: report dict}, sandbox line).

    The worker's own files (script, programs, job, inputs) sit in ``tmp/runtime``, which it
    may read but not write; it writes only in ``tmp/work`` (under bubblewrap a tmpfs, of
    which only ``out/`` reaches this process).
    """
    runtime, workdir = tmp / "runtime", tmp / "work"
    runtime.mkdir()
    for name in ("worker.py", "programs.py"):
        shutil.copyfile(HERE / name, runtime / name)
    reference.write_inputs(runtime / "inputs.npz")
    plan = sandbox.plan()
    job = {
        "submission": str(root),
        "site": sandbox.site_paths(),
        "read": _read_paths(root) + [str(runtime)],
        "limits": {
            "cpu_seconds": limits.cpu_seconds,
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            **plan.limits(limits.processes),
        },
    }
    with sandbox.slot(plan) as uid:
        reports, note = _run_all(job, (runtime, workdir, root), reference, limits, uid)
    return reports, plan.describe(limits.processes, limits.disk_bytes, note)


def _run_all(
    job: dict, paths: tuple, reference: Reference, limits: Limits, uid: int | None
) -> tuple:
    """Run the worker until every case has a report; return (reports, its sandbox note)."""
    workdir = paths[1]
    reports: dict[str, dict] = {}
    pending = [c.program for c in reference.cases]
    deadline = time.monotonic() + limits.total_seconds
    note = "worker did not start"
    while pending:
        culprit, why = _run_worker({**job, "todo": pending}, paths, limits, uid, deadline)
        note = _worker_note(workdir, note)
        for case in pending:
            report = _read_report(workdir, case)
            if report is not None:
                reports[case] = report
        if culprit is None and all(c in reports for c in pending):
            break
        if culprit is None:  # it ended outside any case: at start-up, or between cases
            why = f"the worker stopped before running this case ({_log_tail(workdir)})"
        else:
            reports[culprit] = {"error": why, "stopped": True}
        if culprit is None or time.monotonic() > deadline:
            for case in pending:
                reports.setdefault(case, {"error": why, "stopped": True})
        pending = [c for c in pending if c not in reports]
    return reports, note


def _worker_note(workdir: Path, default: str) -> str:
    """What the worker wrote it applied (Landlock), if it looks like what the worker writes:
    student code, which may have replaced the file, cannot add claims to the report."""
    try:
        note = (workdir / "out" / "sandbox.txt").read_text()[:200].strip()
    except OSError:
        return default
    return note if re.fullmatch(r"landlock[A-Za-z0-9 ()_-]*", note) else "landlock: unknown"


def _read_report(workdir: Path, case: str) -> dict | None:
    """The worker's report on one case, with its outputs, or None if it did not finish."""
    try:
        report = json.loads((workdir / "out" / f"{case}.json").read_text()[:100_000])
        if not isinstance(report, dict):
            raise ValueError("not a dict")
    except (OSError, ValueError):
        return None
    report["outputs"] = {}
    if report.get("error") is None:
        path = workdir / "out" / f"{case}.npz"
        try:
            with zipfile.ZipFile(path) as zf:  # no zip bomb: sizes checked before unpacking
                if sum(info.file_size for info in zf.infolist()) > MAX_OUTPUT_BYTES:
                    raise ValueError("outputs too large")
            with np.load(path, allow_pickle=False) as npz:
                report["outputs"] = {k: npz[k] for k in npz.files}
        except Exception as exc:  # a file the student's code may have replaced
            report["error"] = f"its outputs could not be read ({type(exc).__name__})"
    return report


# --------------------------------------------------------------------------------- scoring


def _one_line(text: object, limit: int = 500) -> str:
    """Text from the worker (partly the student's) as one bounded line of feedback."""
    return " ".join(str(text).split())[:limit]


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _differ_text(differ: list[tuple[str, float, str]]) -> str:
    """ "dx differs from the reference by 3.1e-02 (max relative error)", or several at once."""
    names = [name for name, _, _ in differ]
    worst = max(error for _, error, _ in differ)
    kinds = {kind for _, _, kind in differ}
    how = "max relative error" if kinds == {"rel"} else "max difference"
    if len(names) == 1:
        verb = "differ" if names[0].endswith("s") else "differs"  # "scores differ"
        return f"{names[0]} {verb} from the reference by {worst:.1e} ({how})"
    return f"{_join(names)} differ from the reference by up to {worst:.1e} ({how})"


def score_case(case: case_table.Case, report: dict, reference: Reference) -> CaseResult:
    expected = reference.outputs[case.program]
    shape = reference.inputs[case.program].get(case.shape_of)
    where = f" on {case.shape_of} of shape {tuple(shape.shape)}" if shape is not None else ""
    if report.get("error"):
        return CaseResult(case, 0.0, f"{case.function}: {_one_line(report['error'])}")
    bad = report.get("bad_outputs") or {}
    bad = {k: _one_line(v) for k, v in bad.items()} if isinstance(bad, dict) else {}
    weights = {k: case.weights.get(k, 1.0) for k in expected}
    total_weight = sum(weights.values())
    earned, wrong, differ, right = 0.0, [], [], []
    for name, exp in expected.items():
        kind, tol = case.tolerance(name)
        ok, why, error = case_table.compare(report["outputs"].get(name), exp, kind, tol)
        if ok:
            earned += case.points * weights[name] / total_weight
            right.append(name)
        elif name in bad or why:
            wrong.append(f"{name} {bad.get(name, why)}")
        else:
            differ.append((name, error, kind))
    if differ:
        wrong.append(_differ_text(differ))
    if not wrong:
        return CaseResult(case, case.points, "")
    text = f"{case.function}: {'; '.join(wrong)}{where}"
    if right:
        plural = len(right) > 1 or right[0].endswith("s")
        text += f"; {_join(right)} {'match' if plural else 'matches'}"
    return CaseResult(case, round(earned, 4), text)


def grade(
    submission: Path,
    reference: Reference,
    limits: Limits,
    with_q5: bool = True,
    name: str | None = None,
) -> Result:
    """Grade one submission (zip or folder) against ``reference``; never raises for it."""
    start = time.monotonic()
    result = Result(name or submission.stem, reference.seed)
    tmp = Path(tempfile.mkdtemp(prefix="grade-"))
    try:
        root = unpack(submission, tmp / "submission")
        if not (root / "cs231n").is_dir():
            result.status = "no cs231n package found"
            reports = {
                c.program: {"error": "no cs231n package in the submission"} for c in reference.cases
            }
        elif reference.cases:
            reports, result.sandbox = run_cases(root, tmp, reference, limits)
            result.protections = sandbox.plan().active
        else:  # only Q5: nothing to run
            reports, result.sandbox = {}, "not needed"
        result.results = [score_case(c, reports[c.program], reference) for c in reference.cases]
        recognize.add_hints(result.results, reports, reference)
        if with_q5:
            result.results.append(notebooks.grade_q5(root))
        stopped = sum(1 for r in reports.values() if r.get("stopped"))
        if stopped and result.status == "ok":
            result.status = f"ok ({stopped} case(s) timed out or ended the worker)"
    except Exception as exc:  # a broken zip, a full disk: this row only
        result.status = f"error: {type(exc).__name__}: {exc}"[:300]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.seconds = time.monotonic() - start
    return result
