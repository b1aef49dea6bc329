//! Quantiles over raw samples and over Prometheus histograms scraped from `/metrics`.

use std::collections::BTreeMap;

/// Count, quantiles and maximum of a set of samples (seconds or any unit).
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Median (nearest rank).
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarises `samples` (any order); an empty set gives zeros.
    pub fn of(mut samples: Vec<f64>) -> Self {
        samples.retain(|s| s.is_finite());
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_by(f64::total_cmp);
        Self {
            count: samples.len(),
            p50: nearest_rank(&samples, 0.50),
            p99: nearest_rank(&samples, 0.99),
            max: samples[samples.len() - 1],
        }
    }
}

/// The nearest-rank quantile of sorted, non-empty samples.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One line of the Prometheus text exposition format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `atende_queue_wait_seconds_bucket`.
    pub name: String,
    /// Labels, sorted by name.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// Parses the samples of a Prometheus text exposition; comments and malformed lines are skipped.
pub fn parse_prometheus(text: &str) -> Vec<Sample> {
    text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let close = line.rfind('}')?;
            (&line[..open], parse_labels(&line[open + 1..close])?, &line[close + 1..])
        }
        None => {
            let space = line.find(' ')?;
            (&line[..space], BTreeMap::new(), &line[space..])
        }
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample { name: name.to_string(), labels, value })
}

/// `k="v",k2="v2"` with `\"` and `\\` escapes inside values.
fn parse_labels(text: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(labels);
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next() != Some('"') {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\\' => value.push(match chars.next()? {
                    'n' => '\n',
                    other => other,
                }),
                '"' => break,
                other => value.push(other),
            }
        }
        labels.insert(key.trim().to_string(), value);
    }
}

/// Sum of the values of `name` whose labels include every `(key, value)` of `filter`.
pub fn sum(samples: &[Sample], name: &str, filter: &[(&str, &str)]) -> f64 {
    samples.iter().filter(|s| s.name == name && matches(s, filter)).map(|s| s.value).sum()
}

/// Every series of `name`, as (`k=v,…` label text, value), for reporting counters.
pub fn series(samples: &[Sample], name: &str) -> Vec<(String, f64)> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (labels.join(","), s.value)
        })
        .collect()
}

fn matches(sample: &Sample, filter: &[(&str, &str)]) -> bool {
    filter.iter().all(|(k, v)| sample.labels.get(*k).is_some_and(|have| have == v))
}

/// A cumulative Prometheus histogram (`_bucket`, `_sum`, `_count`), possibly merged from
/// several series or processes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// (upper bound `le`, cumulative count), ascending, `+Inf` last.
    pub buckets: Vec<(f64, f64)>,
    /// `_sum`.
    pub sum: f64,
    /// `_count`.
    pub count: f64,
}

impl Histogram {
    /// The histogram `name` (without suffix) over the series matching `filter`, merged.
    pub fn from_samples(samples: &[Sample], name: &str, filter: &[(&str, &str)]) -> Self {
        let bucket_name = format!("{name}_bucket");
        let mut buckets: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
        for s in samples.iter().filter(|s| s.name == bucket_name && matches(s, filter)) {
            let Some(le) = s.labels.get("le").and_then(|le| parse_bound(le)) else { continue };
            // Order by the bound's bits: positive floats (and +Inf) sort like their bit patterns.
            buckets.entry(le.to_bits()).or_insert((le, 0.0)).1 += s.value;
        }
        Self {
            buckets: buckets.into_values().collect(),
            sum: sum(samples, &format!("{name}_sum"), filter),
            count: sum(samples, &format!("{name}_count"), filter),
        }
    }

    /// Adds `other` bucket by bucket (same bucket layout, e.g. another process).
    pub fn merge(&mut self, other: &Histogram) {
        if self.buckets.is_empty() {
            self.buckets = other.buckets.clone();
        } else {
            for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
                mine.1 += theirs.1;
            }
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    /// What was recorded after `earlier` was scraped (counters only grow).
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let buckets = self
            .buckets
            .iter()
            .map(|(le, n)| {
                let before = earlier.buckets.iter().find(|(e, _)| e == le).map_or(0.0, |(_, n)| *n);
                (*le, (n - before).max(0.0))
            })
            .collect();
        Histogram { buckets, sum: self.sum - earlier.sum, count: self.count - earlier.count }
    }

    /// Quantile `q` by linear interpolation inside the bucket holding rank `q·count` (the
    /// first bucket starts at 0). A rank in the `+Inf` bucket gives the last finite bound,
    /// as Prometheus' `histogram_quantile` does; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last().map(|(_, n)| *n).filter(|n| *n > 0.0)?;
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for &(le, cumulative) in &self.buckets {
            if cumulative >= rank {
                if le.is_infinite() {
                    return Some(lower.0);
                }
                let width = cumulative - lower.1;
                let fraction = if width > 0.0 { (rank - lower.1) / width } else { 1.0 };
                return Some(lower.0 + (le - lower.0) * fraction);
            }
            lower = (le, cumulative);
        }
        Some(lower.0)
    }

    /// `_sum / _count`, `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }
}

fn parse_bound(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        other => other.parse().ok(),
    }
}
