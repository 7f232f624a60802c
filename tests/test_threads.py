"""cs231n._threads: the thread pool of the fast layers' kernels."""

from __future__ import annotations

import threading

import pytest

from cs231n import _threads, fast_layers


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
