//! The sesctl binary: parse, set up logging on stderr, run, map the outcome to an exit code.

use std::process::ExitCode;

use sesctl::cli::Cli;
use sesctl::error;

fn main() -> ExitCode {
    sesctl::secret::redact_panics();
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout and exit 0; usage errors exit 2.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    sesctl::output::init_logging(&cli.global);
    sesctl::secret::disable_core_dumps();
    let verbose = cli.global.verbose > 0;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sesctl: error: could not start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(sesctl::run(cli)) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) if error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", error::render(&err, verbose));
            ExitCode::from(error::exit_code_for(&err))
        }
    }
}

/// Parses argv. clap's own help and usage errors follow `--color` (and, through clap, NO_COLOR) like
/// the rest of sesctl's output, so the flag is looked for before clap styles anything.
fn parse() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cmd = Cli::command().color(color_flag(&args));
    let matches = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// The last `--color WHEN` / `--color=WHEN` before a `--`; auto when absent or unknown (clap then
/// reports an unknown value itself).
fn color_flag(args: &[std::ffi::OsString]) -> clap::ColorChoice {
    let mut choice = clap::ColorChoice::Auto;
    let mut words = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        let value = match word.as_ref() {
            "--" => break,
            "--color" => words.next().map(|v| v.into_owned()),
            w => w.strip_prefix("--color=").map(str::to_string),
        };
        choice = match value.as_deref() {
            Some("never") => clap::ColorChoice::Never,
            Some("always") => clap::ColorChoice::Always,
            Some(_) => clap::ColorChoice::Auto,
            None => choice,
        };
    }
    choice
}
