//! `brook consume` run as a process against `brook dev`: it prints what kcat prints for
//! the same format string, starts where `-o` says, stops at `-e` / `-c`, prints kcat's
//! JSON with `-J`, commits as a group member with `-G`, and fails clearly.

use crate::common;
use crate::common::{Start, require};

use common::{DevCluster, brook_ok, brook_refused as refused, consume_formatted, kcat};

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn brook_consume_prints_what_kcat_prints_and_starts_and_stops_where_asked() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 3);
    let b = cluster.kafka.as_str();
    let input: String = (0..300).map(|i| format!("k{}:value-{i:03}\n", i % 11)).collect();
    kcat(
        &[
            "-P",
            "-b",
            b,
            "-t",
            "events",
            "-K",
            ":",
            "-H",
            "source=kcat",
            "-z",
            "snappy",
        ],
        input.as_bytes(),
    );
    let format = "%t %p %o %k %s %h %T %K %S\\n";
    let ours = brook_ok(&["consume", "events", "-e", "-f", format, "-b", b]);
    assert_eq!(sorted_lines(&ours), consume_formatted(b, "events", format));
    assert_eq!(ours.lines().count(), 300);

    // Where reading starts and stops.
    let from_end = brook_ok(&["consume", "events", "-p", "0", "-o", "-5", "-e", "-f", "%o\\n", "-b", b]);
    let end: i64 = brook_ok(&["consume", "events", "-p", "0", "-e", "-f", "%o\\n", "-b", b])
        .lines()
        .count() as i64;
    let expected: Vec<String> = (end - 5..end).map(|o| o.to_string()).collect();
    assert_eq!(from_end.lines().collect::<Vec<_>>(), expected);
    let from_ten = brook_ok(&["consume", "events", "-p", "1", "-o", "10", "-e", "-f", "%o\\n", "-b", b]);
    assert_eq!(from_ten.lines().next(), Some("10"));
    let counted = brook_ok(&["consume", "events", "-c", "7", "-b", b]);
    assert_eq!(counted.lines().count(), 7);
    let at_end = brook_ok(&["consume", "events", "-o", "end", "-e", "-b", b]);
    assert!(at_end.is_empty(), "{at_end}");

    // kcat's -J fields.
    let json = brook_ok(&["consume", "events", "-p", "2", "-c", "1", "-J", "-b", b]);
    let record: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(record["topic"], "events");
    assert_eq!(record["partition"], 2);
    assert_eq!(record["offset"], 0);
    assert_eq!(record["headers"], serde_json::json!(["source", "kcat"]));
    assert!(record["payload"].as_str().unwrap().starts_with("value-"));

    // As a group member: the second run starts where the first committed.
    let first = brook_ok(&["consume", "events", "-G", "readers", "-e", "-b", b]);
    assert_eq!(first.lines().count(), 300);
    kcat(&["-P", "-b", b, "-t", "events"], b"late-1\nlate-2\n");
    let second = brook_ok(&["consume", "events", "-G", "readers", "-e", "-b", b]);
    assert_eq!(sorted_lines(&second), ["late-1", "late-2"]);
    let described = brook_ok(&["group", "describe", "readers", "-b", b]);
    assert!(described.contains("events"), "{described}");
}

#[test]
fn brook_consume_fails_clearly() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    assert!(refused(&["consume", "missing", "-e", "-b", b]).contains("UNKNOWN_TOPIC_OR_PARTITION"));
    assert!(refused(&["consume", "missing", "-b", "127.0.0.1:1"]).contains("cannot reach 127.0.0.1:1"));
    kcat(&["-P", "-b", b, "-t", "present"], b"x\n");
    assert!(refused(&["consume", "present", "-G", "g", "-o", "5", "-b", b]).contains("with --group"));
    assert!(refused(&["consume", "present", "-f", "%q", "-b", b]).contains("unknown format token %q"));
    assert!(refused(&["consume", "present", "-o", "stored", "-b", b]).contains("needs --group"));
}

/// `brook group describe` rows: partition -> owning client id (none before the group
/// exists).
fn owners(b: &str, group: &str) -> std::collections::BTreeMap<i32, String> {
    let out = common::brook_unchecked(&["group", "describe", group, "-b", b]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(2)
        .filter_map(|row| {
            let columns: Vec<&str> = row.split_whitespace().collect();
            let partition = columns.get(2)?.parse().ok()?;
            let client = columns.last()?.to_string();
            (client != "-").then_some((partition, client))
        })
        .collect()
}

#[test]
fn brook_consume_shares_a_group_with_librdkafka_under_either_leader() {
    require!(Kcat, Python);
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    // range with Brook joining first (it leads and assigns librdkafka's partitions),
    // roundrobin with librdkafka first (it leads and assigns Brook's).
    for (strategy, brook_first) in [("range", true), ("roundrobin", false)] {
        let topic = format!("mixed-{strategy}");
        brook_ok(&["topic", "create", &topic, "-p", "4", "-b", b]);
        let lines: String = (0..400).map(|i| format!("{i}\n")).collect();
        kcat(&["-P", "-b", b, "-t", &topic], lines.as_bytes());
        let start_brook = || {
            Command::new(env!("CARGO_BIN_EXE_brook"))
                .args(["consume", &topic, "-G", &topic, "-f", "%p %o\\n", "-b", b])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .start()
        };
        let mut brook = brook_first.then(start_brook);
        let mut librdkafka = common::LineScript::start("mixed_group_member.py", &[b, &topic, &topic, strategy]);
        let brook = brook.take().unwrap_or_else(start_brook);

        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let owners = owners(b, &topic);
            let count = |client: &str| owners.values().filter(|c| *c == client).count();
            if owners.len() == 4 && count("brook") == 2 && count("librdkafka-member") == 2 {
                break;
            }
            if std::time::Instant::now() > deadline {
                // Fails with what the script printed (it stops at the end of its stdin).
                librdkafka.finish(|| cluster.log());
                panic!("{strategy}: the members never split the partitions: {owners:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let described = brook_ok(&["group", "describe", &topic, "-b", b]);
        assert!(
            described.contains(&format!("2 member(s), assignor {strategy}")),
            "{described}"
        );

        librdkafka.send("stop");
        let printed = librdkafka.finish(|| cluster.log());
        assert!(printed.iter().any(|l| l.starts_with("assigned ")), "{printed:?}");
        // Ctrl-C: the Brook member commits, leaves, and exits cleanly.
        Command::new("kill")
            .args(["-INT", &brook.id().to_string()])
            .status()
            .unwrap();
        let out = brook.wait_with_output();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
