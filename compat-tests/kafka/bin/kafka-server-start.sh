#!/bin/sh
# kafka-server-start.sh of Apache Kafka 4.4: main class kafka.Kafka, argument server.properties.
# A smaller default heap than the distribution's 1 GB (this runs beside the tests), INFO logging.
here="$(dirname "$0")"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms512m}"
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$here/../server-log4j2.properties}"
exec "$here/kafka-run-class.sh" kafka.Kafka "$@"
