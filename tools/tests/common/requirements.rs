//! The programs a test drives besides `brook`, all of which `.ci/run` installs. A test
//! names what it needs first (`require!(Kcat, Python)`). In CI (`CI` set) a missing one
//! fails the test, so CI always runs everything; elsewhere the test prints what is
//! missing and how to install it, and returns without running.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// kcat (librdkafka), Debian's package.
    Kcat,
    /// `BROOK_PYTHON` (or `python3`) with confluent-kafka, kafka-python and aiokafka.
    Python,
    /// node with kafkajs installed in `tests/clients/js`.
    Kafkajs,
    /// The Go toolchain (franz-go and sarama come from the module proxy).
    Go,
    /// A JVM and Kafka 4.4's jars resolved by `tests/kafka/kafka.sh classpath`.
    Kafka,
    /// Root and iproute2, for network namespaces.
    Netns,
}

const TOOLS: usize = 6;

impl Tool {
    /// Why it cannot be used here, if it cannot, and how to fix that.
    fn missing(self) -> Option<String> {
        static FOUND: [OnceLock<Option<String>>; TOOLS] = [const { OnceLock::new() }; TOOLS];
        FOUND[self as usize].get_or_init(|| self.probe()).clone()
    }

    fn probe(self) -> Option<String> {
        let runs = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .output()
                .is_ok_and(|out| out.status.success())
        };
        let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        match self {
            Tool::Kcat => (!runs("kcat", &["-V"])).then(|| "kcat is not installed (apt-get install kcat)".into()),
            Tool::Python => {
                let python = std::env::var("BROOK_PYTHON").unwrap_or_else(|_| "python3".into());
                (!runs(&python, &["-c", "import confluent_kafka, kafka, aiokafka"])).then(|| {
                    format!(
                        "{python} lacks confluent-kafka, kafka-python or aiokafka (make a \
                         virtualenv with them as .ci/run does and set BROOK_PYTHON to its python)"
                    )
                })
            }
            Tool::Kafkajs => {
                let js = tests.join("clients/js");
                (!runs("node", &["--version"]) || !js.join("node_modules/kafkajs").is_dir())
                    .then(|| format!("node or kafkajs is missing (npm ci --prefix {})", js.display()))
            }
            Tool::Go => (!runs("go", &["version"])).then(|| "the Go toolchain is not installed".into()),
            Tool::Kafka => {
                let classpath = super::kafka::kafka_sh_path().with_file_name("target/classpath.txt");
                (!runs("java", &["-version"]) || !classpath.is_file())
                    .then(|| "java or Kafka 4.4's jars are missing (bash tests/kafka/kafka.sh classpath)".into())
            }
            Tool::Netns => super::netns::unavailable(),
        }
    }
}

/// Whether the running test must stop because one of `tools` is missing (having said
/// so); panics instead in CI.
pub fn missing(tools: &[Tool]) -> bool {
    let Some(reason) = tools.iter().find_map(|tool| tool.missing()) else {
        return false;
    };
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs what CI installs: {reason}"
    );
    eprintln!("SKIPPED {test}: {reason}");
    true
}

/// `require!(Kcat, Python);` at the top of a test: it returns at once (skipped, with the
/// reason printed) unless every tool named is here.
macro_rules! require {
    ($($tool:ident),+ $(,)?) => {
        if $crate::common::requirements::missing(&[$($crate::common::requirements::Tool::$tool),+]) {
            return;
        }
    };
}
pub(crate) use require;
