//! Errors the core gives its front ends.
//!
//! [`UsageError`] marks bad input found before anything changed (a name IAM would refuse, a secret
//! that is not one, a file that cannot be written); a front end decides what it means to it (the
//! CLI: exit 2). How an error is printed and which exit code a run ends with belong to the CLI.

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

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn bad_input_is_found_through_context() {
        let e = Err::<(), _>(usage("bad region"))
            .context("reading flags")
            .unwrap_err();
        assert!(is_usage(&e));
        assert!(!is_usage(&anyhow::anyhow!("boom")));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            escape_controls("x\u{1b}[31mred\nsecond"),
            "x\\u{1b}[31mred\\nsecond"
        );
    }
}
