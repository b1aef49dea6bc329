//! End-to-end tests: a spawned Atende on port 0, a temp SQLite file per test, wiremock for
//! Gemini/OpenAI and Whaticket, and the queue drained deterministically (virtual clock).

mod binary;
mod brain;
mod deliver;
mod helpers;
mod ingress;
mod ops;
mod queue;
mod races;
mod reply;
mod shared_limits;
mod store;
