"""A ThreeLayerConvNet training step with and without OPENBLAS_THREAD_TIMEOUT in the environment.

OpenBLAS reads the variable only when it loads, with numpy, so each case runs in a fresh
process that imports numpy before cs231n, as a student's own script does. Without the
variable, OpenBLAS's idle threads would spin for ~0.1 s after every product, on the core our
second thread needs; importing ``cs231n.fast_layers`` restarts them with a short timeout
(``cs231n._blas``), so both rows should match. Ours against PyTorch, wall time, best of
``--repeat``, ``--threads`` threads for numpy's BLAS, our kernels and PyTorch alike.

    python benchmarks/bench_thread_timeout.py [--threads 2] [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from _machine import describe
from _timing import cores, warn_if_busy

VARIABLE = "OPENBLAS_THREAD_TIMEOUT"
CASES = {"unset": None, "14": "14"}  # the variable's value in the child's environment


def child(threads: int, repeat: int) -> None:
    """Time the step in this process and print its table row. bench_fast_layers imports
    numpy before cs231n, as a student's script does."""
    import numpy as np
    from bench_fast_layers import ITERATION_TARGET, POOL_SIZE, Table, our_iteration, torch_iteration

    from cs231n import _blas

    libs = [lib for lib in _blas.controller().lib_controllers if lib.internal_api == "openblas"]
    timeouts = [lib.dynlib.openblas_thread_timeout() for lib in libs]
    print(describe())
    print(
        f"{VARIABLE}={os.environ.get(VARIABLE, 'unset')}; OpenBLAS's thread timeout now "
        f"(log2 of cycles; 0: its default, 28): {timeouts}\n"
    )
    rng = np.random.default_rng(0)
    X = rng.standard_normal((POOL_SIZE, 3, 32, 32)).astype(np.float32)
    y = rng.integers(10, size=POOL_SIZE)
    case = "ThreeLayerConvNet step, batch 50, hidden 500, Adam"
    Table(threads, repeat).rows(
        case, np.float32, {"step": our_iteration(X, y)}, torch_iteration(X, y), ITERATION_TARGET
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=min(2, cores()))
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.threads, args.repeat)
        return 0
    load = warn_if_busy()
    print(f"load average {load:.2f}; {args.threads} thread(s) on {cores()} core(s)")
    failed = 0
    for name, value in CASES.items():
        print(f"\n### {VARIABLE} {name}\n", flush=True)
        env = {k: v for k, v in os.environ.items() if k != VARIABLE}
        env |= {VARIABLE: value} if value is not None else {}
        command = [sys.executable, __file__, "--child", f"--threads={args.threads}"]
        failed |= subprocess.run([*command, f"--repeat={args.repeat}"], env=env).returncode
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
