//! Differential test: one scenario (`tests/kafka/src/main/java/dev/brook/kafka/Differential.java`)
//! run against Kafka 4.4 and against Brook, compared answer by answer. A difference
//! fails the test unless it is listed below, each entry one that `docs/compatibility.md`
//! explains.

mod common;

use std::collections::BTreeMap;

use common::DevCluster;
use common::kafka::{KafkaNode, kafka_sh};

/// Steps whose answers differ on purpose: step -> (Kafka's answer, Brook's answer).
const KNOWN: &[(&str, &str, &str)] = &[(
    // Kafka 4.4's storage format writes a cluster-wide min.insync.replicas when it
    // enables eligible leader replicas; Brook has no ELR and no such record.
    "describe min.insync.replicas",
    "1 source=DYNAMIC_DEFAULT_BROKER_CONFIG readOnly=false sensitive=false type=INT \
     synonyms=[DYNAMIC_DEFAULT_BROKER_CONFIG,DEFAULT_CONFIG]",
    "1 source=DEFAULT_CONFIG readOnly=false sensitive=false type=INT synonyms=[DEFAULT_CONFIG]",
)];

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
    let known: BTreeMap<&str, (&str, &str)> = KNOWN.iter().map(|(s, k, b)| (*s, (*k, *b))).collect();
    let mut report = String::new();
    let mut unexpected = 0;
    for ((step, kafka_answer), (_, brook_answer)) in on_kafka.iter().zip(&on_brook) {
        let same = kafka_answer == brook_answer;
        let listed = known.get(step.as_str()) == Some(&(kafka_answer.as_str(), brook_answer.as_str()));
        let mark = match (same, listed) {
            (true, _) => "  ",
            (false, true) => "~ ",
            (false, false) => {
                unexpected += 1;
                "! "
            }
        };
        report += &format!("{mark}{step}\n    kafka: {kafka_answer}\n    brook: {brook_answer}\n");
    }
    for step in known.keys() {
        let still = on_kafka
            .iter()
            .zip(&on_brook)
            .any(|((s, k), (_, b))| s == step && k != b);
        assert!(
            still,
            "{step} is listed as a difference but now agrees: remove it\n{report}"
        );
    }
    eprintln!("{report}");
    assert_eq!(unexpected, 0, "{unexpected} unexpected differences ('!'):\n{report}");
}
