import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Java producer under an injected fault (test_faults.py): creates a one-partition topic,
 * then sends values "0" … "count-1" one at a time with the default producer (idempotent,
 * acks=all, retries), waiting for each acknowledgement, while the broker fails some of its
 * Produce requests. Prints "ack <value> <offset>" per record, the producer's retry and error
 * counters ("metric record-retry-total <n>"), then reads the partition back and prints
 * "consumed <v0>,<v1>,…" so the test can check every record landed once, in order.
 *
 * Usage: FaultProducer bootstrap topic count
 */
public final class FaultProducer {
    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: FaultProducer bootstrap topic count");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        int count = Integer.parseInt(args[2]);

        CompatUtil.createTopic(bootstrap, topic, 1, false);

        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-fault-producer");
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        pp.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "50");
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");

        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
            for (int i = 0; i < count; i++) {
                byte[] value = Integer.toString(i).getBytes(StandardCharsets.UTF_8);
                RecordMetadata md = producer.send(new ProducerRecord<>(topic, 0, null, value))
                        .get(60, TimeUnit.SECONDS);
                System.out.println("ack " + i + " " + md.offset());
            }
            for (Map.Entry<MetricName, ? extends Metric> e : producer.metrics().entrySet()) {
                MetricName n = e.getKey();
                if (n.group().equals("producer-metrics")
                        && (n.name().equals("record-retry-total") || n.name().equals("record-error-total"))) {
                    System.out.println("metric " + n.name() + " " + e.getValue().metricValue());
                }
            }
        }

        TopicPartition tp = new TopicPartition(topic, 0);
        List<String> consumed = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(CompatUtil.consumerProps(bootstrap))) {
            CompatUtil.readAll(consumer, List.of(tp), 30_000,
                    rec -> consumed.add(new String(rec.value(), StandardCharsets.UTF_8)));
        }
        System.out.println("consumed " + String.join(",", consumed));
        System.out.println("FaultProducer OK");
    }
}
