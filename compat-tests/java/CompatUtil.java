import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Pieces shared by the compat test programs. */
final class CompatUtil {
    private CompatUtil() {}

    /** Collects mismatches so one run reports many of them, not just the first. */
    static final class Failures {
        private final List<String> samples = new ArrayList<>();
        private long count;

        synchronized void add(String msg) {
            count++;
            if (samples.size() < 25) samples.add(msg);
        }

        synchronized long count() { return count; }

        synchronized void printTo(java.io.PrintStream out) {
            for (String s : samples) out.println("  MISMATCH: " + s);
            if (count > samples.size()) out.println("  ... and " + (count - samples.size()) + " more");
        }
    }

    static Properties adminProps(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "compat-admin");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
        return p;
    }

    /** A consumer without group.id: the broker has no group coordinator, so assign + seek only. */
    static Properties consumerProps(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "compat-consumer");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        // Default is true already; stated because CRC checking of every fetched batch is part of
        // what these tests rely on.
        p.put(ConsumerConfig.CHECK_CRCS_CONFIG, "true");
        return p;
    }

    /**
     * Creates the topic and checks that describeTopics sees it with the requested partition count,
     * each led by node 1. Returns false if it already existed (only allowed when tolerateExisting).
     */
    static boolean createTopic(String bootstrap, String topic, int partitions, boolean tolerateExisting)
            throws Exception {
        try (Admin admin = Admin.create(adminProps(bootstrap))) {
            boolean created = true;
            try {
                admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1)))
                        .all().get(60, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (tolerateExisting && e.getCause() instanceof TopicExistsException) {
                    created = false;
                } else {
                    throw new IllegalStateException("createTopics(" + topic + ") failed: " + e.getCause(), e);
                }
            }
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(60, TimeUnit.SECONDS).get(topic);
            if (created && d.partitions().size() != partitions) {
                throw new IllegalStateException("describeTopics(" + topic + "): " + d.partitions().size()
                        + " partitions, created with " + partitions);
            }
            for (TopicPartitionInfo pi : d.partitions()) {
                if (pi.leader() == null || pi.leader().id() != 1) {
                    throw new IllegalStateException("describeTopics(" + topic + "): partition "
                            + pi.partition() + " leader is " + pi.leader() + ", expected node 1");
                }
            }
            return created;
        }
    }

    interface RecordHandler {
        void accept(ConsumerRecord<byte[], byte[]> rec);
    }

    /**
     * Reads every assigned partition from the beginning up to the end offset it has now, handing
     * each record to the handler in the order received. Fails if no progress is made for
     * stallMs (a broker that stops answering fetches must not hang the suite).
     */
    static Map<TopicPartition, Long> readAll(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> tps,
                                             long stallMs, RecordHandler handler) {
        consumer.assign(tps);
        consumer.seekToBeginning(tps);
        Map<TopicPartition, Long> begin = consumer.beginningOffsets(tps, Duration.ofSeconds(60));
        for (Map.Entry<TopicPartition, Long> e : begin.entrySet()) {
            if (e.getValue() != 0L) {
                throw new IllegalStateException("beginningOffsets(" + e.getKey() + ") = " + e.getValue()
                        + ", expected 0 (nothing was deleted)");
            }
        }
        Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofSeconds(60));
        Map<TopicPartition, Long> remaining = new HashMap<>(end);
        remaining.values().removeIf(v -> v == 0L);
        long lastProgress = System.currentTimeMillis();
        while (!remaining.isEmpty()) {
            ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(500));
            if (!recs.isEmpty()) lastProgress = System.currentTimeMillis();
            for (ConsumerRecord<byte[], byte[]> r : recs) handler.accept(r);
            for (TopicPartition tp : new ArrayList<>(remaining.keySet())) {
                if (consumer.position(tp) >= remaining.get(tp)) remaining.remove(tp);
            }
            if (System.currentTimeMillis() - lastProgress > stallMs) {
                Map<TopicPartition, Long> pos = new HashMap<>();
                for (TopicPartition tp : remaining.keySet()) pos.put(tp, consumer.position(tp));
                throw new IllegalStateException("consumer made no progress for " + stallMs + " ms; positions "
                        + pos + ", end offsets " + end);
            }
        }
        // Anything served beyond the end offsets reported by ListOffsets is also a bug; give the
        // fetcher a moment to show it.
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(300))) handler.accept(r);
        return Collections.unmodifiableMap(end);
    }

    static String hex(byte[] b) {
        if (b == null) return "null";
        StringBuilder sb = new StringBuilder();
        int n = Math.min(b.length, 24);
        for (int i = 0; i < n; i++) sb.append(String.format("%02x", b[i]));
        if (b.length > n) sb.append("...(").append(b.length).append(" bytes)");
        return sb.toString();
    }
}
