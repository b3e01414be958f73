package dev.brook.kafka;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Java producer with Kafka 4.x defaults (idempotent, acks=all), every codec, headers, large records. */
class ProducerTest extends ClusterTest {
    @Test
    void defaultsAreIdempotentWithAcksAllAndKeepKeyOrder() throws Exception {
        String topic = Target.createTopic(admin, "java-defaults", 3, Map.of());
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<String, String> producer = Target.producer(Map.of())) {
            for (int i = 0; i < 3000; i++) {
                sent.add(producer.send(new ProducerRecord<>(topic, "key-" + (i % 10), "value-" + i)));
            }
            producer.flush();
            for (Future<RecordMetadata> f : sent) {
                assertTrue(f.get().hasOffset());
            }
        }
        Map<String, Integer> lastByKey = new HashMap<>();
        Map<String, Integer> partitionByKey = new HashMap<>();
        for (ConsumerRecord<String, String> r : Target.readAll(topic, 3, 3000)) {
            int n = Integer.parseInt(r.value().substring("value-".length()));
            Integer last = lastByKey.put(r.key(), n);
            assertTrue(last == null || last < n, r.key() + ": " + n + " after " + last);
            Integer p = partitionByKey.putIfAbsent(r.key(), r.partition());
            assertTrue(p == null || p == r.partition(), r.key() + " in two partitions");
        }
        assertEquals(10, lastByKey.size());
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "gzip", "snappy", "lz4", "zstd"})
    void everyCodecRoundTripsValuesAndHeaders(String codec) throws Exception {
        String topic = Target.createTopic(admin, "java-" + codec, 1, Map.of());
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<String, String> producer = Target.producer(Map.of(
                ProducerConfig.COMPRESSION_TYPE_CONFIG, codec, ProducerConfig.LINGER_MS_CONFIG, 20))) {
            for (int i = 0; i < 500; i++) {
                ProducerRecord<String, String> record = new ProducerRecord<>(topic, null, "k" + i, "v".repeat(i % 50) + i);
                record.headers().add("n", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                record.headers().add("empty", new byte[0]);
                record.headers().add(new RecordHeader("null", null));
                sent.add(producer.send(record));
            }
            producer.flush();
        }
        // Each send acknowledged at its own offset: a lost write fails here, not as a short read.
        for (int i = 0; i < 500; i++) {
            assertEquals(i, sent.get(i).get().offset(), "record " + i + "'s offset");
        }
        List<ConsumerRecord<String, String>> read = Target.readAll(topic, 1, 500);
        for (int i = 0; i < 500; i++) {
            ConsumerRecord<String, String> r = read.get(i);
            assertEquals(i, r.offset());
            assertEquals("k" + i, r.key());
            assertEquals("v".repeat(i % 50) + i, r.value());
            Header[] headers = r.headers().toArray();
            assertEquals(3, headers.length);
            assertArrayEquals(Integer.toString(i).getBytes(StandardCharsets.UTF_8), r.headers().lastHeader("n").value());
            assertArrayEquals(new byte[0], r.headers().lastHeader("empty").value());
            assertEquals(null, r.headers().lastHeader("null").value());
        }
    }

    @Test
    void aRecordNearTheTopicLimitIsStoredAndOneOverItIsRefused() throws Exception {
        String topic = Target.createTopic(admin, "java-large", 1, Map.of("max.message.bytes", "1048588"));
        Map<String, Object> big = Map.of(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4 << 20,
                ProducerConfig.BATCH_SIZE_CONFIG, 4 << 20);
        try (KafkaProducer<String, String> producer = Target.producer(big)) {
            String fits = "x".repeat(1_000_000);
            RecordMetadata landed = producer.send(new ProducerRecord<>(topic, "fits", fits)).get();
            assertEquals(0, landed.offset());
            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> producer.send(new ProducerRecord<>(topic, "over", "y".repeat(1_100_000))).get());
            assertInstanceOf(RecordTooLargeException.class, refused.getCause());
        }
        List<ConsumerRecord<String, String>> read = Target.readAll(topic, 1, 1);
        assertEquals(1_000_000, read.get(0).value().length());
    }

    @Test
    void timestampsFollowTheTopicsTimestampRules() throws Exception {
        String appendTime = Target.createTopic(admin, "java-append-time", 1, Map.of("message.timestamp.type", "LogAppendTime"));
        String createTime = Target.createTopic(admin, "java-create-time", 1, Map.of());
        long before = System.currentTimeMillis();
        try (KafkaProducer<String, String> producer = Target.producer(Map.of())) {
            // LogAppendTime: the broker's clock replaces the producer's timestamp.
            RecordMetadata stamped = producer.send(new ProducerRecord<>(appendTime, 0, 1000L, "k", "v")).get();
            assertTrue(stamped.timestamp() >= before, "the append time, not 1000: " + stamped.timestamp());
            // CreateTime, Kafka 4's default bounds: an hour ahead at most.
            RecordMetadata kept = producer.send(new ProducerRecord<>(createTime, 0, 1000L, "k", "v")).get();
            assertEquals(1000L, kept.timestamp());
            long twoHoursAhead = System.currentTimeMillis() + 2 * 3600 * 1000;
            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> producer.send(new ProducerRecord<>(createTime, 0, twoHoursAhead, "k", "late")).get());
            assertInstanceOf(org.apache.kafka.common.errors.InvalidTimestampException.class, refused.getCause());
        }
        ConsumerRecord<String, String> read = Target.readAll(appendTime, 1, 1).get(0);
        assertEquals(org.apache.kafka.common.record.TimestampType.LOG_APPEND_TIME, read.timestampType());
        assertTrue(read.timestamp() >= before, "read back with the append time: " + read.timestamp());
        assertEquals(1000L, Target.readAll(createTime, 1, 1).get(0).timestamp());
    }

    @Test
    void acksZeroAndOneAreAnsweredAsConfigured() throws Exception {
        String topic = Target.createTopic(admin, "java-acks", 1, Map.of());
        for (String acks : List.of("0", "1")) {
            try (KafkaProducer<String, String> producer = Target.producer(Map.of(
                    ProducerConfig.ACKS_CONFIG, acks, ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false))) {
                RecordMetadata m = producer.send(new ProducerRecord<>(topic, "acks", acks)).get();
                // acks=0 never learns its offset (-1), as on Kafka.
                assertEquals(acks.equals("0"), !m.hasOffset(), "acks=" + acks + ": " + m);
            }
        }
        assertEquals(2, Target.readAll(topic, 1, 2).size());
    }
}
