//! `atende eval`: measures the detectors exactly as the product runs them.

use std::path::Path;

use anyhow::Context;

use super::{EvalDetector, Lang};
use crate::brain::{guard, sentiment};

/// Reads the labelled file, predicts every line, prints per-label metrics and `accuracy=…`.
pub fn run(detector: EvalDetector, file: &Path, _lang: Lang) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
    let lines = sentiment::read_labelled(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let pairs: Vec<(String, String)> =
        lines.iter().map(|l| (l.label.clone(), predict(detector, &l.text).to_string())).collect();
    print!("{}", sentiment::evaluate(&pairs));
    println!();
    Ok(())
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
