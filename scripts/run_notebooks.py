"""Execute the kit's notebooks headless with papermill.

Each notebook has a cell tagged ``parameters`` that defines ``QUICK = False``; ``--quick``
injects ``QUICK = True`` (every cell on a small subset, a few minutes at most).
Executed copies go to ``--out`` (default ``runs/notebooks``); the notebooks in the
repository are never overwritten.

    python scripts/run_notebooks.py                 # every notebook, full mode
    python scripts/run_notebooks.py --quick PyTorch.ipynb
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import papermill

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = [
    "FullyConnectedNets.ipynb",
    "BatchNormalization.ipynb",
    "Dropout.ipynb",
    "ConvolutionalNetworks.ipynb",
    "PyTorch.ipynb",
    "TensorFlow.ipynb",
]


def run_notebook(name: str, out_dir: Path, quick: bool) -> Path:
    """Execute ``ROOT/name`` into ``out_dir/name`` and return the output path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / name
    papermill.execute_notebook(
        str(ROOT / name),
        str(output),
        parameters={"QUICK": quick},
        cwd=str(ROOT),
        kernel_name="python3",
        progress_bar=False,
        log_output=True,
    )
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook file names (default: all present)")
    parser.add_argument("--quick", action="store_true", help="small subsets, minutes not hours")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "notebooks")
    args = parser.parse_args(argv)

    names = args.notebooks or [n for n in NOTEBOOKS if (ROOT / n).exists()]
    missing = [n for n in names if not (ROOT / n).exists()]
    if missing:
        parser.error(f"no such notebook(s): {', '.join(missing)}")
    for name in names:
        mode = "quick" if args.quick else "full"
        print(f"== {name} ({mode} mode)", flush=True)
        start = time.perf_counter()
        output = run_notebook(name, args.out, args.quick)
        print(f"== {name}: done in {time.perf_counter() - start:.0f} s -> {output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
