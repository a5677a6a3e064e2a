//! sesctl: the command-line front end of [`sesctl_core`].
//!
//! Layers, each depending only on the ones after it:
//! `cli` (clap syntax) → `commands` (one file per command: settings, output) → `sesctl_core`
//! (workflows, AWS, SMTP, derivation). `input` (prompts, stdin) and `output` (stdout/stderr,
//! tables, CSV, colour, progress, logging) are the terminal's and live here only.

pub mod cli;
pub mod commands;
pub mod error;
pub mod input;
pub mod output;
pub mod validate;

// The core's modules, under the names the CLI and its tests have always used.
pub use sesctl_core::{
    aws, credential, interrupt, policy, regions, secret, smtp, smtp_password, vocabulary, workflows,
};

/// `sesctl --version`: the crate version and the commit it was built from.
pub const VERSION_LINE: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SESCTL_COMMIT"), ")");

pub use error::Outcome;

/// Runs a parsed command line to its outcome.
pub async fn run(cli: cli::Cli) -> anyhow::Result<Outcome> {
    commands::run(cli).await
}
