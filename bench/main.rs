//! `cargo bench --bench atende`: the reproducible benchmark of issue 5.
//!
//! Starts the real `atende serve` binary (SQLite, and PostgreSQL when a server answers)
//! against an in-process mock LLM (Gemini API, fixed latency) and mock Whaticket, drives
//! signed webhooks at it from this process, and reports ingress throughput and latency,
//! end-to-end replies/min and added latency, queue wait, peak RSS and CPU per reply, then
//! writes `bench/RESULTS.md` (between its markers). Options: `cargo bench --bench atende --
//! --help`.

mod db;
mod figures;
mod load;
mod mocks;
mod process;
mod report;
mod scenarios;
mod stats;
mod usage;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::db::Backend;
use crate::report::Section;
use crate::scenarios::Params;

/// Benchmark of the atende binary (issue 5).
#[derive(Debug, Clone, Parser)]
#[command(name = "atende-bench")]
struct Options {
    /// Tiny numbers, a smoke run; RESULTS.md is only written with --write.
    #[arg(long)]
    quick: bool,
    /// Write bench/RESULTS.md (the default for a full run).
    #[arg(long)]
    write: bool,
    /// Do not write bench/RESULTS.md.
    #[arg(long, conflicts_with = "write")]
    no_write: bool,
    /// Only this backend.
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Skip the ingress scenarios.
    #[arg(long)]
    skip_ingress: bool,
    /// Skip the end-to-end scenarios.
    #[arg(long)]
    skip_e2e: bool,
    /// Fixed latency of the mock LLM, in milliseconds.
    #[arg(long, default_value_t = 300)]
    llm_latency_ms: u64,
    /// Webhooks of the ingress saturation run [default: 20000, quick 500].
    #[arg(long)]
    ingress_requests: Option<u64>,
    /// Closed-loop senders (ingress saturation and the end-to-end burst) [default: 64, quick 16].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Contacts the ingress runs spread messages over.
    #[arg(long, default_value_t = 1_000)]
    contacts: u64,
    /// Rate of the paced ingress run, webhooks per second.
    #[arg(long, default_value_t = 1_000.0)]
    rate: f64,
    /// Length of the paced ingress run, seconds [default: 10, quick 1].
    #[arg(long)]
    rate_seconds: Option<f64>,
    /// Messages of the paced end-to-end phase [default: 20000, quick 200].
    #[arg(long)]
    e2e_messages: Option<u64>,
    /// Rate of the paced end-to-end phase, messages per second.
    #[arg(long, default_value_t = 1_000.0)]
    e2e_rate: f64,
    /// Contacts of the paced end-to-end phase [default: 5000, quick 200].
    #[arg(long)]
    e2e_contacts: Option<u64>,
    /// Messages of the end-to-end burst phase, one per contact; 0 skips it [default: 10000, quick 100].
    #[arg(long)]
    e2e_burst: Option<u64>,
    /// queue.workers of a single process; split among worker processes [default: 512, quick 64].
    #[arg(long)]
    workers: Option<usize>,
    /// queue.poll_interval, milliseconds.
    #[arg(long, default_value_t = 100)]
    poll_interval_ms: u64,
    /// Worker-process counts of the PostgreSQL runs, e.g. 1,2,4 [default: 1,2,4, quick 1].
    #[arg(long, value_delimiter = ',')]
    worker_procs: Option<Vec<usize>>,
    /// PostgreSQL server URL (else ATENDE_BENCH_POSTGRES_URL, ATENDE_TEST_POSTGRES_URL or the local default).
    #[arg(long)]
    postgres_url: Option<String>,
    /// Where to write the results [default: bench/RESULTS.md].
    #[arg(long)]
    results: Option<PathBuf>,
    /// Passed by `cargo bench`; without it (e.g. under `cargo test --benches`) nothing runs.
    #[arg(long, hide = true)]
    bench: bool,
}

/// `--only` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    /// SQLite scenarios only.
    Sqlite,
    /// PostgreSQL scenarios only.
    Postgres,
}

impl Options {
    fn params(&self) -> Params {
        let pick = |full, quick| if self.quick { quick } else { full };
        Params {
            quick: self.quick,
            llm_latency: Duration::from_millis(self.llm_latency_ms),
            ingress_requests: self.ingress_requests.unwrap_or(pick(20_000, 500)),
            concurrency: self.concurrency.unwrap_or(pick(64, 16) as usize).max(1),
            contacts: self.contacts.max(1),
            rate: self.rate.max(1.0),
            rate_seconds: self.rate_seconds.unwrap_or(if self.quick { 1.0 } else { 10.0 }).max(0.1),
            e2e_messages: self.e2e_messages.unwrap_or(pick(20_000, 200)).max(1),
            e2e_rate: self.e2e_rate.max(1.0),
            e2e_contacts: self.e2e_contacts.unwrap_or(pick(5_000, 200)).max(1),
            e2e_burst: self.e2e_burst.unwrap_or(pick(10_000, 100)),
            workers: self.workers.unwrap_or(pick(512, 64) as usize).max(1),
            poll_interval: Duration::from_millis(self.poll_interval_ms.max(1)),
            worker_procs: self.worker_procs.clone().unwrap_or_else(|| if self.quick { vec![1] } else { vec![1, 2, 4] }),
            idle: Duration::from_millis(pick(1_000, 300)),
            drain_timeout: Duration::from_secs(pick(15, 10)),
            send_timeout: Duration::from_secs(pick(30, 10)),
            burst_timeout: Duration::from_secs(pick(20, 10)),
        }
    }

    fn writes(&self) -> bool {
        !self.no_write && (self.write || !self.quick)
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    if !options.bench {
        println!("atende bench: run it with `cargo bench --bench atende` (nothing to do without --bench)");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the tokio runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> anyhow::Result<()> {
    let p = options.params();
    let started = Instant::now();
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .context("format the date")?;
    let command = command_line();
    println!("atende bench — {date}\n{command}\nbinary: {}", process::BIN);
    let background = background_load().await;
    println!("{background}");

    let mut sections: Vec<Section> = Vec::new();
    // Header lines: background load, PostgreSQL settings or why it was skipped.
    let mut header_notes: Vec<String> = Vec::new();
    if options.only != Some(Only::Postgres) {
        run_backend(&options, &p, Backend::Sqlite, &[], &mut sections).await;
    }
    if options.only != Some(Only::Sqlite) {
        match db::find_postgres(options.postgres_url.as_deref()).await {
            Ok(url) => {
                match db::server_settings(&url).await {
                    Ok(settings) => {
                        println!("PostgreSQL at {}: {settings}", db::redact(&url));
                        header_notes.push(format!("PostgreSQL (local server, same cores): {settings}"));
                    }
                    Err(err) => println!("PostgreSQL settings unknown: {err:#}"),
                }
                run_backend(&options, &p, Backend::Postgres(url), &p.worker_procs, &mut sections).await;
            }
            Err(why) => {
                let note = format!("PostgreSQL skipped: {why}");
                println!("\n{note}");
                header_notes.push(note);
            }
        }
    }
    let elapsed = started.elapsed();
    println!("\nbench finished in {:.0} s", elapsed.as_secs_f64());

    header_notes.insert(0, background);
    let block = render(&date, &command, &p, &sections, &header_notes, elapsed);
    if options.writes() {
        let path = options
            .results
            .clone()
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/RESULTS.md"));
        report::write_results(&path, &block)?;
        println!("wrote {}", path.display());
    } else {
        println!(
            "RESULTS.md not written ({})",
            if options.no_write { "--no-write" } else { "quick run; pass --write to write it" }
        );
    }
    Ok(())
}

/// The scenarios of one backend: ingress (saturation, paced), then end to end (one `all`
/// process for SQLite; an API process plus each count of worker processes for PostgreSQL).
async fn run_backend(options: &Options, p: &Params, backend: Backend, worker_procs: &[usize], out: &mut Vec<Section>) {
    let name = backend.name();
    if !options.skip_ingress {
        let title = format!("Ingress at saturation — {name}");
        out.push(scenario(title, scenarios::ingress_saturation(p.clone(), backend.clone())).await);
        let title = format!("Ingress at a fixed rate — {name}");
        out.push(scenario(title, scenarios::ingress_paced(p.clone(), backend.clone())).await);
    }
    if !options.skip_e2e {
        match backend {
            Backend::Sqlite => {
                let title = format!("End to end — {name}");
                out.push(scenario(title, scenarios::end_to_end(p.clone(), backend.clone(), None)).await);
            }
            Backend::Postgres(_) => {
                for &n in worker_procs {
                    let title = format!("End to end — {name}, {n} worker process(es)");
                    out.push(scenario(title, scenarios::end_to_end(p.clone(), backend.clone(), Some(n))).await);
                }
            }
        }
    }
}

/// Runs one scenario in its own task, so a failure or panic becomes a failed section and
/// the bench goes on; prints the section.
async fn scenario<F>(title: String, run: F) -> Section
where
    F: Future<Output = anyhow::Result<Section>> + Send + 'static,
{
    println!("\n… {title}");
    let section = match tokio::spawn(run).await {
        Ok(Ok(section)) => section,
        Ok(Err(err)) => Section::failed(title, &format!("{err:#}")),
        Err(err) => Section::failed(title, &format!("panicked: {err}")),
    };
    section.print();
    section
}

/// What else keeps the machine busy: CPU use over one second before the run and the load
/// average. Other builds or tests running at the same time skew every figure.
async fn background_load() -> String {
    let before = process::machine_cpu();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let busy = match (before, process::machine_cpu()) {
        (Some(before), Some(after)) if after.total > before.total => {
            let used = after.since(&before);
            format!("{:.0}%", 100.0 * used.busy() / used.total)
        }
        _ => "n/a".into(),
    };
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let loadavg: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    format!(
        "Machine load before the run: {busy} of all cores busy over 1 s, load average {} (anything above a few % means other work shares the cores)",
        loadavg.join(" ")
    )
}

/// How this run was invoked, as a `cargo bench` command line.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.is_empty() {
        "cargo bench --bench atende".to_string()
    } else {
        format!("cargo bench --bench atende -- {}", args.join(" "))
    }
}

/// The generated block of RESULTS.md.
fn render(
    date: &str,
    command: &str,
    p: &Params,
    sections: &[Section],
    header_notes: &[String],
    elapsed: Duration,
) -> String {
    let (cores, memory, model, kernel) = report::machine();
    let mut out = String::from("## Latest run\n\n");
    out.push_str(&format!("- Date (UTC): {date}\n"));
    out.push_str(&format!("- Machine: {cores} cores ({model}), {memory}, Linux {kernel}\n"));
    out.push_str(&format!("- Commit: `{}`\n", report::git_commit()));
    out.push_str(&format!(
        "- Command: `{command}` ({:.0} s{})\n",
        elapsed.as_secs_f64(),
        if p.quick { ", quick" } else { "" }
    ));
    out.push_str(&format!(
        "- Parameters: mock LLM latency {} ms; ingress {} webhooks by {} senders over {} contacts; paced ingress {}/s for {} s; \
         end to end {} messages at {}/s over {} contacts, then a burst of {}; queue.workers {} (split among worker processes); \
         queue.poll_interval {} ms; queue.debounce 0 s; PostgreSQL worker processes {:?}\n",
        p.llm_latency.as_millis(),
        p.ingress_requests,
        p.concurrency,
        p.contacts,
        p.rate,
        p.rate_seconds,
        p.e2e_messages,
        p.e2e_rate,
        p.e2e_contacts,
        p.e2e_burst,
        p.workers,
        p.poll_interval.as_millis(),
        p.worker_procs,
    ));
    out.push_str(
        "- Everything runs on this machine: Atende, the database, the mocks and the load driver share the cores.\n",
    );
    for note in header_notes {
        out.push_str(&format!("- {note}\n"));
    }
    for section in sections {
        out.push('\n');
        out.push_str(&section.markdown());
    }
    out
}
