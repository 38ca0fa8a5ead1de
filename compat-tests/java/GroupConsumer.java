import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * One member of a consumer group, as a process the test can start, watch and kill -9.
 *
 * Usage: GroupConsumer bootstrap topic group clientId outFile [commit=sync|none] [key=value ...]
 *
 * Extra key=value pairs are consumer properties (session.timeout.ms, group.instance.id,
 * partition.assignment.strategy, ...); with none, the consumer runs with Java's defaults.
 * Every record is appended to outFile as "partition offset value" and the file is flushed before
 * the offsets are committed (commitSync after each poll), so a committed offset always means the
 * record was written: a restart may repeat records (the uncommitted window), never lose them.
 *
 * Prints to stdout, one event per line (flushed):
 *   FIRST_JOIN_MS n        time from subscribe() to the first assignment callback
 *   ASSIGNED gen p,p,...   partitions assigned (cooperative: the added ones) and the generation
 *   OWNED p,p,...          everything owned after the callback
 *   REVOKED p,... / LOST p,...
 *   CLOSED                 after a clean close (LeaveGroup sent)
 * Stops cleanly when the file outFile + ".stop" appears.
 */
public final class GroupConsumer {
    private GroupConsumer() {}

    static String join(Collection<TopicPartition> tps) {
        List<Integer> ps = new ArrayList<>();
        for (TopicPartition tp : tps) ps.add(tp.partition());
        ps.sort(null);
        StringBuilder b = new StringBuilder();
        for (int p : ps) {
            if (b.length() > 0) b.append(',');
            b.append(p);
        }
        return b.toString();
    }

    static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 5) {
            System.err.println("usage: GroupConsumer bootstrap topic group clientId outFile [commit=sync|none] [key=value ...]");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        String group = args[2];
        String clientId = args[3];
        Path out = Path.of(args[4]);
        Path stop = Path.of(args[4] + ".stop");
        boolean commit = true;
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        for (int i = 5; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            if (kv[0].equals("commit")) {
                commit = kv[1].equals("sync");
            } else {
                p.put(kv[0], kv[1]);
            }
        }
        final boolean doCommit = commit;
        try (BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
             KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            final long subscribedAt = System.nanoTime();
            final boolean[] first = {true};
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    // Eager rebalancing revokes everything first: commit what was read.
                    if (doCommit && !partitions.isEmpty()) {
                        try {
                            w.flush();
                            consumer.commitSync();
                        } catch (Exception e) {
                            say("COMMIT_FAILED " + e.getClass().getSimpleName());
                        }
                    }
                    say("REVOKED " + join(partitions));
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    say("LOST " + join(partitions));
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    if (first[0]) {
                        first[0] = false;
                        say("FIRST_JOIN_MS " + (System.nanoTime() - subscribedAt) / 1_000_000);
                    }
                    say("ASSIGNED " + consumer.groupMetadata().generationId() + " " + join(partitions));
                    say("OWNED " + join(consumer.assignment()));
                }
            });
            while (!Files.exists(stop)) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(100));
                if (records.isEmpty()) continue;
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    String value = r.value() == null ? "null" : new String(r.value(), StandardCharsets.UTF_8);
                    w.write(r.partition() + " " + r.offset() + " " + value + "\n");
                }
                w.flush();
                if (doCommit) {
                    try {
                        consumer.commitSync();
                    } catch (Exception e) {
                        // A rebalance started: the records are written and will be consumed again.
                        say("COMMIT_FAILED " + e.getClass().getSimpleName());
                    }
                }
            }
            w.flush();
        }
        say("CLOSED");
    }
}
