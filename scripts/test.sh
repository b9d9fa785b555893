#!/usr/bin/env bash
# Run the whole test suite. Creates ./.venv (with the test extras) on first use.
# Extra arguments go to pytest (e.g. -k stories -x).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh test
exec python -m pytest "$@"
