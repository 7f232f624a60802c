"""The grader's own count of a sandbox's memory, where no memory cgroup can be made.

Polled while a case runs: the resident anonymous and shared memory (``RssAnon``,
``RssShmem``) of every process of the sandbox, and the size of every memfd they hold open,
each counted once. The processes are the descendants of the sandbox's first process (under
bubblewrap no process leaves its PID namespace, whose orphans its PID 1 adopts) and, for a
root grader, every process of the worker's own uid (which a ``setsid()``'d orphan keeps).
Files of the work folder are bounded apart (the tmpfs's size or the disk poll). A poll can
miss a burst between two looks, and each process is also bounded by its address space
(``RLIMIT_AS``); a cgroup (cgroup.py) has neither gap.
"""

from __future__ import annotations

import os
from pathlib import Path


def sandbox_processes(first: int, uid: int | None) -> list[int]:
    """The pids of ``first``, its descendants and (if given) every process of ``uid``."""
    parents, found = {}, set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        status = _status(int(entry.name))
        if not status:
            continue
        parents[int(entry.name)] = int(status.get("PPid", "0"))
        if uid is not None and status.get("Uid", "").split()[:1] == [str(uid)]:
            found.add(int(entry.name))
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    stack = [first]
    while stack:
        pid = stack.pop()
        if pid in parents and pid not in found:
            found.add(pid)
        stack.extend(c for c in children.get(pid, []) if c not in found)
    return sorted(found)


def memory_used(pids: list[int]) -> int:
    """Bytes of resident anonymous and shared memory of ``pids``, and of their memfds."""
    total, memfds = 0, {}
    for pid in pids:
        status = _status(pid)
        for key in ("RssAnon", "RssShmem"):
            total += int(status.get(key, "0 kB").split()[0]) * 1024
        memfds.update(_memfds(pid))
    return total + sum(memfds.values())


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _memfds(pid: int) -> dict[tuple[int, int], int]:
    """(device, inode) -> size of each memfd ``pid`` holds (stat through /proc: no open)."""
    found = {}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for fd in fds:
        path = f"/proc/{pid}/fd/{fd}"
        try:
            if os.readlink(path).startswith("/memfd:"):
                st = os.stat(path)
                found[(st.st_dev, st.st_ino)] = st.st_size
        except OSError:
            continue
    return found
