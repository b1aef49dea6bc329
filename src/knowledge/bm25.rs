//! Portable BM25F ranking over a tenant's knowledge entries, computed in memory so SQLite
//! and PostgreSQL rank alike (FTS5 and tsvector each score differently).
//!
//! Field weights multiply term frequencies before saturation (simple BM25F, Robertson &
//! Zaragoza 2009): per term, `tf~ = Σ weight(f) · tf(f) / (1 − b + b · len(f) / avglen(f))`,
//! then `score = Σ idf · tf~ · (k1 + 1) / (tf~ + k1)`. One saturation over all fields keeps a
//! word repeated in question, title and tags from counting three times over, and per-field
//! length normalisation keeps long answers from drowning short questions. The idf is the
//! Lucene one, `ln(1 + (N − df + 0.5) / (df + 0.5))`, which never goes negative, so any
//! matching term adds to the score.

use std::collections::HashMap;

use super::analyzer::Analyzer;
use crate::domain::Language;

/// Term-frequency saturation.
const K1: f32 = 1.2;
/// Strength of the length normalisation.
const B: f32 = 0.75;
/// Weights of question, title, tags and answer, in [`Field`] order: a customer's message
/// reads like a question, titles and tags are chosen words, answers are long prose.
const WEIGHTS: [f32; FIELDS] = [2.0, 1.5, 1.5, 1.0];
const FIELDS: usize = 4;

/// A knowledge entry as the index sees it (the caller passes enabled entries only).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Stored id, returned in hits.
    pub id: i64,
    /// Short label; counted once with the question when both analyze the same.
    pub title: Option<String>,
    /// The question the entry answers.
    pub question: String,
    /// The answer text.
    pub answer: String,
    /// Free labels such as "entrega" or "pix".
    pub tags: Vec<String>,
}

/// One ranked match.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Id of the matching entry.
    pub id: i64,
    /// BM25F score, > 0; comparable only within one index.
    pub score: f32,
    /// Share (0..=1) of the distinct query terms found in the entry.
    pub coverage: f32,
}

/// In-memory BM25F index over a tenant's enabled entries.
#[derive(Debug, Clone)]
pub struct Index {
    lang: Language,
    /// Entry ids by document number (the position in `build`'s input).
    ids: Vec<i64>,
    /// Term → the documents holding it, with their weighted, length-normalised frequency.
    postings: HashMap<String, Vec<Posting>>,
}

#[derive(Debug, Clone, Copy)]
struct Posting {
    doc: usize,
    tf: f32,
}

impl Index {
    /// Indexes `entries`, analyzed as `lang`; queries are analyzed the same way.
    pub fn build(entries: &[Entry], lang: Language) -> Self {
        let analyzer = Analyzer::new(lang);
        let docs: Vec<[Vec<String>; FIELDS]> = entries.iter().map(|e| fields(&analyzer, e)).collect();
        let avg_len = average_lengths(&docs);
        let mut postings: HashMap<String, Vec<Posting>> = HashMap::new();
        for (doc, fields) in docs.iter().enumerate() {
            let mut tf: HashMap<&str, f32> = HashMap::new();
            for (f, terms) in fields.iter().enumerate() {
                let norm = 1.0 - B + B * terms.len() as f32 / avg_len[f];
                for term in terms {
                    *tf.entry(term).or_default() += WEIGHTS[f] / norm;
                }
            }
            for (term, tf) in tf {
                postings.entry(term.to_string()).or_default().push(Posting { doc, tf });
            }
        }
        Self { lang, ids: entries.iter().map(|e| e.id).collect(), postings }
    }

    /// Best first; ties broken by id ascending; only hits with score > 0; at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let mut terms = Analyzer::new(self.lang).analyze(query);
        dedup_in_order(&mut terms);
        if terms.is_empty() || limit == 0 {
            return Vec::new();
        }
        let mut scores = vec![(0.0_f32, 0_usize); self.ids.len()];
        for postings in terms.iter().filter_map(|t| self.postings.get(t)) {
            let idf = self.idf(postings.len());
            for p in postings {
                scores[p.doc].0 += idf * p.tf * (K1 + 1.0) / (p.tf + K1);
                scores[p.doc].1 += 1;
            }
        }
        let mut hits: Vec<Hit> = scores
            .into_iter()
            .enumerate()
            .filter(|(_, (score, _))| *score > 0.0)
            .map(|(doc, (score, found))| Hit { id: self.ids[doc], score, coverage: found as f32 / terms.len() as f32 })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        hits.truncate(limit);
        hits
    }

    /// Number of indexed entries.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no entry is indexed.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The language entries and queries are analyzed in.
    pub fn language(&self) -> Language {
        self.lang
    }

    fn idf(&self, df: usize) -> f32 {
        let (n, df) = (self.ids.len() as f32, df as f32);
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }
}

/// Analyzed question, title, tags and answer of `entry`.
fn fields(analyzer: &Analyzer, entry: &Entry) -> [Vec<String>; FIELDS] {
    let question = analyzer.analyze(&entry.question);
    let mut title = entry.title.as_deref().map(|t| analyzer.analyze(t)).unwrap_or_default();
    if title == question {
        // Markdown imports use the heading as both; counting it twice would favour them.
        title.clear();
    }
    let tags = entry.tags.iter().flat_map(|t| analyzer.analyze(t)).collect();
    [question, title, tags, analyzer.analyze(&entry.answer)]
}

/// Mean length of each field over `docs`; 1 for a field no document has, to avoid dividing by 0.
fn average_lengths(docs: &[[Vec<String>; FIELDS]]) -> [f32; FIELDS] {
    std::array::from_fn(|f| {
        let total: usize = docs.iter().map(|d| d[f].len()).sum();
        if total == 0 { 1.0 } else { total as f32 / docs.len() as f32 }
    })
}

fn dedup_in_order(terms: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
}
