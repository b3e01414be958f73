//! The `brook` command line where a user's shell meets it (issue 18): a reader that goes
//! away, signals, bytes that are not UTF-8, a slow trickle of records, settings given to
//! `brook dev`, and transactional clients that must be refused at once.

use crate::common;
use crate::common::{Start, require};

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{DevCluster, brook_ok, brook_refused, kcat, kcat_unchecked, node_client, python_client, wait_until};

fn brook() -> Command {
    Command::new(env!("CARGO_BIN_EXE_brook"))
}

/// Runs `brook ARGS` with its standard output closed before it writes anything: it must
/// end quietly, of SIGPIPE (the shell's 141) or with status 0, never with a panic.
fn assert_quiet_on_closed_stdout(args: &[&str]) {
    let mut child = brook().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).start();
    drop(child.stdout.take());
    let out = child.wait_with_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || out.status.signal() == Some(SIGPIPE),
        "brook {args:?} with a closed stdout: {:?}\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "brook {args:?} panicked: {stderr}");
}

/// The signal a writer to a closed pipe dies of.
const SIGPIPE: i32 = 13;

#[test]
fn a_closed_stdout_ends_admin_commands_quietly_and_never_kills_brook_dev() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    for i in 0..20 {
        brook_ok(&["topic", "create", &format!("piped-{i:02}"), "-b", b]);
    }
    assert_quiet_on_closed_stdout(&["topic", "list", "-b", b]);
    assert_quiet_on_closed_stdout(&["topic", "describe", "piped-00", "-b", b]);
    assert_quiet_on_closed_stdout(&["group", "list", "-b", b]);
    assert_quiet_on_closed_stdout(&["cluster", "status", "-b", b]);

    // A server whose output pipes are gone keeps serving and still stops cleanly.
    let ip = common::loopback_ip();
    let port = |ip: &str| common::free_port(ip).to_string();
    let kafka = format!("{ip}:{}", port(&ip));
    let data = tempfile::tempdir().unwrap();
    let mut child = brook()
        .args(["dev", "--data-dir", data.path().to_str().unwrap()])
        .args(["--kafka-addr", &kafka])
        .args(["--controller-addr", &format!("{ip}:{}", port(&ip))])
        .args(["--metrics-addr", &format!("{ip}:{}", port(&ip))])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .start();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let dev = child;
    wait_until("brook dev serves", Duration::from_secs(30), || {
        kcat_unchecked(&["-L", "-b", &kafka, "-m", "2"], b"").status.success()
    });
    let status = dev.terminate();
    assert!(
        status.success(),
        "brook dev with closed output pipes stopped with {status:?}"
    );
}

#[test]
fn sigterm_makes_a_group_consumer_leave_its_group_at_once() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 2);
    let b = cluster.kafka.as_str();
    brook_ok(&["topic", "create", "leaving", "-p", "2", "-b", b]);
    kcat(&["-P", "-b", b, "-t", "leaving"], b"one\ntwo\n");
    let mut consumer = brook()
        .args(["consume", "leaving", "-G", "leavers", "-b", b])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .start();
    let mut stdout = consumer.stdout.take().unwrap();
    let mut first = [0u8; 4];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("the consumer prints records");
    let member_count = |b: &str| -> String { brook_ok(&["group", "describe", "leavers", "-b", b]) };
    assert!(member_count(b).contains("1 member(s)"), "{}", member_count(b));

    let status = consumer.terminate();
    assert!(status.success(), "the consumer stopped with {status:?}");
    // It left: the group is empty now, not after its session timeout, so an offset reset
    // (refused for a group with members) goes through at once.
    let describe = member_count(b);
    assert!(describe.contains("0 member(s)"), "{describe}");
    brook_ok(&[
        "group",
        "reset-offsets",
        "leavers",
        "--topic",
        "leaving",
        "--to-earliest",
        "--execute",
        "-b",
        b,
    ]);
}

#[test]
fn produce_sends_bytes_as_they_are_and_refuses_a_zero_rate() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    brook_ok(&["topic", "create", "raw", "-b", b]);
    // Latin-1 bytes, a NUL, a lone continuation byte and a CR: none of it is UTF-8 text.
    let input: &[u8] = b"caf\xe9\nk\xff:v\x00al\nplain\n\x80\r\n";
    let mut child = brook()
        .args(["produce", "raw", "-K", ":", "-b", b])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .start();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = kcat(&["-C", "-b", b, "-t", "raw", "-e", "-q", "-f", "%K %k|%s\n"], b"").stdout;
    let expected: &[u8] = b"-1 |caf\xe9\n2 k\xff|v\x00al\n-1 |plain\n-1 |\x80\r\n";
    assert_eq!(
        String::from_utf8_lossy(&read),
        String::from_utf8_lossy(expected),
        "every line byte for byte"
    );
    assert_eq!(read, expected);

    let refused = brook_refused(&["produce", "raw", "--rate", "0", "-b", b]);
    assert!(refused.contains("positive"), "{refused}");
    assert!(!refused.contains("panicked"), "{refused}");
}

#[test]
fn an_interrupted_slow_produce_delivers_what_it_read() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    brook_ok(&["topic", "create", "trickle", "-b", b]);
    let mut child = brook()
        .args(["produce", "trickle", "--rate", "20", "-b", b])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .start();
    // The input stays open: only the signal ends the command.
    let mut stdin = child.stdin.take().unwrap();
    let lines: String = (0..1000).map(|i| format!("slow-{i}\n")).collect();
    stdin.write_all(lines.as_bytes()).unwrap();
    // Records leave by their linger deadline while the command is still reading.
    wait_until(
        "records arrive while brook produce runs",
        Duration::from_secs(30),
        // -c 1: kcat's -e alone keeps reading while records trickle in.
        || {
            !kcat_unchecked(&["-C", "-b", b, "-t", "trickle", "-e", "-c", "1", "-q"], b"")
                .stdout
                .is_empty()
        },
    );
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let out = child.wait_with_output();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    let produced: usize = stderr
        .split("produced ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {stderr:?}"));
    assert!(stderr.contains("interrupted"), "{stderr}");
    let read = common::consume_formatted(b, "trickle", "%s\n");
    assert!(produced > 0 && produced < 1000, "{produced} of 1000 at 20/s");
    assert_eq!(read.len(), produced, "every record read before the signal, no more");
    let expected: Vec<String> = (0..produced).map(|i| format!("slow-{i}")).collect();
    let mut sorted = read.clone();
    sorted.sort_by_key(|s| s[5..].parse::<usize>().unwrap());
    assert_eq!(sorted, expected);
}

#[test]
fn brook_dev_takes_broker_and_controller_settings() {
    require!(Kcat);
    let help = brook_ok(&["dev", "--help"]);
    for flag in [
        "--auto-create-topics-enable",
        "--default-replication-factor",
        "--log-retention-ms",
        "--config",
    ] {
        assert!(help.contains(flag), "brook dev --help lacks {flag}");
    }
    let refused = brook_refused(&["dev", "--node-id", "7"]);
    assert!(refused.contains("unexpected argument"), "{refused}");
    // A derived setting by environment is refused too (log.dirs is not derived: it may
    // be given, see kafka_tools' log-dir move).
    let by_env = Command::new(env!("CARGO_BIN_EXE_brook"))
        .arg("dev")
        .env("BROOK_LISTENERS", "PLAINTEXT://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!by_env.status.success());
    assert!(String::from_utf8_lossy(&by_env.stderr).contains("BROOK_LISTENERS"));

    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start_with(dir.path(), 1, &["--auto-create-topics-enable", "false"]);
    let b = cluster.kafka.as_str();
    let out = kcat_unchecked(&["-P", "-b", b, "-t", "never-created", "-m", "5"], b"x\n");
    assert!(!out.status.success(), "auto-creation is off, yet kcat produced");
    let topics = brook_ok(&["topic", "list", "-b", b]);
    assert!(!topics.contains("never-created"), "{topics}");
}

/// Every client fails `init_transactions()` at once with the fatal
/// TRANSACTIONAL_ID_AUTHORIZATION_FAILED that InitProducerId answers; the broker logs why.
#[test]
fn transactional_clients_fail_at_once_with_a_fatal_error() {
    require!(Kafkajs, Python);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let started = Instant::now();
    let mut lines = Vec::new();
    for mut client in [
        python_client("transactions_refused_check.py"),
        node_client("kafkajs_check.js"),
    ] {
        let out = client
            .arg(&cluster.kafka)
            .args(["txn-refused", "transactions"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        lines.extend(stdout.lines().map(str::to_owned));
    }
    let mut clients = Vec::new();
    for line in &lines {
        let result: serde_json::Value = serde_json::from_str(line).unwrap();
        let error = result["error"].as_str().unwrap_or_else(|| panic!("no error: {result}"));
        let client = result["client"].as_str().unwrap().to_owned();
        assert!(
            result["seconds"].as_f64().unwrap() < 2.0,
            "{client}: took {} s to fail",
            result["seconds"]
        );
        assert!(
            error
                .to_lowercase()
                .replace(' ', "")
                .contains("transactionalidauthorizationfailed"),
            "{client}: {error}"
        );
        if client == "confluent-kafka" {
            assert_eq!(result["fatal"], true, "{result}");
        }
        clients.push(client);
    }
    assert_eq!(clients, ["confluent-kafka", "aiokafka", "kafkajs"], "{lines:?}");
    assert!(
        cluster.log().contains("transactions are not supported by Brook yet"),
        "{}",
        cluster.log()
    );
    eprintln!("{lines:#?}\ntook {:?}", started.elapsed());
}

/// Cluster-wide `log.retention.ms` deletes old segments, and a topic config past its
/// bounds is refused with INVALID_CONFIG, leaving the topic's configs as they were.
#[test]
fn cluster_wide_defaults_apply_and_a_refused_topic_config_changes_nothing() {
    require!(Python);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start_with(dir.path(), 1, &["--log-retention-check-interval-ms", "200"]);
    let out = python_client("cluster_config_check.py")
        .arg(&cluster.kafka)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.log()
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["log_start_before"], 0, "{result}");
    assert!(
        result["log_start_after"].as_i64().unwrap() > 0,
        "the cluster-wide retention deleted nothing: {result}"
    );
    assert_eq!(
        result["retention_described"][0], "1000",
        "DescribeConfigs shows the cluster-wide value: {result}"
    );
    // confluent-kafka's ConfigSource 3: DYNAMIC_DEFAULT_BROKER_CONFIG.
    assert_eq!(result["retention_described"][1], "3", "{result}");
    assert_eq!(result["refused"], "INVALID_CONFIG", "{result}");
    assert_eq!(result["guarded_segment_bytes"][0], "1073741824", "{result}");
    assert_eq!(result["guarded_retention_ms"][0], "60000", "{result}");
}

/// `--format json|yaml` on the admin commands, parsed as scripts would.
#[test]
fn admin_commands_print_json_and_yaml_with_stable_fields() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json", "-b", b]);
        serde_json::from_str(&brook_ok(&all)).unwrap_or_else(|e| panic!("brook {args:?}: {e}"))
    };
    let created = json(&["topic", "create", "shaped", "-p", "2", "-c", "retention.ms=60000"]);
    assert_eq!(created[0]["topic"], "shaped", "{created}");
    let listed = json(&["topic", "list"]);
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "shaped")
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(row["partitions"], 2);
    assert_eq!(row["replicas"], 1);
    let described = json(&["topic", "describe", "shaped", "-c"]);
    let partitions = described[0]["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 2, "{described}");
    assert_eq!(partitions[0]["leader"], 1);
    assert_eq!(partitions[0]["isr"], serde_json::json!([1]));
    let retention = described[0]["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "retention.ms")
        .unwrap_or_else(|| panic!("{described}"));
    assert_eq!(retention["value"], "60000");
    assert_eq!(retention["source"], "DYNAMIC_TOPIC_CONFIG");

    kcat(&["-P", "-b", b, "-t", "shaped", "-p", "0"], b"one\n");
    kcat(
        &[
            "-C",
            "-b",
            b,
            "-G",
            "shapers",
            "shaped",
            "-e",
            "-q",
            "-X",
            "auto.offset.reset=earliest",
        ],
        b"",
    );
    let groups = json(&["group", "list"]);
    assert!(
        groups.as_array().unwrap().iter().any(|g| g["group"] == "shapers"),
        "{groups}"
    );
    let group = json(&["group", "describe", "shapers"]);
    assert_eq!(group["members"], 0, "{group}");
    let p0 = group["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partition"] == 0)
        .unwrap_or_else(|| panic!("{group}"));
    assert_eq!(p0["current_offset"], 1, "{group}");
    assert_eq!(p0["lag"], 0, "{group}");
    assert!(p0["consumer_id"].is_null(), "{group}");

    let status = json(&["cluster", "status"]);
    assert_eq!(status["brokers"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(status["quorum"]["leader"], 1, "{status}");
    assert!(status["partitions"]["total"].as_u64().unwrap() >= 2, "{status}");
    let yaml = brook_ok(&["cluster", "status", "--format", "yaml", "-b", b]);
    assert!(
        yaml.contains("brokers:") && yaml.contains("under_replicated:"),
        "{yaml}"
    );
}

/// kcat's `-X key=value` and `-F FILE`: applied where the command uses them, refused
/// where it does not, and bad values refused before anything is sent.
#[test]
fn client_settings_from_x_and_a_file_are_applied_or_refused() {
    require!(Kcat);
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    brook_ok(&["topic", "create", "set-up", "-b", b]);
    // -F alone says where the cluster is.
    let file = dir.path().join("client.properties");
    std::fs::write(
        &file,
        format!("# as kcat -F reads it\nbootstrap.servers={b}\nclient.id=from-file\n"),
    )
    .unwrap();
    let listed = Command::new(env!("CARGO_BIN_EXE_brook"))
        .args(["topic", "list", "-F", file.to_str().unwrap()])
        .env_remove("BROOK_BOOTSTRAP")
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("set-up"));

    let refused = brook_refused(&["topic", "list", "-X", "linger.ms=5", "-b", b]);
    assert!(refused.contains("-X linger.ms"), "{refused}");
    let refused = brook_refused(&["produce", "set-up", "-X", "linger.ms=soon", "-b", b]);
    assert!(refused.contains("linger.ms=soon"), "{refused}");
    let refused = brook_refused(&["produce", "set-up", "-X", "enable.idempotence=true", "-b", b]);
    assert!(refused.contains("not idempotent"), "{refused}");

    // -X acks=0 reaches the producer: on a topic that wants two in-sync replicas of a
    // single broker, acks=all (the flag's default) is refused and acks=0 is not.
    brook_ok(&["topic", "create", "strict", "-c", "min.insync.replicas=2", "-b", b]);
    let produce = |extra: &[&str]| {
        let mut child = brook()
            .args(["produce", "strict", "-b", b])
            .args(extra)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .start();
        child.stdin.take().unwrap().write_all(b"blind\n").unwrap();
        child.wait_with_output()
    };
    let strict = produce(&["-X", "delivery.timeout.ms=3000"]);
    assert!(
        !strict.status.success(),
        "acks=all with one replica of two needed succeeded"
    );
    assert!(
        String::from_utf8_lossy(&strict.stderr).contains("NOT_ENOUGH_REPLICAS"),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
    let blind = produce(&["-X", "acks=0"]);
    assert!(blind.status.success(), "{}", String::from_utf8_lossy(&blind.stderr));
    wait_until("the acks=0 record arrives", Duration::from_secs(20), || {
        common::consume_formatted(b, "strict", "%s\n") == ["blind"]
    });
    // A consumer setting reaches brook consume: from the end, nothing old is printed.
    let tail = brook_ok(&[
        "consume",
        "set-up",
        "-o",
        "end",
        "-e",
        "-X",
        "fetch.max.wait.ms=50",
        "-b",
        b,
    ]);
    assert!(tail.is_empty(), "{tail}");
}

#[test]
fn every_subcommand_help_shows_examples() {
    for sub in [
        "dev",
        "broker",
        "controller",
        "topic",
        "produce",
        "consume",
        "cluster",
        "group",
        "bench",
    ] {
        let help = brook_ok(&[sub, "--help"]);
        assert!(
            help.contains("Examples:"),
            "brook {sub} --help has no examples:\n{help}"
        );
        assert!(help.contains(&format!("brook {sub}")), "brook {sub} --help: {help}");
    }
}

/// `brook profile create|use|list|delete`, and the client commands using the current
/// profile (or `--profile NAME`) when no `-b` is given.
#[test]
fn profiles_hold_the_bootstrap_and_settings_the_commands_use() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = DevCluster::start(dir.path(), 1);
    let b = cluster.kafka.as_str();
    brook_ok(&["topic", "create", "profiled", "-b", b]);
    let config = dir.path().join("profiles.toml");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_brook"))
            .args(args)
            .env("BROOK_CONFIG", &config)
            .env_remove("BROOK_BOOTSTRAP")
            .env_remove("BROOK_PROFILE")
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "brook {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&["profile", "create", "nowhere", "-b", "127.0.0.1:1"]);
    ok(&["profile", "create", "here", "-b", b, "-X", "client.id=profiled"]);
    let listed = ok(&["profile", "list"]);
    assert!(listed.contains("* here") && listed.contains("  nowhere"), "{listed}");
    // The current profile says where the cluster is.
    assert!(ok(&["topic", "list"]).contains("profiled"));
    // --profile picks another, and a flag wins over the profile.
    let elsewhere = run(&["topic", "list", "--profile", "nowhere", "-X", "request.timeout.ms=2000"]);
    assert!(
        !elsewhere.status.success(),
        "a profile pointing nowhere reached a cluster"
    );
    assert!(ok(&["topic", "list", "--profile", "nowhere", "-b", b]).contains("profiled"));
    assert!(!run(&["topic", "list", "--profile", "missing"]).status.success());
    assert!(!run(&["profile", "use", "missing"]).status.success());
    let refused = run(&["profile", "create", "bad", "-b", b, "-X", "nonsense=1"]);
    assert!(!refused.status.success());
    ok(&["profile", "use", "nowhere"]);
    assert!(ok(&["profile", "list"]).contains("* nowhere"));
    ok(&["profile", "delete", "nowhere"]);
    assert!(!ok(&["profile", "list"]).contains("nowhere"));
}
