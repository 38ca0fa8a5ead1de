#!/bin/bash
# Transactional vs idempotent producer throughput, Vltava beside Apache Kafka 4.4.0, with Kafka's
# own kafka-producer-perf-test (300,000 x 1 KiB, acks=all, 3 partitions; transactions of 100 ms).
# Needs `cargo build --release` and `compat-tests/setup.sh kafka` first. Prints the tool's
# summary line per run; the runs are client-bound (the Java client's CPU), see BENCHMARKS.md.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-/tmp/vltava-txn-bench}"
rm -rf "$WORK" && mkdir -p "$WORK"
BIN="$ROOT/compat-tests/kafka/bin"
"$ROOT/target/release/vltava" serve --listeners PLAINTEXT://127.0.0.1:19092 --log-dirs $WORK/v > $WORK/v.log 2>&1 &
VP=$!
cd "$ROOT/compat-tests/python" && python3 -c "
from real_kafka import RealKafka
from pathlib import Path
import time
k=RealKafka(Path('$WORK/k')).start()
open('$WORK/k.bootstrap','w').write(k.bootstrap)
time.sleep(1800)
" > $WORK/k.out 2>&1 &
KP=$!
for i in $(seq 1 120); do [ -s $WORK/k.bootstrap ] && break; sleep 1; done
KB=$(cat $WORK/k.bootstrap)
for target in "vltava 127.0.0.1:19092" "kafka $KB"; do
  set -- $target
  for rep in 1 2 3; do
    for mode in txn idem; do
      topic="perf-$mode-$rep"
      $BIN/kafka-topics.sh --bootstrap-server $2 --create --topic $topic --partitions 3 >/dev/null 2>&1
      extra=""
      [ $mode = txn ] && extra="--transactional-id tx-$topic --transaction-duration-ms 100"
      echo "== $1 $mode rep $rep"
      $BIN/kafka-producer-perf-test.sh --topic $topic --num-records 300000 --record-size 1024 --throughput -1 \
        --producer-props bootstrap.servers=$2 acks=all linger.ms=5 batch.size=65536 $extra 2>&1 | tail -1
    done
  done
done
kill $VP; pkill -f "time.sleep(1800)"; sleep 2; true
