//! Apache Kafka 4.4, the reference: `tests/kafka/kafka.sh` runs it from the jars Maven
//! fetched (`.ci/run` resolves them), and runs the Java client tests against Brook or
//! Kafka. Both are real processes on a loopback address of their own.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, loopback_ip};

/// `tests/kafka/kafka.sh`.
pub fn kafka_sh_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/kafka/kafka.sh")
}

/// `kafka.sh ARGS`, in a process group of its own so that a drop can stop its JVMs.
pub fn kafka_sh(args: &[&str]) -> Command {
    let mut command = Command::new("bash");
    command.arg(kafka_sh_path()).args(args);
    command
}

/// One combined Kafka 4.4 node (broker and controller), stopped on drop.
pub struct KafkaNode {
    pub bootstrap: String,
    dir: PathBuf,
    child: Child,
}

impl KafkaNode {
    pub fn start(dir: &Path) -> KafkaNode {
        let ip = loopback_ip();
        let (port, cport) = (free_port(&ip), free_port(&ip));
        let child = kafka_sh(&["combined", dir.to_str().unwrap(), &port.to_string(), &cport.to_string()])
            .env("KAFKA_HOST", &ip)
            .env("KAFKA_HEAP", "512M")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("kafka.sh.log")).unwrap())
            .process_group(0)
            .spawn()
            .expect("kafka.sh starts");
        let mut node = KafkaNode {
            bootstrap: format!("{ip}:{port}"),
            dir: dir.to_path_buf(),
            child,
        };
        node.wait_ready();
        node
    }

    /// Ready once a Metadata answer names a broker: the port opens a moment earlier.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let listed = Command::new(env!("CARGO_BIN_EXE_brook"))
                .args(["cluster", "status", "--format", "json", "-b", &self.bootstrap])
                .output()
                .unwrap();
            if listed.status.success() && String::from_utf8_lossy(&listed.stdout).contains("\"brokers\"") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("Kafka exited ({status}) before it served:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "Kafka did not serve in 90 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// kafka.sh's output and the end of Kafka's server log.
    pub fn log(&self) -> String {
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        let server = read(self.dir.join("node/server.log"));
        let tail: Vec<&str> = server.lines().rev().take(60).collect();
        format!(
            "{}\n--- server.log (last lines)\n{}",
            read(self.dir.join("kafka.sh.log")),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}

impl Drop for KafkaNode {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// The Java client tests (`tests/kafka/src/test/java`) against `bootstrap`, where
/// `target` ("brook" or "kafka") says which answers they expect where the two differ.
pub fn java_tests(bootstrap: &str, target: &str, selectors: &[&str]) -> Output {
    let mut args = vec!["junit", bootstrap];
    args.extend_from_slice(selectors);
    kafka_sh(&args)
        .env("KAFKA_TARGET", target)
        .output()
        .expect("kafka.sh junit runs")
}

/// Fails unless a client test run succeeded and printed each of `markers`; shows its
/// output and `log()` (the server's) when it did not.
pub fn assert_passed(suite: &str, output: Output, on: &str, markers: &[&str], log: impl FnOnce() -> String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    assert!(
        output.status.success(),
        "{suite} failed against {on} ({}):\n{stdout}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        log()
    );
    for marker in markers {
        assert!(
            stdout.contains(marker),
            "{suite}: no {marker:?} in its output:\n{stdout}"
        );
    }
}
