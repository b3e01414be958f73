package dev.brook.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Java consumer with the classic group protocol: assignors, static members, commits, seek, pause, times. */
class ConsumerTest extends ClusterTest {
    static Map<String, Object> groupConfig(String group, String assignor) {
        Map<String, Object> config = new HashMap<>();
        config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        config.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, assignor);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        return config;
    }

    @ParameterizedTest
    @ValueSource(strings = {"range", "cooperative-sticky"})
    void twoMembersShareEveryPartitionAndReadEachRecordOnce(String assignor) throws Exception {
        int partitions = 4;
        String topic = Target.createTopic(admin, "java-group-" + assignor, partitions, Map.of());
        Target.produce(topic, partitions, 100);
        String group = Target.uniqueTopic("group-" + assignor);
        String assignorClass = assignor.equals("range") ? RangeAssignor.class.getName() : CooperativeStickyAssignor.class.getName();
        Map<String, Integer> readBy = new ConcurrentHashMap<>();
        Set<String> seen = ConcurrentHashMap.newKeySet();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger failedCommits = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> members = new ArrayList<>();
        List<Set<TopicPartition>> finalAssignments = new ArrayList<>();
        for (int m = 0; m < 2; m++) {
            int member = m;
            Set<TopicPartition> assigned = ConcurrentHashMap.newKeySet();
            finalAssignments.add(assigned);
            Thread t = new Thread(() -> {
                try (KafkaConsumer<String, String> consumer = Target.consumer(groupConfig(group, assignorClass))) {
                    consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                        public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
                            assigned.removeAll(revoked);
                        }

                        public void onPartitionsAssigned(Collection<TopicPartition> added) {
                            assigned.addAll(added);
                        }
                    });
                    while (!stop.get()) {
                        ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(100));
                        for (ConsumerRecord<String, String> r : records) {
                            // A record is read twice only after a commit failed.
                            if (!seen.add(r.value()) && failedCommits.get() == 0) {
                                throw new AssertionError("read twice: " + r.value());
                            }
                            readBy.put(r.value(), member);
                        }
                        if (!records.isEmpty()) {
                            try {
                                consumer.commitSync();
                            } catch (RebalanceInProgressException | CommitFailedException e) {
                                // The group is rebalancing: these records may be read again.
                                failedCommits.incrementAndGet();
                            }
                        }
                    }
                    consumer.commitSync(); // what the last failed commit left behind
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            t.start();
            members.add(t);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
        while (System.nanoTime() < deadline && failure.get() == null
                && !(seen.size() == 400 && finalAssignments.get(0).size() + finalAssignments.get(1).size() == partitions
                        && !finalAssignments.get(0).isEmpty() && !finalAssignments.get(1).isEmpty())) {
            Thread.sleep(100);
        }
        // Closing revokes everything: look at the assignments before that.
        List<Set<TopicPartition>> settled = List.of(new HashSet<>(finalAssignments.get(0)), new HashSet<>(finalAssignments.get(1)));
        stop.set(true);
        for (Thread t : members) {
            t.join();
        }
        if (failure.get() != null) {
            throw new AssertionError("a member failed", failure.get());
        }
        assertEquals(400, seen.size());
        Set<TopicPartition> union = new HashSet<>(settled.get(0));
        union.addAll(settled.get(1));
        assertEquals(partitions, union.size(), "every partition assigned once: " + settled);
        assertTrue(!settled.get(0).isEmpty() && !settled.get(1).isEmpty(), "both members got partitions: " + settled);
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        for (int p = 0; p < partitions; p++) {
            assertEquals(100, committed.get(new TopicPartition(topic, p)).offset());
        }
    }

    @Test
    void aStaticMemberRejoinsWithItsAssignmentAndNoRebalance() throws Exception {
        String topic = Target.createTopic(admin, "java-static", 2, Map.of());
        String group = Target.uniqueTopic("static");
        Map<String, Object> config = groupConfig(group, RangeAssignor.class.getName());
        config.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "instance-1");
        config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 30_000);
        Set<TopicPartition> first = new HashSet<>();
        try (KafkaConsumer<String, String> consumer = Target.consumer(config)) {
            consumer.subscribe(List.of(topic));
            while (consumer.assignment().isEmpty()) {
                consumer.poll(Duration.ofMillis(100));
            }
            first.addAll(consumer.assignment());
        }
        ConsumerGroupDescription described = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
        assertEquals(1, described.members().size(), "the static member stays in the group after close: " + described);
        MemberDescription member = described.members().iterator().next();
        assertEquals("instance-1", member.groupInstanceId().orElse(null));
        try (KafkaConsumer<String, String> consumer = Target.consumer(config)) {
            consumer.subscribe(List.of(topic));
            while (consumer.assignment().isEmpty()) {
                consumer.poll(Duration.ofMillis(100));
            }
            assertEquals(first, consumer.assignment());
        }
    }

    @Test
    void autoCommitAndManualCommitResumeWhereTheLastMemberStopped() throws Exception {
        String topic = Target.createTopic(admin, "java-commits", 1, Map.of());
        Target.produce(topic, 1, 50);
        String group = Target.uniqueTopic("commits");
        TopicPartition tp = new TopicPartition(topic, 0);
        Map<String, Object> auto = groupConfig(group, RangeAssignor.class.getName());
        auto.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, true);
        auto.put(ConsumerConfig.AUTO_COMMIT_INTERVAL_MS_CONFIG, 100);
        auto.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 20);
        try (KafkaConsumer<String, String> consumer = Target.consumer(auto)) {
            consumer.subscribe(List.of(topic));
            Waits.poll(consumer, 20, Duration.ofSeconds(30));
        } // close commits the position
        long afterAuto = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp).offset();
        assertTrue(afterAuto >= 20, "auto commit reached " + afterAuto);
        try (KafkaConsumer<String, String> consumer = Target.consumer(groupConfig(group, RangeAssignor.class.getName()))) {
            consumer.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> rest = Waits.poll(consumer, (int) (50 - afterAuto), Duration.ofSeconds(30));
            assertEquals(afterAuto, rest.get(0).offset());
            consumer.commitSync(Map.of(tp, new OffsetAndMetadata(45, "manual")));
        }
        OffsetAndMetadata manual = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp);
        assertEquals(45, manual.offset());
        assertEquals("manual", manual.metadata());
    }

    @Test
    void seekPauseResumeAndOffsetsForTimes() throws Exception {
        String topic = Target.createTopic(admin, "java-seek", 2, Map.of());
        long base = System.currentTimeMillis() - 60_000;
        try (KafkaProducer<String, String> producer = Target.producer(Map.of())) {
            for (int i = 0; i < 20; i++) {
                producer.send(new ProducerRecord<>(topic, 0, base + i * 1000L, "k", "a" + i));
                producer.send(new ProducerRecord<>(topic, 1, base + i * 1000L, "k", "b" + i));
            }
            producer.flush();
        }
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        try (KafkaConsumer<String, String> consumer = Target.consumer(Map.of())) {
            consumer.assign(List.of(p0, p1));
            consumer.seek(p0, 15);
            consumer.seek(p1, 18);
            List<ConsumerRecord<String, String>> read = Waits.poll(consumer, 7, Duration.ofSeconds(30));
            assertEquals(Set.of("a15", "a16", "a17", "a18", "a19", "b18", "b19"), values(read));

            consumer.seekToBeginning(List.of(p0, p1));
            consumer.pause(List.of(p1));
            read = Waits.poll(consumer, 20, Duration.ofSeconds(30));
            assertTrue(read.stream().allMatch(r -> r.partition() == 0), "a paused partition was read");
            assertEquals(0, consumer.poll(Duration.ofMillis(300)).count());
            consumer.resume(List.of(p1));
            read = Waits.poll(consumer, 20, Duration.ofSeconds(30));
            assertTrue(read.stream().allMatch(r -> r.partition() == 1));

            Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(Map.of(p0, base + 7_500L, p1, base + 100_000L));
            assertEquals(8, found.get(p0).offset());
            assertEquals(base + 8_000L, found.get(p0).timestamp());
            assertNull(found.get(p1), "nothing at or after that time");
            assertEquals(Map.of(p0, 20L, p1, 20L), consumer.endOffsets(List.of(p0, p1)));
            assertEquals(Map.of(p0, 0L, p1, 0L), consumer.beginningOffsets(List.of(p0, p1)));
            consumer.seekToEnd(List.of(p0));
            assertEquals(20, consumer.position(p0));
        }
    }

    static Set<String> values(List<ConsumerRecord<String, String>> records) {
        Set<String> values = new HashSet<>();
        records.forEach(r -> values.add(r.value()));
        return values;
    }
}
