#!/usr/bin/env bash
# Sourced by serve.sh and test.sh: make ./.venv on first use and (re)install the project
# into it whenever pyproject.toml changes. Usage: . scripts/venv.sh [EXTRAS]
set -euo pipefail
extras="${1:-}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  for cand in python3.13 python3.12 python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      py="$cand"; break
    fi
  done
fi
if [ -z "$py" ]; then
  echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "creating virtual environment in $venv" >&2
  "$py" -m venv "$venv"
fi
# One stamp per installed extras set, named by pyproject.toml's hash: any install of the
# current pyproject satisfies a plain one (extras only add packages), so serve.sh after
# test.sh installs nothing; a changed pyproject makes every stamp stale.
proj="$(sha256sum "$root/pyproject.toml" | cut -c1-16)"
stamp="$venv/.installed-$proj-${extras:-base}"
if [ ! -f "$stamp" ] && { [ -n "$extras" ] || ! compgen -G "$venv/.installed-$proj-*" >/dev/null; }; then
  echo "installing article-cleaner${extras:+[$extras]} into $venv (first run takes a minute)" >&2
  log="$venv/install.log"
  if ! { "$venv/bin/python" -m pip install --disable-pip-version-check --upgrade pip \
         && "$venv/bin/python" -m pip install --disable-pip-version-check -e "$root${extras:+[$extras]}"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "error: installing the project failed; full log in $log" >&2
    exit 1
  fi
  find "$venv" -maxdepth 1 -name '.installed-*' ! -name ".installed-$proj-*" -delete
  touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
