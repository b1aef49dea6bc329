//! `atende eval`: measures the detectors exactly as the product runs them.

use std::path::Path;

use anyhow::Context;

use super::{EvalDetector, Lang};
use crate::brain::{guard, sentiment};

/// Reads the labelled file, predicts every line, prints per-label metrics and `accuracy=…`.
pub fn run(detector: EvalDetector, file: &Path, _lang: Lang) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
    let lines = sentiment::read_labelled(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let allowed = labels(detector);
    if let Some((n, line)) = lines.iter().enumerate().find(|(_, l)| !allowed.contains(&l.label.as_str())) {
        anyhow::bail!(
            "{}: entry {}: label {:?} is not one of {}",
            file.display(),
            n + 1,
            line.label,
            allowed.join(", ")
        );
    }
    let pairs: Vec<(String, String)> =
        lines.iter().map(|l| (l.label.clone(), predict(detector, &l.text).to_string())).collect();
    println!("{}", sentiment::evaluate(&pairs));
    Ok(())
}

/// The labels a detector can give.
fn labels(detector: EvalDetector) -> &'static [&'static str] {
    match detector {
        EvalDetector::Injection => &["attack", "benign"],
        EvalDetector::Sentiment => &["positive", "negative", "neutral"],
        EvalDetector::Handoff => &["human", "other"],
    }
}

/// The label a detector gives a text.
pub fn predict(detector: EvalDetector, text: &str) -> &'static str {
    match detector {
        EvalDetector::Injection => match guard::check_input(text) {
            guard::InputVerdict::Attack { .. } => "attack",
            guard::InputVerdict::Clean => "benign",
        },
        EvalDetector::Sentiment => sentiment::analyze(text, sentiment::detect_language(text)).mood().as_str(),
        EvalDetector::Handoff => {
            if guard::wants_human(text) {
                "human"
            } else {
                "other"
            }
        }
    }
}
