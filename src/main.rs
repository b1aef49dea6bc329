//! The `atende` binary: parse the command line and run it.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    atende::cli::run().await
}
