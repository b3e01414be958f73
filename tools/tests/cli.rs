//! The `brook` binary, run as a real process.

use std::path::Path;
use std::process::Command;

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
