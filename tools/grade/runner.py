"""The grader's side: unpack a submission, run the worker on it, score what comes back.

Student code never runs in this process. The reference outputs come from our own
``cs231n`` (imported here) running the same programs on the same inputs; the worker gets
only the inputs. The worker runs in the sandbox of sandbox.py (bubblewrap where the machine
allows, an unprivileged uid, rlimits, Landlock); when it ends, nothing it started remains.
A function that loses points is then compared with its known mistakes (``recognize.py``, our
solution patched, also run here).
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tools.grade import cases as case_table
from tools.grade import (
    editions,
    envfaults,
    given,
    programs,
    q5,
    recognize,
    sandbox,
    session,
    usage,
)
from tools.grade.cases import CaseResult
from tools.grade.cgroup import Memory

HERE = Path(__file__).resolve().parent
KEPT_SUFFIXES = (".py", ".pyx", ".ipynb")
MODEL_FILES = tuple(name for name, _ in q5.MODEL_FILES.values())  # Q5's, at the top
MAX_FILE_BYTES = 20 * 2**20
MAX_TOTAL_BYTES = 100 * 2**20
MAX_ARCHIVE_BYTES = 200 * 2**20  # a submitted zip, packed
MAX_MEMBERS = 10_000  # files in a submission (zip members, or files of a folder)
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
    model_seconds: float = 600.0  # Q5: wall clock for one image set through a submitted model
    model_threads: int = 2  # Q5: the threads a submitted model computes with


@dataclass
class Result:
    submission: str
    seed: int
    results: list[CaseResult] = field(default_factory=list)
    status: str = "ok"
    seconds: float = 0.0
    sandbox: str = ""  # the protections that were active (sandbox.Plan.describe)
    protections: dict[str, bool] = field(default_factory=dict)
    edition: str = ""  # the starter edition detected (editions.py), and why
    notes: list[str] = field(default_factory=list)  # what was not graded, given files replaced
    q5: dict = field(default_factory=dict)  # claimed and measured accuracy, flags (q5.summary)

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
            a = {k: np.asarray(v) for k, v in case.draw_inputs(rng).items()}
            self.inputs[case.program] = a
            copies = {k: v.copy() for k, v in a.items()}
            with np.errstate(all="ignore"):
                out = getattr(programs, case.program)(cs, copies)
            self.outputs[case.program] = {k: np.asarray(v) for k, v in out.items()}

    def only(self, cases: list[case_table.Case]) -> Reference:
        """This reference, for ``cases`` only (a subset, possibly with rescaled points)."""
        view = copy.copy(self)
        view.cases = cases
        return view

    def write_inputs(self, path: Path) -> None:
        """The inputs as one .npz (packed once per run, shared by all its submissions)."""
        if getattr(self, "_packed", None) is None:
            buffer = io.BytesIO()
            flat = {f"{c}.{k}": v for c, a in self.inputs.items() for k, v in a.items()}
            np.savez(buffer, **flat)
            self._packed = buffer.getvalue()
        path.write_bytes(self._packed)


# ------------------------------------------------------------------------------ submission


def _safe_name(name: str) -> str | None:
    """A zip member's path if it is a plain relative path to a kept file, else None."""
    parts = Path(name.replace("\\", "/")).parts
    kept = name.endswith(KEPT_SUFFIXES) or (len(parts) in (1, 2) and parts[-1] in MODEL_FILES)
    if not parts or name.startswith("/") or ".." in parts or not kept:
        return None
    if any(p.startswith(".") or p in ("__pycache__", "__MACOSX") for p in parts):
        return None
    return "/".join(parts)


def _zip_members(zip_path: Path) -> int:
    """The member count a zip's end record claims, read before its directory is parsed."""
    size = zip_path.stat().st_size
    if size > MAX_ARCHIVE_BYTES:
        raise ValueError(
            f"{zip_path.name} is {size >> 20} MiB, more than {MAX_ARCHIVE_BYTES >> 20}"
        )
    with open(zip_path, "rb") as f:
        f.seek(max(0, size - 65_557))  # the end record (22 bytes) and its longest comment
        tail = f.read()
        end = tail.rfind(b"PK\x05\x06")
        if end < 0 or len(tail) < end + 22:
            raise zipfile.BadZipFile(f"{zip_path.name} is not a zip file")
        count = int.from_bytes(tail[end + 10 : end + 12], "little")
        if end >= 20 and tail[end - 20 : end - 16] == b"PK\x06\x07":  # zip64: its own record
            f.seek(int.from_bytes(tail[end - 12 : end - 4], "little"))
            record = f.read(56)
            if record[:4] != b"PK\x06\x06" or len(record) < 40:
                raise zipfile.BadZipFile(f"{zip_path.name} has a broken zip64 end record")
            count = int.from_bytes(record[32:40], "little")
    return count


def _extract(zip_path: Path, dest: Path) -> None:
    members = _zip_members(zip_path)
    if members > MAX_MEMBERS:
        raise ValueError(
            f"{zip_path.name} has {members} members, more than {MAX_MEMBERS}: "
            "submit the zip that collectSubmission.sh makes"
        )
    with zipfile.ZipFile(zip_path) as zf:
        kept = [(i, _safe_name(i.filename)) for i in zf.infolist() if not i.is_dir()]
        kept = [(i, n) for i, n in kept if n is not None and i.file_size <= _bound(n)]
        total = sum(info.file_size for info, _ in kept)
        if total > MAX_TOTAL_BYTES:
            raise ValueError(
                f"{zip_path.name} unpacks to {total} bytes, more than {MAX_TOTAL_BYTES}"
            )
        for info, name in kept:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)


def _bound(name: str) -> int:
    """The largest member kept: a model is kept up to the archive's total so that q5.py can
    say it is too large (``q5.MAX_MODEL_BYTES``); any other larger file is left out."""
    return MAX_TOTAL_BYTES if Path(name).name in MODEL_FILES else MAX_FILE_BYTES


def _copy_tree(src: Path, dest: Path) -> None:
    """Copy a submission folder's top-level files and its ``cs231n/`` package: only those are
    read, so a kit's ``.venv``, ``.git`` or build folders count for nothing."""
    package = src / "cs231n"
    paths = itertools.chain(src.iterdir(), package.rglob("*") if package.is_dir() else ())
    for count, path in enumerate(paths):
        if count >= MAX_MEMBERS:
            raise ValueError(f"{src.name} holds more than {MAX_MEMBERS} files and folders")
        rel = path.relative_to(src).as_posix()
        if path.is_symlink() or not path.is_file() or _safe_name(rel) is None:
            continue
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


def read_paths(root: Path) -> list[str]:
    system = ["/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev", "/bin"]
    return sandbox.python_paths() + system + [str(root)]


def _worker_env(workdir: Path) -> dict:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir)}
    env.update({"TMPDIR": str(workdir), "LANG": "C.UTF-8"})
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CS231N_NUM_THREADS"):
        env[var] = "1"
    return env


def run_worker(
    job: dict, paths: tuple, limits: Limits, uid: int | None, deadline: float, script: str
):
    """Run ``runtime/script`` (worker.py, model_worker.py) on ``job["todo"]`` until it
    finishes, dies, or passes a bound; return the ``session.Outcome`` (the reports, and which
    case was running when it stopped). ``paths``: (runtime, workdir, submission root)."""
    runtime, workdir, root = paths
    (runtime / "job.json").write_text(json.dumps(job))
    sandbox.fresh_workdir(workdir, uid)  # what an earlier run left counts no more
    plan = sandbox.plan()
    requests, replies, log = os.pipe(), os.pipe(), os.pipe()
    argv = [sys.executable, "-I", "-S", str(runtime / script), str(runtime), str(workdir)]
    argv.append(str(replies[1]))
    cmd, ids = sandbox.command(
        plan, argv, [str(root), str(runtime)], workdir, uid, limits.disk_bytes
    )
    group = Memory.create(limits.memory_bytes) if plan.cgroup else None
    cmd, ids = sandbox.contain(cmd, ids, group)
    io = {"stdin": requests[0], "stdout": log[1], "stderr": log[1], "pass_fds": [replies[1]]}
    try:
        proc, pid1 = sandbox.start(cmd, plan, cwd=workdir, env=_worker_env(workdir), **io, **ids)
    finally:
        for fd in (requests[0], replies[1], log[1]):
            os.close(fd)
    pipes = session.Pipes(requests[1], replies[0], log[0])
    try:
        outcome = session.converse(
            pipes, job["todo"], job["max_payload"], limits.case_seconds, deadline,
            lambda: _over_disk(plan, workdir, limits) or _over_memory(plan, proc.pid, uid, limits),
        )  # fmt: skip
        code = sandbox.stop(proc, pid1, uid)
    finally:
        pipes.close()
    if group is not None:
        if group.oom_kills() and outcome.culprit:
            outcome.why = (
                f"stopped: the sandbox passed its memory limit of {limits.memory_bytes >> 20} MiB"
                " (all its processes, memfds and files together)"
            )
        group.remove()
    outcome.why = outcome.why or _death(code)
    return outcome


def _over_memory(plan: sandbox.Plan, first: int, uid: int | None, limits: Limits) -> str | None:
    """Why the worker must stop for its memory (counted here where no cgroup does), or None."""
    if plan.cgroup or usage.memory_used(usage.sandbox_processes(first, uid)) <= limits.memory_bytes:
        return None
    return (
        f"stopped: the sandbox passed its memory limit of {limits.memory_bytes >> 20} MiB"
        " (its processes and memfds together)"
    )


def _over_disk(plan: sandbox.Plan, workdir: Path, limits: Limits) -> str | None:
    """Why the worker must stop for its files (without bubblewrap's tmpfs), or None."""
    if plan.active["tmpfs work folder"] or sandbox.disk_used(workdir) <= limits.disk_bytes:
        return None
    return f"stopped: its files passed the disk limit of {limits.disk_bytes >> 20} MiB"


def log_tail(log: bytes) -> str:
    """The last line the worker printed (student code may print anything: kept as data)."""
    lines = log.decode(errors="replace").strip().splitlines()
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


def run_cases(
    root: Path, tmp: Path, reference: Reference, limits: Limits, conventions: dict | None = None
) -> tuple:
    """Run every selected case in the worker; return ({case: report dict}, sandbox line).

    The worker's own files (script, programs, job, inputs) sit in ``tmp/runtime``, which it
    may read but not write; it writes only in ``tmp/work`` (under bubblewrap a tmpfs, of
    which only ``out/`` reaches this process).
    """
    runtime, workdir = tmp / "runtime", tmp / "work"
    runtime.mkdir()
    for name in ("worker.py", "programs.py", "compat.py", "channel.py"):
        shutil.copyfile(HERE / name, runtime / name)
    reference.write_inputs(runtime / "inputs.npz")
    plan = sandbox.plan()
    job = {
        "submission": str(root),
        "conventions": conventions or {},
        "site": sandbox.site_paths(),
        "read": read_paths(root) + [str(runtime)],
        "limits": {
            "cpu_seconds": limits.cpu_seconds,
            "memory_bytes": limits.memory_bytes,
            "file_bytes": limits.file_bytes,
            **plan.limits(limits.processes),
        },
        "max_payload": {c.program: _max_payload(reference, c.program) for c in reference.cases},
    }
    with sandbox.slot(plan) as uid:
        reports, note = _run_all(job, (runtime, workdir, root), reference, limits, uid)
    return reports, plan.describe(limits.processes, limits.disk_bytes, note, limits.memory_bytes)


def _max_payload(reference: Reference, case: str) -> int:
    """The most bytes of outputs the grader reads for ``case``: four times the reference's
    (a float64 answer to a float32 reference, a few extra outputs) and 1 MiB, at most
    ``MAX_OUTPUT_BYTES``."""
    size = sum(v.nbytes for v in reference.outputs[case].values())
    return min(MAX_OUTPUT_BYTES, 4 * size + 2**20)


def _run_all(
    job: dict, paths: tuple, reference: Reference, limits: Limits, uid: int | None
) -> tuple:
    """Run the worker until every case has a report; return (reports, its sandbox note)."""
    reports: dict[str, dict] = {}
    pending = [c.program for c in reference.cases]
    deadline = time.monotonic() + limits.total_seconds
    note = "worker did not start"
    while pending:
        todo = {**job, "todo": pending}
        outcome = run_worker(todo, paths, limits, uid, deadline, "worker.py")
        note = _worker_note(outcome.note, note)
        reports.update(outcome.reports)
        culprit, why = outcome.culprit, outcome.why
        if culprit is None and all(c in reports for c in pending):
            break
        if culprit is None:  # it ended outside any case: at start-up
            why = f"the worker stopped before running this case ({log_tail(outcome.log)})"
        else:
            reports[culprit] = {"error": why, "stopped": True}
        if culprit is None or time.monotonic() > deadline:
            for case in pending:
                reports.setdefault(case, {"error": why, "stopped": True})
        pending = [c for c in pending if c not in reports]
    return reports, note


def _worker_note(note: str, default: str) -> str:
    """What the worker said it applied (Landlock), if it looks like what the worker says."""
    if not note:
        return default
    return note if re.fullmatch(r"landlock[A-Za-z0-9 ()_-]*", note) else "landlock: unknown"


# --------------------------------------------------------------------------------- scoring


def _one_line(text: object, limit: int = 500) -> str:
    """Text from the worker (partly the student's) as one bounded line of feedback."""
    return " ".join(str(text).split())[:limit]


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _plural(name: str) -> bool:
    """Whether an output's name reads as a plural ("scores", "init_shapes"; not "loss")."""
    return name.endswith("s") and not name.endswith("ss")


def _differ_text(differ: list[tuple[str, float, str]]) -> str:
    """ "dx differs from the reference by 3.1e-02 (max relative error)", or several at once."""
    names = [name for name, _, _ in differ]
    worst = max(error for _, error, _ in differ)
    kinds = {kind for _, _, kind in differ}
    how = "max relative error" if kinds == {"rel"} else "max difference"
    if len(names) == 1:
        verb = "differ" if _plural(names[0]) else "differs"  # "scores differ", "loss differs"
        return f"{names[0]} {verb} from the reference by {worst:.1e} ({how})"
    return f"{_join(names)} differ from the reference by up to {worst:.1e} ({how})"


def score_case(case: case_table.Case, report: dict, reference: Reference) -> CaseResult:
    expected = reference.outputs[case.program]
    if report.get("error"):
        return CaseResult(case, 0.0, f"{case.function}: {_one_line(report['error'])}")
    bad = report.get("bad_outputs") or {}
    bad = {k: _one_line(v) for k, v in bad.items()} if isinstance(bad, dict) else {}
    weights = {k: case.weight(k) for k in expected}
    total_weight = sum(weights.values())
    earned, wrong, differ, failed = 0.0, {}, {}, []
    for name, exp in expected.items():  # an output's draws ("dx@0", "dx@1") speak as one
        kind, tol = case.tolerance(name)
        ok, why, error = case_table.compare(report["outputs"].get(name), exp, kind, tol)
        base = case_table.base_name(name)
        if ok:
            earned += case.points * weights[name] / total_weight
        elif name in bad or why:
            wrong.setdefault(base, f"{base} {bad.get(name, why)}")
            failed.append(name)
        else:
            differ[base] = (base, max(error, differ.get(base, ("", 0.0))[1]), kind)
            failed.append(name)
    right = list(dict.fromkeys(case_table.base_name(n) for n in expected))
    right = [n for n in right if n not in wrong and n not in differ]
    wrong = [text for base, text in wrong.items() if base not in differ]
    if differ:
        wrong.append(_differ_text(list(differ.values())))
    if not wrong:
        return CaseResult(case, case.points, "")
    where = case_table.where(case, reference.inputs[case.program], failed)
    text = f"{case.function}: {'; '.join(wrong)}{where}"
    if right:
        plural = len(right) > 1 or _plural(right[0])
        text += f"; {_join(right)} {'match' if plural else 'matches'}"
    return CaseResult(case, round(earned, 4), text)


def grade(
    submission: Path,
    reference: Reference,
    limits: Limits,
    with_q5: bool = True,
    name: str | None = None,
    q5_sets: q5.ImageSets | None = None,
) -> Result:
    """Grade one submission (zip or folder) against ``reference``; never raises for it.

    Q5's models are evaluated on ``q5_sets``; without them, Q5 gives its run points only and
    says that the course staff evaluate the model."""
    start = time.monotonic()
    result = Result(name or submission.stem, reference.seed)
    tmp = Path(tempfile.mkdtemp(prefix="grade-"))
    try:
        root = unpack(submission, tmp / "submission")
    except Exception as exc:  # a broken or oversized zip is the submission's; a full disk is not
        fault = "needs regrade: the grader failed" if isinstance(exc, OSError) else "error"
        result.status = f"{fault}: {type(exc).__name__}: {exc}"[:300]
        shutil.rmtree(tmp, ignore_errors=True)
        result.seconds = time.monotonic() - start
        return result
    try:
        cases, conventions = _prepare(root, reference, result)
        if not (root / "cs231n").is_dir():
            result.status = "no cs231n package found"
            reports = {
                c.program: {"error": "no cs231n package in the submission"} for c in reference.cases
            }
        elif cases:
            reports, result.sandbox = run_cases(
                root, tmp, reference.only(cases), limits, conventions
            )
            result.protections = sandbox.plan().active
        else:  # only Q5: nothing to run
            reports, result.sandbox = {}, "not needed"
        result.results = [score_case(c, reports[c.program], reference) for c in cases]
        regrade = envfaults.mark(result.results, reports, root)
        recognize.add_hints(result.results, reports, reference)
        if with_q5:
            q5_result, checks = q5.grade_q5(root, q5_sets, limits, tmp)
            result.results.append(q5_result)
            result.q5 = q5.summary(checks)
        stopped = sum(1 for r in reports.values() if r.get("stopped"))
        if stopped and result.status == "ok":
            result.status = f"ok ({stopped} case(s) timed out or ended the worker)"
        if regrade:
            result.status = (
                f"needs regrade: {len(regrade)} case(s): {'; '.join(sorted(set(regrade)))}"
            )
    except Exception as exc:  # a full disk, a fault of the grader: no points taken for it
        result.status = f"needs regrade: the grader failed: {type(exc).__name__}: {exc}"[:300]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.seconds = time.monotonic() - start
    return result


def _prepare(root: Path, reference: Reference, result: Result) -> tuple[list, dict]:
    """Detect the submission's edition and put the kit's given files in; returns the cases
    the edition asks (points rescaled per question) and the conventions to call it by."""
    if not (root / "cs231n").is_dir():
        return reference.cases, {}
    detected = editions.detect(root)
    result.edition = detected.describe()
    note = editions.not_asked_note(detected.edition, reference.cases)
    replaced = given.install(root)
    result.notes = [note] if note else []
    if replaced:
        result.notes.append(
            f"the kit's given files replaced the submission's: {', '.join(replaced)}"
        )
    return editions.asked(detected.edition, reference.cases), detected.edition.conventions
