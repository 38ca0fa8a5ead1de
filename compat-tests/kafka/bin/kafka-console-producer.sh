#!/bin/sh
# kafka-console-producer.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.ConsoleProducer.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.ConsoleProducer "$@"
