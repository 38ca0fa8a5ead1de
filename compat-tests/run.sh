#!/usr/bin/env bash
# Runs the real-client compatibility suite against a release build of the broker.
#   compat-tests/run.sh [extra pytest args...]     e.g.  run.sh -m "not slow"   or   run.sh -k kcat
# Works unattended from a fresh clone (CI=true, no stdin); exits with pytest's status.
#
# setup.sh installs the clients first (cached under ~/.cache/vltava; Python packages in the
# virtual environment ~/.cache/vltava/venv, which runs pytest). The broker is built with
# `cargo build --release` unless VLTAVA_BIN names a binary already built, which is then used as is.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="${VLTAVA_CACHE:-$HOME/.cache/vltava}"

bash "$HERE/setup.sh" </dev/null

if [ -n "${VLTAVA_BIN:-}" ]; then
    [ -x "$VLTAVA_BIN" ] || { echo "run.sh: VLTAVA_BIN=$VLTAVA_BIN is not an executable" >&2; exit 2; }
    echo "[run] VLTAVA_BIN is set: testing $VLTAVA_BIN, no cargo build" >&2
else
    # Release build: the suite pushes hundreds of thousands of records, and the kill -9 test
    # wants the broker the way it is shipped.
    (cd "$ROOT" && cargo build --release) </dev/null
    export VLTAVA_BIN="$ROOT/target/release/vltava"
fi

cd "$HERE/python"
# Pytest's status is the script's status (set -e would also stop here, but spell it out).
set +e
"$CACHE/venv/bin/python" -m pytest -q "$@" </dev/null
status=$?
exit "$status"
