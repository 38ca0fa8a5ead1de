import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Java client's cells of the security matrix (compat-tests/python/test_security_matrix.py),
 * all in one JVM. Each cell is one security set-up (SSL, mutual TLS, SASL_PLAINTEXT or SASL_SSL
 * with a mechanism): a producer with the good settings sends records, clients with bad settings
 * (wrong password, unknown user, untrusted certificate, unsigned or expired token) try to list
 * topics, the first producer, still connected, sends more, and a new consumer reads everything
 * back. Every outcome is printed; the Python side makes the assertions.
 *
 * Usage: SecurityMatrix cells.tsv, where each line is
 *   name TAB topic TAB good.properties TAB bad1.properties[,bad2.properties...]
 * and the properties files carry bootstrap.servers and the security settings.
 *
 * Output, one line per event (messages on one line):
 *   CELL name PRODUCED o1,o2,...     offsets of the records sent before the refusals
 *   CELL name REFUSED i Class: msg   what bad client i got (Class NONE: it was let in)
 *   CELL name AFTER o1,o2,...        offsets of the records sent after the refusals
 *   CELL name READ o:value           each record read back, in order
 *   CELL name FAILED Class: msg      the good client itself failed
 */
public final class SecurityMatrix {
    static final int BEFORE = 10;
    static final int AFTER = 5;

    public static void main(String[] args) throws Exception {
        List<String> lines = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8);
        for (String line : lines) {
            if (line.isBlank()) continue;
            String[] f = line.split("\t");
            String name = f[0];
            try {
                runCell(name, f[1], load(f[2]), f[3].split(","));
            } catch (Exception e) {
                say(name, "FAILED " + describe(e));
            }
        }
    }

    static void runCell(String name, String topic, Properties good, String[] bad) throws Exception {
        Properties pp = new Properties();
        pp.putAll(good);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            say(name, "PRODUCED " + send(producer, topic, name + "-before-", BEFORE));
            for (int i = 0; i < bad.length; i++) {
                say(name, "REFUSED " + i + " " + refusal(load(bad[i])));
            }
            say(name, "AFTER " + send(producer, topic, name + "-after-", AFTER));
        }
        Properties cp = new Properties();
        cp.putAll(good);
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            int seen = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (seen < BEFORE + AFTER && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    say(name, "READ " + r.offset() + ":" + r.value());
                    seen++;
                }
            }
        }
    }

    static String send(KafkaProducer<String, String> producer, String topic, String prefix, int n)
            throws Exception {
        List<java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata>> acks =
                new ArrayList<>();
        for (int i = 0; i < n; i++) {
            acks.add(producer.send(new ProducerRecord<>(topic, 0, "k" + i, prefix + i)));
        }
        StringBuilder offsets = new StringBuilder();
        for (var ack : acks) {
            if (offsets.length() > 0) offsets.append(',');
            offsets.append(ack.get(40, TimeUnit.SECONDS).offset());
        }
        return offsets.toString();
    }

    /** What an admin client with these settings is told when it lists topics. */
    static String refusal(Properties bad) {
        bad.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        bad.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        try (Admin admin = Admin.create(bad)) {
            admin.listTopics().names().get(30, TimeUnit.SECONDS);
            return "NONE: let in";
        } catch (ExecutionException e) {
            return describe(e.getCause());
        } catch (Exception e) {
            return describe(e);
        }
    }

    static Properties load(String path) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of(path), StandardCharsets.UTF_8)) {
            p.load(r);
        }
        return p;
    }

    /** The exception and its causes, on one line: "Class: message <- Cause: message ...". */
    static String describe(Throwable e) {
        StringBuilder out = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (out.length() > 0) out.append(" <- ");
            out.append(t.getClass().getName()).append(": ").append(t.getMessage());
        }
        return out.toString().replace('\n', ' ').replace('\r', ' ');
    }

    static void say(String cell, String what) {
        System.out.println("CELL " + cell + " " + what);
        System.out.flush();
    }
}
