//! What `delete-user` shows: its report as text, and its errors in the words the command line needs
//! (the flags to check or pass, how to go on after a step failed).

use std::fmt::Write as _;

use crate::error::usage;
use crate::workflows::delete_user::{Conflict, DeleteFailed, DeleteReport, DeleteUserError};

/// The report as text: the user, the calls made, the secret scheduled for deletion and the notes.
pub fn render(report: &DeleteReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Deleted IAM user {}.", report.user_name);
    for c in &report.done {
        let _ = writeln!(out, "  done: {} {}", c.action, c.target);
    }
    if let Some(s) = &report.secret {
        let _ = writeln!(
            out,
            "Secret {s} is scheduled for deletion (restore it with `aws secretsmanager restore-secret` until \
             then)."
        );
    }
    for n in &report.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}

/// The error as the command reports it: a secret that is not the user's is bad input (exit 2), with
/// the flag that overrides the check; everything else fails the run (exit 1).
pub fn error(err: DeleteUserError) -> anyhow::Error {
    match err {
        DeleteUserError::ReadUser { error, .. } | DeleteUserError::ReadSecret { error, .. } => {
            anyhow::Error::new(error)
        }
        DeleteUserError::NoSuchSecret { name, region } => anyhow::anyhow!(
            "there is no secret {name} in {region}; check --secret-name and --region (nothing was deleted)"
        ),
        DeleteUserError::SecretOfAnotherUser { name, owner, user } => usage(format!(
            "secret {name} holds the credential of IAM user {owner}, not {user}; pass --force to schedule its \
             deletion anyway (nothing was deleted)"
        )),
        DeleteUserError::SecretNotRecognised { name, user, why } => usage(format!(
            "secret {name} is not recognisably the SMTP credential of {user}: {why}; pass --force to \
             schedule its deletion anyway (nothing was deleted)"
        )),
        DeleteUserError::Stopped(failed) => anyhow::anyhow!(stopped(&failed)),
    }
}

/// A failed step: where it stopped, why, what IAM's refusal means, and that running the same command
/// again continues.
fn stopped(failed: &DeleteFailed) -> String {
    let mut out = format!("{failed}: {}", failed.error);
    match &failed.conflict {
        Some(c @ Conflict::UnlistedServiceCredentials(_)) => {
            out.push_str(&format!(
                "; {c}: remove them with `aws iam delete-service-specific-credential`"
            ));
        }
        Some(c @ Conflict::AddedAfterRead) => out.push_str(&format!("; {c}")),
        None => {}
    }
    out.push_str("; fix the cause and run the same command again (it continues where it stopped)");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AwsError, ErrorKind};
    use crate::workflows::PlannedCall;

    fn failed(conflict: Option<Conflict>) -> DeleteFailed {
        DeleteFailed {
            user: "mailer".into(),
            done: vec![PlannedCall::new("iam:DeleteAccessKey", "AKIA1 of mailer")],
            failed: PlannedCall::new("iam:DeleteUser", "user mailer"),
            error: AwsError {
                kind: ErrorKind::Other,
                action: "iam:DeleteUser",
                code: Some("DeleteConflict".into()),
                message: "must remove credentials first".into(),
            },
            conflict,
        }
    }

    #[test]
    fn a_stopped_deletion_says_where_why_and_how_to_go_on() {
        let e = error(DeleteUserError::Stopped(failed(None)));
        assert_eq!(crate::error::exit_code_for(&e), 1);
        assert_eq!(
            e.to_string(),
            "deleting user mailer stopped at iam:DeleteUser user mailer after 1 step(s) were done: \
             iam:DeleteUser failed (DeleteConflict): must remove credentials first; fix the cause and run the \
             same command again (it continues where it stopped)"
        );
        let e = error(DeleteUserError::Stopped(failed(Some(
            Conflict::UnlistedServiceCredentials("AccessDenied".into()),
        ))));
        assert!(
            e.to_string().contains(
                "were done: iam:DeleteUser failed (DeleteConflict): must remove credentials first; IAM says \
                 something still belongs to the user; its service-specific credentials could not be listed \
                 (AccessDenied): remove them with `aws iam delete-service-specific-credential`; fix the cause"
            ),
            "{e}"
        );
        let e = error(DeleteUserError::Stopped(failed(Some(Conflict::AddedAfterRead))));
        assert!(
            e.to_string().contains(
                "first; IAM says something still belongs to the user that was added after it was read; fix"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_secret_that_is_not_the_users_is_bad_input_naming_force() {
        let err = DeleteUserError::SecretOfAnotherUser {
            name: "smtp/x".into(),
            owner: "someone-else".into(),
            user: "mailer".into(),
        };
        assert!(err.is_bad_input());
        assert!(!err.to_string().contains("--force"), "{err}");
        let e = error(err);
        assert_eq!(crate::error::exit_code_for(&e), 2);
        assert_eq!(
            e.to_string(),
            "secret smtp/x holds the credential of IAM user someone-else, not mailer; pass --force to \
             schedule its deletion anyway (nothing was deleted)"
        );
        let e = error(DeleteUserError::NoSuchSecret {
            name: "smtp/x".into(),
            region: "eu-west-1".into(),
        });
        assert_eq!(crate::error::exit_code_for(&e), 1);
        assert!(e.to_string().contains("check --secret-name and --region"), "{e}");
    }

    #[test]
    fn the_report_lists_what_was_done() {
        let report = DeleteReport {
            user_name: "mailer".into(),
            deleted: true,
            done: vec![PlannedCall::new("iam:DeleteUser", "user mailer")],
            secret: Some("smtp/x (eu-west-1)".into()),
            notes: vec!["a note".into()],
        };
        assert_eq!(
            render(&report),
            "Deleted IAM user mailer.\n  done: iam:DeleteUser user mailer\nSecret smtp/x (eu-west-1) is \
             scheduled for deletion (restore it with `aws secretsmanager restore-secret` until then).\n  \
             note: a note\n"
        );
    }
}
