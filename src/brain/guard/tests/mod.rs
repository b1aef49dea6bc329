//! Unit tests of the guards, one file per area, with real-looking pt-BR and en messages.

mod input;
mod intent;
mod normalize;
mod output;
