//! `idle`: close a conversation the bot answered once nobody wrote in it for the tenant's
//! `[csat] idle_minutes`, and ask the customer for a rating.

use tracing::info;

use super::{Dispatcher, payload_id, store_error};
use crate::brain::csat;
use crate::domain::{ConversationId, Flag};
use crate::queue::{JobError, JobOutcome};
use crate::store::{ClaimedJob, CloseConversation, CloseOutcome, CloseReason, ConversationRef, SurveyAsk};

pub(super) async fn run(d: &Dispatcher, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
    let conversation = ConversationId(payload_id(job, "conversation_id")?);
    let tenant = d
        .store
        .find_tenant_by_id(job.tenant_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| JobError::permanent(format!("tenant {} not found", job.tenant_id)))?;
    let settings = &tenant.settings.csat;
    let Some(idle) = settings.idle().filter(|_| tenant.flags.on(Flag::Csat)) else {
        info!("CSAT surveys or their idle period were turned off since; the conversation stays open");
        return Ok(JobOutcome::Completed);
    };
    let text = csat::survey_text(settings, &tenant.settings.persona);
    let reason = CloseReason::Idle { quiet_since: job.claimed_at - idle };
    let outcome = d
        .store
        .close_conversation(CloseConversation {
            tenant: tenant.id,
            conversation: ConversationRef::Id(conversation),
            reason,
            survey: Some(SurveyAsk {
                text: &text,
                after_abandoned_handoff: settings.after_abandoned_handoff,
                deliver_max_attempts: d.queue.deliver_max_attempts,
            }),
            job: Some(job),
            correlation_id: &job.correlation_id,
            now: job.claimed_at,
        })
        .await
        .map_err(store_error)?;
    csat::report_close(&tenant.slug, reason, &outcome);
    Ok(match outcome {
        CloseOutcome::LeaseLost => JobOutcome::LeaseLost,
        _ => JobOutcome::Recorded,
    })
}
