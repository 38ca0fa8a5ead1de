import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Topic configs doing their job, seen by the Java clients:
 *  - retention: with retention.ms, segments of old records disappear and listOffsets(earliest)
 *    moves forward within a bounded time; with retention.bytes, the partition's size (from
 *    describeLogDirs) stays bounded while a producer keeps writing;
 *  - compact: 100,000 records over 1,000 keys end, after cleaning, with exactly the latest value
 *    of each key when read from the beginning; tombstoned keys are first seen as deletes, then
 *    vanish after delete.retention.ms; a record without a key is refused.
 *
 * The broker must run with small log.retention.check.interval.ms and log.cleaner.backoff.ms.
 * Usage: AdminRetention bootstrap topicPrefix retention|compact
 */
public final class AdminRetention {
    private static final long T = 60;
    private static final CompatUtil.Failures FAILURES = new CompatUtil.Failures();

    private static void check(boolean ok, String what) {
        if (!ok) FAILURES.add(what);
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String prefix = args[1];
        try (Admin admin = Admin.create(CompatUtil.adminProps(bootstrap))) {
            if (args[2].equals("retention")) {
                retentionMs(admin, bootstrap, prefix + "-ms");
                retentionBytes(admin, bootstrap, prefix + "-bytes");
            } else {
                compact(admin, bootstrap, prefix + "-compact");
            }
        }
        if (FAILURES.count() > 0) {
            System.out.println("AdminRetention FAILED: " + FAILURES.count() + " mismatches");
            FAILURES.printTo(System.out);
            System.exit(1);
        }
        System.out.println("AdminRetention OK");
    }

    private static KafkaProducer<String, String> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        return new KafkaProducer<>(p);
    }

    private static long offset(Admin admin, TopicPartition tp, OffsetSpec spec) throws Exception {
        return admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get(T, TimeUnit.SECONDS).offset();
    }

    private static long size(Admin admin, TopicPartition tp) throws Exception {
        Map<Integer, Map<String, LogDirDescription>> dirs =
                admin.describeLogDirs(List.of(1)).allDescriptions().get(T, TimeUnit.SECONDS);
        for (LogDirDescription d : dirs.getOrDefault(1, Map.of()).values()) {
            ReplicaInfo ri = d.replicaInfos().get(tp);
            if (ri != null) return ri.size();
        }
        return -1;
    }

    private static void retentionMs(Admin admin, String bootstrap, String topic) throws Exception {
        // Ten minutes of retention; segments roll every 100 ms of record time.
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1)
                .configs(Map.of("retention.ms", "600000", "segment.ms", "100")))).all().get(T, TimeUnit.SECONDS);
        TopicPartition tp = new TopicPartition(topic, 0);
        long now = System.currentTimeMillis();
        try (KafkaProducer<String, String> p = producer(bootstrap)) {
            // An hour old, 10 ms apart: about a hundred segments, all past retention.
            for (int i = 0; i < 1000; i++) {
                p.send(new ProducerRecord<>(topic, 0, now - 3_600_000L + i * 10L, "k" + i, "old-" + i));
            }
            p.flush();
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>(topic, 0, now + i, "k" + i, "new-" + i));
            p.flush();
        }
        long deadline = System.currentTimeMillis() + 30_000;
        long earliest = 0;
        while (System.currentTimeMillis() < deadline) {
            earliest = offset(admin, tp, OffsetSpec.earliest());
            if (earliest == 1000) break;
            Thread.sleep(100);
        }
        check(earliest == 1000, "retention.ms: earliest offset " + earliest + " after 30 s, expected 1000");
        check(offset(admin, tp, OffsetSpec.latest()) == 1010, "retention.ms: latest offset moved");
        // A consumer from the beginning sees only the fresh records.
        Map<String, String> seen = readAll(bootstrap, tp, null);
        check(seen.size() == 10 && seen.values().stream().allMatch(v -> v.startsWith("new-")),
                "retention.ms: consumer saw " + seen.size() + " records: " + seen.values().stream().limit(3).toList());
    }

    private static void retentionBytes(Admin admin, String bootstrap, String topic) throws Exception {
        long limit = 200_000;
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1)
                .configs(Map.of("retention.bytes", String.valueOf(limit), "segment.ms", "100")))).all().get(T, TimeUnit.SECONDS);
        TopicPartition tp = new TopicPartition(topic, 0);
        String value = "x".repeat(1000);
        long start = System.currentTimeMillis() - 120_000;
        long maxSeen = 0;
        int chunk = 500;
        try (KafkaProducer<String, String> p = producer(bootstrap)) {
            for (int i = 0; i < 10 * chunk; i++) {
                p.send(new ProducerRecord<>(topic, 0, start + i * 10L, "k", value));
                if (i % chunk == chunk - 1) {
                    p.flush();
                    Thread.sleep(300);
                    maxSeen = Math.max(maxSeen, size(admin, tp));
                }
            }
        }
        // Between two retention checks at most one chunk (~520 KB) arrives; whole segments
        // (~10 records) go, so the size settles within one segment above the limit.
        check(maxSeen < limit + 600_000, "retention.bytes: size reached " + maxSeen + " while producing");
        long deadline = System.currentTimeMillis() + 30_000;
        long size = Long.MAX_VALUE;
        while (System.currentTimeMillis() < deadline) {
            size = size(admin, tp);
            if (size < limit + 20_000) break;
            Thread.sleep(100);
        }
        check(size >= limit - 20_000 && size < limit + 20_000, "retention.bytes: size " + size + ", limit " + limit);
        long earliest = offset(admin, tp, OffsetSpec.earliest());
        check(earliest > 4500, "retention.bytes: earliest offset " + earliest);
    }

    /** key -> value (null for a tombstone) as a consumer reading from the beginning sees them;
     *  counts every record per key in `counts` when given. */
    private static Map<String, String> readAll(String bootstrap, TopicPartition tp, Map<String, Integer> counts) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        Map<String, String> latest = new TreeMap<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = consumer.endOffsets(List.of(tp), Duration.ofSeconds(T)).get(tp);
            long lastOffset = -1;
            long stalled = System.currentTimeMillis();
            while (consumer.position(tp) < end) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    check(r.offset() > lastOffset, "offsets go backwards: " + r.offset() + " after " + lastOffset);
                    lastOffset = r.offset();
                    latest.put(r.key(), r.value());
                    if (counts != null) counts.merge(r.key(), 1, Integer::sum);
                    stalled = System.currentTimeMillis();
                }
                if (System.currentTimeMillis() - stalled > 30_000) {
                    throw new IllegalStateException("consumer stalled at " + consumer.position(tp) + " of " + end);
                }
            }
        }
        return latest;
    }

    private static void compact(Admin admin, String bootstrap, String topic) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1).configs(Map.of(
                "cleanup.policy", "compact",
                "segment.ms", "100",
                "min.cleanable.dirty.ratio", "0.01",
                "delete.retention.ms", "2000")))).all().get(T, TimeUnit.SECONDS);
        TopicPartition tp = new TopicPartition(topic, 0);
        int keys = 1000;
        int total = 100_000;
        Map<String, String> expected = new HashMap<>();
        Set<String> deleted = new java.util.HashSet<>();
        try (KafkaProducer<String, String> p = producer(bootstrap)) {
            for (int i = 0; i < total; i++) {
                String k = "key-" + (i % keys);
                String v = "value-" + i;
                p.send(new ProducerRecord<>(topic, 0, k, v));
                expected.put(k, v);
            }
            p.flush();
            // A record without a key is refused by a compacted topic.
            try {
                p.send(new ProducerRecord<>(topic, 0, null, "no key")).get(T, TimeUnit.SECONDS);
                FAILURES.add("a keyless record was accepted by a compacted topic");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof InvalidRecordException, "keyless record: " + e.getCause());
            }
            // Tombstones for 100 keys.
            for (int k = 0; k < 100; k++) {
                p.send(new ProducerRecord<>(topic, 0, "key-" + k, null));
                deleted.add("key-" + k);
            }
            p.flush();
            // Later writes to another key roll the segment holding everything above.
            Thread.sleep(300);
            p.send(new ProducerRecord<>(topic, 0, "filler", "roll")).get(T, TimeUnit.SECONDS);
        }

        // After cleaning: every key exactly once with its latest value, tombstones still there.
        long deadline = System.currentTimeMillis() + 90_000;
        Map<String, String> seen = Map.of();
        Map<String, Integer> counts = new HashMap<>();
        while (System.currentTimeMillis() < deadline) {
            counts = new HashMap<>();
            seen = readAll(bootstrap, tp, counts);
            boolean once = counts.values().stream().allMatch(n -> n == 1);
            if (once && counts.size() == keys + 1) break;
            Thread.sleep(500);
        }
        int wrong = 0;
        for (int k = 0; k < keys; k++) {
            String key = "key-" + k;
            String want = deleted.contains(key) ? null : expected.get(key);
            if (!seen.containsKey(key) && want == null) continue; // tombstone already gone
            if (!java.util.Objects.equals(seen.get(key), want) || counts.getOrDefault(key, 0) != 1) {
                if (wrong++ < 10) {
                    FAILURES.add("compact: " + key + " = " + seen.get(key) + " x" + counts.get(key) + ", expected " + want);
                }
            }
        }
        check(wrong == 0, "compact: " + wrong + " keys wrong after cleaning");
        long records = counts.values().stream().mapToLong(Integer::longValue).sum();
        System.out.println("compact: " + records + " records after cleaning (" + total + " + 100 tombstones written)");

        // After delete.retention.ms the tombstoned keys vanish.
        deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            seen = readAll(bootstrap, tp, null);
            if (deleted.stream().noneMatch(seen::containsKey)) break;
            Thread.sleep(500);
        }
        long left = deleted.stream().filter(seen::containsKey).count();
        check(left == 0, "compact: " + left + " tombstoned keys still readable after delete.retention.ms");
        check(seen.size() == keys - deleted.size() + 1, "compact: " + seen.size() + " keys left, expected " + (keys - deleted.size() + 1));
        for (Map.Entry<String, String> e : seen.entrySet()) {
            if (e.getKey().equals("filler")) continue;
            check(e.getValue() != null && e.getValue().equals(expected.get(e.getKey())),
                    "compact: final " + e.getKey() + " = " + e.getValue());
        }
        check(offset(admin, tp, OffsetSpec.latest()) == total + 101, "compact: log end offset moved");
    }
}
