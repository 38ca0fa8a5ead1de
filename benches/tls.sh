#!/bin/bash
# Produce and consume over TLS beside plaintext, with librdkafka 2.12.1's rdkafka_performance
# (benches/setup.sh builds it with TLS). One Vltava broker with a PLAINTEXT and an SSL listener
# (a PEM key store made here with openssl, TLS 1.3, no client certificates), and a second one
# started with --no-sendfile, so the table separates the cost of copying file regions through
# user space (what every TLS fetch does: there is no kernel TLS yet) from the cost of TLS itself.
#
#   benches/tls.sh                 # 3 repetitions of 500,000 x 1 KiB per case
#
# Both brokers run with --memory (memfd segments, same engine): on disk, the page-cache
# writeback of the gigabytes written made later produce runs several times slower than the
# first whatever the transport, which hid the cost of TLS. (~4.5 GB of memory at the defaults.)
#   REPS=1 COUNT=200000 benches/tls.sh
#
# Needs `cargo build --release`. Prints one line per run: case, wall time of the client run and
# the MB/s it gives, the broker's CPU seconds (utime+stime from /proc) during it, and the tool's
# own summary line.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-/tmp/vltava-tls-bench}"
REPS="${REPS:-3}"
COUNT="${COUNT:-500000}"
SIZE="${SIZE:-1024}"
PERF="$HOME/.cache/vltava/bin/rdkafka_performance"
bash "$ROOT/benches/setup.sh" >/dev/null
rm -rf "$WORK" && mkdir -p "$WORK"
cd "$WORK"

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
echo "subjectAltName=IP:127.0.0.1" > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
    -extfile server.ext 2>/dev/null
cat server.key server.pem > server-store.pem

BIN="$WORK/vltava"
cp "$ROOT/target/release/vltava" "$BIN"   # a rebuild during the run cannot change what is measured
"$BIN" serve --memory --listeners PLAINTEXT://127.0.0.1:19192,SSL://127.0.0.1:19193 --log-dirs "$WORK/a" \
    --override ssl.keystore.type=PEM --override ssl.keystore.location="$WORK/server-store.pem" \
    > a.log 2>&1 &
A=$!
"$BIN" serve --memory --no-sendfile --listeners PLAINTEXT://127.0.0.1:19194 --log-dirs "$WORK/b" > b.log 2>&1 &
B=$!
trap 'kill $A $B 2>/dev/null' EXIT
sleep 1

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks=$(getconf CLK_TCK)

run() { # name pid bootstrap mode(P|C) topic extra...
    local name=$1 pid=$2 bootstrap=$3 mode=$4 topic=$5
    shift 5
    local before after line t0 t1
    before=$(cpu "$pid")
    t0=$(date +%s%N)
    if [ "$mode" = P ]; then
        line=$("$PERF" -P -t "$topic" -p 0 -b "$bootstrap" -s "$SIZE" -c "$COUNT" -a -1 \
            -X linger.ms=5 -X batch.size=1000000 "$@" 2>&1 | grep -E "messages produced" | tail -1)
    else
        line=$("$PERF" -C -t "$topic" -p 0 -b "$bootstrap" -o beginning -c "$COUNT" "$@" 2>&1 \
            | grep -E "messages .* consumed" | tail -1)
    fi
    t1=$(date +%s%N)
    after=$(cpu "$pid")
    # Wall time of the whole client run (connect included) and the broker's CPU during it.
    printf '%-28s wall %6.0f ms = %7.1f MB/s | broker CPU %5.2f s | %s\n' "$name" \
        "$(echo "($t1 - $t0) / 1000000" | bc -l)" \
        "$(echo "$COUNT * $SIZE / (($t1 - $t0) / 1000)" | bc -l)" \
        "$(echo "($after - $before) / $ticks" | bc -l)" "${line#% }"
}

SSL=(-X security.protocol=ssl -X ssl.ca.location="$WORK/ca.pem")
for rep in $(seq 1 "$REPS"); do
    echo "== rep $rep ($COUNT x $SIZE B, 1 partition, acks=all)"
    run "produce plaintext"          $A 127.0.0.1:19192 P "plain-$rep"
    run "produce ssl"                $A 127.0.0.1:19193 P "ssl-$rep" "${SSL[@]}"
    run "consume plaintext sendfile" $A 127.0.0.1:19192 C "plain-$rep"
    run "produce plaintext (no-sf)"  $B 127.0.0.1:19194 P "copy-$rep"
    run "consume plaintext copy"     $B 127.0.0.1:19194 C "copy-$rep"
    run "consume ssl (copy)"         $A 127.0.0.1:19193 C "plain-$rep" "${SSL[@]}"
done
