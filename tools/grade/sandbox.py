"""The sandbox around the grader's worker: what this machine allows, and how to apply it.

Outermost first, each layer where the machine allows it:

- **bubblewrap** (``bwrap``): new user, PID, network, IPC and UTS namespaces, uid 65534
  inside; only the Python installation, the submission and the worker's runtime are mounted,
  read-only; the work folder is a size-limited tmpfs that is gone with the sandbox (a file
  deleted while still open counts until it is closed); no folder of the grader is bound in:
  results come back on pipes (channel.py). The sandbox dies with the grader, and killing
  its PID 1 kills all of it. A grader
  running as root mounts as root (it may read a Python under ``/root``), then ``setpriv``
  drops to the worker's own uid and an inner, unprivileged bwrap opens the user namespace.
- **an unprivileged uid**: a root grader never runs student code as root. Each concurrent
  worker gets a uid of its own (``UID_BASE + slot``), so that root-only files stay closed,
  ``RLIMIT_NPROC`` counts only that worker's processes, and without a PID namespace every
  process of the submission can still be found and killed (``kill(-1)`` as that uid).
- **a memory cgroup** (cgroup.py) where the machine gives one: every process of the sandbox,
  its memfds and its tmpfs pages count against one limit.
- inside the worker (worker.py): rlimits (CPU, memory, file size, processes), Landlock,
  no capabilities. Without bubblewrap, the grader bounds the disk its work folder takes
  (polling; a file deleted while open escapes the count).

``plan()`` probes once which layers work; ``Plan.describe`` is the report's sandbox line.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.grade.cgroup import Memory
from tools.grade.worker import landlock_abi

SANDBOX_UID = 65534  # the worker's uid inside the user namespace ("nobody")
UID_BASE = 1_000_000_000  # far above login, system and the usual /etc/subuid ranges
MAX_SLOTS = 256  # concurrent workers on one machine
SYSTEM_PATHS = ("/usr", "/bin", "/lib", "/lib64", "/sbin")
NAMESPACES = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts")


@dataclass(frozen=True)
class Plan:
    """Which layers of the sandbox work on this machine."""

    bwrap: str | None  # a bwrap that works here (None: no namespaces)
    root: bool  # the grader runs as root
    drop_uid: bool  # the worker runs as a uid of its own (a root grader only)
    landlock: int  # the Landlock ABI the kernel offers (0: none)
    cgroup: int = 0  # the version of the memory cgroups this process can make (0: none)
    why_not: tuple[str, ...] = ()  # why a layer is missing, for the report

    @property
    def active(self) -> dict[str, bool]:
        """Each protection, and whether it is on (the keys are the same on every machine)."""
        ns = self.bwrap is not None
        return {
            "namespaces": ns,
            "unprivileged uid": ns or self.drop_uid or not self.root,
            "read-only mounts": ns,
            "tmpfs work folder": ns,
            "no network": ns,
            "process limit": ns or self.drop_uid,
            "whole-sandbox kill": ns or self.drop_uid,
            "disk bound": True,
            "whole-sandbox memory bound": True,  # a cgroup, or the grader's own count
            "landlock": self.landlock > 0,
        }

    @property
    def missing(self) -> list[str]:
        return [name for name, on in self.active.items() if not on]

    def describe(
        self, processes: int, disk_bytes: int, worker_note: str = "", memory_bytes: int = 0
    ) -> str:
        """The report's sandbox line; ``worker_note``: what the worker applied (Landlock)."""
        if not worker_note:  # before any worker ran: what it will find
            worker_note = f"landlock ABI {self.landlock}" if self.landlock else "no landlock"
        mib = disk_bytes // 2**20
        if self.bwrap:
            outside = "a uid of its own" if self.root else f"uid {os.getuid()}"
            parts = [
                f"bwrap: user, pid, net, ipc and uts namespaces, uid {SANDBOX_UID} inside "
                f"({outside} outside), read-only mounts, {mib} MiB tmpfs work folder",
                f"{processes} processes",
            ]
        else:
            who = "a uid of its own" if self.drop_uid else f"uid {os.getuid()}"
            limit = f"{processes} processes" if self.drop_uid else "no process limit"
            parts = [f"no namespaces, {who}", limit]
        parts += [f"disk {mib} MiB", worker_note]
        if memory_bytes:
            how = f"cgroup v{self.cgroup}" if self.cgroup else "counted by the grader"
            parts.append(f"{memory_bytes // 2**20} MiB memory in all ({how})")
        missing = ", ".join(self.missing) or "none"
        return "; ".join([*parts, f"missing: {missing}", *self.why_not])

    def limits(self, processes: int) -> dict:
        """The worker's own rlimits that this plan makes meaningful."""
        return {"processes": processes} if self.active["process limit"] else {}


# ------------------------------------------------------------------------------- probing


@functools.cache
def plan() -> Plan:
    """Probe once which layers work (a bwrap run of Python, a uid switch, Landlock)."""
    root = os.geteuid() == 0
    why = []
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        why.append("bwrap is not installed (Debian/Ubuntu package bubblewrap)")
    else:
        error = _probe(Plan(bwrap, root, root, 0))
        if error:
            why.append(f"bwrap cannot make namespaces here ({error})")
            bwrap = None
    drop = root
    if root and bwrap is None:
        error = _probe(Plan(None, root, True, 0))
        if error:
            why.append(f"uid {UID_BASE} cannot run {sys.executable} ({error})")
            drop = False
    group = Memory.create(2**30)
    if group is None:
        why.append("no memory cgroup can be made here: the grader counts the sandbox's memory")
    else:
        group.remove()
    return Plan(bwrap, root, drop, landlock_abi(), group.version if group else 0, tuple(why))


def _probe(trial: Plan) -> str:
    """ "" if ``trial`` runs Python here, else the first line of what went wrong."""
    with tempfile.TemporaryDirectory(prefix="grade-probe-") as tmp:
        work = Path(tmp) / "work"
        with slot(trial) as uid:
            fresh_workdir(work, uid)
            argv = [sys.executable, "-I", "-S", "-c", "pass"]
            cmd, kwargs = command(trial, argv, [], work, uid, 2**20)
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kwargs)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return str(exc)
    lines = (proc.stderr or f"status {proc.returncode}").strip().splitlines()
    return "" if proc.returncode == 0 else lines[0][:200]


# --------------------------------------------------------------------------------- slots

_taken: set[int] = set()  # this process's slots; other processes hold theirs by lock
_slots_lock = threading.Lock()


@functools.cache
def _slot_file() -> int:
    """A file whose byte n is locked (fcntl) by the process that uses slot n."""
    path = os.path.join(tempfile.gettempdir(), "cs231n-grade-uids.lock")
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _claim() -> int:
    for n in range(MAX_SLOTS):
        if n in _taken:
            continue
        try:
            fcntl.lockf(_slot_file(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, n)
        except OSError:
            continue  # another grader process runs a worker as this uid
        _taken.add(n)
        return n
    raise RuntimeError(f"all {MAX_SLOTS} worker uids are in use")


@contextmanager
def slot(p: Plan) -> Iterator[int | None]:
    """The uid a worker runs as outside: a root grader's own uid per concurrent worker,
    unique among all the grader processes of this machine."""
    if not p.drop_uid:
        yield None
        return
    with _slots_lock:
        n = _claim()
    try:
        yield UID_BASE + n
    finally:
        with _slots_lock:
            fcntl.lockf(_slot_file(), fcntl.LOCK_UN, 1, n)
            _taken.discard(n)


def fresh_workdir(workdir: Path, uid: int | None) -> None:
    """An empty ``workdir`` that ``uid`` may write (and reach: its parent turns 0711).

    Under bubblewrap a tmpfs hides it; without, the worker writes here."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    if uid is not None:
        os.chmod(workdir.parent, 0o711)  # traverse only: the folder's names stay unlisted
        os.chown(workdir, uid, uid)


# ------------------------------------------------------------------------------- command


def site_paths() -> list[str]:
    """This Python's package folders (the worker adds them to its path)."""
    return [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]


def python_paths() -> list[str]:
    """What running this Python needs: its installation (and venv) and package folders."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    return sorted(prefixes) + site_paths()


def _mount_points(read_only: list[str]) -> list[str]:
    """Existing paths, without those already under another one."""
    found = sorted({os.path.abspath(p) for p in read_only if os.path.exists(p)})
    kept: list[str] = []
    for path in found:
        if not any(path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def _mount_args(read_only: list[str], workdir: Path, disk_bytes: int) -> list[str]:
    mounts = _mount_points([*SYSTEM_PATHS, *python_paths(), *read_only])
    parents = sorted(
        {str(q) for m in [*mounts, str(workdir)] for q in Path(m).parents if str(q) != "/"}
    )
    args = [a for d in parents for a in ("--perms", "0755", "--dir", d)]
    args += [a for m in mounts for a in ("--ro-bind", m, m)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "0777", "--size", str(disk_bytes), "--tmpfs", str(workdir)]
    return [*args, "--chdir", str(workdir)]


def command(
    p: Plan, argv: list[str], read_only: list[str], workdir: Path, uid: int | None, disk: int
) -> tuple[list[str], dict]:
    """The command line that runs ``argv`` in the sandbox, and ``Popen``'s extra arguments."""
    if p.bwrap is None:
        ids = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
        return argv, ids
    user_ns = [
        *("--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)),
        *("--disable-userns", "--die-with-parent"),
    ]
    outer = [p.bwrap, *NAMESPACES, "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    outer += _mount_args(read_only, workdir, disk)
    if uid is None:
        return [*outer, *user_ns, "--", *argv], {}
    # Mount as root, then become `uid` and open the user namespace from there.
    outer += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    inner = [p.bwrap, *user_ns, "--dev-bind", "/", "/", "--chdir", str(workdir), "--"]
    return [*outer, *_setpriv(uid), *inner, *argv], {}


def _setpriv(uid: int) -> list[str]:
    """A command prefix that runs what follows as ``uid``, without capabilities."""
    setpriv = [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}"]
    return [*setpriv, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]


def contain(cmd: list[str], ids: dict, group: Memory | None) -> tuple[list[str], dict]:
    """``cmd`` and ``Popen``'s ids (from ``command``), made to start inside ``group``.

    The shell that joins the group runs as the grader's user; a uid switch that ``Popen``
    would make before it moves after it (setpriv)."""
    if group is None:
        return cmd, ids
    if ids:
        cmd = [*_setpriv(ids["user"]), *cmd]
    return group.enter(cmd), {}


def start(cmd: list[str], p: Plan, **popen) -> tuple[subprocess.Popen, int | None]:
    """Start ``cmd`` (from ``command``); return the process and a pidfd of the sandbox's PID 1.

    bwrap names its PID 1 on ``--info-fd``; a pidfd, unlike a pid, cannot come to mean
    another process once that one has exited.
    """
    if p.bwrap is None:
        return subprocess.Popen(cmd, start_new_session=True, **popen), None
    read, write = os.pipe()
    at = cmd.index(p.bwrap)  # after the shell that joins a cgroup, if any
    cmd = [*cmd[: at + 1], "--info-fd", str(write), *cmd[at + 1 :]]
    passed = [write, *popen.pop("pass_fds", ())]
    try:
        proc = subprocess.Popen(cmd, start_new_session=True, pass_fds=passed, **popen)
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as info:
        text = b""
        while b"}" not in text and select.select([info], [], [], 10)[0]:
            chunk = os.read(info.fileno(), 4096)
            if not chunk:
                break
            text += chunk
    try:
        return proc, os.pidfd_open(int(json.loads(text)["child-pid"]))
    except (ValueError, KeyError, OSError):
        return proc, None  # bwrap failed to start (it exits on its own), or PID 1 is gone


def stop(proc: subprocess.Popen, pid1: int | None, uid: int | None) -> int:
    """Kill the worker and everything it started; return its exit status (< 0: a signal).

    Under bwrap, killing the sandbox's PID 1 (``pid1``: a pidfd) makes the kernel kill its
    whole PID namespace; PID 1 exits (its pidfd turns readable) only once every process in
    it is gone. Without one, every process of the worker's own uid is killed.
    """
    if pid1 is not None:
        _kill(signal.pidfd_send_signal, pid1)
        select.select([pid1], [], [], 30)
        os.close(pid1)
    _kill(os.killpg, proc.pid)  # bwrap itself, which would otherwise exit on its own
    code = proc.wait()
    if pid1 is None:
        kill_uid(uid)
    elif code > 128:  # bwrap reports a signal as 128 + its number
        code = 128 - code
    return code


def _kill(how, pid: int) -> None:
    try:
        how(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_uid(uid: int | None) -> None:
    """Kill every process of ``uid`` (a root grader's worker uid), until none is left."""
    if uid is None:
        return
    ids = {"user": uid, "group": uid, "extra_groups": []}
    for _ in range(100):  # kill(-1) as that uid: every process it may signal, i.e. its own
        subprocess.run(["/bin/sh", "-c", "kill -9 -1"], check=False, capture_output=True, **ids)
        if not _running_as(uid):
            return
        time.sleep(0.01)


def _running_as(uid: int) -> bool:
    """Whether a process (not a zombie) runs with real uid ``uid``."""
    for entry in os.scandir("/proc"):
        try:
            status = Path(entry.path, "status").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)] and "Z" not in fields["State"]:
            return True
    return False


# ---------------------------------------------------------------------------------- disk


def disk_used(folder: Path, max_entries: int = 10_000) -> int:
    """Bytes of the files under ``folder``; ``sys.maxsize`` past ``max_entries`` entries."""
    total, count, stack = 0, 0, [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        count += len(entries)
        if count > max_entries:
            return sys.maxsize
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total
