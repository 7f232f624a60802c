#!/usr/bin/env bash
# Package your code and notebooks into a2_code_submission.zip for upload.
set -euo pipefail
cd "$(dirname "$0")"
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
exec "$PY" tools/collect_submission.py "$@"
