#!/bin/sh
# kafka-configs.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.ConfigCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ConfigCommand "$@"
