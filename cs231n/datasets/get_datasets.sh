#!/usr/bin/env bash
# Get CIFAR-10 into cs231n/datasets (or check, and remember, the copy $CS231N_CIFAR10 names);
# works from any directory, inside the kit's .venv or not. Arguments are passed on to
# `python -m cs231n.datasets.fetch` (for example --dest DIR).
#
# The Python that runs it: $CS231N_PYTHON when set, else the kit's .venv, else the first of
# `python` and `python3` on PATH (an activated venv, conda, a hosted notebook) that has numpy.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python=""
for candidate in "${CS231N_PYTHON:-}" "$root/.venv/bin/python" python python3; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
     && "$candidate" -c 'import numpy' >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ]; then
  echo "error: no Python with numpy found (tried \$CS231N_PYTHON, $root/.venv/bin/python," \
       "python, python3). Install the kit first: pip install -e \"$root[notebooks]\"" >&2
  exit 1
fi
# Run from the caller's directory so relative paths in arguments and $CS231N_CIFAR10 keep their
# meaning; PYTHONPATH finds the package even when it is not installed.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m cs231n.datasets.fetch "$@"
