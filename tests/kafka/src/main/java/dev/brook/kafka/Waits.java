package dev.brook.kafka;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Predicate;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/** Waiting without fixed sleeps, for the tests and the differential scenario. */
public final class Waits {
    private Waits() {}

    /**
     * Calls until the answer passes `done` (10 s at most) and returns the last answer.
     * Kafka applies admin changes through its metadata log, so a describe right after an
     * alter may briefly show the old state; Brook answers once its metadata has it.
     */
    public static <T> T eventually(Callable<T> call, Predicate<T> done) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            T answer = call.call();
            if (done.test(answer) || System.nanoTime() > deadline) {
                return answer;
            }
            Thread.sleep(50);
        }
    }

    /** Reads `count` records from what the consumer is assigned or subscribed to. */
    public static List<ConsumerRecord<String, String>> poll(
            KafkaConsumer<String, String> consumer, int count, Duration timeout) {
        List<ConsumerRecord<String, String>> records = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (records.size() < count) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("read " + records.size() + " of " + count + " records in " + timeout);
            }
            consumer.poll(Duration.ofMillis(200)).forEach(records::add);
        }
        return records;
    }
}
