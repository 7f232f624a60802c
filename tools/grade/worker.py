"""The sandboxed side of the grader: runs a student's ``cs231n`` on given inputs.

    python -I -S worker.py RUNTIME WORKDIR REPLY_FD

The grader copies this file, ``programs.py`` and ``channel.py`` into a fresh RUNTIME folder,
together with ``job.json`` (what the sandbox may read, the limits) and ``inputs.npz`` (the
inputs, and nothing else: expected outputs never leave the grader's process). Before any
student code is imported, this process limits itself (CPU seconds, address space, file
size, and the number of processes where the grader asks), restricts its file system access
with Landlock (read: the Python installation, the submission and RUNTIME; write: WORKDIR
only; no TCP, no signals to processes outside the sandbox) and drops its capabilities, so
that it cannot raise the limits again. This is the inner layer: the grader runs it inside
bubblewrap where the machine allows (tools/grade/sandbox.py).

It then answers the grader's requests (channel.py): for each case the grader asks for on
stdin, it runs the program and sends one frame on REPLY_FD (a pipe the grader holds) with
the outputs as arrays, or the error message, and why an output was not an array. Nothing
else reaches the grader: no file of WORKDIR is read by it, and it checks every frame.
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


def outputs_frame(outputs: object, np) -> tuple[dict, dict]:
    """The result frame's head and arrays: the outputs that are numeric arrays, and why the
    others are not."""
    if not isinstance(outputs, dict):
        return {"error": f"the program returned {type(outputs).__name__}"}, {}
    arrays, bad = {}, {}
    for name, value in outputs.items():
        try:
            array = np.asarray(value)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"dtype {array.dtype}")
            arrays[str(name)] = array
        except Exception as exc:  # any value a student's code returned
            bad[str(name)] = f"is not a numeric array ({type(value).__name__}: {exc})"[:200]
    return {"error": None, "bad_outputs": bad}, arrays


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def enter(runtime: Path, workdir: Path, reply: int) -> tuple[dict, object, int]:
    """Limit this process, then greet the grader; returns (the job, the channel module, the
    requests' fd). Called before any student code or framework is imported."""
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with its parent (the grader)
    job = json.loads((runtime / "job.json").read_text())
    set_limits(job["limits"])
    note = landlock(job["read"], [str(workdir), "/dev/null"])
    drop_capabilities()
    channel = _load(runtime / "channel.py", "grade_channel")
    requests = os.dup(0)  # the grader's requests; student code reading stdin finds nothing
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    channel.send(reply, {"kind": "hello", "note": note})
    return job, channel, requests


def run(runtime: Path, workdir: Path, reply: int) -> None:
    job, channel, requests = enter(runtime, workdir, reply)
    submission = job["submission"]
    sys.path[:0] = [submission]
    sys.path.extend(job["site"])
    os.environ["MPLBACKEND"] = "Agg"

    import numpy as np

    compat = _load(runtime / "compat.py", "grade_compat")
    compat.install(np)  # the course's numpy 1.x names, future/past (tools/grade/compat.py)
    programs = _load(runtime / "programs.py", "grade_programs")
    cs = programs.Modules(job.get("conventions"))
    inputs = np.load(runtime / "inputs.npz", allow_pickle=False)
    # Bound here, before any student code runs: code that replaces a module's attribute
    # (compat.fault, reached through the frames) does not reach the names this loop calls.
    fault, send, requests_of, describe = (
        compat.fault,
        channel.send,
        channel.requests,
        describe_error,
    )
    for asked in requests_of(requests):
        case = asked["case"]
        prefix = case + "."
        a = {k[len(prefix) :]: inputs[k] for k in inputs.files if k.startswith(prefix)}
        try:
            head, arrays = outputs_frame(getattr(programs, case)(cs, a), np)
        except BaseException as exc:  # student code may raise anything, SystemExit included
            error = describe(exc, submission)
            head, arrays = {"error": error, "environment": fault(exc, np)}, {}
        send(reply, {"kind": "result", "case": case, "nonce": asked["nonce"], **head}, arrays)


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
