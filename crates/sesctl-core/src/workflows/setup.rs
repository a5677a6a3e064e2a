//! `setup`: make sure the group `AWSSESSendingGroupDoNotRename` grants `ses:SendRawEmail` through a
//! policy named `AmazonSesSendingAccess`, creating only what is missing.
//!
//! Two forms count as done: the customer-managed policy attached to the group (what the developer
//! guide's manual procedure builds, and what sesctl creates), or the inline group policy of that name
//! that today's console writes. A policy of that name that does not allow `ses:SendRawEmail` is an
//! error, never silently reused.

use std::fmt;

use serde::Serialize;

use super::{Plan, PlanNote, PlannedCall};
use crate::aws::iam::Iam;
use crate::aws::{AwsError, Caller, ErrorKind};
use crate::policy::{self, SENDING_POLICY_DOCUMENT, SEND_RAW_EMAIL};

use crate::vocabulary::POLICY_DESCRIPTION;
pub use crate::vocabulary::{GROUP, POLICY};

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

/// One change `setup` makes, in the order the plan lists them. The plan is computed once from the
/// inspected state ([`SetupState::steps`]); `--dry-run` prints it and [`run`] carries it out as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// iam:CreatePolicy: the customer-managed policy from `policies/ses-sending-access.json`.
    CreatePolicy,
    /// iam:CreateGroup.
    CreateGroup,
    /// iam:AttachGroupPolicy of the policy (by ARN) to the group.
    AttachPolicy(String),
}

impl Step {
    /// The call and what it acts on, as the plan shows it.
    pub fn call(&self) -> PlannedCall {
        match self {
            Step::CreatePolicy => PlannedCall::new(
                "iam:CreatePolicy",
                format!("policy {POLICY} (policies/ses-sending-access.json)"),
            ),
            Step::CreateGroup => PlannedCall::new("iam:CreateGroup", format!("group {GROUP}")),
            Step::AttachPolicy(arn) => {
                PlannedCall::new("iam:AttachGroupPolicy", format!("{arn} to group {GROUP}"))
            }
        }
    }

    /// The step needs what the steps before it made (the group and the policy must exist before
    /// one is attached to the other); the steps between two such steps run concurrently.
    fn needs_earlier(&self) -> bool {
        matches!(self, Step::AttachPolicy(_))
    }

    /// The ledger's line for a step this run carried out.
    fn done(&self) -> String {
        match self {
            Step::CreatePolicy => format!("iam:CreatePolicy {POLICY}"),
            Step::CreateGroup => format!("iam:CreateGroup {GROUP}"),
            Step::AttachPolicy(arn) => format!("iam:AttachGroupPolicy {arn} to {GROUP}"),
        }
    }

    /// Makes the change: `Ok(true)` when this run made it, `Ok(false)` when a creation raced with
    /// another run ("already exists" counts as done).
    async fn run(&self, iam: &Iam) -> Result<bool, AwsError> {
        let made = match self {
            Step::CreatePolicy => iam
                .create_policy(POLICY, SENDING_POLICY_DOCUMENT, POLICY_DESCRIPTION)
                .await
                .map(|_| ()),
            Step::CreateGroup => iam.create_group(GROUP).await,
            Step::AttachPolicy(arn) => iam.attach_group_policy(GROUP, arn).await,
        };
        match made {
            Ok(()) => Ok(true),
            Err(e)
                if matches!(self, Step::CreatePolicy | Step::CreateGroup)
                    && e.is(ErrorKind::AlreadyExists) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

impl SetupState {
    /// The console's inline group policy is there and grants sending: nothing is to be done.
    fn inline_ready(&self) -> bool {
        self.group_exists && self.inline_policy
    }

    /// How the group grants sending once the steps are done.
    pub fn form(&self) -> PolicyForm {
        if self.inline_ready() {
            PolicyForm::Inline
        } else {
            PolicyForm::Managed
        }
    }

    /// The changes that make the group ready, in order: the decision, made once from the state.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.inline_ready() {
            return steps;
        }
        if !self.managed_policy_exists {
            steps.push(Step::CreatePolicy);
        }
        if !self.group_exists {
            steps.push(Step::CreateGroup);
        }
        if !self.managed_policy_attached {
            steps.push(Step::AttachPolicy(self.policy_arn.clone()));
        }
        steps
    }

    /// What the plan says beside its calls.
    pub fn notes(&self, steps: &[Step]) -> Vec<PlanNote> {
        if self.inline_ready() {
            vec![format!("group {GROUP} already grants sending through its inline policy {POLICY}").into()]
        } else if steps.is_empty() {
            vec![format!("group {GROUP} already has policy {POLICY} attached").into()]
        } else {
            Vec::new()
        }
    }

    /// The calls that make the group ready, in order (what `--dry-run` prints).
    pub fn plan(&self) -> Plan {
        self.plan_for(&self.steps())
    }

    /// `steps`, the steps decided from this state, as the plan `--dry-run` prints.
    pub fn plan_for(&self, steps: &[Step]) -> Plan {
        let mut plan = Plan::new("setup");
        plan.calls.extend(steps.iter().map(Step::call));
        plan.notes.extend(self.notes(steps));
        plan
    }

    pub fn is_ready(&self) -> bool {
        self.steps().is_empty()
    }
}

/// Reads the current state (iam:GetGroup, iam:ListGroupPolicies, iam:GetGroupPolicy,
/// iam:ListAttachedGroupPolicies, iam:GetPolicy, iam:GetPolicyVersion). Reads run concurrently.
/// A policy named `AmazonSesSendingAccess` that does not allow `ses:SendRawEmail` is an error.
pub async fn inspect(iam: &Iam, caller: &Caller) -> Result<SetupState, SetupError> {
    let policy_arn = caller.policy_arn(POLICY);
    // The group's policy lists do not depend on whether the group exists (a missing group answers
    // NoSuchEntity, read as "none"), so all four reads go out at once.
    let (group_exists, managed_doc, inline_names, attached) = tokio::try_join!(
        iam.group_exists(GROUP),
        iam.get_policy_document(&policy_arn),
        async { none_if_missing(iam.list_group_policies(GROUP).await) },
        async { none_if_missing(iam.list_attached_group_policies(GROUP).await) },
    )
    .map_err(SetupError::Aws)?;
    if let Some(doc) = &managed_doc {
        if !policy::allows(doc, SEND_RAW_EMAIL) {
            return Err(SetupError::ManagedPolicyCannotSend { policy_arn });
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
        if let Some(doc) = iam
            .get_group_policy(GROUP, POLICY)
            .await
            .map_err(SetupError::Aws)?
        {
            if !policy::allows(&doc, SEND_RAW_EMAIL) {
                return Err(SetupError::InlinePolicyCannotSend);
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

/// Makes the group ready, creating only what `state` lacks: runs the plan's steps ([`run`]).
pub async fn apply(iam: &Iam, state: &SetupState) -> Result<SetupReport, SetupError> {
    run(iam, state, &state.steps()).await
}

/// The executor: carries out `steps` (the plan made from `state`) as listed, appending each change it
/// made to its ledger, the report's `changes`. Steps run concurrently up to one that needs what came
/// before it, and every step of such a run goes to its end (none is cancelled when another fails), so
/// a failure can say exactly what this run made. Nothing is walked back: what was made stays and the
/// next run reuses it. Creation races with another run are harmless: "already exists" counts as done.
pub async fn run(iam: &Iam, state: &SetupState, steps: &[Step]) -> Result<SetupReport, SetupError> {
    let mut changes = Vec::new();
    for wave in waves(steps) {
        let results = futures::future::join_all(wave.iter().map(|s| s.run(iam))).await;
        let mut failed = None;
        for (step, result) in wave.iter().zip(results) {
            match result {
                Ok(true) => changes.push(step.done()),
                Ok(false) => {}
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        if let Some(e) = failed {
            return Err(SetupError::Unfinished { error: e, changes });
        }
    }
    let form = state.form();
    Ok(SetupReport {
        group: GROUP.into(),
        policy: POLICY.into(),
        form,
        policy_arn: (form == PolicyForm::Managed).then(|| state.policy_arn.clone()),
        changes,
    })
}

/// The plan's steps cut where a step needs the ones before it: the steps of one wave run together.
fn waves(steps: &[Step]) -> Vec<&[Step]> {
    let mut waves = Vec::new();
    let mut rest = steps;
    while !rest.is_empty() {
        let together = 1 + rest[1..].iter().take_while(|s| !s.needs_earlier()).count();
        let (wave, after) = rest.split_at(together);
        waves.push(wave);
        rest = after;
    }
    waves
}

/// Why `setup` could not make the sending group ready.
#[derive(Debug)]
pub enum SetupError {
    /// Reading the group's state failed (an IAM or STS read), so nothing was changed. Shown as the AWS
    /// error itself.
    Aws(AwsError),
    /// The customer-managed policy of sesctl's name exists but does not allow `ses:SendRawEmail`; it is
    /// never attached.
    ManagedPolicyCannotSend { policy_arn: String },
    /// The group has an inline policy of sesctl's name that does not allow `ses:SendRawEmail`; no
    /// second policy is added beside it.
    InlinePolicyCannotSend,
    /// A step failed. What this run had already made (`changes`, the ledger's lines) stays: the next
    /// run finds it and does only the rest.
    Unfinished { error: AwsError, changes: Vec<String> },
}

impl SetupError {
    /// The AWS failure behind the error, if one is.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            SetupError::Aws(error) | SetupError::Unfinished { error, .. } => Some(error),
            SetupError::ManagedPolicyCannotSend { .. } | SetupError::InlinePolicyCannotSend => None,
        }
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Aws(e) => e.fmt(f),
            SetupError::ManagedPolicyCannotSend { policy_arn } => write!(
                f,
                "the managed policy {policy_arn} exists but does not allow {SEND_RAW_EMAIL}; fix or rename \
                 it (sesctl will not attach a policy of that name that cannot send)"
            ),
            SetupError::InlinePolicyCannotSend => write!(
                f,
                "group {GROUP} has an inline policy {POLICY} that does not allow {SEND_RAW_EMAIL}; fix it in \
                 IAM (sesctl will not add a second policy beside it)"
            ),
            SetupError::Unfinished { error, changes } => {
                let mut done = if changes.is_empty() {
                    "nothing was changed".to_string()
                } else {
                    format!(
                        "already done: {}, which stays and is reused by the next run",
                        changes.join(", ")
                    )
                };
                if matches!(error.kind, ErrorKind::Network | ErrorKind::Timeout) {
                    done.push_str(&format!(
                        "; {} got no answer and may have taken effect, which the next run also finds",
                        error.action
                    ));
                }
                write!(
                    f,
                    "the sending group {GROUP} is not ready ({done}); run the command again once the \
                     cause is fixed"
                )
            }
        }
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Shown as the AWS error itself, so the AWS error is not its cause as well.
            SetupError::Aws(_) => None,
            SetupError::Unfinished { error, .. } => Some(error),
            SetupError::ManagedPolicyCannotSend { .. } | SetupError::InlinePolicyCannotSend => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:iam::123456789012:policy/AmazonSesSendingAccess";

    fn state(group: bool, inline: bool, exists: bool, attached: bool) -> SetupState {
        SetupState {
            group_exists: group,
            inline_policy: inline,
            managed_policy_exists: exists,
            managed_policy_attached: attached,
            policy_arn: ARN.into(),
        }
    }

    #[test]
    fn nothing_exists_plans_three_calls_in_order() {
        let s = state(false, false, false, false);
        assert_eq!(
            s.steps(),
            [
                Step::CreatePolicy,
                Step::CreateGroup,
                Step::AttachPolicy(ARN.into())
            ]
        );
        let actions: Vec<String> = s.plan().calls.into_iter().map(|c| c.action).collect();
        assert_eq!(
            actions,
            ["iam:CreatePolicy", "iam:CreateGroup", "iam:AttachGroupPolicy"]
        );
    }

    #[test]
    fn inline_group_policy_counts_as_done() {
        let s = state(true, true, false, false);
        assert!(s.is_ready());
        assert_eq!(s.form(), PolicyForm::Inline);
        assert!(s.plan().notes[0].text().unwrap().contains("inline policy"));
    }

    #[test]
    fn only_missing_pieces_are_planned() {
        let p = state(true, false, true, false).plan();
        assert_eq!(p.calls.len(), 1);
        assert_eq!(p.calls[0].action, "iam:AttachGroupPolicy");
        assert_eq!(p.calls[0].target, format!("{ARN} to group {GROUP}"));
        let ready = state(true, false, true, true);
        assert!(ready.is_ready());
        assert_eq!(ready.form(), PolicyForm::Managed);
        assert!(ready.plan().notes[0]
            .text()
            .unwrap()
            .contains("already has policy"));
        // A group deleted by hand while the policy stayed: the group is made again and attached.
        assert_eq!(
            state(false, false, true, false).steps(),
            [Step::CreateGroup, Step::AttachPolicy(ARN.into())]
        );
    }

    #[test]
    fn the_plan_lists_the_steps_the_executor_runs() {
        for bits in 0..16u8 {
            let s = state(bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0);
            let calls: Vec<PlannedCall> = s.steps().iter().map(Step::call).collect();
            assert_eq!(s.plan().calls, calls, "{s:?}");
        }
    }

    #[test]
    fn creations_run_together_and_the_attachment_after_them() {
        let steps = state(false, false, false, false).steps();
        assert_eq!(
            waves(&steps),
            [&steps[..2], &steps[2..]],
            "CreatePolicy and CreateGroup together, then AttachGroupPolicy"
        );
        let attach = [Step::AttachPolicy(ARN.into())];
        assert_eq!(waves(&attach), [&attach[..]]);
        assert!(waves(&[]).is_empty());
    }

    #[test]
    fn errors_say_what_stays_and_cause_an_aws_error() {
        use std::error::Error as _;
        let aws = AwsError {
            kind: ErrorKind::Other,
            action: "iam:AttachGroupPolicy",
            code: None,
            message: "boom".into(),
        };
        let e = SetupError::Unfinished {
            error: aws.clone(),
            changes: vec![format!("iam:CreateGroup {GROUP}")],
        };
        assert_eq!(
            e.to_string(),
            format!(
                "the sending group {GROUP} is not ready (already done: iam:CreateGroup {GROUP}, which stays \
                 and is reused by the next run); run the command again once the cause is fixed"
            )
        );
        assert_eq!(e.source().unwrap().to_string(), aws.to_string());
        assert_eq!(e.aws().map(|a| a.action), Some("iam:AttachGroupPolicy"));
        let read = SetupError::Aws(aws.clone());
        assert_eq!(read.to_string(), aws.to_string());
        assert!(read.source().is_none());
        let managed = SetupError::ManagedPolicyCannotSend {
            policy_arn: ARN.into(),
        };
        assert!(managed.to_string().starts_with(&format!(
            "the managed policy {ARN} exists but does not allow ses:SendRawEmail"
        )));
        assert!(managed.aws().is_none());
    }
}
