//! `reply`: answer the burst of a conversation.

use serde_json::json;
use tracing::{info, warn};

use super::{Dispatcher, payload_id, store_error};
use crate::domain::{ConversationId, ErrorClass, EventKind, Flag};
use crate::queue::{JobError, JobOutcome};
use crate::store::{ClaimedJob, Finish, NewReply};
use crate::telemetry::metrics as m;

pub(super) async fn run(d: &Dispatcher, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
    let conversation = ConversationId(payload_id(job, "conversation_id")?);
    let ctx = d
        .brain
        .load_context(conversation, job.claimed_at)
        .await
        .map_err(store_error)?
        .ok_or_else(|| JobError::permanent(format!("conversation {conversation} not found")))?;
    let Some(last) = ctx.pending.last() else {
        // An earlier reply already covered these messages (bursts merge into one job).
        return Ok(JobOutcome::Completed);
    };
    let others: Vec<&str> =
        ctx.pending.iter().map(|m| m.correlation_id.as_str()).filter(|c| *c != job.correlation_id.as_str()).collect();
    if !others.is_empty() {
        info!(merged_correlation_ids = ?others, "answering a burst of {} messages", ctx.pending.len());
    }
    let tenant =
        ctx.tenant.resolve().map_err(|err| JobError::permanent(format!("tenant {}: {err}", ctx.tenant.slug)))?;
    let outcome = match d.brain.decide(&ctx, &tenant, job.claimed_at).await.map_err(store_error)? {
        Ok(outcome) => outcome,
        // Try again later while attempts remain; on the last one, answer politely instead.
        Err(unavailable) if job.attempts < job.max_attempts => {
            return Err(JobError {
                class: ErrorClass::Retryable,
                message: format!("llm: {}", unavailable.reason),
                retry_after: unavailable.retry_after,
            });
        }
        Err(unavailable) => {
            warn!(reason = %unavailable.reason, "LLM still unavailable on the last attempt; sending the fallback text");
            unavailable.fallback
        }
    };
    info!(mood = outcome.mood.compound, parts = outcome.parts().len(), meta = %outcome.meta(), "reply decided");
    super::spend::record(d, &ctx.tenant, &outcome.llm_calls, job).await;
    let settings = &ctx.tenant.settings;
    let rating = outcome.update.survey.as_ref().and_then(|answer| answer.rating.map(|r| (answer, r)));
    // Queued only if the rating is recorded (in the reply's transaction).
    let notify = match rating {
        Some((answer, rating)) => {
            let data = || {
                json!({
                    "survey_id": answer.survey,
                    "rating": rating,
                    "text": answer.text,
                    "contact": ctx.conversation.contact.as_str(),
                    "name": ctx.conversation.contact_name,
                })
            };
            d.outbox(&ctx.tenant, EventKind::CsatReceived, data, &job.correlation_id, job.claimed_at)
        }
        None => Vec::new(),
    };
    let finish = d
        .store
        .record_reply(NewReply {
            job,
            conversation,
            covered_upto: last.id,
            parts: outcome.parts().to_vec(),
            meta: outcome.meta(),
            deliver_max_attempts: d.queue.deliver_max_attempts,
            update: outcome.update.clone(),
            ticket: ctx.conversation.context_from,
            notify,
            idle_after: settings.csat.idle().filter(|_| ctx.tenant.flags.on(Flag::Csat)),
        })
        .await
        .map_err(store_error)?;
    if matches!(finish, Finish::Recorded { .. }) {
        let (decision, detail) = crate::brain::decision_labels(&outcome);
        metrics::counter!(m::REPLIES_TOTAL, "decision" => decision, "detail" => detail.clone()).increment(1);
        if decision == "handoff" {
            metrics::counter!(m::HANDOFFS_TOTAL, "reason" => detail).increment(1);
        }
        if let Some((_, rating)) = rating {
            let labels = [("tenant", ctx.tenant.slug.clone()), ("rating", rating.to_string())];
            metrics::counter!(m::CSAT_RESPONSES_TOTAL, &labels).increment(1);
        }
    }
    Ok(match finish {
        Finish::Recorded { .. } => JobOutcome::Recorded,
        Finish::LeaseLost => JobOutcome::LeaseLost,
    })
}
