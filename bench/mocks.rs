//! In-process stand-ins for the two services Atende calls: a Gemini `generateContent` server
//! with a fixed latency, and Whaticket's `POST /api/messages/send`. Both record when each
//! request arrived so the driver can match replies to webhooks.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The customer text of message `seq` in run `run`: a question (so the brain calls the LLM)
/// carrying a token the mock LLM can find wherever the prompt puts it.
pub fn customer_text(run: &str, seq: u64) -> String {
    format!("Qual o prazo de entrega do pedido bench {run} {seq}?")
}

/// The LLM's answer to message `seq`; the helpdesk mock reads `seq` back from it.
pub fn answer_text(seq: u64) -> String {
    format!("ok {seq}")
}

/// Every `seq` of a `bench {run} {seq}` token in `text`, in order.
pub fn tokens_in(text: &str, run: &str) -> Vec<u64> {
    let marker = format!("bench {run} ");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&marker) {
        rest = &rest[at + marker.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(seq) = digits.parse() {
            found.push(seq);
        }
    }
    found
}

/// The `seq` of an `ok {seq}` answer, if the text is one.
pub fn answer_seq(text: &str) -> Option<u64> {
    text.trim().strip_prefix("ok ")?.trim().parse().ok()
}

/// One `generateContent` call the mock answered.
#[derive(Debug, Clone)]
pub struct LlmCall {
    /// Tokens found in the last user turn (more than one when Atende merged a burst).
    pub seqs: Vec<u64>,
    /// When the request body had been read.
    pub received: Instant,
    /// When the answer was handed back to the server.
    pub responded: Instant,
}

/// What the LLM mock saw since the last [`LlmMock::take_calls`].
#[derive(Debug, Default)]
struct LlmRecord {
    calls: Vec<LlmCall>,
    /// Every token seen (messages the LLM was asked about).
    covered: HashSet<u64>,
    /// Every token answered (`ok {seq}`, the newest of each call).
    answered: HashSet<u64>,
}

/// Shared state of the LLM mock.
#[derive(Debug)]
struct LlmState {
    run: String,
    latency: Duration,
    record: Mutex<LlmRecord>,
    /// Calls with no token in the last user turn (e.g. conversation summaries).
    untokened: AtomicU64,
}

/// A running mock LLM.
pub struct LlmMock {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<LlmState>,
    stop: CancellationToken,
}

impl LlmMock {
    /// Starts the mock on 127.0.0.1:0; it answers every call after `latency`.
    pub async fn start(run: &str, latency: Duration) -> anyhow::Result<Self> {
        let state = Arc::new(LlmState {
            run: run.to_string(),
            latency,
            record: Mutex::new(LlmRecord::default()),
            untokened: AtomicU64::new(0),
        });
        let app = Router::new().route("/v1beta/{*rest}", post(generate)).with_state(state.clone());
        let (addr, stop) = serve(app).await.context("mock LLM")?;
        Ok(Self { addr, state, stop })
    }

    /// The base URL for the tenant's `[llm] base_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Takes every call recorded so far, leaving the record empty.
    pub fn take_calls(&self) -> Vec<LlmCall> {
        std::mem::take(&mut *lock(&self.state.record)).calls
    }

    /// (distinct messages of `seqs` asked about, distinct answers to them) since the last take.
    pub fn progress(&self, seqs: &Range<u64>) -> (usize, usize) {
        let record = lock(&self.state.record);
        let count = |set: &HashSet<u64>| set.iter().filter(|s| seqs.contains(s)).count();
        (count(&record.covered), count(&record.answered))
    }

    /// Calls without a token so far.
    pub fn untokened(&self) -> u64 {
        self.state.untokened.load(Ordering::Relaxed)
    }
}

impl Drop for LlmMock {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Sleeps the fixed latency, then answers `ok {seq}` for the newest token of the last user
/// turn (the prompt fences customer text and may repeat older turns as history).
async fn generate(State(state): State<Arc<LlmState>>, body: Bytes) -> Response {
    let received = Instant::now();
    let seqs = serde_json::from_slice::<Value>(&body).map(|v| tokens_in(&last_user_text(&v), &state.run));
    tokio::time::sleep(state.latency).await;
    let seqs = match seqs {
        Ok(seqs) => seqs,
        Err(err) => {
            let body = json!({ "error": { "code": 400, "message": err.to_string(), "status": "INVALID_ARGUMENT" } });
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
    };
    let text = match seqs.iter().max() {
        Some(seq) => answer_text(*seq),
        None => {
            state.untokened.fetch_add(1, Ordering::Relaxed);
            "ok resumo".to_string()
        }
    };
    let answer = json!({
        "candidates": [{ "content": { "role": "model", "parts": [{ "text": text }] }, "finishReason": "STOP", "index": 0 }],
        "usageMetadata": { "promptTokenCount": 10, "candidatesTokenCount": 2, "totalTokenCount": 12 },
        "modelVersion": "bench-mock"
    });
    let response = axum::Json(answer).into_response();
    if let Some(newest) = seqs.iter().max().copied() {
        let mut record = lock(&state.record);
        record.covered.extend(seqs.iter().copied());
        record.answered.insert(newest);
        record.calls.push(LlmCall { seqs, received, responded: Instant::now() });
    }
    response
}

/// The text of the last `user` turn of a Gemini request (empty when there is none).
fn last_user_text(request: &Value) -> String {
    request["contents"]
        .as_array()
        .and_then(|contents| contents.iter().rev().find(|c| c["role"] == "user"))
        .and_then(|c| c["parts"].as_array())
        .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// One message the helpdesk mock received.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// When the request body had been read.
    pub at: Instant,
    /// `number` of the send request.
    pub number: String,
    /// `body` of the send request.
    pub text: String,
}

/// What the helpdesk mock received since the last [`HelpdeskMock::take`].
#[derive(Debug, Default)]
struct HelpdeskRecord {
    arrivals: Vec<Arrival>,
    /// Distinct `ok {seq}` answers.
    answered: HashSet<u64>,
}

/// A running mock Whaticket.
pub struct HelpdeskMock {
    /// Where it listens.
    pub addr: SocketAddr,
    record: Arc<Mutex<HelpdeskRecord>>,
    stop: CancellationToken,
}

impl HelpdeskMock {
    /// Starts the mock on 127.0.0.1:0.
    pub async fn start() -> anyhow::Result<Self> {
        let record = Arc::new(Mutex::new(HelpdeskRecord::default()));
        let app = Router::new().route("/api/messages/send", post(send)).with_state(record.clone());
        let (addr, stop) = serve(app).await.context("mock helpdesk")?;
        Ok(Self { addr, record, stop })
    }

    /// The base URL for the tenant's `[whaticket] url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// (arrivals, distinct `ok {seq}` answers to messages of `seqs`) since the last take.
    pub fn progress(&self, seqs: &Range<u64>) -> (usize, usize) {
        let record = lock(&self.record);
        (record.arrivals.len(), record.answered.iter().filter(|s| seqs.contains(s)).count())
    }

    /// Takes every arrival recorded so far, leaving the record empty.
    pub fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *lock(&self.record)).arrivals
    }
}

impl Drop for HelpdeskMock {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Records the arrival and answers like Whaticket (200 with `{"mensagem": …}`).
async fn send(State(record): State<Arc<Mutex<HelpdeskRecord>>>, body: Bytes) -> Response {
    let at = Instant::now();
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "ERR_INVALID_BODY" }))).into_response();
    };
    let number = value["number"].as_str().unwrap_or_default().to_string();
    let text = value["body"].as_str().unwrap_or_default().to_string();
    let mut record = lock(&record);
    if let Some(seq) = answer_seq(&text) {
        record.answered.insert(seq);
    }
    record.arrivals.push(Arrival { at, number, text });
    drop(record);
    axum::Json(json!({ "mensagem": "Mensagem enviada" })).into_response()
}

/// Serves `app` on 127.0.0.1:0 until the returned token is cancelled.
async fn serve(app: Router) -> anyhow::Result<(SocketAddr, CancellationToken)> {
    let listener = TcpListener::bind("127.0.0.1:0").await.context("bind 127.0.0.1:0")?;
    let addr = listener.local_addr().context("local address")?;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move { stopped.cancelled().await }).await;
        if let Err(err) = served {
            eprintln!("mock server on {addr} failed: {err}");
        }
    });
    Ok((addr, stop))
}

/// Locks a record; a poisoned lock (a panicked handler) still holds usable data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
