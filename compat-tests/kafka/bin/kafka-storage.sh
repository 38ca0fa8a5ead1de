#!/bin/sh
# kafka-storage.sh of Apache Kafka 4.4: main class kafka.tools.StorageTool.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
