//! Storing parsed knowledge-base entries, for `atende kb import` and the panel's import.

use crate::domain::TenantId;
use crate::knowledge::{ImportedEntry, question_key};
use crate::store::{KnowledgeUpsert, NewKnowledge, Store, StoreError};

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// New entries.
    pub added: usize,
    /// Entries whose question existed and that changed.
    pub updated: usize,
    /// Entries already stored as they are.
    pub unchanged: usize,
}

/// The entry as stored: keyed by its normalised question.
pub fn new_knowledge(entry: &ImportedEntry) -> NewKnowledge {
    NewKnowledge {
        question_key: question_key(&entry.question),
        title: entry.title.clone(),
        question: entry.question.clone(),
        answer: entry.answer.clone(),
        tags: entry.tags.clone(),
        enabled: entry.enabled,
    }
}

/// Adds or updates each entry by its question, calling `progress` after each one.
pub async fn import_knowledge(
    store: &dyn Store,
    tenant: TenantId,
    entries: &[ImportedEntry],
    mut progress: impl FnMut(),
) -> Result<ImportCounts, StoreError> {
    let mut counts = ImportCounts::default();
    let now = time::OffsetDateTime::now_utc();
    for entry in entries {
        match store.upsert_knowledge(tenant, &new_knowledge(entry), now).await? {
            KnowledgeUpsert::Added => counts.added += 1,
            KnowledgeUpsert::Updated => counts.updated += 1,
            KnowledgeUpsert::Unchanged => counts.unchanged += 1,
        }
        progress();
    }
    Ok(counts)
}
