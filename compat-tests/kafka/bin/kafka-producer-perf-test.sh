#!/bin/sh
# kafka-producer-perf-test.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.ProducerPerformance.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ProducerPerformance "$@"
