//! The sesctl binary: parse, set up logging on stderr, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use sesctl::cli::Cli;
use sesctl::error;

fn main() -> ExitCode {
    sesctl::secret::redact_panics();
    let cli = match Cli::try_parse() {
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
