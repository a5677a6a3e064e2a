//! sesctl: provisions and maintains Amazon SES SMTP credentials.
//!
//! Layers, each depending only on the ones after it:
//! `cli` (clap syntax) → `commands` (one file per command: settings, output) → `workflows` (plans and
//! their execution) → {`smtp_password` (pure derivation), `aws` (the only SDK user), `smtp` (login
//! checks)}. `secret`, `regions`, `validate`, `input`, `output` and `error` are shared leaves.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod error;
pub mod input;
pub mod output;
pub mod policy;
pub mod regions;
pub mod secret;
pub mod smtp;
pub mod smtp_password;
pub mod validate;
pub mod workflows;

/// `sesctl --version`: the crate version and the commit it was built from.
pub const VERSION_LINE: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SESCTL_COMMIT"), ")");

pub use error::Outcome;

/// Runs a parsed command line to its outcome.
pub async fn run(cli: cli::Cli) -> anyhow::Result<Outcome> {
    commands::run(cli).await
}
