"""The threads of the fast layers' Cython kernels, which release the GIL while they work.

``parallel_for(kernel, count, *args)`` splits ``range(count)`` into one contiguous range per
thread and calls ``kernel(start, stop, *args)`` on each, the first range on the calling
thread. Idle threads sleep on a lock: between kernels they leave the cores to the threads of
numpy's BLAS. (OpenMP threads spin while they wait, unless ``OMP_WAIT_POLICY=PASSIVE`` is set
before the first OpenMP library loads, and PyTorch loads one: that made whole conv layers
10-20x slower on an idle 2-core machine.)

The number of threads: ``CS231N_NUM_THREADS``, else the cores this process may use; change
it with ``set_num_threads`` or, for a block of code, ``limited_threads``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _check_threads(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _default_threads() -> int:
    text = os.environ.get("CS231N_NUM_THREADS", "").strip()
    if not text:
        return _cores()
    try:
        value = int(text)
    except ValueError:
        value = text
    return _check_threads("CS231N_NUM_THREADS", value)


_threads = _default_threads()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def num_threads() -> int:
    """The number of threads the Cython kernels use."""
    return _threads


def set_num_threads(threads: int) -> int:
    """Use ``threads`` (a positive int) threads from now on; returns the previous number."""
    global _threads
    previous, _threads = _threads, _check_threads("threads", threads)
    return previous


@contextmanager
def limited_threads(threads: int) -> Iterator[None]:
    """``set_num_threads(threads)`` for the ``with`` block, then the previous number again."""
    previous = set_num_threads(threads)
    try:
        yield
    finally:
        set_num_threads(previous)


def _workers(count: int) -> ThreadPoolExecutor:
    """The pool, with at least ``count`` worker threads."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < count:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(count, thread_name_prefix="cs231n-kernel")
            _pool_size = count
        return _pool


_inside = threading.local()  # .active: this thread runs a range of a parallel_for


def _run_range(kernel: Callable[..., object], *args: object) -> object:
    _inside.active = True
    try:
        return kernel(*args)
    finally:
        _inside.active = False


def parallel_for(kernel: Callable[..., object], count: int, *args: object) -> list[object]:
    """``kernel(start, stop, *args)`` over contiguous ranges covering ``range(count)``, one per
    thread (at most ``count`` ranges); returns the kernels' results in range order.

    A ``parallel_for`` inside a range of another one runs its kernel on the whole range in
    the calling thread: the threads are already busy.
    """
    parts = max(1, min(_threads, count))
    if parts == 1 or getattr(_inside, "active", False):
        return [kernel(0, count, *args)]
    bounds = [count * k // parts for k in range(parts + 1)]
    pool = _workers(parts - 1)
    futures = [
        pool.submit(_run_range, kernel, bounds[k], bounds[k + 1], *args) for k in range(1, parts)
    ]
    try:
        first = _run_range(kernel, bounds[0], bounds[1], *args)
    finally:  # never leave a worker writing into arrays the caller is about to drop
        wait(futures)
    return [first, *(future.result() for future in futures)]
