//! Consumer groups across failures of the nodes that hold them, on clusters of real
//! processes: the coordinator broker dies under a confluent-kafka consumer, and the
//! controller leader is killed under a broker that commits offsets.

use crate::common;
use crate::common::{Start, require};

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::cluster::Cluster;
use common::{LineScript, kcat, wait_until};

#[test]
fn confluent_kafka_finds_the_new_coordinator_and_resumes_from_its_commits() {
    require!(Kcat, Python);
    let mut cluster = Cluster::start(1, 2, 1);
    let mut script = LineScript::start(
        "confluent_coordinator_failover_check.py",
        &[&cluster.bootstrap(), "coordinated"],
    );
    if script.next_line(Duration::from_secs(120)).as_deref() != Some("kill 2") {
        script.finish(|| cluster.logs());
        panic!("the script ended without asking for the kill");
    }
    cluster.kill_broker(2);
    script.send("killed");
    let printed = script.finish(|| cluster.logs());
    eprintln!("{}", printed.join("\n"));
}

/// Runs `brook group ARGS --bootstrap BOOTSTRAP`, which must succeed; its stdout.
fn brook_group(bootstrap: &str, args: &[&str]) -> String {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_brook"))
        .arg("group")
        .args(args)
        .args(["--bootstrap", bootstrap])
        .output()
        .expect("brook runs");
    assert!(
        out.status.success(),
        "brook group {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The committed offset column of `brook group describe`, by partition.
fn committed(bootstrap: &str, group: &str) -> Vec<String> {
    brook_group(bootstrap, &["describe", group])
        .lines()
        .skip(2)
        .map(|line| line.split_whitespace().nth(3).unwrap().to_owned())
        .collect()
}

#[test]
fn committed_offsets_survive_a_controller_leader_kill_and_a_broker_restart() {
    require!(Kcat);
    let mut cluster = Cluster::start(3, 1, 3);
    let bootstrap = cluster.bootstrap();
    for partition in ["0", "1", "2"] {
        let lines: String = (0..10).map(|i| format!("p{partition}-{i}\n")).collect();
        kcat(
            &["-P", "-b", &bootstrap, "-t", "kept", "-p", partition],
            lines.as_bytes(),
        );
    }
    let commit = |offset: &str| {
        let args = [
            "reset-offsets",
            "g",
            "--topic",
            "kept",
            "--to-offset",
            offset,
            "--execute",
        ];
        brook_group(&bootstrap, &args);
    };
    commit("4");
    assert_eq!(committed(&bootstrap, "g"), ["4", "4", "4"]);

    let leader = cluster.wait_for_controller_leader();
    cluster.kill_controller(leader);
    // The broker's commits go through whichever controller leads now.
    let mut last_error = String::new();
    wait_until("a commit after the leader's death", Duration::from_secs(60), || {
        let out = Command::new(env!("CARGO_BIN_EXE_brook"))
            .args(["group", "reset-offsets", "g", "--topic", "kept", "--to-offset", "6"])
            .args(["--execute", "--bootstrap", &bootstrap])
            .output()
            .unwrap();
        last_error = String::from_utf8_lossy(&out.stderr).into_owned();
        out.status.success()
    });
    assert_ne!(cluster.wait_for_controller_leader(), leader);
    assert_eq!(committed(&bootstrap, "g"), ["6", "6", "6"], "{last_error}");

    // A restarted broker (SIGKILL, so no clean shutdown) loads the offsets from the quorum,
    // and librdkafka's balanced consumer resumes from them.
    cluster.kill_broker(1);
    cluster.start_controller(leader);
    cluster.start_broker(1);
    cluster.wait_for_brokers(1);
    assert_eq!(committed(&bootstrap, "g"), ["6", "6", "6"]);
    let mut consumer = Command::new("kcat")
        .args(["-b", &bootstrap, "-G", "g", "kept", "-q", "-u", "-f", "%s\n"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .start();
    let (lines, read) = std::sync::mpsc::channel();
    let stdout = consumer.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut values: Vec<String> = (0..12)
        .map(|_| {
            read.recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("kcat reads the rest\n{}", cluster.logs()))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    values.extend(read.try_iter());
    drop(consumer);
    values.sort();
    let expected: Vec<String> = ["p0", "p1", "p2"]
        .iter()
        .flat_map(|p| (6..10).map(move |i| format!("{p}-{i}")))
        .collect();
    assert_eq!(values, expected, "resumed from the commits, nothing before them");
}
