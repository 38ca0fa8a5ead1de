#!/bin/sh
# kafka-dump-log.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.DumpLogSegments.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.DumpLogSegments "$@"
