#!/bin/sh
# kafka-reassign-partitions.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.reassign.ReassignPartitionsCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.reassign.ReassignPartitionsCommand "$@"
