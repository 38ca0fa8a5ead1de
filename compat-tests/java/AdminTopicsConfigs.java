import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.SecurityDisabledException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * What kafka-topics.sh and kafka-configs.sh (and the other admin tools) do, through the Java
 * Admin client, checked against Kafka's answers:
 *  - kafka-topics: create with configs (and the errors for a bad name, a bad config, a
 *    duplicate), list, describe with partitions (paged through DescribeTopicPartitions with a
 *    small partition limit) and configs, alter the partition count (and the error for a
 *    decrease), delete;
 *  - kafka-configs: describe all configs of a topic and of the broker (with synonyms and
 *    documentation), add / append / subtract / delete topic configs, set and remove a
 *    cluster-wide broker default;
 *  - kafka-delete-records, kafka-get-offsets, kafka-log-dirs, kafka-leader-election,
 *    kafka-reassign-partitions --list, kafka-acls --list, and describeCluster.
 *
 * Usage: AdminTopicsConfigs bootstrap topicPrefix
 */
public final class AdminTopicsConfigs {
    private static final long T = 60;
    private static final CompatUtil.Failures FAILURES = new CompatUtil.Failures();

    private static void check(boolean ok, String what) {
        if (!ok) FAILURES.add(what);
    }

    /** Runs the call and checks it fails with the given exception type. */
    private static void expectFailure(String what, Class<? extends Throwable> want, Step call) {
        try {
            call.run();
            FAILURES.add(what + ": succeeded, expected " + want.getSimpleName());
        } catch (ExecutionException e) {
            check(want.isInstance(e.getCause()), what + ": " + e.getCause() + ", expected " + want.getSimpleName());
        } catch (Exception e) {
            FAILURES.add(what + ": " + e);
        }
    }

    interface Step {
        void run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String prefix = args[1];
        String topic = prefix + "-main";
        try (Admin admin = Admin.create(CompatUtil.adminProps(bootstrap))) {
            topics(admin, bootstrap, topic);
            configs(admin, topic);
            brokerConfigs(admin);
            records(admin, bootstrap, topic);
            singleBrokerTools(admin, topic);
            // kafka-topics --delete
            admin.deleteTopics(List.of(topic)).all().get(T, TimeUnit.SECONDS);
            check(!admin.listTopics().names().get(T, TimeUnit.SECONDS).contains(topic), "deleted topic still listed");
        }
        if (FAILURES.count() > 0) {
            System.out.println("AdminTopicsConfigs FAILED: " + FAILURES.count() + " mismatches");
            FAILURES.printTo(System.out);
            System.exit(1);
        }
        System.out.println("AdminTopicsConfigs OK");
    }

    private static void topics(Admin admin, String bootstrap, String topic) throws Exception {
        // kafka-topics --create --partitions 5 --config retention.ms=86400000 --config cleanup.policy=delete
        NewTopic nt = new NewTopic(topic, 5, (short) 1)
                .configs(Map.of("retention.ms", "86400000", "max.message.bytes", "200000"));
        admin.createTopics(List.of(nt)).all().get(T, TimeUnit.SECONDS);
        expectFailure("create duplicate", TopicExistsException.class,
                () -> admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(T, TimeUnit.SECONDS));
        expectFailure("create bad name", InvalidTopicException.class,
                () -> admin.createTopics(List.of(new NewTopic("bad name!", 1, (short) 1))).all().get(T, TimeUnit.SECONDS));
        expectFailure("create bad config", InvalidConfigurationException.class,
                () -> admin.createTopics(List.of(new NewTopic(topic + "-x", 1, (short) 1)
                        .configs(Map.of("retention.ms", "forever")))).all().get(T, TimeUnit.SECONDS));
        expectFailure("create unknown config", InvalidConfigurationException.class,
                () -> admin.createTopics(List.of(new NewTopic(topic + "-y", 1, (short) 1)
                        .configs(Map.of("no.such.config", "1")))).all().get(T, TimeUnit.SECONDS));
        admin.createTopics(List.of(new NewTopic(topic + "-v", 1, (short) 1)),
                new CreateTopicsOptions().validateOnly(true)).all().get(T, TimeUnit.SECONDS);
        // kafka-topics --list
        Set<String> names = admin.listTopics().names().get(T, TimeUnit.SECONDS);
        check(names.contains(topic), "listTopics misses " + topic);
        check(!names.contains(topic + "-v"), "validateOnly created a topic");

        // kafka-topics --describe: two partitions per DescribeTopicPartitions response forces paging.
        TopicDescription d = describe(admin, topic, 2);
        check(d.partitions().size() == 5, "describe: " + d.partitions().size() + " partitions, expected 5");
        for (int i = 0; i < d.partitions().size(); i++) {
            TopicPartitionInfo p = d.partitions().get(i);
            check(p.partition() == i, "describe: partition order " + p.partition() + " at " + i);
            check(p.leader() != null && p.leader().id() == 1, "describe: leader of " + i + " is " + p.leader());
            check(p.replicas().size() == 1 && p.isr().size() == 1, "describe: replicas/isr of " + i);
        }
        check(d.topicId() != null && !d.topicId().toString().isEmpty(), "describe: no topic id");

        // kafka-topics --alter --partitions 8, then the errors for not increasing.
        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(8))).all().get(T, TimeUnit.SECONDS);
        check(describe(admin, topic, 3).partitions().size() == 8, "after createPartitions: not 8 partitions");
        expectFailure("decrease partitions", InvalidPartitionsException.class,
                () -> admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(4))).all().get(T, TimeUnit.SECONDS));
        expectFailure("same partition count", InvalidPartitionsException.class,
                () -> admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(8))).all().get(T, TimeUnit.SECONDS));
        expectFailure("partitions of a missing topic", UnknownTopicOrPartitionException.class,
                () -> admin.createPartitions(Map.of(topic + "-missing", NewPartitions.increaseTo(2))).all().get(T, TimeUnit.SECONDS));
        // The producer sees the new partitions.
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            check(p.partitionsFor(topic).size() == 8, "producer sees " + p.partitionsFor(topic).size() + " partitions");
            p.send(new ProducerRecord<>(topic, 7, "k", "v")).get(T, TimeUnit.SECONDS);
        }
    }

    private static TopicDescription describe(Admin admin, String topic, int pageSize) throws Exception {
        return admin.describeTopics(List.of(topic), new DescribeTopicsOptions().partitionSizeLimitPerResponse(pageSize))
                .allTopicNames().get(T, TimeUnit.SECONDS).get(topic);
    }

    private static Config describeConfigs(Admin admin, ConfigResource r) throws Exception {
        return admin.describeConfigs(List.of(r), new DescribeConfigsOptions().includeSynonyms(true).includeDocumentation(true))
                .all().get(T, TimeUnit.SECONDS).get(r);
    }

    private static void expectEntry(Config c, String name, String value, ConfigEntry.ConfigSource source, String where) {
        ConfigEntry e = c.get(name);
        if (e == null) {
            FAILURES.add(where + ": " + name + " not described");
            return;
        }
        check(java.util.Objects.equals(e.value(), value), where + ": " + name + " = " + e.value() + ", expected " + value);
        check(e.source() == source, where + ": " + name + " source " + e.source() + ", expected " + source);
    }

    private static void configs(Admin admin, String topic) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        // kafka-configs --describe --all --entity-type topics --entity-name <topic>
        Config c = describeConfigs(admin, r);
        check(c.entries().size() >= 33, "topic configs described: " + c.entries().size());
        expectEntry(c, "retention.ms", "86400000", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, "describe");
        expectEntry(c, "max.message.bytes", "200000", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, "describe");
        expectEntry(c, "cleanup.policy", "delete", ConfigEntry.ConfigSource.DEFAULT_CONFIG, "describe");
        expectEntry(c, "segment.bytes", "1073741824", ConfigEntry.ConfigSource.DEFAULT_CONFIG, "describe");
        expectEntry(c, "min.insync.replicas", "1", ConfigEntry.ConfigSource.DEFAULT_CONFIG, "describe");
        ConfigEntry seg = c.get("segment.bytes");
        if (seg != null) {
            check(seg.type() == ConfigEntry.ConfigType.INT, "segment.bytes type " + seg.type());
            check(seg.documentation() != null && !seg.documentation().isEmpty(), "segment.bytes has no documentation");
            check(!seg.isReadOnly() && !seg.isSensitive(), "segment.bytes read-only or sensitive");
            check(!seg.synonyms().isEmpty() && seg.synonyms().get(0).name().equals("log.segment.bytes"),
                    "segment.bytes synonyms " + seg.synonyms());
        }
        ConfigEntry policy = c.get("cleanup.policy");
        if (policy != null) check(policy.type() == ConfigEntry.ConfigType.LIST, "cleanup.policy type " + policy.type());

        // kafka-configs --alter --add-config retention.ms=1000,segment.ms=600000 --delete-config max.message.bytes
        alter(admin, r, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "1000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("segment.ms", "600000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("max.message.bytes", ""), AlterConfigOp.OpType.DELETE)));
        c = describeConfigs(admin, r);
        expectEntry(c, "retention.ms", "1000", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, "after alter");
        expectEntry(c, "segment.ms", "600000", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, "after alter");
        expectEntry(c, "max.message.bytes", "1048588", ConfigEntry.ConfigSource.DEFAULT_CONFIG, "after delete");
        // --add-config cleanup.policy=[compact] through APPEND, then SUBTRACT delete.
        alter(admin, r, List.of(new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND)));
        expectEntry(describeConfigs(admin, r), "cleanup.policy", "delete,compact",
                ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, "after append");
        alter(admin, r, List.of(new AlterConfigOp(new ConfigEntry("cleanup.policy", "delete"), AlterConfigOp.OpType.SUBTRACT)));
        expectEntry(describeConfigs(admin, r), "cleanup.policy", "compact",
                ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, "after subtract");
        alter(admin, r, List.of(new AlterConfigOp(new ConfigEntry("cleanup.policy", ""), AlterConfigOp.OpType.DELETE)));
        // Errors, as kafka-configs reports them.
        expectFailure("alter bad value", InvalidConfigurationException.class,
                () -> alter(admin, r, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "abc"), AlterConfigOp.OpType.SET))));
        expectFailure("alter unknown config", InvalidConfigurationException.class,
                () -> alter(admin, r, List.of(new AlterConfigOp(new ConfigEntry("retention.msx", "1"), AlterConfigOp.OpType.SET))));
        expectFailure("append to a non-list", InvalidConfigurationException.class,
                () -> alter(admin, r, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "1"), AlterConfigOp.OpType.APPEND))));
        expectFailure("alter missing topic", UnknownTopicOrPartitionException.class,
                () -> alter(admin, new ConfigResource(ConfigResource.Type.TOPIC, topic + "-missing"),
                        List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "1"), AlterConfigOp.OpType.SET))));
        expectFailure("describe missing topic", UnknownTopicOrPartitionException.class,
                () -> describeConfigs(admin, new ConfigResource(ConfigResource.Type.TOPIC, topic + "-missing")));
        // Back to a long retention so later steps keep their data.
        alter(admin, r, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE)));
        expectEntry(describeConfigs(admin, r), "retention.ms", "604800000", ConfigEntry.ConfigSource.DEFAULT_CONFIG, "after reset");
    }

    private static void alter(Admin admin, ConfigResource r, Collection<AlterConfigOp> ops) throws Exception {
        admin.incrementalAlterConfigs(Map.of(r, ops)).all().get(T, TimeUnit.SECONDS);
    }

    private static void brokerConfigs(Admin admin) throws Exception {
        DescribeClusterResult cluster = admin.describeCluster();
        String id = String.valueOf(cluster.controller().get(T, TimeUnit.SECONDS).id());
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, id);
        ConfigResource defaults = new ConfigResource(ConfigResource.Type.BROKER, "");
        // kafka-configs --describe --all --entity-type brokers --entity-name 1
        Config c = describeConfigs(admin, broker);
        check(c.entries().size() > 200, "broker configs described: " + c.entries().size());
        expectEntry(c, "log.retention.hours", "168", ConfigEntry.ConfigSource.DEFAULT_CONFIG, "broker");
        expectEntry(c, "log.retention.ms", null, ConfigEntry.ConfigSource.DEFAULT_CONFIG, "broker");
        ConfigEntry hours = c.get("log.retention.hours");
        if (hours != null) check(hours.isReadOnly(), "log.retention.hours is not read-only");
        ConfigEntry ms = c.get("log.retention.ms");
        if (ms != null) check(!ms.isReadOnly(), "log.retention.ms is read-only");
        // kafka-configs --describe --entity-type brokers --entity-default: nothing set yet.
        check(describeConfigs(admin, defaults).entries().isEmpty(), "cluster defaults not empty");
        // kafka-configs --alter --entity-type brokers --entity-default --add-config log.retention.ms=...
        alter(admin, defaults, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", "3600000"), AlterConfigOp.OpType.SET)));
        expectEntry(describeConfigs(admin, defaults), "log.retention.ms", "3600000",
                ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, "cluster default");
        expectEntry(describeConfigs(admin, broker), "log.retention.ms", "3600000",
                ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, "broker after default");
        expectFailure("read-only broker config", InvalidRequestException.class,
                () -> alter(admin, broker, List.of(new AlterConfigOp(new ConfigEntry("log.retention.hours", "1"), AlterConfigOp.OpType.SET))));
        alter(admin, defaults, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", ""), AlterConfigOp.OpType.DELETE)));
        check(describeConfigs(admin, defaults).entries().isEmpty(), "cluster default not removed");
    }

    private static void records(Admin admin, String bootstrap, String topic) throws Exception {
        TopicPartition tp = new TopicPartition(topic, 0);
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            for (int i = 0; i < 100; i++) p.send(new ProducerRecord<>(topic, 0, "k" + i, "v" + i));
            p.flush();
        }
        // kafka-delete-records --offset-json-file {partition 0, offset 40}
        long low = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(40))).lowWatermarks().get(tp)
                .get(T, TimeUnit.SECONDS).lowWatermark();
        check(low == 40, "deleteRecords low watermark " + low);
        // kafka-get-offsets --time -2 / -1
        long earliest = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get(T, TimeUnit.SECONDS).offset();
        long latest = admin.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).get(T, TimeUnit.SECONDS).offset();
        check(earliest == 40 && latest == 100, "offsets after deleteRecords: " + earliest + ".." + latest);
        expectFailure("deleteRecords past the end", org.apache.kafka.common.errors.OffsetOutOfRangeException.class,
                () -> admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(1000))).all().get(T, TimeUnit.SECONDS));
        // kafka-log-dirs --describe
        Map<Integer, Map<String, LogDirDescription>> dirs = admin.describeLogDirs(List.of(1)).allDescriptions().get(T, TimeUnit.SECONDS);
        long size = -1;
        for (LogDirDescription dd : dirs.getOrDefault(1, Map.of()).values()) {
            ReplicaInfo ri = dd.replicaInfos().get(tp);
            if (ri != null) size = ri.size();
        }
        check(size > 0, "describeLogDirs size of " + tp + ": " + size);
    }

    private static void singleBrokerTools(Admin admin, String topic) throws Exception {
        DescribeClusterResult cluster = admin.describeCluster();
        check(cluster.nodes().get(T, TimeUnit.SECONDS).size() == 1, "describeCluster nodes");
        check(cluster.controller().get(T, TimeUnit.SECONDS).id() == 1, "describeCluster controller");
        String clusterId = cluster.clusterId().get(T, TimeUnit.SECONDS);
        check(clusterId != null && !clusterId.isEmpty(), "describeCluster cluster id");
        // kafka-leader-election --election-type preferred
        TopicPartition tp = new TopicPartition(topic, 1);
        Map<TopicPartition, Optional<Throwable>> elected = admin.electLeaders(ElectionType.PREFERRED, Set.of(tp))
                .partitions().get(T, TimeUnit.SECONDS);
        Optional<Throwable> outcome = elected.getOrDefault(tp, Optional.empty());
        check(outcome.isPresent() && outcome.get() instanceof ElectionNotNeededException,
                "electLeaders: " + outcome);
        // kafka-reassign-partitions --list
        check(admin.listPartitionReassignments().reassignments().get(T, TimeUnit.SECONDS).isEmpty(),
                "listPartitionReassignments not empty");
        // kafka-acls --list
        expectFailure("describeAcls", SecurityDisabledException.class,
                () -> admin.describeAcls(AclBindingFilter.ANY).values().get(T, TimeUnit.SECONDS));
    }
}
