#!/usr/bin/env bash
# Runs bench/duckdb_run.py (a benchmark's DuckDB query on its files) in a virtualenv under the
# target directory, installing DuckDB from PyPI there the first time.
# Usage: run_duckdb.sh QUERY.sql OUT.csv NAME=PATH...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../../../target}"
venv="$target/roster-bench/venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet duckdb >&2
fi
exec "$venv/bin/python" "$here/duckdb_run.py" "$@"
