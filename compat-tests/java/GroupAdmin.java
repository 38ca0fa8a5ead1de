import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;

/**
 * The Admin calls behind kafka-consumer-groups.sh, one command per run, results as JSON lines on
 * stdout (a failure prints {"error": ExceptionClass, "message": ...} and exits 0, so the caller
 * can assert on the error).
 *
 * Usage: GroupAdmin bootstrap command args...
 *   list                               --list (ListGroupsOptions.forConsumerGroups())
 *   list-all                           listGroups() without filters
 *   describe group                     --describe --members: state, assignor, members
 *   offsets group                      --describe --offsets: committed, log end, lag, owner
 *   reset group topic mode             --reset-offsets --execute; mode is earliest, latest,
 *                                      offset:N, datetime:epochMs or shift:N
 *   commit group topic partition offset metadata   alterConsumerGroupOffsets of one partition
 *   delete-offsets group topic         --delete-offsets (every partition of the topic)
 *   delete group                       --delete
 */
public final class GroupAdmin {
    private GroupAdmin() {}

    static String q(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }

    static <T> T get(org.apache.kafka.common.KafkaFuture<T> f) throws Exception {
        return f.get(60, TimeUnit.SECONDS);
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String command = args[1];
        try (Admin admin = Admin.create(CompatUtil.adminProps(bootstrap))) {
            try {
                run(admin, command, args);
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                System.out.println("{\"error\": " + q(c.getClass().getSimpleName()) + ", \"message\": "
                        + q(c.getMessage()) + "}");
            }
        }
    }

    static void run(Admin admin, String command, String[] args) throws Exception {
        switch (command) {
            case "list" -> list(get(admin.listGroups(ListGroupsOptions.forConsumerGroups()).all()));
            case "list-all" -> list(get(admin.listGroups().all()));
            case "describe" -> describe(admin, args[2]);
            case "offsets" -> offsets(admin, args[2]);
            case "reset" -> reset(admin, args[2], args[3], args[4]);
            case "commit" -> {
                TopicPartition tp = new TopicPartition(args[3], Integer.parseInt(args[4]));
                get(admin.alterConsumerGroupOffsets(args[2],
                        Map.of(tp, new OffsetAndMetadata(Long.parseLong(args[5]), args[6]))).all());
                System.out.println("{\"ok\": true}");
            }
            case "delete-offsets" -> {
                Set<TopicPartition> tps = Set.copyOf(partitions(admin, args[3]));
                var result = admin.deleteConsumerGroupOffsets(args[2], tps);
                for (TopicPartition tp : tps) {
                    String error = null;
                    try {
                        get(result.partitionResult(tp));
                    } catch (ExecutionException e) {
                        error = e.getCause().getClass().getSimpleName();
                    }
                    System.out.println("{\"partition\": " + tp.partition() + ", \"error\": " + q(error) + "}");
                }
            }
            case "delete" -> {
                get(admin.deleteConsumerGroups(List.of(args[2])).all());
                System.out.println("{\"deleted\": " + q(args[2]) + "}");
            }
            default -> throw new IllegalArgumentException("unknown command " + command);
        }
    }

    static void list(Collection<GroupListing> groups) {
        for (GroupListing g : groups) {
            System.out.println("{\"group\": " + q(g.groupId())
                    + ", \"type\": " + q(g.type().map(Object::toString).orElse(null))
                    + ", \"protocol\": " + q(g.protocol())
                    + ", \"state\": " + q(g.groupState().map(Object::toString).orElse(null))
                    + ", \"simple\": " + g.isSimpleConsumerGroup() + "}");
        }
    }

    static void describe(Admin admin, String group) throws Exception {
        ConsumerGroupDescription d = get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group));
        StringBuilder members = new StringBuilder("[");
        for (MemberDescription m : d.members()) {
            if (members.length() > 1) members.append(", ");
            List<String> tps = new ArrayList<>();
            for (TopicPartition tp : m.assignment().topicPartitions()) tps.add(q(tp.topic() + ":" + tp.partition()));
            tps.sort(null);
            members.append("{\"id\": ").append(q(m.consumerId()))
                    .append(", \"client\": ").append(q(m.clientId()))
                    .append(", \"host\": ").append(q(m.host()))
                    .append(", \"instance\": ").append(q(m.groupInstanceId().orElse(null)))
                    .append(", \"assignment\": ").append(tps).append("}");
        }
        members.append("]");
        System.out.println("{\"group\": " + q(d.groupId())
                + ", \"state\": " + q(d.groupState().toString())
                + ", \"type\": " + q(d.type().toString())
                + ", \"assignor\": " + q(d.partitionAssignor())
                + ", \"simple\": " + d.isSimpleConsumerGroup()
                + ", \"coordinator\": " + (d.coordinator() == null ? -1 : d.coordinator().id())
                + ", \"members\": " + members + "}");
    }

    /** What --describe --offsets prints: per partition committed offset, log end and lag. */
    static void offsets(Admin admin, String group) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> committed =
                get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
        ConsumerGroupDescription d = get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group));
        Map<TopicPartition, MemberDescription> owners = new HashMap<>();
        for (MemberDescription m : d.members()) {
            for (TopicPartition tp : m.assignment().topicPartitions()) owners.put(tp, m);
        }
        Map<TopicPartition, OffsetSpec> wanted = new HashMap<>();
        for (TopicPartition tp : committed.keySet()) wanted.put(tp, OffsetSpec.latest());
        for (TopicPartition tp : owners.keySet()) wanted.put(tp, OffsetSpec.latest());
        Map<TopicPartition, ListOffsetsResultInfo> ends = get(admin.listOffsets(wanted).all());
        Map<String, TopicPartition> sorted = new TreeMap<>();
        for (TopicPartition tp : wanted.keySet()) sorted.put(String.format("%s-%09d", tp.topic(), tp.partition()), tp);
        for (TopicPartition tp : sorted.values()) {
            OffsetAndMetadata om = committed.get(tp);
            long end = ends.get(tp).offset();
            MemberDescription owner = owners.get(tp);
            System.out.println("{\"topic\": " + q(tp.topic()) + ", \"partition\": " + tp.partition()
                    + ", \"offset\": " + (om == null ? "null" : Long.toString(om.offset()))
                    + ", \"metadata\": " + (om == null ? "null" : q(om.metadata()))
                    + ", \"leader_epoch\": " + (om == null ? "null" : om.leaderEpoch().map(Object::toString).orElse("null"))
                    + ", \"end\": " + end
                    + ", \"lag\": " + (om == null ? "null" : Long.toString(end - om.offset()))
                    + ", \"owner\": " + q(owner == null ? null : owner.consumerId())
                    + ", \"client\": " + q(owner == null ? null : owner.clientId()) + "}");
        }
    }

    static List<TopicPartition> partitions(Admin admin, String topic) throws Exception {
        TopicDescription td = get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic);
        List<TopicPartition> out = new ArrayList<>();
        for (TopicPartitionInfo p : td.partitions()) out.add(new TopicPartition(topic, p.partition()));
        return out;
    }

    static Map<TopicPartition, Long> listOffsets(Admin admin, List<TopicPartition> tps, OffsetSpec spec) throws Exception {
        Map<TopicPartition, OffsetSpec> wanted = new HashMap<>();
        for (TopicPartition tp : tps) wanted.put(tp, spec);
        Map<TopicPartition, Long> out = new HashMap<>();
        for (Map.Entry<TopicPartition, ListOffsetsResultInfo> e : get(admin.listOffsets(wanted).all()).entrySet()) {
            out.put(e.getKey(), e.getValue().offset());
        }
        return out;
    }

    /** kafka-consumer-groups --reset-offsets --execute, for every partition of one topic. */
    static void reset(Admin admin, String group, String topic, String mode) throws Exception {
        List<TopicPartition> tps = partitions(admin, topic);
        Map<TopicPartition, Long> earliest = listOffsets(admin, tps, OffsetSpec.earliest());
        Map<TopicPartition, Long> latest = listOffsets(admin, tps, OffsetSpec.latest());
        Map<TopicPartition, Long> target = new HashMap<>();
        if (mode.equals("earliest")) {
            target.putAll(earliest);
        } else if (mode.equals("latest")) {
            target.putAll(latest);
        } else if (mode.startsWith("offset:")) {
            long n = Long.parseLong(mode.substring(7));
            for (TopicPartition tp : tps) target.put(tp, Math.max(earliest.get(tp), Math.min(latest.get(tp), n)));
        } else if (mode.startsWith("datetime:")) {
            Map<TopicPartition, Long> at = listOffsets(admin, tps, OffsetSpec.forTimestamp(Long.parseLong(mode.substring(9))));
            for (TopicPartition tp : tps) target.put(tp, at.get(tp) < 0 ? latest.get(tp) : at.get(tp));
        } else if (mode.startsWith("shift:")) {
            long n = Long.parseLong(mode.substring(6));
            Map<TopicPartition, OffsetAndMetadata> current =
                    get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
            for (TopicPartition tp : tps) {
                OffsetAndMetadata om = current.get(tp);
                long base = om == null ? latest.get(tp) : om.offset();
                target.put(tp, Math.max(earliest.get(tp), Math.min(latest.get(tp), base + n)));
            }
        } else {
            throw new IllegalArgumentException("unknown reset mode " + mode);
        }
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (Map.Entry<TopicPartition, Long> e : target.entrySet()) offsets.put(e.getKey(), new OffsetAndMetadata(e.getValue()));
        get(admin.alterConsumerGroupOffsets(group, offsets).all());
        for (TopicPartition tp : tps) {
            System.out.println("{\"topic\": " + q(topic) + ", \"partition\": " + tp.partition()
                    + ", \"offset\": " + target.get(tp) + "}");
        }
    }
}
