//! A Kafka Streams 4.4 word count (`tests/kafka/src/main/java/dev/brook/kafka/WordCount.java`,
//! at_least_once) against `brook dev`: a repartition topic and a state store's changelog,
//! the right counts, through a broker restart and an application restart that restores
//! its store from the changelog.

use crate::common;
use crate::common::require;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::kafka::kafka_sh;
use common::{DevCluster, brook_ok, kcat};

/// The word-count application, in a process group of its own.
struct App {
    child: Child,
    lines: Receiver<String>,
}

impl App {
    fn start(bootstrap: &str, state_dir: &std::path::Path, log: &std::path::Path) -> App {
        let mut child = kafka_sh(&[
            "run",
            "dev.brook.kafka.WordCount",
            bootstrap,
            "brook-word-count",
            state_dir.to_str().unwrap(),
            "lines",
            "counts",
        ])
        .env("KAFKA_HEAP", "512M")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let app = App { child, lines };
        let line = app.lines.recv_timeout(Duration::from_secs(90));
        assert_eq!(
            line.as_deref(),
            Ok("RUNNING"),
            "the application did not start:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        app
    }

    /// SIGTERM: Streams closes, committing what it processed.
    fn stop(mut self) {
        let group = format!("-{}", self.child.id());
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &group])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success() || status.code() == Some(143), "{status}");
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// The latest count of each word in the output topic.
fn counts(bootstrap: &str) -> BTreeMap<String, u64> {
    let out = kcat(
        &[
            "-C",
            "-b",
            bootstrap,
            "-t",
            "counts",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%k=%s\n",
        ],
        b"",
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.parse().unwrap()))
        .collect()
}

fn wait_for_counts(bootstrap: &str, expected: &BTreeMap<String, u64>, app_log: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = counts(bootstrap);
        if &seen == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "counts {seen:?}, expected {expected:?}\n{}",
            std::fs::read_to_string(app_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Produces `text` to the input topic and adds its words to `expected`.
fn write(bootstrap: &str, text: &str, expected: &mut BTreeMap<String, u64>) {
    kcat(&["-P", "-b", bootstrap, "-t", "lines"], text.as_bytes());
    for word in text.split_whitespace() {
        *expected.entry(word.to_owned()).or_default() += 1;
    }
}

#[test]
fn a_streams_word_count_keeps_the_right_counts_through_broker_and_application_restarts() {
    require!(Kafka, Kcat);
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = DevCluster::start_with(dir.path(), 1, &["--group-initial-rebalance-delay-ms", "0"]);
    let b = cluster.kafka.clone();
    brook_ok(&["topic", "create", "lines", "-p", "2", "-b", &b]);
    brook_ok(&["topic", "create", "counts", "-p", "2", "-b", &b]);
    let app_log = dir.path().join("word-count.log");
    let mut expected = BTreeMap::new();

    let app = App::start(&b, &dir.path().join("state-1"), &app_log);
    write(
        &b,
        "the quick brown fox\njumps over the lazy dog\nthe end\n",
        &mut expected,
    );
    wait_for_counts(&b, &expected, &app_log);
    let topics = brook_ok(&["topic", "list", "-b", &b]);
    for internal in [
        "brook-word-count-counts-repartition",
        "brook-word-count-counts-changelog",
    ] {
        assert!(topics.contains(internal), "{topics}");
    }

    // The broker restarts under the running application; its input is all committed.
    // Brook's coordinator keeps group membership in memory only, so the members rejoin
    // (Kafka's reloads it; docs/compatibility.md): wait for that before writing more,
    // or at_least_once may count what it reprocesses twice.
    std::thread::sleep(Duration::from_secs(1));
    assert!(cluster.terminate(), "a clean stop:\n{}", cluster.log());
    cluster.restart();
    common::wait_until("the application rejoins its group", Duration::from_secs(60), || {
        let group = brook_ok(&["group", "describe", "brook-word-count", "--format", "json", "-b", &b]);
        group.contains("\"state\": \"Stable\"")
    });
    write(&b, "a quick second fox\nthe fox again\n", &mut expected);
    wait_for_counts(&b, &expected, &app_log);

    // The application restarts with an empty state dir: its store comes back from the
    // changelog, so counts go on from where they were.
    app.stop();
    let app = App::start(&b, &dir.path().join("state-2"), &app_log);
    write(&b, "the fox the dog\n", &mut expected);
    wait_for_counts(&b, &expected, &app_log);
    assert_eq!(expected["the"], 6);
    assert_eq!(expected["fox"], 4);
    app.stop();
}
