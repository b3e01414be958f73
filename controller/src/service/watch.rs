//! `WatchMetadata`: the records after the broker's version, then new ones as they are
//! applied, until the connection closes or this node stops leading.

use brook_protocol::rpc::{ControllerResponse, MetadataUpdate, RpcError, RpcResponse};
use tokio::sync::mpsc;

use super::ControllerService;

/// Records per answer, so one answer stays a modest frame.
const RECORDS_PER_UPDATE: usize = 5_000;

impl ControllerService {
    pub(super) async fn watch_metadata(
        &self,
        correlation_id: u64,
        mut since: u64,
        replies: &mpsc::Sender<RpcResponse>,
    ) -> Result<(), RpcError> {
        self.raft.check_leader()?;
        let mut versions = self.shared.subscribe_version();
        let mut status = self.raft.status_changes();
        let send = |update: MetadataUpdate| {
            replies.send(RpcResponse {
                correlation_id,
                body: Ok(ControllerResponse::Metadata(update)),
            })
        };
        // The first answer comes at once, even when empty: the broker knows it is current.
        let mut first = true;
        loop {
            let updates: Vec<MetadataUpdate> = self.shared.read(|state| {
                if state.version() <= since {
                    return Vec::new();
                }
                match state.records_since(since) {
                    Some(records) => records
                        .chunks(RECORDS_PER_UPDATE)
                        .map(|chunk| MetadataUpdate::Records(chunk.to_vec()))
                        .collect(),
                    None => vec![MetadataUpdate::Snapshot(state.image().clone())],
                }
            });
            if updates.is_empty() && first {
                send(MetadataUpdate::Records(Vec::new()))
                    .await
                    .map_err(|_| RpcError::Internal("watcher gone".into()))?;
            }
            first = false;
            for update in updates {
                since = match &update {
                    MetadataUpdate::Snapshot(image) => image.version,
                    MetadataUpdate::Records(records) => records.last().map_or(since, |r| r.version),
                };
                if send(update).await.is_err() {
                    return Ok(()); // the connection closed
                }
            }
            tokio::select! {
                changed = versions.changed() => if changed.is_err() { return Ok(()) },
                alive = status.changed() => {
                    if !alive {
                        return Ok(());
                    }
                    self.raft.check_leader()?;
                }
                () = replies.closed() => return Ok(()),
            }
        }
    }
}
