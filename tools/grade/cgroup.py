"""A memory cgroup around one worker: every process of the sandbox, its memfds and its tmpfs
pages are charged to it, so that its limit holds for the sandbox as a whole.

Where the machine lets this process make a child of its own cgroup with the memory controller
(cgroup v2 with the controller delegated, or cgroup v1's memory hierarchy, as root usually
may), ``Memory.create`` makes one per worker; the worker's command starts with
``Memory.enter``, a shell that moves itself into the group before it executes the sandbox,
so that no process of the sandbox ever runs outside it. The kernel's OOM killer ends a
process of the group when the group passes its limit; ``oom_kills`` tells the grader.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_names = itertools.count()


@dataclass(frozen=True)
class Memory:
    path: Path  # the group's folder
    version: int  # 1 or 2

    @staticmethod
    def create(limit_bytes: int) -> Memory | None:
        """A fresh group limited to ``limit_bytes``, or None where none can be made here."""
        for version, parent in _parents():
            path = parent / f"cs231n-grade-{os.getpid()}-{next(_names)}-{secrets.token_hex(4)}"
            try:
                path.mkdir()
            except OSError:
                continue
            group = Memory(path, version)
            try:
                group._limit(limit_bytes)
                return group
            except OSError:
                group.remove()
        return None

    def _limit(self, limit: int) -> None:
        if self.version == 2:
            (self.path / "memory.max").write_text(str(limit))
            with contextlib.suppress(OSError):  # no swap accounting: nothing to swap to
                (self.path / "memory.swap.max").write_text("0")
            return
        (self.path / "memory.limit_in_bytes").write_text(str(limit))
        with contextlib.suppress(OSError):  # memsw: memory and swap together
            (self.path / "memory.memsw.limit_in_bytes").write_text(str(limit))

    def enter(self, cmd: list[str]) -> list[str]:
        """``cmd`` preceded by a shell that joins this group, then executes it."""
        procs = str(self.path / "cgroup.procs")
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, *cmd]

    def oom_kills(self) -> int:
        """How many processes of the group the OOM killer ended (v1 kernels without that
        count: how often the group hit its limit)."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        lines = [line.split() for line in _read(self.path / name).splitlines()]
        counts = {f[0]: f[1] for f in lines if len(f) == 2}
        try:
            return int(counts.get("oom_kill") or _read(self.path / "memory.failcnt") or 0)
        except ValueError:
            return 0

    def remove(self) -> None:
        """Remove the group once its last process has left it (charges move to the parent)."""
        for _ in range(50):  # a killed process may take a moment to leave
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)


def _parents() -> list[tuple[int, Path]]:
    """Where this process may make a memory cgroup: (version, folder), the likeliest first."""
    found = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        rel = path.lstrip("/")
        if controllers == "":  # v2: the unified hierarchy
            for mount in (ROOT, ROOT / "unified"):
                if (mount / "cgroup.controllers").exists():
                    folder = mount / rel
                    if "memory" in _read(folder / "cgroup.subtree_control").split():
                        found.append((2, folder))
                    break
        elif "memory" in controllers.split(","):
            found.append((1, ROOT / "memory" / rel))
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
