import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Sustained idempotent producer for the kill -9 test: sends values "0", "1", ... "count-1"
 * (no keys) and appends "seq partition offset" to ackFile for every acknowledgement, flushed per
 * line, so whatever happens to the broker the file says exactly what the broker promised to keep.
 *
 * Usage: KillProducer bootstrap topic count ackFile [partitions=3] [ratePerSec=0 (unlimited)]
 *
 * Retries forever (within a generous delivery timeout) so it rides over the broker being killed
 * and restarted; exits 0 only when every record was acknowledged without error.
 */
public final class KillProducer {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: KillProducer bootstrap topic count ackFile [partitions=3] [ratePerSec=0]");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        int count = Integer.parseInt(args[2]);
        Path ackFile = Path.of(args[3]);
        int partitions = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        int rate = args.length > 5 ? Integer.parseInt(args[5]) : 0;

        CompatUtil.createTopic(bootstrap, topic, partitions, true);

        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-kill-producer");
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        // Idempotence and acks=all are the defaults; spelled out because they are the point.
        pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.RETRIES_CONFIG, Integer.toString(Integer.MAX_VALUE));
        // Long enough to outlast a broker restart many times over; the test harness bounds the
        // run time itself.
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "600000");
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "600000");
        // Notice a dead connection quickly and reconnect quickly once the broker is back.
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        pp.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        pp.put(ProducerConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "500");

        AtomicLong acked = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        long t0 = System.nanoTime();
        try (BufferedWriter out = Files.newBufferedWriter(ackFile, StandardCharsets.UTF_8);
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
            for (int seq = 0; seq < count; seq++) {
                if (rate > 0 && seq % 1000 == 0) {
                    // Pace the sends so the run spans the kill instead of finishing before it.
                    long dueNanos = t0 + (long) (seq * 1e9 / rate);
                    long wait = dueNanos - System.nanoTime();
                    if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
                final int s = seq;
                byte[] value = Integer.toString(seq).getBytes(StandardCharsets.UTF_8);
                producer.send(new ProducerRecord<>(topic, null, value), (md, ex) -> {
                    if (ex != null) {
                        errors.incrementAndGet();
                        System.err.println("seq " + s + " failed: " + ex);
                        return;
                    }
                    // Callbacks run on the producer's single I/O thread; the lock is for the
                    // main thread's final close.
                    synchronized (out) {
                        try {
                            out.write(s + " " + md.partition() + " " + md.offset() + "\n");
                            out.flush();
                        } catch (IOException e) {
                            throw new RuntimeException(e);
                        }
                    }
                    acked.incrementAndGet();
                });
            }
            producer.flush();
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        boolean ok = acked.get() == count && errors.get() == 0;
        System.out.printf("KillProducer %s topic=%s sent=%d acked=%d errors=%d in %.1fs%n",
                ok ? "OK" : "FAILED", topic, count, acked.get(), errors.get(), secs);
        System.exit(ok ? 0 : 1);
    }
}
