"""Package a student's work for submission: the code and the notebooks in one zip.

    python tools/collect_submission.py [--out a2_code_submission.zip]

The zip holds every ``cs231n/**/*.py`` and ``*.pyx`` file and every top-level notebook,
with paths relative to the repository root. Notebooks must have been run (a notebook
without any outputs gets a warning: graders read your results from them). The zip is
written to a temporary file and moved into place, so an interrupted run never leaves a
broken archive; nothing else is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED_DIRS = {"__pycache__", "datasets", "build"}


def submission_files(root: Path) -> list[Path]:
    """The code and notebook files to submit, relative to ``root``, sorted."""
    code = [
        p
        for p in root.glob("cs231n/**/*")
        if p.suffix in (".py", ".pyx") and not EXCLUDED_DIRS & set(p.relative_to(root).parts)
    ]
    notebooks = list(root.glob("*.ipynb"))
    return sorted(p.relative_to(root) for p in code + notebooks)


def has_outputs(notebook: Path) -> bool:
    """Whether any code cell of the notebook has outputs (i.e. it was run)."""
    cells = json.loads(notebook.read_text())["cells"]
    return any(c.get("outputs") for c in cells if c["cell_type"] == "code")


def write_zip(root: Path, files: list[Path], out: Path) -> None:
    """Write ``files`` (relative to ``root``) into the zip ``out`` atomically."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel in files:
                zf.write(root / rel, rel.as_posix())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the kit's top folder")
    parser.add_argument("--out", type=Path, default=None, help="zip to write")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = (args.out or root / "a2_code_submission.zip").resolve()

    files = submission_files(root)
    notebooks = [f for f in files if f.suffix == ".ipynb"]
    if not notebooks:
        print(f"error: no notebooks found in {root}", file=sys.stderr)
        return 1
    for nb in notebooks:
        if not has_outputs(root / nb):
            print(f"warning: {nb} has no outputs; run it before submitting", file=sys.stderr)
    write_zip(root, files, out)
    print(
        f"wrote {out} ({len(files)} files: {len(notebooks)} notebooks, "
        f"{len(files) - len(notebooks)} code files)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
