package dev.brook.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The cluster under test: Brook or Kafka 4.4, at $KAFKA_BOOTSTRAP ($KAFKA_TARGET says
 * which, "brook" by default). The same tests run against both; where Brook does not
 * serve a feature yet, {@link #isBrook()} selects the fast, clear failure expected
 * instead.
 */
final class Target {
    static final String BOOTSTRAP = require("KAFKA_BOOTSTRAP");
    static final String NAME = System.getenv().getOrDefault("KAFKA_TARGET", "brook");

    private Target() {}

    static boolean isBrook() {
        return NAME.equals("brook");
    }

    private static String require(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException(name + " is not set (kafka.sh junit BOOTSTRAP sets it)");
        }
        return value;
    }

    /** A topic name no earlier run on the same cluster used. */
    static String uniqueTopic(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static Admin admin() {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20_000);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        return Admin.create(props);
    }

    static String createTopic(Admin admin, String prefix, int partitions, Map<String, String> configs)
            throws ExecutionException, InterruptedException {
        String name = uniqueTopic(prefix);
        admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1).configs(configs))).all().get();
        awaitTopic(admin, name, partitions);
        return name;
    }

    /** Kafka applies a creation through its metadata log, so a call right after it may
     *  not find the topic yet, and a leader may answer NOT_LEADER_OR_FOLLOWER until it
     *  has created its log (an idempotent producer whose first batch meets that can fail
     *  its next ones with OutOfOrderSequenceException on Kafka 4.4); Brook answers once
     *  its metadata has it. Waits (10 s at most) until a describe shows every partition
     *  and every partition's leader answers ListOffsets. */
    static void awaitTopic(Admin admin, String name, int partitions) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (admin.describeTopics(List.of(name)).allTopicNames().get().get(name).partitions().size() == partitions) {
                    Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
                    for (int p = 0; p < partitions; p++) {
                        latest.put(new TopicPartition(name, p), OffsetSpec.latest());
                    }
                    admin.listOffsets(latest).all().get();
                    return;
                }
            } catch (ExecutionException e) {
                // not there yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    static KafkaProducer<String, String> producer(Map<String, Object> overrides) {
        Map<String, Object> props = new HashMap<>();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        props.putAll(overrides);
        return new KafkaProducer<>(props);
    }

    static KafkaConsumer<String, String> consumer(Map<String, Object> overrides) {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.putAll(overrides);
        return new KafkaConsumer<>(props);
    }

    /** `perPartition` records to each of `partitions` partitions, valued "p:i". */
    static void produce(String topic, int partitions, int perPartition) {
        try (KafkaProducer<String, String> producer = producer(Map.of())) {
            for (int i = 0; i < perPartition; i++) {
                for (int p = 0; p < partitions; p++) {
                    producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(topic, p, "k", p + ":" + i));
                }
            }
            producer.flush();
        }
    }

    /** Every record of `topic`'s partitions read from the start by an assigned consumer. */
    static List<ConsumerRecord<String, String>> readAll(String topic, int partitions, int count) {
        try (KafkaConsumer<String, String> consumer = consumer(Map.of())) {
            List<TopicPartition> all = new ArrayList<>();
            for (int p = 0; p < partitions; p++) {
                all.add(new TopicPartition(topic, p));
            }
            consumer.assign(all);
            consumer.seekToBeginning(all);
            return Waits.poll(consumer, count, Duration.ofSeconds(30));
        }
    }
}
