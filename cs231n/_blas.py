"""numpy's BLAS threads, as the fast layers need them.

- ``one_thread()``: numpy's BLAS on one thread for a ``with`` block, so that each of the fast
  layers' own threads runs its matrix products on its own core.
- ``let_idle_threads_sleep()``: after every product, OpenBLAS's idle threads spin for about
  2^28 cycles (~0.1 s) before they sleep, on the core our second thread needs (a
  ThreeLayerConvNet step on 2 cores: 53 ms instead of 40). ``OPENBLAS_THREAD_TIMEOUT``
  shortens that, but OpenBLAS reads it only when it loads, with numpy, usually before cs231n.
  So, when it was not set then, we set it for a moment, have OpenBLAS read its environment
  again (``openblas_read_env``) and stop its threads (``blas_thread_shutdown_``); OpenBLAS
  starts them again at the next product, and from then on they sleep after 2^14 cycles
  (~6 us). Where that cannot be done (an OpenBLAS without these functions), it warns once
  with what to do instead.
"""

from __future__ import annotations

import ctypes
import functools
import os
import warnings
from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController

# log2 of the cycles an idle OpenBLAS thread spins before it sleeps. On 2 cores, 4 to 18 gave
# the same ThreeLayerConvNet step time (measured with the course staff's benchmarks).
THREAD_TIMEOUT = 14
VARIABLE = "OPENBLAS_THREAD_TIMEOUT"


class SpinningBlasWarning(RuntimeWarning):
    """OpenBLAS's idle threads spin after every product and slow the fast layers down."""


@functools.cache
def controller() -> ThreadpoolController:
    """threadpoolctl's view of the BLAS and OpenMP libraries loaded when first called."""
    return ThreadpoolController()


def one_thread() -> AbstractContextManager:
    """numpy's BLAS on one thread inside the ``with`` block."""
    return controller().limit(limits=1, user_api="blas")


@functools.cache
def let_idle_threads_sleep() -> None:
    """Have every loaded OpenBLAS (pthreads build) whose threads were started without
    ``OPENBLAS_THREAD_TIMEOUT`` start them again with it (the variable's value if it has been
    set since, else ``THREAD_TIMEOUT``); warn once (``SpinningBlasWarning``) where that fails
    on more than one thread. Cached: the first call does the work.

    Call it while no other thread is inside a BLAS call: it stops OpenBLAS's threads.
    """
    for lib in controller().lib_controllers:
        if lib.internal_api != "openblas" or lib.threading_layer != "pthreads":
            continue
        try:
            _restart_threads(lib.dynlib)
        except AttributeError as err:  # an OpenBLAS that does not export these functions
            if VARIABLE in os.environ or (lib.num_threads or 1) < 2:
                continue
            warnings.warn(
                f"numpy's OpenBLAS ({lib.filepath}) keeps its idle threads spinning for about "
                f"0.1 s after every matrix product, which slows the fast layers down, and "
                f"cs231n cannot change that ({err}). Set {VARIABLE}={THREAD_TIMEOUT} in the "
                "environment before Python starts (or before the first `import numpy`), or "
                "OPENBLAS_NUM_THREADS=1.",
                SpinningBlasWarning,
                stacklevel=2,
            )


def _restart_threads(dynlib: ctypes.CDLL) -> None:
    """Restart the threads of the OpenBLAS ``dynlib`` (a ``ctypes.CDLL``) with a thread
    timeout, unless it had one when it loaded (the user's choice, kept)."""
    if dynlib.openblas_thread_timeout():
        return
    read_env, shutdown = dynlib.openblas_read_env, dynlib.blas_thread_shutdown_
    unset = VARIABLE not in os.environ
    if unset:
        os.environ[VARIABLE] = str(THREAD_TIMEOUT)
    try:
        read_env()
    finally:  # leave the environment as it was
        if unset:
            del os.environ[VARIABLE]
    shutdown()
