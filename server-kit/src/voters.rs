//! `controller.quorum.voters`: how brokers and controllers name the controller quorum.

use brook_protocol::rpc::ControllerAddress;
use brook_protocol::rpc::metadata::NodeId;

use crate::properties::{ConfigError, ConfigKey};

pub const QUORUM_VOTERS: ConfigKey = ConfigKey {
    name: "controller.quorum.voters",
    default: None,
    help: "Every controller as id@host:port, comma-separated (e.g. 1@127.0.0.1:9093)",
};

/// Parses `1@host:port,2@host:port`.
pub fn parse_voters(text: &str) -> Result<Vec<ControllerAddress>, ConfigError> {
    let mut voters = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = |reason: &str| ConfigError::invalid(&QUORUM_VOTERS, item, reason);
        let (id, address) = item.split_once('@').ok_or_else(|| bad("expected id@host:port"))?;
        let node_id: NodeId = id.parse().map_err(|_| bad("the id must be a number"))?;
        let (host, port) = address.rsplit_once(':').ok_or_else(|| bad("expected host:port"))?;
        let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
        if voters.iter().any(|v: &ControllerAddress| v.node_id == node_id) {
            return Err(bad("the id appears twice"));
        }
        voters.push(ControllerAddress {
            node_id,
            host: host.trim_matches(['[', ']']).to_string(),
            port,
        });
    }
    if voters.is_empty() {
        return Err(ConfigError::invalid(&QUORUM_VOTERS, text, "no voters"));
    }
    Ok(voters)
}

/// `host:port` of a controller, as openraft and TCP want it.
pub fn address_string(address: &ControllerAddress) -> String {
    if address.host.contains(':') {
        format!("[{}]:{}", address.host, address.port)
    } else {
        format!("{}:{}", address.host, address.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voters_parse_and_malformed_ones_are_refused() {
        let voters = parse_voters("1@127.0.0.1:9093, 2@[::1]:9094").unwrap();
        assert_eq!(voters.len(), 2);
        assert_eq!(address_string(&voters[0]), "127.0.0.1:9093");
        assert_eq!(address_string(&voters[1]), "[::1]:9094");
        assert!(parse_voters("1@127.0.0.1").is_err());
        assert!(parse_voters("x@127.0.0.1:1").is_err());
        assert!(parse_voters("1@a:1,1@b:2").is_err());
        assert!(parse_voters(" , ").is_err());
    }
}
