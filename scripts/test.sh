#!/usr/bin/env bash
# Set everything up, then run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

# the gate: lint, format and types (configured in pyproject.toml) before any test runs
echo "gate: ruff check" && .venv/bin/ruff check .
echo "gate: ruff format --check" && .venv/bin/ruff format --check .
echo "gate: mypy" && .venv/bin/mypy

started_docker=""
if [ -f tests/cluster/dockerd.sh ]; then
  if bash tests/cluster/dockerd.sh start; then started_docker=1; fi
fi
cleanup() { if [ -n "$started_docker" ]; then bash tests/cluster/dockerd.sh stop || true; fi; }
trap cleanup EXIT

set +e
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@"
rc=$?
set -e
if [ "$rc" = "5" ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi
exit "$rc"
