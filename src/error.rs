//! How a run ends: its [`Outcome`] and exit code (SPEC: 0 done, 1 the operation failed, 2 bad usage or
//! bad input caught before anything changed, 3 `audit --fail-on` found findings at or above that
//! severity), and how an error is printed. [`UsageError`] marks bad input found before anything
//! changed; the core's workflows return typed errors that the CLI words (`crate::output`).

use std::fmt;

/// Bad input, found before anything changed.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Builds a [`UsageError`] from a message.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// Whether the error, or any cause of it, is bad input ([`UsageError`]).
pub fn is_usage(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.is::<UsageError>())
}

/// Control characters (escape sequences, newlines, a bell) as visible escapes, so that a name or an
/// answer echoed in an error can neither drive the terminal nor split the one line.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// What a command that ran to its end reports; errors are the `Err` side of `anyhow::Result<Outcome>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done (exit 0).
    Done,
    /// The command finished its report but something in it failed (exit 1), e.g. one user of a batch.
    Failed,
    /// `audit --fail-on` found findings at or above the threshold (exit 3).
    Findings,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::Failed => 1,
            Outcome::Findings => 3,
        }
    }
}

/// The exit code for an error: 2 for bad input, 1 for everything else.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    if is_usage(err) {
        2
    } else {
        1
    }
}

/// Whether the error is a closed stdout pipe (`sesctl list | head`): such a run exits quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The one line printed for an error; with `verbose`, the cause chain follows, one cause per line.
/// Control characters in any message are printed escaped.
pub fn render(err: &anyhow::Error, verbose: bool) -> String {
    let mut out = format!("sesctl: error: {}", escape_controls(&err.to_string()));
    if verbose {
        for cause in err.chain().skip(1) {
            out.push_str(&format!("\n  caused by: {}", escape_controls(&cause.to_string())));
        }
    } else {
        // Without -v, fold the chain into the same line so the cause is never lost.
        let causes: Vec<String> = err
            .chain()
            .skip(1)
            .map(|c| escape_controls(&c.to_string()))
            .collect();
        if !causes.is_empty() {
            out.push_str(": ");
            out.push_str(&causes.join(": "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn usage_errors_exit_2_even_with_context() {
        let e = Err::<(), _>(usage("bad region"))
            .context("reading flags")
            .unwrap_err();
        assert_eq!(exit_code_for(&e), 2);
        assert_eq!(exit_code_for(&anyhow::anyhow!("boom")), 1);
    }

    #[test]
    fn control_characters_are_escaped() {
        let e = anyhow::anyhow!("bad name 'x\u{1b}[31mred\nsecond'");
        let line = render(&e, false);
        assert!(!line.contains('\u{1b}') && !line.contains('\n'), "{line:?}");
        assert!(line.contains("\\u{1b}[31mred\\nsecond"), "{line}");
    }

    #[test]
    fn render_is_one_line_without_verbose() {
        let e = Err::<(), _>(anyhow::anyhow!("AccessDenied"))
            .context("creating user x")
            .unwrap_err();
        let line = render(&e, false);
        assert_eq!(line, "sesctl: error: creating user x: AccessDenied");
        assert!(!line.contains('\n'));
        assert!(render(&e, true).contains("\n  caused by: AccessDenied"));
    }

    #[test]
    fn bad_input_is_found_through_context() {
        let e = Err::<(), _>(usage("bad region"))
            .context("reading flags")
            .unwrap_err();
        assert!(is_usage(&e));
        assert!(!is_usage(&anyhow::anyhow!("boom")));
    }

    #[test]
    fn control_characters_are_escaped_in_any_text() {
        assert_eq!(
            escape_controls("x\u{1b}[31mred\nsecond"),
            "x\\u{1b}[31mred\\nsecond"
        );
    }
}
