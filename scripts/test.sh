#!/usr/bin/env bash
# The whole test suite, from a fresh clone: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
# warehouse: PyAirbyte and DuckDB, for integration_tests/test_warehouse_e2e.py
EXTRAS=tests,warehouse bash scripts/setup-env.sh
# pytest exits 5 when it collects no test, so an empty run fails here rather than passing silently.
exec .venv/bin/python -m pytest "$@"
