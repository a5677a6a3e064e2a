//! What `verify` shows: its report as text (the verdict in colour on a terminal), and the errors of
//! reading a stored credential in the words the command line needs.

use std::fmt::Write as _;

use super::{paint, Paint};
use crate::workflows::verify::{VerifyError, VerifyReport};

/// The report as text: `OK` with the session's details, or `FAILED` with the server's reply and the
/// diagnosis.
pub fn render(report: &VerifyReport) -> String {
    let mut out = String::new();
    match &report.failure {
        None => {
            let _ = writeln!(
                out,
                "OK: {} logged in to {}:{} ({}, {}, AUTH {}); no mail was sent",
                report.username,
                report.host,
                report.port,
                report.tls,
                report.tls_version.as_deref().unwrap_or("unknown"),
                report.mechanism.as_deref().unwrap_or("?")
            );
        }
        Some(failure) => {
            let _ = writeln!(out, "FAILED: {failure}");
            if let (Some(code), Some(text)) = (failure.reply_code, &failure.reply_text) {
                let _ = writeln!(out, "  server reply: {code} {text}");
            }
            if !report.diagnosis.is_empty() {
                let _ = writeln!(out, "  diagnosis:");
                for d in &report.diagnosis {
                    let _ = writeln!(out, "  - {d}");
                }
            }
        }
    }
    out
}

/// [`render`] with its verdict (`OK` or `FAILED`) in colour, for a terminal.
pub fn coloured(report: &VerifyReport) -> String {
    let text = render(report);
    for (word, colour) in [("OK:", Paint::Green), ("FAILED:", Paint::Red)] {
        if let Some(rest) = text.strip_prefix(word) {
            return format!("{}{rest}", paint(word, colour, true));
        }
    }
    text
}

/// The error as the command reports it (exit 1): a secret that is not there names the flags to check.
pub fn error(err: VerifyError) -> anyhow::Error {
    match err {
        VerifyError::NoSuchSecret { name, region } => anyhow::anyhow!(
            "secret {name} was not found in {region} (or has no AWSCURRENT version); check --secret-name and \
             --region"
        ),
        // The core's words name no flag and its AWS error stays the cause.
        err @ (VerifyError::ReadSecret { .. } | VerifyError::Unreadable { .. }) => anyhow::Error::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AwsError, ErrorKind};
    use crate::secret::Secret;
    use crate::workflows::verify::read_credential;

    #[test]
    fn a_missing_secret_names_the_flags_to_check() {
        let err = VerifyError::NoSuchSecret {
            name: "smtp/x".into(),
            region: "eu-west-1".into(),
        };
        assert!(!err.to_string().contains("--"), "{err}");
        let e = error(err);
        assert_eq!(crate::error::exit_code_for(&e), 1);
        assert_eq!(
            e.to_string(),
            "secret smtp/x was not found in eu-west-1 (or has no AWSCURRENT version); check --secret-name \
             and --region"
        );
    }

    #[test]
    fn a_failed_read_keeps_the_aws_error_as_its_cause() {
        let e = error(VerifyError::ReadSecret {
            name: "smtp/x".into(),
            region: "eu-west-1".into(),
            error: AwsError {
                kind: ErrorKind::AccessDenied,
                action: "secretsmanager:GetSecretValue",
                code: Some("AccessDeniedException".into()),
                message: "no".into(),
            },
        });
        assert_eq!(crate::error::exit_code_for(&e), 1);
        assert_eq!(
            crate::error::render(&e, false),
            "sesctl: error: reading secret smtp/x in eu-west-1: secretsmanager:GetSecretValue was denied \
             (AccessDeniedException): no; the caller needs permission for secretsmanager:GetSecretValue"
        );
        let Err(err) = read_credential(&Secret::new("[".into()), "smtp/x") else {
            panic!("[ is not a credential");
        };
        let line = crate::error::render(&error(err), false);
        assert!(
            line.starts_with(
                "sesctl: error: secret smtp/x does not hold an SMTP credential sesctl can read: "
            ),
            "{line}"
        );
        assert!(line.ends_with("or AKID:password"), "{line}");
    }
}
