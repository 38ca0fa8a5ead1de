import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Produce, consume, commit and resume with whichever kafka-clients version is on the classpath.
 * Written against the API that 2.8 through 4.4 share, and compiled once per client version by
 * setup.sh (`setup.sh clients`).
 *
 * Usage: OldClientCheck bootstrap topic group count compression
 *
 * Record i goes to partition i % 3 with key "k-i", value "v-i-<client version>" and header
 * ("idx", "i"). Steps, each printing what it saw (python/test_old_clients.py parses these lines
 * and checks them again through another client):
 *   VERSION v
 *   PRODUCED p offsets    offsets the broker acknowledged, per partition, in send order
 *   READ1 p first last n  first consumer of the group: everything from the start
 *   COMMITTED p o meta    what committed() returns after committing the first half
 *   READ2 p first last n  a second consumer in the same group resumes from the commit
 *   FINAL p o             committed offset after the second consumer's commitSync()
 *   OK / FAIL reason
 * The program itself checks that offsets are contiguous from 0, that every record comes back
 * once with its key, value and header, and that the resume starts exactly at the commit.
 */
public final class OldClientCheck {
    private OldClientCheck() {}

    static final int PARTITIONS = 3;
    static final List<String> failures = new ArrayList<>();

    static void check(boolean ok, String msg) {
        if (!ok && failures.size() < 30) failures.add(msg);
    }

    static Properties consumerProps(String bootstrap, String group, String clientId) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        return p;
    }

    /** Polls until `want` records arrived or 60 s passed; returns them per partition in order. */
    static Map<Integer, List<ConsumerRecord<String, String>>> readAll(
            KafkaConsumer<String, String> c, int want) {
        Map<Integer, List<ConsumerRecord<String, String>>> got = new HashMap<>();
        for (int p = 0; p < PARTITIONS; p++) got.put(p, new ArrayList<>());
        int n = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (n < want && System.nanoTime() < deadline) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                got.get(r.partition()).add(r);
                n++;
            }
        }
        return got;
    }

    /** Record i's index from its key, or -1. */
    static int indexOf(ConsumerRecord<String, String> r) {
        try {
            return Integer.parseInt(r.key().substring(2));
        } catch (RuntimeException e) {
            return -1;
        }
    }

    static void verify(String who, ConsumerRecord<String, String> r, String version) {
        int i = indexOf(r);
        String where = who + " p" + r.partition() + "@" + r.offset();
        check(i >= 0 && i % PARTITIONS == r.partition(), where + ": key " + r.key() + " on the wrong partition");
        // Record i is the (i / 3)-th on its partition, so its offset is i / 3 on a fresh topic.
        check(r.offset() == i / PARTITIONS, where + ": key " + r.key() + " expected at offset " + (i / PARTITIONS));
        check(("v-" + i + "-" + version).equals(r.value()), where + ": value " + r.value());
        Header h = r.headers().lastHeader("idx");
        check(h != null && Integer.toString(i).equals(new String(h.value(), StandardCharsets.UTF_8)),
                where + ": header idx missing or wrong");
    }

    /** The client's version, from the properties file every kafka-clients jar carries. */
    static String clientVersion() throws java.io.IOException {
        Properties v = new Properties();
        try (InputStream in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            if (in == null) return "unknown";
            v.load(in);
        }
        return v.getProperty("version", "unknown");
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 5) {
            System.err.println("usage: OldClientCheck bootstrap topic group count compression");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        String group = args[2];
        int count = Integer.parseInt(args[3]);
        String compression = args[4];
        String version = clientVersion();
        System.out.println("VERSION " + version);

        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(Collections.singleton(new NewTopic(topic, PARTITIONS, (short) 1)))
                    .all().get(60, TimeUnit.SECONDS);
        }

        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        Map<Integer, List<Long>> produced = new HashMap<>();
        for (int p = 0; p < PARTITIONS; p++) produced.put(p, new ArrayList<>());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            List<Future<RecordMetadata>> acks = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                ProducerRecord<String, String> rec = new ProducerRecord<>(topic, i % PARTITIONS,
                        "k-" + i, "v-" + i + "-" + version);
                rec.headers().add("idx", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                acks.add(producer.send(rec));
            }
            for (Future<RecordMetadata> f : acks) {
                RecordMetadata md = f.get(60, TimeUnit.SECONDS);
                produced.get(md.partition()).add(md.offset());
            }
        }
        for (int p = 0; p < PARTITIONS; p++) {
            List<Long> offs = produced.get(p);
            StringBuilder b = new StringBuilder();
            for (int k = 0; k < offs.size(); k++) {
                check(offs.get(k) == k, "partition " + p + ": ack #" + k + " has offset " + offs.get(k));
                if (k > 0) b.append(',');
                b.append(offs.get(k));
            }
            System.out.println("PRODUCED " + p + " " + b);
        }

        Set<TopicPartition> tps = new HashSet<>();
        for (int p = 0; p < PARTITIONS; p++) tps.add(new TopicPartition(topic, p));

        // First member: read everything, commit only the first half of each partition.
        Map<TopicPartition, OffsetAndMetadata> half = new HashMap<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumerProps(bootstrap, group, "old-1"))) {
            c.subscribe(Collections.singleton(topic));
            Map<Integer, List<ConsumerRecord<String, String>>> got = readAll(c, count);
            for (int p = 0; p < PARTITIONS; p++) {
                List<ConsumerRecord<String, String>> rs = got.get(p);
                for (ConsumerRecord<String, String> r : rs) verify("read1", r, version);
                check(rs.size() == produced.get(p).size(),
                        "read1 p" + p + ": " + rs.size() + " records, produced " + produced.get(p).size());
                System.out.println("READ1 " + p + " " + (rs.isEmpty() ? -1 : rs.get(0).offset()) + " "
                        + (rs.isEmpty() ? -1 : rs.get(rs.size() - 1).offset()) + " " + rs.size());
                long mid = produced.get(p).size() / 2;
                half.put(new TopicPartition(topic, p), new OffsetAndMetadata(mid, "old-client-" + version));
            }
            c.commitSync(half);
            Map<TopicPartition, OffsetAndMetadata> committed = c.committed(tps);
            for (int p = 0; p < PARTITIONS; p++) {
                OffsetAndMetadata om = committed.get(new TopicPartition(topic, p));
                check(om != null && om.offset() == half.get(new TopicPartition(topic, p)).offset()
                        && ("old-client-" + version).equals(om.metadata()),
                        "committed p" + p + " reads back as " + om);
                System.out.println("COMMITTED " + p + " " + (om == null ? -1 : om.offset()) + " "
                        + (om == null ? "-" : om.metadata()));
            }
        }

        // Second member of the same group: must start exactly at the committed offsets.
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumerProps(bootstrap, group, "old-2"))) {
            c.subscribe(Collections.singleton(topic));
            int want = 0;
            for (int p = 0; p < PARTITIONS; p++) {
                want += produced.get(p).size() - (int) half.get(new TopicPartition(topic, p)).offset();
            }
            Map<Integer, List<ConsumerRecord<String, String>>> got = readAll(c, want);
            for (int p = 0; p < PARTITIONS; p++) {
                List<ConsumerRecord<String, String>> rs = got.get(p);
                long from = half.get(new TopicPartition(topic, p)).offset();
                for (ConsumerRecord<String, String> r : rs) verify("read2", r, version);
                check(!rs.isEmpty() && rs.get(0).offset() == from,
                        "read2 p" + p + ": resumed at " + (rs.isEmpty() ? "nothing" : rs.get(0).offset())
                        + ", committed " + from);
                check(rs.size() == produced.get(p).size() - from,
                        "read2 p" + p + ": " + rs.size() + " records, expected " + (produced.get(p).size() - from));
                System.out.println("READ2 " + p + " " + (rs.isEmpty() ? -1 : rs.get(0).offset()) + " "
                        + (rs.isEmpty() ? -1 : rs.get(rs.size() - 1).offset()) + " " + rs.size());
            }
            c.commitSync();
            Map<TopicPartition, OffsetAndMetadata> committed = c.committed(tps);
            Map<TopicPartition, Long> ends = c.endOffsets(tps);
            for (int p = 0; p < PARTITIONS; p++) {
                TopicPartition tp = new TopicPartition(topic, p);
                OffsetAndMetadata om = committed.get(tp);
                check(om != null && om.offset() == ends.get(tp),
                        "final commit p" + p + " is " + om + ", end offset " + ends.get(tp));
                System.out.println("FINAL " + p + " " + (om == null ? -1 : om.offset()));
            }
        }

        if (failures.isEmpty()) {
            System.out.println("OK");
        } else {
            for (String f : failures) System.out.println("FAIL " + f);
            System.exit(1);
        }
    }
}
