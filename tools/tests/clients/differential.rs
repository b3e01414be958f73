//! Differential test: one scenario (`tests/kafka/src/main/java/dev/brook/kafka/Differential.java`)
//! run against Kafka 4.4 and against Brook, compared answer by answer. A difference
//! fails the test unless it is listed below, each entry one that `docs/compatibility.md`
//! explains.

use crate::common;
use crate::common::require;

use std::collections::BTreeMap;

use common::DevCluster;
use common::kafka::{KafkaNode, kafka_sh};

/// Steps whose answers differ on purpose: step -> (Kafka's answer, Brook's answer).
const KNOWN: &[(&str, &str, &str)] = &[
    (
        // Kafka 4.4's storage format writes a cluster-wide min.insync.replicas when it
        // enables eligible leader replicas; Brook has no ELR and no such record.
        "describe min.insync.replicas",
        "1 source=DYNAMIC_DEFAULT_BROKER_CONFIG readOnly=false sensitive=false type=INT \
         synonyms=[DYNAMIC_DEFAULT_BROKER_CONFIG,DEFAULT_CONFIG]",
        "1 source=DEFAULT_CONFIG readOnly=false sensitive=false type=INT synonyms=[DEFAULT_CONFIG]",
    ),
    (
        // Brook has no replication throttling, so it refuses the setting rather than
        // store one that nothing applies.
        "set a broker's replication throttle",
        "ok",
        "error InvalidRequestException",
    ),
];

/// ApiVersions ranges below Kafka 4.4's, each explained in docs/compatibility.md ("API
/// versions"): api -> (Kafka's range, Brook's).
const API_RANGES: &[(&str, &str, &str)] = &[
    ("Produce", "0..13", "3..12"),
    ("Fetch", "4..18", "4..17"),
    ("ListOffsets", "1..11", "1..9"),
    ("Metadata", "0..13", "0..12"),
    ("OffsetCommit", "2..10", "2..9"),
    ("OffsetFetch", "1..10", "1..9"),
    ("ApiVersions", "0..5", "0..4"),
    ("DescribeLogDirs", "1..5", "1..4"),
    ("DeleteGroups", "0..3", "0..2"),
];

/// APIs Kafka 4.4 serves and Brook does not yet, by the feature they belong to (each
/// named in docs/compatibility.md, "API versions").
const NOT_SERVED: &[&str] = &[
    // transactions
    "AddPartitionsToTxn",
    "AddOffsetsToTxn",
    "EndTxn",
    "WriteTxnMarkers",
    "TxnOffsetCommit",
    "DescribeProducers",
    "DescribeTransactions",
    "ListTransactions",
    // security: ACLs, delegation tokens, SCRAM, quotas
    "DescribeAcls",
    "CreateAcls",
    "DeleteAcls",
    "CreateDelegationToken",
    "RenewDelegationToken",
    "ExpireDelegationToken",
    "DescribeDelegationToken",
    "DescribeUserScramCredentials",
    "AlterUserScramCredentials",
    "DescribeClientQuotas",
    "AlterClientQuotas",
    // KIP-848 consumer groups, share groups, streams groups
    "ConsumerGroupHeartbeat",
    "ConsumerGroupDescribe",
    "ShareGroupHeartbeat",
    "ShareGroupDescribe",
    "ShareFetch",
    "ShareAcknowledge",
    "InitializeShareGroupState",
    "ReadShareGroupState",
    "WriteShareGroupState",
    "DeleteShareGroupState",
    "ReadShareGroupStateSummary",
    "DescribeShareGroupOffsets",
    "AlterShareGroupOffsets",
    "DeleteShareGroupOffsets",
    "StreamsGroupHeartbeat",
    "StreamsGroupDescribe",
    "StreamsGroupTopologyDescriptionUpdate",
    // cluster administration through the controller quorum
    "UpdateFeatures",
    "UnregisterBroker",
    "UnregisterController",
    "AddRaftVoter",
    "RemoveRaftVoter",
    "ListConfigResources",
];

/// Every listed difference: step -> (Kafka's answer, Brook's answer).
fn known() -> BTreeMap<String, (String, String)> {
    let steps = KNOWN
        .iter()
        .map(|(s, k, b)| (s.to_string(), (k.to_string(), b.to_string())));
    let ranges = API_RANGES
        .iter()
        .map(|(api, k, b)| (format!("api {api}"), (k.to_string(), b.to_string())));
    steps.chain(ranges).collect()
}

/// Whether `step`'s differing answers are a listed difference.
fn listed(known: &BTreeMap<String, (String, String)>, step: &str, kafka: &str, brook: &str) -> bool {
    let not_served = step
        .strip_prefix("api ")
        .is_some_and(|api| NOT_SERVED.contains(&api) && brook == "not served" && kafka != "not served");
    not_served || known.get(step).is_some_and(|(k, b)| k == kafka && b == brook)
}

fn scenario(bootstrap: &str, run: &str) -> Vec<(String, String)> {
    let out = kafka_sh(&["run", "dev.brook.kafka.Differential", bootstrap, run])
        .env("KAFKA_HEAP", "512M")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the scenario failed against {bootstrap}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(step, answer)| (step.to_owned(), answer.to_owned()))
        .collect()
}

#[test]
fn brook_answers_the_scenario_as_kafka_4_4_does() {
    require!(Kafka);
    let (kafka_dir, brook_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let kafka = KafkaNode::start(kafka_dir.path());
    let brook = DevCluster::start(brook_dir.path(), 1);
    let (on_kafka, on_brook) = std::thread::scope(|s| {
        let k = s.spawn(|| scenario(&kafka.bootstrap, "k"));
        let b = s.spawn(|| scenario(&brook.kafka, "b"));
        (k.join().unwrap(), b.join().unwrap())
    });
    let steps: Vec<&str> = on_kafka.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        steps,
        on_brook.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        "the scenario took different paths"
    );
    let known = known();
    let mut report = String::new();
    let mut unexpected = 0;
    for ((step, kafka_answer), (_, brook_answer)) in on_kafka.iter().zip(&on_brook) {
        let same = kafka_answer == brook_answer;
        let mark = match (same, listed(&known, step, kafka_answer, brook_answer)) {
            (true, _) => "  ",
            (false, true) => "~ ",
            (false, false) => {
                unexpected += 1;
                "! "
            }
        };
        report += &format!("{mark}{step}\n    kafka: {kafka_answer}\n    brook: {brook_answer}\n");
    }
    let listed_steps = known
        .keys()
        .cloned()
        .chain(NOT_SERVED.iter().map(|api| format!("api {api}")));
    for step in listed_steps {
        let still = on_kafka
            .iter()
            .zip(&on_brook)
            .any(|((s, k), (_, b))| *s == step && k != b);
        assert!(
            still,
            "{step} is listed as a difference but now agrees: remove it\n{report}"
        );
    }
    eprintln!("{report}");
    assert_eq!(unexpected, 0, "{unexpected} unexpected differences ('!'):\n{report}");
}
