package dev.brook.kafka;

import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/** A test class with an admin client of its own (classes run side by side). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ClusterTest {
    protected Admin admin;

    @BeforeAll
    void connect() {
        admin = Target.admin();
    }

    @AfterAll
    void close() {
        admin.close();
    }
}
