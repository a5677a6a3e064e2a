//! `rotate`: a new access key and SMTP password for an existing user, with no moment where no valid
//! credential exists, in the shape of Secrets Manager's rotation protocol:
//!
//! 1. createSecret: create the new key and store it at once as a new secret version staged
//!    `AWSPENDING` (the request token makes the SDK's retries store it once), so the only copy of the
//!    key's secret is never held in memory alone for longer than one call;
//! 2. testSecret: the `--verify` hook (an SMTP login with the pending credential);
//! 3. finishSecret: move `AWSCURRENT` to the new version (Secrets Manager puts `AWSPREVIOUS` on the
//!    old one);
//! 4. retire the old key: deactivate (default), delete, or keep it for a later `--finish`.
//!
//! Everything before step 3 is undone when a step fails (the new key deleted, the pending label
//! removed); after step 3 the old key is never touched on failure. An interrupted run leaves a
//! pending version whose key is active: the next run finds it and finishes that rotation instead of
//! creating another key. Without a secret, the credential is delivered like `create-user` (CSV or
//! JSON) before the old key is retired.
//!
//! Neighbours: `commands::rotate` resolves flags and prints; [`super::deliver`] builds the secret
//! string, the CSV and the JSON result; `aws::{iam, secrets}` make the calls.

use std::fmt;

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::Serialize;

use super::deliver::{Delivered, SmtpCredential};
use super::Plan;
use crate::aws::iam::{AccessKey, Iam, KeyLastUsed, KeyStatus, User};
use crate::aws::secrets::{Secrets, STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS};
use crate::aws::ErrorKind;
use crate::secret::Secret;

/// What happens to the old key once the new credential is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OldKeyAction {
    Deactivate,
    Delete,
    Keep,
}

impl OldKeyAction {
    fn flag(self) -> &'static str {
        match self {
            OldKeyAction::Deactivate => "deactivate",
            OldKeyAction::Delete => "delete",
            OldKeyAction::Keep => "keep",
        }
    }
}

/// What was done to a key that was retired (or deliberately left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyOutcome {
    Deactivated,
    Deleted,
    Kept,
    AlreadyInactive,
}

impl fmt::Display for KeyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyOutcome::Deactivated => "deactivated",
            KeyOutcome::Deleted => "deleted",
            KeyOutcome::Kept => "kept active",
            KeyOutcome::AlreadyInactive => "already inactive, left as it is",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the current state
// ---------------------------------------------------------------------------------------------

/// The user and its keys, as IAM reports them.
#[derive(Debug, Clone)]
pub struct UserState {
    pub user: User,
    pub keys: Vec<AccessKey>,
}

impl UserState {
    fn key(&self, id: &str) -> Option<&AccessKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// The non-secret fields of a credential stored in one version of a secret (read with the codec,
/// [`crate::credential::StoredCredential`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    pub version_id: String,
    pub iam_user_name: String,
    pub access_key_id: String,
    pub region: Option<String>,
}

/// A pending version (`AWSPENDING` on a version other than `AWSCURRENT`): a rotation that started
/// and did not finish. Its value is kept for the `--verify` hook.
#[derive(Debug, Clone)]
pub struct PendingVersion {
    pub credential: StoredVersion,
    pub value: Secret,
}

/// The secret, as Secrets Manager reports it.
#[derive(Debug, Clone)]
pub struct SecretState {
    /// The name or ARN the operator gave.
    pub name: String,
    pub arn: String,
    /// The Secrets Manager region it was read in.
    pub region: String,
    pub current: StoredVersion,
    /// The AWSCURRENT value as stored: the next version keeps its fields.
    pub current_value: Secret,
    /// The shape of the AWSCURRENT value (sesctl's, or another tool's).
    pub shape: crate::credential::Shape,
    pub pending: Option<PendingVersion>,
    /// The key held by the AWSPREVIOUS version (when it is not also AWSCURRENT's): the old key of
    /// the last rotation, which has had its grace period.
    pub previous_key: Option<String>,
}

/// Reads a stored credential in sesctl's format or another tool's ([`crate::credential`]). A value
/// that does not name its IAM user is taken as `user_name`'s, and [`plan_rotation`] checks that its
/// key is one of that user's. Returns the shape seen.
pub fn read_stored(
    secret: &str,
    stage: &str,
    version_id: &str,
    value: &Secret,
    user_name: &str,
) -> anyhow::Result<(StoredVersion, crate::credential::Shape)> {
    let c = crate::credential::StoredCredential::parse(value).map_err(|e| {
        anyhow!(
            "secret {secret} ({stage}, version {version_id}) does not hold an SMTP credential sesctl can \
             rotate: {e}"
        )
    })?;
    Ok((
        StoredVersion {
            version_id: version_id.to_string(),
            iam_user_name: c.iam_user_name.unwrap_or_else(|| user_name.to_string()),
            access_key_id: c.username,
            region: c.region,
        },
        c.shape,
    ))
}

/// Reads the user and its keys (iam:GetUser, iam:ListAccessKeys). An unknown user is an error that
/// names it.
pub async fn inspect_user(iam: &Iam, user_name: &str) -> anyhow::Result<UserState> {
    let Some(user) = iam.get_user(user_name).await? else {
        anyhow::bail!(
            "IAM user {user_name} does not exist; check the name (`sesctl list` shows the SMTP users, \
             `sesctl create-user` creates one)"
        );
    };
    let keys = iam.list_access_keys(user_name).await?;
    Ok(UserState { user, keys })
}

/// Reads the secret (secretsmanager:DescribeSecret, secretsmanager:GetSecretValue for `AWSCURRENT`
/// and, when there is one, `AWSPENDING`). Refuses a secret that does not exist, is scheduled for
/// deletion, or belongs to another IAM user.
pub async fn inspect_secret(
    secrets: &Secrets,
    secret_id: &str,
    region: &str,
    user_name: &str,
) -> anyhow::Result<SecretState> {
    let Some(info) = secrets.describe(secret_id).await? else {
        anyhow::bail!(
            "secret {secret_id} does not exist in {region}; rotate updates an existing secret (check the \
             name and --region, or create the user's credential with `sesctl create-user --secret-name`)"
        );
    };
    if let Some(when) = info.deleted {
        anyhow::bail!(
            "secret {secret_id} is scheduled for deletion (on {when}); restore it \
             (aws secretsmanager restore-secret) before rotating"
        );
    }
    let Some(current_version) = info.version_with_stage(STAGE_CURRENT).map(str::to_string) else {
        anyhow::bail!("secret {secret_id} has no AWSCURRENT version, so there is no credential to rotate");
    };
    let current_value = secrets
        .get_value(&info.arn, STAGE_CURRENT)
        .await?
        .ok_or_else(|| anyhow!("secret {secret_id} has no AWSCURRENT value"))?
        .value;
    let (current, shape) = read_stored(
        secret_id,
        STAGE_CURRENT,
        &current_version,
        &current_value,
        user_name,
    )?;
    if current.iam_user_name != user_name {
        anyhow::bail!(
            "secret {secret_id} holds the SMTP credential of IAM user {}, not {user_name}; nothing was \
             changed (check the user name and --secret-name)",
            current.iam_user_name
        );
    }
    let pending_version = info
        .version_with_stage(STAGE_PENDING)
        .filter(|v| *v != current_version)
        .map(str::to_string);
    let pending = match pending_version {
        None => None,
        Some(version) => {
            let value = secrets
                .get_value(&info.arn, STAGE_PENDING)
                .await?
                .ok_or_else(|| {
                    anyhow!("secret {secret_id}: the AWSPENDING version {version} has no value")
                })?;
            let (credential, _) = read_stored(secret_id, STAGE_PENDING, &version, &value.value, user_name)?;
            if credential.iam_user_name != user_name {
                anyhow::bail!(
                    "secret {secret_id} has a pending version ({version}) for IAM user {}, not {user_name}; \
                     remove its AWSPENDING label (aws secretsmanager update-secret-version-stage) before \
                     rotating",
                    credential.iam_user_name
                );
            }
            Some(PendingVersion {
                credential,
                value: value.value,
            })
        }
    };
    let previous_key = match info.version_with_stage(STAGE_PREVIOUS) {
        Some(v) if v != current_version => secrets
            .get_value(&info.arn, STAGE_PREVIOUS)
            .await?
            .and_then(|p| read_stored(secret_id, STAGE_PREVIOUS, v, &p.value, user_name).ok())
            .map(|(p, _)| p.access_key_id)
            .filter(|k| *k != current.access_key_id),
        _ => None,
    };
    Ok(SecretState {
        name: secret_id.to_string(),
        arn: info.arn,
        region: region.to_string(),
        current,
        current_value,
        shape,
        pending,
        previous_key,
    })
}

// ---------------------------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------------------------

/// Where the new key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewKey {
    /// iam:CreateAccessKey.
    Create,
    /// An interrupted rotation's key, already stored as `AWSPENDING` in this version.
    Resume {
        access_key_id: String,
        version_id: String,
    },
}

/// A pending version whose key is gone or inactive: its label is removed before rotating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StalePending {
    pub version_id: String,
    pub access_key_id: String,
    pub key_status: Option<KeyStatus>,
}

/// Everything a rotation will do, decided from the state read before any change.
#[derive(Debug, Clone)]
pub struct RotationPlan {
    pub user_name: String,
    /// The SES region the new SMTP password is derived for.
    pub region: String,
    /// The secret that holds the credential; `None` delivers as CSV or JSON instead.
    pub secret: Option<SecretTarget>,
    /// How the credential is delivered when there is no secret (for the plan's wording).
    pub delivery: Option<String>,
    pub delete_inactive_key: Option<String>,
    /// The key held by the secret's AWSPREVIOUS, deleted first to make room for the new key.
    pub delete_previous_key: Option<String>,
    pub clear_pending: Option<StalePending>,
    pub new_key: NewKey,
    /// The key to retire once the new credential is current (`None`: nothing to retire).
    pub old_key: Option<AccessKey>,
    pub old_key_action: OldKeyAction,
    /// The user's keys before this run creates one (with their status), to tell a key that a failed
    /// CreateAccessKey left behind from the keys that were there, and to notice another run's
    /// retirement of one of them.
    pub keys_before: Vec<AccessKey>,
    pub notes: Vec<String>,
}

/// The secret a rotation updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretTarget {
    pub name: String,
    pub arn: String,
    pub current_version: String,
    pub current_key: String,
}

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct RotationRequest {
    pub region: String,
    pub old_key_action: OldKeyAction,
    pub delete_inactive: bool,
    /// How the credential is delivered without a secret (wording only).
    pub delivery: Option<String>,
}

/// Decides the rotation from the state. Refuses (before any change) when IAM's two-key limit leaves
/// no room for a new key.
pub fn plan_rotation(
    user: &UserState,
    secret: Option<&SecretState>,
    request: &RotationRequest,
) -> anyhow::Result<RotationPlan> {
    let user_name = user.user.name.clone();
    if let Some(s) = secret.filter(|s| s.shape != crate::credential::Shape::Sesctl) {
        // Another tool's secret does not name its IAM user: its key must be one of this user's.
        if user.key(&s.current.access_key_id).is_none() {
            anyhow::bail!(
                "secret {} holds access key {}, which is not a key of IAM user {user_name}; nothing was \
                 changed (check the user name and --secret-name)",
                s.name,
                s.current.access_key_id
            );
        }
    }
    let current_key = secret.map(|s| s.current.access_key_id.as_str());
    let mut notes = Vec::new();
    let mut clear_pending = None;
    let mut new_key = NewKey::Create;
    if let Some(pending) = secret.and_then(|s| s.pending.as_ref()) {
        let id = &pending.credential.access_key_id;
        match user.key(id) {
            Some(k) if k.status == KeyStatus::Active => {
                new_key = NewKey::Resume {
                    access_key_id: id.clone(),
                    version_id: pending.credential.version_id.clone(),
                };
            }
            found => {
                clear_pending = Some(StalePending {
                    version_id: pending.credential.version_id.clone(),
                    access_key_id: id.clone(),
                    key_status: found.map(|k| k.status),
                });
            }
        }
    }

    let mut remaining: Vec<&AccessKey> = user.keys.iter().collect();
    let mut delete_inactive_key = None;
    let mut delete_previous_key = None;
    let previous = secret
        .and_then(|s| s.previous_key.as_deref())
        .filter(|p| Some(*p) != current_key);
    if new_key == NewKey::Create && remaining.len() >= 2 {
        if let Some(id) = previous.filter(|p| remaining.iter().any(|k| k.id == *p)) {
            // Room for the new key: the old key of the last rotation has had its grace period.
            remaining.retain(|k| k.id != id);
            delete_previous_key = Some(id.to_string());
            notes.push(format!(
                "key {id} is held by the secret's AWSPREVIOUS (the old key of the last rotation): it is \
                 deleted to make room for the new key"
            ));
        }
    }
    if new_key == NewKey::Create && remaining.len() >= 2 {
        let candidate = remaining
            .iter()
            .filter(|k| k.status == KeyStatus::Inactive && Some(k.id.as_str()) != current_key)
            .min_by_key(|k| k.created)
            .map(|k| k.id.clone());
        match (request.delete_inactive, candidate) {
            (true, Some(id)) => {
                remaining.retain(|k| k.id != id);
                delete_inactive_key = Some(id);
            }
            _ => return Err(two_key_refusal(user, secret, request.delete_inactive)),
        }
    }
    if request.delete_inactive && delete_inactive_key.is_none() && matches!(new_key, NewKey::Resume { .. }) {
        notes.push("--delete-inactive is not needed: the interrupted rotation's key is reused".to_string());
    }

    let old_key = match (secret, &new_key) {
        (Some(s), _) => {
            let found = remaining
                .iter()
                .find(|k| k.id == s.current.access_key_id)
                .copied();
            if found.is_none() {
                notes.push(format!(
                    "the key in the secret's AWSCURRENT ({}) no longer exists in IAM: nothing to retire",
                    s.current.access_key_id
                ));
            }
            for other in remaining.iter().filter(|k| {
                k.id != s.current.access_key_id
                    && !matches!(&new_key, NewKey::Resume { access_key_id, .. } if *access_key_id == k.id)
            }) {
                notes.push(format!(
                    "key {} ({}) is not in the secret and is left as it is",
                    other.id, other.status
                ));
            }
            found.cloned()
        }
        (None, _) => remaining.first().map(|k| (*k).clone()),
    };

    Ok(RotationPlan {
        user_name,
        region: request.region.clone(),
        secret: secret.map(|s| SecretTarget {
            name: s.name.clone(),
            arn: s.arn.clone(),
            current_version: s.current.version_id.clone(),
            current_key: s.current.access_key_id.clone(),
        }),
        delivery: request.delivery.clone(),
        delete_inactive_key,
        delete_previous_key,
        clear_pending,
        new_key,
        old_key,
        old_key_action: request.old_key_action,
        keys_before: user.keys.clone(),
        notes,
    })
}

/// The refusal when the user already has two keys: names them and says what to do.
fn two_key_refusal(user: &UserState, secret: Option<&SecretState>, delete_inactive: bool) -> anyhow::Error {
    let current_key = secret.map(|s| s.current.access_key_id.as_str());
    let described: Vec<String> = user
        .keys
        .iter()
        .map(|k| {
            let role = if Some(k.id.as_str()) == current_key {
                ", the one in the secret's AWSCURRENT"
            } else {
                ""
            };
            format!(
                "{} ({}, created {}{role})",
                k.id,
                k.status,
                k.created.format("%Y-%m-%d")
            )
        })
        .collect();
    let name = &user.user.name;
    let inactive_other = user
        .keys
        .iter()
        .any(|k| k.status == KeyStatus::Inactive && Some(k.id.as_str()) != current_key);
    let advice = if delete_inactive {
        if user.keys.iter().any(|k| k.status == KeyStatus::Inactive) {
            "The --delete-inactive flag was given, but the only inactive key is the one the secret's AWSCURRENT \
             holds, and sesctl will not delete it"
                .to_string()
        } else {
            "The --delete-inactive flag was given, but neither key is inactive (it never deletes an active key); \
             deactivate the key no longer in use first"
                .to_string()
        }
    } else if inactive_other {
        "Re-run with --delete-inactive to delete the inactive key first".to_string()
    } else if let Some(s) = secret {
        format!(
            "If the other key is the old key of an earlier rotation (kept with --old-key keep, or left by an \
             interrupted run), retire it with `sesctl rotate {name} --secret-name {} --finish`; otherwise \
             deactivate or delete the key no longer in use, then rotate again",
            s.name
        )
    } else {
        "Deactivate the key no longer in use (then re-run with --delete-inactive), or delete it, and rotate \
         again"
            .to_string()
    };
    anyhow!(
        "IAM allows at most two access keys per user and {name} already has two: {}. A rotation needs room \
         for a new key; nothing was changed. {advice}",
        described.join(" and ")
    )
}

impl RotationPlan {
    /// The plan as `--dry-run` prints it: each call that changes something, in order.
    pub fn to_plan(&self) -> Plan {
        let mut plan = Plan::new("rotate");
        let user = &self.user_name;
        if let Some(k) = &self.delete_inactive_key {
            plan.call("iam:DeleteAccessKey", format!("inactive key {k} of user {user}"));
        }
        if let Some(k) = &self.delete_previous_key {
            plan.call(
                "iam:DeleteAccessKey",
                format!("key {k} of user {user}, held by the secret's AWSPREVIOUS (room for the new key)"),
            );
        }
        if let (Some(stale), Some(s)) = (&self.clear_pending, &self.secret) {
            plan.call(
                "secretsmanager:UpdateSecretVersionStage",
                format!(
                    "remove AWSPENDING from version {} of {} (its key {} is {})",
                    stale.version_id,
                    s.name,
                    stale.access_key_id,
                    stale_reason(stale.key_status)
                ),
            );
        }
        match &self.new_key {
            NewKey::Create => {
                plan.call("iam:CreateAccessKey", format!("user {user}"));
                match &self.secret {
                    Some(s) => plan.call(
                        "secretsmanager:PutSecretValue",
                        format!(
                            "{}: new version staged AWSPENDING (the new key's SMTP password for {})",
                            s.name, self.region
                        ),
                    ),
                    None => plan.note(format!(
                        "the new key's SMTP password for {} is delivered as {}",
                        self.region,
                        self.delivery.as_deref().unwrap_or("CSV on stdout")
                    )),
                }
            }
            NewKey::Resume {
                access_key_id,
                version_id,
            } => plan.note(format!(
                "resumes an interrupted rotation: key {access_key_id} is already stored as AWSPENDING \
                 (version {version_id}); no new key is created"
            )),
        }
        if let Some(s) = &self.secret {
            plan.call(
                "secretsmanager:UpdateSecretVersionStage",
                format!(
                    "{}: AWSCURRENT to the new version (version {} becomes AWSPREVIOUS)",
                    s.name, s.current_version
                ),
            );
        }
        match (&self.old_key, self.old_key_action) {
            (None, _) => plan.note("no old key to retire"),
            (Some(k), OldKeyAction::Deactivate) if k.status == KeyStatus::Inactive => {
                plan.note(format!("old key {} is already inactive", k.id))
            }
            (Some(k), OldKeyAction::Deactivate) => plan.call(
                "iam:UpdateAccessKey",
                format!("old key {} of user {user} to Inactive", k.id),
            ),
            (Some(k), OldKeyAction::Delete) => {
                plan.call("iam:DeleteAccessKey", format!("old key {} of user {user}", k.id))
            }
            (Some(k), OldKeyAction::Keep) => plan.note(match &self.secret {
                Some(s) => format!(
                    "old key {} stays active; retire it later with `sesctl rotate {user} --secret-name {} \
                     --finish`",
                    k.id, s.name
                ),
                None => format!(
                    "old key {} stays active; deactivate it once every consumer uses the new key \
                     (aws iam update-access-key --user-name {user} --access-key-id {} --status Inactive)",
                    k.id, k.id
                ),
            }),
        }
        if let Some(s) = &self.secret {
            plan.call(
                "secretsmanager:UpdateSecretVersionStage",
                format!("{}: remove AWSPENDING from the new version", s.name),
            );
        }
        for n in &self.notes {
            plan.note(n.clone());
        }
        plan
    }
}

fn stale_reason(status: Option<KeyStatus>) -> &'static str {
    match status {
        None => "gone",
        Some(_) => "inactive",
    }
}

// ---------------------------------------------------------------------------------------------
// Carrying it out
// ---------------------------------------------------------------------------------------------

/// The credential handed to the `--verify` hook: the pending secret string as stored (the same JSON
/// consumers read), plus the fields needed to reach the endpoint.
pub struct PendingLogin<'a> {
    pub access_key_id: &'a str,
    pub region: &'a str,
    pub secret_string: &'a Secret,
}

/// The testSecret step: logs in with the pending credential, retrying while the new key propagates,
/// and fails if it cannot. Runs after the credential is stored and before it is promoted.
pub type VerifyHook<'h> =
    &'h (dyn for<'a> Fn(&'a PendingLogin<'a>) -> BoxFuture<'a, anyhow::Result<()>> + Sync);

/// What a rotation did (nothing secret).
#[derive(Debug, Clone, Serialize)]
pub struct RotateReport {
    pub user_name: String,
    pub region: String,
    pub smtp_host: String,
    /// The new key: the SMTP user name of the new credential.
    pub access_key_id: String,
    /// True when an interrupted rotation was finished instead of creating a key.
    pub resumed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_arn: Option<String>,
    /// The secret version now staged AWSCURRENT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The version now staged AWSPREVIOUS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version_id: Option<String>,
    /// Where the credential went when there is no secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_to: Option<Delivered>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_inactive_key: Option<String>,
    /// The AWSPREVIOUS key deleted to make room for the new key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_previous_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleared_pending_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_key: Option<KeyOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl fmt::Display for RotateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.resumed {
            writeln!(
                f,
                "Resumed the interrupted rotation of {}: its new key {} was already stored, and is now current.",
                self.user_name, self.access_key_id
            )?;
        } else {
            writeln!(
                f,
                "Rotated the SMTP credential of {}: new key {} ({}).",
                self.user_name, self.access_key_id, self.smtp_host
            )?;
        }
        if let (Some(name), Some(version)) = (&self.secret_name, &self.version_id) {
            write!(f, "  secret {name}: AWSCURRENT is version {version}")?;
            match &self.previous_version_id {
                Some(p) => writeln!(f, ", AWSPREVIOUS is version {p}")?,
                None => writeln!(f)?,
            }
        }
        if let Some(to) = &self.delivered_to {
            writeln!(f, "  delivered to {to}")?;
        }
        if let Some(k) = &self.deleted_inactive_key {
            writeln!(f, "  deleted the inactive key {k} first (IAM allows two keys)")?;
        }
        if let Some(k) = &self.deleted_previous_key {
            writeln!(
                f,
                "  deleted key {k} first: the secret's AWSPREVIOUS held it (the old key of the last rotation; IAM allows two keys)"
            )?;
        }
        if let Some(v) = &self.cleared_pending_version {
            writeln!(
                f,
                "  cleared the stale pending version {v} (its key was gone or inactive)"
            )?;
        }
        match (&self.old_access_key_id, self.old_key) {
            (Some(k), Some(KeyOutcome::Kept)) => {
                writeln!(f, "  old key {k}: kept active")?;
                match &self.secret_name {
                    Some(name) => writeln!(
                        f,
                        "  once every consumer uses the new key: sesctl rotate {} --secret-name {name} --finish",
                        self.user_name
                    )?,
                    None => writeln!(
                        f,
                        "  once every consumer uses the new key: aws iam update-access-key --user-name {} \
                         --access-key-id {k} --status Inactive",
                        self.user_name
                    )?,
                }
            }
            (Some(k), Some(outcome)) => writeln!(f, "  old key {k}: {outcome}")?,
            _ => writeln!(f, "  no old key to retire")?,
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// Runs a rotation that updates a secret (see the module doc for the steps and failure rules).
pub async fn rotate_in_secret(
    iam: &Iam,
    secrets: &Secrets,
    plan: &RotationPlan,
    secret: &SecretState,
    verify: Option<VerifyHook<'_>>,
) -> anyhow::Result<RotateReport> {
    let target = plan
        .secret
        .as_ref()
        .ok_or_else(|| anyhow!("internal error: a rotation in a secret needs the secret"))?;
    let user = plan.user_name.as_str();
    let mut report = RotateReport::new(plan);
    report.secret_name = Some(target.name.clone());
    report.secret_arn = Some(target.arn.clone());

    interrupted_before_any_change()?;
    delete_inactive_first(iam, plan, &mut report).await?;
    if let Some(stale) = &plan.clear_pending {
        secrets
            .move_stage(&target.arn, STAGE_PENDING, None, Some(&stale.version_id))
            .await
            .map_err(|e| {
                anyhow!(
                    "could not clear the stale pending version {} of {}: {e}; nothing else was changed",
                    stale.version_id,
                    target.name
                )
            })?;
        report.cleared_pending_version = Some(stale.version_id.clone());
    }

    // createSecret: the new key, stored at once as AWSPENDING.
    let (key_id, version_id, pending_value) = match &plan.new_key {
        NewKey::Resume {
            access_key_id,
            version_id,
        } => {
            report.resumed = true;
            let value = secret
                .pending
                .as_ref()
                .map(|p| p.value.clone())
                .ok_or_else(|| anyhow!("internal error: resuming needs the pending version"))?;
            (access_key_id.clone(), version_id.clone(), value)
        }
        NewKey::Create => {
            interrupted_before_any_change()?;
            let key = create_key(iam, plan, Some((secrets, target))).await?;
            let credential = SmtpCredential::derive(user, &key.id, &key.secret, &plan.region);
            drop(key.secret);
            // Every field of the current value is kept (what its consumers read), in its shape.
            let next = crate::credential::NextValue {
                access_key_id: &credential.access_key_id,
                password: &credential.smtp_password,
                region: &credential.region,
                host: &credential.smtp_host,
                port: credential.smtp_port,
                iam_user_name: user,
            };
            let value = crate::credential::next_value(&secret.current_value, &next)
                .unwrap_or_else(|| credential.secret_string());
            if secret.shape != crate::credential::Shape::Sesctl {
                report.warnings.push(format!(
                    "secret {} held {}: the new version keeps the fields its consumers read{}",
                    target.name,
                    secret.shape,
                    if secret.shape == crate::credential::Shape::KeyColonPassword {
                        " (a plain string AKID:password, as before)"
                    } else {
                        ", and adds sesctl's fields"
                    }
                ));
            }
            let token = uuid::Uuid::new_v4().to_string();
            let stored = secrets
                .put_value(&target.arn, &value, &[STAGE_PENDING], &token)
                .await;
            if let Err(e) = stored {
                let cause = format!("storing the new credential in {} failed: {e}", target.name);
                return Err(roll_back(iam, secrets, plan, &key.id, Some(&token), cause).await);
            }
            (key.id, token, value)
        }
    };
    report.access_key_id = key_id.clone();

    // ---- testSecret: the `--verify` hook ----
    // The SMTP login check runs here: after the new credential is safely stored as AWSPENDING (so a
    // crash loses nothing) and before it is promoted (so a credential that cannot log in never becomes
    // AWSCURRENT). A failure rolls back like any other failure before promotion.
    if let Some(verify) = verify {
        let login = PendingLogin {
            access_key_id: &key_id,
            region: &plan.region,
            secret_string: &pending_value,
        };
        if let Err(e) = verify(&login).await {
            let cause = format!("the new credential did not pass --verify: {e:#}");
            return Err(roll_back(iam, secrets, plan, &key_id, Some(&version_id), cause).await);
        }
    }
    drop(pending_value);

    if let Err(i) = crate::interrupt::check() {
        let cause = format!("{i} before the new credential was promoted");
        return Err(roll_back(iam, secrets, plan, &key_id, Some(&version_id), cause).await);
    }

    // Just before promotion: the new key must still exist and be active. Another run (a `--finish`
    // that saw the key before it was stored, a person) may have retired it; promoting it would leave
    // AWSCURRENT on a credential that cannot log in.
    match iam.list_access_keys(user).await {
        Ok(keys)
            if keys
                .iter()
                .any(|k| k.id == key_id && k.status == KeyStatus::Active) => {}
        Ok(keys) => {
            let what = if keys.iter().any(|k| k.id == key_id) {
                "deactivated"
            } else {
                "deleted"
            };
            let cause = format!(
                "the new key {key_id} was {what} by someone else (another sesctl run, such as a `--finish`, \
                 or a person) before it was promoted, so AWSCURRENT was not moved to it"
            );
            return Err(roll_back(iam, secrets, plan, &key_id, Some(&version_id), cause).await);
        }
        Err(e) => {
            let cause = format!("checking the new key {key_id} before promoting it failed: {e}");
            return Err(roll_back(iam, secrets, plan, &key_id, Some(&version_id), cause).await);
        }
    }

    // finishSecret: AWSCURRENT moves to the new version; the old one becomes AWSPREVIOUS.
    if let Err(e) = secrets
        .move_stage(
            &target.arn,
            STAGE_CURRENT,
            Some(&version_id),
            Some(&target.current_version),
        )
        .await
    {
        // The call may have taken effect with its answer lost (then its retry fails): read it back
        // before undoing anything, because deleting a key that is already current would cut consumers off.
        match secrets.describe(&target.arn).await {
            Ok(Some(info)) if info.version_with_stage(STAGE_CURRENT) == Some(version_id.as_str()) => {
                tracing::debug!("the promotion took effect although its call reported: {e}");
            }
            Ok(Some(_)) => {
                let cause = format!(
                    "promoting the new credential to AWSCURRENT in {} failed: {e}",
                    target.name
                );
                return Err(roll_back(iam, secrets, plan, &key_id, Some(&version_id), cause).await);
            }
            Ok(None) | Err(_) => {
                anyhow::bail!(
                    "promoting the new credential to AWSCURRENT in {} failed ({e}), and the secret could not \
                     be read back to learn whether it took effect, so nothing was undone: the new key {key_id} \
                     is stored as AWSPENDING (version {version_id}) and the old key is untouched. Once the \
                     secret can be read, re-run `sesctl rotate {user} --secret-name {}`: it finishes this \
                     rotation",
                    target.name,
                    target.name
                );
            }
        }
    }
    report.version_id = Some(version_id.clone());
    report.previous_version_id = Some(target.current_version.clone());

    // The new credential is current. From here on the old key is never touched on failure.
    if let Some(old) = &plan.old_key {
        report.old_key = Some(retire_old_key(iam, user, old, plan.old_key_action).await.map_err(|e| {
            anyhow!(
                "the rotation is promoted: secret {name}'s AWSCURRENT now holds the new key {key_id} (version \
                 {version_id}) and AWSPREVIOUS the old key {old_id}, which is still {status}. Retiring the \
                 old key ({action}) failed: {e}. Consumers that read the secret get the new credential; \
                 retire the old key with `sesctl rotate {user} --secret-name {name} --finish{delete}` once \
                 the cause is fixed",
                name = target.name,
                old_id = old.id,
                status = old.status.to_string().to_lowercase(),
                action = plan.old_key_action.flag(),
                delete = if plan.old_key_action == OldKeyAction::Delete {
                    " --old-key delete"
                } else {
                    ""
                },
            )
        })?);
    }

    // Tidy: the label has done its job. Harmless if it stays (a pending label on the current version
    // is not a pending rotation), so a failure is only a warning.
    if let Err(e) = secrets
        .move_stage(&target.arn, STAGE_PENDING, None, Some(&version_id))
        .await
    {
        report.warnings.push(format!(
            "the rotation is complete, but removing AWSPENDING from the new version failed ({e}); it is \
             harmless and the next rotation ignores it"
        ));
    }
    Ok(report)
}

/// Runs a rotation without a secret: the new credential is handed to `deliver` (CSV or JSON), and
/// only once that succeeded is the old key retired. `deliver` returns where it went, for the report.
pub async fn rotate_and_deliver(
    iam: &Iam,
    plan: &RotationPlan,
    deliver: impl FnOnce(&SmtpCredential) -> anyhow::Result<Delivered>,
    verify: Option<(&crate::smtp::Endpoint, std::time::Duration)>,
) -> anyhow::Result<RotateReport> {
    let user = plan.user_name.as_str();
    let mut report = RotateReport::new(plan);
    interrupted_before_any_change()?;
    delete_inactive_first(iam, plan, &mut report).await?;
    interrupted_before_any_change()?;
    let key = create_key(iam, plan, None).await?;
    let credential = SmtpCredential::derive(user, &key.id, &key.secret, &plan.region);
    drop(key.secret);
    report.access_key_id = key.id.clone();
    // testSecret without a secret: log in before the credential is handed over.
    if let Some((endpoint, deadline)) = verify {
        if let Err(e) = crate::smtp::verify_new_credential(
            &credential.access_key_id,
            &credential.smtp_password,
            endpoint,
            deadline,
        )
        .await
        {
            let cause = format!("the new credential did not pass --verify: {e:#}");
            return Err(delete_undelivered_key(iam, user, &key.id, cause).await);
        }
    }
    if let Err(i) = crate::interrupt::check() {
        let cause = format!("{i} before the new credential was delivered");
        return Err(delete_undelivered_key(iam, user, &key.id, cause).await);
    }
    match deliver(&credential) {
        Ok(to) => report.delivered_to = Some(to),
        Err(e) => {
            let cause = format!("delivering the new credential failed: {e:#}");
            return Err(delete_undelivered_key(iam, user, &key.id, cause).await);
        }
    }
    drop(credential);
    if let Some(old) = &plan.old_key {
        // Just before retiring: the new key must still exist and be active. Another run (or a person)
        // may have removed it; retiring the old key then would leave the user without a working one.
        let new_key_active = iam.list_access_keys(user).await.map(|keys| {
            keys.iter()
                .any(|k| k.id == key.id && k.status == KeyStatus::Active)
        });
        match new_key_active {
            Ok(true) => {}
            Ok(false) => anyhow::bail!(
                "the new key {} was delivered, but someone else (another sesctl run, or a person) deleted or \
                 deactivated it before the old key was retired, so the old key {} was left {}: keep using \
                 the old credential and run the rotation again",
                key.id,
                old.id,
                old.status.to_string().to_lowercase()
            ),
            Err(e) => anyhow::bail!(
                "the new key {} was delivered, but checking that it is still active before retiring the old \
                 key failed ({e}), so the old key {} was left {}; once the new key is confirmed, retire \
                 it (aws iam update-access-key --user-name {user} --access-key-id {} --status Inactive)",
                key.id,
                old.id,
                old.status.to_string().to_lowercase(),
                old.id
            ),
        }
        report.old_key = Some(
            retire_old_key(iam, user, old, plan.old_key_action)
                .await
                .map_err(|e| {
                    anyhow!(
                "the new credential (key {}) was delivered to {}, but retiring the old key {} ({}) failed: \
                 {e}; the old key is still {}. Retire it once the cause is fixed (aws iam update-access-key \
                 --user-name {user} --access-key-id {} --status Inactive)",
                key.id,
                report
                    .delivered_to
                    .as_ref()
                    .map_or("its destination".to_string(), |d| d.to_string()),
                old.id,
                plan.old_key_action.flag(),
                old.status.to_string().to_lowercase(),
                old.id
            )
                })?,
        );
    }
    Ok(report)
}

/// Stops a rotation that was interrupted before it changed anything.
fn interrupted_before_any_change() -> anyhow::Result<()> {
    crate::interrupt::check()
        .map_err(|i| anyhow!("{i} before the rotation changed anything; nothing was changed"))
}

/// Deletes a new key whose credential was never handed over (a failed delivery or `--verify`), and
/// says so in the error; the old key is untouched.
async fn delete_undelivered_key(iam: &Iam, user: &str, key_id: &str, cause: String) -> anyhow::Error {
    let undo = match iam.delete_access_key(user, key_id).await {
        Ok(()) => format!("the new key {key_id} was deleted"),
        Err(d) => format!(
            "deleting the new key {key_id} failed too ({d}): delete it by hand (aws iam delete-access-key \
             --user-name {user} --access-key-id {key_id})"
        ),
    };
    anyhow!("{cause}; {undo}; the old key is untouched")
}

impl RotateReport {
    fn new(plan: &RotationPlan) -> Self {
        RotateReport {
            user_name: plan.user_name.clone(),
            region: plan.region.clone(),
            smtp_host: crate::regions::smtp_host(&plan.region),
            access_key_id: String::new(),
            resumed: false,
            secret_name: None,
            secret_arn: None,
            version_id: None,
            previous_version_id: None,
            delivered_to: None,
            deleted_inactive_key: None,
            deleted_previous_key: None,
            cleared_pending_version: None,
            old_access_key_id: plan.old_key.as_ref().map(|k| k.id.clone()),
            old_key: None,
            warnings: Vec::new(),
        }
    }
}

async fn delete_inactive_first(
    iam: &Iam,
    plan: &RotationPlan,
    report: &mut RotateReport,
) -> anyhow::Result<()> {
    if let Some(k) = &plan.delete_inactive_key {
        iam.delete_access_key(&plan.user_name, k).await.map_err(|e| {
            anyhow!("could not delete the inactive key {k} (--delete-inactive): {e}; nothing was changed")
        })?;
        report.deleted_inactive_key = Some(k.clone());
    }
    if let Some(k) = &plan.delete_previous_key {
        iam.delete_access_key(&plan.user_name, k).await.map_err(|e| {
            anyhow!(
                "could not delete key {k}, held by the secret's AWSPREVIOUS, to make room for the new key: {e}; \
                 nothing was changed"
            )
        })?;
        report.deleted_previous_key = Some(k.clone());
    }
    Ok(())
}

/// iam:CreateAccessKey, attempt by attempt (the SDK retries nothing here). A failed attempt may still
/// have created a key whose answer was lost: before the next attempt the keys are listed, and a key
/// that was not there before this run is that attempt's (its secret never arrived), so it is deleted.
/// A refusal (`LimitExceeded`, a denial, a bad request) created no key: nothing is deleted after it,
/// and a key that appeared meanwhile is named as another run's (deleting it would cut off the
/// credential that run is rolling out).
async fn create_key(
    iam: &Iam,
    plan: &RotationPlan,
    secret: Option<(&Secrets, &SecretTarget)>,
) -> anyhow::Result<crate::aws::iam::NewAccessKey> {
    let user = plan.user_name.as_str();
    let known: Vec<&str> = plan.keys_before.iter().map(|k| k.id.as_str()).collect();
    let mut pause = std::time::Duration::from_millis(200);
    let mut notes = String::new();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let e = match iam.create_access_key_once(user).await {
            Ok(k) => return Ok(k),
            Err(e) => e,
        };
        let refused = matches!(
            e.kind,
            ErrorKind::LimitExceeded | ErrorKind::AccessDenied | ErrorKind::Invalid | ErrorKind::NotFound
        );
        let mut another_run = false;
        if let Ok(keys) = iam.list_access_keys(user).await {
            for other in keys.iter().filter(|k| !known.contains(&k.id.as_str())) {
                let claimed = if refused {
                    None
                } else {
                    another_runs_key(iam, plan, &keys, &other.id, secret).await
                };
                if let Some(why) = claimed {
                    another_run = true;
                    notes.push_str(&format!(
                        "; key {id} appeared on {user} while this run's attempt went unanswered, and it is \
                         another run's new key ({why}): left as it is (do not run two rotations of one user \
                         at once)",
                        id = other.id
                    ));
                    continue;
                }
                if refused {
                    notes.push_str(&format!(
                        "; key {id} appeared on {user} while this run was creating one: another run's new \
                         key, left as it is (do not run two rotations of one user at once)",
                        id = other.id
                    ));
                    continue;
                }
                match iam.delete_access_key(user, &other.id).await {
                    Ok(()) => notes.push_str(&format!(
                        "; key {} that a failed attempt created anyway was deleted",
                        other.id
                    )),
                    Err(d) => notes.push_str(&format!(
                        "; key {id} that a failed attempt created anyway could not be deleted ({d}); its secret \
                         was never delivered: delete it (aws iam delete-access-key --user-name {user} \
                         --access-key-id {id})",
                        id = other.id
                    )),
                }
            }
        }
        if refused || another_run || !iam.may_retry(&e, attempt) {
            return Err(anyhow!(
                "creating the new access key failed: {e}{notes}; the old key and the secret are untouched"
            ));
        }
        tracing::debug!("iam:CreateAccessKey attempt {attempt} failed ({e}); trying again");
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

/// Whether a key that appeared after an unanswered CreateAccessKey attempt is another run's rather
/// than that attempt's, and why: a stage of the secret names it (another rotation stored it), a key
/// the user had before this run was retired or deleted meanwhile by someone other than this run
/// (another rotation finished), or the key has been used (someone holds its secret). An attempt's own
/// key is none of these. A check that cannot be made counts as "another run's": the key is then left,
/// never deleted on a guess.
async fn another_runs_key(
    iam: &Iam,
    plan: &RotationPlan,
    keys_now: &[AccessKey],
    key_id: &str,
    secret: Option<(&Secrets, &SecretTarget)>,
) -> Option<String> {
    let deleted_by_this_run = [&plan.delete_inactive_key, &plan.delete_previous_key];
    for before in &plan.keys_before {
        if deleted_by_this_run
            .iter()
            .any(|d| d.as_deref() == Some(before.id.as_str()))
        {
            continue;
        }
        match keys_now.iter().find(|k| k.id == before.id) {
            None => return Some(format!("key {} was deleted meanwhile", before.id)),
            Some(k) if k.status != before.status => {
                return Some(format!(
                    "key {} was made {} meanwhile",
                    before.id,
                    k.status.to_string().to_lowercase()
                ))
            }
            Some(_) => {}
        }
    }
    match iam.access_key_last_used(key_id).await {
        Ok(used) if used.date.is_some() => return Some("it has been used".to_string()),
        Ok(_) => {}
        Err(e) => return Some(format!("its last use could not be read: {e}")),
    }
    let (secrets, target) = secret?;
    let info = match secrets.describe(&target.arn).await {
        Ok(Some(info)) => info,
        Ok(None) => return Some(format!("secret {} could not be found to check", target.name)),
        Err(e) => return Some(format!("secret {}'s stages could not be read: {e}", target.name)),
    };
    for (version, stages) in info.versions.iter().filter(|(_, s)| !s.is_empty()) {
        match secrets.get_version(&target.arn, version).await {
            Ok(Some(v)) => {
                let named =
                    crate::credential::StoredCredential::parse(&v.value).is_ok_and(|c| c.username == key_id);
                if named {
                    return Some(format!("secret {}'s {} names it", target.name, stages.join(", ")));
                }
            }
            Ok(None) => {}
            Err(e) => {
                return Some(format!(
                    "secret {}'s versions could not be read: {e}",
                    target.name
                ))
            }
        }
    }
    None
}

/// Undoes a rotation that failed before promotion: deletes the new key, then removes its pending
/// label. If the key cannot be deleted, the label stays, so its secret is not lost and a re-run
/// resumes. Returns the error to report.
async fn roll_back(
    iam: &Iam,
    secrets: &Secrets,
    plan: &RotationPlan,
    key_id: &str,
    version_id: Option<&str>,
    cause: String,
) -> anyhow::Error {
    let user = &plan.user_name;
    let Some(target) = &plan.secret else {
        return anyhow!(cause);
    };
    if let Err(e) = iam.delete_access_key(user, key_id).await {
        // Say only what is true: the key's secret is safe only if the pending version was stored.
        let stored = match version_id {
            Some(v) => match secrets.describe(&target.arn).await {
                Ok(Some(info)) => Some(
                    info.versions
                        .get(v)
                        .is_some_and(|s| s.iter().any(|s| s == STAGE_PENDING)),
                ),
                _ => None,
            },
            None => Some(false),
        };
        let delete = format!("aws iam delete-access-key --user-name {user} --access-key-id {key_id}");
        return match stored {
            Some(true) => anyhow!(
                "{cause}. Deleting the new key {key_id} failed too ({e}), so it stays, stored as AWSPENDING in \
                 {}{}: nothing is lost, AWSCURRENT and the old key are as they were. Re-run `sesctl rotate \
                 {user} --secret-name {}` to finish the rotation, or delete the key ({delete})",
                target.name,
                version_id.map(|v| format!(" (version {v})")).unwrap_or_default(),
                target.name
            ),
            Some(false) => anyhow!(
                "{cause}. Deleting the new key {key_id} failed too ({e}): it stays active, but its secret was \
                 never stored, so it can never be used. AWSCURRENT and the old key are as they were. Delete \
                 it: {delete}"
            ),
            None => anyhow!(
                "{cause}. Deleting the new key {key_id} failed too ({e}), and whether its secret was stored \
                 could not be read. AWSCURRENT and the old key are as they were. Once the secret can be read: \
                 if a version of {} is staged AWSPENDING with key {key_id}, re-run `sesctl rotate {user} \
                 --secret-name {}` to finish; otherwise delete the key: {delete}",
                target.name,
                target.name
            ),
        };
    }
    let mut label = String::new();
    if let Some(v) = version_id {
        match secrets.describe(&target.arn).await {
            Ok(Some(info))
                if info
                    .versions
                    .get(v)
                    .is_some_and(|s| s.iter().any(|s| s == STAGE_PENDING)) =>
            {
                match secrets
                    .move_stage(&target.arn, STAGE_PENDING, None, Some(v))
                    .await
                {
                    Ok(()) => label = format!(" and removed AWSPENDING from version {v}"),
                    Err(e) => {
                        label = format!(
                        "; removing AWSPENDING from version {v} failed ({e}), which is harmless: the next \
                             rotation clears a pending version whose key is gone"
                    )
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                label = format!(
                    "; whether version {v} was stored could not be checked ({e}): the next rotation clears a \
                     pending version whose key is gone"
                )
            }
        }
    }
    anyhow!(
        "{cause}. Rolled back: deleted the new key {key_id}{label}; the old key and the secret's AWSCURRENT \
         are as they were"
    )
}

/// Retires one key: iam:UpdateAccessKey to Inactive, or iam:DeleteAccessKey; `Keep` does nothing.
async fn retire_old_key(
    iam: &Iam,
    user: &str,
    key: &AccessKey,
    action: OldKeyAction,
) -> Result<KeyOutcome, crate::aws::AwsError> {
    match action {
        OldKeyAction::Keep => Ok(KeyOutcome::Kept),
        OldKeyAction::Deactivate if key.status == KeyStatus::Inactive => Ok(KeyOutcome::AlreadyInactive),
        OldKeyAction::Deactivate => {
            iam.set_access_key_status(user, &key.id, KeyStatus::Inactive)
                .await?;
            Ok(KeyOutcome::Deactivated)
        }
        OldKeyAction::Delete => {
            iam.delete_access_key(user, &key.id).await?;
            Ok(KeyOutcome::Deleted)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The second phase: `--finish`
// ---------------------------------------------------------------------------------------------

/// A key `--finish` retires, with its last use read before anything changes.
#[derive(Debug, Clone, Serialize)]
pub struct KeyToRetire {
    pub access_key_id: String,
    pub status: KeyStatus,
    pub created: DateTime<Utc>,
    pub last_used: KeyLastUsed,
}

/// What `--finish` will do.
#[derive(Debug, Clone)]
pub struct FinishPlan {
    pub user_name: String,
    pub secret_name: String,
    pub current_key: AccessKey,
    pub retire: Vec<KeyToRetire>,
    pub already_inactive: Vec<String>,
    pub action: OldKeyAction,
    pub warnings: Vec<String>,
}

/// Decides which keys `--finish` retires: exactly those the secret's AWSCURRENT does not reference.
/// Refuses while a rotation is pending (its new key is not in AWSCURRENT yet) and when the current key
/// is missing or inactive (retiring the others would leave no working credential). Reads each key's
/// last use (iam:GetAccessKeyLastUsed).
pub async fn plan_finish(
    iam: &Iam,
    user: &UserState,
    secret: &SecretState,
    action: OldKeyAction,
) -> anyhow::Result<FinishPlan> {
    let name = &user.user.name;
    if let Some(p) = &secret.pending {
        if user
            .key(&p.credential.access_key_id)
            .is_some_and(|k| k.status == KeyStatus::Active)
        {
            anyhow::bail!(
                "a rotation of {name} is in progress: key {} is stored as AWSPENDING (version {}) but not yet \
                 current; finishing now would retire it. Run `sesctl rotate {name} --secret-name {}` to \
                 complete that rotation first; nothing was changed",
                p.credential.access_key_id,
                p.credential.version_id,
                secret.name
            );
        }
    }
    let current_id = &secret.current.access_key_id;
    let current_key = match user.key(current_id) {
        Some(k) if k.status == KeyStatus::Active => k.clone(),
        Some(_) => anyhow::bail!(
            "the key in secret {}'s AWSCURRENT ({current_id}) is inactive, so retiring the other keys would \
             leave {name} with no working credential; nothing was changed (re-activate it, or rotate first)",
            secret.name
        ),
        None => anyhow::bail!(
            "the key in secret {}'s AWSCURRENT ({current_id}) no longer exists in IAM, so retiring the other \
             keys would leave {name} with no working credential; nothing was changed (rotate first)",
            secret.name
        ),
    };
    let mut retire = Vec::new();
    let mut already_inactive = Vec::new();
    let mut warnings = Vec::new();
    for k in user.keys.iter().filter(|k| k.id != *current_id) {
        if action == OldKeyAction::Deactivate && k.status == KeyStatus::Inactive {
            already_inactive.push(k.id.clone());
            continue;
        }
        let last_used = iam.access_key_last_used(&k.id).await?;
        if let Some(used) = last_used.date.filter(|d| *d > current_key.created) {
            warnings.push(format!(
                "key {} was last used {}, after the current key {} was created ({}): some consumer may still \
                 use it",
                k.id,
                used.format("%Y-%m-%d %H:%M UTC"),
                current_key.id,
                current_key.created.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        retire.push(KeyToRetire {
            access_key_id: k.id.clone(),
            status: k.status,
            created: k.created,
            last_used,
        });
    }
    Ok(FinishPlan {
        user_name: name.clone(),
        secret_name: secret.name.clone(),
        current_key,
        retire,
        already_inactive,
        action,
        warnings,
    })
}

fn describe_last_use(u: &KeyLastUsed) -> String {
    match u.date {
        None => "never used".to_string(),
        Some(d) => {
            let mut s = format!("last used {}", d.format("%Y-%m-%d %H:%M UTC"));
            if let Some(svc) = &u.service {
                s.push_str(&format!(" ({svc}"));
                if let Some(r) = &u.region {
                    s.push_str(&format!(", {r}"));
                }
                s.push(')');
            }
            s
        }
    }
}

impl FinishPlan {
    pub fn to_plan(&self) -> Plan {
        let mut plan = Plan::new("rotate --finish");
        for k in &self.retire {
            let what = format!(
                "key {} of user {} ({}, {})",
                k.access_key_id,
                self.user_name,
                k.status,
                describe_last_use(&k.last_used)
            );
            match self.action {
                OldKeyAction::Delete => plan.call("iam:DeleteAccessKey", what),
                _ => plan.call("iam:UpdateAccessKey", format!("{what} to Inactive")),
            }
        }
        plan.note(format!(
            "key {} stays: it is the one in {}'s AWSCURRENT",
            self.current_key.id, self.secret_name
        ));
        for k in &self.already_inactive {
            plan.note(format!("key {k} is already inactive"));
        }
        for w in &self.warnings {
            plan.note(format!("warning: {w}"));
        }
        plan
    }
}

/// One key `--finish` retired.
#[derive(Debug, Clone, Serialize)]
pub struct RetiredKey {
    pub access_key_id: String,
    pub created: DateTime<Utc>,
    pub last_used: KeyLastUsed,
    pub outcome: KeyOutcome,
}

/// What `--finish` did.
#[derive(Debug, Clone, Serialize)]
pub struct FinishReport {
    pub user_name: String,
    pub secret_name: String,
    pub current_access_key_id: String,
    pub retired: Vec<RetiredKey>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub already_inactive: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl fmt::Display for FinishReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.retired.is_empty() {
            writeln!(
                f,
                "Nothing to retire: {} has no key besides {}, the one in {}'s AWSCURRENT.",
                self.user_name, self.current_access_key_id, self.secret_name
            )?;
        } else {
            writeln!(
                f,
                "Finished the rotation of {}: {} stays (in {}'s AWSCURRENT).",
                self.user_name, self.current_access_key_id, self.secret_name
            )?;
        }
        for k in &self.retired {
            writeln!(
                f,
                "  key {}: {} ({}; created {})",
                k.access_key_id,
                k.outcome,
                describe_last_use(&k.last_used),
                k.created.format("%Y-%m-%d")
            )?;
        }
        for k in &self.already_inactive {
            writeln!(f, "  key {k}: already inactive")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// Retires the keys of `plan` in turn. A failure stops there and says which keys were retired.
pub async fn finish(
    iam: &Iam,
    secrets: &Secrets,
    secret: &SecretState,
    plan: &FinishPlan,
) -> anyhow::Result<FinishReport> {
    // The stages are read again just before anything is retired: a rotation that started since the
    // plan was made (its new key stored as AWSPENDING, or already promoted) must not lose its key.
    let now = inspect_secret(secrets, &secret.arn, &secret.region, &plan.user_name)
        .await
        .map_err(|e| {
            anyhow!(
                "reading secret {} again before retiring failed: {e:#}; nothing was retired",
                plan.secret_name
            )
        })?;
    let moved = now.current.access_key_id != plan.current_key.id;
    let pending = now
        .pending
        .as_ref()
        .map(|p| p.credential.access_key_id.clone())
        .filter(|k| plan.retire.iter().any(|r| r.access_key_id == *k));
    if moved || pending.is_some() {
        anyhow::bail!(
            "secret {} changed since the keys to retire were chosen ({}): another rotation is under way, so \
             nothing was retired; run --finish again once it is done",
            plan.secret_name,
            match pending {
                Some(k) => format!("key {k} is now stored as AWSPENDING"),
                None => format!("AWSCURRENT now holds key {}", now.current.access_key_id),
            }
        );
    }
    let mut retired: Vec<RetiredKey> = Vec::new();
    for k in &plan.retire {
        let key = AccessKey {
            id: k.access_key_id.clone(),
            status: k.status,
            created: k.created,
        };
        let outcome = retire_old_key(iam, &plan.user_name, &key, plan.action)
            .await
            .map_err(|e| {
                let done: Vec<&str> = retired.iter().map(|r| r.access_key_id.as_str()).collect();
                anyhow!(
                    "retiring key {} of {} failed: {e}; {}; the current key {} is untouched",
                    k.access_key_id,
                    plan.user_name,
                    if done.is_empty() {
                        "no key was retired".to_string()
                    } else {
                        format!("already retired: {}", done.join(", "))
                    },
                    plan.current_key.id
                )
            })?;
        retired.push(RetiredKey {
            access_key_id: k.access_key_id.clone(),
            created: k.created,
            last_used: k.last_used.clone(),
            outcome,
        });
    }
    Ok(FinishReport {
        user_name: plan.user_name.clone(),
        secret_name: plan.secret_name.clone(),
        current_access_key_id: plan.current_key.id.clone(),
        retired,
        already_inactive: plan.already_inactive.clone(),
        warnings: plan.warnings.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2024-05-{day:02}T10:00:00Z"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn key(id: &str, status: KeyStatus, day: u32) -> AccessKey {
        AccessKey {
            id: id.into(),
            status,
            created: at(day),
        }
    }

    fn user(keys: Vec<AccessKey>) -> UserState {
        UserState {
            user: User {
                name: "mailer".into(),
                arn: "arn:aws:iam::123456789012:user/mailer".into(),
                path: "/".into(),
                created: at(1),
            },
            keys,
        }
    }

    fn stored(version: &str, key: &str) -> StoredVersion {
        StoredVersion {
            version_id: version.into(),
            iam_user_name: "mailer".into(),
            access_key_id: key.into(),
            region: Some("eu-west-1".into()),
        }
    }

    fn secret(current: &str, pending: Option<&str>) -> SecretState {
        SecretState {
            name: "smtp/mailer".into(),
            arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:smtp/mailer-AbCdEf".into(),
            region: "eu-west-1".into(),
            current: stored("v1", current),
            current_value: Secret::new("{}".into()),
            shape: crate::credential::Shape::Sesctl,
            pending: pending.map(|k| PendingVersion {
                credential: stored("v2", k),
                value: Secret::new("{}".into()),
            }),
            previous_key: None,
        }
    }

    fn request(action: OldKeyAction, delete_inactive: bool) -> RotationRequest {
        RotationRequest {
            region: "eu-west-1".into(),
            old_key_action: action,
            delete_inactive,
            delivery: None,
        }
    }

    fn actions(plan: &RotationPlan) -> Vec<String> {
        plan.to_plan().calls.into_iter().map(|c| c.action).collect()
    }

    #[test]
    fn a_fresh_rotation_creates_stores_promotes_then_retires() {
        let u = user(vec![key("AKIAOLD", KeyStatus::Active, 1)]);
        let plan = plan_rotation(
            &u,
            Some(&secret("AKIAOLD", None)),
            &request(OldKeyAction::Deactivate, false),
        )
        .unwrap();
        assert_eq!(plan.new_key, NewKey::Create);
        assert_eq!(plan.old_key.as_ref().unwrap().id, "AKIAOLD");
        assert_eq!(
            actions(&plan),
            [
                "iam:CreateAccessKey",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
                "iam:UpdateAccessKey",
                "secretsmanager:UpdateSecretVersionStage"
            ]
        );
    }

    #[test]
    fn an_active_pending_key_is_resumed_not_recreated() {
        let u = user(vec![
            key("AKIAOLD", KeyStatus::Active, 1),
            key("AKIANEW", KeyStatus::Active, 2),
        ]);
        let plan = plan_rotation(
            &u,
            Some(&secret("AKIAOLD", Some("AKIANEW"))),
            &request(OldKeyAction::Delete, false),
        )
        .unwrap();
        assert_eq!(
            plan.new_key,
            NewKey::Resume {
                access_key_id: "AKIANEW".into(),
                version_id: "v2".into()
            }
        );
        assert!(!actions(&plan).contains(&"iam:CreateAccessKey".to_string()));
        assert_eq!(plan.old_key.as_ref().unwrap().id, "AKIAOLD");
    }

    #[test]
    fn a_pending_version_with_a_gone_or_inactive_key_is_cleared() {
        let u = user(vec![key("AKIAOLD", KeyStatus::Active, 1)]);
        let plan = plan_rotation(
            &u,
            Some(&secret("AKIAOLD", Some("AKIAGONE"))),
            &request(OldKeyAction::Deactivate, false),
        )
        .unwrap();
        assert_eq!(plan.new_key, NewKey::Create);
        assert_eq!(plan.clear_pending.as_ref().unwrap().key_status, None);

        // An inactive pending key still counts towards IAM's limit; --delete-inactive removes it.
        let u = user(vec![
            key("AKIAOLD", KeyStatus::Active, 1),
            key("AKIAPEND", KeyStatus::Inactive, 2),
        ]);
        let s = secret("AKIAOLD", Some("AKIAPEND"));
        assert!(plan_rotation(&u, Some(&s), &request(OldKeyAction::Deactivate, false)).is_err());
        let plan = plan_rotation(&u, Some(&s), &request(OldKeyAction::Deactivate, true)).unwrap();
        assert_eq!(plan.delete_inactive_key.as_deref(), Some("AKIAPEND"));
        assert_eq!(
            plan.clear_pending.as_ref().unwrap().key_status,
            Some(KeyStatus::Inactive)
        );
    }

    #[test]
    fn two_keys_are_refused_and_the_current_key_is_never_the_one_deleted() {
        let u = user(vec![
            key("AKIAOLD", KeyStatus::Active, 1),
            key("AKIAOTHER", KeyStatus::Active, 2),
        ]);
        let err = plan_rotation(
            &u,
            Some(&secret("AKIAOLD", None)),
            &request(OldKeyAction::Deactivate, true),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("at most two access keys"), "{err}");
        assert!(err.contains("AKIAOTHER"), "{err}");

        // The secret's current key is inactive: --delete-inactive must not pick it.
        let u = user(vec![
            key("AKIACUR", KeyStatus::Inactive, 1),
            key("AKIAOTHER", KeyStatus::Active, 2),
        ]);
        let err = plan_rotation(
            &u,
            Some(&secret("AKIACUR", None)),
            &request(OldKeyAction::Deactivate, true),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("sesctl will not delete it"), "{err}");

        // Without a secret, the older of two inactive keys goes; the other is the old key.
        let u = user(vec![
            key("AKIAB", KeyStatus::Inactive, 3),
            key("AKIAA", KeyStatus::Inactive, 2),
        ]);
        let plan = plan_rotation(&u, None, &request(OldKeyAction::Deactivate, true)).unwrap();
        assert_eq!(plan.delete_inactive_key.as_deref(), Some("AKIAA"));
        assert_eq!(plan.old_key.as_ref().unwrap().id, "AKIAB");
        assert!(
            !actions(&plan).contains(&"iam:UpdateAccessKey".to_string()),
            "already inactive"
        );
    }

    #[test]
    fn two_keys_make_room_by_deleting_the_awsprevious_key_never_the_current_one() {
        let u = user(vec![
            key("OLD", KeyStatus::Active, 1),
            key("CUR", KeyStatus::Active, 2),
        ]);
        let mut s = secret("CUR", None);
        s.previous_key = Some("OLD".into());
        let plan = plan_rotation(&u, Some(&s), &request(OldKeyAction::Deactivate, false)).unwrap();
        assert_eq!(plan.delete_previous_key.as_deref(), Some("OLD"));
        assert_eq!(plan.old_key.as_ref().map(|k| k.id.as_str()), Some("CUR"));
        let calls = actions(&plan);
        assert_eq!(calls[0], "iam:DeleteAccessKey");
        assert!(plan.to_plan().calls[0].target.contains("AWSPREVIOUS"));
        // AWSPREVIOUS naming the current key frees nothing: still refused.
        s.previous_key = Some("CUR".into());
        assert!(plan_rotation(&u, Some(&s), &request(OldKeyAction::Deactivate, false)).is_err());
    }

    #[test]
    fn a_key_outside_the_secret_is_left_alone() {
        let u = user(vec![key("AKIASTRAY", KeyStatus::Active, 1)]);
        let plan = plan_rotation(
            &u,
            Some(&secret("AKIAGONE", None)),
            &request(OldKeyAction::Delete, false),
        )
        .unwrap();
        assert!(plan.old_key.is_none());
        assert!(!actions(&plan).contains(&"iam:DeleteAccessKey".to_string()));
        assert!(
            plan.notes.iter().any(|n| n.contains("AKIASTRAY")),
            "{:?}",
            plan.notes
        );
    }

    #[test]
    fn stored_credentials_parse_without_quoting_the_value() {
        let v = Secret::new(
            r#"{"username":"AKIAX","password":"hunter2","iam_user_name":"mailer","region":"eu-west-1"}"#
                .into(),
        );
        let (c, _) = read_stored("s", STAGE_CURRENT, "v1", &v, "other").unwrap();
        assert_eq!(c.access_key_id, "AKIAX", "username stands in for access_key_id");
        assert_eq!(
            c.iam_user_name, "mailer",
            "the value's user beats the one asked for"
        );
        let bad = Secret::new(r#"{"password":"hunter2"}"#.into());
        let err = read_stored("s", STAGE_CURRENT, "v1", &bad, "mailer")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let not_json = Secret::new("hunter2 and more".into());
        let err = read_stored("s", STAGE_CURRENT, "v1", &not_json, "mailer")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
