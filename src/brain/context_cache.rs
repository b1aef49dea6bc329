//! The short-term context cache: each conversation's recent turns, kept for the history
//! TTL in Redis (shared by every `atende` process) or in this process' memory (no Redis
//! configured, or Redis down), so a `reply` job reads from the store only the turns newer
//! than the cached window instead of the whole window every time.
//!
//! Why a cached window stays true, whatever its age:
//! - turns with ids up to the conversation's `replied_upto` never change, except when a
//!   handoff cancels answers not yet sent, which bumps `context_epoch`; closing a ticket
//!   moves `context_from`. A window records both and is dropped when either moved.
//! - no turn with an id at or below `replied_upto` can appear later: every transaction that
//!   writes a message takes its conversation first (SQLite: the one writer; PostgreSQL: the
//!   conversation row lock), so per conversation ids are handed out in commit order.
//!
//! So "the window's turns (up to `upto`) + the store's turns above `upto`", cut to the
//! last `history_turns + OLDER_TURNS` within the TTL, is exactly what a full read returns;
//! the conformance tests compare the two on both backends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tracing::debug;

use crate::domain::{ConversationId, MessageId};
use crate::limits::RedisHandle;
use crate::store::{OLDER_TURNS, ReplyContext, Store, StoreError, StoredMessage};
use crate::telemetry::metrics as m;

/// Bytes of turns kept in process memory, over every conversation (least used go first).
const MEMORY_BUDGET_BYTES: u64 = 8 * 1024 * 1024;

/// Recent turns of one conversation's current ticket.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Window {
    /// The ticket these turns belong to.
    context_from: MessageId,
    /// `context_epoch` of the conversation when the window was cut.
    epoch: i64,
    /// Turns the window was cut to (`history_turns + OLDER_TURNS`).
    capacity: u32,
    /// Every turn with an id up to this one is accounted for.
    upto: MessageId,
    /// The last `capacity` turns with ids up to `upto`, oldest first.
    turns: Vec<StoredMessage>,
}

impl Window {
    /// Rough heap size, for the memory budget.
    fn weight(&self) -> u32 {
        let bytes: usize = self.turns.iter().map(|t| 160 + t.body.len() + t.correlation_id.len()).sum();
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// How a lookup went (also the index of its counter in `ContextCache::stats`).
#[derive(Clone, Copy)]
enum Lookup {
    Hit = 0,
    Miss = 1,
    Stale = 2,
}

/// Where a window came from, for the lookup counter.
#[derive(Clone, Copy)]
enum Tier {
    Redis,
    Memory,
}

impl Tier {
    fn label(self) -> &'static str {
        match self {
            Tier::Redis => "redis",
            Tier::Memory => "memory",
        }
    }
}

/// Per-conversation windows of recent turns, in Redis when configured and answering,
/// else in memory.
#[derive(Clone)]
pub struct ContextCache {
    redis: Option<Arc<RedisHandle>>,
    memory: moka::sync::Cache<ConversationId, Arc<Window>>,
    ttl: Duration,
    stats: Arc<[AtomicU64; 3]>,
}

/// Lookups of one [`ContextCache`] since it was made (the metric counts every cache of the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContextCacheStats {
    /// A window was used: only newer turns were read.
    pub hits: u64,
    /// No window: the whole history was read.
    pub misses: u64,
    /// A window of another ticket or epoch: dropped, the whole history was read.
    pub stale: u64,
}

impl std::fmt::Debug for ContextCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextCache").field("redis", &self.redis.is_some()).field("ttl", &self.ttl).finish()
    }
}

impl ContextCache {
    /// A cache whose windows live for `ttl` (the history TTL: older turns leave the prompt
    /// anyway), shared through `redis` when given.
    pub fn new(redis: Option<Arc<RedisHandle>>, ttl: Duration) -> Self {
        let memory = moka::sync::Cache::builder()
            .max_capacity(MEMORY_BUDGET_BYTES)
            .weigher(|_, window: &Arc<Window>| window.weight())
            .time_to_live(ttl.max(Duration::from_secs(1)))
            .build();
        Self { redis, memory, ttl, stats: Arc::default() }
    }

    /// Lookups so far.
    pub fn stats(&self) -> ContextCacheStats {
        let [hits, misses, stale] = &*self.stats;
        ContextCacheStats {
            hits: hits.load(Ordering::Relaxed),
            misses: misses.load(Ordering::Relaxed),
            stale: stale.load(Ordering::Relaxed),
        }
    }

    /// What a `reply` job needs (see [`Store::load_reply_context`]), reading from the store
    /// only the turns the cached window lacks, and saving the new window.
    pub async fn load(
        &self,
        store: &dyn Store,
        conversation: ConversationId,
        history_turns: u32,
        since: OffsetDateTime,
    ) -> Result<Option<ReplyContext>, StoreError> {
        let capacity = history_turns + OLDER_TURNS;
        let cached = self.get(conversation).await;
        let after = cached.as_ref().map_or(MessageId(0), |(w, _)| w.upto);
        let Some(mut ctx) = store.load_reply_context(conversation, history_turns, since, after).await? else {
            return Ok(None);
        };
        match cached {
            Some((window, tier))
                if window.context_from == ctx.conversation.context_from
                    && window.epoch == ctx.conversation.context_epoch
                    && window.capacity == capacity =>
            {
                self.count(tier, Lookup::Hit);
                // Stored times have millisecond precision: compare as the store does.
                let since = since.replace_nanosecond(since.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(since);
                let mut turns: Vec<StoredMessage> =
                    window.turns.iter().filter(|t| t.created_at >= since).cloned().collect();
                turns.append(&mut ctx.older);
                turns.append(&mut ctx.history);
                turns.drain(..turns.len().saturating_sub(capacity as usize));
                ctx.history = turns.split_off(turns.len().saturating_sub(history_turns as usize));
                ctx.older = turns;
            }
            Some((_, tier)) => {
                // Another ticket or epoch: the store's answer skipped turns the window no
                // longer vouches for, so read them all.
                self.count(tier, Lookup::Stale);
                let Some(full) = store.load_reply_context(conversation, history_turns, since, MessageId(0)).await?
                else {
                    return Ok(None);
                };
                ctx = full;
            }
            None => self.count(self.tier(), Lookup::Miss),
        }
        self.put(conversation, cut(&ctx, capacity)).await;
        Ok(Some(ctx))
    }

    fn count(&self, tier: Tier, lookup: Lookup) {
        self.stats[lookup as usize].fetch_add(1, Ordering::Relaxed);
        let result = match lookup {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
            Lookup::Stale => "stale",
        };
        metrics::counter!(m::CONTEXT_CACHE_LOOKUPS_TOTAL, "cache" => tier.label(), "result" => result).increment(1);
    }

    /// Where windows go while Redis answers.
    fn tier(&self) -> Tier {
        if self.redis.is_some() { Tier::Redis } else { Tier::Memory }
    }

    async fn get(&self, conversation: ConversationId) -> Option<(Arc<Window>, Tier)> {
        if let Some(redis) = &self.redis {
            match redis.get_value(&key(conversation)).await {
                Some(Some(bytes)) => match serde_json::from_slice::<Window>(&bytes) {
                    Ok(window) => return Some((Arc::new(window), Tier::Redis)),
                    Err(err) => {
                        // Written by another version: read everything and overwrite it.
                        debug!(error = %err, "unreadable context window in Redis");
                        return None;
                    }
                },
                Some(None) => return None,
                // Redis down (logged and counted by the handle): fall back to this process.
                None => {}
            }
        }
        self.memory.get(&conversation).map(|w| (w, Tier::Memory))
    }

    async fn put(&self, conversation: ConversationId, window: Window) {
        if let Some(redis) = &self.redis {
            let bytes = serde_json::to_vec(&window).expect("a window always serialises");
            if redis.set_value(&key(conversation), &bytes, self.ttl).await {
                return;
            }
        }
        self.memory.insert(conversation, Arc::new(window));
    }
}

/// The window to keep after a load: the last `capacity` turns up to `replied_upto`.
fn cut(ctx: &ReplyContext, capacity: u32) -> Window {
    let upto = ctx.conversation.replied_upto;
    let mut turns: Vec<StoredMessage> =
        ctx.older.iter().chain(&ctx.history).filter(|t| t.id <= upto).cloned().collect();
    turns.drain(..turns.len().saturating_sub(capacity as usize));
    Window {
        context_from: ctx.conversation.context_from,
        epoch: ctx.conversation.context_epoch,
        capacity,
        upto: upto.max(ctx.conversation.context_from),
        turns,
    }
}

/// The Redis key of a conversation's window (under the configured prefix).
fn key(conversation: ConversationId) -> String {
    format!("ctx:{conversation}")
}
