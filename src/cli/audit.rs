//! The audit entries of changes made from the command line (actor `cli`).

use serde_json::Value;
use time::OffsetDateTime;

use crate::store::{NewAudit, Store};

/// Appends one `cli` entry: `action` on `target`, with the state before and after.
pub(super) async fn audit(
    store: &dyn Store,
    action: &str,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> anyhow::Result<()> {
    let entry = NewAudit {
        actor: "cli",
        user_id: None,
        action,
        target: Some(target),
        ip: None,
        success: true,
        before,
        after,
        at: OffsetDateTime::now_utc(),
    };
    store.append_audit(&entry).await?;
    Ok(())
}
