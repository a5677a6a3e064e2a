//! `delete-user`: remove an IAM user and everything that makes iam:DeleteUser refuse (DeleteConflict),
//! in IAM's documented order, and optionally schedule the deletion of its Secrets Manager secret.
//!
//! [`inspect`] reads what the user holds (no changes); [`UserState::steps`] turns it into the calls to
//! make, which `--dry-run` prints as a [`Plan`]; [`execute`] makes them. Every step treats "already
//! gone" as done, so a run that stopped half way can simply be run again.

use std::fmt;

use serde::Serialize;

use super::setup::{GROUP, POLICY};
use super::{Plan, PlannedCall};
use crate::aws::cleanup::ServiceCredential;
use crate::aws::iam::{AccessKey, AttachedPolicy, Iam, User};
use crate::aws::secrets::{Secrets, STAGE_CURRENT};
use crate::aws::{AwsError, ErrorKind};
use crate::credential::StoredCredential;
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
pub async fn inspect(iam: &Iam, name: &str) -> anyhow::Result<Option<UserState>> {
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
) -> anyhow::Result<SecretTarget> {
    let Some(info) = secrets.describe(name).await? else {
        anyhow::bail!(
            "there is no secret {name} in {region}; check --secret-name and --region (nothing was deleted)"
        );
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
    let value = secrets.get_value(name, STAGE_CURRENT).await?;
    match recognise(value.as_ref().map(|v| &v.value), user_keys) {
        Recognised::Owner(o) if o != user => anyhow::bail!(crate::error::UsageError(format!(
            "secret {name} holds the credential of IAM user {o}, not {user}; pass --force to schedule its \
             deletion anyway (nothing was deleted)"
        ))),
        Recognised::Owner(_) | Recognised::UsersKey => Ok(target),
        Recognised::No(what) if !tagged => anyhow::bail!(crate::error::UsageError(format!(
            "secret {name} is not recognisably the SMTP credential of {user}: {what}; pass --force to \
             schedule its deletion anyway (nothing was deleted)"
        ))),
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
    /// Nothing that ties it to the user; the text says what it is (never the value).
    No(String),
}

/// Reads the value with the credential codec ([`crate::credential`]): a value naming its IAM user is
/// that user's, whatever else it holds; another shape is the user's when it holds one of its keys.
fn recognise(value: Option<&crate::secret::Secret>, user_keys: &[String]) -> Recognised {
    let Some(value) = value else {
        return Recognised::No(
            "it has no string value (a binary secret, or no AWSCURRENT version)".to_string(),
        );
    };
    if let Some(owner) = crate::credential::named_user(value) {
        return Recognised::Owner(owner);
    }
    match StoredCredential::parse(value) {
        Ok(c) if user_keys.contains(&c.username) => Recognised::UsersKey,
        Ok(c) => Recognised::No(format!(
            "{}, whose SMTP user name is none of the user's access keys",
            c.shape
        )),
        Err(e) => Recognised::No(format!("it is not an SMTP credential sesctl reads: {e}")),
    }
}

/// Schedules the deletion of a secret whose IAM user is already gone (a `delete-user` that stopped
/// after iam:DeleteUser, run again).
pub async fn delete_secret_only(
    secrets: &Secrets,
    user: &str,
    secret: &SecretTarget,
) -> Result<DeleteReport, DeleteFailed> {
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
            return Err(DeleteFailed {
                user: user.to_string(),
                done: Vec::new(),
                failed: step.call(user),
                error,
                hint: None,
            });
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

impl fmt::Display for DeleteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Deleted IAM user {}.", self.user_name)?;
        for c in &self.done {
            writeln!(f, "  done: {} {}", c.action, c.target)?;
        }
        if let Some(s) = &self.secret {
            writeln!(f, "Secret {s} is scheduled for deletion (restore it with `aws secretsmanager restore-secret` until then).")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}

/// A step that failed, with the ones done before it.
#[derive(Debug)]
pub struct DeleteFailed {
    pub user: String,
    pub done: Vec<PlannedCall>,
    pub failed: PlannedCall,
    pub error: AwsError,
    pub hint: Option<String>,
}

impl fmt::Display for DeleteFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deleting user {} stopped at {} {} after {} step(s) were done: {}",
            self.user,
            self.failed.action,
            self.failed.target,
            self.done.len(),
            self.error
        )?;
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        write!(
            f,
            "; fix the cause and run the same command again (it continues where it stopped)"
        )
    }
}

impl std::error::Error for DeleteFailed {}

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
) -> Result<DeleteReport, DeleteFailed> {
    let user = state.user.name.as_str();
    let mut done = Vec::new();
    for step in state.steps(secret) {
        if let Err(i) = crate::interrupt::check() {
            return Err(DeleteFailed {
                user: user.to_string(),
                done,
                failed: step.call(user),
                error: AwsError {
                    kind: ErrorKind::Other,
                    action: "sesctl",
                    code: Some("Interrupted".into()),
                    message: format!("{i} before this step"),
                },
                hint: None,
            });
        }
        match run_step(iam, secrets, user, &step).await {
            Ok(()) => done.push(step.call(user)),
            Err(e) if e.is(ErrorKind::NotFound) => done.push(step.call(user)),
            Err(error) => {
                let hint = (step == Step::DeleteUser && error.code.as_deref() == Some("DeleteConflict"))
                    .then(|| match &state.service_credentials_unknown {
                        Some(why) => format!(
                            "IAM says something still belongs to the user; its service-specific credentials \
                             could not be listed ({why}): remove them with `aws iam \
                             delete-service-specific-credential`"
                        ),
                        None => {
                            "IAM says something still belongs to the user that was added after it was read"
                                .into()
                        }
                    });
                return Err(DeleteFailed {
                    user: user.to_string(),
                    done,
                    failed: step.call(user),
                    error,
                    hint,
                });
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
        assert!(plan.notes.iter().any(|n| n.contains("already scheduled")));
    }
}
