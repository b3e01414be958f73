//! Kafka 4.4's own command-line tools against `brook dev`, each run through its class on
//! the jars `.ci/run` fetched (`tests/kafka/kafka.sh run CLASS ...`). Each does what it
//! does on Kafka, or fails at once saying what Brook lacks.

use crate::common;
use crate::common::{Start, require};

use std::io::Write;
use std::process::{Output, Stdio};

use common::kafka::kafka_sh;
use common::{DevCluster, brook_ok};

/// `--bootstrap-server B` and then `args`.
fn at<'a>(bootstrap: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    [&["--bootstrap-server", bootstrap][..], args].concat()
}

/// Runs a Kafka tool class; `input` goes to its stdin.
fn tool(class: &str, args: &[&str], input: &[u8]) -> Output {
    let mut full = vec!["run", class];
    full.extend_from_slice(args);
    let mut child = kafka_sh(&full)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .start();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output()
}

/// A tool run that must succeed; its stdout.
fn tool_ok(class: &str, args: &[&str]) -> String {
    tool_ok_with(class, args, b"")
}

fn tool_ok_with(class: &str, args: &[&str], input: &[u8]) -> String {
    let out = tool(class, args, input);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{class} {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

const TOPICS: &str = "org.apache.kafka.tools.TopicCommand";
const CONFIGS: &str = "org.apache.kafka.tools.ConfigCommand";
const GROUPS: &str = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";
const PRODUCER: &str = "org.apache.kafka.tools.ConsoleProducer";
const CONSUMER: &str = "org.apache.kafka.tools.consumer.ConsoleConsumer";
const OFFSETS: &str = "org.apache.kafka.tools.GetOffsetShell";

#[test]
fn topic_config_console_and_offset_tools() {
    require!(Kafka);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();

    let created = tool_ok(
        TOPICS,
        &at(
            b,
            &[
                "--create",
                "--topic",
                "tools",
                "--partitions",
                "3",
                "--config",
                "retention.ms=3600000",
            ],
        ),
    );
    assert!(created.contains("Created topic tools."), "{created}");
    assert!(tool_ok(TOPICS, &at(b, &["--list"])).lines().any(|l| l == "tools"));
    let described = tool_ok(TOPICS, &at(b, &["--describe", "--topic", "tools"]));
    assert!(described.contains("PartitionCount: 3"), "{described}");
    assert!(described.contains("retention.ms=3600000"), "{described}");
    // DescribeTopicPartitions answers (Kafka 4's TopicCommand), so ELR is empty, not N/A.
    assert!(described.contains("Elr: \tLastKnownElr: "), "{described}");
    tool_ok(TOPICS, &at(b, &["--alter", "--topic", "tools", "--partitions", "4"]));
    assert!(tool_ok(TOPICS, &at(b, &["--describe", "--topic", "tools"])).contains("PartitionCount: 4"));

    tool_ok(
        CONFIGS,
        &at(
            b,
            &[
                "--entity-type",
                "topics",
                "--entity-name",
                "tools",
                "--alter",
                "--add-config",
                "retention.bytes=1048576",
            ],
        ),
    );
    let configs = tool_ok(
        CONFIGS,
        &at(b, &["--entity-type", "topics", "--entity-name", "tools", "--describe"]),
    );
    assert!(configs.contains("retention.bytes=1048576"), "{configs}");
    let broker = tool_ok(
        CONFIGS,
        &at(
            b,
            &["--entity-type", "brokers", "--entity-name", "1", "--describe", "--all"],
        ),
    );
    assert!(
        broker.contains("node.id=1 sensitive=false synonyms={STATIC_BROKER_CONFIG:node.id=1}"),
        "{broker}"
    );
    assert!(
        broker.contains(
            "log.retention.ms=604800000 sensitive=false synonyms={DEFAULT_CONFIG:log.retention.ms=604800000}"
        ),
        "{broker}"
    );

    let lines: String = (0..100).map(|i| format!("line-{i}\n")).collect();
    tool_ok_with(PRODUCER, &at(b, &["--topic", "tools"]), lines.as_bytes());
    let consumed = tool_ok(
        CONSUMER,
        &at(
            b,
            &[
                "--topic",
                "tools",
                "--from-beginning",
                "--max-messages",
                "100",
                "--timeout-ms",
                "20000",
            ],
        ),
    );
    let mut read: Vec<&str> = consumed.lines().collect();
    read.sort_unstable();
    let mut expected: Vec<String> = (0..100).map(|i| format!("line-{i}")).collect();
    expected.sort_unstable();
    assert_eq!(read, expected);

    let ends = tool_ok(OFFSETS, &at(b, &["--topic", "tools"]));
    let total: i64 = ends
        .lines()
        .map(|l| l.rsplit(':').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 100, "{ends}");
    let earliest = tool_ok(OFFSETS, &at(b, &["--topic", "tools", "--time", "-2"]));
    assert!(earliest.lines().all(|l| l.ends_with(":0")), "{earliest}");

    tool_ok(TOPICS, &at(b, &["--delete", "--topic", "tools"]));
    assert!(!brook_ok(&["topic", "list", "-b", b]).contains("tools"));
}

/// NEW-OFFSET per partition from a reset's table (GROUP TOPIC PARTITION NEW-OFFSET).
fn new_offsets(table: &str) -> Vec<(i32, i64)> {
    let mut rows: Vec<(i32, i64)> = table
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols.len() == 4 && cols[0] != "GROUP").then(|| (cols[2].parse().unwrap(), cols[3].parse().unwrap()))
        })
        .collect();
    rows.sort_unstable();
    rows
}

#[test]
fn consumer_group_command_describes_resets_in_every_mode_and_deletes() {
    require!(Kafka, Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    brook_ok(&["topic", "create", "grouped", "-p", "2", "-b", b]);
    let lines: String = (0..50).map(|i| format!("r{i}\n")).collect();
    for p in ["0", "1"] {
        common::kcat(&["-P", "-b", b, "-t", "grouped", "-p", p], lines.as_bytes());
    }
    tool_ok(
        CONSUMER,
        &at(
            b,
            &[
                "--topic",
                "grouped",
                "--group",
                "tools-group",
                "--from-beginning",
                "--max-messages",
                "100",
                "--timeout-ms",
                "20000",
            ],
        ),
    );

    let described = tool_ok(GROUPS, &at(b, &["--describe", "--group", "tools-group"]));
    let rows: Vec<Vec<&str>> = described
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.first() == Some(&"tools-group"))
        .collect();
    assert_eq!(rows.len(), 2, "{described}");
    for row in &rows {
        // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
        assert_eq!(&row[3..6], ["50", "50", "0"], "{described}");
    }
    assert!(tool_ok(GROUPS, &at(b, &["--list"])).lines().any(|l| l == "tools-group"));

    let reset = |mode: &[&str]| {
        let base = [
            "--reset-offsets",
            "--group",
            "tools-group",
            "--topic",
            "grouped",
            "--execute",
        ];
        let args = at(b, &[&base[..], mode].concat());
        new_offsets(&tool_ok(GROUPS, &args))
    };
    assert_eq!(reset(&["--to-earliest"]), [(0, 0), (1, 0)]);
    assert_eq!(reset(&["--to-offset", "10"]), [(0, 10), (1, 10)]);
    assert_eq!(reset(&["--shift-by", "5"]), [(0, 15), (1, 15)]);
    assert_eq!(reset(&["--to-current"]), [(0, 15), (1, 15)]);
    assert_eq!(reset(&["--to-latest"]), [(0, 50), (1, 50)]);
    assert_eq!(reset(&["--by-duration", "PT1H"]), [(0, 0), (1, 0)]);
    assert_eq!(reset(&["--to-datetime", "2100-01-01T00:00:00.000"]), [(0, 50), (1, 50)]);
    let plan = dir.path().join("plan.csv");
    std::fs::write(&plan, "grouped,0,7\ngrouped,1,9\n").unwrap();
    let from_file = at(
        b,
        &[
            "--reset-offsets",
            "--group",
            "tools-group",
            "--from-file",
            plan.to_str().unwrap(),
            "--execute",
        ],
    );
    assert_eq!(new_offsets(&tool_ok(GROUPS, &from_file)), [(0, 7), (1, 9)]);
    // Without --execute it is a dry run.
    let dry = at(
        b,
        &[
            "--reset-offsets",
            "--group",
            "tools-group",
            "--topic",
            "grouped",
            "--to-earliest",
        ],
    );
    assert_eq!(new_offsets(&tool_ok(GROUPS, &dry)), [(0, 0), (1, 0)]);
    let committed = brook_ok(&["group", "describe", "tools-group", "--format", "json", "-b", b]);
    assert!(
        committed.contains("\"current_offset\": 7") && committed.contains("\"current_offset\": 9"),
        "{committed}"
    );

    let deleted = tool_ok(
        GROUPS,
        &at(b, &["--delete-offsets", "--group", "tools-group", "--topic", "grouped"]),
    );
    assert!(deleted.contains("succeed"), "{deleted}");
    let gone = tool_ok(GROUPS, &at(b, &["--delete", "--group", "tools-group"]));
    assert!(gone.contains("was successful"), "{gone}");
    assert!(!tool_ok(GROUPS, &at(b, &["--list"])).contains("tools-group"));
}

#[test]
fn performance_latency_and_verifiable_clients() {
    require!(Kafka);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    brook_ok(&["topic", "create", "perf", "-p", "2", "-b", b]);
    let produced = tool_ok(
        "org.apache.kafka.tools.ProducerPerformance",
        &[
            "--topic",
            "perf",
            "--num-records",
            "20000",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--command-property",
            &format!("bootstrap.servers={b}"),
        ],
    );
    assert!(produced.contains("20000 records sent"), "{produced}");
    let consumed = tool_ok(
        "org.apache.kafka.tools.ConsumerPerformance",
        &[
            "--bootstrap-server",
            b,
            "--topic",
            "perf",
            "--num-records",
            "20000",
            "--timeout",
            "30000",
        ],
    );
    // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, ...
    let row = consumed.lines().last().unwrap();
    assert_eq!(row.split(", ").nth(4), Some("20000"), "{consumed}");
    let latency = tool_ok(
        "org.apache.kafka.tools.EndToEndLatency",
        &[b, "latency", "200", "all", "100"],
    );
    assert!(latency.contains("Avg latency"), "{latency}");

    let verified = tool_ok(
        "org.apache.kafka.tools.VerifiableProducer",
        &[
            "--bootstrap-server",
            b,
            "--topic",
            "verified",
            "--max-messages",
            "200",
            "--acks",
            "-1",
        ],
    );
    let acked = verified
        .lines()
        .filter(|l| l.contains("\"name\":\"producer_send_success\""))
        .count();
    assert_eq!(acked, 200, "{verified}");
    let read = tool_ok(
        "org.apache.kafka.tools.VerifiableConsumer",
        &[
            "--bootstrap-server",
            b,
            "--topic",
            "verified",
            "--group-id",
            "verifier",
            "--max-messages",
            "200",
            "--reset-policy",
            "earliest",
        ],
    );
    let received: u64 = read
        .lines()
        .filter(|l| l.contains("\"name\":\"records_consumed\""))
        .filter_map(|l| {
            l.split("\"count\":")
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(received, 200, "{read}");
    assert!(read.contains("\"name\":\"offsets_committed\""), "{read}");
}

#[test]
fn cluster_admin_tools() {
    require!(Kafka, Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    brook_ok(&["topic", "create", "admin", "-p", "2", "-b", b]);
    let lines: String = (0..30).map(|i| format!("r{i}\n")).collect();
    common::kcat(&["-P", "-b", b, "-t", "admin", "-p", "0"], lines.as_bytes());

    let elected = tool_ok(
        "org.apache.kafka.tools.LeaderElectionCommand",
        &at(b, &["--election-type", "preferred", "--all-topic-partitions"]),
    );
    assert!(
        elected.contains("Valid replica already elected") || elected.is_empty() || elected.contains("already"),
        "{elected}"
    );

    let offsets = dir.path().join("delete.json");
    std::fs::write(
        &offsets,
        r#"{"version":1,"partitions":[{"topic":"admin","partition":0,"offset":10}]}"#,
    )
    .unwrap();
    let deleted = tool_ok(
        "org.apache.kafka.tools.DeleteRecordsCommand",
        &at(b, &["--offset-json-file", offsets.to_str().unwrap()]),
    );
    assert!(deleted.contains("low_watermark: 10"), "{deleted}");

    let dirs = tool_ok(
        "org.apache.kafka.tools.LogDirsCommand",
        &at(b, &["--describe", "--broker-list", "1"]),
    );
    assert!(
        dirs.contains("\"logDir\"") && dirs.contains("\"partition\":\"admin-0\""),
        "{dirs}"
    );

    let quorum = tool_ok(
        "org.apache.kafka.tools.MetadataQuorumCommand",
        &at(b, &["describe", "--status"]),
    );
    assert!(
        quorum.contains("LeaderId:") && quorum.contains("CurrentVoters:"),
        "{quorum}"
    );
    assert!(quorum.contains("\"endpoints\": [\"CONTROLLER://"), "{quorum}");
    let replication = tool_ok(
        "org.apache.kafka.tools.MetadataQuorumCommand",
        &at(b, &["describe", "--replication"]),
    );
    let leader_row: Vec<&str> = replication
        .lines()
        .find(|l| l.contains("Leader"))
        .unwrap_or_else(|| panic!("no leader row: {replication}"))
        .split_whitespace()
        .collect();
    // NodeId, DirectoryId, LogEndOffset, Lag, LastFetchTimestamp, LastCaughtUpTimestamp.
    for timestamp in &leader_row[4..6] {
        assert!(timestamp.parse::<i64>().unwrap() > 0, "{replication}");
    }
    let features = tool_ok("org.apache.kafka.tools.FeatureCommand", &at(b, &["describe"]));
    assert!(
        features.contains("Feature: metadata.version") && features.contains("FinalizedVersionLevel: 4.0-IV3"),
        "{features}"
    );
    let id = tool_ok(
        "org.apache.kafka.tools.ClusterTool",
        &["cluster-id", "--bootstrap-server", b],
    );
    let id = id.trim().trim_start_matches("Cluster ID: ");
    assert_eq!(id.len(), 22, "{id}");

    let topics = dir.path().join("topics.json");
    std::fs::write(&topics, r#"{"version":1,"topics":[{"topic":"admin"}]}"#).unwrap();
    let proposed = tool_ok(
        "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
        &at(
            b,
            &[
                "--generate",
                "--topics-to-move-json-file",
                topics.to_str().unwrap(),
                "--broker-list",
                "1",
            ],
        ),
    );
    let plan_json = proposed.lines().last().unwrap();
    let plan = dir.path().join("plan.json");
    std::fs::write(&plan, plan_json).unwrap();
    let executed = tool_ok(
        "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
        &at(b, &["--execute", "--reassignment-json-file", plan.to_str().unwrap()]),
    );
    assert!(executed.contains("Successfully started"), "{executed}");
    let verified = tool_ok(
        "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
        &at(b, &["--verify", "--reassignment-json-file", plan.to_str().unwrap()]),
    );
    assert!(verified.contains("is completed"), "{verified}");
}

#[test]
fn reassignment_moves_a_replica_between_log_dirs() {
    require!(Kafka);
    let dir = tempfile::tempdir().unwrap();
    let dirs = [dir.path().join("disk-a"), dir.path().join("disk-b")];
    let log_dirs = format!("{},{}", dirs[0].display(), dirs[1].display());
    let cluster = DevCluster::start_with(dir.path(), 1, &["--log-dirs", &log_dirs]);
    let b = cluster.kafka.as_str();
    tool_ok(TOPICS, &at(b, &["--create", "--topic", "moving", "--partitions", "1"]));
    let lines: String = (0..50).map(|i| format!("record-{i}\n")).collect();
    tool_ok_with(PRODUCER, &at(b, &["--topic", "moving"]), lines.as_bytes());

    let held_in = |d: &std::path::Path| d.join("moving-0").is_dir();
    let (from, to) = if held_in(&dirs[0]) {
        (&dirs[0], &dirs[1])
    } else {
        (&dirs[1], &dirs[0])
    };
    assert!(held_in(from), "the replica is in one of the two dirs");
    let plan = dir.path().join("plan.json");
    std::fs::write(
        &plan,
        format!(
            r#"{{"version":1,"partitions":[{{"topic":"moving","partition":0,"replicas":[1],"log_dirs":["{}"]}}]}}"#,
            to.display()
        ),
    )
    .unwrap();
    const REASSIGN: &str = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand";
    let executed = tool_ok(
        REASSIGN,
        &at(b, &["--execute", "--reassignment-json-file", plan.to_str().unwrap()]),
    );
    assert!(executed.contains("Successfully started"), "{executed}");
    let verified = tool_ok(
        REASSIGN,
        &at(b, &["--verify", "--reassignment-json-file", plan.to_str().unwrap()]),
    );
    assert!(verified.contains("moving-0-1 completed"), "{verified}");
    assert!(held_in(to) && !held_in(from), "moved on disk");
    let described = tool_ok(
        "org.apache.kafka.tools.LogDirsCommand",
        &at(b, &["--describe", "--broker-list", "1", "--topic-list", "moving"]),
    );
    assert!(
        described.contains(&format!("\"logDir\":\"{}\"", to.display())),
        "{described}"
    );

    let consumed = tool_ok(
        CONSUMER,
        &at(
            b,
            &[
                "--topic",
                "moving",
                "--from-beginning",
                "--max-messages",
                "50",
                "--timeout-ms",
                "20000",
            ],
        ),
    );
    assert_eq!(consumed, lines, "every record reads back from the new dir");
}
