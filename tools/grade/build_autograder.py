"""Build Gradescope's autograder zip: ``python -m tools.grade.build_autograder [--out ZIP]``.

The zip's top holds ``setup.sh`` and ``run_autograder`` (Gradescope's layout), the pinned
requirements the grader needs, the grader (``tools/grade``) and our solution (``cs231n``, the
reference the grader imports). Gradescope unpacks it into ``/autograder/source``.
"""

from __future__ import annotations

import argparse
import re
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
GRADER_PACKAGES = ("numpy", "scipy")  # what the grader and the graded modules import


def pinned_requirements() -> str:
    """The lines of requirements.txt that pin the grader's packages."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    wanted = [ln for ln in lines if re.match(rf"({'|'.join(GRADER_PACKAGES)})==", ln)]
    if len(wanted) != len(GRADER_PACKAGES):
        raise SystemExit(f"requirements.txt must pin {GRADER_PACKAGES}, found {wanted}")
    return "\n".join(wanted) + "\n"


def source_files() -> list[Path]:
    """The solution's modules and the grader, relative to the repository root."""
    code = [p for p in (ROOT / "cs231n").rglob("*.py") if "datasets" not in p.parts]
    code += (ROOT / "tools" / "grade").glob("*.py")
    # The marker and student-block readers the grader shares with the release (and what the
    # release imports).
    code += [ROOT / "tools" / name for name in ("collect_submission.py", "release.py", "reach.py")]
    return sorted(p.relative_to(ROOT) for p in code if "__pycache__" not in p.parts)


def build(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16  # executable
            zf.writestr(info, (HERE / "autograder" / name).read_text())
        zf.writestr("requirements-grader.txt", pinned_requirements())
        for rel in source_files():
            zf.write(ROOT / rel, rel.as_posix())
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "autograder.zip")
    args = parser.parse_args(argv)
    out = build(args.out)
    print(f"wrote {out} ({len(zipfile.ZipFile(out).namelist())} files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
