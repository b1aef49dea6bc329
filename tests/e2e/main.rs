//! End-to-end tests: a spawned Atende on port 0, a temp SQLite file per test (and, for the
//! tests listed in `on_each_backend!`, a fresh PostgreSQL schema when
//! `ATENDE_TEST_POSTGRES_URL` is set), wiremock for Gemini/OpenAI and Whaticket, and the
//! queue drained deterministically (virtual clock).

#[macro_use]
mod helpers;

mod access;
mod api;
mod binary;
mod brain;
mod browser;
mod concurrency;
mod context_cache;
mod csat;
mod deliver;
mod deploy;
mod events;
mod fallback;
mod flags;
mod group_commit;
mod handoff;
mod ingress;
mod ops;
mod panel;
mod queue;
mod races;
mod reply;
mod scale;
mod secrets;
mod shared_limits;
mod smtp;
mod spend;
mod store;
