#!/bin/sh
# kafka-verifiable-consumer.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.VerifiableConsumer.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.VerifiableConsumer "$@"
