#!/usr/bin/env bash
# Get CIFAR-10 into cs231n/datasets (or check the copy $CS231N_CIFAR10 names); works from any
# directory. Uses the project's .venv when there is one, python3 otherwise. Arguments are passed
# on to `python -m cs231n.datasets.fetch` (for example --dest DIR).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="$root/.venv/bin/python"
[ -x "$python" ] || python=python3
# Run from the caller's directory so relative paths in arguments and $CS231N_CIFAR10 keep their
# meaning; PYTHONPATH finds the package even when it is not installed.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m cs231n.datasets.fetch "$@"
