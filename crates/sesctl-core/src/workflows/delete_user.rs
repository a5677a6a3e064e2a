//! `delete-user`: remove an IAM user and everything that makes iam:DeleteUser refuse (DeleteConflict),
//! in IAM's documented order, and optionally schedule the deletion of its Secrets Manager secret.
//!
//! [`inspect`] reads what the user holds (no changes); [`UserState::steps`] turns it into the calls to
//! make, which `--dry-run` prints as a [`Plan`]; [`execute`] makes them. Every step treats "already
//! gone" as done, so a run that stopped half way can simply be run again.
//!
//! Every entry point fails with a [`DeleteUserError`]: data (names, the AWS error, what was done), for
//! the front end to word with its own advice. [`DeleteReport`] is data too.

use std::fmt;

use serde::Serialize;

use super::setup::{GROUP, POLICY};
use super::{Plan, PlannedCall};
use crate::aws::cleanup::ServiceCredential;
use crate::aws::iam::{AccessKey, AttachedPolicy, Iam, User};
use crate::aws::secrets::{Secrets, STAGE_CURRENT};
use crate::aws::{AwsError, ErrorKind};
use crate::credential::{FormatError, Shape, StoredCredential};
use crate::policy::{self, SEND_RAW_EMAIL};
use crate::vocabulary::CONSOLE_TAG;

/// Everything the user holds, as read before any change.
#[derive(Debug, Clone)]
pub struct UserState {
    pub user: User,
    pub access_keys: Vec<AccessKey>,
    pub login_profile: bool,
    pub signing_certificates: Vec<String>,
    pub ssh_public_keys: Vec<String>,
    pub service_credentials: Vec<ServiceCredential>,
    /// Set when the service-specific credentials could not be listed (the call is denied, or the
    /// endpoint does not offer it): the plan says so, and a DeleteConflict is explained with it.
    pub service_credentials_unknown: Option<String>,
    pub mfa_devices: Vec<String>,
    pub inline_policies: Vec<String>,
    pub attached_policies: Vec<AttachedPolicy>,
    pub groups: Vec<String>,
    /// Why this is an SMTP user; empty when it is not one.
    pub smtp_reasons: Vec<String>,
}

/// The secret to schedule for deletion, as found before any change.
#[derive(Debug, Clone)]
pub struct SecretTarget {
    pub name: String,
    pub region: String,
    pub recovery_window_days: i64,
    /// Already scheduled for deletion: nothing to do.
    pub already_scheduled: bool,
}

/// One change, in the order IAM needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    DeleteAccessKey(String),
    DeleteLoginProfile,
    DeleteSigningCertificate(String),
    DeleteSshPublicKey(String),
    DeleteServiceSpecificCredential(String),
    DeactivateMfaDevice(String),
    DeleteVirtualMfaDevice(String),
    DeleteUserPolicy(String),
    DetachUserPolicy(String),
    RemoveUserFromGroup(String),
    DeleteUser,
    ScheduleSecretDeletion { name: String, days: i64 },
}

impl Step {
    /// The IAM (or Secrets Manager) action and what it acts on.
    pub fn call(&self, user: &str) -> PlannedCall {
        let (action, target) = match self {
            Step::DeleteAccessKey(id) => ("iam:DeleteAccessKey", format!("{id} of {user}")),
            Step::DeleteLoginProfile => ("iam:DeleteLoginProfile", format!("console password of {user}")),
            Step::DeleteSigningCertificate(id) => ("iam:DeleteSigningCertificate", format!("{id} of {user}")),
            Step::DeleteSshPublicKey(id) => ("iam:DeleteSSHPublicKey", format!("{id} of {user}")),
            Step::DeleteServiceSpecificCredential(id) => {
                ("iam:DeleteServiceSpecificCredential", format!("{id} of {user}"))
            }
            Step::DeactivateMfaDevice(s) => ("iam:DeactivateMFADevice", format!("{s} of {user}")),
            Step::DeleteVirtualMfaDevice(s) => ("iam:DeleteVirtualMFADevice", s.clone()),
            Step::DeleteUserPolicy(p) => ("iam:DeleteUserPolicy", format!("inline policy {p} of {user}")),
            Step::DetachUserPolicy(arn) => ("iam:DetachUserPolicy", format!("{arn} from {user}")),
            Step::RemoveUserFromGroup(g) => ("iam:RemoveUserFromGroup", format!("{user} from group {g}")),
            Step::DeleteUser => ("iam:DeleteUser", format!("user {user}")),
            Step::ScheduleSecretDeletion { name, days } => (
                "secretsmanager:DeleteSecret",
                format!("secret {name} (recoverable for {days} days)"),
            ),
        };
        PlannedCall::new(action, target)
    }
}

impl UserState {
    pub fn is_smtp_user(&self) -> bool {
        !self.smtp_reasons.is_empty()
    }

    /// The changes, in IAM's order: credentials, then policies, then groups, then the user; the
    /// secret last, once the credential it holds is gone.
    pub fn steps(&self, secret: Option<&SecretTarget>) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::new();
        steps.extend(
            self.access_keys
                .iter()
                .map(|k| Step::DeleteAccessKey(k.id.clone())),
        );
        if self.login_profile {
            steps.push(Step::DeleteLoginProfile);
        }
        steps.extend(
            self.signing_certificates
                .iter()
                .map(|c| Step::DeleteSigningCertificate(c.clone())),
        );
        steps.extend(
            self.ssh_public_keys
                .iter()
                .map(|k| Step::DeleteSshPublicKey(k.clone())),
        );
        steps.extend(
            self.service_credentials
                .iter()
                .map(|c| Step::DeleteServiceSpecificCredential(c.id.clone())),
        );
        for serial in &self.mfa_devices {
            steps.push(Step::DeactivateMfaDevice(serial.clone()));
            // Virtual devices are named by ARN and outlive the user unless deleted.
            if serial.starts_with("arn:") && serial.contains(":mfa/") {
                steps.push(Step::DeleteVirtualMfaDevice(serial.clone()));
            }
        }
        steps.extend(
            self.inline_policies
                .iter()
                .map(|p| Step::DeleteUserPolicy(p.clone())),
        );
        steps.extend(
            self.attached_policies
                .iter()
                .map(|p| Step::DetachUserPolicy(p.arn.clone())),
        );
        steps.extend(self.groups.iter().map(|g| Step::RemoveUserFromGroup(g.clone())));
        steps.push(Step::DeleteUser);
        if let Some(s) = secret.filter(|s| !s.already_scheduled) {
            steps.push(Step::ScheduleSecretDeletion {
                name: s.name.clone(),
                days: s.recovery_window_days,
            });
        }
        steps
    }

    /// The `--dry-run` plan.
    pub fn plan(&self, secret: Option<&SecretTarget>) -> Plan {
        let mut plan = Plan::new("delete-user");
        for step in self.steps(secret) {
            plan.calls.push(step.call(&self.user.name));
        }
        if self.is_smtp_user() {
            plan.note(format!(
                "{} is an SMTP user ({})",
                self.user.name,
                self.smtp_reasons.join(", ")
            ));
        } else {
            plan.note(format!("{} is not an SMTP user", self.user.name));
        }
        if let Some(why) = &self.service_credentials_unknown {
            plan.note(format!(
                "service-specific credentials could not be listed ({why}); if the user has any, \
                 IAM will refuse DeleteUser until they are removed"
            ));
        }
        if let Some(s) = secret.filter(|s| s.already_scheduled) {
            plan.note(format!("secret {} is already scheduled for deletion", s.name));
        }
        plan
    }
}

/// Reads what `name` holds; `None` when there is no such user. Actions: iam:GetUser,
/// iam:ListAccessKeys, iam:GetLoginProfile, iam:ListSigningCertificates, iam:ListSSHPublicKeys,
/// iam:ListServiceSpecificCredentials, iam:ListMFADevices, iam:ListUserPolicies,
/// iam:ListAttachedUserPolicies, iam:ListGroupsForUser, iam:ListUserTags, and, only when needed to
/// tell an SMTP user, iam:GetUserPolicy, iam:GetPolicy and iam:GetPolicyVersion.
pub async fn inspect(iam: &Iam, name: &str) -> Result<Option<UserState>, DeleteUserError> {
    read_user(iam, name)
        .await
        .map_err(|error| DeleteUserError::ReadUser {
            user: name.to_string(),
            error,
        })
}

async fn read_user(iam: &Iam, name: &str) -> Result<Option<UserState>, AwsError> {
    let Some(user) = iam.get_user(name).await? else {
        return Ok(None);
    };
    let (access_keys, login_profile, signing_certificates, ssh_public_keys, mfa_devices) = tokio::try_join!(
        iam.list_access_keys(name),
        iam.has_login_profile(name),
        iam.list_signing_certificates(name),
        iam.list_ssh_public_keys(name),
        iam.list_mfa_devices(name),
    )?;
    let (inline_policies, attached_policies, groups, tags) = tokio::try_join!(
        iam.list_user_policies(name),
        iam.list_attached_user_policies(name),
        iam.list_groups_for_user(name),
        iam.list_user_tags(name),
    )?;
    let (service_credentials, service_credentials_unknown) =
        match iam.list_service_specific_credentials(name).await {
            Ok(c) => (c, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };

    let mut smtp_reasons = Vec::new();
    if groups.iter().any(|g| g == GROUP) {
        smtp_reasons.push(format!("member of {GROUP}"));
    }
    if inline_policies.iter().any(|p| p == POLICY) {
        smtp_reasons.push(format!("inline policy {POLICY}"));
    }
    if tags.iter().any(|(k, v)| k == CONSOLE_TAG.0 && v == CONSOLE_TAG.1) {
        smtp_reasons.push(format!("tagged {}={}", CONSOLE_TAG.0, CONSOLE_TAG.1));
    }
    let create_run = crate::workflows::create_user::TAG_CREATE_RUN;
    if tags.iter().any(|(k, _)| k == create_run) {
        smtp_reasons.push(format!("made by sesctl create-user (tagged {create_run})"));
    }
    if smtp_reasons.is_empty() {
        // Only now read documents: a policy of the user's own that allows sending.
        for p in inline_policies.iter() {
            if let Some(doc) = iam.get_user_policy(name, p).await? {
                if policy::allows(&doc, SEND_RAW_EMAIL) {
                    smtp_reasons.push(format!("inline policy {p} allows {SEND_RAW_EMAIL}"));
                }
            }
        }
        for p in attached_policies.iter() {
            if let Some(doc) = iam.get_policy_document(&p.arn).await? {
                if policy::allows(&doc, SEND_RAW_EMAIL) {
                    smtp_reasons.push(format!("attached policy {} allows {SEND_RAW_EMAIL}", p.name));
                }
            }
        }
    }
    Ok(Some(UserState {
        user,
        access_keys,
        login_profile,
        signing_certificates,
        ssh_public_keys,
        service_credentials,
        service_credentials_unknown,
        mfa_devices,
        inline_policies,
        attached_policies,
        groups,
        smtp_reasons,
    }))
}

/// Looks up the secret before any change (secretsmanager:DescribeSecret, and
/// secretsmanager:GetSecretValue to see whose credential it holds). A missing secret, or one that
/// holds another user's credential (unless `force`), is an error.
pub async fn inspect_secret(
    secrets: &Secrets,
    name: &str,
    region: &str,
    user: &str,
    user_keys: &[String],
    recovery_window_days: i64,
    force: bool,
) -> Result<SecretTarget, DeleteUserError> {
    let read_failed = |error| DeleteUserError::ReadSecret {
        name: name.to_string(),
        region: region.to_string(),
        error,
    };
    let Some(info) = secrets.describe(name).await.map_err(read_failed)? else {
        return Err(DeleteUserError::NoSuchSecret {
            name: name.to_string(),
            region: region.to_string(),
        });
    };
    let target = SecretTarget {
        name: name.to_string(),
        region: region.to_string(),
        recovery_window_days,
        already_scheduled: info.deleted.is_some(),
    };
    if target.already_scheduled || force {
        return Ok(target);
    }
    let tagged = info
        .tags
        .iter()
        .any(|(k, v)| k == super::deliver::TAG_IAM_USER && v == user);
    let value = secrets
        .get_value(name, STAGE_CURRENT)
        .await
        .map_err(read_failed)?;
    match recognise(value.as_ref().map(|v| &v.value), user_keys) {
        Recognised::Owner(owner) if owner != user => Err(DeleteUserError::SecretOfAnotherUser {
            name: name.to_string(),
            owner,
            user: user.to_string(),
        }),
        Recognised::Owner(_) | Recognised::UsersKey => Ok(target),
        Recognised::No(why) if !tagged => Err(DeleteUserError::SecretNotRecognised {
            name: name.to_string(),
            user: user.to_string(),
            why,
        }),
        Recognised::No(_) => Ok(target),
    }
}

/// What a secret's current value says about whose credential it is.
enum Recognised {
    /// A value naming this IAM user (sesctl's format).
    Owner(String),
    /// Another tool's shape (`{"username", …}`, `{"SMTP_USERNAME", …}`, `AKID:password`) holding one
    /// of the user's access key ids.
    UsersKey,
    /// Nothing that ties it to the user.
    No(Unrecognised),
}

/// What a secret is instead of the user's credential; never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrecognised {
    /// It has no string value (a binary secret, or no AWSCURRENT version).
    NoStringValue,
    /// A credential of this shape whose SMTP user name is none of the user's access keys.
    OtherKey(Shape),
    /// Not an SMTP credential the codec reads.
    NotACredential(FormatError),
}

impl fmt::Display for Unrecognised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unrecognised::NoStringValue => {
                f.write_str("it has no string value (a binary secret, or no AWSCURRENT version)")
            }
            Unrecognised::OtherKey(shape) => {
                write!(
                    f,
                    "{shape}, whose SMTP user name is none of the user's access keys"
                )
            }
            Unrecognised::NotACredential(e) => write!(f, "it is not an SMTP credential sesctl reads: {e}"),
        }
    }
}

/// Reads the value with the credential codec ([`crate::credential`]): a value naming its IAM user is
/// that user's, whatever else it holds; another shape is the user's when it holds one of its keys.
fn recognise(value: Option<&crate::secret::Secret>, user_keys: &[String]) -> Recognised {
    let Some(value) = value else {
        return Recognised::No(Unrecognised::NoStringValue);
    };
    if let Some(owner) = crate::credential::named_user(value) {
        return Recognised::Owner(owner);
    }
    match StoredCredential::parse(value) {
        Ok(c) if user_keys.contains(&c.username) => Recognised::UsersKey,
        Ok(c) => Recognised::No(Unrecognised::OtherKey(c.shape)),
        Err(e) => Recognised::No(Unrecognised::NotACredential(e)),
    }
}

/// Schedules the deletion of a secret whose IAM user is already gone (a `delete-user` that stopped
/// after iam:DeleteUser, run again).
pub async fn delete_secret_only(
    secrets: &Secrets,
    user: &str,
    secret: &SecretTarget,
) -> Result<DeleteReport, DeleteUserError> {
    let step = Step::ScheduleSecretDeletion {
        name: secret.name.clone(),
        days: secret.recovery_window_days,
    };
    let mut notes = vec![format!(
        "IAM user {user} was already deleted (an earlier run got that far)"
    )];
    if secret.already_scheduled {
        notes.push(format!(
            "secret {} was already scheduled for deletion",
            secret.name
        ));
    } else if let Err(error) = secrets
        .delete(&secret.name, Some(secret.recovery_window_days))
        .await
    {
        if !error.is(ErrorKind::NotFound) {
            return Err(DeleteUserError::Stopped(DeleteFailed {
                user: user.to_string(),
                done: Vec::new(),
                failed: step.call(user),
                error,
                conflict: None,
            }));
        }
    }
    Ok(DeleteReport {
        user_name: user.to_string(),
        deleted: true,
        done: if secret.already_scheduled {
            Vec::new()
        } else {
            vec![step.call(user)]
        },
        secret: Some(format!("{} ({})", secret.name, secret.region)),
        notes,
    })
}

/// What `delete-user` did.
#[derive(Debug, Clone, Serialize)]
pub struct DeleteReport {
    pub user_name: String,
    pub deleted: bool,
    /// The calls made, in order.
    pub done: Vec<PlannedCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A step that failed, with the ones done before it.
#[derive(Debug)]
pub struct DeleteFailed {
    pub user: String,
    /// The calls made before the failed one, in order.
    pub done: Vec<PlannedCall>,
    pub failed: PlannedCall,
    pub error: AwsError,
    /// Set when IAM refused iam:DeleteUser with DeleteConflict: what is known of what is left.
    pub conflict: Option<Conflict>,
}

impl fmt::Display for DeleteFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deleting user {} stopped at {} {} after {} step(s) were done",
            self.user,
            self.failed.action,
            self.failed.target,
            self.done.len()
        )
    }
}

impl std::error::Error for DeleteFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Why IAM refused iam:DeleteUser (DeleteConflict) after everything read was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The user's service-specific credentials could not be listed (the reason): they may be left.
    UnlistedServiceCredentials(String),
    /// Something was added to the user after it was read.
    AddedAfterRead,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::UnlistedServiceCredentials(why) => write!(
                f,
                "IAM says something still belongs to the user; its service-specific credentials could not \
                 be listed ({why})"
            ),
            Conflict::AddedAfterRead => {
                f.write_str("IAM says something still belongs to the user that was added after it was read")
            }
        }
    }
}

/// Why `delete-user` stopped. Nothing was changed unless the error is [`DeleteUserError::Stopped`].
#[derive(Debug)]
pub enum DeleteUserError {
    /// Reading the user (what it holds, its policies) failed.
    ReadUser { user: String, error: AwsError },
    /// Reading the secret failed.
    ReadSecret {
        name: String,
        region: String,
        error: AwsError,
    },
    /// There is no such secret in that region.
    NoSuchSecret { name: String, region: String },
    /// The secret holds the credential of IAM user `owner`, not `user` (bad input).
    SecretOfAnotherUser {
        name: String,
        owner: String,
        user: String,
    },
    /// Nothing ties the secret to `user` (bad input).
    SecretNotRecognised {
        name: String,
        user: String,
        why: Unrecognised,
    },
    /// A change failed after the ones before it were made.
    Stopped(DeleteFailed),
}

impl DeleteUserError {
    /// Whether the input was refused before anything changed (a secret that is not the user's).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            DeleteUserError::SecretOfAnotherUser { .. } | DeleteUserError::SecretNotRecognised { .. }
        )
    }
}

impl fmt::Display for DeleteUserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteUserError::ReadUser { user, .. } => write!(f, "reading IAM user {user}"),
            DeleteUserError::ReadSecret { name, region, .. } => {
                write!(f, "reading secret {name} in {region}")
            }
            DeleteUserError::NoSuchSecret { name, region } => {
                write!(f, "there is no secret {name} in {region} (nothing was deleted)")
            }
            DeleteUserError::SecretOfAnotherUser { name, owner, user } => write!(
                f,
                "secret {name} holds the credential of IAM user {owner}, not {user} (nothing was deleted)"
            ),
            DeleteUserError::SecretNotRecognised { name, user, why } => write!(
                f,
                "secret {name} is not recognisably the SMTP credential of {user}: {why} (nothing was deleted)"
            ),
            DeleteUserError::Stopped(failed) => fmt::Display::fmt(failed, f),
        }
    }
}

impl std::error::Error for DeleteUserError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeleteUserError::ReadUser { error, .. } | DeleteUserError::ReadSecret { error, .. } => {
                Some(error)
            }
            DeleteUserError::Stopped(failed) => Some(&failed.error),
            _ => None,
        }
    }
}

async fn run_step(iam: &Iam, secrets: Option<&Secrets>, user: &str, step: &Step) -> Result<(), AwsError> {
    match step {
        Step::DeleteAccessKey(id) => iam.delete_access_key(user, id).await,
        Step::DeleteLoginProfile => iam.delete_login_profile(user).await,
        Step::DeleteSigningCertificate(id) => iam.delete_signing_certificate(user, id).await,
        Step::DeleteSshPublicKey(id) => iam.delete_ssh_public_key(user, id).await,
        Step::DeleteServiceSpecificCredential(id) => iam.delete_service_specific_credential(user, id).await,
        Step::DeactivateMfaDevice(s) => iam.deactivate_mfa_device(user, s).await,
        Step::DeleteVirtualMfaDevice(s) => iam.delete_virtual_mfa_device(s).await,
        Step::DeleteUserPolicy(p) => iam.delete_user_policy(user, p).await,
        Step::DetachUserPolicy(arn) => iam.detach_user_policy(user, arn).await,
        Step::RemoveUserFromGroup(g) => iam.remove_user_from_group(g, user).await,
        Step::DeleteUser => iam.delete_user(user).await,
        Step::ScheduleSecretDeletion { name, days } => match secrets {
            Some(s) => s.delete(name, Some(*days)).await,
            None => Ok(()),
        },
    }
}

/// Makes the changes in order. A step whose target is already gone counts as done.
pub async fn execute(
    iam: &Iam,
    secrets: Option<&Secrets>,
    state: &UserState,
    secret: Option<&SecretTarget>,
) -> Result<DeleteReport, DeleteUserError> {
    let user = state.user.name.as_str();
    let mut done = Vec::new();
    for step in state.steps(secret) {
        if let Err(i) = crate::interrupt::check() {
            return Err(DeleteUserError::Stopped(DeleteFailed {
                user: user.to_string(),
                done,
                failed: step.call(user),
                error: AwsError {
                    kind: ErrorKind::Other,
                    action: "sesctl",
                    code: Some("Interrupted".into()),
                    message: format!("{i} before this step"),
                },
                conflict: None,
            }));
        }
        match run_step(iam, secrets, user, &step).await {
            Ok(()) => done.push(step.call(user)),
            Err(e) if e.is(ErrorKind::NotFound) => done.push(step.call(user)),
            Err(error) => {
                let conflict = (step == Step::DeleteUser && error.code.as_deref() == Some("DeleteConflict"))
                    .then(|| match &state.service_credentials_unknown {
                        Some(why) => Conflict::UnlistedServiceCredentials(why.clone()),
                        None => Conflict::AddedAfterRead,
                    });
                return Err(DeleteUserError::Stopped(DeleteFailed {
                    user: user.to_string(),
                    done,
                    failed: step.call(user),
                    error,
                    conflict,
                }));
            }
        }
    }
    let mut notes = Vec::new();
    if let Some(why) = &state.service_credentials_unknown {
        notes.push(format!(
            "service-specific credentials could not be listed ({why})"
        ));
    }
    if let Some(s) = secret.filter(|s| s.already_scheduled) {
        notes.push(format!("secret {} was already scheduled for deletion", s.name));
    }
    Ok(DeleteReport {
        user_name: user.to_string(),
        deleted: true,
        done,
        secret: secret.map(|s| format!("{} ({})", s.name, s.region)),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::iam::KeyStatus;

    fn state() -> UserState {
        UserState {
            user: User {
                name: "mailer".into(),
                arn: "arn:aws:iam::1:user/mailer".into(),
                path: "/".into(),
                created: chrono::Utc::now(),
            },
            access_keys: vec![AccessKey {
                id: "AKIA1".into(),
                status: KeyStatus::Active,
                created: chrono::Utc::now(),
            }],
            login_profile: true,
            signing_certificates: vec!["CERT1".into()],
            ssh_public_keys: vec!["APKA1".into()],
            service_credentials: vec![ServiceCredential {
                id: "ACCA1".into(),
                service: "codecommit.amazonaws.com".into(),
            }],
            service_credentials_unknown: None,
            mfa_devices: vec!["arn:aws:iam::1:mfa/mailer".into(), "GAHT12345678".into()],
            inline_policies: vec![POLICY.into()],
            attached_policies: vec![AttachedPolicy {
                name: "p".into(),
                arn: "arn:aws:iam::1:policy/p".into(),
            }],
            groups: vec![GROUP.into()],
            smtp_reasons: vec!["member".into()],
        }
    }

    #[test]
    fn steps_follow_iams_order_and_the_secret_comes_last() {
        let secret = SecretTarget {
            name: "smtp/mailer".into(),
            region: "eu-west-1".into(),
            recovery_window_days: 7,
            already_scheduled: false,
        };
        let actions: Vec<String> = state()
            .plan(Some(&secret))
            .calls
            .into_iter()
            .map(|c| c.action)
            .collect();
        assert_eq!(
            actions,
            [
                "iam:DeleteAccessKey",
                "iam:DeleteLoginProfile",
                "iam:DeleteSigningCertificate",
                "iam:DeleteSSHPublicKey",
                "iam:DeleteServiceSpecificCredential",
                "iam:DeactivateMFADevice",
                "iam:DeleteVirtualMFADevice",
                "iam:DeactivateMFADevice",
                "iam:DeleteUserPolicy",
                "iam:DetachUserPolicy",
                "iam:RemoveUserFromGroup",
                "iam:DeleteUser",
                "secretsmanager:DeleteSecret",
            ]
        );
        let scheduled = SecretTarget {
            already_scheduled: true,
            ..secret
        };
        let plan = state().plan(Some(&scheduled));
        assert_eq!(plan.calls.last().unwrap().action, "iam:DeleteUser");
        assert!(plan
            .notes
            .iter()
            .any(|n| n.text().is_some_and(|t| t.contains("already scheduled"))));
    }
    #[test]
    fn errors_are_data_and_name_no_flag() {
        let another = DeleteUserError::SecretOfAnotherUser {
            name: "smtp/mailer".into(),
            owner: "someone-else".into(),
            user: "mailer".into(),
        };
        let unrecognised = DeleteUserError::SecretNotRecognised {
            name: "smtp/mailer".into(),
            user: "mailer".into(),
            why: Unrecognised::OtherKey(Shape::KeyColonPassword),
        };
        assert!(another.is_bad_input() && unrecognised.is_bad_input());
        let missing = DeleteUserError::NoSuchSecret {
            name: "smtp/mailer".into(),
            region: "eu-west-1".into(),
        };
        assert!(!missing.is_bad_input());
        let error = AwsError {
            kind: ErrorKind::Other,
            action: "iam:DeleteUser",
            code: Some("DeleteConflict".into()),
            message: "must remove credentials first".into(),
        };
        let stopped = DeleteUserError::Stopped(DeleteFailed {
            user: "mailer".into(),
            done: Vec::new(),
            failed: Step::DeleteUser.call("mailer"),
            error: error.clone(),
            conflict: Some(Conflict::AddedAfterRead),
        });
        assert!(!stopped.is_bad_input());
        assert_eq!(
            stopped.to_string(),
            "deleting user mailer stopped at iam:DeleteUser user mailer after 0 step(s) were done"
        );
        let source = std::error::Error::source(&stopped).map(|e| e.to_string());
        assert_eq!(source, Some(error.to_string()));
        for e in [another, unrecognised, missing, stopped] {
            let text = e.to_string();
            assert!(!text.contains("--") && !text.contains("sesctl "), "{text}");
        }
        assert_eq!(
            Unrecognised::OtherKey(Shape::KeyColonPassword).to_string(),
            "the plain string AKID:password, whose SMTP user name is none of the user's access keys"
        );
    }
}
