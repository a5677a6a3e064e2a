//! `create-user`'s report as text, and its errors as the CLI shows them: with the flags and the
//! `sesctl` commands that fix or clean up, and bad input as a usage error (exit 2).

use std::fmt;

use serde::Serialize;

use crate::error::usage;
use crate::workflows::create_user::{
    undone, Aftermath, CreateUserError, CreateUserFailed, CreateUserReport, FailedStep, TAG_CREATE_RUN,
};
use crate::workflows::deliver::DeliverError;
use crate::workflows::setup::SetupError;

/// The text of a create-user report: the user, the SMTP endpoint, where the password went, and what
/// setup did.
pub fn render(report: &CreateUserReport) -> String {
    let mut out = format!("Created SMTP credential for IAM user {}\n", report.user_name);
    let mut line = |label: &str, value: String| out.push_str(&format!("  {label:<17}{value}\n"));
    line("user ARN:", report.user_arn.clone());
    line("group:", report.group.clone());
    line("SMTP host:", report.smtp_host.clone());
    line("SMTP port:", format!("{} (STARTTLS)", report.smtp_port));
    line("SMTP user name:", report.smtp_username.clone());
    line("SMTP password:", format!("in {}", report.delivered));
    if let Some(v) = &report.verified {
        line(
            "verified:",
            format!(
                "SMTP login OK at {}:{} ({}, {}, AUTH {})",
                v.host, v.port, v.tls, v.tls_version, v.mechanism
            ),
        );
    }
    for c in &report.setup.changes {
        line("setup:", c.clone());
    }
    for w in &report.warnings {
        line("warning:", w.clone());
    }
    out
}

/// A create-user report as the printer takes it: [`render`] as text, the core's document as JSON.
#[derive(Serialize)]
#[serde(transparent)]
pub struct CreateUserText<'a>(pub &'a CreateUserReport);

impl fmt::Display for CreateUserText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(self.0))
    }
}

/// A create-user failure as the CLI reports it: a user or secret that exists is a usage error (exit
/// 2) that says what to do instead; a failed check says that nothing was created; a failed run says
/// what became of what it created and how to remove what is left (exit 1).
pub fn error(e: CreateUserError) -> anyhow::Error {
    match e {
        CreateUserError::Check(aws)
        | CreateUserError::Secret(DeliverError::Aws(aws))
        | CreateUserError::Setup(SetupError::Aws(aws)) => checks_failed(aws),
        CreateUserError::UserExists { user_name } => usage(format!(
            "IAM user {user_name} already exists; to give it a new SMTP credential run `sesctl rotate \
             {user_name}`, or choose another user name"
        )),
        CreateUserError::Secret(taken) => super::credential::secret_error(taken),
        CreateUserError::Setup(unsound) => anyhow::Error::new(unsound),
        CreateUserError::Failed(failed) => anyhow::anyhow!(failed_text(&failed)),
    }
}

/// A read before any change failed.
fn checks_failed(aws: crate::aws::AwsError) -> anyhow::Error {
    anyhow::Error::new(aws).context("the checks before any change failed, so nothing was created")
}

/// The one line of a failed run: the step, its cause, and what became of what the run created, with
/// the command that removes what is left.
pub fn failed_text(failed: &CreateUserFailed) -> String {
    let user = &failed.user_name;
    let step = match &failed.step {
        FailedStep::Login => "the SMTP login (--verify)".to_string(),
        other => other.to_string(),
    };
    let aftermath = match &failed.aftermath {
        Aftermath::NothingCreated => "nothing had been created, so nothing was rolled back".to_string(),
        Aftermath::RolledBack(done) => format!(
            "everything this run created was rolled back ({})",
            done.join(", ")
        ),
        Aftermath::RollbackIncomplete { removed, left } => {
            let left: Vec<String> = left.iter().map(|(w, why)| format!("{w} ({why})")).collect();
            format!(
                "rollback was incomplete: {}; could NOT remove {}. Remove what is left with `sesctl \
                 delete-user {user}{}` once the cause is fixed (the user carries this run's {TAG_CREATE_RUN} \
                 tag, so it counts as an SMTP user)",
                undone(removed),
                left.join(", "),
                if failed.aftermath.secret_left() {
                    " --secret-name SECRET --region REGION"
                } else {
                    ""
                }
            )
        }
        Aftermath::Unknown(why) => format!(
            "whether iam:CreateUser took effect could not be checked ({why}): if user {user} exists and is \
             tagged {TAG_CREATE_RUN}, this run made it; remove it with `sesctl delete-user {user}` before \
             running create-user again"
        ),
        Aftermath::Kept(kept) => format!(
            "--no-rollback: kept for inspection: {}; delete them with `sesctl delete-user {user}` when done",
            kept.join(", ")
        ),
    };
    format!(
        "create-user {user} failed at {step}: {}; {aftermath}",
        failed.cause
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AwsError, ErrorKind};
    use crate::workflows::create_user::Cause;
    use crate::workflows::deliver::Delivered;
    use crate::workflows::setup::{PolicyForm, SetupReport};

    fn aws(action: &'static str) -> AwsError {
        AwsError {
            kind: ErrorKind::AccessDenied,
            action,
            code: Some("AccessDenied".into()),
            message: "no".into(),
        }
    }

    fn failed(step: FailedStep, aftermath: Aftermath) -> CreateUserFailed {
        CreateUserFailed {
            user_name: "u".into(),
            step,
            cause: Cause::Aws(aws("iam:CreateAccessKey")),
            aftermath,
        }
    }

    #[test]
    fn the_report_lists_the_credential_and_what_setup_did() {
        let report = CreateUserReport {
            user_name: "u".into(),
            user_arn: "arn:aws:iam::123456789012:user/u".into(),
            group: "AWSSESSendingGroupDoNotRename".into(),
            access_key_id: "AKIAEXAMPLE".into(),
            smtp_username: "AKIAEXAMPLE".into(),
            region: "eu-west-1".into(),
            smtp_host: "email-smtp.eu-west-1.amazonaws.com".into(),
            smtp_port: 587,
            delivered: Delivered::Stdout,
            setup: SetupReport {
                group: "AWSSESSendingGroupDoNotRename".into(),
                policy: "AmazonSesSendingAccess".into(),
                form: PolicyForm::Managed,
                policy_arn: None,
                changes: vec!["iam:CreateGroup AWSSESSendingGroupDoNotRename".into()],
            },
            verified: None,
            warnings: vec!["careful".into()],
        };
        assert_eq!(
            render(&report),
            "Created SMTP credential for IAM user u\n\
             \x20 user ARN:        arn:aws:iam::123456789012:user/u\n\
             \x20 group:           AWSSESSendingGroupDoNotRename\n\
             \x20 SMTP host:       email-smtp.eu-west-1.amazonaws.com\n\
             \x20 SMTP port:       587 (STARTTLS)\n\
             \x20 SMTP user name:  AKIAEXAMPLE\n\
             \x20 SMTP password:   in stdout\n\
             \x20 setup:           iam:CreateGroup AWSSESSendingGroupDoNotRename\n\
             \x20 warning:         careful\n"
        );
        assert_eq!(CreateUserText(&report).to_string(), render(&report));
    }

    #[test]
    fn taken_names_are_usage_errors_naming_the_flags() {
        let e = error(CreateUserError::UserExists {
            user_name: "u".into(),
        });
        assert_eq!(crate::error::exit_code_for(&e), 2);
        assert!(e.to_string().contains("run `sesctl rotate u`"), "{e}");
        let e = error(CreateUserError::Secret(DeliverError::SecretExists {
            name: "smtp/app".into(),
        }));
        assert_eq!(crate::error::exit_code_for(&e), 2);
        assert!(e.to_string().contains("choose another --secret-name"), "{e}");
        let e = error(CreateUserError::Check(aws("iam:GetUser")));
        assert_eq!(crate::error::exit_code_for(&e), 1);
        assert!(crate::error::render(&e, false).starts_with(
            "sesctl: error: the checks before any change failed, so nothing was created: iam:GetUser was \
             denied"
        ));
    }

    #[test]
    fn a_failed_run_says_how_to_remove_what_is_left() {
        let e = failed(
            FailedStep::Login,
            Aftermath::RollbackIncomplete {
                removed: vec!["deleted access key AKIAEXAMPLE".into()],
                left: vec![("secret arn:s".into(), "denied".into())],
            },
        );
        let text = failed_text(&e);
        assert!(text.starts_with("create-user u failed at the SMTP login (--verify): iam:CreateAccessKey"));
        assert!(text.contains(
            "rollback was incomplete: undone: deleted access key AKIAEXAMPLE; could NOT remove secret arn:s \
             (denied). Remove what is left with `sesctl delete-user u --secret-name SECRET --region REGION` \
             once the cause is fixed"
        ));
        let kept = failed_text(&failed(
            FailedStep::Call("iam:CreateAccessKey"),
            Aftermath::Kept(vec!["user u".into()]),
        ));
        assert!(kept.ends_with(
            "; --no-rollback: kept for inspection: user u; delete them with `sesctl delete-user u` when done"
        ));
        let e = error(CreateUserError::Failed(failed(
            FailedStep::Call("iam:CreateUser"),
            Aftermath::NothingCreated,
        )));
        assert_eq!(crate::error::exit_code_for(&e), 1);
        assert_eq!(e.chain().count(), 1);
    }
}
