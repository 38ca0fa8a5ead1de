#!/bin/sh
# kafka-console-consumer.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.consumer.ConsoleConsumer.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
