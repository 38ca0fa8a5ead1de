#!/bin/sh
# kafka-consumer-perf-test.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.ConsumerPerformance.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ConsumerPerformance "$@"
