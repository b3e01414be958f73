package dev.brook.kafka;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.message.ApiVersionsResponseData.ApiVersion;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ApiVersionsRequest;
import org.apache.kafka.common.requests.ApiVersionsResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * One scenario, run against Kafka 4.4 and against Brook by tools/tests/clients/differential.rs,
 * which compares what it prints line by line. Each line is "step: answer", where the
 * answer is normalised (exception class names, not messages; no ids, hosts or
 * timestamps of the run), so equal lines mean equal behaviour. The error paths where
 * compatibility breaks silently are the point.
 *
 * Usage: Differential BOOTSTRAP RUN_ID
 */
public final class Differential {
    private static Admin admin;
    private static String bootstrap;
    private static String run;

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        run = args[1];
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("default.api.timeout.ms", 15_000);
        props.put("request.timeout.ms", 10_000);
        admin = Admin.create(props);
        try {
            topics();
            configs();
            brokerConfigs();
            sizes();
            offsets();
            groups();
            autoCreation();
            apiVersions();
        } finally {
            admin.close();
        }
    }

    static void say(String step, Object answer) {
        System.out.println(step + ": " + answer);
        System.out.flush();
    }

    /** The answer of a call: its value, or the class of the error it failed with. */
    static void step(String step, Callable<Object> call) {
        Object answer;
        try {
            answer = call.call();
        } catch (ExecutionException e) {
            answer = "error " + e.getCause().getClass().getSimpleName();
        } catch (Exception e) {
            answer = "error " + e.getClass().getSimpleName();
        }
        say(step, answer);
    }

    static String name(String what) {
        return "diff-" + what + "-" + run;
    }

    static Object create(String topic, int partitions, short rf, Map<String, String> configs) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, partitions, rf).configs(configs))).all().get();
        // Kafka applies a creation through its metadata log: wait until it shows.
        Waits.eventually(() -> {
            try {
                return admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
            } catch (ExecutionException e) {
                return 0;
            }
        }, n -> n == partitions);
        return "ok";
    }

    static void topics() {
        String topic = name("topics");
        step("create", () -> create(topic, 2, (short) 1, Map.of()));
        step("create existing", () -> create(topic, 2, (short) 1, Map.of()));
        step("create zero partitions", () -> create(name("zero"), 0, (short) 1, Map.of()));
        step("create replication factor 3 on one broker", () -> create(name("rf"), 1, (short) 3, Map.of()));
        step("create invalid name", () -> create("bad/name", 1, (short) 1, Map.of()));
        step("create name of 250 characters", () -> create("x".repeat(250), 1, (short) 1, Map.of()));
        step("create bad config value", () -> create(name("badvalue"), 1, (short) 1, Map.of("retention.ms", "soon")));
        step("create unknown config", () -> create(name("unknown"), 1, (short) 1, Map.of("no.such.config", "1")));
        step("describe unknown topic", () -> admin.describeTopics(List.of(name("missing"))).allTopicNames().get().size());
        step("grow to 3", () -> {
            admin.createPartitions(Map.of(topic, org.apache.kafka.clients.admin.NewPartitions.increaseTo(3))).all().get();
            return "ok";
        });
        step("shrink to 1", () -> {
            admin.createPartitions(Map.of(topic, org.apache.kafka.clients.admin.NewPartitions.increaseTo(1))).all().get();
            return "ok";
        });
        step("delete unknown topic", () -> {
            admin.deleteTopics(List.of(name("missing"))).all().get();
            return "ok";
        });
    }

    static Object alter(String topic, String key, String value) throws Exception {
        return alter(new ConfigResource(ConfigResource.Type.TOPIC, topic), key, value);
    }

    static Object alter(ConfigResource resource, String key, String value) throws Exception {
        AlterConfigOp op = value == null
                ? new AlterConfigOp(new ConfigEntry(key, null), AlterConfigOp.OpType.DELETE)
                : new AlterConfigOp(new ConfigEntry(key, value), AlterConfigOp.OpType.SET);
        admin.incrementalAlterConfigs(Map.of(resource, List.of(op))).all().get();
        return "ok";
    }

    static String describe(ConfigEntry e) {
        String synonyms = e.synonyms().stream().map(s -> s.source().toString()).collect(Collectors.joining(","));
        return e.value() + " source=" + e.source() + " readOnly=" + e.isReadOnly() + " sensitive=" + e.isSensitive()
                + " type=" + e.type() + " synonyms=[" + synonyms + "]";
    }

    static void configs() throws Exception {
        String topic = name("configs");
        step("create with retention.ms", () -> create(topic, 1, (short) 1, Map.of("retention.ms", "3600000")));
        step("set negative max.message.bytes", () -> alter(topic, "max.message.bytes", "-5"));
        step("set unknown config", () -> alter(topic, "no.such.config", "1"));
        step("set a config Kafka 4 removed", () -> alter(topic, "message.timestamp.difference.max.ms", "1000"));
        step("set cleanup.policy to a word it does not know", () -> alter(topic, "cleanup.policy", "forever"));
        step("set segment.bytes past an int", () -> alter(topic, "segment.bytes", "3000000000"));
        step("set retention.bytes", () -> alter(topic, "retention.bytes", "1048576"));
        step("delete a config never set", () -> alter(topic, "segment.ms", null));
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config config = Waits.eventually(
                () -> admin.describeConfigs(List.of(resource), new org.apache.kafka.clients.admin.DescribeConfigsOptions()
                        .includeSynonyms(true)).all().get().get(resource),
                c -> "1048576".equals(c.get("retention.bytes").value()));
        for (String key : List.of("retention.ms", "retention.bytes", "cleanup.policy", "segment.bytes", "segment.ms",
                "max.message.bytes", "min.insync.replicas", "compression.type", "unclean.leader.election.enable")) {
            ConfigEntry entry = config.get(key);
            say("describe " + key, entry == null ? "missing" : describe(entry));
        }
        step("describe configs of an unknown topic", () -> admin.describeConfigs(
                List.of(new ConfigResource(ConfigResource.Type.TOPIC, name("missing")))).all().get().size());
    }

    /** One broker's own settings: their types, and per-broker dynamic changes. */
    static void brokerConfigs() throws Exception {
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER,
                Integer.toString(admin.describeCluster().nodes().get().iterator().next().id()));
        Config config = admin.describeConfigs(List.of(broker)).all().get().get(broker);
        for (String key : List.of("node.id", "controller.quorum.voters", "listeners", "advertised.listeners", "log.dirs",
                "broker.rack", "auto.create.topics.enable", "broker.heartbeat.interval.ms", "connections.max.idle.ms",
                "socket.request.max.bytes", "group.initial.rebalance.delay.ms", "replica.lag.time.max.ms",
                "log.retention.check.interval.ms", "min.insync.replicas", "log.segment.bytes", "log.retention.ms",
                "log.retention.bytes", "log.flush.interval.messages", "log.flush.interval.ms", "message.max.bytes")) {
            ConfigEntry entry = config.get(key);
            say("type of broker config " + key, entry == null ? "missing" : entry.type());
        }
        step("set a broker's own log.segment.bytes", () -> alter(broker, "log.segment.bytes", "536870912"));
        ConfigEntry own = Waits.eventually(() -> admin.describeConfigs(List.of(broker)).all().get().get(broker)
                .get("log.segment.bytes"), e -> "536870912".equals(e.value()));
        say("describe a broker's own log.segment.bytes", own.value() + " source=" + own.source());
        step("delete a broker's own log.segment.bytes", () -> alter(broker, "log.segment.bytes", null));
        step("set a broker's own log.segment.bytes out of range", () -> alter(broker, "log.segment.bytes", "10"));
        step("set a broker's own num.partitions", () -> alter(broker, "num.partitions", "1"));
        step("delete a broker's own num.partitions", () -> alter(broker, "num.partitions", null));
        step("set a broker's replication throttle", () -> alter(broker, "leader.replication.throttled.rate", "1000000"));
        step("delete a broker's replication throttle", () -> alter(broker, "leader.replication.throttled.rate", null));
    }

    static KafkaProducer<String, String> producer(Map<String, Object> extra) {
        Map<String, Object> props = new HashMap<>();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 20_000);
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        props.putAll(extra);
        return new KafkaProducer<>(props);
    }

    static void sizes() throws Exception {
        String topic = name("sizes");
        create(topic, 1, (short) 1, Map.of("max.message.bytes", "2000"));
        try (KafkaProducer<String, String> producer = producer(Map.of(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 1 << 20,
                ProducerConfig.COMPRESSION_TYPE_CONFIG, "none"))) {
            step("a record under max.message.bytes", () -> producer.send(new ProducerRecord<>(topic, "k", "x".repeat(1000))).get().offset());
            step("a record over max.message.bytes", () -> producer.send(new ProducerRecord<>(topic, "k", "x".repeat(5000))).get().offset());
        }
        try (KafkaProducer<String, String> producer = producer(Map.of(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 1000))) {
            step("a record over the producer's max.request.size", () -> producer.send(new ProducerRecord<>(topic, "k", "x".repeat(5000))).get().offset());
        }
    }

    static KafkaConsumer<String, String> consumer(Map<String, Object> extra) {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.putAll(extra);
        return new KafkaConsumer<>(props);
    }

    static void offsets() throws Exception {
        String topic = name("offsets");
        create(topic, 1, (short) 1, Map.of());
        TopicPartition tp = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 600_000;
        try (KafkaProducer<String, String> producer = producer(Map.of())) {
            for (int i = 0; i < 10; i++) {
                long ts = i == 6 ? base + 100_000 : base + i * 1000L;
                producer.send(new ProducerRecord<>(topic, 0, ts, "k", "v" + i));
            }
            producer.flush();
        }
        Map<String, OffsetSpec> specs = new java.util.LinkedHashMap<>();
        specs.put("earliest", OffsetSpec.earliest());
        specs.put("latest", OffsetSpec.latest());
        specs.put("max timestamp", OffsetSpec.maxTimestamp());
        specs.put("earliest local", OffsetSpec.earliestLocal());
        specs.put("latest tiered", OffsetSpec.latestTiered());
        specs.put("at a time inside", OffsetSpec.forTimestamp(base + 2_500));
        specs.put("at a time before all", OffsetSpec.forTimestamp(base - 10_000));
        specs.put("at a time after all", OffsetSpec.forTimestamp(base + 200_000));
        for (Map.Entry<String, OffsetSpec> spec : specs.entrySet()) {
            step("list offsets " + spec.getKey(), () -> listed(tp, spec.getValue(), base));
        }
        step("list offsets of a partition that does not exist", () -> admin.listOffsets(
                Map.of(new TopicPartition(topic, 7), OffsetSpec.latest())).all().get().size());
        step("delete records past the end", () -> {
            admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(11))).all().get();
            return "ok";
        });
        step("delete records before 4", () -> admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4)))
                .lowWatermarks().get(tp).get().lowWatermark());
        // The record at +2 s is below the new log start: the first at or after the start counts.
        step("list offsets at a time before the log start", () -> listed(tp, OffsetSpec.forTimestamp(base + 1_500), base));
        step("fetch from past the end with no reset policy", () -> {
            try (KafkaConsumer<String, String> consumer = consumer(Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none"))) {
                consumer.assign(List.of(tp));
                consumer.seek(tp, 1000);
                return consumer.poll(Duration.ofSeconds(5)).count();
            }
        });
        step("fetch from before the start with no reset policy", () -> {
            try (KafkaConsumer<String, String> consumer = consumer(Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none"))) {
                consumer.assign(List.of(tp));
                consumer.seek(tp, 1);
                return consumer.poll(Duration.ofSeconds(5)).count();
            }
        });
        step("fetch from before the start, reset to earliest", () -> {
            try (KafkaConsumer<String, String> consumer = consumer(Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"))) {
                consumer.assign(List.of(tp));
                consumer.seek(tp, 1);
                return Waits.poll(consumer, 6, Duration.ofSeconds(20)).get(0).offset();
            }
        });
    }

    /** A ListOffsets answer: the offset, and its timestamp relative to {@code base}. */
    static String listed(TopicPartition tp, OffsetSpec spec, long base) throws Exception {
        var info = admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get();
        return info.offset() + (info.timestamp() >= 0 ? " at +" + (info.timestamp() - base) : " ts " + info.timestamp());
    }

    static void groups() throws Exception {
        String topic = name("groups");
        create(topic, 1, (short) 1, Map.of());
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> producer = producer(Map.of())) {
            for (int i = 0; i < 5; i++) {
                producer.send(new ProducerRecord<>(topic, "k", "v" + i));
            }
            producer.flush();
        }
        String group = name("group");
        step("offsets of an unknown group", () -> admin.listConsumerGroupOffsets(name("nobody")).partitionsToOffsetAndMetadata().get().size());
        step("delete an unknown group", () -> {
            admin.deleteConsumerGroups(List.of(name("nobody"))).all().get();
            return "ok";
        });
        step("alter offsets of an empty group", () -> {
            admin.alterConsumerGroupOffsets(group, Map.of(tp, new OffsetAndMetadata(2))).all().get();
            return admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp).offset();
        });
        try (KafkaConsumer<String, String> member = consumer(Map.of(ConsumerConfig.GROUP_ID_CONFIG, group,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false))) {
            member.subscribe(List.of(topic));
            step("a member resumes from the altered offset", () -> Waits.poll(member, 3, Duration.ofSeconds(30)).get(0).offset());
            step("alter offsets of an active group", () -> {
                admin.alterConsumerGroupOffsets(group, Map.of(tp, new OffsetAndMetadata(0))).all().get();
                return "ok";
            });
            step("delete an active group", () -> {
                admin.deleteConsumerGroups(List.of(group)).all().get();
                return "ok";
            });
            step("delete the offsets of an active group's subscribed topic", () -> {
                admin.deleteConsumerGroupOffsets(group, Set.of(tp)).all().get();
                return "ok";
            });
            member.commitSync();
        }
        step("describe the group once empty", () -> admin.describeConsumerGroups(List.of(group)).all().get().get(group).groupState());
        step("delete the empty group", () -> {
            admin.deleteConsumerGroups(List.of(group)).all().get();
            return "ok";
        });
        step("describe a deleted group", () -> admin.describeConsumerGroups(List.of(group)).all().get().get(group).groupState());
    }

    static void autoCreation() throws Exception {
        String topic = name("auto");
        try (KafkaProducer<String, String> producer = producer(Map.of())) {
            step("produce to a topic that does not exist", () -> producer.send(new ProducerRecord<>(topic, "k", "v")).get().offset());
        }
        step("the auto-created topic's partitions", () -> admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size());
        String unwanted = name("not-created");
        try (KafkaConsumer<String, String> consumer = consumer(Map.of(ConsumerConfig.GROUP_ID_CONFIG, name("auto-group"),
                ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false))) {
            consumer.subscribe(List.of(unwanted));
            consumer.poll(Duration.ofSeconds(2));
        }
        step("a consumer that may not create topics created none", () -> admin.listTopics().names().get().contains(unwanted));
    }

    /**
     * Every API Kafka's client knows, with the version range the first bootstrap broker
     * advertises for it ("not served" when absent), from one ApiVersions v3 exchange.
     */
    static void apiVersions() throws Exception {
        String[] hostPort = bootstrap.split(",")[0].split(":");
        short version = 3;
        RequestHeader header = new RequestHeader(ApiKeys.API_VERSIONS, version, "differential", 1);
        ByteBuffer request = new ApiVersionsRequest.Builder().build(version).serializeWithHeader(header);
        ApiVersionsResponse response;
        try (Socket socket = new Socket(hostPort[0], Integer.parseInt(hostPort[1]))) {
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            out.writeInt(request.remaining());
            out.write(request.array(), request.arrayOffset() + request.position(), request.remaining());
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            byte[] body = new byte[in.readInt()];
            in.readFully(body);
            response = (ApiVersionsResponse) AbstractResponse.parseResponse(ByteBuffer.wrap(body), header);
        }
        say("api versions error", response.data().errorCode());
        for (ApiKeys api : ApiKeys.values()) {
            ApiVersion range = response.apiVersion(api.id);
            say("api " + api.name, range == null ? "not served" : range.minVersion() + ".." + range.maxVersion());
        }
    }
}
