import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;

/**
 * Produce with the default (idempotent, acks=all) Java producer, read everything back with a
 * group-less consumer, and compare every field of every record.
 *
 * Usage: RoundTrip bootstrap topic compression [count=100000] [partitions=3]
 *
 * Records are generated deterministically from their index, so nothing needs to be kept in memory
 * between producing and checking except where each one was acknowledged.
 */
public final class RoundTrip {
    private static final long SEED = 0x7a7a5eedL;
    private static final byte[] ALPHABET = "abcdefghijklmnop".getBytes(StandardCharsets.US_ASCII);

    record Rec(byte[] key, byte[] value, Header[] headers, long timestamp) {}

    /** Record i: mixes compressible and random values, empty and null values, a few large ones. */
    static Rec make(int i, long baseTs) {
        Random r = new Random(SEED * 1_000_003L + i);
        byte[] key = ("key-" + (i % 1000)).getBytes(StandardCharsets.UTF_8);
        byte[] value;
        if (i % 5003 == 17) {
            value = null; // tombstone
        } else {
            int size;
            if (i % 10007 == 5000) size = 200_000 + r.nextInt(50_000); // bigger than batch.size
            else if (i % 97 == 0) size = 0;
            else size = r.nextInt(r.nextBoolean() ? 64 : 2048);
            value = new byte[size];
            if (i % 3 == 0) {
                r.nextBytes(value); // incompressible
            } else {
                for (int j = 0; j < size; j++) value[j] = ALPHABET[r.nextInt(ALPHABET.length)];
            }
        }
        List<Header> hs = new ArrayList<>(3);
        hs.add(new RecordHeader("trace", ("t-" + i).getBytes(StandardCharsets.UTF_8)));
        if (i % 2 == 0) hs.add(new RecordHeader("src", "roundtrip".getBytes(StandardCharsets.UTF_8)));
        if (i % 7 == 0) hs.add(new RecordHeader("trace", ("dup-" + i).getBytes(StandardCharsets.UTF_8)));
        if (i % 13 == 0) hs.add(new RecordHeader("nullh", null));
        return new Rec(key, value, hs.toArray(new Header[0]), baseTs + i);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: RoundTrip bootstrap topic compression [count=100000] [partitions=3]");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        String compression = args[2];
        int count = args.length > 3 ? Integer.parseInt(args[3]) : 100_000;
        int partitions = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        // An hour back: comfortably inside any timestamp-bounds check, and clearly not "now", so
        // a broker that rewrites timestamps is caught.
        long baseTs = (System.currentTimeMillis() / 1000) * 1000 - 3_600_000L;

        CompatUtil.createTopic(bootstrap, topic, partitions, false);

        // ---- produce ----
        int[] ackPartition = new int[count];
        long[] ackOffset = new long[count];
        Arrays.fill(ackOffset, -1L);
        CompatUtil.Failures failures = new CompatUtil.Failures();
        AtomicLong sendErrors = new AtomicLong();

        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-roundtrip");
        pp.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        // Everything else stays at its default on purpose: enable.idempotence=true, acks=all,
        // max.in.flight=5 is what kafka-console-producer and most applications run with.
        long t0 = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
            for (int i = 0; i < count; i++) {
                Rec rec = make(i, baseTs);
                final int idx = i;
                producer.send(new ProducerRecord<>(topic, null, rec.timestamp(), rec.key(), rec.value(),
                        Arrays.asList(rec.headers())), (md, ex) -> {
                    if (ex != null) {
                        if (sendErrors.getAndIncrement() < 10) {
                            System.err.println("send of record " + idx + " failed: " + ex);
                        }
                        return;
                    }
                    ackPartition[idx] = md.partition();
                    ackOffset[idx] = md.offset();
                    if (md.timestamp() != rec.timestamp()) {
                        failures.add("record " + idx + ": ack timestamp " + md.timestamp()
                                + " != sent " + rec.timestamp() + " (CreateTime topic)");
                    }
                });
            }
            producer.flush();
        }
        double produceSecs = (System.nanoTime() - t0) / 1e9;
        if (sendErrors.get() > 0) {
            System.out.println("RoundTrip FAILED topic=" + topic + " compression=" + compression + ": "
                    + sendErrors.get() + " of " + count + " sends failed (see stderr)");
            System.exit(1);
        }

        // Acknowledged offsets: per partition they must be exactly 0..n-1, assigned in send order
        // (a fresh topic, one idempotent producer, no transactions: no gaps, no reordering), and
        // each key on the partition the Java default partitioner computes.
        int[] perPartition = new int[partitions];
        for (int i = 0; i < count; i++) {
            int p = ackPartition[i];
            if (p < 0 || p >= partitions) {
                failures.add("record " + i + ": acked on partition " + p + " of " + partitions);
                continue;
            }
            perPartition[p]++;
            byte[] key = make(i, baseTs).key();
            int expectedP = Utils.toPositive(Utils.murmur2(key)) % partitions;
            if (p != expectedP) {
                failures.add("record " + i + " key " + new String(key, StandardCharsets.UTF_8)
                        + ": partition " + p + ", murmur2 says " + expectedP);
            }
        }
        int[][] indexAt = new int[partitions][];
        for (int p = 0; p < partitions; p++) {
            indexAt[p] = new int[perPartition[p]];
            Arrays.fill(indexAt[p], -1);
        }
        long[] lastAckOffset = new long[partitions];
        Arrays.fill(lastAckOffset, -1L);
        for (int i = 0; i < count; i++) {
            int p = ackPartition[i];
            if (p < 0 || p >= partitions) continue;
            long o = ackOffset[i];
            if (o < 0 || o >= indexAt[p].length) {
                failures.add("record " + i + ": acked offset " + o + " on partition " + p + " outside 0.."
                        + (indexAt[p].length - 1) + " (" + indexAt[p].length + " records acked there)");
                continue;
            }
            if (indexAt[p][(int) o] != -1) {
                failures.add("records " + indexAt[p][(int) o] + " and " + i + " both acked at " + p + "@" + o);
                continue;
            }
            if (o <= lastAckOffset[p]) {
                failures.add("record " + i + " acked at " + p + "@" + o + " after a later-sent record got "
                        + p + "@" + lastAckOffset[p] + " (reordered)");
            }
            lastAckOffset[p] = Math.max(lastAckOffset[p], o);
            indexAt[p][(int) o] = i;
        }

        // ---- consume and compare ----
        long t1 = System.nanoTime();
        long[] nextOffset = new long[partitions];
        long[] consumed = {0};
        List<TopicPartition> tps = new ArrayList<>();
        for (int p = 0; p < partitions; p++) tps.add(new TopicPartition(topic, p));
        Map<TopicPartition, Long> end;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(CompatUtil.consumerProps(bootstrap))) {
            end = CompatUtil.readAll(consumer, tps, 30_000, r -> {
                consumed[0]++;
                check(r, topic, partitions, nextOffset, indexAt, baseTs, failures);
            });
        }
        double consumeSecs = (System.nanoTime() - t1) / 1e9;
        for (int p = 0; p < partitions; p++) {
            long e = end.get(new TopicPartition(topic, p));
            if (e != perPartition[p]) {
                failures.add("partition " + p + ": endOffsets says " + e + ", " + perPartition[p] + " records acked");
            }
            if (nextOffset[p] != perPartition[p]) {
                failures.add("partition " + p + ": consumed up to offset " + nextOffset[p] + ", "
                        + perPartition[p] + " records acked");
            }
        }

        String summary = String.format("topic=%s compression=%s records=%d partitions=%d per-partition=%s "
                        + "produce=%.2fs (%.0f rec/s) consume=%.2fs (%.0f rec/s) consumed=%d",
                topic, compression, count, partitions, Arrays.toString(perPartition),
                produceSecs, count / produceSecs, consumeSecs, consumed[0] / consumeSecs, consumed[0]);
        if (failures.count() > 0) {
            System.out.println("RoundTrip FAILED " + summary + " mismatches=" + failures.count());
            failures.printTo(System.out);
            System.exit(1);
        }
        System.out.println("RoundTrip OK " + summary);
    }

    private static void check(ConsumerRecord<byte[], byte[]> r, String topic, int partitions, long[] nextOffset,
                              int[][] indexAt, long baseTs, CompatUtil.Failures failures) {
        int p = r.partition();
        long o = r.offset();
        String where = topic + "-" + p + "@" + o;
        if (!r.topic().equals(topic) || p < 0 || p >= partitions) {
            failures.add(where + ": unexpected topic/partition");
            return;
        }
        if (o != nextOffset[p]) {
            failures.add(where + ": expected next offset " + nextOffset[p] + " on partition " + p
                    + (o > nextOffset[p] ? " (gap)" : " (repeat / out of order)"));
        }
        nextOffset[p] = Math.max(nextOffset[p], o + 1);
        if (o < 0 || o >= indexAt[p].length || indexAt[p][(int) o] < 0) {
            failures.add(where + ": no record was acknowledged at this offset");
            return;
        }
        int i = indexAt[p][(int) o];
        Rec want = make(i, baseTs);
        if (!Arrays.equals(r.key(), want.key())) {
            failures.add(where + " (record " + i + "): key " + CompatUtil.hex(r.key()) + " != " + CompatUtil.hex(want.key()));
        }
        if (!Arrays.equals(r.value(), want.value())) {
            failures.add(where + " (record " + i + "): value " + CompatUtil.hex(r.value()) + " != " + CompatUtil.hex(want.value()));
        }
        if (r.timestamp() != want.timestamp() || r.timestampType() != TimestampType.CREATE_TIME) {
            failures.add(where + " (record " + i + "): timestamp " + r.timestampType() + " " + r.timestamp()
                    + " != CreateTime " + want.timestamp());
        }
        Header[] got = r.headers().toArray();
        Header[] exp = want.headers();
        boolean same = got.length == exp.length;
        for (int h = 0; same && h < got.length; h++) {
            same = got[h].key().equals(exp[h].key()) && Arrays.equals(got[h].value(), exp[h].value());
        }
        if (!same) {
            failures.add(where + " (record " + i + "): headers " + describe(got) + " != " + describe(exp));
        }
    }

    private static String describe(Header[] hs) {
        StringBuilder sb = new StringBuilder("[");
        for (Header h : hs) {
            if (sb.length() > 1) sb.append(", ");
            sb.append(h.key()).append('=')
                    .append(h.value() == null ? "null" : new String(h.value(), StandardCharsets.UTF_8));
        }
        return sb.append(']').toString();
    }
}
