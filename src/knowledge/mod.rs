//! The knowledge base of a tenant: importing entries from CSV, JSONL and Markdown files,
//! and ranking them for a customer's message with a portable BM25 (accent folding,
//! pt-BR/en stopwords and Snowball stems), so SQLite and PostgreSQL rank alike. This is the
//! default engine; `[brain] knowledge_search = "database"` uses the store's full-text search
//! instead (`Store::search_knowledge`).
//!
//! Layer 3: may import `domain` only; pure — storage lives in `store`, which keeps the
//! entries and hands the enabled ones to [`Index::build`].
//!
//! # Layout
//! - `analyzer`: text → search terms (stopwords live in `domain`, shared with `store`).
//! - `bm25`: [`Index`], built per tenant, searched per message.
//! - `import` (+ `import_csv`, `import_jsonl`, `import_markdown`): files → [`ParsedImport`].
//! - `excerpt`: short one-line answers for prompts and the CLI.

mod analyzer;
mod bm25;
mod excerpt;
mod import;
mod import_csv;
mod import_jsonl;
mod import_markdown;

#[cfg(test)]
mod bm25_tests;
#[cfg(test)]
mod import_tests;

pub use analyzer::{analyze, fold, question_key};
pub use bm25::{Entry, Hit, Index};
pub use excerpt::excerpt;
pub use import::{
    ImportError, ImportFormat, ImportedEntry, MAX_ANSWER_CHARS, MAX_QUESTION_CHARS, MAX_TAGS, MAX_TITLE_CHARS,
    ParsedImport, Skipped, parse_import,
};

/// Result alias of this module.
pub type Result<T, E = ImportError> = std::result::Result<T, E>;
