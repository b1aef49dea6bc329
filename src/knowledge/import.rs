//! Knowledge-base files (CSV, JSONL, Markdown) parsed into entries ready to store, with
//! the lines that could not be used and why; nothing here touches the store.

use std::collections::HashMap;
use std::path::Path;

use super::analyzer::{fold, question_key};
use super::{import_csv, import_jsonl, import_markdown};

/// Longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 1000;
/// Longest answer accepted, in characters.
pub const MAX_ANSWER_CHARS: usize = 8000;
/// Longest title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Most tags accepted on one entry.
pub const MAX_TAGS: usize = 20;

/// File formats `atende kb import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// Header with at least `question,answer`.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// One entry per `## ` section.
    Markdown,
}

impl ImportFormat {
    /// The format a file name implies: `.csv`, `.jsonl`/`.ndjson`, `.md`/`.markdown` (any case).
    pub fn from_path(path: &Path) -> Option<Self> {
        Self::parse(path.extension()?.to_str()?)
    }

    /// Reads a format name or extension (`csv`, `jsonl`, `ndjson`, `md`, `markdown`), e.g. from `--format`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            "md" | "markdown" => Some(Self::Markdown),
            _ => None,
        }
    }

    /// Lowercase name: `csv`, `jsonl` or `markdown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
            Self::Markdown => "markdown",
        }
    }
}

/// An entry read from a file, validated and trimmed.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedEntry {
    /// 1-based line where the entry starts (CSV record, JSONL line, Markdown heading).
    pub line: usize,
    /// Short label, if the file gave one.
    pub title: Option<String>,
    /// The question, at most [`MAX_QUESTION_CHARS`].
    pub question: String,
    /// The answer, at most [`MAX_ANSWER_CHARS`]; line breaks kept.
    pub answer: String,
    /// Trimmed, non-empty, without case-insensitive repeats; at most [`MAX_TAGS`].
    pub tags: Vec<String>,
    /// False when the file disables the entry; true by default.
    pub enabled: bool,
}

/// A line that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line where the rejected record starts.
    pub line: usize,
    /// Why, in English (e.g. "answer is empty").
    pub reason: String,
}

/// Everything one file yielded, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedImport {
    /// Entries to add or update.
    pub entries: Vec<ImportedEntry>,
    /// Records left out, with the reason.
    pub skipped: Vec<Skipped>,
}

/// Problems with a whole file; per-record problems are [`Skipped`] instead.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file holds nothing but whitespace.
    #[error("the file is empty")]
    Empty,
    /// The CSV header lacks `question` or `answer`.
    #[error("CSV header needs at least `question` and `answer` (found: {0})")]
    MissingColumns(String),
    /// The CSV header names one column twice (aliases included, e.g. `question` and `pergunta`).
    #[error("CSV header has the column `{0}` twice")]
    DuplicateColumn(String),
    /// The CSV header could not be read.
    #[error("invalid CSV header: {0}")]
    InvalidCsv(String),
    /// A Markdown file without any `## ` heading.
    #[error("no `## ` sections found: each entry starts with a `## question` heading")]
    NoSections,
}

/// Parses a knowledge-base file; see the format modules for each layout. A UTF-8 BOM is
/// ignored; a question repeated within the file (same [`question_key`]) is skipped.
pub fn parse_import(format: ImportFormat, text: &str) -> Result<ParsedImport, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    let drafts = match format {
        ImportFormat::Csv => import_csv::parse(text)?,
        ImportFormat::Jsonl => import_jsonl::parse(text),
        ImportFormat::Markdown => import_markdown::parse(text)?,
    };
    Ok(finish(drafts))
}

/// A record as a format parser read it, before validation.
#[derive(Debug, Clone, Default)]
pub(super) struct Draft {
    pub(super) line: usize,
    pub(super) title: Option<String>,
    pub(super) question: String,
    pub(super) answer: String,
    pub(super) tags: Vec<String>,
    pub(super) enabled: bool,
}

impl Draft {
    /// An empty, enabled draft starting at `line`.
    pub(super) fn new(line: usize) -> Self {
        Self { line, enabled: true, ..Self::default() }
    }
}

/// The fields a CSV column or JSON key can fill, with pt-BR aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Title,
    Question,
    Answer,
    Tags,
    Enabled,
}

impl Field {
    /// Reads a column or key name, ignoring case, accents and surrounding spaces.
    pub(super) fn from_name(name: &str) -> Option<Self> {
        match fold(name.trim()).as_str() {
            "title" | "titulo" => Some(Self::Title),
            "question" | "pergunta" => Some(Self::Question),
            "answer" | "resposta" => Some(Self::Answer),
            "tags" | "etiquetas" => Some(Self::Tags),
            "enabled" | "ativo" | "habilitado" => Some(Self::Enabled),
            _ => None,
        }
    }
}

/// Tags from one text cell, separated by `;`, `,` or `|`.
pub(super) fn split_tags(cell: &str) -> Vec<String> {
    cell.split([';', ',', '|']).map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect()
}

/// Reads `true/false`, `1/0`, `sim/não`, `yes/no` (any case, accents optional); blank is true.
pub(super) fn parse_enabled(value: &str) -> Result<bool, String> {
    match fold(value.trim()).as_str() {
        "" | "true" | "1" | "sim" | "s" | "yes" | "y" | "verdadeiro" => Ok(true),
        "false" | "0" | "nao" | "n" | "no" | "falso" => Ok(false),
        _ => Err(format!("`enabled` must be true/false, 1/0, sim/não or yes/no (found {value:?})")),
    }
}

/// Validates drafts and drops repeated questions, keeping file order.
fn finish(drafts: Vec<Result<Draft, Skipped>>) -> ParsedImport {
    let mut parsed = ParsedImport::default();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for draft in drafts {
        let entry = draft.and_then(|d| {
            let line = d.line;
            validate(d).map_err(|reason| Skipped { line, reason })
        });
        match entry {
            Ok(entry) => match first_line.get(&question_key(&entry.question)) {
                Some(first) => parsed
                    .skipped
                    .push(Skipped { line: entry.line, reason: format!("duplicate question (same as line {first})") }),
                None => {
                    first_line.insert(question_key(&entry.question), entry.line);
                    parsed.entries.push(entry);
                }
            },
            Err(skipped) => parsed.skipped.push(skipped),
        }
    }
    parsed
}

fn validate(draft: Draft) -> Result<ImportedEntry, String> {
    let question = draft.question.trim().to_string();
    let answer = draft.answer.trim().to_string();
    let title = draft.title.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    if question.is_empty() {
        return Err("question is empty".into());
    }
    if answer.is_empty() {
        return Err("answer is empty".into());
    }
    check_length("question", &question, MAX_QUESTION_CHARS)?;
    check_length("answer", &answer, MAX_ANSWER_CHARS)?;
    if let Some(title) = &title {
        check_length("title", title, MAX_TITLE_CHARS)?;
    }
    let tags = distinct_tags(draft.tags);
    if tags.len() > MAX_TAGS {
        return Err(format!("too many tags ({}; at most {MAX_TAGS})", tags.len()));
    }
    Ok(ImportedEntry { line: draft.line, title, question, answer, tags, enabled: draft.enabled })
}

fn check_length(field: &str, text: &str, max: usize) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > max { Err(format!("{field} is too long ({chars} characters; at most {max})")) } else { Ok(()) }
}

fn distinct_tags(tags: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    tags.into_iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty() && seen.insert(fold(t))).collect()
}
