#!/usr/bin/env bash
# Runs the real-client compatibility suite against a release build of the broker.
#   compat-tests/run.sh [extra pytest args...]     e.g.  run.sh -m "not slow"   or   run.sh -k kcat
# Works unattended from a fresh clone (CI=true, no stdin); exits with pytest's status.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"

bash "$HERE/setup.sh" </dev/null

# Release build: the suite pushes hundreds of thousands of records, and the kill -9 test wants
# the broker the way it is shipped.
(cd "$ROOT" && cargo build --release) </dev/null

export VLTAVA_BIN="${VLTAVA_BIN:-$ROOT/target/release/vltava}"
cd "$HERE/python"
# Pytest's status is the script's status (set -e would also stop here, but spell it out).
set +e
"$PYTHON" -m pytest -q "$@" </dev/null
status=$?
exit "$status"
