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
    let graceful = changes_aws(&cli);
    runtime.spawn(handle_signals(graceful));
    match runtime.block_on(sesctl::run(cli)) {
        // A batch that stopped early because it was interrupted reports what it did, then exits as
        // interrupted runs do.
        Ok(sesctl::error::Outcome::Failed) if sesctl::interrupt::requested().is_some() => {
            ExitCode::from(128 + sesctl::interrupt::requested().unwrap_or(2) as u8)
        }
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) if error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", error::render(&err, verbose));
            match sesctl::interrupt::requested() {
                // Interrupted and stopped: the shell's convention, 128 + the signal.
                Some(signal) => ExitCode::from(128 + signal as u8),
                None => ExitCode::from(error::exit_code_for(&err)),
            }
        }
    }
}

/// Whether the command changes AWS state, so that an interruption must finish the call in flight and
/// undo what the run did (other commands stop at once, as any program does).
fn changes_aws(cli: &Cli) -> bool {
    use sesctl::cli::Command;
    !cli.global.dry_run
        && matches!(
            cli.command,
            Command::Setup
                | Command::CreateUser(_)
                | Command::Rotate(_)
                | Command::MigrateInlinePolicy(_)
                | Command::DeleteUser(_)
        )
}

/// SIGINT and SIGTERM. For a command that changes AWS state, the first one asks the run to stop: no
/// new step starts, the call in flight finishes, and the run undoes what it did (or says what is
/// left), then exits 130 or 143. A second signal, or any signal to another command, exits at once.
async fn handle_signals(graceful: bool) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return;
    };
    let mut received = 0;
    loop {
        let signo = tokio::select! {
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
        };
        received += 1;
        if !graceful {
            std::process::exit(128 + signo);
        }
        if received == 1 {
            sesctl::interrupt::request(signo);
            eprintln!(
                "sesctl: interrupted: letting the call in flight finish, then undoing what this run did \
                 (interrupt again to stop at once)"
            );
        } else {
            eprintln!(
                "sesctl: interrupted again: stopping at once; what this run made is not cleaned up \
                 (`sesctl audit` finds it; docs/recovery.md says how to clean it)"
            );
            std::process::exit(128 + signo);
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
