#!/usr/bin/env bash
# Run the service on the embedded SQLite store (./cleaner.db unless CLEANER_DB or --db says otherwise).
# Creates ./.venv on first use. Extra arguments go to `cleaner serve` (e.g. --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
exec cleaner serve "$@"
