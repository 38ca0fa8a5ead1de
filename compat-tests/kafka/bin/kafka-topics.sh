#!/bin/sh
# kafka-topics.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.TopicCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.TopicCommand "$@"
