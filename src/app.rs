//! Wiring: builds every part from a [`Config`] and runs the HTTP server and workers
//! until shutdown.
//!
//! Layer 5.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::brain::{Brain, ContextCache};
use crate::channel::WhaticketClient;
use crate::config::{Config, LlmConfig};
use crate::http::{AppState, router};
use crate::jobs::Dispatcher;
use crate::limits::{Limits, RedisHandle};
use crate::llm::{LlmChain, LlmSettings, SharedBreakers};
use crate::queue::{JobHandler, RetryPolicy, Worker};
use crate::store::{Store, TenantCache};
use crate::telemetry;

/// Which parts of Atende a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// HTTP (webhooks, ops endpoints) and workers.
    All,
    /// HTTP only.
    Api,
    /// Workers only (plus `/health`, `/ready` and `/metrics`).
    Worker,
}

/// A built, not yet running, Atende process.
pub struct App {
    listener: TcpListener,
    state: AppState,
    worker: Option<Worker>,
    handler: Arc<dyn JobHandler>,
    maintenance: Arc<Limits>,
    /// Which parts run; `worker` serves only the operations endpoints.
    role: Role,
}

impl App {
    /// Connects the store (migrating if configured), binds the listener and builds workers.
    pub async fn build(config: Config, role: Role) -> anyhow::Result<Self> {
        let store = crate::store::connect_with(&config.database.url, &(&config.database).into())
            .await
            .with_context(|| format!("cannot open the database {}", redact_url(&config.database.url)))?;
        if config.database.migrate_on_start {
            store.migrate().await.context("cannot apply database migrations")?;
        } else {
            let status = store.migration_status().await?;
            if !status.unknown.is_empty() {
                return Err(crate::store::StoreError::SchemaTooNew(status.unknown).into());
            }
            anyhow::ensure!(
                status.pending.is_empty(),
                "{} pending database migration(s) and database.migrate_on_start is off: run `atende migrate` first",
                status.pending.len()
            );
        }
        guard_profile(&config, &*store).await?;
        if let MasterKeyOrigin::Generated(path) = unlock_secrets(&config, &*store).await? {
            warn!(
                path = %path.display(),
                "no master key was given: a new one encrypts tenant secrets, written to this file; back it up, and give every process sharing this database the same file (ATENDE_MASTER_KEY_FILE)"
            );
        }
        let listener = TcpListener::bind(config.http.bind)
            .await
            .with_context(|| format!("cannot listen on {} (set http.bind or ATENDE_BIND)", config.http.bind))?;
        Self::with_parts(config, role, store, listener)
    }

    /// Builds around an open store and listener (tests use port 0).
    pub fn with_parts(
        config: Config,
        role: Role,
        store: Arc<dyn Store>,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let wake = Arc::new(Notify::new());
        let redis = Limits::redis_from(&config.redis).map_err(anyhow::Error::msg)?;
        let chain = match &redis {
            Some(redis) => {
                LlmChain::with_shared_breakers(llm_settings(&config.llm), Arc::new(RedisBreakers(redis.clone())))
            }
            None => LlmChain::new(llm_settings(&config.llm)),
        };
        let preview = Arc::new(Brain::new(chain.clone(), config.brain.clone(), store.clone()));
        let brain = Brain::new(chain, config.brain.clone(), store.clone())
            .with_context_cache(ContextCache::new(redis.clone(), config.brain.history_ttl));
        let whaticket = WhaticketClient::new(config.whaticket.timeout);
        let handler: Arc<dyn JobHandler> = Arc::new(Dispatcher::new(
            store.clone(),
            brain,
            whaticket,
            config.queue.clone(),
            config.events.clone(),
            config.fallback.clone(),
        ));
        let worker = (role != Role::Api)
            .then(|| Worker::new(store.clone(), handler.clone(), config.queue.clone(), wake.clone()));
        let limits = Arc::new(Limits::new(&config.limits, redis));
        let in_flight =
            (config.http.max_in_flight > 0).then(|| Arc::new(tokio::sync::Semaphore::new(config.http.max_in_flight)));
        let state = AppState {
            store,
            tenants: Arc::new(TenantCache::new(config.http.tenant_cache_ttl)),
            config: Arc::new(config),
            limits: limits.clone(),
            wake,
            metrics: telemetry::prometheus(),
            brain: preview,
            in_flight,
        };
        Ok(Self { listener, state, worker, handler, maintenance: limits, role })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The shared store.
    pub fn store(&self) -> Arc<dyn Store> {
        self.state.store.clone()
    }

    /// The job handler, for deterministic draining in tests.
    pub fn handler(&self) -> Arc<dyn JobHandler> {
        self.handler.clone()
    }

    /// Retry timing of this process.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::from_config(&self.state.config.queue)
    }

    /// Serves until `shutdown` fires: stops accepting, lets workers finish in-flight jobs
    /// within the grace period, and returns.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let App { listener, state, worker, maintenance, role, .. } = self;
        let (store, grace) = (state.store.clone(), state.config.queue.shutdown_grace);
        info!(addr = %listener.local_addr()?, role = ?role, "atende listening");
        if role != Role::Worker {
            warn_when_no_users(&*store).await;
        }
        let workers = worker.map(|w| tokio::spawn(w.run(shutdown.clone())));
        let housekeeping = tokio::spawn(housekeeping(store, maintenance, shutdown.clone()));
        let app = router(state, role != Role::Worker).into_make_service_with_connect_info::<SocketAddr>();
        let server_shutdown = shutdown.clone();
        let server =
            axum::serve(listener, app).with_graceful_shutdown(async move { server_shutdown.cancelled().await });
        // Stop waiting for slow HTTP clients after the grace period.
        let deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = server => served?,
            () = deadline => warn!(?grace, "HTTP connections still open after the grace period; closing them"),
        }
        if let Some(workers) = workers {
            workers.await?;
        }
        housekeeping.abort();
        info!("atende stopped");
        Ok(())
    }
}

/// LLM breaker openings shared through Redis (keys under the Redis prefix, with the cooldown
/// as TTL). Lives here because it joins two adapters that may not import each other.
#[derive(Debug)]
struct RedisBreakers(Arc<RedisHandle>);

#[async_trait::async_trait]
impl SharedBreakers for RedisBreakers {
    async fn is_open(&self, key: &str) -> bool {
        self.0.has_flag(key).await.unwrap_or(false)
    }

    async fn opened(&self, key: &str, open_for: Duration) {
        self.0.set_flag(key, open_for).await;
    }
}

/// Hourly: forget idle rate-limit keys, delete finished jobs older than a week.
async fn housekeeping(store: Arc<dyn Store>, limits: Arc<Limits>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        limits.prune();
        let before = time::OffsetDateTime::now_utc() - time::Duration::days(7);
        match store.prune_jobs(before).await {
            Ok(n) if n > 0 => info!(jobs = n, "pruned finished jobs"),
            Ok(_) => {}
            Err(err) => warn!(error = %err, "cannot prune finished jobs"),
        }
    }
}

/// Fires on SIGTERM or Ctrl-C.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
        info!("shutdown requested");
        fire.cancel();
    });
    token
}

/// LLM client settings from the configuration.
pub fn llm_settings(config: &LlmConfig) -> LlmSettings {
    LlmSettings {
        timeout: config.timeout,
        max_attempts: config.max_attempts,
        backoff_base: config.backoff_base,
        backoff_max: config.backoff_max,
        max_retry_delay: config.max_retry_delay,
        breaker_failure_threshold: config.breaker_failure_threshold,
        breaker_open_for: config.breaker_open_for,
    }
}

/// Hides a password in a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:********{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Nobody can log in to the panel or hold an API token before the first user exists: say
/// how to create one (a read error only skips the hint).
async fn warn_when_no_users(store: &dyn Store) {
    if store.list_users().await.is_ok_and(|users| users.is_empty()) {
        tracing::warn!(
            "no users yet: create the first admin with `atende user add EMAIL --role admin` (password on stdin or --password-file)"
        );
    }
}

/// With a profile, claims the database for it, or refuses one that belongs to another
/// profile (staging must never write into production's database). Without a profile
/// nothing is checked.
pub async fn guard_profile(config: &Config, store: &dyn Store) -> anyhow::Result<()> {
    let Some(profile) = &config.profile else { return Ok(()) };
    let owner = store.claim_profile(profile).await.context("cannot read the database's profile")?;
    anyhow::ensure!(
        &owner == profile,
        "this database belongs to profile {owner:?}, and this process runs as profile {profile:?}: point ATENDE_DATABASE_URL at the {profile} database (or run with --profile {owner})"
    );
    Ok(())
}

/// How [`unlock_secrets`] found the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeyOrigin {
    /// `ATENDE_MASTER_KEY`.
    Env,
    /// The key file, which existed.
    File(std::path::PathBuf),
    /// None was given and the database held no encrypted value: a new key was written
    /// there (0600), and existing tenants' secrets were encrypted under it.
    Generated(std::path::PathBuf),
}

/// Installs the master key that seals tenant secrets at rest, before anything reads a
/// tenant: `ATENDE_MASTER_KEY`, else `secrets.master_key_file` when it exists, else a new
/// key generated into that file. Refuses, naming the fix, when the database already holds
/// encrypted values and no key was given (a new key could not read them).
pub async fn unlock_secrets(config: &Config, store: &dyn Store) -> anyhow::Result<MasterKeyOrigin> {
    use crate::config::sealing;
    if let Some(origin) = install_master_key(config)? {
        return Ok(origin);
    }
    let file = &config.secrets.master_key_file;
    // No key: reading every tenant proves nothing is encrypted yet (a sealed value fails
    // to open, with the fix in its message).
    store.list_tenants().await.with_context(|| {
        format!(
            "no master key was given (ATENDE_MASTER_KEY, or the file {} named by ATENDE_MASTER_KEY_FILE / secrets.master_key_file, is missing) but the database holds encrypted tenant secrets",
            file.display()
        )
    })?;
    let key = sealing::MasterKey::generate();
    match sealing::write_key_file(file, std::slice::from_ref(&key), true) {
        Ok(()) => sealing::install(vec![key], Some(file)),
        // Another process started first and wrote the key: use that one.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let (keys, _) =
                sealing::read_keys(None, file).map_err(anyhow::Error::msg)?.context("the key file vanished")?;
            sealing::install(keys, Some(file));
            return Ok(MasterKeyOrigin::File(file.clone()));
        }
        Err(err) => {
            return Err(err).with_context(|| {
                format!(
                    "cannot write a new master key to {} (set ATENDE_MASTER_KEY_FILE to a writable path, or ATENDE_MASTER_KEY)",
                    file.display()
                )
            });
        }
    }
    reseal_all(store).await?;
    Ok(MasterKeyOrigin::Generated(file.clone()))
}

/// Installs the master key from `ATENDE_MASTER_KEY` or the key file; `None` when neither
/// exists (nothing is generated here: `atende check` creates nothing).
pub fn install_master_key(config: &Config) -> anyhow::Result<Option<MasterKeyOrigin>> {
    use crate::config::sealing;
    let env_key = std::env::var("ATENDE_MASTER_KEY").ok();
    Ok(match sealing::read_keys(env_key.as_deref(), &config.secrets.master_key_file).map_err(anyhow::Error::msg)? {
        Some((keys, sealing::KeySource::Env)) => {
            sealing::install(keys, None);
            Some(MasterKeyOrigin::Env)
        }
        Some((keys, sealing::KeySource::File(path))) => {
            sealing::install(keys, Some(&path));
            Some(MasterKeyOrigin::File(path))
        }
        None => None,
    })
}

/// Re-encrypts every tenant's secrets under the current master key; returns how many
/// tenants were written.
pub async fn reseal_all(store: &dyn Store) -> anyhow::Result<usize> {
    let tenants = store.list_tenants().await?;
    for tenant in &tenants {
        store.reseal_tenant(tenant.id, &tenant.settings, &tenant.secrets).await?;
    }
    Ok(tenants.len())
}
