//! Classification metrics for `atende eval` (sentiment, injection, handoff), over string labels.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

/// Precision and recall of one label.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMetrics {
    /// The label, as written in the evaluation file.
    pub label: String,
    /// Share of the predictions of this label that were right (0 when never predicted).
    pub precision: f64,
    /// Share of the lines with this label that were predicted as such (0 when absent).
    pub recall: f64,
    /// Number of lines whose expected label is this one.
    pub support: usize,
}

/// The result of an evaluation run.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// Number of evaluated lines.
    pub total: usize,
    /// Share of lines predicted correctly (0 for an empty run).
    pub accuracy: f64,
    /// One entry per label seen as expected or predicted, sorted by label.
    pub per_label: Vec<LabelMetrics>,
}

/// Computes accuracy and per-label precision/recall; `pairs` are (expected, predicted).
pub fn evaluate(pairs: &[(String, String)]) -> EvalReport {
    let labels: BTreeSet<&str> = pairs.iter().flat_map(|(e, p)| [e.as_str(), p.as_str()]).collect();
    let per_label = labels
        .into_iter()
        .map(|label| {
            let hits = pairs.iter().filter(|(e, p)| e == label && p == label).count();
            let predicted = pairs.iter().filter(|(_, p)| p == label).count();
            let support = pairs.iter().filter(|(e, _)| e == label).count();
            LabelMetrics {
                label: label.to_owned(),
                precision: ratio(hits, predicted),
                recall: ratio(hits, support),
                support,
            }
        })
        .collect();
    let correct = pairs.iter().filter(|(e, p)| e == p).count();
    EvalReport { total: pairs.len(), accuracy: ratio(correct, pairs.len()), per_label }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// One label line per label, then `accuracy=<0..1>` as the last line (3 decimals throughout).
impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.per_label {
            writeln!(f, "label={} precision={:.3} recall={:.3} support={}", m.label, m.precision, m.recall, m.support)?;
        }
        write!(f, "accuracy={:.3}", self.accuracy)
    }
}

/// One line of an evaluation file.
#[derive(Debug, Deserialize)]
pub struct LabelledLine {
    /// The message as a customer would send it.
    pub text: String,
    /// The expected label (`positive`, `attack`, `human`…).
    pub label: String,
}

/// Parses JSONL (`{"text": "...", "label": "..."}` per line; blank lines ignored).
/// Errors name the 1-based line number.
pub fn read_labelled(jsonl: &str) -> Result<Vec<LabelledLine>, String> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(e, p)| (e.to_string(), p.to_string())).collect()
    }

    #[test]
    fn metrics_match_a_hand_computed_example() {
        // expected → predicted: pos→pos, pos→neg, neg→neg, neg→neg, neu→pos.
        let report = evaluate(&pairs(&[
            ("positive", "positive"),
            ("positive", "negative"),
            ("negative", "negative"),
            ("negative", "negative"),
            ("neutral", "positive"),
        ]));
        assert_eq!(report.total, 5);
        assert!((report.accuracy - 0.6).abs() < 1e-9);
        let by = |l: &str| report.per_label.iter().find(|m| m.label == l).unwrap().clone();
        // negative: 2 right out of 3 predicted, 2 of 2 found.
        assert_eq!(
            by("negative"),
            LabelMetrics { label: "negative".into(), precision: 2.0 / 3.0, recall: 1.0, support: 2 }
        );
        // neutral: never predicted, so precision 0 by convention.
        assert_eq!(by("neutral"), LabelMetrics { label: "neutral".into(), precision: 0.0, recall: 0.0, support: 1 });
        // positive: 1 right of 2 predicted, 1 of 2 found.
        assert_eq!(by("positive"), LabelMetrics { label: "positive".into(), precision: 0.5, recall: 0.5, support: 2 });
    }

    #[test]
    fn report_prints_one_line_per_label_and_accuracy_last() {
        let report = evaluate(&pairs(&[("attack", "attack"), ("benign", "attack"), ("benign", "benign")]));
        assert_eq!(
            report.to_string(),
            "label=attack precision=0.500 recall=1.000 support=1\n\
             label=benign precision=1.000 recall=0.500 support=2\n\
             accuracy=0.667"
        );
    }

    #[test]
    fn an_empty_run_has_zero_accuracy_and_no_labels() {
        let report = evaluate(&[]);
        assert_eq!(report.to_string(), "accuracy=0.000");
    }

    #[test]
    fn labelled_lines_parse_and_blank_lines_are_skipped() {
        let lines = read_labelled(
            "{\"text\": \"Oi\", \"label\": \"neutral\"}\n\n  \n{\"text\":\"Amei!\",\"label\":\"positive\"}\n",
        )
        .unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[1].text.as_str(), lines[1].label.as_str()), ("Amei!", "positive"));
    }

    #[test]
    fn a_malformed_line_is_reported_by_number() {
        let err = read_labelled("{\"text\": \"ok\", \"label\": \"neutral\"}\n\n{\"text\": \"sem label\"}").unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
    }
}
