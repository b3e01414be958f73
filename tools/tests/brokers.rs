//! `brook controller` and two `brook broker` processes: partitions spread over both
//! brokers, kcat produces to and consumes from both leaders; a SIGKILLed broker is fenced
//! (its partitions leaderless: RF=1, no unclean election) and leads them again after a
//! restart, with every record intact.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Process, free_port, kcat, loopback_ip, wait_until};

struct Cluster {
    voters: String,
    kafka: [String; 2],
    root: tempfile::TempDir,
}

impl Cluster {
    fn broker(&self, id: usize) -> Process {
        let root = self.root.path();
        let child = Command::new(env!("CARGO_BIN_EXE_brook"))
            .arg("broker")
            .args(["--node-id", &id.to_string()])
            .args(["--controller-quorum-voters", &self.voters])
            .args(["--listeners", &format!("PLAINTEXT://{}", self.kafka[id - 1])])
            .args(["--log-dirs", root.join(format!("broker-{id}")).to_str().unwrap()])
            .args(["--broker-heartbeat-interval-ms", "300"])
            .stdout(Stdio::null())
            .stderr(log(root, &format!("broker-{id}.log")))
            .spawn()
            .expect("brook broker starts");
        Process(child)
    }

    fn bootstrap(&self) -> String {
        self.kafka.join(",")
    }

    /// `partition -> leader` from kcat's metadata listing.
    fn leaders(&self, topic: &str) -> Vec<(u32, i32)> {
        let out = Command::new("kcat")
            .args(["-L", "-b", &self.bootstrap(), "-t", topic])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let rest = line.trim().strip_prefix("partition ")?;
                let (partition, rest) = rest.split_once(", leader ")?;
                let leader = rest.split(',').next()?;
                Some((partition.parse().ok()?, leader.parse().ok()?))
            })
            .collect()
    }
}

fn log(root: &Path, name: &str) -> Stdio {
    Stdio::from(std::fs::File::create(root.join(name)).unwrap())
}

#[test]
fn two_brokers_share_partitions_and_a_killed_one_leads_again_after_a_restart() {
    let ip = loopback_ip();
    let controller_port = free_port(&ip);
    let cluster = Cluster {
        voters: format!("1@{ip}:{controller_port}"),
        kafka: [format!("{ip}:{}", free_port(&ip)), format!("{ip}:{}", free_port(&ip))],
        root: tempfile::tempdir().unwrap(),
    };
    let root = cluster.root.path();
    let _controller = Process(
        Command::new(env!("CARGO_BIN_EXE_brook"))
            .arg("controller")
            .args(["--node-id", "1", "--controller-quorum-voters", &cluster.voters])
            .args(["--metadata-log-dir", root.join("controller").to_str().unwrap()])
            .args(["--broker-session-timeout-ms", "2000", "--num-partitions", "4"])
            .stdout(Stdio::null())
            .stderr(log(root, "controller.log"))
            .spawn()
            .expect("brook controller starts"),
    );
    let _first = cluster.broker(1);
    let second = cluster.broker(2);

    wait_until("both brokers in the metadata", Duration::from_secs(30), || {
        let out = Command::new("kcat")
            .args(["-L", "-b", &cluster.bootstrap()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains(" 2 brokers:")
    });
    let input: String = (0..10_000).map(|i| format!("key-{}:value-{i}\n", i % 101)).collect();
    kcat(
        &["-P", "-b", &cluster.bootstrap(), "-t", "spread", "-K:"],
        input.as_bytes(),
    );
    let leaders = cluster.leaders("spread");
    assert_eq!(leaders.len(), 4, "{leaders:?}");
    let led_by = |id: i32| leaders.iter().filter(|(_, l)| *l == id).count();
    assert_eq!((led_by(1), led_by(2)), (2, 2), "leaders are spread: {leaders:?}");
    let consume = || {
        let out = kcat(
            &[
                "-C",
                "-b",
                &cluster.bootstrap(),
                "-t",
                "spread",
                "-o",
                "beginning",
                "-e",
                "-q",
            ],
            b"",
        );
        let mut values: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        values.sort();
        values
    };
    let mut expected: Vec<String> = (0..10_000).map(|i| format!("value-{i}")).collect();
    expected.sort();
    assert!(consume() == expected, "records differ after producing");

    drop(second); // SIGKILL broker 2
    wait_until(
        "broker 2's partitions lose their leader",
        Duration::from_secs(20),
        || {
            let leaders = cluster.leaders("spread");
            leaders.len() == 4 && leaders.iter().filter(|(_, l)| *l == -1).count() == 2
        },
    );
    let _second = cluster.broker(2);
    wait_until("broker 2 leads its partitions again", Duration::from_secs(30), || {
        cluster.leaders("spread").iter().filter(|(_, l)| *l == 2).count() == 2
    });
    assert!(consume() == expected, "records differ after the restart");
}
