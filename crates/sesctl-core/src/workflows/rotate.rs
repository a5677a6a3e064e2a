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

// A rotation's error carries what the operator needs to act on it (names, versions, the AWS error);
// it is returned once per run, so its size does not matter and boxing its fields would only add noise.
#![allow(clippy::result_large_err)]

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::deliver::{Delivered, SmtpCredential};
use super::{Plan, PlanNote};
use crate::aws::iam::{AccessKey, Iam, KeyLastUsed, KeyStatus, User};
use crate::aws::secrets::{Secrets, STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS};
use crate::aws::AwsError;
use crate::rotation::{
    self, CreateKeyFailed, KeyGuard, OperatorRun, Origin, RotationError, Settings, StepRequest, Verification,
};
use crate::secret::Secret;

pub use crate::rotation::OldKeyAction;

pub use crate::rotation::KeyOutcome;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a rotation (or `--finish`) stopped. Each variant says what was, and was not, changed; the
/// messages name no command-line flag (the CLI adds its advice when it renders them).
#[derive(Debug)]
pub enum RotateError {
    /// Reading the user or the secret failed before any change.
    Read(AwsError),
    /// The IAM user does not exist.
    NoUser { user: String },
    /// The secret does not exist in the region it was read in.
    NoSecret { secret: String, region: String },
    /// The secret holds another IAM user's credential.
    SecretOfAnotherUser {
        secret: String,
        holder: String,
        user: String,
    },
    /// The secret (another tool's shape, not naming its user) holds a key that is not the user's.
    NotTheUsersKey {
        secret: String,
        key: String,
        user: String,
    },
    /// The secret cannot be rotated as it stands; `problem` says why and what to do.
    Unusable { secret: String, problem: String },
    /// IAM's two-key limit leaves no room for the new key; nothing was changed.
    NoRoom {
        user: String,
        keys: Vec<AccessKey>,
        /// The key the secret's AWSCURRENT holds.
        current_key: Option<String>,
        secret: Option<String>,
        /// The operator asked for the inactive key to be deleted.
        delete_inactive: bool,
    },
    /// Deleting the inactive key the operator asked to delete failed; nothing else was changed.
    DeleteInactiveFailed { key: String, error: AwsError },
    /// A change before the new key failed (`what` says which; `changed` what had been).
    BeforeNewKey {
        what: String,
        error: AwsError,
        changed: &'static str,
    },
    /// The SMTP endpoint settings are unusable (found before any change).
    Endpoint(crate::smtp::EndpointError),
    /// Interrupted before the rotation changed anything.
    Interrupted(crate::interrupt::Interrupted),
    /// iam:CreateAccessKey failed.
    CreateKey(CreateKeyFailed),
    /// A step before promotion failed, and the ledger was walked back as `undo` says.
    RolledBack {
        user: String,
        secret: String,
        cause: Cause,
        undo: Undo,
    },
    /// Promotion failed and the secret could not be read back: nothing was undone.
    PromotionUnknown {
        user: String,
        secret: String,
        key: String,
        version: String,
        error: AwsError,
    },
    /// The rotation was promoted; retiring the old key failed and it is untouched.
    RetireFailed {
        user: String,
        secret: String,
        key: String,
        version: String,
        old_key: String,
        old_status: String,
        action: OldKeyAction,
        error: AwsError,
    },
    /// Without a secret: the new key was not handed over (`cause`) and was deleted, or not (`undo`).
    NotDelivered { cause: Cause, undo: String },
    /// Without a secret: the credential was delivered, but the old key was not retired.
    DeliveredNotRetired { detail: String },
    /// `--finish` while a rotation is pending: its key would be retired.
    FinishWhilePending {
        user: String,
        secret: String,
        key: String,
        version: String,
    },
    /// `--finish`: the key in AWSCURRENT is missing or inactive; nothing was retired.
    FinishWithoutCurrent { detail: String },
    /// `--finish`: reading a key's last use failed; nothing was retired.
    LastUse(AwsError),
    /// `--finish`: the secret changed after the keys to retire were chosen; nothing was retired.
    FinishRaced { secret: String, change: String },
    /// `--finish`: retiring a key failed, or reading the secret again did; `detail` says which keys
    /// were retired.
    FinishFailed { detail: String },
    /// A broken invariant of the workflow (a bug), named.
    Internal(&'static str),
}

/// Why a rotation stopped before promotion.
#[derive(Debug)]
pub enum Cause {
    /// The SMTP login with the new credential failed (the failure and its diagnosis).
    Login(String),
    /// Someone else deactivated (or deleted) the new key before it was promoted.
    KeyTaken { key: String, deactivated: bool },
    /// Anything else, as words.
    Other(String),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Login(detail) => write!(
                f,
                "the new credential did not pass the SMTP login check: {detail}"
            ),
            Cause::KeyTaken { key, deactivated } => write!(
                f,
                "the new key {key} was {} by someone else (another run that retires keys, or a person) before \
                 it was promoted, so AWSCURRENT was not moved to it",
                if *deactivated { "deactivated" } else { "deleted" }
            ),
            Cause::Other(text) => f.write_str(text),
        }
    }
}

/// What walking the ledger back did with the new key.
#[derive(Debug)]
pub enum Undo {
    /// Nothing of this rotation existed yet.
    Nothing,
    /// The new key was deleted; `label` says what became of its pending version (`""` when none).
    Deleted { key: String, label: String },
    /// Deleting the key failed; its value is stored as AWSPENDING (`version`): nothing is lost.
    KeyStaysStored {
        key: String,
        version: String,
        error: AwsError,
    },
    /// Deleting the key failed; its secret was never stored, so it can never be used.
    KeyStaysUnstored { key: String, error: AwsError },
    /// Deleting the key failed, and whether its value was stored could not be read.
    KeyStaysUnknown { key: String, error: AwsError },
}

impl fmt::Display for RotateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RotateError::Read(e) => write!(f, "reading the user and its secret failed, so nothing was changed: {e}"),
            RotateError::NoUser { user } => write!(f, "IAM user {user} does not exist; check the name"),
            RotateError::NoSecret { secret, region } => write!(
                f,
                "secret {secret} does not exist in {region}; a rotation updates an existing secret"
            ),
            RotateError::SecretOfAnotherUser { secret, holder, user } => write!(
                f,
                "secret {secret} holds the SMTP credential of IAM user {holder}, not {user}; nothing was changed"
            ),
            RotateError::NotTheUsersKey { secret, key, user } => write!(
                f,
                "secret {secret} holds access key {key}, which is not a key of IAM user {user}; nothing was \
                 changed"
            ),
            RotateError::Unusable { problem, .. } => f.write_str(problem),
            RotateError::NoRoom { user, keys, .. } => write!(
                f,
                "IAM allows at most two access keys per user and {user} already has two ({}); a rotation \
                 needs room for a new key; nothing was changed",
                keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
            RotateError::DeleteInactiveFailed { key, error } => {
                write!(f, "could not delete the inactive key {key}: {error}; nothing was changed")
            }
            RotateError::BeforeNewKey { what, error, changed } => write!(f, "{what}: {error}; {changed}"),
            RotateError::Endpoint(e) => write!(f, "the SMTP endpoint setting is unusable: {e}"),
            RotateError::Interrupted(i) => {
                write!(f, "{i} before the rotation changed anything; nothing was changed")
            }
            RotateError::CreateKey(CreateKeyFailed { error, notes }) => write!(
                f,
                "creating the new access key failed: {error}{notes}; the old key and the secret are untouched"
            ),
            RotateError::RolledBack { cause, undo, secret, .. } => {
                write!(f, "{cause}. ")?;
                match undo {
                    Undo::Nothing => f.write_str("Nothing had been changed"),
                    Undo::Deleted { key, label } => write!(
                        f,
                        "Rolled back: deleted the new key {key}{label}; the old key and the secret's \
                         AWSCURRENT are as they were"
                    ),
                    Undo::KeyStaysStored { key, version, error } => write!(
                        f,
                        "Deleting the new key {key} failed too ({error}), so it stays, stored as AWSPENDING in \
                         {secret} (version {version}): nothing is lost, AWSCURRENT and the old key are as they \
                         were; rotating again finishes the rotation"
                    ),
                    Undo::KeyStaysUnstored { key, error } => write!(
                        f,
                        "Deleting the new key {key} failed too ({error}): it stays active, but its secret was \
                         never stored, so it can never be used. AWSCURRENT and the old key are as they were"
                    ),
                    Undo::KeyStaysUnknown { key, error } => write!(
                        f,
                        "Deleting the new key {key} failed too ({error}), and whether its secret was stored \
                         could not be read. AWSCURRENT and the old key are as they were"
                    ),
                }
            }
            RotateError::PromotionUnknown {
                secret, key, version, error, ..
            } => write!(
                f,
                "promoting the new credential to AWSCURRENT in {secret} failed ({error}), and the secret could \
                 not be read back to learn whether it took effect, so nothing was undone: the new key {key} is \
                 stored as AWSPENDING (version {version}) and the old key is untouched"
            ),
            RotateError::RetireFailed {
                secret,
                key,
                version,
                old_key,
                old_status,
                action,
                error,
                ..
            } => write!(
                f,
                "the rotation is promoted: secret {secret}'s AWSCURRENT now holds the new key {key} (version \
                 {version}) and AWSPREVIOUS the old key {old_key}, which is still {old_status}. Retiring the \
                 old key ({}) failed: {error}. Consumers that read the secret get the new credential",
                action.name()
            ),
            RotateError::NotDelivered { cause, undo } => write!(f, "{cause}; {undo}; the old key is untouched"),
            RotateError::DeliveredNotRetired { detail } => f.write_str(detail),
            RotateError::FinishWhilePending { user, key, version, .. } => write!(
                f,
                "a rotation of {user} is in progress: key {key} is stored as AWSPENDING (version {version}) but \
                 not yet current; finishing now would retire it; nothing was changed"
            ),
            RotateError::FinishWithoutCurrent { detail } => f.write_str(detail),
            RotateError::LastUse(e) => write!(f, "{e}"),
            RotateError::FinishRaced { secret, change } => write!(
                f,
                "secret {secret} changed since the keys to retire were chosen ({change}): another rotation is \
                 under way, so nothing was retired"
            ),
            RotateError::FinishFailed { detail } => f.write_str(detail),
            RotateError::Internal(what) => write!(f, "internal error: {what}"),
        }
    }
}

// The messages carry their causes, so no `source()`: a printer that walks the chain would repeat them.
impl std::error::Error for RotateError {}

impl From<AwsError> for RotateError {
    fn from(e: AwsError) -> Self {
        RotateError::Read(e)
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
) -> Result<(StoredVersion, crate::credential::Shape), RotateError> {
    let c = crate::credential::StoredCredential::parse(value).map_err(|e| RotateError::Unusable {
        secret: secret.to_string(),
        problem: format!(
            "secret {secret} ({stage}, version {version_id}) does not hold an SMTP credential sesctl can \
             rotate: {e}"
        ),
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
pub async fn inspect_user(iam: &Iam, user_name: &str) -> Result<UserState, RotateError> {
    let Some(user) = iam.get_user(user_name).await? else {
        return Err(RotateError::NoUser {
            user: user_name.to_string(),
        });
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
) -> Result<SecretState, RotateError> {
    let unusable = |problem: String| RotateError::Unusable {
        secret: secret_id.to_string(),
        problem,
    };
    let Some(info) = secrets.describe(secret_id).await? else {
        return Err(RotateError::NoSecret {
            secret: secret_id.to_string(),
            region: region.to_string(),
        });
    };
    if let Some(when) = info.deleted {
        return Err(unusable(format!(
            "secret {secret_id} is scheduled for deletion (on {when}); restore it \
             (aws secretsmanager restore-secret) before rotating"
        )));
    }
    let Some(current_version) = info.version_with_stage(STAGE_CURRENT).map(str::to_string) else {
        return Err(unusable(format!(
            "secret {secret_id} has no AWSCURRENT version, so there is no credential to rotate"
        )));
    };
    let current_value = secrets
        .get_value(&info.arn, STAGE_CURRENT)
        .await?
        .ok_or_else(|| unusable(format!("secret {secret_id} has no AWSCURRENT value")))?
        .value;
    let (current, shape) = read_stored(
        secret_id,
        STAGE_CURRENT,
        &current_version,
        &current_value,
        user_name,
    )?;
    if current.iam_user_name != user_name {
        return Err(RotateError::SecretOfAnotherUser {
            secret: secret_id.to_string(),
            holder: current.iam_user_name,
            user: user_name.to_string(),
        });
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
                    unusable(format!(
                        "secret {secret_id}: the AWSPENDING version {version} has no value"
                    ))
                })?;
            let (credential, _) = read_stored(secret_id, STAGE_PENDING, &version, &value.value, user_name)?;
            if credential.iam_user_name != user_name {
                return Err(unusable(format!(
                    "secret {secret_id} has a pending version ({version}) for IAM user {}, not {user_name}; \
                     remove its AWSPENDING label (aws secretsmanager update-secret-version-stage) before \
                     rotating",
                    credential.iam_user_name
                )));
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
    pub notes: Vec<PlanNote>,
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
) -> Result<RotationPlan, RotateError> {
    let user_name = user.user.name.clone();
    if let Some(s) = secret.filter(|s| s.shape != crate::credential::Shape::Sesctl) {
        // Another tool's secret does not name its IAM user: its key must be one of this user's.
        if user.key(&s.current.access_key_id).is_none() {
            return Err(RotateError::NotTheUsersKey {
                secret: s.name.clone(),
                key: s.current.access_key_id.clone(),
                user: user_name,
            });
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
            notes.push(PlanNote::Text(format!(
                "key {id} is held by the secret's AWSPREVIOUS (the old key of the last rotation): it is \
                 deleted to make room for the new key"
            )));
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
        notes.push(PlanNote::DeleteInactiveNotNeeded);
    }

    let old_key = match (secret, &new_key) {
        (Some(s), _) => {
            let found = remaining
                .iter()
                .find(|k| k.id == s.current.access_key_id)
                .copied();
            if found.is_none() {
                notes.push(PlanNote::Text(format!(
                    "the key in the secret's AWSCURRENT ({}) no longer exists in IAM: nothing to retire",
                    s.current.access_key_id
                )));
            }
            for other in remaining.iter().filter(|k| {
                k.id != s.current.access_key_id
                    && !matches!(&new_key, NewKey::Resume { access_key_id, .. } if *access_key_id == k.id)
            }) {
                notes.push(PlanNote::Text(format!(
                    "key {} ({}) is not in the secret and is left as it is",
                    other.id, other.status
                )));
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

/// The refusal when the user already has two keys (the CLI words it with its advice).
fn two_key_refusal(user: &UserState, secret: Option<&SecretState>, delete_inactive: bool) -> RotateError {
    RotateError::NoRoom {
        user: user.user.name.clone(),
        keys: user.keys.clone(),
        current_key: secret.map(|s| s.current.access_key_id.clone()),
        secret: secret.map(|s| s.name.clone()),
        delete_inactive,
    }
}

/// One step of a rotation, as the plan lists it and the executor runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// iam:DeleteAccessKey of the inactive key (`--delete-inactive`).
    DeleteInactiveKey(String),
    /// iam:DeleteAccessKey of the key the secret's AWSPREVIOUS holds (room for the new key).
    DeletePreviousKey(String),
    /// AWSPENDING removed from a version whose key is gone or inactive.
    ClearPending(StalePending),
    /// One of Secrets Manager's four steps ([`crate::rotation`]), on the secret.
    Protocol(rotation::Step),
    /// Without a secret: iam:CreateAccessKey and the new SMTP password.
    CreateKey,
    /// Without a secret: the `--verify` login, then the credential to its sink.
    Deliver,
    /// Without a secret: the old key retired once the credential was delivered.
    RetireOldKey,
}

impl RotationPlan {
    /// The steps, in the order the executor runs them.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        if let Some(k) = &self.delete_inactive_key {
            steps.push(Step::DeleteInactiveKey(k.clone()));
        }
        if let Some(k) = &self.delete_previous_key {
            steps.push(Step::DeletePreviousKey(k.clone()));
        }
        if self.secret.is_some() {
            if let Some(stale) = &self.clear_pending {
                steps.push(Step::ClearPending(stale.clone()));
            }
            steps.extend(
                [
                    rotation::Step::Create,
                    rotation::Step::Set,
                    rotation::Step::Test,
                    rotation::Step::Finish,
                ]
                .map(Step::Protocol),
            );
        } else {
            steps.extend([Step::CreateKey, Step::Deliver, Step::RetireOldKey]);
        }
        steps
    }

    /// The keys the plan deletes before a new one is created.
    pub fn deleted_keys(&self) -> Vec<String> {
        [&self.delete_inactive_key, &self.delete_previous_key]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// The plan as `--dry-run` prints it: each call of each step that changes something, in order.
    pub fn to_plan(&self) -> Plan {
        let mut plan = Plan::new("rotate");
        let user = &self.user_name;
        for step in self.steps() {
            match step {
                Step::DeleteInactiveKey(k) => {
                    plan.call("iam:DeleteAccessKey", format!("inactive key {k} of user {user}"))
                }
                Step::DeletePreviousKey(k) => plan.call(
                    "iam:DeleteAccessKey",
                    format!("key {k} of user {user}, held by the secret's AWSPREVIOUS (room for the new key)"),
                ),
                Step::ClearPending(stale) => plan.call(
                    "secretsmanager:UpdateSecretVersionStage",
                    format!(
                        "remove AWSPENDING from version {} of {} (its key {} is {})",
                        stale.version_id,
                        self.secret.as_ref().map(|s| s.name.as_str()).unwrap_or_default(),
                        stale.access_key_id,
                        stale_reason(stale.key_status)
                    ),
                ),
                Step::Protocol(rotation::Step::Create) => match (&self.new_key, &self.secret) {
                    (NewKey::Create, Some(s)) => {
                        plan.call("iam:CreateAccessKey", format!("user {user}"));
                        plan.call(
                            "secretsmanager:PutSecretValue",
                            format!(
                                "{}: new version staged AWSPENDING (the new key's SMTP password for {})",
                                s.name, self.region
                            ),
                        );
                    }
                    (NewKey::Resume {
                        access_key_id,
                        version_id,
                    }, _) => plan.note(format!(
                        "resumes an interrupted rotation: key {access_key_id} is already stored as AWSPENDING \
                         (version {version_id}); no new key is created"
                    )),
                    (NewKey::Create, None) => {}
                },
                // setSecret and testSecret change nothing: they check the new key (and log in with
                // --verify).
                Step::Protocol(rotation::Step::Set | rotation::Step::Test) => {}
                Step::Protocol(rotation::Step::Finish) => {
                    if let Some(s) = &self.secret {
                        plan.call(
                            "secretsmanager:UpdateSecretVersionStage",
                            format!(
                                "{}: AWSCURRENT to the new version (version {} becomes AWSPREVIOUS)",
                                s.name, s.current_version
                            ),
                        );
                        self.old_key_plan(&mut plan);
                        plan.call(
                            "secretsmanager:UpdateSecretVersionStage",
                            format!("{}: remove AWSPENDING from the new version", s.name),
                        );
                    }
                }
                Step::CreateKey => {
                    plan.call("iam:CreateAccessKey", format!("user {user}"));
                    plan.note(format!(
                        "the new key's SMTP password for {} is delivered as {}",
                        self.region,
                        self.delivery.as_deref().unwrap_or("CSV on stdout")
                    ));
                }
                Step::Deliver => {}
                Step::RetireOldKey => self.old_key_plan(&mut plan),
            }
        }
        for n in &self.notes {
            plan.note(n.clone());
        }
        plan
    }

    /// What becomes of the old key, in the plan.
    fn old_key_plan(&self, plan: &mut Plan) {
        let user = &self.user_name;
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
                Some(s) => PlanNote::RetireLater {
                    key: k.id.clone(),
                    user: user.clone(),
                    secret: s.name.clone(),
                },
                None => PlanNote::Text(format!(
                    "old key {} stays active; deactivate it once every consumer uses the new key \
                     (aws iam update-access-key --user-name {user} --access-key-id {} --status Inactive)",
                    k.id, k.id
                )),
            }),
        }
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

/// testSecret's SMTP login (`--verify`): after the new credential is stored as AWSPENDING (so a crash
/// loses nothing) and before it is promoted (so a credential that cannot log in never becomes
/// AWSCURRENT), retried while the new key propagates until `deadline`.
#[derive(Clone)]
pub struct LoginCheck {
    pub endpoint: crate::smtp::EndpointSettings,
    pub deadline: std::time::Duration,
    /// Where waiting is announced.
    pub notice: Option<crate::smtp::Notice>,
}

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

/// Runs a rotation that updates a secret: the plan's steps in order ([`RotationPlan::steps`]), the
/// four protocol steps through [`crate::rotation`] with one token (a fresh one, or the pending
/// version's when an interrupted rotation is resumed). Each change is recorded in a ledger; a failure
/// before promotion walks it back (see the module doc for the failure rules).
pub async fn rotate_in_secret(
    iam: &Iam,
    secrets: &Secrets,
    plan: &RotationPlan,
    secret: &SecretState,
    login: Option<&LoginCheck>,
) -> Result<RotateReport, RotateError> {
    let target = plan
        .secret
        .as_ref()
        .ok_or(RotateError::Internal("a rotation in a secret needs the secret"))?;
    let user = plan.user_name.as_str();
    let mut report = RotateReport::new(plan);
    report.secret_name = Some(target.name.clone());
    report.secret_arn = Some(target.arn.clone());
    let token = match &plan.new_key {
        NewKey::Resume { version_id, .. } => version_id.clone(),
        NewKey::Create => uuid::Uuid::new_v4().to_string(),
    };
    let mut run = OperatorRun {
        user: user.to_string(),
        region: plan.region.clone(),
        keys_before: plan.keys_before.clone(),
        deleted: plan.deleted_keys(),
        current: Some((target.current_version.clone(), target.current_key.clone())),
        pending_key: None,
    };
    let settings = Settings {
        old_key: plan.old_key_action,
        verification: match login {
            Some(l) => Verification::Smtp {
                endpoint: l.endpoint.clone(),
                deadline: l.deadline,
            },
            None => Verification::KeyCheck,
        },
    };
    let notice = login.and_then(|l| l.notice.clone());
    let mut ledger = Ledger::default();

    interrupted_before_any_change()?;
    for step in plan.steps() {
        match step {
            Step::DeleteInactiveKey(k) => {
                delete_inactive(iam, user, &k).await?;
                report.deleted_inactive_key = Some(k.clone());
                ledger.record(Done::DeletedKey(k));
            }
            Step::DeletePreviousKey(k) => {
                iam.delete_access_key(user, &k)
                    .await
                    .map_err(|error| RotateError::BeforeNewKey {
                        what: format!(
                            "could not delete key {k}, held by the secret's AWSPREVIOUS, to make room for the new \
                             key"
                        ),
                        error,
                        changed: "nothing was changed",
                    })?;
                report.deleted_previous_key = Some(k.clone());
                ledger.record(Done::DeletedKey(k));
            }
            Step::ClearPending(stale) => {
                secrets
                    .move_stage(&target.arn, STAGE_PENDING, None, Some(&stale.version_id))
                    .await
                    .map_err(|error| RotateError::BeforeNewKey {
                        what: format!(
                            "could not clear the stale pending version {} of {}",
                            stale.version_id, target.name
                        ),
                        error,
                        changed: "nothing else was changed",
                    })?;
                report.cleared_pending_version = Some(stale.version_id.clone());
                ledger.record(Done::ClearedPending(stale.version_id));
            }
            Step::Protocol(step) => {
                if step == rotation::Step::Create && plan.new_key == NewKey::Create {
                    interrupted_before_any_change()?;
                }
                if step == rotation::Step::Finish {
                    if let Err(i) = crate::interrupt::check() {
                        let cause = Cause::Other(format!("{i} before the new credential was promoted"));
                        return Err(roll_back(iam, secrets, plan, &ledger, cause).await);
                    }
                }
                let request = StepRequest {
                    step,
                    secret_id: &target.arn,
                    token: &token,
                    rotation_token: None,
                };
                let origin = Origin::Operator(run.clone());
                match rotation::run_step(iam, secrets, request, &settings, notice.clone(), &origin).await {
                    Ok(done) => {
                        if step == rotation::Step::Create {
                            run.pending_key = done.pending_key_id.clone();
                        }
                        record(step, done, plan, secret, &token, &mut report, &mut ledger)
                    }
                    Err(e) => return Err(step_failed(iam, secrets, plan, &ledger, &token, e).await),
                }
            }
            Step::CreateKey | Step::Deliver | Step::RetireOldKey => {
                return Err(RotateError::Internal(
                    "a step of a rotation without a secret in a rotation in a secret",
                ))
            }
        }
    }
    Ok(report)
}

/// Takes what a protocol step did into the report and the ledger.
fn record(
    step: rotation::Step,
    done: rotation::StepReport,
    plan: &RotationPlan,
    secret: &SecretState,
    token: &str,
    report: &mut RotateReport,
    ledger: &mut Ledger,
) {
    match step {
        rotation::Step::Create => {
            if let Some(key) = done.pending_key_id {
                report.access_key_id = key.clone();
                ledger.record(Done::Pending {
                    key_id: key,
                    version_id: token.to_string(),
                });
            }
            if done.outcome == "already_stored" {
                report.resumed = true;
            } else if secret.shape != crate::credential::Shape::Sesctl {
                report.warnings.push(format!(
                    "secret {} held {}: the new version keeps the fields its consumers read{}",
                    secret.name,
                    secret.shape,
                    if secret.shape == crate::credential::Shape::KeyColonPassword {
                        " (a plain string AKID:password, as before)"
                    } else {
                        ", and adds sesctl's fields"
                    }
                ));
            }
        }
        rotation::Step::Set | rotation::Step::Test => {}
        rotation::Step::Finish => {
            ledger.record(Done::Promoted);
            report.version_id = Some(token.to_string());
            report.previous_version_id = done
                .previous_version
                .or_else(|| plan.secret.as_ref().map(|s| s.current_version.clone()));
            report.old_key = done.old_key.and_then(KeyOutcome::from_name);
            if done.old_key == Some("gone") {
                if let Some(old) = &plan.old_key {
                    report.warnings.push(format!(
                        "the old key {} was deleted by someone else before it could be retired",
                        old.id
                    ));
                }
            }
            report.warnings.extend(done.warnings);
        }
    }
}

/// A protocol step failed: before promotion the ledger is walked back; after it nothing is undone and
/// the message says what stands.
async fn step_failed(
    iam: &Iam,
    secrets: &Secrets,
    plan: &RotationPlan,
    ledger: &Ledger,
    token: &str,
    e: RotationError,
) -> RotateError {
    let user = plan.user_name.clone();
    let name = plan.secret.as_ref().map(|s| s.name.clone()).unwrap_or_default();
    let key = ledger.key().unwrap_or_default().to_string();
    let version = ledger.version().unwrap_or_default();
    let cause = match e {
        // Nothing of this rotation exists yet.
        RotationError::CreateKey { error, notes, .. } => {
            return RotateError::CreateKey(CreateKeyFailed { error, notes })
        }
        RotationError::NotStored { key, cause, .. } => {
            let mut ledger = ledger.clone();
            ledger.record(Done::Pending {
                key_id: key,
                version_id: token.to_string(),
            });
            let cause = Cause::Other(format!("storing the new credential in {name} failed: {cause}"));
            return roll_back(iam, secrets, plan, &ledger, cause).await;
        }
        RotationError::PendingKeyUnusable { status, .. } => Cause::KeyTaken {
            key,
            deactivated: status.is_some(),
        },
        RotationError::LoginFailed { detail, .. } => Cause::Login(detail),
        RotationError::PromoteFailed { error } => Cause::Other(format!(
            "promoting the new credential to AWSCURRENT in {name} failed: {error}"
        )),
        RotationError::PromoteUnknown { error, .. } => {
            return RotateError::PromotionUnknown {
                user,
                secret: name,
                key,
                version,
                error,
            }
        }
        RotationError::RetireFailed { error, old_key, .. } => {
            return RotateError::RetireFailed {
                user,
                secret: name,
                key,
                version,
                old_key,
                old_status: plan
                    .old_key
                    .as_ref()
                    .map_or("active".to_string(), |k| k.status.to_string().to_lowercase()),
                action: plan.old_key_action,
                error,
            }
        }
        RotationError::Aws { error, .. } if ledger.key().is_some() => Cause::Other(format!(
            "checking the new key {key} before promoting it failed: {error}"
        )),
        other => Cause::Other(other.to_string()),
    };
    roll_back(iam, secrets, plan, ledger, cause).await
}

/// Runs a rotation without a secret: the new credential is handed to `deliver` (CSV or JSON), and
/// only once that succeeded is the old key retired. `deliver` returns where it went, for the report.
pub async fn rotate_and_deliver(
    iam: &Iam,
    plan: &RotationPlan,
    deliver: impl FnOnce(&SmtpCredential) -> anyhow::Result<Delivered>,
    login: Option<&LoginCheck>,
) -> Result<RotateReport, RotateError> {
    let user = plan.user_name.as_str();
    let mut report = RotateReport::new(plan);
    let endpoint = login
        .map(|l| {
            crate::smtp::Endpoint::new(&l.endpoint, &plan.region).map(|ep| match &l.notice {
                Some(n) => ep.with_notice(n.clone()),
                None => ep,
            })
        })
        .transpose()
        .map_err(RotateError::Endpoint)?;
    let mut deliver = Some(deliver);
    let mut credential: Option<SmtpCredential> = None;
    interrupted_before_any_change()?;
    for step in plan.steps() {
        match step {
            Step::DeleteInactiveKey(k) => {
                delete_inactive(iam, user, &k).await?;
                report.deleted_inactive_key = Some(k);
            }
            Step::CreateKey => {
                interrupted_before_any_change()?;
                let guard = KeyGuard {
                    keys_before: plan.keys_before.clone(),
                    deleted: plan.deleted_keys(),
                };
                let key = rotation::create_key(iam, user, &guard, None)
                    .await
                    .map_err(RotateError::CreateKey)?;
                credential = Some(SmtpCredential::derive(user, &key.id, &key.secret, &plan.region));
                drop(key.secret);
                report.access_key_id = key.id;
            }
            Step::Deliver => {
                let new = credential
                    .take()
                    .ok_or(RotateError::Internal("a delivery before the key"))?;
                let key_id = new.access_key_id.clone();
                // testSecret without a secret: log in before the credential is handed over.
                if let Some(endpoint) = &endpoint {
                    let deadline = login.map(|l| l.deadline).unwrap_or_default();
                    if let Err(e) =
                        crate::smtp::verify_new_credential(&key_id, &new.smtp_password, endpoint, deadline)
                            .await
                    {
                        let cause = Cause::Login(format!("{e:#}"));
                        return Err(delete_undelivered_key(iam, user, &key_id, cause).await);
                    }
                }
                if let Err(i) = crate::interrupt::check() {
                    let cause = Cause::Other(format!("{i} before the new credential was delivered"));
                    return Err(delete_undelivered_key(iam, user, &key_id, cause).await);
                }
                let deliver = deliver.take().ok_or(RotateError::Internal("a second delivery"))?;
                match deliver(&new) {
                    Ok(to) => report.delivered_to = Some(to),
                    Err(e) => {
                        let cause = Cause::Other(format!("delivering the new credential failed: {e:#}"));
                        return Err(delete_undelivered_key(iam, user, &key_id, cause).await);
                    }
                }
            }
            Step::RetireOldKey => {
                if let Some(old) = &plan.old_key {
                    report.old_key = Some(retire_after_delivery(iam, plan, &report, old).await?);
                }
            }
            Step::DeletePreviousKey(_) | Step::ClearPending(_) | Step::Protocol(_) => {
                return Err(RotateError::Internal(
                    "a step that needs a secret in a rotation without one",
                ))
            }
        }
    }
    Ok(report)
}

/// Retires the old key once the new credential was delivered, after checking that the new key is
/// still active: another run (or a person) may have removed it, and retiring the old key then would
/// leave the user without a working one.
async fn retire_after_delivery(
    iam: &Iam,
    plan: &RotationPlan,
    report: &RotateReport,
    old: &AccessKey,
) -> Result<KeyOutcome, RotateError> {
    let user = plan.user_name.as_str();
    let key_id = &report.access_key_id;
    let new_key_active = iam.list_access_keys(user).await.map(|keys| {
        keys.iter()
            .any(|k| k.id == *key_id && k.status == KeyStatus::Active)
    });
    match new_key_active {
        Ok(true) => Ok(()),
        Ok(false) => Err(RotateError::DeliveredNotRetired {
            detail: format!(
            "the new key {key_id} was delivered, but someone else (another sesctl run, or a person) deleted or \
             deactivated it before the old key was retired, so the old key {} was left {}: keep using the old \
             credential and run the rotation again",
            old.id,
            old.status.to_string().to_lowercase()
        ),
        }),
        Err(e) => Err(RotateError::DeliveredNotRetired {
            detail: format!(
            "the new key {key_id} was delivered, but checking that it is still active before retiring the old \
             key failed ({e}), so the old key {} was left {}; once the new key is confirmed, retire it (aws iam \
             update-access-key --user-name {user} --access-key-id {} --status Inactive)",
            old.id,
            old.status.to_string().to_lowercase(),
            old.id
        ),
        }),
    }?;
    rotation::retire_key(iam, user, old, plan.old_key_action)
        .await
        .map_err(|e| RotateError::DeliveredNotRetired {
            detail: format!(
                "the new credential (key {key_id}) was delivered to {}, but retiring the old key {} ({}) failed: \
                 {e}; the old key is still {}. Retire it once the cause is fixed (aws iam update-access-key \
                 --user-name {user} --access-key-id {} --status Inactive)",
                report
                    .delivered_to
                    .as_ref()
                    .map_or("its destination".to_string(), |d| d.to_string()),
                old.id,
                plan.old_key_action.name(),
                old.status.to_string().to_lowercase(),
                old.id
            ),
        })
}

/// Stops a rotation that was interrupted before it changed anything.
fn interrupted_before_any_change() -> Result<(), RotateError> {
    crate::interrupt::check().map_err(RotateError::Interrupted)
}

/// iam:DeleteAccessKey of the inactive key the operator asked to delete.
async fn delete_inactive(iam: &Iam, user: &str, key: &str) -> Result<(), RotateError> {
    iam.delete_access_key(user, key)
        .await
        .map_err(|error| RotateError::DeleteInactiveFailed {
            key: key.to_string(),
            error,
        })
}

/// Deletes a new key whose credential was never handed over (a failed delivery or `--verify`), and
/// says so in the error; the old key is untouched.
async fn delete_undelivered_key(iam: &Iam, user: &str, key_id: &str, cause: Cause) -> RotateError {
    let undo = match iam.delete_access_key(user, key_id).await {
        Ok(()) => format!("the new key {key_id} was deleted"),
        Err(d) => format!(
            "deleting the new key {key_id} failed too ({d}): delete it by hand (aws iam delete-access-key \
             --user-name {user} --access-key-id {key_id})"
        ),
    };
    RotateError::NotDelivered { cause, undo }
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

/// A change a rotation in a secret made (or sent: a call whose answer was lost may have taken
/// effect), in the order it made them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Done {
    /// A key deleted to make room (`--delete-inactive`, or AWSPREVIOUS's): final, never undone.
    DeletedKey(String),
    /// AWSPENDING removed from a version whose key was gone or inactive: final, never undone.
    ClearedPending(String),
    /// createSecret: the new key, and the version its value was (or may have been) stored as.
    Pending { key_id: String, version_id: String },
    /// finishSecret moved AWSCURRENT: nothing before it is undone any more.
    Promoted,
}

/// What a rotation did, in order: what rollback walks back.
type Ledger = super::Ledger<Done>;

impl Ledger {
    /// The new key of this rotation.
    fn key(&self) -> Option<&str> {
        self.entries().iter().find_map(|d| match d {
            Done::Pending { key_id, .. } => Some(key_id.as_str()),
            _ => None,
        })
    }

    /// The version of this rotation's new value.
    fn version(&self) -> Option<String> {
        self.entries().iter().find_map(|d| match d {
            Done::Pending { version_id, .. } => Some(version_id.clone()),
            _ => None,
        })
    }
}

/// Undoes a rotation that failed before promotion by walking its ledger back: the new key is deleted,
/// then its pending label removed (a deleted key or a cleared label is final; once AWSCURRENT moved,
/// nothing is undone). If the key cannot be deleted, the label stays, so its secret is not lost and a
/// re-run resumes. Returns the error to report.
async fn roll_back(
    iam: &Iam,
    secrets: &Secrets,
    plan: &RotationPlan,
    ledger: &Ledger,
    cause: Cause,
) -> RotateError {
    let mut undo = Undo::Nothing;
    for done in ledger.entries().iter().rev() {
        match done {
            Done::Promoted => break,
            Done::Pending { key_id, version_id } => {
                undo = undo_pending(iam, secrets, plan, key_id, version_id).await;
                break;
            }
            Done::DeletedKey(_) | Done::ClearedPending(_) => {}
        }
    }
    RotateError::RolledBack {
        user: plan.user_name.clone(),
        secret: plan.secret.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
        cause,
        undo,
    }
}

/// Undoes createSecret: deletes the new key, then removes its pending label.
async fn undo_pending(
    iam: &Iam,
    secrets: &Secrets,
    plan: &RotationPlan,
    key_id: &str,
    version: &str,
) -> Undo {
    let user = &plan.user_name;
    let key = key_id.to_string();
    let Some(target) = &plan.secret else {
        return Undo::Nothing;
    };
    let v = version;
    let pending_in = |info: &crate::aws::secrets::SecretInfo| {
        info.versions
            .get(v)
            .is_some_and(|s| s.iter().any(|s| s == STAGE_PENDING))
    };
    if let Err(error) = iam.delete_access_key(user, key_id).await {
        // Say only what is true: the key's secret is safe only if the pending version was stored.
        return match secrets.describe(&target.arn).await {
            Ok(Some(info)) if pending_in(&info) => Undo::KeyStaysStored {
                key,
                version: v.to_string(),
                error,
            },
            Ok(Some(_)) => Undo::KeyStaysUnstored { key, error },
            _ => Undo::KeyStaysUnknown { key, error },
        };
    }
    let label = match secrets.describe(&target.arn).await {
        Ok(Some(info)) if pending_in(&info) => {
            match secrets
                .move_stage(&target.arn, STAGE_PENDING, None, Some(v))
                .await
            {
                Ok(()) => format!(" and removed AWSPENDING from version {v}"),
                Err(e) => format!(
                    "; removing AWSPENDING from version {v} failed ({e}), which is harmless: the next rotation \
                     clears a pending version whose key is gone"
                ),
            }
        }
        Ok(_) => String::new(),
        Err(e) => format!(
            "; whether version {v} was stored could not be checked ({e}): the next rotation clears a pending \
             version whose key is gone"
        ),
    };
    Undo::Deleted { key, label }
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
) -> Result<FinishPlan, RotateError> {
    let name = &user.user.name;
    if let Some(p) = &secret.pending {
        if user
            .key(&p.credential.access_key_id)
            .is_some_and(|k| k.status == KeyStatus::Active)
        {
            return Err(RotateError::FinishWhilePending {
                user: name.clone(),
                secret: secret.name.clone(),
                key: p.credential.access_key_id.clone(),
                version: p.credential.version_id.clone(),
            });
        }
    }
    let current_id = &secret.current.access_key_id;
    let current_key = match user.key(current_id) {
        Some(k) if k.status == KeyStatus::Active => k.clone(),
        Some(_) => {
            return Err(RotateError::FinishWithoutCurrent {
                detail: format!(
            "the key in secret {}'s AWSCURRENT ({current_id}) is inactive, so retiring the other keys would \
             leave {name} with no working credential; nothing was changed (re-activate it, or rotate first)",
            secret.name
        ),
            })
        }
        None => {
            return Err(RotateError::FinishWithoutCurrent {
                detail: format!(
            "the key in secret {}'s AWSCURRENT ({current_id}) no longer exists in IAM, so retiring the other \
             keys would leave {name} with no working credential; nothing was changed (rotate first)",
            secret.name
        ),
            })
        }
    };
    let mut retire = Vec::new();
    let mut already_inactive = Vec::new();
    let mut warnings = Vec::new();
    for k in user.keys.iter().filter(|k| k.id != *current_id) {
        if action == OldKeyAction::Deactivate && k.status == KeyStatus::Inactive {
            already_inactive.push(k.id.clone());
            continue;
        }
        let last_used = iam
            .access_key_last_used(&k.id)
            .await
            .map_err(RotateError::LastUse)?;
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

/// A key's last use in words (`never used`, `last used 2026-01-02 03:04 UTC (ses, eu-west-1)`).
pub fn describe_last_use(u: &KeyLastUsed) -> String {
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

/// Retires the keys of `plan` in turn. A failure stops there and says which keys were retired.
pub async fn finish(
    iam: &Iam,
    secrets: &Secrets,
    secret: &SecretState,
    plan: &FinishPlan,
) -> Result<FinishReport, RotateError> {
    // The stages are read again just before anything is retired: a rotation that started since the
    // plan was made (its new key stored as AWSPENDING, or already promoted) must not lose its key.
    let now = inspect_secret(secrets, &secret.arn, &secret.region, &plan.user_name)
        .await
        .map_err(|e| RotateError::FinishFailed {
            detail: format!(
                "reading secret {} again before retiring failed: {}; nothing was retired",
                plan.secret_name,
                match &e {
                    RotateError::Read(aws) => aws.to_string(),
                    other => other.to_string(),
                }
            ),
        })?;
    let moved = now.current.access_key_id != plan.current_key.id;
    let pending = now
        .pending
        .as_ref()
        .map(|p| p.credential.access_key_id.clone())
        .filter(|k| plan.retire.iter().any(|r| r.access_key_id == *k));
    if moved || pending.is_some() {
        return Err(RotateError::FinishRaced {
            secret: plan.secret_name.clone(),
            change: match pending {
                Some(k) => format!("key {k} is now stored as AWSPENDING"),
                None => format!("AWSCURRENT now holds key {}", now.current.access_key_id),
            },
        });
    }
    let mut retired: Vec<RetiredKey> = Vec::new();
    for k in &plan.retire {
        let key = AccessKey {
            id: k.access_key_id.clone(),
            status: k.status,
            created: k.created,
        };
        let outcome = rotation::retire_key(iam, &plan.user_name, &key, plan.action)
            .await
            .map_err(|e| {
                let done: Vec<&str> = retired.iter().map(|r| r.access_key_id.as_str()).collect();
                RotateError::FinishFailed {
                    detail: format!(
                        "retiring key {} of {} failed: {e}; {}; the current key {} is untouched",
                        k.access_key_id,
                        plan.user_name,
                        if done.is_empty() {
                            "no key was retired".to_string()
                        } else {
                            format!("already retired: {}", done.join(", "))
                        },
                        plan.current_key.id
                    ),
                }
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
    fn a_rotation_in_a_secret_runs_the_plans_changes_then_the_four_protocol_steps() {
        let protocol = [
            rotation::Step::Create,
            rotation::Step::Set,
            rotation::Step::Test,
            rotation::Step::Finish,
        ]
        .map(Step::Protocol);
        let u = user(vec![key("AKIAOLD", KeyStatus::Active, 1)]);
        let plan = plan_rotation(
            &u,
            Some(&secret("AKIAOLD", None)),
            &request(OldKeyAction::Deactivate, false),
        )
        .unwrap();
        assert_eq!(plan.steps(), protocol.to_vec());

        let u = user(vec![
            key("AKIAOLD", KeyStatus::Active, 1),
            key("AKIAPEND", KeyStatus::Inactive, 2),
        ]);
        let plan = plan_rotation(
            &u,
            Some(&secret("AKIAOLD", Some("AKIAPEND"))),
            &request(OldKeyAction::Deactivate, true),
        )
        .unwrap();
        let steps = plan.steps();
        assert_eq!(steps[0], Step::DeleteInactiveKey("AKIAPEND".into()));
        assert!(matches!(&steps[1], Step::ClearPending(s) if s.access_key_id == "AKIAPEND"));
        assert_eq!(steps[2..], protocol);
        assert_eq!(plan.deleted_keys(), ["AKIAPEND"]);

        let plan = plan_rotation(&u, None, &request(OldKeyAction::Deactivate, true)).unwrap();
        assert_eq!(
            plan.steps(),
            [
                Step::DeleteInactiveKey("AKIAPEND".into()),
                Step::CreateKey,
                Step::Deliver,
                Step::RetireOldKey
            ]
        );
    }

    #[test]
    fn errors_name_no_command_line_flag() {
        let aws = || AwsError {
            action: "iam:DeleteAccessKey",
            kind: crate::aws::ErrorKind::Throttled,
            code: Some("Throttling".into()),
            message: "Rate exceeded".into(),
        };
        let errors = [
            RotateError::NoUser { user: "u".into() },
            RotateError::NoSecret {
                secret: "s".into(),
                region: "eu-west-1".into(),
            },
            RotateError::SecretOfAnotherUser {
                secret: "s".into(),
                holder: "h".into(),
                user: "u".into(),
            },
            RotateError::NoRoom {
                user: "u".into(),
                keys: vec![key("A", KeyStatus::Active, 1), key("B", KeyStatus::Inactive, 2)],
                current_key: Some("A".into()),
                secret: Some("s".into()),
                delete_inactive: false,
            },
            RotateError::DeleteInactiveFailed {
                key: "B".into(),
                error: aws(),
            },
            RotateError::RolledBack {
                user: "u".into(),
                secret: "s".into(),
                cause: Cause::Login("535 Authentication Credentials Invalid".into()),
                undo: Undo::KeyStaysStored {
                    key: "N".into(),
                    version: "v".into(),
                    error: aws(),
                },
            },
            RotateError::RetireFailed {
                user: "u".into(),
                secret: "s".into(),
                key: "N".into(),
                version: "v".into(),
                old_key: "A".into(),
                old_status: "active".into(),
                action: OldKeyAction::Delete,
                error: aws(),
            },
            RotateError::FinishWhilePending {
                user: "u".into(),
                secret: "s".into(),
                key: "N".into(),
                version: "v".into(),
            },
            RotateError::FinishRaced {
                secret: "s".into(),
                change: "AWSCURRENT now holds key N".into(),
            },
        ];
        for e in errors {
            let text = e.to_string();
            assert!(!text.contains("--") && !text.contains("sesctl "), "{text}");
        }
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
        .unwrap_err();
        assert!(
            matches!(&err, RotateError::NoRoom { current_key: Some(k), delete_inactive: true, .. } if k == "AKIACUR"),
            "{err:?}"
        );

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
            plan.notes
                .iter()
                .any(|n| n.text().is_some_and(|t| t.contains("AKIASTRAY"))),
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
