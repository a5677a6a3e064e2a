//! `setup`'s report as text, and its errors as the CLI shows them.

use std::fmt;

use serde::Serialize;

use crate::workflows::setup::{PolicyForm, SetupError, SetupReport};

/// The text of a setup report: the group, how it grants sending, and what this run did.
pub fn render(report: &SetupReport) -> String {
    let how = match report.form {
        PolicyForm::Inline => format!("inline policy {}", report.policy),
        PolicyForm::Managed => format!(
            "managed policy {}",
            report.policy_arn.as_deref().unwrap_or(&report.policy)
        ),
    };
    let mut out = format!(
        "Group {} is ready: it grants ses:SendRawEmail through the {how}.",
        report.group
    );
    if report.changes.is_empty() {
        out.push_str(" Nothing changed.\n");
    } else {
        out.push('\n');
        for c in &report.changes {
            out.push_str(&format!("  done: {c}\n"));
        }
    }
    out
}

/// A setup report as the printer takes it: [`render`] as text, the core's document as JSON.
#[derive(Serialize)]
#[serde(transparent)]
pub struct SetupText<'a>(pub &'a SetupReport);

impl fmt::Display for SetupText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(self.0))
    }
}

/// A setup failure as the CLI reports it (exit 1): a failed read says that nothing was changed; a
/// policy that cannot send, or a step that failed (with what stays), as the core words it.
pub fn error(e: SetupError) -> anyhow::Error {
    match e {
        SetupError::Aws(aws) => {
            anyhow::Error::new(aws).context("reading the sending group failed, so nothing was changed")
        }
        other @ (SetupError::ManagedPolicyCannotSend { .. }
        | SetupError::InlinePolicyCannotSend
        | SetupError::Unfinished { .. }) => anyhow::Error::new(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AwsError, ErrorKind};

    fn report(changes: &[&str]) -> SetupReport {
        SetupReport {
            group: "AWSSESSendingGroupDoNotRename".into(),
            policy: "AmazonSesSendingAccess".into(),
            form: PolicyForm::Managed,
            policy_arn: Some("arn:aws:iam::123456789012:policy/AmazonSesSendingAccess".into()),
            changes: changes.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn the_report_says_what_was_done() {
        assert_eq!(
            render(&report(&[])),
            "Group AWSSESSendingGroupDoNotRename is ready: it grants ses:SendRawEmail through the managed \
             policy arn:aws:iam::123456789012:policy/AmazonSesSendingAccess. Nothing changed.\n"
        );
        assert_eq!(
            render(&report(&["iam:CreateGroup AWSSESSendingGroupDoNotRename"])),
            "Group AWSSESSendingGroupDoNotRename is ready: it grants ses:SendRawEmail through the managed \
             policy arn:aws:iam::123456789012:policy/AmazonSesSendingAccess.\n  done: iam:CreateGroup \
             AWSSESSendingGroupDoNotRename\n"
        );
        let mut inline = report(&[]);
        inline.form = PolicyForm::Inline;
        assert!(render(&inline).contains("through the inline policy AmazonSesSendingAccess."));
        assert_eq!(SetupText(&inline).to_string(), render(&inline));
    }

    #[test]
    fn a_failed_step_says_what_stays() {
        let e = error(SetupError::Unfinished {
            error: AwsError {
                kind: ErrorKind::Timeout,
                action: "iam:AttachGroupPolicy",
                code: None,
                message: "timed out".into(),
            },
            changes: vec!["iam:CreateGroup AWSSESSendingGroupDoNotRename".into()],
        });
        assert_eq!(
            crate::error::render(&e, false),
            "sesctl: error: the sending group AWSSESSendingGroupDoNotRename is not ready (already done: \
             iam:CreateGroup AWSSESSendingGroupDoNotRename, which stays and is reused by the next run; \
             iam:AttachGroupPolicy got no answer and may have taken effect, which the next run also finds); \
             run the command again once the cause is fixed: iam:AttachGroupPolicy failed: timed out"
        );
        assert_eq!(crate::error::exit_code_for(&e), 1);
        let read = error(SetupError::Aws(AwsError {
            kind: ErrorKind::AccessDenied,
            action: "iam:GetGroup",
            code: None,
            message: "no".into(),
        }));
        assert!(read
            .to_string()
            .starts_with("reading the sending group failed, so nothing was changed"));
        assert_eq!(read.chain().count(), 2);
    }
}
