//! What a phase's webhooks, LLM calls and helpdesk arrivals add up to (matching replies to
//! webhooks by the `ok <seq>` token), and how slow requests cluster in time.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::load::{Run, Sent, Status};
use crate::mocks::{Arrival, LlmCall, answer_seq};
use crate::report::{Section, ms, per_item_us, thousands};
use crate::scenarios::{Params, target};
use crate::stats::Summary;
use crate::usage::Usage;

/// What a phase's webhooks, LLM calls and helpdesk arrivals add up to.
pub struct Figures {
    accepted: usize,
    matched: usize,
    /// Accepted messages a matched reply answered (a merged burst answers several).
    covered: usize,
    duplicates: usize,
    /// Answers to an earlier phase's messages that arrived in this one.
    late: usize,
    /// Answers to messages whose webhook did not get a 202 (e.g. a client timeout).
    unaccepted: usize,
    /// Texts that answer no message.
    others: Vec<String>,
    merged_calls: usize,
    /// (arrival − 202) − LLM time, seconds.
    added: Summary,
    /// arrival − 202, seconds.
    reply: Summary,
    /// LLM respond − receive, seconds.
    llm: Summary,
    /// matched ÷ (last arrival − first arrival) × 60.
    per_min_arrivals: f64,
    /// matched ÷ (last arrival − first send) × 60.
    per_min_window: f64,
    /// Every `ok` reply of the phase (also late answers to an earlier phase) ÷ (last such
    /// arrival − first send) × 60: what the system delivers while saturated.
    per_min_all: f64,
    /// Last arrival − last 202.
    tail: Option<Duration>,
}

impl Figures {
    pub fn compute(run: &Run, arrivals: Vec<Arrival>, calls: Vec<LlmCall>, seqs: &Range<u64>) -> Self {
        let accepted: HashMap<u64, Instant> =
            run.sent.iter().filter(|s| s.status == Status::Http(202)).map(|s| (s.seq, s.done)).collect();
        let mut llm: HashMap<u64, (Instant, Instant)> = HashMap::new();
        let mut answers: HashMap<u64, &[u64]> = HashMap::new();
        let merged_calls = calls.iter().filter(|c| c.seqs.len() > 1).count();
        for call in &calls {
            if let Some(newest) = call.seqs.iter().max() {
                answers.insert(*newest, &call.seqs);
            }
            for seq in &call.seqs {
                llm.insert(*seq, (call.received, call.responded));
            }
        }
        let mut seen = HashSet::new();
        let (mut added, mut reply, mut duplicates, mut others) = (Vec::new(), Vec::new(), 0, Vec::new());
        let (mut late, mut unaccepted) = (0usize, 0usize);
        let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
        // Every `ok <seq>` reply of the phase, whichever phase's message it answers.
        let (mut any_ok, mut last_ok): (usize, Option<Instant>) = (0, None);
        for arrival in &arrivals {
            if answer_seq(&arrival.text).is_some() {
                any_ok += 1;
                last_ok = Some(last_ok.map_or(arrival.at, |l: Instant| l.max(arrival.at)));
            }
            let seq = match answer_seq(&arrival.text) {
                Some(seq) if !seqs.contains(&seq) => {
                    late += 1;
                    continue;
                }
                Some(seq) if !accepted.contains_key(&seq) => {
                    unaccepted += 1;
                    continue;
                }
                Some(seq) => seq,
                None => {
                    if others.len() < 5 {
                        others.push(format!(
                            "{}: {}",
                            arrival.number,
                            arrival.text.chars().take(80).collect::<String>()
                        ));
                    }
                    continue;
                }
            };
            if !seen.insert(seq) {
                duplicates += 1;
                continue;
            }
            first = Some(first.map_or(arrival.at, |f: Instant| f.min(arrival.at)));
            last = Some(last.map_or(arrival.at, |l: Instant| l.max(arrival.at)));
            let total = signed_secs(arrival.at, accepted[&seq]);
            reply.push(total);
            if let Some((received, responded)) = llm.get(&seq) {
                added.push(total - (*responded - *received).as_secs_f64());
            }
        }
        let matched = seen.len();
        let covered: HashSet<u64> = seen
            .iter()
            .flat_map(|seq| answers.get(seq).map_or(&[][..], |s| *s).iter().copied().chain([*seq]))
            .filter(|seq| accepted.contains_key(seq))
            .collect();
        let llm_times: Vec<f64> = calls.iter().map(|c| (c.responded - c.received).as_secs_f64()).collect();
        let first_send = run.sent.iter().map(|s| s.started).min();
        let last_accept = accepted.values().max().copied();
        let per_min = |from: Option<Instant>| match (from, last) {
            (Some(from), Some(to)) if to > from => matched as f64 / (to - from).as_secs_f64() * 60.0,
            _ => 0.0,
        };
        Self {
            accepted: accepted.len(),
            matched,
            covered: covered.len(),
            duplicates,
            late,
            unaccepted,
            others,
            merged_calls,
            added: Summary::of(added),
            reply: Summary::of(reply),
            llm: Summary::of(llm_times),
            per_min_arrivals: per_min(first),
            per_min_window: per_min(first_send),
            per_min_all: match (first_send, last_ok) {
                (Some(from), Some(to)) if to > from => any_ok as f64 / (to - from).as_secs_f64() * 60.0,
                _ => 0.0,
            },
            tail: match (last, last_accept) {
                (Some(last), Some(accept)) => Some(last.saturating_duration_since(accept)),
                _ => None,
            },
        }
    }

    /// Rows of the paced phase (targets: added latency, RSS, CPU per reply).
    pub fn rows(&self, section: &mut Section, p: &Params, usage: &Usage, drained: bool) {
        self.delivery_rows(section, drained);
        let burst_judges_throughput = p.e2e_burst > 0;
        let text = format!(
            "{}/min (first → last arrival); {}/min over the whole window",
            thousands(self.per_min_arrivals),
            thousands(self.per_min_window)
        );
        if burst_judges_throughput {
            section.row("replies/min at the offered load", text);
        } else {
            section.check(
                "replies/min at the offered load",
                text,
                "≥ 60,000",
                self.per_min_arrivals >= target::REPLIES_PER_MIN,
            );
        }
        section.check(
            "added latency (reply − LLM) p50 / p99",
            format!("{} / {}", ms(self.added.p50), ms(self.added.p99)),
            format!("p99 ≤ {}", ms(target::ADDED_P99)),
            self.added.count > 0 && self.added.p99 <= target::ADDED_P99,
        );
        section.row("added latency max", ms(self.added.max));
        section.row(
            "reply latency (202 → helpdesk) p50 / p99; LLM time p50",
            format!("{} / {}; {}", ms(self.reply.p50), ms(self.reply.p99), ms(self.llm.p50)),
        );
        section.check("Atende peak RSS", usage.rss_text(), "≤ 64 MiB", usage.peak_rss() <= target::PEAK_RSS);
        let per_reply = usage.cpu() / self.matched.max(1) as f64;
        section.check(
            "Atende CPU per reply",
            per_item_us(usage.cpu(), self.matched),
            "≤ 300 µs",
            self.matched > 0 && per_reply <= target::CPU_PER_REPLY,
        );
        section.row("Atende CPU over the phase (load and drain)", usage.cpu_text());
        section.note(format!("paced phase, Atende CPU by thread: {}; {}", usage.threads_text(), usage.machine_text()));
    }

    /// Rows of the burst phase (target: replies/min).
    pub fn burst_rows(&self, section: &mut Section, usage: &Usage, drained: bool) {
        self.delivery_rows(section, drained);
        section.check(
            "burst: replies/min delivered (every reply, first send → last arrival)",
            format!("{}/min", thousands(self.per_min_all)),
            "≥ 60,000",
            self.per_min_all >= target::REPLIES_PER_MIN,
        );
        section.row(
            "burst: replies/min to the burst's own messages (first send → last; first → last arrival)",
            format!("{}/min; {}/min", thousands(self.per_min_window), thousands(self.per_min_arrivals)),
        );
        section.row(
            "burst: added latency p50 / p99 (includes queueing)",
            format!("{} / {}", ms(self.added.p50), ms(self.added.p99)),
        );
        section.row("burst: Atende peak RSS", usage.rss_text());
        section.row("burst: Atende CPU per reply", per_item_us(usage.cpu(), self.matched));
        section.note(format!("burst phase, Atende CPU by thread: {}; {}", usage.threads_text(), usage.machine_text()));
    }

    fn delivery_rows(&self, section: &mut Section, drained: bool) {
        let mut text = format!(
            "{} replies answering {} of {} accepted messages",
            thousands(self.matched as f64),
            thousands(self.covered as f64),
            thousands(self.accepted as f64)
        );
        if let Some(tail) = self.tail {
            text.push_str(&format!("; last reply {} after the last 202", ms(tail.as_secs_f64())));
        }
        if !drained {
            text.push_str("; NOT all replies arrived in time");
        }
        section.row("replies matched (`ok <seq>`)", text);
        if self.duplicates > 0 {
            section.note(format!("{} replies arrived more than once (at-least-once delivery)", self.duplicates));
        }
        if self.late > 0 {
            section.note(format!("{} replies to the previous phase's messages arrived during this phase", self.late));
        }
        if self.unaccepted > 0 {
            section.note(format!(
                "{} replies answered messages whose webhook did not get a 202 (stored although the client saw a timeout or error)",
                self.unaccepted
            ));
        }
        if !self.others.is_empty() {
            section.note(format!("replies that answer no message, e.g. {}", self.others.join(" | ")));
        }
        if self.merged_calls > 0 {
            section.note(format!("{} LLM calls answered a merged burst of several messages", self.merged_calls));
        }
    }
}

/// How requests slower than `limit` cluster in time: count, episodes (slow requests less
/// than 50 ms apart), typical spacing of episodes and the longest one. Periodic episodes
/// point at a periodic stall in the server (e.g. a checkpoint) rather than at load.
pub fn slow_episodes(run: &Run, limit: f64) -> String {
    let mut slow: Vec<&Sent> = run.sent.iter().filter(|s| s.latency() > limit).collect();
    if slow.is_empty() {
        return "none".into();
    }
    slow.sort_by_key(|s| s.started);
    let mut episodes: Vec<(Instant, Instant)> = Vec::new();
    for s in &slow {
        match episodes.last_mut() {
            Some((_, end)) if s.started.saturating_duration_since(*end) < Duration::from_millis(50) => {
                *end = (*end).max(s.done);
            }
            _ => episodes.push((s.started, s.done)),
        }
    }
    let longest = episodes.iter().map(|(a, b)| (*b - *a).as_secs_f64()).fold(0.0, f64::max);
    let gaps: Vec<f64> = episodes.windows(2).map(|w| (w[1].0 - w[0].0).as_secs_f64()).collect();
    let spacing = Summary::of(gaps);
    let mut text = format!(
        "{} of {} ({:.1}%) in {} episode{}, longest {}",
        thousands(slow.len() as f64),
        thousands(run.sent.len() as f64),
        100.0 * slow.len() as f64 / run.sent.len().max(1) as f64,
        episodes.len(),
        if episodes.len() == 1 { "" } else { "s" },
        ms(longest)
    );
    if spacing.count > 0 {
        text.push_str(&format!("; episodes start every {:.2} s (median)", spacing.p50));
    }
    text
}

/// `a − b` in seconds, negative when `a` is earlier.
fn signed_secs(a: Instant, b: Instant) -> f64 {
    if a >= b { (a - b).as_secs_f64() } else { -(b - a).as_secs_f64() }
}
