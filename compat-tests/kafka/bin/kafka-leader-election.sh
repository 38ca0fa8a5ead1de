#!/bin/sh
# kafka-leader-election.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.LeaderElectionCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.LeaderElectionCommand "$@"
