//! `fallback`: an answer the helpdesk would not take goes by e-mail to the tenant's team
//! (customer, question, answer, why) and by SMS to the customer. Queued by the `deliver`
//! job once its failure is final, or once the helpdesk has refused the answer for
//! `[fallback] after_minutes`; one job per channel, each retried on its own.

use tracing::{error, info};

use super::{Dispatcher, payload_handoff, payload_id, store_error};
use crate::config::fallback::{ResolvedFallback, SmsValues};
use crate::domain::{ErrorClass, Flag, Flags, Language, MessageId};
use crate::queue::{JobError, JobOutcome};
use crate::store::{ClaimedJob, Delivery, FallbackChannel, HandoffRecord, NewFallback};
use crate::telemetry::metrics as m;

/// Called by a failing `deliver` job: queues the fallback when the failure is final (a
/// permanent error or the last attempt) or the helpdesk has refused the answer for longer
/// than the tenant allows. Once per answer; a store failure is logged, not raised, so the
/// delivery's own error stays the job's error.
pub(super) async fn after_failure(d: &Dispatcher, job: &ClaimedJob, delivery: &Delivery, failure: &JobError) {
    if delivery.fallback_at.is_some() || delivery.tenant.settings.fallback == Default::default() {
        return;
    }
    let settings = match delivery.tenant.resolve_fallback() {
        Ok(settings) => settings,
        Err(err) => {
            error!(error = %err, "the fallback channels' settings cannot be read; no fallback");
            return;
        }
    };
    let settings = &settings;
    let last = failure.class != ErrorClass::Retryable || job.attempts >= job.max_attempts;
    let refused_for = job.claimed_at - delivery.created_at;
    let outage =
        settings.after_minutes.is_some_and(|minutes| refused_for >= time::Duration::minutes(i64::from(minutes)));
    if !(last || outage) {
        return;
    }
    let channels = channels(settings, &delivery.tenant.flags);
    if channels.is_empty() {
        return;
    }
    let fallback = NewFallback {
        job,
        message: delivery.message_id,
        channels: &channels,
        reason: &failure.message,
        max_attempts: d.fallback.max_attempts,
        now: job.claimed_at,
    };
    let trigger = if last { "undeliverable" } else { "outage" };
    match d.store.queue_fallback(fallback).await {
        Ok(true) => {
            let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
            info!(message_id = %delivery.message_id, trigger, channels = ?names, "answer handed to the fallback channels");
        }
        Ok(false) => {}
        Err(err) => error!(error = %err, trigger, "cannot queue the fallback for an undelivered answer"),
    }
}

/// The channels the tenant configured and its flags allow.
fn channels(settings: &ResolvedFallback, flags: &Flags) -> Vec<FallbackChannel> {
    let email = settings.email.is_some() && flags.on(Flag::FallbackEmail);
    let sms = settings.sms.is_some() && flags.on(Flag::FallbackSms);
    [email.then_some(FallbackChannel::Email), sms.then_some(FallbackChannel::Sms)].into_iter().flatten().collect()
}

pub(super) async fn run(d: &Dispatcher, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
    if job.payload.get("handoff_id").is_some() {
        return escalate(d, job).await;
    }
    let message = MessageId(payload_id(job, "message_id")?);
    let channel = job
        .payload
        .get("channel")
        .and_then(|c| c.as_str())
        .and_then(FallbackChannel::parse)
        .ok_or_else(|| JobError::permanent("job payload has no `channel` (email or sms)"))?;
    let reason = job.payload.get("reason").and_then(|r| r.as_str()).unwrap_or_default();
    let delivery = d
        .store
        .find_delivery(message)
        .await
        .map_err(store_error)?
        .ok_or_else(|| JobError::permanent(format!("outbound message {message} not found")))?;
    let label = channel.as_str();
    // `sent`: the helpdesk took it after all; `cancelled`: a person took the conversation over.
    if delivery.status != "pending" {
        info!(channel = label, status = %delivery.status, "the answer is no longer undelivered; no fallback");
        metrics::counter!(m::FALLBACK_DELIVERIES_TOTAL, "channel" => label, "outcome" => "skipped").increment(1);
        return Ok(JobOutcome::Completed);
    }
    let settings = delivery
        .tenant
        .resolve_fallback()
        .map_err(|err| JobError::permanent(format!("tenant {}: {err}", delivery.tenant.slug)))?;
    if !channels(&settings, &delivery.tenant.flags).contains(&channel) {
        return not_configured(label);
    }
    let sent = match channel {
        FallbackChannel::Email => {
            let Some(email) = &settings.email else { return not_configured(label) };
            let question = d.store.answered_messages(message).await.map_err(store_error)?;
            let language = delivery.tenant.settings.persona.language();
            let (subject, body) = team_mail(language, &delivery, &question, reason, job);
            d.mailer.send(email, &subject, &body).await.map_err(|err| JobError {
                class: err.class(),
                message: format!("email: {err}"),
                retry_after: None,
            })
        }
        FallbackChannel::Sms => {
            let Some(sms) = &settings.sms else { return not_configured(label) };
            let values = SmsValues {
                to: delivery.contact.as_str(),
                text: &delivery.text,
                name: delivery.contact_name.as_deref().unwrap_or_default(),
                tenant: &delivery.tenant.name,
            };
            d.sms.send_sms(sms, values).await.map(|_| ()).map_err(|err| JobError {
                class: err.class(),
                message: format!("sms: {err}"),
                retry_after: err.retry_after(),
            })
        }
    };
    let outcome = if sent.is_ok() { "sent" } else { "failed" };
    metrics::counter!(m::FALLBACK_DELIVERIES_TOTAL, "channel" => label, "outcome" => outcome).increment(1);
    sent?;
    info!(channel = label, message_id = %message, "undelivered answer sent through the fallback channel");
    Ok(JobOutcome::Completed)
}

fn not_configured(channel: &'static str) -> Result<JobOutcome, JobError> {
    info!(channel, "the tenant no longer has this fallback channel, or its flag is off; nothing sent");
    metrics::counter!(m::FALLBACK_DELIVERIES_TOTAL, "channel" => channel, "outcome" => "skipped").increment(1);
    Ok(JobOutcome::Completed)
}

/// The team's mail: who, what they asked, what Atende answered, why it did not arrive.
fn team_mail(
    language: Language,
    delivery: &Delivery,
    question: &[String],
    reason: &str,
    job: &ClaimedJob,
) -> (String, String) {
    let contact = delivery.contact.as_str();
    let who = match delivery.contact_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} (+{contact})"),
        None => format!("+{contact}"),
    };
    let question = if question.is_empty() { "-".to_string() } else { question.join("\n") };
    let correlation = job.correlation_id.as_str();
    match language {
        Language::PtBr => (
            format!("Atende: resposta não entregue a {who}"),
            format!(
                "O Atende respondeu a um cliente, mas o helpdesk não aceitou a mensagem.\n\
                 Fale com o cliente por outro meio ou responda pelo WhatsApp assim que possível.\n\n\
                 Cliente: {who}\n\nPergunta:\n{question}\n\nResposta do Atende:\n{answer}\n\n\
                 Motivo: {reason}\nCorrelação: {correlation}\n",
                answer = delivery.text
            ),
        ),
        Language::En => (
            format!("Atende: answer not delivered to {who}"),
            format!(
                "Atende answered a customer, but the helpdesk would not take the message.\n\
                 Reach the customer another way or answer on WhatsApp as soon as you can.\n\n\
                 Customer: {who}\n\nQuestion:\n{question}\n\nAtende's answer:\n{answer}\n\n\
                 Reason: {reason}\nCorrelation: {correlation}\n",
                answer = delivery.text
            ),
        ),
    }
}

/// A hand-off's SLA breach e-mailed to the team (`[handoff] escalation_email`).
async fn escalate(d: &Dispatcher, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
    let handoff = payload_handoff(d, job).await?;
    let id = handoff.id;
    let tenant = &handoff.tenant;
    if handoff.first_human_at.is_some() || handoff.closed_at.is_some() {
        info!(handoff_id = id, "a person answered or the hand-off ended since the breach; no escalation e-mail");
        return Ok(JobOutcome::Completed);
    }
    let settings =
        tenant.resolve_fallback().map_err(|err| JobError::permanent(format!("tenant {}: {err}", tenant.slug)))?;
    let Some(email) = settings.email.as_ref().filter(|_| tenant.flags.on(Flag::FallbackEmail)) else {
        return not_configured("email");
    };
    let (subject, body) = escalation_mail(tenant.settings.persona.language(), &handoff, job);
    let sent = d.mailer.send(email, &subject, &body).await.map_err(|err| JobError {
        class: err.class(),
        message: format!("email: {err}"),
        retry_after: None,
    });
    let outcome = if sent.is_ok() { "sent" } else { "failed" };
    metrics::counter!(m::FALLBACK_DELIVERIES_TOTAL, "channel" => "email", "outcome" => outcome).increment(1);
    sent?;
    info!(handoff_id = id, "hand-off SLA breach e-mailed to the team");
    Ok(JobOutcome::Completed)
}

/// The team's mail about a customer nobody answered in time: who, why, since when, the summary.
fn escalation_mail(language: Language, handoff: &HandoffRecord, job: &ClaimedJob) -> (String, String) {
    let conversation = &handoff.conversation;
    let contact = conversation.contact.as_str();
    let who = match conversation.contact_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} (+{contact})"),
        None => format!("+{contact}"),
    };
    let at = |t: Option<time::OffsetDateTime>| t.map(crate::notify::rfc3339).unwrap_or_else(|| "-".into());
    let (since, due) = (at(Some(handoff.created_at)), at(handoff.sla_due_at));
    let summary = handoff.summary.as_deref().unwrap_or("-");
    let ticket = conversation.ticket_id.as_deref().unwrap_or("-");
    let correlation = job.correlation_id.as_str();
    match language {
        Language::PtBr => (
            format!("Atende: {who} espera um atendente além do prazo"),
            format!(
                "Um cliente foi transferido para a equipe e ninguém respondeu dentro do prazo (SLA).\n\
                 Responda pelo helpdesk assim que possível.\n\n\
                 Cliente: {who}\nTicket: {ticket}\nMotivo: {reason}\nTransferido em: {since}\nPrazo: {due}\n\n\
                 Resumo:\n{summary}\n\nCorrelação: {correlation}\n",
                reason = handoff.reason
            ),
        ),
        Language::En => (
            format!("Atende: {who} is waiting for an agent past the deadline"),
            format!(
                "A customer was handed to the team and nobody answered within the SLA.\n\
                 Answer them in the helpdesk as soon as you can.\n\n\
                 Customer: {who}\nTicket: {ticket}\nReason: {reason}\nHanded off: {since}\nDeadline: {due}\n\n\
                 Summary:\n{summary}\n\nCorrelation: {correlation}\n",
                reason = handoff.reason
            ),
        ),
    }
}
