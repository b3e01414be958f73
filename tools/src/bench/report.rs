//! What every `brook bench` workload reports: counts, rates and a latency distribution
//! (HdrHistogram, microsecond resolution), as text for people and JSON for scripts.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::json;

/// Latencies of one task; tasks record into their own and are merged at the end, so the
/// measuring loop takes no lock.
pub struct Latencies(Histogram<u64>);

impl Latencies {
    pub fn new() -> Self {
        // 1 µs to 10 min at 3 significant digits: a few hundred KiB, fixed.
        Latencies(Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"))
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = (latency.as_micros() as u64).clamp(1, self.0.high());
        self.0.record(micros).expect("clamped into range");
    }

    pub fn merge(&mut self, other: &Latencies) {
        self.0.add(&other.0).expect("same bounds");
    }

    fn millis_at(&self, quantile: f64) -> f64 {
        self.0.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn max_millis(&self) -> f64 {
        self.0.max() as f64 / 1000.0
    }

    /// The percentiles and maximum in milliseconds, as a JSON object.
    pub fn summary(&self) -> serde_json::Value {
        let mut latency = serde_json::Map::new();
        for (name, q) in QUANTILES {
            latency.insert(name.into(), json!(self.millis_at(q)));
        }
        latency.insert("max".into(), json!(self.max_millis()));
        latency.into()
    }
}

pub struct Report {
    /// The workload's name, e.g. `offset-commit`.
    pub workload: &'static str,
    /// What one operation is, plural, e.g. `commits`.
    pub operation: &'static str,
    pub elapsed: Duration,
    /// Operations that succeeded.
    pub operations: u64,
    /// Operations that failed (counted, not timed).
    pub errors: u64,
    /// Items carried by the operations and what they are, e.g. offsets per commit;
    /// `None` when an operation is one item.
    pub items: Option<(u64, &'static str)>,
    pub bytes: u64,
    pub latencies: Latencies,
    /// What the latency measures, e.g. "send to acknowledgement".
    pub latency_of: &'static str,
    /// The run's settings and side counts, printed after the figures.
    pub notes: Vec<(&'static str, serde_json::Value)>,
}

const QUANTILES: [(&str, f64); 4] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];

impl Report {
    fn per_second(&self, count: u64) -> f64 {
        count as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn text(&self) -> String {
        let mut text = format!(
            "{}: {} {} in {:.2} s: {:.0} {}/s",
            self.workload,
            self.operations,
            self.operation,
            self.elapsed.as_secs_f64(),
            self.per_second(self.operations),
            self.operation,
        );
        if let Some((items, item_name)) = self.items {
            text += &format!(", {:.0} {item_name}/s", self.per_second(items));
        }
        if self.bytes > 0 {
            text += &format!(", {:.1} MB/s", self.per_second(self.bytes) / 1e6);
        }
        if self.errors > 0 {
            text += &format!(", {} errors", self.errors);
        }
        text += &format!("\nlatency ms ({}):", self.latency_of);
        for (name, q) in QUANTILES {
            text += &format!(" {name} {:.2}", self.latencies.millis_at(q));
        }
        text += &format!(" max {:.2}", self.latencies.max_millis());
        for (name, value) in &self.notes {
            let value = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text += &format!("\n{name}: {value}");
        }
        text
    }

    pub fn json(&self) -> serde_json::Value {
        let mut report = json!({
            "workload": self.workload,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "operation": self.operation,
            "operations": self.operations,
            "operations_per_s": self.per_second(self.operations),
            "errors": self.errors,
            "bytes": self.bytes,
            "bytes_per_s": self.per_second(self.bytes),
            "latency_of": self.latency_of,
            "latency_ms": self.latencies.summary(),
        });
        if let Some((items, item_name)) = self.items {
            report["items"] = json!(item_name);
            report["item_count"] = json!(items);
            report["items_per_s"] = json!(self.per_second(items));
        }
        for (name, value) in &self.notes {
            report[*name] = value.clone();
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_percentiles_come_from_what_was_recorded() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        for ms in 1..=50 {
            a.record(Duration::from_millis(ms));
            b.record(Duration::from_millis(ms + 50));
        }
        a.merge(&b);
        let report = Report {
            workload: "offset-commit",
            operation: "commits",
            elapsed: Duration::from_secs(2),
            operations: 100,
            errors: 0,
            items: Some((300, "offsets")),
            bytes: 0,
            latencies: a,
            latency_of: "commit round trip",
            notes: vec![("clients", json!(4))],
        };
        let json = report.json();
        assert_eq!(json["operations_per_s"], 50.0);
        assert_eq!(json["items_per_s"], 150.0);
        let p50 = json["latency_ms"]["p50"].as_f64().unwrap();
        assert!((49.9..=50.1).contains(&p50), "{p50}");
        let max = json["latency_ms"]["max"].as_f64().unwrap();
        assert!((99.9..=100.1).contains(&max), "{max}");
        let text = report.text();
        assert!(
            text.starts_with("offset-commit: 100 commits in 2.00 s: 50 commits/s, 150 offsets/s"),
            "{text}"
        );
        assert!(!text.contains("errors"));
        assert!(text.contains("latency ms (commit round trip): p50 "), "{text}");
        assert!(text.ends_with("\nclients: 4"), "{text}");
        assert_eq!(json["clients"], 4);
    }

    #[test]
    fn latencies_beyond_the_range_are_clamped_not_lost() {
        let mut l = Latencies::new();
        l.record(Duration::ZERO);
        l.record(Duration::from_secs(3600));
        assert_eq!(l.0.len(), 2);
    }
}
