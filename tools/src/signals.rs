//! Ctrl-C and SIGTERM: the two ways a node, or a command that must clean up (a group
//! consumer leaving its group, a producer flushing), is asked to stop.

use tokio::signal::unix::{SignalKind, signal};

/// Resolves on the first Ctrl-C or SIGTERM after it is first polled.
pub async fn interrupted() {
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        },
        // No SIGTERM handler to be had: Ctrl-C still works.
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub async fn wait_for_shutdown() {
    interrupted().await;
    tracing::info!("shutting down");
}
