#!/bin/sh
# kafka-e2e-latency.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.EndToEndLatency.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.EndToEndLatency "$@"
