//! Real processes for the `brook` binary's tests: killed (SIGKILL) when dropped, so a
//! failed test leaves nothing running.
#![allow(dead_code)]

pub mod cluster;
pub mod kafka;
pub mod netns;
pub mod proxy;
pub mod requirements;

pub(crate) use requirements::require;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed (SIGKILL) and reaped when dropped, so that no test, passed
/// or failed, leaves one running.
pub struct Process(Option<Child>);

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl std::ops::Deref for Process {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.0.as_ref().expect("a running process")
    }
}

impl std::ops::DerefMut for Process {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().expect("a running process")
    }
}

impl Process {
    pub fn new(child: Child) -> Process {
        Process(Some(child))
    }

    /// Asks the process to stop (SIGTERM) and waits for it.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.wait().expect("waits for the process")
    }

    /// Waits for it to exit on its own, with what it printed to piped outputs.
    pub fn wait_with_output(mut self) -> Output {
        let child = self.0.take().expect("a running process");
        child.wait_with_output().expect("waits for the process")
    }
}

/// `Command::start`: spawns the command as a `Process`, so that it dies with the test.
pub trait Start {
    fn start(&mut self) -> Process;
}

impl Start for Command {
    fn start(&mut self) -> Process {
        let child = self
            .spawn()
            .unwrap_or_else(|e| panic!("{:?} does not start: {e}", self.get_program()));
        Process::new(child)
    }
}

/// A loopback address of its own for each cluster (127.0.0.2 and up). Ports probed free
/// on 127.0.0.1 can be taken a moment later by any outgoing connection (the probe hands
/// out ephemeral ports); those use 127.0.0.1 as their source, so another address avoids them.
pub fn loopback_ip() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + std::process::id() * 13;
    format!("127.0.0.{}", 2 + n % 250)
}

pub use brook_server_kit::test_support::free_port;

/// Polls until `probe` holds, or panics after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !probe() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `brook dev` on its own ports and data directory.
pub struct DevCluster {
    pub data_dir: PathBuf,
    pub kafka: String,
    controller: String,
    pub metrics: String,
    partitions: u32,
    /// More `brook dev` flags (broker and controller settings).
    settings: Vec<String>,
    pub process: Option<Process>,
}

impl DevCluster {
    pub fn start(data_dir: &Path, partitions: u32) -> DevCluster {
        DevCluster::start_with(data_dir, partitions, &[])
    }

    /// `brook dev` with more flags, e.g. `["--auto-create-topics-enable", "false"]`.
    pub fn start_with(data_dir: &Path, partitions: u32, settings: &[&str]) -> DevCluster {
        let ip = loopback_ip();
        let mut cluster = DevCluster {
            data_dir: data_dir.to_path_buf(),
            kafka: format!("{ip}:{}", free_port(&ip)),
            controller: format!("{ip}:{}", free_port(&ip)),
            metrics: format!("{ip}:{}", free_port(&ip)),
            partitions,
            settings: settings.iter().map(|s| s.to_string()).collect(),
            process: None,
        };
        cluster.restart();
        cluster
    }

    /// Starts the process (again, on the same data and ports) and waits for Kafka.
    pub fn restart(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_brook"))
            .arg("dev")
            .args(["--data-dir", self.data_dir.to_str().unwrap()])
            .args(["--kafka-addr", &self.kafka])
            .args(["--controller-addr", &self.controller])
            .args(["--metrics-addr", &self.metrics])
            .args(["--num-partitions", &self.partitions.to_string()])
            .args(&self.settings)
            .env("RUST_LOG", "info,openraft=warn")
            .stdout(Stdio::null())
            .stderr(self.log_file())
            .start();
        self.process = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&self.kafka).is_err() {
            let exited = self.process.as_mut().and_then(|p| p.try_wait().ok().flatten());
            assert!(
                exited.is_none(),
                "brook dev exited ({exited:?}); its log:\n{}",
                self.log()
            );
            assert!(
                Instant::now() < deadline,
                "brook dev did not listen on {} within 30 s; its log:\n{}",
                self.kafka,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process's log, appended to across restarts (printed by tests that fail).
    fn log_file(&self) -> Stdio {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.join("brook-dev.log"))
            .expect("log file");
        Stdio::from(file)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("brook-dev.log")).unwrap_or_default()
    }

    /// SIGTERM, as a service manager stops it; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        self.process.take().expect("running").terminate().success()
    }

    pub fn kill(&mut self) {
        self.process = None;
    }
}

/// Runs `kcat` with `args`, `stdin` as its input; panics with its stderr if it fails.
pub fn kcat(args: &[&str], stdin: &[u8]) -> Output {
    let output = kcat_unchecked(args, stdin);
    assert!(
        output.status.success(),
        "kcat {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs `kcat` with `args`, `stdin` as its input, whatever its exit status.
pub fn kcat_unchecked(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new("kcat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .start();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let output = child.wait_with_output();
    feeder.join().unwrap();
    output
}

/// Every value in `topic` from the beginning (kcat, one per line), sorted.
pub fn consume_sorted(bootstrap: &str, topic: &str) -> Vec<String> {
    consume_formatted(bootstrap, topic, "%s\n")
}

/// Every record in `topic` from the beginning as kcat's `-f format` prints it, in
/// kcat's order (each partition's records in offset order).
pub fn consume_raw(bootstrap: &str, topic: &str, format: &str) -> String {
    let args = [
        "-C",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        format,
    ];
    String::from_utf8(kcat(&args, b"").stdout).unwrap()
}

/// As `consume_raw`, one line per record, sorted.
pub fn consume_formatted(bootstrap: &str, topic: &str, format: &str) -> Vec<String> {
    let mut lines: Vec<String> = consume_raw(bootstrap, topic, format)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// The Prometheus text from `GET /metrics`, or `None` if nobody answers well.
pub fn try_scrape(address: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: brook\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.starts_with("HTTP/1.1 200").then_some(text)
}

pub fn scrape(address: &str) -> String {
    try_scrape(address).expect("the metrics endpoint answers")
}

/// The value of the first sample of metric `name` carrying every one of `labels`.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
        .find(|line| labels.iter().all(|(k, v)| line.contains(&format!("{k}=\"{v}\""))))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// `python -X faulthandler tests/clients/python/<script>`, with the Python from `BROOK_PYTHON`
/// (`.ci/run` makes a virtualenv with confluent-kafka, kafka-python and aiokafka).
pub fn python_client(script: &str) -> Command {
    let (python, path) = python_script(script);
    let mut command = Command::new(python);
    command.args(["-X", "faulthandler"]).arg(path);
    command
}

/// The interpreter and path for a client check script, as `python_client` uses them.
pub fn python_script(script: &str) -> (String, PathBuf) {
    let python = std::env::var("BROOK_PYTHON").unwrap_or_else(|_| "python3".into());
    (
        python,
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients/python")
            .join(script),
    )
}

/// `node` running a kafkajs check script from `tests/clients/js`, whose `node_modules`
/// `.ci/run` installs with `npm ci`.
pub fn node_client(script: &str) -> Command {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/js");
    assert!(
        dir.join("node_modules/kafkajs").is_dir(),
        "kafkajs is not installed: run `npm ci --prefix {}` (.ci/run does)",
        dir.display()
    );
    let mut command = Command::new("node");
    command.arg(dir.join(script));
    command
}

/// A client check script that talks in lines: what it prints is read on a thread (so a
/// silent script cannot hang a test), and the test's answers go to its stdin.
pub struct LineScript {
    /// Killed if the test ends (or fails) before the script does.
    child: Process,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    /// Read on its own thread too: librdkafka logs there, and a full pipe would stall it.
    stderr: std::thread::JoinHandle<String>,
    printed: Vec<String>,
}

impl LineScript {
    pub fn start(script: &str, args: &[&str]) -> LineScript {
        let mut command = python_client(script);
        command.args(args);
        LineScript::spawn(command)
    }

    /// As `start`, for a command made ready elsewhere (run in a network namespace, say).
    pub fn spawn(mut command: Command) -> LineScript {
        use std::io::BufRead;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .start();
        let stdout = child.stdout.take().unwrap();
        let mut errors = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut errors, &mut text);
            text
        });
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        LineScript {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            printed: Vec::new(),
        }
    }

    /// The next line it prints, if one comes within `timeout` (`None` also at its end).
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(timeout).ok()?;
        self.printed.push(line.clone());
        Some(line)
    }

    pub fn send(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("the script reads its stdin");
    }

    /// Waits for it to exit; unless it succeeded, panics with all it printed and
    /// `context()` (the cluster's logs, say). Returns every line it printed.
    pub fn finish(mut self, context: impl FnOnce() -> String) -> Vec<String> {
        drop(self.stdin.take());
        self.printed.extend(self.lines.iter());
        let status = self.child.wait().unwrap();
        let stderr = self.stderr.join().unwrap_or_default();
        assert!(
            status.success(),
            "the check failed ({status}):\n{}\n{stderr}\n{}",
            self.printed.join("\n"),
            context()
        );
        self.printed
    }
}

/// Runs the `brook` binary with `args`, whatever its exit status.
pub fn brook_unchecked(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brook"))
        .args(args)
        .output()
        .expect("brook runs")
}

/// Runs a `brook` command that must fail; its stderr.
pub fn brook_refused(args: &[&str]) -> String {
    let out = brook_unchecked(args);
    assert!(!out.status.success(), "brook {args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

/// Runs a `brook` command that must succeed; its stdout.
pub fn brook_ok(args: &[&str]) -> String {
    let out = brook_unchecked(args);
    assert!(
        out.status.success(),
        "brook {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Brook's client connection to one broker, for tests that are plain `#[test]`s because
/// they orchestrate processes (blocking waits, sleeps, kcat): each call runs on the
/// connection's own current-thread runtime, so that no async worker ever sleeps.
pub struct BlockingConnection {
    runtime: tokio::runtime::Runtime,
    connection: brook_client::BrokerConnection,
}

impl BlockingConnection {
    pub fn connect(address: &str, client_id: &str) -> BlockingConnection {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let connect = brook_client::BrokerConnection::connect(address, client_id, Duration::from_secs(10));
        let connection = runtime
            .block_on(connect)
            .unwrap_or_else(|e| panic!("cannot connect to {address}: {e}"));
        BlockingConnection { runtime, connection }
    }

    pub fn call(
        &self,
        api: brook_protocol::ApiKey,
        version: i16,
        request: brook_protocol::messages::RequestKind,
    ) -> brook_client::Result<brook_protocol::messages::ResponseKind> {
        self.runtime.block_on(self.connection.call(api, version, request))
    }

    pub fn is_open(&self) -> bool {
        self.connection.is_open()
    }
}
