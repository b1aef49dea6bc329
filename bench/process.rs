//! The product under test: `atende` child processes (spawn, readiness, `/proc` figures,
//! `/metrics`, bounded shutdown) and bounded one-shot CLI commands.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The binary Cargo built for this bench (bench profile, i.e. release settings).
pub const BIN: &str = env!("CARGO_BIN_EXE_atende");

/// What `atende serve --role` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// HTTP and workers.
    All,
    /// HTTP only.
    Api,
    /// Workers only.
    Worker,
}

impl Role {
    /// The `--role` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Api => "api",
            Self::Worker => "worker",
        }
    }
}

/// A `Command` for `atende --config <config> …` with a clean environment: no inherited
/// `ATENDE_*` or `RUST_LOG` may override the bench's configuration.
fn command(config: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("ATENDE_") || k == "RUST_LOG") {
            cmd.env_remove(key);
        }
    }
    cmd.env("ATENDE_LANG", "en").arg("--config").arg(config);
    cmd
}

/// Runs `atende --config <config> <args>` to completion within `timeout`; its output goes
/// to `log` and is quoted in the error when it fails.
pub async fn run_cli(config: &Path, args: &[&str], log: &Path, timeout: Duration) -> anyhow::Result<()> {
    let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
    let err = out.try_clone().context("clone log handle")?;
    let mut child = command(config)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("spawn {BIN}"))?;
    let status = wait_bounded(&mut child, timeout).await?;
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        bail!("`atende {}` did not finish within {timeout:?}", args.join(" "));
    };
    if !status.success() {
        bail!("`atende {}` failed ({status}): {}", args.join(" "), tail(log, 2000));
    }
    Ok(())
}

/// Polls `child` until it exits or `timeout` passes (`None`).
async fn wait_bounded(child: &mut Child, timeout: Duration) -> anyhow::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().context("wait for child")? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The last `max` bytes of a file, for error messages.
pub fn tail(path: &Path, max: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    let start = (start..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
    text[start..].trim().to_string()
}

/// A free loopback port (bound, read and released; the short race is acceptable here).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    Ok(listener.local_addr().context("local address")?.port())
}

/// Resource figures of a process read from `/proc/<pid>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStats {
    /// User + system CPU seconds so far.
    pub cpu_seconds: f64,
    /// Peak resident set (`VmHWM`), bytes.
    pub peak_rss: u64,
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status` (`pid` = "self" works too).
pub fn proc_stats(pid: &str) -> anyhow::Result<ProcStats> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).context("malformed /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).context("malformed /proc stat");
    let (utime, stime) = (ticks(11)?, ticks(12)?);
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("/proc/{pid}/status"))?;
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Ok(ProcStats { cpu_seconds: (utime + stime) as f64 / clock_ticks(), peak_rss: kib("VmHWM:") })
}

/// CPU seconds per thread name (`/proc/<pid>/task/*/comm`, at most 15 characters), summed
/// over the threads sharing a name; threads that already exited are not counted.
pub fn thread_cpu(pid: &str) -> BTreeMap<String, f64> {
    let mut by_name = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return by_name };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default().trim().to_string();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<u64>().ok()).sum();
        *by_name.entry(name).or_insert(0.0) += ticks as f64 / clock_ticks();
    }
    by_name
}

/// Whole-machine CPU seconds (all cores) since boot, from the `cpu` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineCpu {
    /// user + nice + system: time charged to processes.
    pub tasks: f64,
    /// irq + softirq: interrupt work (loopback networking lands here), charged to no process.
    pub irq: f64,
    /// Time the hypervisor gave to other guests while this one wanted to run.
    pub steal: f64,
    /// Everything, idle included.
    pub total: f64,
}

impl MachineCpu {
    /// Busy seconds: tasks, interrupts and steal.
    pub fn busy(&self) -> f64 {
        self.tasks + self.irq + self.steal
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &MachineCpu) -> MachineCpu {
        MachineCpu {
            tasks: self.tasks - earlier.tasks,
            irq: self.irq - earlier.irq,
            steal: self.steal - earlier.steal,
            total: self.total - earlier.total,
        }
    }
}

/// Reads [`MachineCpu`] now.
pub fn machine_cpu() -> Option<MachineCpu> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<f64> =
        line.split_whitespace().skip(1).filter_map(|v| v.parse::<u64>().ok()).map(|t| t as f64).collect();
    let field = |i: usize| ticks.get(i).copied().unwrap_or(0.0) / clock_ticks();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    Some(MachineCpu {
        tasks: field(0) + field(1) + field(2),
        irq: field(5) + field(6),
        steal: field(7),
        total: (0..8).map(field).sum(),
    })
}

/// CPU seconds of every process named `postgres` on this machine (a local server's
/// backends, which do the database work the bench causes).
pub fn postgres_cpu() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0.0 };
    let mut ticks = 0u64;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        if !stat[open + 1..close].starts_with("postgres") {
            continue;
        }
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        ticks += [11, 12].iter().filter_map(|i| fields.get(*i)?.parse::<u64>().ok()).sum::<u64>();
    }
    ticks as f64 / clock_ticks()
}

/// `sysconf(_SC_CLK_TCK)`, the unit of `/proc` CPU times (100 on Linux almost always).
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// A running `atende serve`; killed on drop if still running.
pub struct Atende {
    child: Child,
    /// Process id.
    pub pid: u32,
    /// Its role.
    pub role: Role,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its stdout/stderr.
    pub log: PathBuf,
}

impl Atende {
    /// Starts `atende --config <config> serve --role <role>` listening on `port`, with
    /// output to `log`.
    pub fn spawn(config: &Path, role: Role, port: u16, log: &Path) -> anyhow::Result<Self> {
        let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone().context("clone log handle")?;
        let child = command(config)
            .env("ATENDE_BIND", format!("127.0.0.1:{port}"))
            .args(["serve", "--role", role.as_str()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("spawn {BIN} serve"))?;
        Ok(Self { pid: child.id(), child, role, base: format!("http://127.0.0.1:{port}"), log: log.to_path_buf() })
    }

    /// Waits until `GET /ready` answers 200, the process exits (error with its log) or
    /// `timeout` passes.
    pub async fn wait_ready(&mut self, client: &reqwest::Client, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/ready", self.base);
        loop {
            if let Some(status) = self.child.try_wait().context("wait for atende")? {
                bail!("atende ({}) exited during start-up ({status}): {}", self.role.as_str(), tail(&self.log, 2000));
            }
            let ready = client.get(&url).timeout(Duration::from_secs(1)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("atende ({}) not ready after {timeout:?}: {}", self.role.as_str(), tail(&self.log, 2000));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// CPU and memory so far.
    pub fn stats(&self) -> anyhow::Result<ProcStats> {
        proc_stats(&self.pid.to_string())
    }

    /// Resets `VmHWM` to the current RSS (`echo 5 > /proc/<pid>/clear_refs`), so the next
    /// peak belongs to the next phase; `false` when the kernel refuses.
    pub fn reset_peak_rss(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    /// The Prometheus text of `GET /metrics`.
    pub async fn metrics(&self, client: &reqwest::Client) -> anyhow::Result<String> {
        let url = format!("{}/metrics", self.base);
        let response = client.get(&url).timeout(Duration::from_secs(10)).send().await.context("GET /metrics")?;
        anyhow::ensure!(response.status().is_success(), "GET /metrics answered {}", response.status());
        response.text().await.context("read /metrics")
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`; returns how it ended.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<String> {
        signal(self.pid, libc::SIGTERM);
        if let Some(status) = wait_bounded(&mut self.child, grace).await? {
            return Ok(status.to_string());
        }
        signal(self.pid, libc::SIGKILL);
        let status = wait_bounded(&mut self.child, Duration::from_secs(5)).await?;
        Ok(match status {
            Some(status) => format!("killed after {grace:?} ({status})"),
            None => "did not exit even after SIGKILL".to_string(),
        })
    }
}

impl Drop for Atende {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: kill(2) on a child we spawned and have not reaped, so the pid is still ours.
    unsafe {
        libc::kill(pid, signal);
    }
}
