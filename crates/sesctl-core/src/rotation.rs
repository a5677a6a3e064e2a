//! Rotation as Secrets Manager's protocol: four steps, each keyed by the rotation's token (the id of
//! the secret version being made), each re-reading IAM and Secrets Manager before it acts, each safe
//! to call again after any failure or crash. The rotation function (`sesctl-rotation-lambda`) is a
//! thin wrapper over these, and `sesctl rotate --secret-name` runs the same four in turn with a token
//! of its own ([`Origin::Operator`]; see `workflows::rotate`).
//!
//! | step | what it does | done when |
//! | --- | --- | --- |
//! | [`create_pending`] | makes room for a key, creates it, derives the SMTP password for the secret's region, stores the new value as the token's version, staged `AWSPENDING` | the token's version has a value |
//! | [`set_pending`] | nothing to change for IAM keys; checks the pending key exists and is active | always |
//! | [`test_pending`] | an SMTP login with the pending credential, retried while the key propagates (or, with verification off, the key check) | the login succeeds |
//! | [`finish`] | checks the pending key, moves `AWSCURRENT` to the token's version (`AWSPREVIOUS` follows; a failed call is read back), retires the old key as configured, then removes `AWSPENDING` from the token's version | `AWSCURRENT` is on the token |
//!
//! The guard of every step (as in AWS's rotation templates): the token must be a version of the
//! secret; if it is already `AWSCURRENT` the step does nothing; if it is not staged `AWSPENDING` the
//! step fails and changes nothing.
//!
//! Making room (IAM allows two keys a user): the key held by the secret's `AWSPREVIOUS` version, and
//! not by `AWSCURRENT`, has had a whole rotation period of grace and is deleted. A key no stage holds
//! that was created after the current credential's key is a stray of an interrupted `create_pending`
//! (its secret was never stored) and is deleted too. A key held by `AWSCURRENT` is never touched, and
//! a key older than the current credential that no stage holds is not sesctl's to delete: the step
//! refuses and names it.
//!
//! An operator's rotation ([`Origin::Operator`]) differs in two ways: createSecret makes the token's
//! version itself (there is no RotateSecret call before it), and it deletes no key, because the
//! operator's plan made room first with the operator's flags; it also names the user and the SES
//! region when a stored value (another tool's shape) does not.
//!
//! Safety rules that hold across concurrent runs: no key is deleted or deactivated while a stage of
//! the secret names it (the stages are read again just before); `AWSCURRENT` is moved only to a
//! version whose key exists and is active (checked just before the move).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::aws::iam::{AccessKey, Iam, KeyStatus};
use crate::aws::secrets::{SecretInfo, Secrets, STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS};
use crate::aws::AwsError;
use crate::credential::{next_value, NextValue, StoredCredential};
use crate::secret::Secret;
use crate::smtp::{Endpoint, EndpointError, EndpointSettings};

/// What happens to the old key once the new credential is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OldKeyAction {
    Deactivate,
    Delete,
    Keep,
}

impl OldKeyAction {
    pub fn name(self) -> &'static str {
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

impl KeyOutcome {
    /// The outcome as a step report names it.
    pub fn name(self) -> &'static str {
        match self {
            KeyOutcome::Deactivated => "deactivated",
            KeyOutcome::Deleted => "deleted",
            KeyOutcome::Kept => "kept",
            KeyOutcome::AlreadyInactive => "already_inactive",
        }
    }

    /// The outcome a step report names (`gone` and `untouched` are none: no key was retired).
    pub fn from_name(name: &str) -> Option<KeyOutcome> {
        [
            KeyOutcome::Deactivated,
            KeyOutcome::Deleted,
            KeyOutcome::Kept,
            KeyOutcome::AlreadyInactive,
        ]
        .into_iter()
        .find(|o| o.name() == name)
    }
}

/// Retires one key as `action` says: iam:UpdateAccessKey to Inactive (nothing for a key already
/// inactive), or iam:DeleteAccessKey; `Keep` does nothing. The one retirement of the rotation steps,
/// `rotate` without a secret and `rotate --finish`.
pub async fn retire_key(
    iam: &Iam,
    user: &str,
    key: &AccessKey,
    action: OldKeyAction,
) -> Result<KeyOutcome, AwsError> {
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

/// Who started the rotation. The steps are the same; two things differ.
#[derive(Debug, Clone, Default)]
pub enum Origin {
    /// Secrets Manager's RotateSecret (the rotation function): the token's version exists, staged
    /// AWSPENDING, before the first step, and createSecret makes room for the key itself.
    #[default]
    SecretsManager,
    /// An operator's `rotate`: createSecret makes the token's version (a fresh token), and room for
    /// the key was made beforehand by the operator's plan, so createSecret deletes no key.
    Operator(OperatorRun),
}

/// What an operator's rotation knows besides the secret.
#[derive(Debug, Clone)]
pub struct OperatorRun {
    /// The IAM user, for a stored value that does not name it (another tool's shape).
    pub user: String,
    /// The SES region the new password is derived for (the operator's choice, else the stored one).
    pub region: String,
    /// The user's keys when the plan was made: a key that appears later is not the plan's.
    pub keys_before: Vec<AccessKey>,
    /// The keys the plan deleted before createSecret.
    pub deleted: Vec<String>,
    /// The version AWSCURRENT was on when the operator's run read it, and the key its value holds.
    pub current: Option<(String, String)>,
    /// The key of the token's version once createSecret stored (or found) it in this run. A version's
    /// value never changes, so the later steps re-read the stages and the keys but not the value;
    /// only an SMTP login reads the password again.
    pub pending_key: Option<String>,
}

impl Origin {
    fn operator(&self) -> Option<&OperatorRun> {
        match self {
            Origin::Operator(o) => Some(o),
            Origin::SecretsManager => None,
        }
    }
}

/// One of Secrets Manager's four rotation steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Step {
    #[serde(rename = "createSecret")]
    Create,
    #[serde(rename = "setSecret")]
    Set,
    #[serde(rename = "testSecret")]
    Test,
    #[serde(rename = "finishSecret")]
    Finish,
}

impl Step {
    /// The step named as Secrets Manager names it in the rotation event.
    pub fn parse(name: &str) -> Option<Step> {
        match name {
            "createSecret" => Some(Step::Create),
            "setSecret" => Some(Step::Set),
            "testSecret" => Some(Step::Test),
            "finishSecret" => Some(Step::Finish),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::Create => "createSecret",
            Step::Set => "setSecret",
            Step::Test => "testSecret",
            Step::Finish => "finishSecret",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How `test_pending` proves the pending credential.
#[derive(Debug, Clone)]
pub enum Verification {
    /// An SMTP login (STARTTLS or TLS, AUTH, no mail), retried while the key propagates, until
    /// `deadline`. `endpoint.host`/`port` override the stored ones (a VPC endpoint, tests).
    Smtp {
        endpoint: EndpointSettings,
        deadline: Duration,
    },
    /// Only check that the pending key exists and is active.
    KeyCheck,
}

/// What the caller of the steps decides.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What `finish` does to the key that was current.
    pub old_key: OldKeyAction,
    pub verification: Verification,
}

/// What a step found or did, for the log line of the step. Nothing secret.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepReport {
    pub step: Option<Step>,
    pub secret_arn: String,
    pub token: String,
    /// `done`, or why nothing was needed (`already_current`, `already_stored`).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam_user_name: Option<String>,
    /// The key of the token's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_key_id: Option<String>,
    /// The key of the version that was `AWSCURRENT` when the step began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_key_id: Option<String>,
    /// Keys deleted to make room, each with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted_keys: Vec<DeletedKey>,
    /// What `finish` did to the old key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_key: Option<&'static str>,
    /// SMTP login attempts made by `test_pending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_attempts: Option<u32>,
    /// The version that was `AWSCURRENT` when `finish` began (now `AWSPREVIOUS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// What went wrong without failing the step (nothing secret).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A key deleted to make room for a new one.
#[derive(Debug, Clone, Serialize)]
pub struct DeletedKey {
    pub access_key_id: String,
    /// `previous` (held by AWSPREVIOUS) or `stray` (held by no stage, newer than the current key).
    pub reason: &'static str,
}

/// Why a step failed. Every variant says what was (not) changed.
#[derive(Debug)]
pub enum RotationError {
    /// The secret does not exist or is scheduled for deletion.
    NoSecret { secret: String, detail: String },
    /// The token is not a version of the secret, or not staged AWSPENDING.
    NotPending {
        secret: String,
        token: String,
        detail: String,
    },
    /// A stage does not hold an SMTP credential sesctl can read.
    Format {
        secret: String,
        stage: String,
        detail: String,
    },
    /// The user has two keys and neither may be removed.
    NoRoom {
        user: String,
        keys: Vec<(String, String)>,
    },
    /// The pending key does not exist or is inactive.
    PendingKeyUnusable {
        user: String,
        key: String,
        status: Option<KeyStatus>,
    },
    /// The SMTP endpoint settings are unusable.
    Endpoint(EndpointError),
    /// The pending credential could not log in (the failure and diagnosis, no secret).
    LoginFailed { key: String, detail: String },
    /// iam:CreateAccessKey failed; `notes` says what became of keys a failed attempt may have made,
    /// `changed` what the step had already done.
    CreateKey {
        error: AwsError,
        notes: String,
        changed: String,
    },
    /// The new key was created but its value was not stored (`cause`): the key can never be used.
    /// The version may have been stored if the failed call was PutSecretValue and its answer was lost.
    NotStored {
        user: String,
        key: String,
        cause: String,
    },
    /// Moving AWSCURRENT to the token's version failed, and reading it back showed it did not move.
    PromoteFailed { error: AwsError },
    /// Moving AWSCURRENT failed, and whether it moved could not be read back (`check` says why).
    PromoteUnknown { error: AwsError, check: String },
    /// AWSCURRENT moved to the new key; retiring the old key then failed, and it is untouched.
    RetireFailed {
        error: AwsError,
        old_key: String,
        new_key: String,
    },
    /// An AWS call failed; `changed` says what this step had already done.
    Aws { error: AwsError, changed: String },
}

impl fmt::Display for RotationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RotationError::NoSecret { secret, detail } => write!(f, "secret {secret}: {detail}; nothing was changed"),
            RotationError::NotPending { secret, token, detail } => write!(
                f,
                "secret {secret}: version {token} {detail}; nothing was changed (a rotation step acts only on \
                 the version that Secrets Manager staged AWSPENDING for this rotation)"
            ),
            RotationError::Format { secret, stage, detail } => write!(
                f,
                "secret {secret} ({stage}) does not hold an SMTP credential sesctl can rotate: {detail}; \
                 nothing was changed"
            ),
            RotationError::NoRoom { user, keys } => {
                let keys: Vec<String> = keys.iter().map(|(id, why)| format!("{id} ({why})")).collect();
                write!(
                    f,
                    "IAM user {user} already has two access keys and neither may be removed: {}; nothing was \
                     changed. Delete the key that no stage of the secret holds once nothing uses it (aws iam \
                     delete-access-key --user-name {user} --access-key-id ID), then retry",
                    keys.join(", ")
                )
            }
            RotationError::PendingKeyUnusable { user, key, status } => write!(
                f,
                "the pending key {key} of IAM user {user} {}; AWSCURRENT was not moved",
                match status {
                    None => "does not exist",
                    Some(_) => "is inactive",
                }
            ),
            RotationError::Endpoint(e) => write!(f, "the SMTP endpoint setting is unusable: {e}"),
            RotationError::LoginFailed { key, detail } => write!(
                f,
                "the pending credential (key {key}) did not log in: {detail}; AWSCURRENT was not moved"
            ),
            RotationError::CreateKey { error, notes, changed } => {
                write!(f, "creating the new access key failed: {error}{notes}; {changed}")
            }
            RotationError::NotStored { user, key, cause } => write!(f, "{cause}; {}", stray_left(user, key)),
            RotationError::PromoteFailed { error } => {
                write!(f, "{error}; AWSCURRENT was not moved, and nothing was changed")
            }
            RotationError::PromoteUnknown { error, check } => write!(
                f,
                "{error}; whether AWSCURRENT moved could not be read back ({check}), so nothing was undone: \
                 the step can be run again"
            ),
            RotationError::RetireFailed {
                error,
                old_key,
                new_key,
                ..
            } => write!(
                f,
                "{error}; AWSCURRENT now holds the new key {new_key} and AWSPREVIOUS the old key {old_key}, \
                 which is untouched"
            ),
            RotationError::Aws { error, changed } => write!(f, "{error}; {changed}"),
        }
    }
}

impl std::error::Error for RotationError {}

/// The secret as the steps see it: its versions and stages, and the keys the stages hold.
struct SecretView {
    info: SecretInfo,
    current_version: String,
    /// The AWSCURRENT value, parsed.
    current: StoredValue,
    /// The AWSCURRENT value as stored, when it was read: the next version keeps its fields.
    current_value: Option<Secret>,
}

/// The fields of a stored credential the steps need (never the password).
#[derive(Debug, Clone)]
struct StoredValue {
    iam_user_name: String,
    access_key_id: String,
    region: String,
    host: Option<String>,
    port: Option<u16>,
}

fn aws(error: AwsError, changed: &str) -> RotationError {
    RotationError::Aws {
        error,
        changed: changed.to_string(),
    }
}

const NOTHING_CHANGED: &str = "nothing was changed";

/// Reads a stored value's fields with the credential codec ([`StoredCredential`]): any shape it reads,
/// as long as the value names its IAM user and SES region (what the steps need to act on it), or the
/// operator's rotation names them.
fn parse_value(
    secret: &str,
    stage: &str,
    value: &Secret,
    origin: &Origin,
) -> Result<StoredValue, RotationError> {
    let bad = |detail: &str| RotationError::Format {
        secret: secret.to_string(),
        stage: stage.to_string(),
        detail: detail.to_string(),
    };
    let stored = StoredCredential::parse(value).map_err(|e| bad(&e.0))?;
    let operator = origin.operator();
    let iam_user_name = match (stored.iam_user_name, operator) {
        (Some(name), _) => name,
        (None, Some(o)) => o.user.clone(),
        (None, None) => return Err(bad("it has no iam_user_name")),
    };
    let region = match (operator, stored.region) {
        (Some(o), _) => o.region.clone(),
        (None, Some(r)) if crate::regions::looks_like_region(&r) => r,
        (None, Some(_)) => return Err(bad("its region is not an AWS region name")),
        (None, None) => return Err(bad("it has no region")),
    };
    Ok(StoredValue {
        iam_user_name,
        access_key_id: stored.username,
        region,
        host: stored.host,
        port: stored.port,
    })
}

/// What the guard of every step decides from the secret's versions and stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// The token's version is staged AWSPENDING (or, in an operator's run, does not exist yet):
    /// the step acts.
    Act,
    /// The token's version is already AWSCURRENT: the step has nothing to do.
    AlreadyCurrent,
    /// The step must change nothing; why.
    Refuse(&'static str),
}

/// The guard of every step (as in AWS's rotation templates), decided without AWS.
pub fn guard(versions: &BTreeMap<String, Vec<String>>, token: &str, origin: &Origin) -> Guard {
    match versions.get(token) {
        Some(stages) if stages.iter().any(|s| s == STAGE_CURRENT) => Guard::AlreadyCurrent,
        Some(stages) if !stages.iter().any(|s| s == STAGE_PENDING) => {
            Guard::Refuse("is not staged AWSPENDING")
        }
        Some(_) => Guard::Act,
        None if origin.operator().is_some() => Guard::Act,
        None => Guard::Refuse("is not a version of the secret"),
    }
}

/// Reads the secret and applies the guard. `Ok(None)`: the token is already AWSCURRENT (nothing to do).
/// An operator's rotation may name a token that is not a version yet: createSecret makes it.
async fn read(
    secrets: &Secrets,
    secret_id: &str,
    token: &str,
    origin: &Origin,
) -> Result<Option<SecretView>, RotationError> {
    let info = secrets
        .describe(secret_id)
        .await
        .map_err(|e| aws(e, NOTHING_CHANGED))?
        .ok_or_else(|| RotationError::NoSecret {
            secret: secret_id.to_string(),
            detail: "it does not exist".to_string(),
        })?;
    if let Some(when) = info.deleted {
        return Err(RotationError::NoSecret {
            secret: secret_id.to_string(),
            detail: format!("it is scheduled for deletion (on {when})"),
        });
    }
    match guard(&info.versions, token, origin) {
        Guard::Act => {}
        Guard::AlreadyCurrent => return Ok(None),
        Guard::Refuse(detail) => {
            return Err(RotationError::NotPending {
                secret: info.arn.clone(),
                token: token.to_string(),
                detail: detail.to_string(),
            })
        }
    }
    let current_version = info
        .version_with_stage(STAGE_CURRENT)
        .map(str::to_string)
        .ok_or_else(|| RotationError::NoSecret {
            secret: info.arn.clone(),
            detail: "it has no AWSCURRENT version".to_string(),
        })?;
    // An operator's run read AWSCURRENT before its first step; while the stage is on the same
    // version the value is the same (a version's value never changes), so it is not read again.
    if let Some(o) = origin
        .operator()
        .filter(|o| o.current.as_ref().is_some_and(|(v, _)| *v == current_version))
    {
        let key = o.current.as_ref().map(|(_, k)| k.clone()).unwrap_or_default();
        return Ok(Some(SecretView {
            info,
            current_version,
            current: StoredValue {
                iam_user_name: o.user.clone(),
                access_key_id: key,
                region: o.region.clone(),
                host: None,
                port: None,
            },
            current_value: None,
        }));
    }
    let value = secrets
        .get_value(&info.arn, STAGE_CURRENT)
        .await
        .map_err(|e| aws(e, NOTHING_CHANGED))?
        .ok_or_else(|| RotationError::NoSecret {
            secret: info.arn.clone(),
            detail: "its AWSCURRENT version has no value".to_string(),
        })?;
    let current = parse_value(&info.arn, STAGE_CURRENT, &value.value, origin)?;
    Ok(Some(SecretView {
        info,
        current_version,
        current,
        current_value: Some(value.value),
    }))
}

fn report(step: Step, secret_arn: &str, token: &str) -> StepReport {
    StepReport {
        step: Some(step),
        secret_arn: secret_arn.to_string(),
        token: token.to_string(),
        outcome: "done",
        ..StepReport::default()
    }
}

fn already_current(step: Step, secret_id: &str, token: &str) -> StepReport {
    StepReport {
        outcome: "already_current",
        ..report(step, secret_id, token)
    }
}

/// The key held by a stage's value, if the stage exists and holds a readable credential.
async fn stage_key(
    secrets: &Secrets,
    view: &SecretView,
    stage: &str,
    origin: &Origin,
) -> Result<Option<String>, RotationError> {
    if view.info.version_with_stage(stage).is_none() {
        return Ok(None);
    }
    let value = secrets
        .get_value(&view.info.arn, stage)
        .await
        .map_err(|e| aws(e, NOTHING_CHANGED))?;
    Ok(value.and_then(|v| {
        parse_value(&view.info.arn, stage, &v.value, origin)
            .ok()
            .map(|s| s.access_key_id)
    }))
}

/// What making room decides: the key to delete and why, or the refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Room {
    /// Fewer than two keys: nothing to delete.
    Free,
    /// Delete this key first.
    Delete {
        access_key_id: String,
        reason: &'static str,
    },
    /// Two keys, neither removable: each key with what it is.
    Refuse(Vec<(String, String)>),
}

/// Decides how to make room for a new key (see the module doc). Pure, so it is unit-tested.
pub fn make_room(keys: &[AccessKey], current_key: &str, previous_key: Option<&str>) -> Room {
    if keys.len() < 2 {
        return Room::Free;
    }
    let current_created = keys.iter().find(|k| k.id == current_key).map(|k| k.created);
    let others: Vec<&AccessKey> = keys.iter().filter(|k| k.id != current_key).collect();
    if let Some(k) = others.iter().find(|k| Some(k.id.as_str()) == previous_key) {
        return Room::Delete {
            access_key_id: k.id.clone(),
            reason: "previous",
        };
    }
    if let Some(k) = others
        .iter()
        .filter(|k| current_created.is_some_and(|c| k.created >= c))
        .min_by_key(|k| k.created)
    {
        return Room::Delete {
            access_key_id: k.id.clone(),
            reason: "stray",
        };
    }
    Room::Refuse(
        keys.iter()
            .map(|k| {
                let what = if k.id == current_key {
                    "held by AWSCURRENT".to_string()
                } else {
                    format!(
                        "{}, held by no stage of the secret and older than the current key",
                        k.status.to_string().to_lowercase()
                    )
                };
                (k.id.clone(), what)
            })
            .collect(),
    )
}

/// Makes room for the new key (a rotation Secrets Manager started): deletes the key of AWSPREVIOUS,
/// or a stray of an interrupted createSecret, after reading the stages again. Returns the keys the
/// user had before, for [`create_key`]'s guard.
async fn make_room_now(
    iam: &Iam,
    secrets: &Secrets,
    view: &SecretView,
    user: &str,
    out: &mut StepReport,
) -> Result<Vec<AccessKey>, RotationError> {
    let origin = Origin::SecretsManager;
    let previous_key = stage_key(secrets, view, STAGE_PREVIOUS, &origin).await?;
    let keys = iam
        .list_access_keys(user)
        .await
        .map_err(|e| aws(e, NOTHING_CHANGED))?;
    match make_room(&keys, &view.current.access_key_id, previous_key.as_deref()) {
        Room::Free => {}
        Room::Refuse(keys) => {
            return Err(RotationError::NoRoom {
                user: user.to_string(),
                keys,
            })
        }
        Room::Delete {
            access_key_id,
            reason,
        } => {
            // The stages are read again just before: a key that AWSCURRENT or AWSPENDING names now
            // (another run's rotation), or a stray that any stage names now, is never deleted.
            let now = secrets
                .describe(&view.info.arn)
                .await
                .map_err(|e| aws(e, NOTHING_CHANGED))?;
            let guarded: &[&str] = if reason == "previous" {
                &[STAGE_CURRENT, STAGE_PENDING]
            } else {
                &[STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS]
            };
            if let Some(info) = &now {
                if let Some(stage) = stage_holding(secrets, info, &access_key_id, guarded).await? {
                    return Err(RotationError::NoRoom {
                        user: user.to_string(),
                        keys: vec![(
                            access_key_id,
                            format!("now held by {stage}: another rotation is under way"),
                        )],
                    });
                }
            }
            iam.delete_access_key(user, &access_key_id)
                .await
                .map_err(|e| aws(e, NOTHING_CHANGED))?;
            out.deleted_keys.push(DeletedKey {
                access_key_id,
                reason,
            });
        }
    }
    Ok(keys)
}

/// createSecret: see the module doc.
pub async fn create_pending(
    iam: &Iam,
    secrets: &Secrets,
    secret_id: &str,
    token: &str,
    rotation_token: Option<&str>,
    origin: &Origin,
) -> Result<StepReport, RotationError> {
    let Some(mut view) = read(secrets, secret_id, token, origin).await? else {
        return Ok(already_current(Step::Create, secret_id, token));
    };
    let mut out = report(Step::Create, &view.info.arn, token);
    let user = view.current.iam_user_name.clone();
    out.iam_user_name = Some(user.clone());
    out.current_key_id = Some(view.current.access_key_id.clone());
    if view.info.versions.contains_key(token) {
        if let Some(existing) = secrets
            .get_version(&view.info.arn, token)
            .await
            .map_err(|e| aws(e, NOTHING_CHANGED))?
        {
            let stored = parse_value(&view.info.arn, STAGE_PENDING, &existing.value, origin)?;
            out.pending_key_id = Some(stored.access_key_id);
            out.outcome = "already_stored";
            return Ok(out);
        }
    }

    // The value the next version is made from, read before anything changes.
    let current_value = match view.current_value.take() {
        Some(v) => v,
        None => {
            secrets
                .get_version(&view.info.arn, &view.current_version)
                .await
                .map_err(|e| aws(e, NOTHING_CHANGED))?
                .ok_or_else(|| RotationError::NoSecret {
                    secret: view.info.arn.clone(),
                    detail: "its AWSCURRENT version has no value".to_string(),
                })?
                .value
        }
    };
    let guard = match origin.operator() {
        Some(o) => KeyGuard {
            keys_before: o.keys_before.clone(),
            deleted: o.deleted.clone(),
        },
        None => {
            let keys_before = make_room_now(iam, secrets, &view, &user, &mut out).await?;
            KeyGuard {
                keys_before,
                deleted: out.deleted_keys.iter().map(|d| d.access_key_id.clone()).collect(),
            }
        }
    };
    let changed = match (origin, out.deleted_keys.first()) {
        (Origin::Operator(_), _) => "the old key and the secret are untouched".to_string(),
        (_, None) => NOTHING_CHANGED.to_string(),
        (_, Some(d)) => format!(
            "the key {} was deleted to make room; nothing else was changed",
            d.access_key_id
        ),
    };
    let target = SecretRef {
        arn: &view.info.arn,
        name: secret_id,
    };
    let key = create_key(iam, &user, &guard, Some((secrets, target)))
        .await
        .map_err(|CreateKeyFailed { error, notes }| RotationError::CreateKey {
            error,
            notes,
            changed,
        })?;
    let current = &view.current;
    let password = crate::smtp_password::smtp_password_v4(&key.secret, &current.region);
    drop(key.secret);
    // Every field of the current value is kept (what its consumers read), in its shape.
    // An operator's rotation writes the region's endpoint (its region may be a new one); the
    // function keeps the stored host and port.
    let (host, port) = match origin {
        Origin::SecretsManager => (
            current
                .host
                .clone()
                .unwrap_or_else(|| crate::regions::smtp_host(&current.region)),
            current.port.unwrap_or(crate::regions::DEFAULT_PORT),
        ),
        Origin::Operator(_) => (
            crate::regions::smtp_host(&current.region),
            crate::regions::DEFAULT_PORT,
        ),
    };
    let next = NextValue {
        access_key_id: &key.id,
        password: &password,
        region: &current.region,
        host: &host,
        port,
        iam_user_name: &user,
    };
    let value = next_value(&current_value, &next).ok_or_else(|| RotationError::NotStored {
        user: user.clone(),
        key: key.id.clone(),
        cause: format!(
            "secret {}'s AWSCURRENT value is not a JSON object, so no next version could be made from it",
            view.info.arn
        ),
    })?;
    drop(password);
    secrets
        .put_pending_value(&view.info.arn, &value, token, rotation_token)
        .await
        .map_err(|e| RotationError::NotStored {
            user: user.clone(),
            key: key.id.clone(),
            cause: e.to_string(),
        })?;
    out.pending_key_id = Some(key.id);
    Ok(out)
}

/// What a failed store leaves: a key whose secret was never stored. The next createSecret of this
/// rotation deletes it (a stray newer than the current key).
fn stray_left(user: &str, key_id: &str) -> String {
    format!(
        "the new key {key_id} of IAM user {user} was created but its secret was never stored: it can \
         never be used; the retried step deletes it, or delete it now (aws iam delete-access-key \
         --user-name {user} --access-key-id {key_id})"
    )
}

/// The keys a rotation knew before creating one: a key that appears while an attempt goes
/// unanswered is that attempt's only if nothing says it is another run's.
#[derive(Debug, Clone, Default)]
pub struct KeyGuard {
    pub keys_before: Vec<AccessKey>,
    /// Keys this rotation deleted itself (their absence says nothing of another run).
    pub deleted: Vec<String>,
}

/// The secret a rotation stores into, for [`create_key`]'s check of its stages.
#[derive(Debug, Clone, Copy)]
pub struct SecretRef<'a> {
    pub arn: &'a str,
    /// As the operator named it (for messages).
    pub name: &'a str,
}

/// Why [`create_key`] failed: the last attempt's error, and what became of keys a failed attempt may
/// have created (`; ...` clauses, empty when there were none).
#[derive(Debug)]
pub struct CreateKeyFailed {
    pub error: AwsError,
    pub notes: String,
}

/// iam:CreateAccessKey, attempt by attempt (the SDK retries nothing here). A failed attempt may still
/// have created a key whose answer was lost: before the next attempt the keys are listed, and a key
/// that was not there before this rotation is that attempt's (its secret never arrived), so it is
/// deleted. A refusal (`LimitExceeded`, a denial, a bad request) created no key: nothing is deleted
/// after it, and a key that appeared meanwhile is named as another run's (deleting it would cut off
/// the credential that run is rolling out).
pub async fn create_key(
    iam: &Iam,
    user: &str,
    guard: &KeyGuard,
    secret: Option<(&Secrets, SecretRef<'_>)>,
) -> Result<crate::aws::iam::NewAccessKey, CreateKeyFailed> {
    use crate::aws::ErrorKind;
    let known: Vec<&str> = guard.keys_before.iter().map(|k| k.id.as_str()).collect();
    let mut pause = Duration::from_millis(200);
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
                    another_runs_key(iam, guard, &keys, &other.id, secret).await
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
            return Err(CreateKeyFailed { error: e, notes });
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
    guard: &KeyGuard,
    keys_now: &[AccessKey],
    key_id: &str,
    secret: Option<(&Secrets, SecretRef<'_>)>,
) -> Option<String> {
    for before in guard
        .keys_before
        .iter()
        .filter(|k| !guard.deleted.contains(&k.id))
    {
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
    let info = match secrets.describe(target.arn).await {
        Ok(Some(info)) => info,
        Ok(None) => return Some(format!("secret {} could not be found to check", target.name)),
        Err(e) => return Some(format!("secret {}'s stages could not be read: {e}", target.name)),
    };
    for (version, stages) in info.versions.iter().filter(|(_, s)| !s.is_empty()) {
        match secrets.get_version(target.arn, version).await {
            Ok(Some(v)) => {
                if StoredCredential::parse(&v.value).is_ok_and(|c| c.username == key_id) {
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

/// The first of `stages` whose value holds `key`.
async fn stage_holding(
    secrets: &Secrets,
    info: &SecretInfo,
    key: &str,
    stages: &[&'static str],
) -> Result<Option<&'static str>, RotationError> {
    for &stage in stages {
        if info.version_with_stage(stage).is_none() {
            continue;
        }
        if let Some(v) = secrets
            .get_value(&info.arn, stage)
            .await
            .map_err(|e| aws(e, NOTHING_CHANGED))?
        {
            if parse_value(&info.arn, stage, &v.value, &Origin::SecretsManager)
                .is_ok_and(|s| s.access_key_id == key)
            {
                return Ok(Some(stage));
            }
        }
    }
    Ok(None)
}

/// The token's stored credential's fields, for set/test/finish: as an operator's run already knows
/// them, else read.
async fn pending_fields(
    secrets: &Secrets,
    view: &SecretView,
    token: &str,
    origin: &Origin,
) -> Result<StoredValue, RotationError> {
    if let Some((o, key)) = origin
        .operator()
        .and_then(|o| o.pending_key.as_ref().map(|k| (o, k)))
    {
        return Ok(StoredValue {
            iam_user_name: o.user.clone(),
            access_key_id: key.clone(),
            region: o.region.clone(),
            host: None,
            port: None,
        });
    }
    Ok(pending(secrets, view, token, origin).await?.0)
}

/// The token's stored credential, read.
async fn pending(
    secrets: &Secrets,
    view: &SecretView,
    token: &str,
    origin: &Origin,
) -> Result<(StoredValue, Secret), RotationError> {
    let value = secrets
        .get_version(&view.info.arn, token)
        .await
        .map_err(|e| aws(e, NOTHING_CHANGED))?
        .ok_or_else(|| RotationError::NotPending {
            secret: view.info.arn.clone(),
            token: token.to_string(),
            detail: "holds no value yet (createSecret has not run)".to_string(),
        })?;
    let stored = parse_value(&view.info.arn, STAGE_PENDING, &value.value, origin)?;
    Ok((stored, value.value))
}

/// Checks that `key` of `user` exists and is active; returns the user's keys as listed.
async fn check_key(iam: &Iam, user: &str, key: &str) -> Result<Vec<AccessKey>, RotationError> {
    let keys = iam
        .list_access_keys(user)
        .await
        .map_err(|e| aws(e, NOTHING_CHANGED))?;
    match keys.iter().find(|k| k.id == key) {
        Some(k) if k.status == KeyStatus::Active => Ok(keys),
        found => Err(RotationError::PendingKeyUnusable {
            user: user.to_string(),
            key: key.to_string(),
            status: found.map(|k| k.status),
        }),
    }
}

/// setSecret: nothing to change for IAM keys; checks the pending key exists and is active.
pub async fn set_pending(
    iam: &Iam,
    secrets: &Secrets,
    secret_id: &str,
    token: &str,
    origin: &Origin,
) -> Result<StepReport, RotationError> {
    let Some(view) = read(secrets, secret_id, token, origin).await? else {
        return Ok(already_current(Step::Set, secret_id, token));
    };
    let stored = pending_fields(secrets, &view, token, origin).await?;
    check_key(iam, &stored.iam_user_name, &stored.access_key_id).await?;
    let mut out = report(Step::Set, &view.info.arn, token);
    out.iam_user_name = Some(stored.iam_user_name);
    out.pending_key_id = Some(stored.access_key_id);
    out.current_key_id = Some(view.current.access_key_id);
    Ok(out)
}

/// testSecret: an SMTP login with the pending credential (see [`Verification`]).
pub async fn test_pending(
    iam: &Iam,
    secrets: &Secrets,
    secret_id: &str,
    token: &str,
    verification: &Verification,
    notice: Option<crate::smtp::Notice>,
    origin: &Origin,
) -> Result<StepReport, RotationError> {
    let Some(view) = read(secrets, secret_id, token, origin).await? else {
        return Ok(already_current(Step::Test, secret_id, token));
    };
    let mut out = report(Step::Test, &view.info.arn, token);
    out.current_key_id = Some(view.current.access_key_id.clone());
    match verification {
        Verification::KeyCheck => {
            let stored = pending_fields(secrets, &view, token, origin).await?;
            check_key(iam, &stored.iam_user_name, &stored.access_key_id).await?;
            out.iam_user_name = Some(stored.iam_user_name);
            out.pending_key_id = Some(stored.access_key_id);
        }
        Verification::Smtp { endpoint, deadline } => {
            let (stored, value) = pending(secrets, &view, token, origin).await?;
            out.iam_user_name = Some(stored.iam_user_name.clone());
            out.pending_key_id = Some(stored.access_key_id.clone());
            // Only the SES endpoint of the credential's region, or the host the operator configured,
            // is ever sent the password: the stored host is not trusted.
            let mut settings = endpoint.clone();
            if settings.port.is_none() {
                settings.port = stored.port;
            }
            let mut ep = Endpoint::new(&settings, &stored.region).map_err(RotationError::Endpoint)?;
            if let Some(n) = notice {
                ep = ep.with_notice(n);
            }
            let password = stored_password(&value).ok_or_else(|| RotationError::Format {
                secret: view.info.arn.clone(),
                stage: STAGE_PENDING.to_string(),
                detail: "it has no password".to_string(),
            })?;
            drop(value);
            match crate::smtp::verify_new_credential(&stored.access_key_id, &password, &ep, *deadline).await {
                Ok(ok) => out.login_attempts = Some(ok.attempts),
                Err(e) => {
                    return Err(RotationError::LoginFailed {
                        key: stored.access_key_id,
                        detail: format!("{e:#}"),
                    })
                }
            }
        }
    }
    Ok(out)
}

/// The password of a stored value, in whatever shape the codec reads.
fn stored_password(value: &Secret) -> Option<Secret> {
    StoredCredential::parse(value).ok().map(|c| c.password)
}

/// What finishSecret does with the key the old AWSCURRENT held.
#[derive(Debug)]
enum OldKeyStep<'a> {
    /// It is the new key too, or another user's: not this rotation's to retire.
    Untouched,
    /// It no longer exists.
    Gone,
    /// Retire it as configured.
    Retire(&'a AccessKey),
}

/// Decides [`OldKeyStep`] from the keys listed just before the move.
fn old_key_step<'a>(keys: &'a [AccessKey], old: &StoredValue, new: &StoredValue) -> OldKeyStep<'a> {
    if old.access_key_id == new.access_key_id || old.iam_user_name != new.iam_user_name {
        return OldKeyStep::Untouched;
    }
    match keys.iter().find(|k| k.id == old.access_key_id) {
        Some(k) => OldKeyStep::Retire(k),
        None => OldKeyStep::Gone,
    }
}

/// finishSecret: AWSCURRENT moves to the token's version (the key is checked just before), then the
/// old key as configured, then the AWSPENDING label comes off the token's version.
pub async fn finish(
    iam: &Iam,
    secrets: &Secrets,
    secret_id: &str,
    token: &str,
    old_key: OldKeyAction,
    origin: &Origin,
) -> Result<StepReport, RotationError> {
    let Some(view) = read(secrets, secret_id, token, origin).await? else {
        return Ok(already_current(Step::Finish, secret_id, token));
    };
    let stored = pending_fields(secrets, &view, token, origin).await?;
    let mut out = report(Step::Finish, &view.info.arn, token);
    out.iam_user_name = Some(stored.iam_user_name.clone());
    out.pending_key_id = Some(stored.access_key_id.clone());
    out.current_key_id = Some(view.current.access_key_id.clone());
    out.previous_version = Some(view.current_version.clone());
    // Never move AWSCURRENT to a key that cannot log in: checked just before the move.
    let keys = check_key(iam, &stored.iam_user_name, &stored.access_key_id).await?;
    if let Err(error) = secrets
        .move_stage(
            &view.info.arn,
            STAGE_CURRENT,
            Some(token),
            Some(&view.current_version),
        )
        .await
    {
        // The call may have taken effect with its answer lost (then its retry fails): read it back,
        // because what the caller does next (undo, or not) depends on it.
        match secrets.describe(&view.info.arn).await {
            Ok(Some(info)) if info.version_with_stage(STAGE_CURRENT) == Some(token) => {
                tracing::debug!("the promotion took effect although its call reported: {error}");
            }
            Ok(Some(_)) => return Err(RotationError::PromoteFailed { error }),
            Ok(None) => {
                return Err(RotationError::PromoteUnknown {
                    error,
                    check: "the secret was not found".to_string(),
                })
            }
            Err(e) => {
                return Err(RotationError::PromoteUnknown {
                    error,
                    check: e.to_string(),
                })
            }
        }
    }
    let user = view.current.iam_user_name.clone();
    out.old_key = Some(match old_key_step(&keys, &view.current, &stored) {
        OldKeyStep::Untouched => "untouched",
        OldKeyStep::Gone => "gone",
        OldKeyStep::Retire(key) => match retire_key(iam, &user, key, old_key).await {
            Ok(outcome) => outcome.name(),
            Err(e) if e.is(crate::aws::ErrorKind::NotFound) => "gone",
            Err(error) => {
                return Err(RotationError::RetireFailed {
                    error,
                    old_key: key.id.clone(),
                    new_key: stored.access_key_id.clone(),
                })
            }
        },
    });
    // The label has done its job; on the current version it is harmless, so a failure is only a
    // warning (Secrets Manager treats AWSPENDING on AWSCURRENT's version as a finished rotation).
    if let Err(e) = secrets
        .move_stage(&view.info.arn, STAGE_PENDING, None, Some(token))
        .await
    {
        tracing::warn!("removing AWSPENDING from version {token} after promotion failed: {e}");
        out.warnings.push(format!(
            "the rotation is complete, but removing AWSPENDING from the new version failed ({e}); it is \
             harmless and the next rotation ignores it"
        ));
    }
    Ok(out)
}

/// One invocation of a step, as Secrets Manager's rotation event names it.
#[derive(Debug, Clone, Copy)]
pub struct StepRequest<'a> {
    pub step: Step,
    /// The secret's name or ARN.
    pub secret_id: &'a str,
    /// The rotation's token (`ClientRequestToken`): the id of the version being made.
    pub token: &'a str,
    /// The `RotationToken` Secrets Manager passes, when it does (handed to PutSecretValue).
    pub rotation_token: Option<&'a str>,
}

/// Runs one step (the rotation function's dispatch, and each turn of an operator's rotation).
pub async fn run_step(
    iam: &Iam,
    secrets: &Secrets,
    request: StepRequest<'_>,
    settings: &Settings,
    notice: Option<crate::smtp::Notice>,
    origin: &Origin,
) -> Result<StepReport, RotationError> {
    let StepRequest {
        step,
        secret_id,
        token,
        rotation_token,
    } = request;
    match step {
        Step::Create => create_pending(iam, secrets, secret_id, token, rotation_token, origin).await,
        Step::Set => set_pending(iam, secrets, secret_id, token, origin).await,
        Step::Test => {
            test_pending(
                iam,
                secrets,
                secret_id,
                token,
                &settings.verification,
                notice,
                origin,
            )
            .await
        }
        Step::Finish => finish(iam, secrets, secret_id, token, settings.old_key, origin).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn key(id: &str, status: KeyStatus, day: u32) -> AccessKey {
        AccessKey {
            id: id.to_string(),
            status,
            created: Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap(),
        }
    }

    /// An operator's run of user `u` in eu-west-1 that knows nothing else yet.
    fn operator() -> Origin {
        Origin::Operator(OperatorRun {
            user: "u".into(),
            region: "eu-west-1".into(),
            keys_before: vec![],
            deleted: vec![],
            current: None,
            pending_key: None,
        })
    }

    #[test]
    fn one_key_leaves_room() {
        assert_eq!(
            make_room(&[key("A", KeyStatus::Active, 1)], "A", None),
            Room::Free
        );
    }

    #[test]
    fn the_previous_key_goes_and_the_current_key_never() {
        let keys = [key("OLD", KeyStatus::Active, 1), key("CUR", KeyStatus::Active, 2)];
        assert_eq!(
            make_room(&keys, "CUR", Some("OLD")),
            Room::Delete {
                access_key_id: "OLD".into(),
                reason: "previous"
            }
        );
        // AWSPREVIOUS naming the current key (a rotation that re-stored the same key) frees nothing.
        assert!(matches!(make_room(&keys, "CUR", Some("CUR")), Room::Refuse(_)));
    }

    #[test]
    fn a_stray_newer_than_the_current_key_goes() {
        let keys = [
            key("CUR", KeyStatus::Active, 1),
            key("STRAY", KeyStatus::Active, 3),
        ];
        assert_eq!(
            make_room(&keys, "CUR", None),
            Room::Delete {
                access_key_id: "STRAY".into(),
                reason: "stray"
            }
        );
    }

    #[test]
    fn an_older_key_no_stage_holds_is_refused_and_named() {
        let keys = [
            key("HAND", KeyStatus::Inactive, 1),
            key("CUR", KeyStatus::Active, 2),
        ];
        match make_room(&keys, "CUR", None) {
            Room::Refuse(named) => {
                assert_eq!(named.len(), 2);
                assert!(named
                    .iter()
                    .any(|(id, why)| id == "CUR" && why.contains("AWSCURRENT")));
                assert!(named
                    .iter()
                    .any(|(id, why)| id == "HAND" && why.contains("inactive")));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_steps_read_any_shape_of_the_codec_that_names_its_user_and_region() {
        let variables = Secret::new(
            r#"{"SMTP_USERNAME":"AKIAOLD","SMTP_PASSWORD":"old-pass","region":"eu-west-1","iam_user_name":"u","SMTP_PORT":"2587"}"#
                .to_string(),
        );
        let v = parse_value("s", STAGE_CURRENT, &variables, &Origin::SecretsManager).unwrap();
        assert_eq!(
            (v.access_key_id.as_str(), v.iam_user_name.as_str()),
            ("AKIAOLD", "u")
        );
        assert_eq!((v.region.as_str(), v.port), ("eu-west-1", Some(2587)));
        assert_eq!(stored_password(&variables).unwrap().expose(), "old-pass");
        let plain = Secret::new("AKIAIOSFODNN7EXAMPLE:old-pass".to_string());
        let err = parse_value("s", STAGE_CURRENT, &plain, &Origin::SecretsManager)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no iam_user_name") && !err.contains("old-pass"),
            "{err}"
        );
    }

    #[test]
    fn stored_values_are_read_without_quoting_them_in_errors() {
        let bad = Secret::new("AKIAX:sup3r-secret".to_string());
        let err = parse_value("s", STAGE_CURRENT, &bad, &Origin::SecretsManager)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("sup3r"), "{err}");
        let ok = parse_value(
            "s",
            STAGE_CURRENT,
            &Secret::new(
                r#"{"iam_user_name":"u","username":"AKIA1","password":"p","region":"eu-west-1","port":"2587"}"#.into(),
            ),
            &Origin::SecretsManager,
        )
        .unwrap();
        assert_eq!(ok.access_key_id, "AKIA1");
        assert_eq!(ok.port, Some(2587));
    }

    #[test]
    fn an_operators_run_names_the_user_and_region_a_value_does_not() {
        let origin = operator();
        let plain = Secret::new("AKIAIOSFODNN7EXAMPLE:old-pass".to_string());
        let v = parse_value("s", STAGE_CURRENT, &plain, &origin).unwrap();
        assert_eq!(
            (
                v.iam_user_name.as_str(),
                v.region.as_str(),
                v.access_key_id.as_str()
            ),
            ("u", "eu-west-1", "AKIAIOSFODNN7EXAMPLE")
        );
        // The operator's region wins over the stored one: a rotation may move the credential.
        let stored = Secret::new(
            r#"{"iam_user_name":"u","username":"AKIA1","password":"p","region":"us-east-1"}"#.to_string(),
        );
        assert_eq!(
            parse_value("s", STAGE_CURRENT, &stored, &origin).unwrap().region,
            "eu-west-1"
        );
        // Secrets Manager's rotation trusts only the value.
        assert!(parse_value("s", STAGE_CURRENT, &plain, &Origin::SecretsManager).is_err());
    }

    #[test]
    fn retirement_outcomes_are_named_as_step_reports_name_them() {
        for o in [
            KeyOutcome::Deactivated,
            KeyOutcome::Deleted,
            KeyOutcome::Kept,
            KeyOutcome::AlreadyInactive,
        ] {
            assert_eq!(KeyOutcome::from_name(o.name()), Some(o));
        }
        assert_eq!(KeyOutcome::from_name("gone"), None);
        assert_eq!(KeyOutcome::from_name("untouched"), None);
    }

    #[test]
    fn the_guard_acts_only_on_the_pending_version_and_an_operators_new_one() {
        let versions = BTreeMap::from([
            ("cur".to_string(), vec![STAGE_CURRENT.to_string()]),
            ("pend".to_string(), vec![STAGE_PENDING.to_string()]),
            ("old".to_string(), vec![STAGE_PREVIOUS.to_string()]),
            // A finished rotation whose label was left: AWSPENDING beside AWSCURRENT.
            (
                "done".to_string(),
                vec![STAGE_CURRENT.to_string(), STAGE_PENDING.to_string()],
            ),
        ]);
        let fm = Origin::SecretsManager;
        let op = operator();
        for origin in [&fm, &op] {
            assert_eq!(guard(&versions, "pend", origin), Guard::Act);
            assert_eq!(guard(&versions, "cur", origin), Guard::AlreadyCurrent);
            assert_eq!(guard(&versions, "done", origin), Guard::AlreadyCurrent);
            assert_eq!(
                guard(&versions, "old", origin),
                Guard::Refuse("is not staged AWSPENDING")
            );
        }
        // A token Secrets Manager never staged changes nothing; an operator's fresh token is made.
        assert_eq!(
            guard(&versions, "new", &fm),
            Guard::Refuse("is not a version of the secret")
        );
        assert_eq!(guard(&versions, "new", &op), Guard::Act);
    }

    #[test]
    fn finish_retires_only_the_old_key_of_the_same_user_that_still_exists() {
        let value = |user: &str, key: &str| StoredValue {
            iam_user_name: user.into(),
            access_key_id: key.into(),
            region: "eu-west-1".into(),
            host: None,
            port: None,
        };
        let keys = [key("OLD", KeyStatus::Active, 1), key("NEW", KeyStatus::Active, 2)];
        assert!(matches!(
            old_key_step(&keys, &value("u", "OLD"), &value("u", "NEW")),
            OldKeyStep::Retire(k) if k.id == "OLD"
        ));
        assert!(matches!(
            old_key_step(&keys[1..], &value("u", "OLD"), &value("u", "NEW")),
            OldKeyStep::Gone
        ));
        // Re-storing the same key, or a secret moved to another user: nothing to retire.
        assert!(matches!(
            old_key_step(&keys, &value("u", "NEW"), &value("u", "NEW")),
            OldKeyStep::Untouched
        ));
        assert!(matches!(
            old_key_step(&keys, &value("other", "OLD"), &value("u", "NEW")),
            OldKeyStep::Untouched
        ));
    }

    #[test]
    fn steps_parse_by_their_event_names() {
        for s in [Step::Create, Step::Set, Step::Test, Step::Finish] {
            assert_eq!(Step::parse(s.name()), Some(s));
        }
        assert_eq!(Step::parse("rotate"), None);
    }
}
