//! The `brook` binary, run as a real process.

use std::path::Path;
use std::process::Command;

use crate::common::Start;

fn brook(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_brook"))
        .args(args)
        .output()
        .expect("brook runs")
}

#[test]
fn api_versions_prints_the_table() {
    let out = brook(&["protocol", "api-versions"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("Produce"), "{stdout}");
    assert_eq!(stdout.lines().count(), brook_protocol::api::SUPPORTED_APIS.len() + 1);
}

#[test]
fn decode_reads_recorded_frames_and_fails_on_unsupported_ones() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/requests");
    let produce = golden.join("00014-confluent-kafka-2.16.1-k0-v10.bin");
    let out = brook(&["protocol", "decode", produce.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Produce v10"));

    let telemetry = golden.join("00009-confluent-kafka-2.16.1-k71-v0.bin");
    let out = brook(&["protocol", "decode", telemetry.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported API key 71"));
}

#[test]
fn decode_rejects_a_truncated_frame_with_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("brook-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("short.bin");
    std::fs::write(&path, [0, 0, 0, 10, 0, 18]).unwrap();
    let out = brook(&["protocol", "decode", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("incomplete frame"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn controller_refuses_a_config_file_with_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("controller.toml");
    std::fs::write(
        &path,
        "node.id = 1\ncontroller.quorum.voters = \"1@127.0.0.1:1\"\nnode.idd = 2\n",
    )
    .unwrap();
    let out = brook(&["controller", "--config", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown setting \"node.idd\""), "{stderr}");
}

#[test]
fn controller_settings_layer_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    // Not 127.0.0.1, whose probed ports outgoing connections may take (see tests/common).
    let port = std::net::TcpListener::bind("127.0.0.253:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = dir.path().join("controller.toml");
    // The file names a node that is not a voter; the flag fixes it. The data dir comes
    // from the environment.
    let file = format!("[node]\nid = 9\n[controller.quorum]\nvoters = \"1@127.0.0.253:{port}\"\n");
    std::fs::write(&path, file).unwrap();
    let data = dir.path().join("from-env");
    let _controller = Command::new(env!("CARGO_BIN_EXE_brook"))
        .args(["controller", "--config", path.to_str().unwrap(), "--node-id", "1"])
        .env("BROOK_METADATA_LOG_DIR", &data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .start();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.253", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "the controller never listened");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(data.join("raft.redb").exists(), "BROOK_METADATA_LOG_DIR was not used");
}

#[test]
fn completion_scripts_cover_the_commands_and_parse() {
    for shell in ["bash", "zsh", "fish"] {
        let out = brook(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for command in ["consume", "produce", "cluster", "bench", "topic", "group"] {
            assert!(script.contains(command), "{shell} completes {command}");
        }
    }
    // The bash script is valid bash and registers the completion.
    let script = brook(&["completions", "bash"]).stdout;
    let path = std::env::temp_dir().join(format!("brook-completion-{}.bash", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p brook", path.display()))
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(String::from_utf8_lossy(&check.stdout).contains("-F _brook brook"));
    assert!(!brook(&["completions", "tcsh"]).status.success());
}
