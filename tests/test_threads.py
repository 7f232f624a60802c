"""cs231n._threads: the thread pool of the fast layers' kernels."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from cs231n import _blas, _threads, fast_layers


def test_parallel_for_covers_the_range_once_on_several_threads():
    seen, names = [], set()
    barrier = threading.Barrier(3, timeout=10)  # the three ranges run at the same time

    def kernel(start, stop, scale):
        barrier.wait()
        seen.extend(range(start, stop))
        names.add(threading.current_thread().name)
        return scale * (stop - start)

    with fast_layers.limited_threads(3):
        assert fast_layers.num_threads() == 3
        assert _threads.parallel_for(kernel, 10, 2) == [6, 6, 8]  # ranges 0-3, 3-6, 6-10
    assert sorted(seen) == list(range(10)) and len(names) == 3

    def plain(start, stop):
        return stop - start

    with fast_layers.limited_threads(4):
        assert _threads.parallel_for(plain, 2) == [1, 1]  # never more ranges than items
    with fast_layers.limited_threads(1):
        assert _threads.parallel_for(plain, 0) == [0]


def test_parallel_for_waits_for_every_range_and_raises_their_errors():
    done = []

    def kernel(start, stop):
        if start > 0:
            raise RuntimeError("worker failed")
        done.append(start)

    with fast_layers.limited_threads(2), pytest.raises(RuntimeError, match="worker failed"):
        _threads.parallel_for(kernel, 4)
    assert done == [0]


def test_thread_count_is_checked(monkeypatch):
    previous = fast_layers.num_threads()
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            fast_layers.set_num_threads(bad)
    assert fast_layers.num_threads() == previous
    monkeypatch.setenv("CS231N_NUM_THREADS", "3")
    assert _threads._default_threads() == 3
    monkeypatch.setenv("CS231N_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="CS231N_NUM_THREADS must be a positive integer"):
        _threads._default_threads()
    monkeypatch.delenv("CS231N_NUM_THREADS")
    assert _threads._default_threads() == _threads._cores()


def test_nested_parallel_for_runs_in_the_calling_thread():
    def inner(start, stop):
        return (start, stop, threading.current_thread().name)

    def outer(start, stop):
        return _threads.parallel_for(inner, 4)

    with fast_layers.limited_threads(2):
        results = _threads.parallel_for(outer, 2)  # would deadlock if inner waited for workers
    assert [r[0][:2] for r in results] == [(0, 4), (0, 4)]
    assert len({r[0][2] for r in results}) == 2


# numpy's OpenBLAS threads: the fast layers let them sleep soon after each product. A fresh
# process each time: OpenBLAS reads its environment when it loads, and the fix runs once.
BLAS_PROBE = """
import os, sys, time
import numpy as np  # first, as in a student's script
a = np.ones((600, 600))
def cpu_while_sleeping():
    a @ a
    start = time.process_time()
    time.sleep(0.2)
    return time.process_time() - start
before = cpu_while_sleeping()
from cs231n import _blas, fast_layers
libs = [lib for lib in _blas.controller().lib_controllers if lib.internal_api == "openblas"]
print(before, min(cpu_while_sleeping() for _ in range(3)),
      [lib.dynlib.openblas_thread_timeout() for lib in libs],
      os.environ.get("OPENBLAS_THREAD_TIMEOUT", "unset"))
"""


def _probe_blas(**env: str) -> tuple[float, float, list[int], str]:
    """(CPU seconds of the process during a 0.2 s sleep after a product, before and after
    importing fast_layers; OpenBLAS's thread timeouts; the variable) in a fresh process."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    result = subprocess.run(
        [sys.executable, "-c", BLAS_PROBE],
        env=environ | {"OPENBLAS_NUM_THREADS": "2"} | env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after, timeouts, variable = result.stdout.split(maxsplit=3)
    return float(before), float(after), ast.literal_eval(timeouts), variable.strip()


def test_importing_fast_layers_lets_openblas_threads_sleep():
    before, after, timeouts, variable = _probe_blas()
    assert timeouts == [_blas.THREAD_TIMEOUT] and variable == "unset"
    # Spinning threads cost ~0.1 s of CPU in that sleep (before, if a core was free for them).
    assert after < 0.02, f"OpenBLAS threads still busy: {after:.3f} s CPU (before: {before:.3f})"


def test_a_thread_timeout_set_by_the_user_is_kept():
    *_, timeouts, variable = _probe_blas(OPENBLAS_THREAD_TIMEOUT="20")
    assert timeouts == [20] and variable == "20"


def test_warns_once_when_openblas_cannot_be_changed(monkeypatch):
    def unsupported(dynlib):
        raise AttributeError("no openblas_read_env")

    monkeypatch.setattr(_blas, "_restart_threads", unsupported)
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    _blas.let_idle_threads_sleep.cache_clear()
    try:
        with threadpool_limits(2, user_api="blas"):
            with pytest.warns(_blas.SpinningBlasWarning, match="OPENBLAS_THREAD_TIMEOUT=14"):
                _blas.let_idle_threads_sleep()
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                _blas.let_idle_threads_sleep()  # once only
    finally:
        _blas.let_idle_threads_sleep.cache_clear()
