import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;

/**
 * Kafka Streams with processing.guarantee=exactly_once_v2 against the broker: a stateless step
 * (value * 2 into `out`) and a stateful one (a count per key parity, through a repartition topic
 * and a changelog, into `counts`). Runs until the read_committed output holds n records, then
 * prints what it read: "OUT key value" lines and "COUNT key value" (the last count per key).
 *
 * Usage: StreamsEos bootstrap in out counts appId n stateDir
 */
public final class StreamsEos {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], in = args[1], out = args[2], counts = args[3], appId = args[4];
        int n = Integer.parseInt(args[5]);
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
        p.put(StreamsConfig.STATE_DIR_CONFIG, args[6]);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

        StreamsBuilder b = new StreamsBuilder();
        KStream<String, String> s = b.stream(in, Consumed.with(Serdes.String(), Serdes.String()));
        s.mapValues(v -> Integer.toString(Integer.parseInt(v) * 2))
                .to(out, Produced.with(Serdes.String(), Serdes.String()));
        s.groupBy((k, v) -> Integer.parseInt(v) % 2 == 0 ? "even" : "odd",
                        Grouped.with(Serdes.String(), Serdes.String()))
                .count()
                .toStream()
                .to(counts, Produced.with(Serdes.String(), Serdes.Long()));

        KafkaStreams streams = new KafkaStreams(b.build(), p);
        streams.setUncaughtExceptionHandler(e -> {
            System.out.println("UNCAUGHT " + e);
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();

        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        int got = 0;
        Map<String, Long> lastCount = new HashMap<>();
        List<String> outLines = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 180_000;
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer());
             KafkaConsumer<String, Long> cc = new KafkaConsumer<>(cp, new StringDeserializer(), new LongDeserializer())) {
            c.assign(Collections.singleton(new TopicPartition(out, 0)));
            cc.assign(Collections.singleton(new TopicPartition(counts, 0)));
            long evenOdd = 0;
            while (System.currentTimeMillis() < deadline && (got < n || evenOdd < n)) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    outLines.add("OUT " + r.key() + " " + r.value());
                    got++;
                }
                for (ConsumerRecord<String, Long> r : cc.poll(Duration.ofMillis(10))) {
                    lastCount.put(r.key(), r.value());
                }
                evenOdd = lastCount.getOrDefault("even", 0L) + lastCount.getOrDefault("odd", 0L);
                if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
                    System.out.println("STREAMS_STATE " + streams.state());
                    break;
                }
            }
        }
        streams.close(Duration.ofSeconds(30));
        for (String l : outLines) System.out.println(l);
        for (Map.Entry<String, Long> e : lastCount.entrySet()) System.out.println("COUNT " + e.getKey() + " " + e.getValue());
        System.out.println("DONE " + got);
        System.exit(0);
    }
}
