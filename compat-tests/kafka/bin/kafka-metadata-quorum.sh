#!/bin/sh
# kafka-metadata-quorum.sh of Apache Kafka 4.4: main class org.apache.kafka.tools.MetadataQuorumCommand.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.MetadataQuorumCommand "$@"
