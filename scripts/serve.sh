#!/usr/bin/env bash
# Run the service on the embedded SQLite store: ./cleaner.db in the directory you run this
# from, unless CLEANER_DB or --db says otherwise (`cleaner keys` finds the same file the same
# way). Creates the project's .venv on first use. Extra arguments go to `cleaner serve`
# (e.g. --port 8080).
set -euo pipefail
# The explicit "" stops `.` from handing this script's arguments (--port ...) to venv.sh as extras.
. "$(cd "$(dirname "$0")" && pwd)/venv.sh" ""
exec cleaner serve "$@"
