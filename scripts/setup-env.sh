#!/usr/bin/env bash
# Creates .venv (Python 3.10-3.12) and installs the connector with the extras named in $EXTRAS.
# Sourced by the other scripts; safe to run again (pip skips what is already there).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] < (3, 13)))'; then
      PYTHON=$candidate
      break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "setup-env: needs Python 3.10, 3.11 or 3.12 (airbyte-cdk and PyAirbyte do not support 3.13 yet)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup-env: creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
echo "setup-env: installing source-conversations[${EXTRAS:-tests}] into .venv"
if ! .venv/bin/python -m pip install --disable-pip-version-check ".[${EXTRAS:-tests}]" >.venv/pip-install.log 2>&1; then
  cat .venv/pip-install.log >&2
  echo "setup-env: pip install failed (log above, also in .venv/pip-install.log)" >&2
  exit 1
fi
.venv/bin/python -c "import source_conversations" # fail here, not later, if the install did not work
