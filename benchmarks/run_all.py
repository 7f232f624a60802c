"""Run every benchmark script ``benchmarks/bench_*.py`` in turn (what ``make bench`` does).

Each script runs in its own process with the same interpreter and its default
arguments; arguments given here are not passed on. Exits non-zero if any script fails.
Scripts without the ``bench_`` prefix (e.g. ``train_pytorch_model.py``, a full training
run) are not run.

    python benchmarks/run_all.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _timing import warn_if_busy

HERE = Path(__file__).resolve().parent


def main() -> int:
    warn_if_busy()
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n## {script.name}\n", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        print(f"\n({script.name}: {time.perf_counter() - start:.0f} s)", flush=True)
        if result.returncode:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
