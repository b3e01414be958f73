package dev.brook.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.PartitionReassignment;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.LogDirNotFoundException;
import org.apache.kafka.common.errors.NoReassignmentInProgressException;
import org.apache.kafka.common.errors.SecurityDisabledException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.junit.jupiter.api.Test;

/** Every AdminClient call Brook serves, and fast clear failures for what it does not. */
class AdminTest extends ClusterTest {
    static Throwable cause(Future<?> future) {
        return assertThrows(ExecutionException.class, future::get).getCause();
    }

    @Test
    void topicsAreCreatedListedDescribedGrownAndDeleted() throws Exception {
        String topic = Target.createTopic(admin, "admin-topics", 2, Map.of("retention.ms", "3600000"));
        assertTrue(admin.listTopics().names().get().contains(topic));
        TopicDescription described = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        assertEquals(2, described.partitions().size());
        assertFalse(described.topicId().equals(Uuid.ZERO_UUID));
        // By id: the same topic (Kafka answers this from Metadata, so ELR shows "N/A").
        TopicDescription byId = admin.describeTopics(org.apache.kafka.common.TopicCollection.ofTopicIds(
                List.of(described.topicId()))).allTopicIds().get().get(described.topicId());
        assertEquals(topic, byId.name());
        assertEquals(2, byId.partitions().size());

        assertInstanceOf(TopicExistsException.class, cause(admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all()));
        assertInstanceOf(InvalidPartitionsException.class, cause(admin.createTopics(
                List.of(new NewTopic(Target.uniqueTopic("zero"), 0, (short) 1))).all()));
        assertInstanceOf(InvalidReplicationFactorException.class, cause(admin.createTopics(
                List.of(new NewTopic(Target.uniqueTopic("rf"), 1, (short) 3))).all()));
        assertInstanceOf(InvalidConfigurationException.class, cause(admin.createTopics(List.of(
                new NewTopic(Target.uniqueTopic("cfg"), 1, (short) 1).configs(Map.of("retention.ms", "soon")))).all()));

        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all().get();
        assertEquals(5, Waits.eventually(() -> admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic),
                d -> d.partitions().size() == 5).partitions().size());
        assertInstanceOf(InvalidPartitionsException.class, cause(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all()));

        admin.deleteTopics(List.of(topic)).all().get();
        assertInstanceOf(UnknownTopicOrPartitionException.class, cause(admin.deleteTopics(List.of(topic)).all()));
    }

    @Test
    void topicConfigsChangeIncrementallyWithSources() throws Exception {
        String topic = Target.createTopic(admin, "admin-configs", 1, Map.of("retention.ms", "3600000"));
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.bytes", "1048576"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("retention.ms", null), AlterConfigOp.OpType.DELETE)))).all().get();
        // Kafka applies a change through its metadata log: a describe right after the
        // alter may not see it yet (Brook answers once its metadata has it).
        Config config = Waits.eventually(() -> admin.describeConfigs(List.of(resource)).all().get().get(resource),
                c -> "1048576".equals(c.get("retention.bytes").value()));
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, config.get("retention.bytes").source());
        assertEquals("604800000", config.get("retention.ms").value());
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, config.get("retention.ms").source());
        assertInstanceOf(InvalidConfigurationException.class, cause(admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("max.message.bytes", "-5"), AlterConfigOp.OpType.SET)))).all()));
        assertEquals("1048576", admin.describeConfigs(List.of(resource)).all().get().get(resource).get("retention.bytes").value());
    }

    @Test
    void aBrokerDescribesItsSettingsWithSourcesAndSynonyms() throws Exception {
        int broker = admin.describeCluster().nodes().get().iterator().next().id();
        ConfigResource resource = new ConfigResource(ConfigResource.Type.BROKER, Integer.toString(broker));
        Config config = admin.describeConfigs(List.of(resource),
                new org.apache.kafka.clients.admin.DescribeConfigsOptions().includeSynonyms(true)).all().get().get(resource);
        ConfigEntry id = config.get("node.id");
        assertEquals(Integer.toString(broker), id.value());
        assertEquals(ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG, id.source());
        assertTrue(id.isReadOnly());
        ConfigEntry retention = config.get("log.retention.ms");
        assertNotNull(retention, "log.retention.ms described");
        assertFalse(retention.isReadOnly(), "a cluster-wide dynamic setting");
        ConfigEntry maxBytes = config.get("message.max.bytes");
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, maxBytes.source());
        assertEquals("1048588", maxBytes.value());
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, maxBytes.synonyms().get(0).source());
    }

    @Test
    void aBrokerTakesItsOwnDynamicSettingOverItsStaticOne() throws Exception {
        int broker = admin.describeCluster().nodes().get().iterator().next().id();
        ConfigResource resource = new ConfigResource(ConfigResource.Type.BROKER, Integer.toString(broker));
        String topic = Target.createTopic(admin, "admin-broker-config", 1, Map.of());
        ConfigResource topicResource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        // A large segment size, so the other tests' logs are not changed by it meanwhile.
        String size = "536870912";
        admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("log.segment.bytes", size), AlterConfigOp.OpType.SET)))).all().get();
        try {
            ConfigEntry own = Waits.eventually(
                    () -> admin.describeConfigs(List.of(resource)).all().get().get(resource).get("log.segment.bytes"),
                    e -> size.equals(e.value()));
            assertEquals(size, own.value());
            assertEquals(ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG, own.source());
            // A topic without an override takes it as its default.
            ConfigEntry segment = Waits.eventually(
                    () -> admin.describeConfigs(List.of(topicResource)).all().get().get(topicResource).get("segment.bytes"),
                    e -> size.equals(e.value()));
            assertEquals(size, segment.value());
            assertEquals(ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG, segment.source());
        } finally {
            admin.incrementalAlterConfigs(Map.of(resource, List.of(
                    new AlterConfigOp(new ConfigEntry("log.segment.bytes", null), AlterConfigOp.OpType.DELETE)))).all().get();
        }
        ConfigEntry cleared = Waits.eventually(
                () -> admin.describeConfigs(List.of(resource)).all().get().get(resource).get("log.segment.bytes"),
                e -> !size.equals(e.value()));
        assertEquals("1073741824", cleared.value());
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, cleared.source());
    }

    @Test
    void theClusterDescribesItselfWithAKafkaFormatIdAndItsQuorum() throws Exception {
        DescribeClusterResult cluster = admin.describeCluster();
        String id = cluster.clusterId().get();
        assertEquals(id, Uuid.fromString(id).toString(), "a Kafka-format cluster id (22 characters of base64): " + id);
        assertFalse(cluster.nodes().get().isEmpty());
        assertNotNull(cluster.controller().get());
        QuorumInfo quorum = admin.describeMetadataQuorum().quorumInfo().get();
        assertTrue(quorum.leaderId() >= 0);
        assertFalse(quorum.voters().isEmpty());
        QuorumInfo.Node leader = quorum.nodes().get(quorum.leaderId());
        assertNotNull(leader, "the leader's endpoints: " + quorum.nodes());
        assertFalse(leader.endpoints().isEmpty());
    }

    @Test
    void featuresAreAdvertised() throws Exception {
        FeatureMetadata features = admin.describeFeatures().featureMetadata().get();
        assertTrue(features.finalizedFeatures().containsKey("metadata.version"), "finalized: " + features.finalizedFeatures());
        assertTrue(features.supportedFeatures().containsKey("metadata.version"), "supported: " + features.supportedFeatures());
    }

    @Test
    void listOffsetsAnswersEverySpecAndDeleteRecordsMovesTheStart() throws Exception {
        String topic = Target.createTopic(admin, "admin-offsets", 1, Map.of());
        TopicPartition tp = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 60_000;
        try (KafkaProducer<String, String> producer = Target.producer(Map.of())) {
            for (int i = 0; i < 10; i++) {
                // The largest timestamp is at offset 4.
                long ts = i == 4 ? base + 50_000 : base + i * 1000L;
                producer.send(new ProducerRecord<>(topic, 0, ts, "k", "v" + i));
            }
            producer.flush();
        }
        assertEquals(0, offset(tp, OffsetSpec.earliest()).offset());
        assertEquals(10, offset(tp, OffsetSpec.latest()).offset());
        assertEquals(3, offset(tp, OffsetSpec.forTimestamp(base + 2_500)).offset());
        ListOffsetsResult.ListOffsetsResultInfo max = offset(tp, OffsetSpec.maxTimestamp());
        assertEquals(4, max.offset());
        assertEquals(base + 50_000, max.timestamp());
        assertEquals(0, offset(tp, OffsetSpec.earliestLocal()).offset());
        assertEquals(-1, offset(tp, OffsetSpec.forTimestamp(base + 100_000)).offset());

        admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(6))).all().get();
        assertEquals(6, offset(tp, OffsetSpec.earliest()).offset());
        assertInstanceOf(org.apache.kafka.common.errors.OffsetOutOfRangeException.class,
                cause(admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(11))).all()));
    }

    ListOffsetsResult.ListOffsetsResultInfo offset(TopicPartition tp, OffsetSpec spec) throws Exception {
        return admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get();
    }

    @Test
    void electionsAndReassignmentsOnOneBroker() throws Exception {
        String topic = Target.createTopic(admin, "admin-elect", 1, Map.of());
        TopicPartition tp = new TopicPartition(topic, 0);
        Map<TopicPartition, Optional<Throwable>> elected = admin.electLeaders(ElectionType.PREFERRED, Set.of(tp)).partitions().get();
        assertInstanceOf(ElectionNotNeededException.class, elected.get(tp).orElseThrow());
        int broker = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().get(0).leader().id();
        admin.alterPartitionReassignments(Map.of(tp, Optional.of(new NewPartitionReassignment(List.of(broker))))).all().get();
        Map<TopicPartition, PartitionReassignment> ongoing = admin.listPartitionReassignments(Set.of(tp)).reassignments().get();
        assertTrue(ongoing.isEmpty(), "a move to where it is finishes at once: " + ongoing);
        assertInstanceOf(NoReassignmentInProgressException.class,
                cause(admin.alterPartitionReassignments(Map.of(tp, Optional.empty())).all()));
    }

    @Test
    void logDirsAreDescribed() throws Exception {
        String topic = Target.createTopic(admin, "admin-logdirs", 1, Map.of());
        Target.produce(topic, 1, 10);
        int broker = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().get(0).leader().id();
        Map<String, LogDirDescription> dirs = admin.describeLogDirs(List.of(broker)).allDescriptions().get().get(broker);
        assertFalse(dirs.isEmpty());
        long size = dirs.values().stream()
                .flatMap(d -> d.replicaInfos().entrySet().stream())
                .filter(e -> e.getKey().topic().equals(topic))
                .mapToLong(e -> e.getValue().size()).sum();
        assertTrue(size > 0, "the topic's replica has a size: " + dirs);

        // Moving the replica to the dir it is in is done at once; to a dir the broker
        // does not have is refused.
        String current = dirs.entrySet().stream()
                .filter(d -> d.getValue().replicaInfos().keySet().stream().anyMatch(tp -> tp.topic().equals(topic)))
                .map(Map.Entry::getKey).findFirst().orElseThrow();
        org.apache.kafka.common.TopicPartitionReplica replica =
                new org.apache.kafka.common.TopicPartitionReplica(topic, 0, broker);
        admin.alterReplicaLogDirs(Map.of(replica, current)).all().get();
        assertInstanceOf(LogDirNotFoundException.class,
                cause(admin.alterReplicaLogDirs(Map.of(replica, current + "-elsewhere")).all()));
    }

    @Test
    void consumerGroupsAreListedDescribedAlteredAndDeleted() throws Exception {
        String topic = Target.createTopic(admin, "admin-groups", 2, Map.of());
        Target.produce(topic, 2, 10);
        String group = Target.uniqueTopic("admin-group");
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        Map<String, Object> config = Map.of("group.id", group, "enable.auto.commit", false);
        try (KafkaConsumer<String, String> consumer = Target.consumer(config)) {
            consumer.subscribe(List.of(topic));
            Waits.poll(consumer, 20, Duration.ofSeconds(30));
            consumer.commitSync();
            Collection<GroupListing> groups = admin.listGroups().all().get();
            assertTrue(groups.stream().anyMatch(g -> g.groupId().equals(group)), "listed: " + groups);
            ConsumerGroupDescription described = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            assertEquals(GroupState.STABLE, described.groupState());
            assertEquals(1, described.members().size());
            assertEquals(Set.of(p0, p1), described.members().iterator().next().assignment().topicPartitions());
            // Kafka refuses to move the offsets of a group with members.
            assertInstanceOf(UnknownMemberIdException.class, cause(admin.alterConsumerGroupOffsets(group,
                    Map.of(p0, new OffsetAndMetadata(3))).all()));
        }
        admin.alterConsumerGroupOffsets(group, Map.of(p0, new OffsetAndMetadata(3))).all().get();
        Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        assertEquals(3, offsets.get(p0).offset());
        assertEquals(10, offsets.get(p1).offset());
        admin.deleteConsumerGroupOffsets(group, Set.of(p1)).all().get();
        assertEquals(Set.of(p0), admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().keySet());
        admin.deleteConsumerGroups(List.of(group)).all().get();
        assertInstanceOf(GroupIdNotFoundException.class, cause(admin.deleteConsumerGroups(List.of(group)).all()));
    }

    /** What Brook does not serve fails at once, never by a timeout. */
    @Test
    void whatIsNotServedFailsFast() throws Exception {
        long started = System.nanoTime();
        Throwable acls = cause(admin.describeAcls(AclBindingFilter.ANY).values());
        if (Target.isBrook()) {
            assertInstanceOf(UnsupportedVersionException.class, acls);
        } else {
            assertInstanceOf(SecurityDisabledException.class, acls);
        }
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        assertTrue(took.compareTo(Duration.ofSeconds(2)) < 0, "took " + took);
    }
}
