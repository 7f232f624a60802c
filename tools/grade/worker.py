"""The sandboxed side of the grader: runs a student's ``cs231n`` on given inputs.

    python -I -S worker.py RUNTIME WORKDIR

The grader copies this file and ``programs.py`` into a fresh RUNTIME folder, together with
``job.json`` (what to run, what the sandbox may read) and ``inputs.npz`` (the inputs, and
nothing else: expected outputs never leave the grader's process). Before any student code
is imported, this process limits itself (CPU seconds, address space, file size, and the
number of processes where the grader asks), restricts its file system access with Landlock
(read: the Python installation, the submission and RUNTIME; write: WORKDIR only; no TCP, no
signals to processes outside the sandbox) and drops its capabilities, so that it cannot
raise the limits again. This is the inner layer: the grader runs it inside bubblewrap where
the machine allows (tools/grade/sandbox.py).

For each case it appends the case id to ``out/progress.txt``, runs the program, and writes
``out/<case>.npz`` (the outputs as arrays) and ``out/<case>.json`` (error message, outputs
that were not arrays). Only ``out/`` reaches the grader (under bubblewrap the rest of
WORKDIR is a tmpfs); the grader trusts nothing else from here, and checks those files.
This file imports only the standard library and, after sandboxing, numpy.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import resource
import signal
import sys
import traceback
from pathlib import Path

# Landlock file system rights (linux/landlock.h), by ABI version.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | (1 << 14) | (1 << 15)  # + TRUNCATE, IOCTL_DEV
READ_RIGHTS = EXECUTE | READ_FILE | READ_DIR
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute ... make_sym
    if abi >= 2:
        rights |= 1 << 13  # refer
    if abi >= 3:
        rights |= 1 << 14  # truncate
    if abi >= 5:
        rights |= 1 << 15  # ioctl_dev
    return rights


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers (0: none)."""
    abi = _libc().syscall(SYS_CREATE_RULESET, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    return max(0, abi)


def landlock(read: list[str], write: list[str]) -> str:
    """Restrict this process (and its children) to reading ``read`` and writing ``write``.

    Returns a short description of what was applied (the grader logs it).
    """
    libc = _libc()
    abi = landlock_abi()
    if abi < 1:
        return "landlock unavailable (file access not restricted)"
    handled = _handled_fs(abi)
    attr = _RulesetAttr(fs=handled, net=3 if abi >= 4 else 0, scoped=3 if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    fd = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if fd < 0:
        return f"landlock ruleset failed (errno {ctypes.get_errno()})"
    rules = [(p, READ_RIGHTS) for p in read] + [(p, handled) for p in write]
    for path, rights in rules:
        try:
            path_fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue  # a path that does not exist needs no rule
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS
        rule = _PathBeneath(allowed=rights & handled, parent_fd=path_fd)
        libc.syscall(SYS_ADD_RULE, fd, 1, ctypes.byref(rule), 0)  # LANDLOCK_RULE_PATH_BENEATH
        os.close(path_fd)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if libc.syscall(SYS_RESTRICT_SELF, fd, 0) != 0:
        return f"landlock restrict_self failed (errno {ctypes.get_errno()})"
    os.close(fd)
    return f"landlock ABI {abi}"


def drop_capabilities() -> None:
    """Give up every capability (as root: no raising of hard limits, no bypassing modes)."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("eff", ctypes.c_uint32), ("perm", ctypes.c_uint32), ("inh", ctypes.c_uint32)]

    capset = getattr(ctypes.CDLL(None, use_errno=True), "capset", None)  # Linux only
    if capset is not None:
        capset(ctypes.byref(Header(0x20080522, 0)), ctypes.byref((Data * 2)()))


def set_limits(limits: dict) -> None:
    """Hard rlimits; ``processes`` (RLIMIT_NPROC) only where the grader gives one."""
    pairs = [
        ("RLIMIT_CPU", limits["cpu_seconds"]),
        ("RLIMIT_AS", limits["memory_bytes"]),
        ("RLIMIT_FSIZE", limits["file_bytes"]),
        ("RLIMIT_CORE", 0),
    ]
    if "processes" in limits:
        pairs.append(("RLIMIT_NPROC", limits["processes"]))
    for name, value in pairs:
        resource.setrlimit(getattr(resource, name), (value, value))


def describe_error(exc: BaseException, submission: str) -> str:
    """``Type: message``, plus the last place in the submission's files it passed through."""
    message = f"{type(exc).__name__}: {exc}".strip()
    if len(message) > 400:
        message = message[:400] + "..."
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith(submission + os.sep)
    ]
    if frames:
        f = frames[-1]
        message += f" (at {os.path.relpath(f.filename, submission)} line {f.lineno}, in {f.name})"
    return message


def save(case: str, outputs: object, out_dir: Path, np) -> dict:
    """Write the outputs that are numeric arrays; say why the others are not."""
    if not isinstance(outputs, dict):
        return {"error": f"the program returned {type(outputs).__name__}"}
    arrays, bad = {}, {}
    for name, value in outputs.items():
        try:
            array = np.asarray(value)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"dtype {array.dtype}")
            arrays[name] = array
        except Exception as exc:  # any value a student's code returned
            bad[name] = f"is not a numeric array ({type(value).__name__}: {exc})"[:200]
    np.savez(out_dir / f"{case}.npz", **arrays)
    return {"error": None, "bad_outputs": bad}


def run(runtime: Path, workdir: Path) -> None:
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with its parent (the grader)
    job = json.loads((runtime / "job.json").read_text())
    set_limits(job["limits"])
    note = landlock(job["read"], [str(workdir), "/dev/null"])
    drop_capabilities()
    out_dir = workdir / "out"
    (out_dir / "sandbox.txt").write_text(note + "\n")
    submission = job["submission"]
    sys.path[:0] = [submission]
    sys.path.extend(job["site"])
    os.environ["MPLBACKEND"] = "Agg"

    import numpy as np

    spec = importlib.util.spec_from_file_location("grade_programs", runtime / "programs.py")
    programs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(programs)
    cs = programs.Modules()
    inputs = np.load(runtime / "inputs.npz", allow_pickle=False)
    progress = open(out_dir / "progress.txt", "a")  # noqa: SIM115 (kept open while running)
    for case in job["todo"]:
        progress.write(case + "\n")
        progress.flush()
        prefix = case + "."
        a = {k[len(prefix) :]: inputs[k] for k in inputs.files if k.startswith(prefix)}
        try:
            result = save(case, getattr(programs, case)(cs, a), out_dir, np)
        except BaseException as exc:  # student code may raise anything, SystemExit included
            result = {"error": describe_error(exc, submission)}
        (out_dir / f"{case}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]))
