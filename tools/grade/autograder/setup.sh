#!/usr/bin/env bash
# Gradescope: run once when the autograder image is built. Installs the pinned packages the
# grader and the graded code need (numpy, scipy). Our solution (the reference) stays in
# /autograder/source and is imported from there, never installed into site-packages, so that
# the sandboxed student code, which may read site-packages, cannot read it.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip install --no-cache-dir -r requirements-grader.txt
