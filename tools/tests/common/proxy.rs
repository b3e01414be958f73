//! A TCP proxy that injects network faults between real processes: it forwards every
//! connection to one target and, while a rule matches a connection, drops it (reset),
//! black-holes it in one or both directions (bytes are held, as a partitioned network
//! holds them, and flow on when the rule is lifted), or delays each chunk.
//!
//! Rules can name connections by the Kafka client id of their first request, so one
//! proxy in front of a broker can cut only one follower's replica fetches
//! (`brook-replica-<id>`) and leave everyone else's traffic alone.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to target.
    Upstream,
    /// Target to client.
    Downstream,
    Both,
}

impl Direction {
    fn covers(self, other: Direction) -> bool {
        self == Direction::Both || self == other
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close matching connections, and every new one as soon as it is identified.
    Drop,
    /// Hold the bytes going this way until the rule is lifted.
    Blackhole(Direction),
    /// Hold each chunk this long before forwarding it.
    Delay(Duration),
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// Connections whose first request's client id starts with this; `None`: all.
    pub client_prefix: Option<String>,
    pub fault: Fault,
}

impl Rule {
    pub fn all(fault: Fault) -> Rule {
        Rule {
            client_prefix: None,
            fault,
        }
    }

    pub fn client(prefix: &str, fault: Fault) -> Rule {
        Rule {
            client_prefix: Some(prefix.to_owned()),
            fault,
        }
    }

    fn matches(&self, client_id: &str) -> bool {
        self.client_prefix.as_deref().is_none_or(|p| client_id.starts_with(p))
    }
}

struct Connection {
    client: TcpStream,
    target: TcpStream,
    client_id: Arc<Mutex<String>>,
}

struct Shared {
    /// Set by `forward_to`; until then connections are closed.
    target: Mutex<String>,
    rules: Mutex<Vec<Rule>>,
    connections: Mutex<Vec<Connection>>,
    stopped: AtomicBool,
}

impl Shared {
    /// The fault for a chunk going `direction` on a connection of `client_id`.
    fn fault(&self, client_id: &str, direction: Direction) -> Option<Fault> {
        let rules = self.rules.lock().unwrap();
        rules
            .iter()
            .filter(|r| r.matches(client_id))
            .map(|r| r.fault)
            .find(|fault| match fault {
                Fault::Drop | Fault::Delay(_) => true,
                Fault::Blackhole(d) => d.covers(direction),
            })
    }
}

pub struct FaultProxy {
    /// Where clients connect.
    pub address: String,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Listens on a free port of `ip`; forwards nowhere until `forward_to`. (Binding
    /// before the nodes' ports are picked keeps the two from colliding.)
    pub fn listen(ip: &str) -> FaultProxy {
        let listener = TcpListener::bind((ip, 0)).expect("the proxy binds");
        let address = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            target: Mutex::new(String::new()),
            rules: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(client) = client {
                    let shared = Arc::clone(&accepting);
                    thread::spawn(move || forward(shared, client));
                }
            }
        });
        FaultProxy { address, shared }
    }

    pub fn forward_to(&self, target: &str) {
        *self.shared.target.lock().unwrap() = target.to_owned();
    }

    /// Replaces the rules; connections a new `Drop` rule matches are closed at once.
    pub fn set(&self, rules: Vec<Rule>) {
        *self.shared.rules.lock().unwrap() = rules;
        let mut connections = self.shared.connections.lock().unwrap();
        connections.retain(|c| {
            let id = c.client_id.lock().unwrap().clone();
            let dropped = self.shared.fault(&id, Direction::Both) == Some(Fault::Drop);
            if dropped {
                let _ = c.client.shutdown(Shutdown::Both);
                let _ = c.target.shutdown(Shutdown::Both);
            }
            !dropped
        });
    }

    /// No more faults: held bytes flow again.
    pub fn heal(&self) {
        self.set(Vec::new());
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.address); // wakes the accept loop
        for c in self.shared.connections.lock().unwrap().drain(..) {
            let _ = c.client.shutdown(Shutdown::Both);
            let _ = c.target.shutdown(Shutdown::Both);
        }
    }
}

fn forward(shared: Arc<Shared>, client: TcpStream) {
    let target = shared.target.lock().unwrap().clone();
    let Ok(target) = TcpStream::connect(&target) else {
        return; // the target is down: the client sees its connection close
    };
    let _ = client.set_nodelay(true);
    let _ = target.set_nodelay(true);
    let client_id = Arc::new(Mutex::new(String::new()));
    let clones = (
        client.try_clone(),
        target.try_clone(),
        client.try_clone(),
        target.try_clone(),
    );
    let (Ok(client_reader), Ok(target_writer), Ok(client_writer), Ok(target_reader)) = clones else {
        return;
    };
    shared.connections.lock().unwrap().push(Connection {
        client,
        target,
        client_id: Arc::clone(&client_id),
    });
    let down = {
        let (shared, client_id) = (Arc::clone(&shared), Arc::clone(&client_id));
        thread::spawn(move || pump(&shared, target_reader, client_writer, Direction::Downstream, &client_id))
    };
    pump(&shared, client_reader, target_writer, Direction::Upstream, &client_id);
    let _ = down.join();
    let mut connections = shared.connections.lock().unwrap();
    connections.retain(|c| !Arc::ptr_eq(&c.client_id, &client_id));
}

/// Copies `from` to `to`, applying the faults in force for each chunk.
fn pump(shared: &Shared, mut from: TcpStream, mut to: TcpStream, direction: Direction, client_id: &Mutex<String>) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut first = direction == Direction::Upstream;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if first {
            *client_id.lock().unwrap() = kafka_client_id(&buf[..n]).unwrap_or_default();
            first = false;
        }
        loop {
            if shared.stopped.load(Ordering::SeqCst) {
                return;
            }
            let id = client_id.lock().unwrap().clone();
            match shared.fault(&id, direction) {
                None => break,
                Some(Fault::Drop) => {
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
                Some(Fault::Delay(delay)) => {
                    thread::sleep(delay);
                    break;
                }
                Some(Fault::Blackhole(_)) => thread::sleep(Duration::from_millis(10)),
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// The client id of a Kafka request frame (size, api key, version, correlation id,
/// client id as an int16-length string), if `bytes` starts with one.
fn kafka_client_id(bytes: &[u8]) -> Option<String> {
    let length = i16::from_be_bytes(bytes.get(12..14)?.try_into().ok()?);
    let length = usize::try_from(length).ok()?;
    let id = bytes.get(14..14 + length)?;
    String::from_utf8(id.to_vec()).ok()
}
