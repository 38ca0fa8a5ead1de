#!/bin/sh
# kafka-groups.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.GroupsCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.GroupsCommand "$@"
