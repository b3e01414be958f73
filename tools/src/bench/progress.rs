//! The live progress line: operations so far and the rate over the last second, drawn
//! on stderr when it is a terminal (indicatif hides it otherwise).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    done: Arc<AtomicU64>,
    ticker: tokio::task::JoinHandle<()>,
    bar: ProgressBar,
}

impl Progress {
    pub fn start(operation: &'static str) -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("valid template"));
        let done = Arc::new(AtomicU64::new(0));
        let ticker = tokio::spawn({
            let (bar, done) = (bar.clone(), Arc::clone(&done));
            async move {
                let mut last = 0;
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let now = done.load(Ordering::Relaxed);
                    bar.set_message(format!("{now} {operation}, {}/s", now - last));
                    last = now;
                }
            }
        });
        Progress { done, ticker, bar }
    }

    /// What the workload's tasks add their finished operations to.
    pub fn counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.done)
    }

    pub fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}
