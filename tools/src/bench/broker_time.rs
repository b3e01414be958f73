//! `--broker-metrics`: where the brokers' request time went during a run, from their
//! `brook_broker_request_phase_seconds` histograms (Kafka's RequestMetrics phases),
//! scraped before and after and subtracted, summed over the brokers named.
//! Percentiles come from the buckets by linear interpolation inside the bucket, so
//! they are as fine as the buckets (steps of 1.5x).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use brook_broker::REQUEST_PHASES as PHASES;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const METRIC: &str = "brook_broker_request_phase_seconds_bucket";
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// A scrape's body is a few hundred KiB; anything far beyond is not a broker's.
const MAX_SCRAPE_BYTES: usize = 64 << 20;

/// Cumulative bucket counts by upper bound, per (API, phase).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PhaseHistograms(BTreeMap<(String, String), Vec<(f64, f64)>>);

impl PhaseHistograms {
    /// Scrapes every broker's `/metrics` (host:port) and adds their histograms up.
    pub async fn scrape(brokers: &[String]) -> Result<Self> {
        let mut sum = PhaseHistograms::default();
        for broker in brokers {
            let text = tokio::time::timeout(SCRAPE_TIMEOUT, get_metrics(broker))
                .await
                .with_context(|| format!("{broker} did not answer /metrics in time"))??;
            sum.add(&PhaseHistograms::parse(&text));
        }
        Ok(sum)
    }

    /// The phase histograms in a Prometheus text exposition; other lines are skipped.
    pub fn parse(text: &str) -> Self {
        let mut histograms = PhaseHistograms::default();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(METRIC) else {
                continue;
            };
            let Some((labels, value)) = rest.strip_prefix('{').and_then(|r| r.split_once("} ")) else {
                continue;
            };
            let label = |name: &str| {
                labels
                    .split(',')
                    .find_map(|pair| pair.strip_prefix(name)?.strip_prefix("=\"")?.strip_suffix('"'))
            };
            let (Some(api), Some(phase), Some(le)) = (label("api"), label("phase"), label("le")) else {
                continue;
            };
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                match le.parse() {
                    Ok(bound) => bound,
                    Err(_) => continue,
                }
            };
            let Ok(count) = value.trim().parse::<f64>() else {
                continue;
            };
            histograms
                .0
                .entry((api.to_owned(), phase.to_owned()))
                .or_default()
                .push((bound, count));
        }
        for buckets in histograms.0.values_mut() {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        histograms
    }

    fn add(&mut self, other: &PhaseHistograms) {
        for (key, buckets) in &other.0 {
            match self.0.get_mut(key) {
                Some(mine) if mine.len() == buckets.len() => {
                    for (m, o) in mine.iter_mut().zip(buckets) {
                        m.1 += o.1;
                    }
                }
                _ => {
                    self.0.insert(key.clone(), buckets.clone());
                }
            }
        }
    }

    /// What was observed after `before` (a histogram first seen after counts whole).
    pub fn since(&self, before: &PhaseHistograms) -> PhaseHistograms {
        let mut diff = self.clone();
        for (key, buckets) in diff.0.iter_mut() {
            if let Some(old) = before.0.get(key).filter(|old| old.len() == buckets.len()) {
                for (b, o) in buckets.iter_mut().zip(old) {
                    b.1 = (b.1 - o.1).max(0.0);
                }
            }
        }
        diff.0.retain(|_, buckets| buckets.last().is_some_and(|b| b.1 > 0.0));
        diff
    }

    /// The requests of each API, most first.
    fn apis(&self) -> Vec<(&str, f64)> {
        let mut apis: Vec<(&str, f64)> = self
            .0
            .iter()
            .filter(|((_, phase), _)| phase == "total")
            .map(|((api, _), buckets)| (api.as_str(), buckets.last().map_or(0.0, |b| b.1)))
            .collect();
        apis.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        apis
    }

    /// The `q` quantile of one API's phase, in seconds.
    fn quantile(&self, api: &str, phase: &str, q: f64) -> Option<f64> {
        quantile(self.0.get(&(api.to_owned(), phase.to_owned()))?, q)
    }

    /// One line per API: requests, then p50/p99 of each phase, in milliseconds.
    pub fn text(&self) -> String {
        let mut text = String::from("broker request time, ms, p50/p99 (Kafka's RequestMetrics phases):\n");
        text += &format!("{:<16} {:>9}", "api", "requests");
        for phase in PHASES {
            text += &format!(" {phase:>15}");
        }
        for (api, count) in self.apis() {
            text += &format!("\n{api:<16} {count:>9.0}");
            for phase in PHASES {
                let ms = |q| self.quantile(api, phase, q).map_or(f64::NAN, |s| s * 1000.0);
                text += &format!(" {:>15}", format!("{:.2}/{:.2}", ms(0.5), ms(0.99)));
            }
        }
        text
    }

    pub fn json(&self) -> serde_json::Value {
        let mut apis = serde_json::Map::new();
        for (api, count) in self.apis() {
            let mut phases = serde_json::Map::new();
            phases.insert("requests".into(), json!(count));
            for phase in PHASES {
                let ms = |q| self.quantile(api, phase, q).map(|s| s * 1000.0);
                phases.insert(
                    format!("{phase}_ms"),
                    json!({"p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "p99.9": ms(0.999)}),
                );
            }
            apis.insert(api.into(), phases.into());
        }
        apis.into()
    }
}

/// Linear interpolation inside the bucket the rank falls in; the open last bucket
/// answers its lower bound.
fn quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                return Some(lower);
            }
            let inside = count - below;
            let fraction = if inside > 0.0 { (rank - below) / inside } else { 0.0 };
            return Some(lower + (bound - lower) * fraction);
        }
        (lower, below) = (bound, count);
    }
    Some(lower)
}

/// `GET /metrics` over HTTP/1.0 (the server closes after answering).
async fn get_metrics(address: &str) -> Result<String> {
    let mut stream = TcpStream::connect(address)
        .await
        .with_context(|| format!("connecting to {address} for /metrics"))?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await?;
    let mut body = Vec::new();
    (&mut stream)
        .take(MAX_SCRAPE_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .await?;
    if body.len() > MAX_SCRAPE_BYTES {
        bail!("{address}'s /metrics is larger than {MAX_SCRAPE_BYTES} bytes");
    }
    let text = String::from_utf8_lossy(&body);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("{address} did not answer HTTP");
    };
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!("{address} answered {}", head.lines().next().unwrap_or(""));
    }
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposition(count_small: u64, count_large: u64) -> String {
        // 100 Produce requests: `count_small` under 1 ms, the rest under 4 ms.
        let mut text = String::from("# HELP x\nbrook_broker_requests_total{api=\"Produce\"} 5\n");
        for phase in PHASES {
            for (le, count) in [
                ("0.001", count_small),
                ("0.004", count_small + count_large),
                ("+Inf", count_small + count_large),
            ] {
                text += &format!("{METRIC}{{api=\"Produce\",broker_id=\"1\",phase=\"{phase}\",le=\"{le}\"}} {count}\n");
            }
        }
        text
    }

    #[test]
    fn percentiles_interpolate_inside_the_bucket_they_fall_in() {
        let histograms = PhaseHistograms::parse(&exposition(50, 50));
        let p50 = histograms.quantile("Produce", "total", 0.5).unwrap();
        assert!((p50 - 0.001).abs() < 1e-9, "{p50}");
        let p75 = histograms.quantile("Produce", "remote", 0.75).unwrap();
        assert!((p75 - 0.0025).abs() < 1e-9, "{p75}");
        assert_eq!(histograms.apis(), vec![("Produce", 100.0)]);
    }

    #[test]
    fn a_run_counts_only_what_was_observed_during_it() {
        let before = PhaseHistograms::parse(&exposition(50, 0));
        let after = PhaseHistograms::parse(&exposition(50, 30));
        let run = after.since(&before);
        assert_eq!(run.apis(), vec![("Produce", 30.0)]);
        // All 30 are in the 1-4 ms bucket.
        let p50 = run.quantile("Produce", "local", 0.5).unwrap();
        assert!((0.001..=0.004).contains(&p50), "{p50}");
        assert!(after.since(&after).apis().is_empty(), "an idle run reports nothing");
    }

    #[test]
    fn brokers_add_up_and_the_report_names_every_phase() {
        let mut two = PhaseHistograms::parse(&exposition(10, 0));
        two.add(&PhaseHistograms::parse(&exposition(10, 0)));
        assert_eq!(two.apis(), vec![("Produce", 20.0)]);
        let text = two.text();
        for phase in PHASES {
            assert!(text.contains(phase), "{text}");
        }
        assert!(text.contains("\nProduce"), "{text}");
        let json = two.json();
        assert_eq!(json["Produce"]["requests"], 20.0);
        assert!(json["Produce"]["total_ms"]["p99"].as_f64().unwrap() <= 1.0);
    }

    #[test]
    fn lines_that_are_not_phase_buckets_are_ignored() {
        let text = "garbage\nbrook_broker_request_phase_seconds_bucket{api=\"Fetch\"} 3\n\
                    brook_broker_request_phase_seconds_bucket{api=\"Fetch\",phase=\"total\",le=\"x\"} 3\n";
        assert!(PhaseHistograms::parse(text).apis().is_empty());
        assert_eq!(quantile(&[], 0.5), None);
    }
}
