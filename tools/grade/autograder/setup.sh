#!/usr/bin/env bash
# Gradescope: run once when the autograder image is built (choose the Ubuntu 24.04 base image:
# the pinned numpy needs Python >= 3.11). Installs Python's venv support and bubblewrap (the
# grader's sandbox; where the container forbids namespaces the grader falls back to an
# unprivileged uid and rlimits, and results.json says so), then the pinned
# packages the grader and the graded code need (numpy, scipy) into $ROOT/venv, which
# run_autograder uses (SKIP_APT=1 skips apt-get, for a local test). Our solution (the
# reference) stays in $ROOT/source and is imported from there, never installed into
# site-packages, so that the sandboxed student code, which may read the Python installation,
# cannot read it.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
cd "$(dirname "$0")"
if [ -z "${SKIP_APT:-}" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv bubblewrap >/dev/null
fi
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --no-cache-dir -r requirements-grader.txt
