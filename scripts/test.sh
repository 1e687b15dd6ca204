#!/usr/bin/env bash
# The whole test suite and the lint, from a fresh clone: bash scripts/test.sh [extra pytest args]
# The fast loop (in-process tests only, under a minute): .venv/bin/python -m pytest -m "not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
# warehouse: PyAirbyte and DuckDB, for integration_tests/test_warehouse_e2e.py and the demo
EXTRAS=tests,warehouse bash scripts/setup-env.sh
echo "lint: ruff check, ruff format --check"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# pytest exits 5 when it collects no test, so an empty run fails here rather than passing silently.
exec .venv/bin/python -m pytest "$@"
