"""Grade submissions: ``python -m tools.grade SUBMISSION... [options]``.

``python -m tools.grade --compare OLD.csv NEW.csv`` lists what changed between two runs.

A SUBMISSION is an ``a2_code_submission.zip``, a folder laid out like the kit (with
``cs231n/``), or a folder of such zips or folders (each graded separately, in parallel over
``--jobs`` processes). Inputs are drawn fresh for each run from a logged seed; ``--seed``
repeats a run.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.grade import q5, report, sandbox
from tools.grade.cases import CASES, QUESTIONS, check_table
from tools.grade.runner import Limits, Reference, grade


def expand(paths: list[Path]) -> list[Path]:
    """Each path as one submission, or a folder of submissions as each of them."""
    found = []
    for path in paths:
        if not path.exists():
            raise SystemExit(f"error: {path} does not exist")
        if path.is_dir() and not (path / "cs231n").is_dir():
            inner = sorted(path.glob("*.zip")) + sorted(
                p for p in path.iterdir() if p.is_dir() and (p / "cs231n").is_dir()
            )
            if len(inner) > 1:
                found.extend(inner)
                continue
        found.append(path)
    return found


def unique_names(paths: list[Path]) -> list[str]:
    names, seen = [], {}
    for path in paths:
        name = path.stem if path.suffix == ".zip" else path.resolve().name
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.grade", description=__doc__.split("\n")[0])
    p.add_argument("submissions", nargs="*", type=Path, metavar="SUBMISSION")
    p.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("OLD_CSV", "NEW_CSV"),
        help="list the submissions whose score moved between two runs' --csv, and why",
    )
    p.add_argument("--json", type=Path, help="Gradescope results.json (a folder if several)")
    p.add_argument("--csv", type=Path, help="one row per submission")
    p.add_argument("--report", type=Path, help="class report for course staff (.html or .md)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded at once (1)")
    p.add_argument("--seed", type=int, help="seed of the inputs (default: fresh, logged)")
    p.add_argument("--questions", default="1,2,3,4,5", help="e.g. 2,4 (default all)")
    p.add_argument("--case-timeout", type=float, default=Limits.case_seconds, metavar="S")
    p.add_argument("--submission-timeout", type=float, default=Limits.total_seconds, metavar="S")
    p.add_argument("--model-timeout", type=float, default=Limits.model_seconds, metavar="S")
    p.add_argument(
        "--q5-test-set",
        type=Path,
        metavar="NPZ",
        help="a held-out set for Q5's models: uint8 images (N, 32, 32, 3) and labels (N,)",
    )
    p.add_argument(
        "--q5-unverified",
        action="store_true",
        help="evaluate no Q5 model (a grader without torch or CIFAR-10): Q5 gives its run "
        "points only, and the course staff evaluate the models elsewhere",
    )
    p.add_argument("--quiet", action="store_true", help="no per-submission table")
    p.add_argument(
        "--require-sandbox",
        action="store_true",
        help="refuse to grade where a protection of the sandbox is missing here",
    )
    return p.parse_args(argv)


def _q5_sets(args: argparse.Namespace) -> q5.ImageSets:
    """The images Q5's models are evaluated on; exits with the fix when they cannot be read."""
    try:
        sets = q5.ImageSets.load(args.q5_test_set)
    except (OSError, ValueError) as exc:
        if str(exc).startswith("--q5-test-set"):
            raise SystemExit(f"error: {exc}") from None
        raise SystemExit(
            f"error: Q5's models are evaluated on the CIFAR-10 test set: {exc} "
            "(set CS231N_CIFAR10, or pass --q5-unverified)"
        ) from None
    if "torch" not in sets.loaders:
        raise SystemExit(
            "error: Q5's PyTorch models need torch in the grader's Python "
            "(pip install -r requirements.txt), or pass --q5-unverified"
        )
    counts = ", ".join(f"{len(labels)} {name} images" for name, labels in sets.labels.items())
    print(f"Q5: models evaluated on {counts}")
    return sets


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.compare:
        from tools.grade.compare import compare

        print("\n".join(compare(*args.compare)))
        return 0
    if not args.submissions:
        raise SystemExit("error: name at least one SUBMISSION (or --compare OLD.csv NEW.csv)")
    if args.report and args.report.suffix not in (".html", ".md"):
        raise SystemExit(f"error: --report must name a .html or .md file, got {args.report}")
    check_table()
    questions = {int(q) for q in args.questions.split(",") if q.strip()}
    if not questions <= set(QUESTIONS):
        raise SystemExit(f"error: --questions must name questions 1-5, got {args.questions!r}")
    seed = args.seed if args.seed is not None else secrets.randbits(31)
    print(f"grading inputs drawn with seed {seed} (repeat with --seed {seed})", flush=True)
    limits = Limits(
        case_seconds=args.case_timeout,
        total_seconds=args.submission_timeout,
        model_seconds=args.model_timeout,
    )
    sets = _q5_sets(args) if 5 in questions and not args.q5_unverified else None
    plan = sandbox.plan()
    print(f"sandbox: {plan.describe(limits.processes, limits.disk_bytes)}", flush=True)
    if args.require_sandbox and plan.missing:
        raise SystemExit(f"error: --require-sandbox: missing here: {', '.join(plan.missing)}")
    reference = Reference(seed, [c for c in CASES if c.question in questions])
    paths = expand(args.submissions)
    names = unique_names(paths)
    start = time.monotonic()

    def one(i: int):
        return grade(paths[i], reference, limits, 5 in questions, names[i], sets)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = []
        for res in pool.map(one, range(len(paths))):
            results.append(res)
            if not args.quiet:
                print(report.table(res), flush=True)
    elapsed = time.monotonic() - start
    print(f"graded {len(results)} submission(s) in {elapsed:.1f} s with --jobs {args.jobs}")
    if args.csv:
        report.write_csv(args.csv, results)
    if args.json:
        if len(results) == 1:
            report.write_json(args.json, results[0])
        else:
            args.json.mkdir(parents=True, exist_ok=True)
            for res in results:
                report.write_json(args.json / f"{res.submission}.json", res)
    if args.report:
        from tools.grade import class_report  # matplotlib: not needed for grading itself

        written = class_report.write(args.report, results)
        print(f"class report: {', '.join(str(p) for p in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
