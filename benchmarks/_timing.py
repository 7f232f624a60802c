"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def round_robin(
    fns: dict[str, Callable[[], object]],
    repeat: int = 5,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
    settle: float = 0.025,
) -> dict[str, tuple[float, float]]:
    """(best, median) seconds of every function, timed in turns.

    Each round runs every function once, so that a burst of load from other processes
    hits all of them alike; ratios between them are then more trustworthy than the
    times themselves. Before each timed call, untimed calls of the same function for at least
    ``settle`` seconds let the previous function's idle threads go to sleep: PyTorch's OpenMP
    threads spin for several milliseconds after each operation, and would otherwise take a
    core from the next function.
    ``clock=time.thread_time`` measures the CPU time of the calling thread, which ignores
    time spent descheduled (meaningful for single-threaded runs).
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            settled = time.perf_counter() + settle
            while time.perf_counter() < settled:
                fn()
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


def warn_if_busy() -> float:
    """The 1-minute load average, after a warning on stdout when it is above 1: other
    processes then share the cores and distort wall times."""
    load = os.getloadavg()[0]
    if load > 1:
        print(f"WARNING: load average {load:.2f} > 1: other processes distort these times\n")
    return load


def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return f"{seconds * 1e3:.1f}"
