//! Helpers for the workspace's tests (feature `test-support`), kept in one place so that
//! a fix lands everywhere at once.

use std::net::{IpAddr, TcpListener};
use std::sync::Mutex;

/// A port free on `ip` and not handed out before by this process: a probe releases its
/// port at once, so the system may offer the same one to the next probe, and two nodes
/// of one cluster would then race for it ("Address already in use").
pub fn free_port(ip: &str) -> u16 {
    static HANDED_OUT: Mutex<Vec<(String, u16)>> = Mutex::new(Vec::new());
    let address: IpAddr = ip.parse().expect("an IP address");
    loop {
        let port = TcpListener::bind((address, 0))
            .expect("a free port")
            .local_addr()
            .expect("a bound address")
            .port();
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if !handed_out.iter().any(|(i, p)| i == ip && *p == port) {
            handed_out.push((ip.to_owned(), port));
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_never_handed_out_twice() {
        let ports: Vec<u16> = (0..200).map(|_| free_port("127.0.0.1")).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len());
    }
}
