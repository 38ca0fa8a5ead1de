#!/bin/sh
# kafka-broker-api-versions.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.BrokerApiVersionsCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
