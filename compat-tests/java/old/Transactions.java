import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Transactions with whatever kafka-clients version is on the classpath (compiled per version by
 * setup.sh clients). Prints "VERSION v", data lines the Python test re-checks, "FAIL ..." for
 * every mismatch the program sees itself, and "OK" at the end when there was none.
 *
 *   Transactions basic   bootstrap topic            commit, abort, commit; read_committed sees
 *                                                   only committed records, read_uncommitted all
 *   Transactions fence   bootstrap topic            a second producer with the same id fences the
 *                                                   first and its open transaction is aborted
 *   Transactions timeout bootstrap topic            a transaction past transaction.timeout.ms is
 *                                                   aborted by the broker, the producer fenced
 *   Transactions eos     bootstrap in out group n   consume-transform-produce with
 *                                                   sendOffsetsToTransaction until n records are
 *                                                   done, surviving broker restarts
 */
public final class Transactions {
    private static final List<String> failures = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        System.out.println("VERSION " + OldClientCheck.clientVersion());
        String mode = args[0];
        String bootstrap = args[1];
        switch (mode) {
            case "basic": basic(bootstrap, args[2]); break;
            case "fence": fence(bootstrap, args[2]); break;
            case "timeout": timeout(bootstrap, args[2]); break;
            case "eos": eos(bootstrap, args[2], args[3], args[4], Integer.parseInt(args[5])); break;
            default: throw new IllegalArgumentException(mode);
        }
        for (String f : failures) System.out.println("FAIL " + f);
        if (failures.isEmpty()) System.out.println("OK");
        System.out.flush();
        System.exit(failures.isEmpty() ? 0 : 1);
    }

    static void check(boolean ok, String what) {
        if (!ok) failures.add(what);
    }

    static void createTopic(String bootstrap, String topic, int partitions) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(p)) {
            admin.createTopics(Collections.singleton(new NewTopic(topic, partitions, (short) 1))).all().get();
        }
    }

    static Properties producerProps(String bootstrap, String txnId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "60000");
        return p;
    }

    static KafkaConsumer<String, String> consumer(String bootstrap, String isolation, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        if (group != null) p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        return new KafkaConsumer<>(p);
    }

    /** Every record of the topic up to its end for this isolation level, as "offset:key=value". */
    static List<String> readAll(String bootstrap, String topic, String isolation, int partitions) {
        List<String> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer(bootstrap, isolation, null)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < partitions; i++) tps.add(new TopicPartition(topic, i));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long deadline = System.currentTimeMillis() + 30_000;
            while (System.currentTimeMillis() < deadline) {
                boolean done = true;
                for (TopicPartition tp : tps) done &= c.position(tp) >= end.get(tp);
                if (done) break;
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    out.add(r.partition() + "/" + r.offset() + ":" + r.key() + "=" + r.value());
                }
            }
            for (TopicPartition tp : tps) {
                System.out.println("END " + isolation + " " + tp.partition() + " " + end.get(tp)
                        + " position " + c.position(tp));
            }
        }
        return out;
    }

    static List<String> keysOf(List<String> records) {
        List<String> keys = new ArrayList<>();
        for (String r : records) keys.add(r.substring(r.indexOf(':') + 1, r.indexOf('=')));
        return keys;
    }

    static void basic(String bootstrap, String topic) throws Exception {
        createTopic(bootstrap, topic, 2);
        try (KafkaProducer<String, String> p = new KafkaProducer<>(producerProps(bootstrap, "tx-" + topic))) {
            p.initTransactions();
            String[][] plan = {{"c1", "commit"}, {"a1", "abort"}, {"c2", "commit"}};
            for (String[] step : plan) {
                p.beginTransaction();
                for (int i = 0; i < 10; i++) {
                    p.send(new ProducerRecord<>(topic, i % 2, step[0] + "-" + i, "v" + i));
                }
                p.flush();
                if (step[1].equals("commit")) p.commitTransaction(); else p.abortTransaction();
            }
        }
        List<String> committed = readAll(bootstrap, topic, "read_committed", 2);
        List<String> all = readAll(bootstrap, topic, "read_uncommitted", 2);
        for (String r : committed) System.out.println("COMMITTED " + r);
        System.out.println("UNCOMMITTED_COUNT " + all.size());
        List<String> keys = keysOf(committed);
        Collections.sort(keys);
        List<String> want = new ArrayList<>();
        for (String prefix : new String[] {"c1", "c2"}) for (int i = 0; i < 10; i++) want.add(prefix + "-" + i);
        Collections.sort(want);
        check(keys.equals(want), "read_committed keys " + keys);
        check(all.size() == 30, "read_uncommitted sees all 30 data records, got " + all.size());
    }

    static void fence(String bootstrap, String topic) throws Exception {
        createTopic(bootstrap, topic, 1);
        String id = "tx-" + topic;
        KafkaProducer<String, String> first = new KafkaProducer<>(producerProps(bootstrap, id));
        first.initTransactions();
        first.beginTransaction();
        first.send(new ProducerRecord<>(topic, 0, "old", "from the first producer")).get();
        try (KafkaProducer<String, String> second = new KafkaProducer<>(producerProps(bootstrap, id))) {
            second.initTransactions();
            String fencedBy = "none";
            try {
                first.send(new ProducerRecord<>(topic, 0, "old2", "after the fence")).get();
                first.commitTransaction();
            } catch (Exception e) {
                Throwable t = e.getCause() != null && !(e instanceof KafkaException) ? e.getCause() : e;
                fencedBy = t.getClass().getSimpleName();
            }
            System.out.println("FENCED " + fencedBy);
            check(fencedBy.equals("ProducerFencedException") || fencedBy.equals("InvalidProducerEpochException"),
                    "the first producer is fenced, got " + fencedBy);
            second.beginTransaction();
            second.send(new ProducerRecord<>(topic, 0, "new", "from the second producer"));
            second.commitTransaction();
        }
        try {
            first.close(Duration.ofSeconds(5));
        } catch (Exception ignored) {
        }
        List<String> keys = keysOf(readAll(bootstrap, topic, "read_committed", 1));
        System.out.println("KEYS " + String.join(",", keys));
        check(keys.equals(List.of("new")), "only the second producer's record is committed: " + keys);
    }

    static void timeout(String bootstrap, String topic) throws Exception {
        createTopic(bootstrap, topic, 1);
        Properties props = producerProps(bootstrap, "tx-" + topic);
        props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "1500");
        String outcome = "committed";
        try (KafkaProducer<String, String> p = new KafkaProducer<>(props)) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, "late", "never committed")).get();
            Thread.sleep(5_000);
            try {
                p.commitTransaction();
            } catch (ProducerFencedException | InvalidProducerEpochException e) {
                outcome = e.getClass().getSimpleName();
            } catch (KafkaException e) {
                outcome = e.getClass().getSimpleName() + ": " + e.getMessage();
            }
        }
        System.out.println("TIMEOUT_OUTCOME " + outcome);
        check(!outcome.equals("committed"), "the timed-out transaction could not commit");
        List<String> committed = readAll(bootstrap, topic, "read_committed", 1);
        check(committed.isEmpty(), "nothing of the aborted transaction is visible: " + committed);
    }

    /** Consume-transform-produce; values of `in` are integers, `out` gets value*2 keyed by it. */
    static void eos(String bootstrap, String in, String out, String group, int n) throws Exception {
        Properties props = producerProps(bootstrap, "eos-" + group);
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "120000");
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "120000");
        props.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        int done = 0;
        int aborted = 0;
        long deadline = System.currentTimeMillis() + 240_000;
        try (KafkaConsumer<String, String> c = consumer(bootstrap, "read_committed", group);
             KafkaProducer<String, String> p = new KafkaProducer<>(props)) {
            p.initTransactions();
            c.subscribe(Collections.singleton(in));
            while (System.currentTimeMillis() < deadline) {
                Map<TopicPartition, Long> committed = committedTotal(c);
                long total = 0;
                for (long v : committed.values()) total += v;
                if (total >= n) break;
                ConsumerRecords<String, String> records;
                try {
                    records = c.poll(Duration.ofMillis(500));
                } catch (KafkaException e) {
                    System.out.println("POLL_ERROR " + e);
                    continue;
                }
                if (records.isEmpty()) continue;
                try {
                    p.beginTransaction();
                    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                    for (ConsumerRecord<String, String> r : records) {
                        int v = Integer.parseInt(r.value());
                        p.send(new ProducerRecord<>(out, r.value(), Integer.toString(v * 2)));
                        offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    }
                    p.sendOffsetsToTransaction(offsets, c.groupMetadata());
                    p.commitTransaction();
                    done += records.count();
                } catch (ProducerFencedException e) {
                    failures.add("fenced: " + e);
                    return;
                } catch (KafkaException e) {
                    System.out.println("TXN_ERROR " + e);
                    aborted++;
                    try {
                        p.abortTransaction();
                    } catch (KafkaException e2) {
                        System.out.println("ABORT_ERROR " + e2);
                    }
                    // Back to the last committed positions: what was read is processed again.
                    Map<TopicPartition, OffsetAndMetadata> last = c.committed(c.assignment());
                    for (TopicPartition tp : c.assignment()) {
                        OffsetAndMetadata o = last.get(tp);
                        if (o != null) c.seek(tp, o.offset()); else c.seekToBeginning(Collections.singleton(tp));
                    }
                }
            }
            Map<TopicPartition, Long> committed = committedTotal(c);
            for (Map.Entry<String, Long> e : new TreeMap<>(asStrings(committed)).entrySet()) {
                System.out.println("GROUP_OFFSET " + e.getKey() + " " + e.getValue());
            }
        }
        System.out.println("PROCESSED " + done + " ABORTED_TXNS " + aborted);
        List<String> outRecords = readAll(bootstrap, out, "read_committed", 1);
        Map<String, Integer> seen = new HashMap<>();
        for (String r : outRecords) {
            String key = r.substring(r.indexOf(':') + 1, r.indexOf('='));
            String value = r.substring(r.indexOf('=') + 1);
            seen.merge(key, 1, Integer::sum);
            check(Integer.parseInt(value) == Integer.parseInt(key) * 2, "transformed value " + r);
        }
        System.out.println("OUT_COUNT " + outRecords.size() + " DISTINCT " + seen.size());
        check(outRecords.size() == n, "every input once in the output: " + outRecords.size() + " of " + n);
        check(seen.size() == n, "distinct outputs " + seen.size());
    }

    @SuppressWarnings("unchecked")
    static Map<TopicPartition, Long> committedTotal(KafkaConsumer<String, String> c) {
        Set<TopicPartition> assigned = c.assignment();
        Map<TopicPartition, Long> out = new HashMap<>();
        if (assigned.isEmpty()) return out;
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : c.committed(assigned).entrySet()) {
            if (e.getValue() != null) out.put(e.getKey(), e.getValue().offset());
        }
        return out;
    }

    static Map<String, Long> asStrings(Map<TopicPartition, Long> m) {
        Map<String, Long> out = new HashMap<>();
        for (Map.Entry<TopicPartition, Long> e : m.entrySet()) out.put(e.getKey().toString(), e.getValue());
        return out;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
