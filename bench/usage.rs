//! What the Atende processes (and the machine) used during a phase: CPU from `/proc`, per
//! thread and in total, and peak RSS.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::process::{Atende, MachineCpu, ProcStats, Role, machine_cpu, postgres_cpu, proc_stats, thread_cpu};
use crate::report::mib;

/// CPU and peak RSS of several processes over a phase.
#[derive(Debug, Clone)]
pub struct Usage {
    /// Length of the phase.
    elapsed: Duration,
    /// Whole-machine CPU in the phase.
    machine: Option<MachineCpu>,
    /// Process CPU seconds of everything else on the machine: not Atende, not this bench
    /// process, not PostgreSQL (other people's builds and tests skew the figures).
    other: Option<f64>,
    /// CPU seconds of local PostgreSQL server processes in the phase.
    postgres: f64,
    /// Per process: CPU seconds by thread name in the phase, largest first.
    threads: Vec<Vec<(String, f64)>>,
    /// Per process: (role, CPU seconds used in the phase, peak RSS in the phase).
    per_process: Vec<(Role, f64, u64)>,
    /// Whether `VmHWM` could be reset at the phase start (else it is the lifetime peak).
    peak_reset: bool,
}

impl Usage {
    pub fn cpu(&self) -> f64 {
        self.per_process.iter().map(|(_, cpu, _)| cpu).sum()
    }

    pub fn peak_rss(&self) -> u64 {
        self.per_process.iter().map(|(_, _, rss)| rss).sum()
    }

    /// "12.3 MiB" or "40.1 MiB (api 12.0 + worker 14.1 + …)".
    pub fn rss_text(&self) -> String {
        let total = mib(self.peak_rss());
        let text = if self.per_process.len() == 1 {
            total
        } else {
            let parts: Vec<String> =
                self.per_process.iter().map(|(r, _, rss)| format!("{} {}", r.as_str(), mib(*rss))).collect();
            format!("{total} (sum: {})", parts.join(" + "))
        };
        if self.peak_reset { text } else { format!("{text}, lifetime peak") }
    }

    /// "api: tokio-runtime-w 1.20 s, sqlx-sqlite-wor 0.80 s; worker: …" (four busiest per process).
    pub fn threads_text(&self) -> String {
        let per: Vec<String> = self
            .per_process
            .iter()
            .zip(&self.threads)
            .map(|((role, _, _), threads)| {
                let top: Vec<String> = threads.iter().take(4).map(|(name, cpu)| format!("{name} {cpu:.2} s")).collect();
                format!("{}: {}", role.as_str(), top.join(", "))
            })
            .collect();
        per.join("; ")
    }

    /// "whole machine 93% busy (2 cores); PostgreSQL server processes 4.20 s CPU …; other processes …".
    pub fn machine_text(&self) -> String {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let share = |cpu: f64| 100.0 * cpu / self.elapsed.as_secs_f64().max(1e-9);
        let mut text = match &self.machine {
            Some(m) => format!(
                "whole machine {:.0}% busy ({cores} cores; interrupts {:.0}% and steal {:.0}% of one core)",
                100.0 * m.busy() / m.total.max(1e-9),
                share(m.irq),
                share(m.steal)
            ),
            None => "whole machine: n/a".to_string(),
        };
        if self.postgres > 0.0 {
            let p = self.postgres;
            text.push_str(&format!("; PostgreSQL server processes {p:.2} s CPU ({:.0}% of one core)", share(p)));
        }
        if let Some(other) = self.other.filter(|o| *o >= 0.05) {
            text.push_str(&format!("; other processes {other:.2} s CPU ({:.0}% of one core)", share(other)));
        }
        text
    }

    /// "1.23 s in 4.00 s (31% of one core)", per process when several.
    pub fn cpu_text(&self) -> String {
        let share = 100.0 * self.cpu() / self.elapsed.as_secs_f64().max(1e-9);
        let total = format!("{:.2} s in {:.2} s ({share:.0}% of one core)", self.cpu(), self.elapsed.as_secs_f64());
        if self.per_process.len() == 1 {
            return total;
        }
        let parts: Vec<String> =
            self.per_process.iter().map(|(r, cpu, _)| format!("{} {cpu:.2}", r.as_str())).collect();
        format!("{total}; {}", parts.join(" + "))
    }
}

/// Snapshot at a phase start: peaks reset, CPU so far.
pub struct Meter {
    started: Instant,
    machine: Option<MachineCpu>,
    postgres: f64,
    before: Vec<ProcStats>,
    threads: Vec<BTreeMap<String, f64>>,
    peak_reset: bool,
    bench_before: Option<ProcStats>,
}

impl Meter {
    pub fn start(procs: &[Atende]) -> anyhow::Result<Self> {
        let peak_reset = procs.iter().all(Atende::reset_peak_rss);
        let before = procs.iter().map(Atende::stats).collect::<anyhow::Result<Vec<_>>>()?;
        let threads = procs.iter().map(|a| thread_cpu(&a.pid.to_string())).collect();
        Ok(Self {
            started: Instant::now(),
            machine: machine_cpu(),
            postgres: postgres_cpu(),
            before,
            threads,
            peak_reset,
            bench_before: proc_stats("self").ok(),
        })
    }

    pub fn stop(&self, procs: &[Atende]) -> anyhow::Result<Usage> {
        let mut per_process = Vec::new();
        for (atende, before) in procs.iter().zip(&self.before) {
            let after = atende.stats()?;
            per_process.push((atende.role, after.cpu_seconds - before.cpu_seconds, after.peak_rss));
        }
        let threads = procs
            .iter()
            .zip(&self.threads)
            .map(|(atende, before)| {
                let mut used: Vec<(String, f64)> = thread_cpu(&atende.pid.to_string())
                    .into_iter()
                    .map(|(name, cpu)| {
                        let earlier = before.get(&name).copied().unwrap_or(0.0);
                        (name, cpu - earlier)
                    })
                    .filter(|(_, cpu)| *cpu > 0.0)
                    .collect();
                used.sort_by(|a, b| b.1.total_cmp(&a.1));
                used
            })
            .collect();
        let machine = match (self.machine, machine_cpu()) {
            (Some(before), Some(after)) if after.total > before.total => Some(after.since(&before)),
            _ => None,
        };
        let postgres = postgres_cpu() - self.postgres;
        let atende: f64 = per_process.iter().map(|(_, cpu, _)| cpu).sum();
        let other = match (machine, self.bench_cpu()) {
            (Some(m), Some(bench)) => Some((m.tasks - atende - bench - postgres).max(0.0)),
            _ => None,
        };
        Ok(Usage {
            elapsed: self.started.elapsed(),
            machine,
            other,
            postgres,
            threads,
            per_process,
            peak_reset: self.peak_reset,
        })
    }

    /// CPU seconds the bench process itself (driver and mocks) used since the start.
    pub fn bench_cpu(&self) -> Option<f64> {
        Some(proc_stats("self").ok()?.cpu_seconds - self.bench_before?.cpu_seconds)
    }
}
