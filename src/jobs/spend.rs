//! LLM spend: after a decision, its calls' tokens are priced with the tenant's `[spend]`
//! prices and added to the day; the call that takes the day or the month past 80% of its cap
//! raises `spend.cap_warning`, the one that takes it over the cap `spend.cap_reached` (each
//! once: only that call sees the total cross the line). From then on `brain::decide` answers
//! without the LLM until the period ends.

use serde_json::json;
use tracing::{info, warn};

use super::Dispatcher;
use crate::brain::{LlmCall, spend_day};
use crate::config::spend::MICROS;
use crate::domain::EventKind;
use crate::store::{ClaimedJob, SpendUsage, Tenant};
use crate::telemetry::metrics as m;

/// Shares of a cap that raise an event when a call crosses them.
const THRESHOLDS: [(i64, EventKind); 2] = [(80, EventKind::SpendCapWarning), (100, EventKind::SpendCapReached)];

pub(super) async fn record(d: &Dispatcher, tenant: &Tenant, calls: &[LlmCall], job: &ClaimedJob) {
    let spend = &tenant.settings.spend;
    if calls.is_empty() || !spend.tracked() {
        return;
    }
    let day = spend_day(job.claimed_at);
    let (daily, monthly) = spend.caps_micros();
    for call in calls {
        let cost_micros = spend.cost_micros(&call.model, call.usage.input_tokens, call.usage.output_tokens);
        let usage =
            SpendUsage { input_tokens: call.usage.input_tokens, output_tokens: call.usage.output_tokens, cost_micros };
        let (today, month) = match d.store.add_llm_spend(tenant.id, &day, usage).await {
            Ok(totals) => totals,
            Err(err) => {
                warn!(error = %err, "cannot record the LLM spend of this reply");
                continue;
            }
        };
        let (slug, currency) = (tenant.slug.clone(), spend.currency().to_string());
        metrics::counter!(m::LLM_COST_MICROS_TOTAL, "tenant" => slug, "currency" => currency)
            .increment(u64::try_from(cost_micros).unwrap_or(0));
        for (period, cap, total) in [("daily", daily, today), ("monthly", monthly, month)] {
            let Some(cap) = cap else { continue };
            for (percent, kind) in THRESHOLDS {
                let line = cap * percent / 100;
                if total < line || total - cost_micros >= line {
                    continue;
                }
                info!(
                    period,
                    percent,
                    spent = total as f64 / MICROS,
                    cap = cap as f64 / MICROS,
                    "LLM spend threshold crossed"
                );
                let (slug, label) = (tenant.slug.clone(), percent.to_string());
                metrics::counter!(m::LLM_SPEND_THRESHOLD_TOTAL, "tenant" => slug, "period" => period, "percent" => label)
                    .increment(1);
                let data = || {
                    json!({
                        "period": period,
                        "day": day,
                        "percent": percent,
                        "cap": cap as f64 / MICROS,
                        "spent": total as f64 / MICROS,
                        "currency": spend.currency(),
                        "on_cap": spend.on_cap,
                    })
                };
                let notify = d.outbox(tenant, kind, data, &job.correlation_id, job.claimed_at);
                if let Err(err) = d.store.enqueue_notify(tenant.id, &notify, &job.correlation_id, job.claimed_at).await
                {
                    warn!(error = %err, event = kind.as_str(), "cannot queue a spend event");
                }
            }
        }
    }
}
