//! `setup`: make sure the group `AWSSESSendingGroupDoNotRename` grants `ses:SendRawEmail` through a
//! policy named `AmazonSesSendingAccess`, creating only what is missing.
//!
//! Two forms count as done: the customer-managed policy attached to the group (what the developer
//! guide's manual procedure builds, and what sesctl creates), or the inline group policy of that name
//! that today's console writes. A policy of that name that does not allow `ses:SendRawEmail` is an
//! error, never silently reused.

use std::fmt;

use serde::Serialize;

use super::Plan;
use crate::aws::iam::Iam;
use crate::aws::{AwsError, Caller, ErrorKind};
use crate::policy::{self, SENDING_POLICY_DOCUMENT, SEND_RAW_EMAIL};

pub const GROUP: &str = "AWSSESSendingGroupDoNotRename";
pub const POLICY: &str = "AmazonSesSendingAccess";
const POLICY_DESCRIPTION: &str = "Allows ses:SendRawEmail for SES SMTP credentials (created by sesctl)";

/// How the group grants sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyForm {
    /// The customer-managed policy attached to the group.
    Managed,
    /// The console's inline group policy.
    Inline,
}

/// What exists now, read from IAM (no changes).
#[derive(Debug, Clone)]
pub struct SetupState {
    pub group_exists: bool,
    pub inline_policy: bool,
    pub managed_policy_exists: bool,
    pub managed_policy_attached: bool,
    pub policy_arn: String,
}

impl SetupState {
    /// The calls that make the group ready, in order.
    pub fn plan(&self) -> Plan {
        let mut plan = Plan::new("setup");
        if self.group_exists && self.inline_policy {
            plan.note(format!(
                "group {GROUP} already grants sending through its inline policy {POLICY}"
            ));
            return plan;
        }
        if !self.managed_policy_exists {
            plan.call(
                "iam:CreatePolicy",
                format!("policy {POLICY} (policies/ses-sending-access.json)"),
            );
        }
        if !self.group_exists {
            plan.call("iam:CreateGroup", format!("group {GROUP}"));
        }
        if !self.managed_policy_attached {
            plan.call(
                "iam:AttachGroupPolicy",
                format!("{} to group {GROUP}", self.policy_arn),
            );
        }
        if plan.calls.is_empty() {
            plan.note(format!("group {GROUP} already has policy {POLICY} attached"));
        }
        plan
    }

    pub fn is_ready(&self) -> bool {
        self.plan().calls.is_empty()
    }
}

/// Reads the current state (iam:GetGroup, iam:ListGroupPolicies, iam:GetGroupPolicy,
/// iam:ListAttachedGroupPolicies, iam:GetPolicy, iam:GetPolicyVersion). Reads run concurrently.
/// A policy named `AmazonSesSendingAccess` that does not allow `ses:SendRawEmail` is an error.
pub async fn inspect(iam: &Iam, caller: &Caller) -> anyhow::Result<SetupState> {
    let policy_arn = caller.policy_arn(POLICY);
    // The group's policy lists do not depend on whether the group exists (a missing group answers
    // NoSuchEntity, read as "none"), so all four reads go out at once.
    let (group_exists, managed_doc, inline_names, attached) = tokio::try_join!(
        iam.group_exists(GROUP),
        iam.get_policy_document(&policy_arn),
        async { none_if_missing(iam.list_group_policies(GROUP).await) },
        async { none_if_missing(iam.list_attached_group_policies(GROUP).await) },
    )?;
    if let Some(doc) = &managed_doc {
        if !policy::allows(doc, SEND_RAW_EMAIL) {
            anyhow::bail!(
                "the managed policy {policy_arn} exists but does not allow {SEND_RAW_EMAIL}; fix or rename it \
                 (sesctl will not attach a policy of that name that cannot send)"
            );
        }
    }
    let mut state = SetupState {
        group_exists,
        inline_policy: false,
        managed_policy_exists: managed_doc.is_some(),
        managed_policy_attached: false,
        policy_arn,
    };
    if !group_exists {
        return Ok(state);
    }
    if inline_names.iter().any(|n| n == POLICY) {
        if let Some(doc) = iam.get_group_policy(GROUP, POLICY).await? {
            if !policy::allows(&doc, SEND_RAW_EMAIL) {
                anyhow::bail!(
                    "group {GROUP} has an inline policy {POLICY} that does not allow {SEND_RAW_EMAIL}; \
                     fix it in IAM (sesctl will not add a second policy beside it)"
                );
            }
            state.inline_policy = true;
        }
    }
    state.managed_policy_attached = attached.iter().any(|p| p.arn == state.policy_arn);
    Ok(state)
}

/// A list of a group that does not exist is empty.
fn none_if_missing<T>(listed: Result<Vec<T>, AwsError>) -> Result<Vec<T>, AwsError> {
    match listed {
        Err(e) if e.is(ErrorKind::NotFound) => Ok(Vec::new()),
        other => other,
    }
}

/// What `setup` did.
#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    pub group: String,
    pub policy: String,
    pub form: PolicyForm,
    pub policy_arn: Option<String>,
    /// The calls made, in order; empty when everything was already in place.
    pub changes: Vec<String>,
}

impl fmt::Display for SetupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match self.form {
            PolicyForm::Inline => format!("inline policy {}", self.policy),
            PolicyForm::Managed => format!(
                "managed policy {}",
                self.policy_arn.as_deref().unwrap_or(&self.policy)
            ),
        };
        if self.changes.is_empty() {
            writeln!(
                f,
                "Group {} is ready: it grants ses:SendRawEmail through the {how}. Nothing changed.",
                self.group
            )
        } else {
            writeln!(
                f,
                "Group {} is ready: it grants ses:SendRawEmail through the {how}.",
                self.group
            )?;
            for c in &self.changes {
                writeln!(f, "  done: {c}")?;
            }
            Ok(())
        }
    }
}

/// Makes the group ready, creating only what `state` lacks. Creation races with another run are
/// harmless: "already exists" counts as done.
pub async fn apply(iam: &Iam, state: &SetupState) -> anyhow::Result<SetupReport> {
    let mut changes = Vec::new();
    if state.group_exists && state.inline_policy {
        return Ok(SetupReport {
            group: GROUP.into(),
            policy: POLICY.into(),
            form: PolicyForm::Inline,
            policy_arn: None,
            changes,
        });
    }
    let create_policy = async {
        if state.managed_policy_exists {
            return Ok(false);
        }
        match iam
            .create_policy(POLICY, SENDING_POLICY_DOCUMENT, POLICY_DESCRIPTION)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is(ErrorKind::AlreadyExists) => Ok(false),
            Err(e) => Err(e),
        }
    };
    let create_group = async {
        if state.group_exists {
            return Ok(false);
        }
        match iam.create_group(GROUP).await {
            Ok(()) => Ok(true),
            Err(e) if e.is(ErrorKind::AlreadyExists) => Ok(false),
            Err(e) => Err(e),
        }
    };
    // Both run to the end (neither is cancelled when the other fails), so a failure can say exactly
    // what this run made.
    let (created_policy, created_group) = tokio::join!(create_policy, create_group);
    let mut failed = None;
    match created_policy {
        Ok(true) => changes.push(format!("iam:CreatePolicy {POLICY}")),
        Ok(false) => {}
        Err(e) => failed = Some(e),
    }
    match created_group {
        Ok(true) => changes.push(format!("iam:CreateGroup {GROUP}")),
        Ok(false) => {}
        Err(e) => failed = failed.or(Some(e)),
    }
    if let Some(e) = failed {
        return Err(unfinished(e, &changes));
    }
    if !state.managed_policy_attached {
        if let Err(e) = iam.attach_group_policy(GROUP, &state.policy_arn).await {
            return Err(unfinished(e, &changes));
        }
        changes.push(format!("iam:AttachGroupPolicy {} to {GROUP}", state.policy_arn));
    }
    Ok(SetupReport {
        group: GROUP.into(),
        policy: POLICY.into(),
        form: PolicyForm::Managed,
        policy_arn: Some(state.policy_arn.clone()),
        changes,
    })
}

/// A failed step of `apply`, saying what this run had already made (it stays: the next run finds it
/// and does only the rest).
fn unfinished(e: AwsError, changes: &[String]) -> anyhow::Error {
    let mut done = if changes.is_empty() {
        "nothing was changed".to_string()
    } else {
        format!(
            "already done: {}, which stays and is reused by the next run",
            changes.join(", ")
        )
    };
    if matches!(e.kind, ErrorKind::Network | ErrorKind::Timeout) {
        done.push_str(&format!(
            "; {} got no answer and may have taken effect, which the next run also finds",
            e.action
        ));
    }
    anyhow::Error::new(e).context(format!(
        "the sending group {GROUP} is not ready ({done}); run the command again once the cause is fixed"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(group: bool, inline: bool, exists: bool, attached: bool) -> SetupState {
        SetupState {
            group_exists: group,
            inline_policy: inline,
            managed_policy_exists: exists,
            managed_policy_attached: attached,
            policy_arn: "arn:aws:iam::123456789012:policy/AmazonSesSendingAccess".into(),
        }
    }

    #[test]
    fn nothing_exists_plans_three_calls_in_order() {
        let actions: Vec<String> = state(false, false, false, false)
            .plan()
            .calls
            .into_iter()
            .map(|c| c.action)
            .collect();
        assert_eq!(
            actions,
            ["iam:CreatePolicy", "iam:CreateGroup", "iam:AttachGroupPolicy"]
        );
    }

    #[test]
    fn inline_group_policy_counts_as_done() {
        assert!(state(true, true, false, false).is_ready());
    }

    #[test]
    fn only_missing_pieces_are_planned() {
        let p = state(true, false, true, false).plan();
        assert_eq!(p.calls.len(), 1);
        assert_eq!(p.calls[0].action, "iam:AttachGroupPolicy");
        assert!(state(true, false, true, true).is_ready());
    }
}
