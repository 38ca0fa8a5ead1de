#!/usr/bin/env bash
# Runs one main class of Apache Kafka from the jars `compat-tests/setup.sh kafka` fetched from
# Maven Central, the way the distribution's bin/ scripts do (one JVM, every jar on the classpath).
#
#   kafka-run-class.sh <main class> [args...]
#
# Environment (the distribution's names):
#   KAFKA_LIBS                  jar directory; default ~/.cache/vltava/kafka-4.4.0/libs
#   KAFKA_HEAP_OPTS             default -Xmx256m
#   KAFKA_JVM_PERFORMANCE_OPTS  default G1 with short pauses, headless
#   KAFKA_LOG4J_OPTS            default: ../tools-log4j2.properties (warnings and errors to stderr)
#   KAFKA_OPTS                  any further JVM flags
#   JAVA_HOME                   which java (default: the one on PATH)
set -euo pipefail

if [ "$#" -lt 1 ]; then
    echo "usage: $0 <main class> [args...]" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
libs="${KAFKA_LIBS:-${VLTAVA_CACHE:-$HOME/.cache/vltava}/kafka-4.4.0/libs}"
if [ ! -f "$libs/.complete" ]; then
    echo "$0: no Kafka jars in $libs (run compat-tests/setup.sh kafka)" >&2
    exit 1
fi
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
main="$1"
shift
# Word splitting of the *_OPTS variables is intended: each holds several flags.
# shellcheck disable=SC2086
exec "$java" ${KAFKA_HEAP_OPTS:--Xmx256m} \
    ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true} \
    ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$here/../tools-log4j2.properties} \
    ${KAFKA_OPTS:-} \
    -cp "$libs/*" "$main" "$@"
