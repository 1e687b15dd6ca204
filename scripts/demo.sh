#!/usr/bin/env bash
# The warehouse demo, from a fresh clone:   bash scripts/demo.sh
# Your own accounts instead of the fake API: bash scripts/demo.sh --config secrets/config.json
# The older APIs (PolyAI v1, Vectara v1):   bash scripts/demo.sh --polyai-version v1 --vectara-version v1
#
# 1. Installs the connector with the `warehouse` extra (PyAirbyte, DuckDB) into .venv, through
#    scripts/setup-env.sh (the first time takes a few minutes: PyAirbyte is about 800 MB). Skipped when
#    .venv already runs this checkout's code (an editable install) and has PyAirbyte and DuckDB: a
#    `pip install .` would replace that editable install with a copy.
# 2. Runs `python -m demo` (demo/__main__.py): the fake API on 127.0.0.1 (PolyAI v3 with 3 projects, some
#    conversations in progress; Vectara v2 chats, chat turns, agent sessions and events), `spec`, `check`
#    and `discover` with the installed console script, a load of every stream into
#    .local/demo/conversations.duckdb through PyAirbyte, a whole conversation of each vendor read back,
#    a data change (new and finished conversations, turns and events appended to old ones) and an
#    incremental sync, each figure checked against the fake API. Exit status 1 if one is off.
# Everything it writes stays in .venv/ and .local/ (both git-ignored), temporary files included unless
# TMPDIR is set. PyAirbyte runs offline, with no usage reporting. Ctrl-C or SIGTERM stops it cleanly,
# the fake API included.
# More options (API versions, data sizes, DuckDB path): bash scripts/demo.sh --help
set -euo pipefail

caller_dir=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Paths on the command line are relative to where the user ran this; the demo runs from the repo root.
absolute() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s' "$caller_dir/$1" ;; esac; }
args=()
config=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config | --db)
      if [ $# -lt 2 ]; then echo "demo: $1 needs a path" >&2; exit 2; fi
      [ "$1" = --config ] && config=$(absolute "$2")
      args+=("$1" "$(absolute "$2")")
      shift 2
      ;;
    --config=* | --db=*)
      [ "${1%%=*}" = --config ] && config=$(absolute "${1#*=}")
      args+=("${1%%=*}" "$(absolute "${1#*=}")")
      shift
      ;;
    -h | --help)
      # The options need no installed package: any Python 3 prints them.
      exec "$(command -v python3 || command -v python)" -m demo --help
      ;;
    *)
      args+=("$1")
      shift
      ;;
  esac
done
if [ -n "$config" ] && [ ! -f "$config" ]; then
  echo "demo: no config file at $config" >&2
  exit 2
fi

# Temporary files (pip's build folders, each connector run's config copy) stay in the project too.
export TMPDIR="${TMPDIR:-$PWD/.local/tmp}"
mkdir -p "$TMPDIR"

# ---- 1. Install, with a progress line (setup-env.sh sends pip's output to .venv/pip-install.log) ----
# Already there? This checkout installed in editable mode, with PyAirbyte, DuckDB and the console script.
installed_here() {
  [ -x .venv/bin/python ] && [ -x .venv/bin/source-conversations ] || return 1
  .venv/bin/python - "$PWD" <<'PY' 2>/dev/null
import importlib.util, pathlib, sys
root = pathlib.Path(sys.argv[1]).resolve()
spec = importlib.util.find_spec("source_conversations")
here = spec is not None and spec.origin is not None and root in pathlib.Path(spec.origin).resolve().parents
sys.exit(0 if here and all(importlib.util.find_spec(name) for name in ("airbyte", "duckdb")) else 1)
PY
}

versions() {
  .venv/bin/python -c 'import importlib.metadata as m; print(", ".join(f"{p} {m.version(p)}" for p in ("airbyte", "duckdb", "airbyte-cdk")))'
}

if installed_here; then
  echo "demo: .venv already runs this checkout (editable install) with PyAirbyte and DuckDB: nothing to install ($(versions))"
else
  log=.venv/pip-install.log
  rm -f "$log"
  started=$(date +%s)
  if command -v setsid >/dev/null 2>&1; then
    EXTRAS=warehouse setsid bash scripts/setup-env.sh &
  else
    EXTRAS=warehouse bash scripts/setup-env.sh &
  fi
  installer=$!

  stop_installer() {
    kill -TERM -- "-$installer" 2>/dev/null || { pkill -TERM -P "$installer" 2>/dev/null; kill -TERM "$installer" 2>/dev/null; } || true
  }
  trap 'echo; echo "demo: interrupted during the install" >&2; stop_installer; exit 130' INT
  trap 'echo; echo "demo: stopped during the install" >&2; stop_installer; exit 143' TERM

  install_status() {
    local collected installing latest
    if [ ! -f "$log" ]; then
      echo "creating .venv"
      return
    fi
    installing=$(grep -m1 '^Installing collected packages:' "$log" 2>/dev/null | tr ',' '\n' | wc -l || true)
    if [ "${installing:-0}" -gt 0 ]; then
      echo "installing $installing packages (the slow part: unpacking about 800 MB)"
      return
    fi
    collected=$(grep -c -E '^(Collecting|Requirement already satisfied)' "$log" 2>/dev/null || true)
    if [ "${collected:-0}" -eq 0 ]; then
      echo "preparing the project (pip builds its metadata first)"
      return
    fi
    latest=$(grep -E '^(Collecting|Downloading|Requirement already satisfied)' "$log" 2>/dev/null | tail -n1 | cut -c1-70 || true)
    echo "resolving and downloading: ${collected:-0} packages so far${latest:+ ($latest)}"
  }

  echo "demo: installing source-conversations[warehouse] into .venv (PyAirbyte, DuckDB); first time: a few minutes"
  last_print=0
  while kill -0 "$installer" 2>/dev/null; do
    sleep 1 &
    wait $! || true
    now=$(date +%s)
    if [ -t 1 ]; then
      printf '\r\033[K  [install %3ss] %s' "$((now - started))" "$(install_status)"
    elif [ $((now - last_print)) -ge 15 ]; then
      echo "  [install $((now - started))s] $(install_status)"
      last_print=$now
    fi
  done
  [ -t 1 ] && printf '\r\033[K'
  status=0
  wait "$installer" || status=$?
  trap - INT TERM
  if [ "$status" -ne 0 ]; then
    echo "demo: the install failed (exit $status); pip's output is in $log" >&2
    exit "$status"
  fi
  echo "demo: install done in $(($(date +%s) - started)) s ($(versions))"
fi

# ---- 2. The demo itself. exec: Ctrl-C and SIGTERM go straight to Python, which stops the fake API. ----
export PYTHONUNBUFFERED=1
exec .venv/bin/python -m demo "${args[@]+"${args[@]}"}"
