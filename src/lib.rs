//! Atende: an AI attendant for WhatsApp helpdesks.
//!
//! # Layout
//! | layer | module | role |
//! | --- | --- | --- |
//! | 0 | [`domain`] | plain types and rules, no I/O |
//! | 1 | [`config`], [`telemetry`] | configuration tree and tenant files; logs and metric names |
//! | 2 | [`store`], [`limits`], [`secrets`] | the only SQL (SQLite embedded, PostgreSQL to scale out); ingress rate limits; password hashes and API/session tokens |
//! | 3 | [`channel`], [`llm`], [`knowledge`], [`notify`], [`queue`] | helpdesk adapters; LLM providers; knowledge search and import; signed outbound events; queue mechanics |
//! | 4 | [`brain`] | decides the answer; never sends, never enqueues |
//! | 5 | [`jobs`], [`http`], [`app`], [`cli`] | job handlers; HTTP; wiring; commands |
//!
//! One inbound message: `http::ingress` verifies and parses it through `channel`, and
//! `store::record_inbound` stores it with its `reply` job in one transaction. A
//! `queue::Worker` claims the job; `jobs::reply` asks `brain` (which asks `llm`) and
//! stores the answer with a `deliver` job; `jobs::deliver` sends it through `channel`.

pub mod app;
pub mod brain;
pub mod channel;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod knowledge;
pub mod limits;
pub mod llm;
pub mod notify;
pub mod queue;
pub mod secrets;
pub mod store;
pub mod telemetry;
