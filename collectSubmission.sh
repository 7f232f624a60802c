#!/usr/bin/env bash
# Check your work and package it for upload: a2_code_submission.zip (code and notebooks) and
# a2_inline_submission.pdf (the run notebooks). `bash collectSubmission.sh --force` packages
# despite problems; `make pdf-deps` installs the PDF engine. See tools/collect_submission.py.
set -euo pipefail
cd "$(dirname "$0")"
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
exec "$PY" tools/collect_submission.py "$@"
