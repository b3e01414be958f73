//! `brook group` against `brook dev`, run as real processes: list, describe with lag,
//! reset-offsets (every target, dry run and --execute), delete, and the refusals an
//! active group or a missing one gets.

use crate::common;
use crate::common::{Start, require};

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{DevCluster, kcat, wait_until};

fn brook(kafka: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brook"))
        .arg("group")
        .args(args)
        .args(["--bootstrap", kafka])
        .output()
        .expect("brook runs")
}

/// Runs a `brook group` command that must succeed; its stdout.
fn ok(kafka: &str, args: &[&str]) -> String {
    let out = brook(kafka, args);
    assert!(
        out.status.success(),
        "brook group {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a `brook group` command that must fail; its stderr.
fn refused(kafka: &str, args: &[&str]) -> String {
    let out = brook(kafka, args);
    assert!(!out.status.success(), "brook group {args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

/// (partition, current offset, lag) per row of `describe`.
fn lags(describe: &str) -> Vec<(i32, String, String)> {
    describe
        .lines()
        .skip(2)
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols[2].parse().unwrap(), cols[3].to_owned(), cols[5].to_owned())
        })
        .collect()
}

#[test]
fn brook_group_lists_describes_resets_and_deletes() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 3);
    let kafka = cluster.kafka.clone();
    for partition in ["0", "1", "2"] {
        let lines: String = (0..10).map(|i| format!("v{i}\n")).collect();
        kcat(&["-P", "-b", &kafka, "-t", "orders", "-p", partition], lines.as_bytes());
    }

    assert!(refused(&kafka, &["describe", "nobody"]).contains("does not exist"));
    ok(
        &kafka,
        &[
            "reset-offsets",
            "g",
            "--topic",
            "orders",
            "--to-offset",
            "5",
            "--execute",
        ],
    );
    assert!(
        ok(&kafka, &["list"])
            .lines()
            .any(|l| l.starts_with("g ") && l.contains("Empty"))
    );
    let described = ok(&kafka, &["describe", "g"]);
    assert!(described.starts_with("Group g: Empty"), "{described}");
    let five = |p| (p, "5".to_owned(), "5".to_owned());
    assert_eq!(lags(&described), vec![five(0), five(1), five(2)]);

    let dry = ok(&kafka, &["reset-offsets", "g", "--all-topics", "--shift-by", "-3"]);
    assert!(dry.contains("dry run") && dry.lines().filter(|l| l.trim_end().ends_with(" 2")).count() == 3);
    assert_eq!(
        lags(&ok(&kafka, &["describe", "g"]))[0].1,
        "5",
        "a dry run commits nothing"
    );

    ok(
        &kafka,
        &["reset-offsets", "g", "--topic", "orders:0", "--to-latest", "--execute"],
    );
    ok(
        &kafka,
        &[
            "reset-offsets",
            "g",
            "--topic",
            "orders:1",
            "--to-earliest",
            "--execute",
        ],
    );
    ok(
        &kafka,
        &[
            "reset-offsets",
            "g",
            "--topic",
            "orders:2",
            "--to-offset",
            "99",
            "--execute",
        ],
    );
    let rows = lags(&ok(&kafka, &["describe", "g"]));
    assert_eq!(
        rows,
        vec![
            (0, "10".into(), "0".into()),
            (1, "0".into(), "10".into()),
            (2, "10".into(), "0".into()) // clamped to the log end
        ]
    );
    let reset_to_time = |when: &str| {
        let args = [
            "reset-offsets",
            "g",
            "--topic",
            "orders",
            "--to-datetime",
            when,
            "--execute",
        ];
        ok(&kafka, &args);
        let rows = lags(&ok(&kafka, &["describe", "g"]));
        rows.into_iter().map(|(_, current, _)| current).collect::<Vec<_>>()
    };
    assert_eq!(reset_to_time("2000-01-01T00:00:00Z"), ["0", "0", "0"]);
    assert_eq!(
        reset_to_time("2999-01-01T00:00:00Z"),
        ["10", "10", "10"],
        "no record that late: the end"
    );

    // An active member (kcat's balanced consumer) protects the group.
    let member = Command::new("kcat")
        .args(["-b", &kafka, "-G", "active", "orders", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .start();
    wait_until("kcat's group to be stable", Duration::from_secs(30), || {
        brook(&kafka, &["describe", "active"]).status.success()
            && ok(&kafka, &["describe", "active"]).starts_with("Group active: Stable")
    });
    let described = ok(&kafka, &["describe", "active"]);
    assert!(
        described.contains("rdkafka") && described.contains("/127."),
        "{described}"
    );
    assert!(refused(&kafka, &["reset-offsets", "active", "--all-topics", "--to-earliest"]).contains("inactive"));
    assert!(refused(&kafka, &["delete", "active"]).contains("NON_EMPTY_GROUP"));
    drop(member);

    ok(&kafka, &["delete", "g"]);
    assert!(!ok(&kafka, &["list"]).lines().any(|l| l.starts_with("g ")));
    assert!(refused(&kafka, &["delete", "g"]).contains("GROUP_ID_NOT_FOUND"));
    let unreachable = Command::new(env!("CARGO_BIN_EXE_brook"))
        .args(["group", "list", "--bootstrap", "127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach 127.0.0.1:1"));
}
