import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * Checks a topic written by KillProducer against its ack file:
 *  - every acknowledged seq is in the log exactly once, at the partition/offset it was acked with;
 *  - no seq appears that was never sent, none appears twice (idempotence across the restart);
 *  - offsets are contiguous from 0 to the end offset on every partition;
 *  - per partition, seqs increase (the idempotent producer's ordering guarantee).
 *
 * Usage: Verify bootstrap topic ackFile expectedCount
 */
public final class Verify {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: Verify bootstrap topic ackFile expectedCount");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        Path ackFile = Path.of(args[2]);
        int count = Integer.parseInt(args[3]);
        CompatUtil.Failures failures = new CompatUtil.Failures();

        int[] ackP = new int[count];
        long[] ackO = new long[count];
        Arrays.fill(ackO, -1L);
        long ackLines = 0;
        for (String line : Files.readAllLines(ackFile, StandardCharsets.UTF_8)) {
            if (line.isBlank()) continue;
            String[] f = line.trim().split(" ");
            int seq = Integer.parseInt(f[0]);
            ackLines++;
            if (seq < 0 || seq >= count) {
                failures.add("ack file: seq " + seq + " out of range");
            } else if (ackO[seq] != -1L) {
                failures.add("ack file: seq " + seq + " acknowledged twice");
            } else {
                ackP[seq] = Integer.parseInt(f[1]);
                ackO[seq] = Long.parseLong(f[2]);
            }
        }
        long notAcked = Arrays.stream(ackO).filter(o -> o < 0).count();

        int[] seen = new int[count];
        long[] total = {0};
        List<TopicPartition> tps = new ArrayList<>();
        Map<TopicPartition, Long> end;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(CompatUtil.consumerProps(bootstrap))) {
            for (PartitionInfo pi : consumer.partitionsFor(topic)) tps.add(new TopicPartition(topic, pi.partition()));
            int n = tps.size();
            long[] nextOffset = new long[n];
            int[] lastSeq = new int[n];
            Arrays.fill(lastSeq, -1);
            end = CompatUtil.readAll(consumer, tps, 30_000, r -> {
                total[0]++;
                int p = r.partition();
                long o = r.offset();
                String where = topic + "-" + p + "@" + o;
                if (o != nextOffset[p]) {
                    failures.add(where + ": expected offset " + nextOffset[p]
                            + (o > nextOffset[p] ? " (gap in the log)" : " (repeated / out of order)"));
                }
                nextOffset[p] = Math.max(nextOffset[p], o + 1);
                int seq;
                try {
                    seq = Integer.parseInt(new String(r.value(), StandardCharsets.UTF_8));
                } catch (RuntimeException e) {
                    failures.add(where + ": value is not a seq: " + CompatUtil.hex(r.value()));
                    return;
                }
                if (seq < 0 || seq >= count) {
                    failures.add(where + ": seq " + seq + " was never sent");
                    return;
                }
                if (++seen[seq] > 1) failures.add(where + ": seq " + seq + " is in the log " + seen[seq] + " times (duplicate)");
                if (ackO[seq] >= 0 && (ackP[seq] != p || ackO[seq] != o)) {
                    failures.add(where + ": seq " + seq + " was acknowledged at " + topic + "-" + ackP[seq] + "@" + ackO[seq]);
                }
                if (seq < lastSeq[p]) {
                    failures.add(where + ": seq " + seq + " after seq " + lastSeq[p] + " on the same partition (reordered)");
                }
                lastSeq[p] = Math.max(lastSeq[p], seq);
            });
            for (TopicPartition tp : tps) {
                if (nextOffset[tp.partition()] != end.get(tp)) {
                    failures.add(tp + ": read up to offset " + nextOffset[tp.partition()] + ", end offset is " + end.get(tp));
                }
            }
        }
        long lost = 0;
        for (int seq = 0; seq < count; seq++) {
            if (ackO[seq] >= 0 && seen[seq] == 0) {
                if (++lost <= 25) failures.add("seq " + seq + " acknowledged at " + topic + "-" + ackP[seq] + "@" + ackO[seq] + " but missing from the log (LOST)");
            }
        }
        long neverWritten = 0;
        for (int seq = 0; seq < count; seq++) if (seen[seq] == 0) neverWritten++;

        String summary = String.format("topic=%s expected=%d acked=%d not-acked=%d in-log=%d lost-acked=%d absent=%d end-offsets=%s",
                topic, count, ackLines, notAcked, total[0], lost, neverWritten, end);
        // Everything must have been acknowledged too: the producer retries forever, so a seq that
        // never got an ack means the broker did not come back properly.
        if (notAcked > 0) failures.add(notAcked + " of " + count + " seqs were never acknowledged");
        if (failures.count() > 0) {
            System.out.println("Verify FAILED " + summary + " problems=" + failures.count());
            failures.printTo(System.out);
            System.exit(1);
        }
        System.out.println("Verify OK " + summary);
    }
}
