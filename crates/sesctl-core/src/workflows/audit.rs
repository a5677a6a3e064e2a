//! `audit` and `list`: every SMTP user in the account, with its keys, read with a number of API calls
//! that does not grow with the number of users in the account.
//!
//! Reading ([`read_inventory`]): the users (iam:GetAccountAuthorizationDetails, Filter=User), the
//! groups and managed policies (the same call with Filter=Group,LocalManagedPolicy,AWSManagedPolicy)
//! and the credential report run at once. The keys come from the report's two key slots (active,
//! created, last used: date, region, service), with no per-user call: such a key is named by its slot
//! and dates, since the report has no key ids. With [`ReadSettings::key_ids`] (`list`, `audit
//! --key-ids`) each SMTP user that holds keys gets one iam:ListAccessKeys, with bounded concurrency,
//! and each key its id. An SMTP user the report does not know (created after it) is read with
//! per-user calls. Where the report cannot be had (access denied, none there, not ready in time,
//! unreadable), every SMTP user's keys are read with per-user calls, and [`KeySource::PerUser`] says
//! why.
//!
//! Judging ([`findings`]) is pure: a user, the rules and "now" in, findings out.
//!
//! A read that fails for the whole account is an [`AuditError`]; one user's keys that cannot be read
//! are that user's [`SmtpUser::error`], and the rest of the report still stands.
//!
//! The reports built from these ([`report::AuditReport`], [`report::ListReport`]) are in [`report`].

pub mod report;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use super::setup::{GROUP, POLICY};
use crate::aws::account::UserDetail;
use crate::aws::authorization::AccountPolicies;
use crate::aws::credential_report::{CredentialReport, ReportKey};
use crate::aws::iam::{AccessKey, Iam, KeyStatus};
use crate::aws::{AwsError, ErrorKind};
use crate::policy::{self, SEND_RAW_EMAIL};

/// The tag the SES console put on the SMTP users it created before September 2024.
pub use crate::vocabulary::CONSOLE_TAG;

pub use crate::vocabulary::legacy_cutoff;

/// Why a user counts as an SMTP user. A user may have several reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// Member of `AWSSESSendingGroupDoNotRename`.
    SendingGroup,
    /// Has the console's inline policy `AmazonSesSendingAccess`.
    InlineSendingPolicy,
    /// Tagged `InvokedBy=SESConsole`.
    ConsoleTag,
    /// Another inline policy of the user allows `ses:SendRawEmail`.
    InlinePolicy { policy: String },
    /// A managed policy attached to the user allows `ses:SendRawEmail`.
    AttachedPolicy { policy: String },
    /// Tagged `sesctl:create-run` by `sesctl create-user` (found even when a crash stopped the run
    /// before the user joined the group).
    CreatedBySesctl,
}

impl Reason {
    /// A short label for tables and CSV.
    pub fn label(&self) -> String {
        match self {
            Reason::SendingGroup => "group".into(),
            Reason::InlineSendingPolicy => "inline".into(),
            Reason::ConsoleTag => "tag".into(),
            Reason::InlinePolicy { policy } => format!("inline:{policy}"),
            Reason::AttachedPolicy { policy } => format!("policy:{policy}"),
            Reason::CreatedBySesctl => "sesctl".into(),
        }
    }
}

/// One access key of an SMTP user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Key {
    /// `None` when the keys came from the credential report alone (it has no key ids).
    pub access_key_id: Option<String>,
    /// The key's place among the user's keys ordered by creation (1 or 2), as the credential report's
    /// `access_key_1_*` and `access_key_2_*` columns number them.
    pub slot: u8,
    pub status: KeyStatus,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
}

impl Key {
    pub fn is_active(&self) -> bool {
        self.status == KeyStatus::Active
    }

    /// How findings and tables name the key: `key 1`, with its id when known.
    pub fn name(&self) -> String {
        match &self.access_key_id {
            Some(id) => format!("key {} ({id})", self.slot),
            None => format!("key {}", self.slot),
        }
    }
}

/// An SMTP user and its keys.
#[derive(Debug, Clone, Serialize)]
pub struct SmtpUser {
    /// The account the user is in: set when the run covers several accounts (`--accounts`), absent
    /// from the JSON otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub user_name: String,
    pub arn: String,
    pub created: DateTime<Utc>,
    pub reasons: Vec<Reason>,
    /// Whether any of its policies (its group's, inline, attached) allows `ses:SendRawEmail`.
    pub sending_permission: bool,
    pub keys: Vec<Key>,
    /// Set when this user's keys could not be read; the rest of the report still stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SmtpUser {
    fn has(&self, reason: &Reason) -> bool {
        self.reasons.contains(reason)
    }
}

/// Where the key details came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeySource {
    /// The IAM credential report (plus iam:ListAccessKeys for key ids when asked for).
    CredentialReport {
        generated: Option<DateTime<Utc>>,
        /// Older than the four hours after which IAM generates a new report when asked (or undated):
        /// keys created, deleted or used since are not in it.
        stale: bool,
        /// Whether key ids were read (one iam:ListAccessKeys per SMTP user with keys).
        key_ids: bool,
        /// SMTP users the report does not list (created after it), read with per-user calls.
        users_not_in_report: usize,
        /// Why the report may be old (iam:GenerateCredentialReport was denied).
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Per-user calls, because the report could not be had.
    PerUser { reason: String },
}

/// The account's SMTP users, as read.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    pub users_scanned: usize,
    pub key_source: KeySource,
    pub users: Vec<SmtpUser>,
}

/// How to read the account.
#[derive(Debug, Clone)]
pub struct ReadSettings {
    /// Per-user calls in flight at once.
    pub concurrency: usize,
    /// MaxItems for iam:GetAccountAuthorizationDetails (IAM allows up to 1000).
    pub page_size: Option<i32>,
    /// How long to wait for IAM to generate the credential report.
    pub report_wait: Duration,
    /// Read each SMTP user's key ids (one iam:ListAccessKeys per SMTP user with keys); without it the
    /// credential report alone describes the keys.
    pub key_ids: bool,
}

/// Decides whether `user` is an SMTP user, and whether it can send. `documents` holds managed
/// policy documents by ARN; `group_grants` says whether the sending group allows sending.
pub fn classify(
    user: &UserDetail,
    group_grants: bool,
    documents: &HashMap<String, String>,
) -> Option<(Vec<Reason>, bool)> {
    let mut reasons = Vec::new();
    let mut can_send = false;
    if user.groups.iter().any(|g| g == GROUP) {
        reasons.push(Reason::SendingGroup);
        can_send |= group_grants;
    }
    if let Some(doc) = user.inline_policy(POLICY) {
        reasons.push(Reason::InlineSendingPolicy);
        can_send |= policy::allows(doc, SEND_RAW_EMAIL);
    }
    if user.tag(CONSOLE_TAG.0) == Some(CONSOLE_TAG.1) {
        reasons.push(Reason::ConsoleTag);
    }
    if user.tag(crate::workflows::create_user::TAG_CREATE_RUN).is_some() {
        reasons.push(Reason::CreatedBySesctl);
    }
    for (name, doc) in &user.inline_policies {
        if name != POLICY && policy::allows(doc, SEND_RAW_EMAIL) {
            reasons.push(Reason::InlinePolicy { policy: name.clone() });
            can_send = true;
        }
    }
    for p in &user.attached_policies {
        if documents
            .get(&p.arn)
            .is_some_and(|d| policy::allows(d, SEND_RAW_EMAIL))
        {
            reasons.push(Reason::AttachedPolicy {
                policy: p.name.clone(),
            });
            can_send = true;
        }
    }
    (!reasons.is_empty()).then_some((reasons, can_send))
}

/// Whether the sending group exists and one of its policies allows `ses:SendRawEmail`.
pub fn group_grants_sending(policies: &AccountPolicies) -> bool {
    policies.groups.iter().filter(|g| g.name == GROUP).any(|g| {
        g.inline_policies
            .iter()
            .any(|(_, d)| policy::allows(d, SEND_RAW_EMAIL))
            || g.attached_policies.iter().any(|p| {
                policies
                    .documents
                    .get(&p.arn)
                    .is_some_and(|d| policy::allows(d, SEND_RAW_EMAIL))
            })
    })
}

/// Pairs the keys iam:ListAccessKeys names with the credential report's slots. A slot's "last rotated"
/// is its key's creation time (to the second); when two keys share a second, the active flag decides.
/// A key with no slot (created after the report) pairs with `None`.
pub fn pair_keys<'r>(
    listed: &[AccessKey],
    slots: &'r [ReportKey],
) -> Vec<(AccessKey, Option<&'r ReportKey>)> {
    let mut used = vec![false; slots.len()];
    let mut listed: Vec<AccessKey> = listed.to_vec();
    listed.sort_by_key(|k| k.created);
    let close = |k: &AccessKey, s: &ReportKey| (k.created - s.created).num_seconds().abs() <= 1;
    listed
        .into_iter()
        .map(|k| {
            let active = k.status == KeyStatus::Active;
            let pick = (0..slots.len())
                .find(|&i| !used[i] && close(&k, &slots[i]) && slots[i].active == active)
                .or_else(|| (0..slots.len()).find(|&i| !used[i] && close(&k, &slots[i])));
            if let Some(i) = pick {
                used[i] = true;
            }
            (k, pick.map(|i| &slots[i]))
        })
        .collect()
}

/// Why an account's SMTP users could not be read. Each variant holds the failed AWS call (its
/// [`AwsError`] names the API action); nothing is ever changed by a read.
#[derive(Debug)]
pub enum AuditError {
    /// The account's IAM users could not be read (iam:GetAccountAuthorizationDetails, Filter=User).
    ReadUsers(AwsError),
    /// The account's groups and managed policies could not be read
    /// (iam:GetAccountAuthorizationDetails, Filter=Group,LocalManagedPolicy,AWSManagedPolicy).
    ReadPolicies(AwsError),
    /// The credential report failed in a way that per-user reads would not get round (throttling, the
    /// network, a refused request); access denied, no report, a report not ready in time or one that
    /// cannot be read fall back to per-user reads ([`KeySource::PerUser`]) instead.
    CredentialReport(AwsError),
    /// A managed policy attached to a user or to the sending group, which the account-wide read did not
    /// return, could not be read (iam:GetPolicy, iam:GetPolicyVersion).
    ReadPolicy { arn: String, error: AwsError },
}

impl AuditError {
    /// The failed AWS call.
    pub fn aws(&self) -> &AwsError {
        match self {
            AuditError::ReadUsers(error)
            | AuditError::ReadPolicies(error)
            | AuditError::CredentialReport(error)
            | AuditError::ReadPolicy { error, .. } => error,
        }
    }

    /// The failed AWS call, taken out of the error.
    pub fn into_aws(self) -> AwsError {
        match self {
            AuditError::ReadUsers(error)
            | AuditError::ReadPolicies(error)
            | AuditError::CredentialReport(error)
            | AuditError::ReadPolicy { error, .. } => error,
        }
    }
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::ReadUsers(_) => f.write_str("reading the account's IAM users"),
            AuditError::ReadPolicies(_) => f.write_str("reading the account's groups and managed policies"),
            AuditError::CredentialReport(_) => f.write_str("reading the credential report"),
            AuditError::ReadPolicy { arn, .. } => write!(f, "reading managed policy {arn}"),
        }
    }
}

/// The AWS error is the source of every variant.
impl std::error::Error for AuditError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.aws())
    }
}

/// Reads every SMTP user and its keys. `progress` is advanced per user whose keys need calls (pass
/// [`super::NoProgress`] when nobody watches). A read for the whole account that fails is an
/// [`AuditError`]; a user whose keys cannot be read keeps its error in [`SmtpUser::error`].
pub async fn read_inventory(
    iam: &Iam,
    settings: &ReadSettings,
    progress: &dyn super::Progress,
) -> Result<Inventory, AuditError> {
    progress.stage("reading users, policies and the credential report");
    let (users, policies, report) = tokio::join!(
        iam.account_users(settings.page_size),
        iam.account_policies(settings.page_size),
        iam.credential_report(settings.report_wait),
    );
    let users = users.map_err(AuditError::ReadUsers)?;
    let mut policies = policies.map_err(AuditError::ReadPolicies)?;
    let (report, key_source) = match report {
        Ok(r) => {
            let source = KeySource::CredentialReport {
                generated: r.generated,
                stale: r.is_stale(Utc::now()),
                key_ids: settings.key_ids,
                users_not_in_report: 0,
                note: r.note.clone(),
            };
            (Some(r), source)
        }
        Err(e)
            if matches!(
                e.kind,
                ErrorKind::AccessDenied | ErrorKind::Timeout | ErrorKind::NotFound | ErrorKind::Other
            ) =>
        {
            (
                None,
                KeySource::PerUser {
                    reason: e.to_string(),
                },
            )
        }
        Err(e) => return Err(AuditError::CredentialReport(e)),
    };

    // A policy attached somewhere whose document the account-wide read did not return (IAM returns
    // the AWS-managed policies in use, so this is rare): fetch each such policy once.
    let missing: BTreeSet<String> = users
        .iter()
        .flat_map(|u| u.attached_policies.iter())
        .chain(
            policies
                .groups
                .iter()
                .filter(|g| g.name == GROUP)
                .flat_map(|g| g.attached_policies.iter()),
        )
        .map(|p| p.arn.clone())
        .filter(|arn| !policies.documents.contains_key(arn))
        .collect();
    let fetched: Vec<(String, Option<String>)> = stream::iter(missing)
        .map(|arn| async move {
            match iam.get_policy_document(&arn).await {
                Ok(doc) => Ok((arn, doc)),
                Err(error) => Err(AuditError::ReadPolicy { arn, error }),
            }
        })
        .buffer_unordered(settings.concurrency)
        .try_collect()
        .await?;
    for (arn, doc) in fetched {
        if let Some(doc) = doc {
            policies.documents.insert(arn, doc);
        }
    }

    let group_grants = group_grants_sending(&policies);
    let candidates: Vec<(UserDetail, Vec<Reason>, bool)> = users
        .iter()
        .filter_map(|u| classify(u, group_grants, &policies.documents).map(|(r, s)| (u.clone(), r, s)))
        .collect();

    let report = report.as_ref();
    let key_ids = settings.key_ids;
    let not_in_report = report.map_or(0, |r| {
        candidates
            .iter()
            .filter(|(d, _, _)| !r.rows.contains_key(&d.name))
            .count()
    });
    let mut key_source = key_source;
    if let KeySource::CredentialReport {
        users_not_in_report, ..
    } = &mut key_source
    {
        *users_not_in_report = not_in_report;
    }
    progress.stage("reading access keys");
    progress.total(candidates.len() as u64);
    let mut smtp_users: Vec<SmtpUser> = stream::iter(candidates)
        .map(|(detail, reasons, can_send)| async move {
            let keys = user_keys(iam, &detail.name, report, key_ids).await;
            progress.advance();
            let (keys, error) = match keys {
                Ok(k) => (k, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            SmtpUser {
                account_id: None,
                user_name: detail.name,
                arn: detail.arn,
                created: detail.created,
                reasons,
                sending_permission: can_send,
                keys,
                error,
            }
        })
        .buffer_unordered(settings.concurrency)
        .collect()
        .await;
    progress.finish();
    smtp_users.sort_by(|a, b| a.user_name.cmp(&b.user_name));
    Ok(Inventory {
        users_scanned: users.len(),
        key_source,
        users: smtp_users,
    })
}

/// One user's keys. From the report's row alone when it has one and ids are not asked for (no call,
/// nor when the row shows no key); otherwise iam:ListAccessKeys, and iam:GetAccessKeyLastUsed for
/// each key the report does not cover (a user without a row, or no report at all).
async fn user_keys(
    iam: &Iam,
    user: &str,
    report: Option<&CredentialReport>,
    key_ids: bool,
) -> Result<Vec<Key>, AwsError> {
    let slots: &[ReportKey] = match report.and_then(|r| r.rows.get(user)) {
        Some(row) if row.keys.is_empty() => return Ok(Vec::new()),
        Some(row) if !key_ids => return Ok(report_keys(&row.keys)),
        Some(row) => &row.keys,
        None => &[],
    };
    let listed = iam.list_access_keys(user).await?;
    let mut keys = Vec::new();
    for (i, (k, slot)) in pair_keys(&listed, slots).into_iter().enumerate() {
        let (last_used, last_used_service, last_used_region) = match slot {
            Some(s) => (
                s.last_used,
                s.last_used_service.clone(),
                s.last_used_region.clone(),
            ),
            None => {
                let used = iam.access_key_last_used(&k.id).await?;
                (used.date, used.service, used.region)
            }
        };
        keys.push(Key {
            access_key_id: Some(k.id),
            slot: slot_number(i),
            status: k.status,
            created: k.created,
            last_used,
            last_used_service,
            last_used_region,
        });
    }
    Ok(keys)
}

fn slot_number(index: usize) -> u8 {
    u8::try_from(index + 1).unwrap_or(u8::MAX)
}

/// A user's keys as the credential report's slots describe them (no ids).
pub fn report_keys(slots: &[ReportKey]) -> Vec<Key> {
    slots
        .iter()
        .enumerate()
        .map(|(i, s)| Key {
            access_key_id: None,
            slot: slot_number(i),
            status: if s.active {
                KeyStatus::Active
            } else {
                KeyStatus::Inactive
            },
            created: s.created,
            last_used: s.last_used,
            last_used_service: s.last_used_service.clone(),
            last_used_region: s.last_used_region.clone(),
        })
        .collect()
}

// ---- findings ----

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Finding ids: stable, documented in docs/audit.md.
pub mod ids {
    pub const LEGACY_V2_KEY: &str = "legacy-v2-key";
    pub const NO_SENDING_PERMISSION: &str = "no-sending-permission";
    pub const INLINE_POLICY: &str = "inline-policy";
    pub const KEY_TOO_OLD: &str = "key-too-old";
    pub const TWO_ACTIVE_KEYS: &str = "two-active-keys";
    pub const KEY_UNUSED: &str = "key-unused";
    pub const KEY_NEVER_USED: &str = "key-never-used";
    pub const INACTIVE_KEY: &str = "inactive-key";
    pub const CONSOLE_TAG: &str = "console-tag";
}

/// One thing wrong with a user or one of its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The account of the finding's user, as on [`SmtpUser::account_id`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub id: &'static str,
    pub severity: Severity,
    pub user_name: String,
    /// The key's id, when it was read (`--key-ids`, `list`); `null` for a key known from the
    /// credential report alone, and for findings about the user.
    pub access_key_id: Option<String>,
    /// The key's slot (1 or 2, by creation), for findings about a key.
    pub key_slot: Option<u8>,
    pub message: String,
    /// The command that fixes it.
    pub fix: String,
}

/// What counts as too old or unused.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub max_key_age_days: u32,
    pub unused_days: u32,
    pub now: DateTime<Utc>,
}

fn day(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Judges one user. Key findings are about active keys, except `inactive-key`.
pub fn findings(user: &SmtpUser, rules: &Rules) -> Vec<Finding> {
    let name = &user.user_name;
    let mut out = Vec::new();
    let mut add = |id, severity, key: Option<&Key>, message: String, fix: String| {
        out.push(Finding {
            account_id: user.account_id.clone(),
            id,
            severity,
            user_name: name.clone(),
            access_key_id: key.and_then(|k| k.access_key_id.clone()),
            key_slot: key.map(|k| k.slot),
            message,
            fix,
        })
    };
    if !user.sending_permission {
        let fix = if user.has(&Reason::SendingGroup) {
            "sesctl setup".to_string()
        } else {
            format!("sesctl migrate-inline-policy {name}")
        };
        add(
            ids::NO_SENDING_PERMISSION,
            Severity::Error,
            None,
            "no policy of this user or its groups allows ses:SendRawEmail: SMTP logins fail".into(),
            fix,
        );
    }
    if user.has(&Reason::InlineSendingPolicy) {
        add(
            ids::INLINE_POLICY,
            Severity::Warning,
            None,
            format!("has the inline policy {POLICY}: move it onto the group {GROUP}"),
            format!("sesctl migrate-inline-policy {name}"),
        );
    } else if user.has(&Reason::ConsoleTag) {
        add(
            ids::CONSOLE_TAG,
            Severity::Info,
            None,
            format!(
                "tag {}={} left behind without the inline policy it marked",
                CONSOLE_TAG.0, CONSOLE_TAG.1
            ),
            format!("sesctl migrate-inline-policy {name}"),
        );
    }
    let active: Vec<&Key> = user.keys.iter().filter(|k| k.is_active()).collect();
    if active.len() >= 2 {
        add(
            ids::TWO_ACTIVE_KEYS,
            Severity::Warning,
            None,
            "two active access keys: retire the one no longer in use".into(),
            format!("sesctl rotate {name} --secret-name NAME --finish"),
        );
    }
    for key in &user.keys {
        let key_name = key.name();
        if !key.is_active() {
            let delete = match &key.access_key_id {
                Some(id) => format!("aws iam delete-access-key --user-name {name} --access-key-id {id}"),
                None => format!(
                    "aws iam delete-access-key --user-name {name} --access-key-id ID (the inactive key created \
                     {}; `sesctl list` shows its id)",
                    day(key.created)
                ),
            };
            add(
                ids::INACTIVE_KEY,
                Severity::Info,
                Some(key),
                format!(
                    "{key_name}: inactive key created {} left behind",
                    day(key.created)
                ),
                format!("{delete}, or `sesctl rotate {name} --delete-inactive` at the next rotation"),
            );
            continue;
        }
        if key.created < legacy_cutoff() {
            add(
                ids::LEGACY_V2_KEY,
                Severity::Error,
                Some(key),
                format!(
                    "{key_name} created {}, before 2019-01-10: its SMTP password is a legacy v2 one SES rejects",
                    day(key.created)
                ),
                format!("sesctl rotate {name}"),
            );
        }
        let age = (rules.now - key.created).num_days();
        if age > i64::from(rules.max_key_age_days) {
            add(
                ids::KEY_TOO_OLD,
                Severity::Warning,
                Some(key),
                format!(
                    "{key_name} created {} is {age} days old (more than {} days)",
                    day(key.created),
                    rules.max_key_age_days
                ),
                format!("sesctl rotate {name}"),
            );
        }
        match key.last_used {
            None => add(
                ids::KEY_NEVER_USED,
                Severity::Warning,
                Some(key),
                format!(
                    "{key_name}: active key created {} has never been used",
                    day(key.created)
                ),
                format!("sesctl delete-user {name} (if the credential is not needed)"),
            ),
            Some(used) => {
                let idle = (rules.now - used).num_days();
                if idle > i64::from(rules.unused_days) {
                    add(
                        ids::KEY_UNUSED,
                        Severity::Warning,
                        Some(key),
                        format!(
                            "{key_name} created {} was last used {} ({idle} days ago, more than {})",
                            day(key.created),
                            day(used),
                            rules.unused_days
                        ),
                        format!("sesctl delete-user {name} (if the credential is not needed)"),
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::iam::AttachedPolicy;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn rules() -> Rules {
        Rules {
            max_key_age_days: 90,
            unused_days: 45,
            now: at("2025-06-01T00:00:00Z"),
        }
    }

    fn key(id: &str, active: bool, created: &str, used: Option<&str>) -> Key {
        Key {
            access_key_id: Some(id.into()),
            slot: 1,
            status: if active {
                KeyStatus::Active
            } else {
                KeyStatus::Inactive
            },
            created: at(created),
            last_used: used.map(at),
            last_used_service: used.map(|_| "ses".into()),
            last_used_region: None,
        }
    }

    fn user(reasons: Vec<Reason>, can_send: bool, keys: Vec<Key>) -> SmtpUser {
        SmtpUser {
            account_id: None,
            user_name: "mailer".into(),
            arn: "arn:aws:iam::1:user/mailer".into(),
            created: at("2018-01-01T00:00:00Z"),
            reasons,
            sending_permission: can_send,
            keys,
            error: None,
        }
    }

    fn ids_of(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.id).collect()
    }

    #[test]
    fn a_healthy_group_member_has_no_findings() {
        let u = user(
            vec![Reason::SendingGroup],
            true,
            vec![key(
                "AKIA1",
                true,
                "2025-04-01T00:00:00Z",
                Some("2025-05-30T00:00:00Z"),
            )],
        );
        assert!(findings(&u, &rules()).is_empty());
    }

    #[test]
    fn a_key_from_before_2019_01_10_is_legacy_and_too_old() {
        let u = user(
            vec![Reason::SendingGroup],
            true,
            vec![key(
                "AKIA1",
                true,
                "2019-01-09T23:59:59Z",
                Some("2025-05-30T00:00:00Z"),
            )],
        );
        let f = findings(&u, &rules());
        assert_eq!(ids_of(&f), [ids::LEGACY_V2_KEY, ids::KEY_TOO_OLD]);
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].access_key_id.as_deref(), Some("AKIA1"));
        assert_eq!(f[0].fix, "sesctl rotate mailer");
        let u = user(
            vec![Reason::SendingGroup],
            true,
            vec![key(
                "AKIA1",
                true,
                "2019-01-10T00:00:00Z",
                Some("2025-05-30T00:00:00Z"),
            )],
        );
        assert_eq!(ids_of(&findings(&u, &rules())), [ids::KEY_TOO_OLD]);
    }

    #[test]
    fn key_age_and_idleness_follow_the_settings() {
        // 91 days old, last used 46 days ago.
        let u = user(
            vec![Reason::SendingGroup],
            true,
            vec![key(
                "AKIA1",
                true,
                "2025-03-02T00:00:00Z",
                Some("2025-04-16T00:00:00Z"),
            )],
        );
        assert_eq!(
            ids_of(&findings(&u, &rules())),
            [ids::KEY_TOO_OLD, ids::KEY_UNUSED]
        );
        let lenient = Rules {
            max_key_age_days: 91,
            unused_days: 46,
            ..rules()
        };
        assert!(findings(&u, &lenient).is_empty());
    }

    #[test]
    fn never_used_two_active_and_inactive_keys() {
        let u = user(
            vec![Reason::SendingGroup],
            true,
            vec![
                key("AKIA1", true, "2025-05-01T00:00:00Z", None),
                key(
                    "AKIA2",
                    true,
                    "2025-05-02T00:00:00Z",
                    Some("2025-05-31T00:00:00Z"),
                ),
                key("AKIA3", false, "2017-01-01T00:00:00Z", None),
            ],
        );
        let f = findings(&u, &rules());
        assert_eq!(
            ids_of(&f),
            [ids::TWO_ACTIVE_KEYS, ids::KEY_NEVER_USED, ids::INACTIVE_KEY]
        );
        assert_eq!(f[1].access_key_id.as_deref(), Some("AKIA1"));
        // An inactive key is only "left behind", however old.
        assert_eq!(f[2].severity, Severity::Info);
        assert_eq!(f[2].access_key_id.as_deref(), Some("AKIA3"));
    }

    #[test]
    fn keys_from_the_report_alone_are_named_by_slot_and_dates() {
        let slots = [
            slot(false, "2017-01-01T00:00:00Z", None),
            slot(true, "2025-05-01T00:00:00Z", None),
        ];
        let keys = report_keys(&slots);
        assert_eq!(keys.iter().map(|k| k.slot).collect::<Vec<_>>(), [1, 2]);
        assert!(keys.iter().all(|k| k.access_key_id.is_none()));
        assert_eq!(keys[0].status, KeyStatus::Inactive);
        let u = user(vec![Reason::SendingGroup], true, keys);
        let f = findings(&u, &rules());
        assert_eq!(ids_of(&f), [ids::INACTIVE_KEY, ids::KEY_NEVER_USED]);
        assert_eq!((f[0].access_key_id.as_deref(), f[0].key_slot), (None, Some(1)));
        assert!(
            f[0].message.starts_with("key 1: inactive key created 2017-01-01"),
            "{}",
            f[0].message
        );
        assert!(f[0].fix.contains("sesctl list"), "{}", f[0].fix);
        assert_eq!(f[1].key_slot, Some(2));
        assert!(
            f[1].message.starts_with("key 2: active key created 2025-05-01"),
            "{}",
            f[1].message
        );
        // With the id known, the finding carries it and the message names it.
        let mut with_id = report_keys(&slots[1..]);
        with_id[0].access_key_id = Some("AKIA2".into());
        let f = findings(&user(vec![Reason::SendingGroup], true, with_id), &rules());
        assert_eq!(f[0].access_key_id.as_deref(), Some("AKIA2"));
        assert!(f[0].message.starts_with("key 1 (AKIA2): "), "{}", f[0].message);
    }

    #[test]
    fn inline_policy_tag_and_permission_findings() {
        let u = user(
            vec![Reason::InlineSendingPolicy, Reason::ConsoleTag],
            true,
            vec![],
        );
        let f = findings(&u, &rules());
        assert_eq!(ids_of(&f), [ids::INLINE_POLICY]);
        assert_eq!(f[0].fix, "sesctl migrate-inline-policy mailer");

        let u = user(vec![Reason::SendingGroup, Reason::ConsoleTag], true, vec![]);
        assert_eq!(ids_of(&findings(&u, &rules())), [ids::CONSOLE_TAG]);

        let u = user(vec![Reason::ConsoleTag], false, vec![]);
        let f = findings(&u, &rules());
        assert_eq!(ids_of(&f), [ids::NO_SENDING_PERMISSION, ids::CONSOLE_TAG]);
        assert_eq!(f[0].fix, "sesctl migrate-inline-policy mailer");
        let u = user(vec![Reason::SendingGroup], false, vec![]);
        assert_eq!(findings(&u, &rules())[0].fix, "sesctl setup");
    }

    fn detail(
        groups: &[&str],
        inline: &[(&str, &str)],
        attached: &[&str],
        tags: &[(&str, &str)],
    ) -> UserDetail {
        UserDetail {
            name: "u".into(),
            arn: "arn:aws:iam::1:user/u".into(),
            path: "/".into(),
            created: at("2024-01-01T00:00:00Z"),
            inline_policies: inline
                .iter()
                .map(|(n, d)| (n.to_string(), d.to_string()))
                .collect(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            attached_policies: attached
                .iter()
                .map(|a| AttachedPolicy {
                    name: a.rsplit('/').next().unwrap().into(),
                    arn: a.to_string(),
                })
                .collect(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    const SEND: &str = r#"{"Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}"#;
    const OTHER: &str = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

    #[test]
    fn every_way_of_being_an_smtp_user_is_named() {
        let none = HashMap::new();
        assert_eq!(classify(&detail(&["devs"], &[], &[], &[]), true, &none), None);
        assert_eq!(
            classify(&detail(&[GROUP], &[], &[], &[]), true, &none),
            Some((vec![Reason::SendingGroup], true))
        );
        assert_eq!(
            classify(&detail(&[GROUP], &[], &[], &[]), false, &none),
            Some((vec![Reason::SendingGroup], false))
        );
        assert_eq!(
            classify(&detail(&[], &[(POLICY, SEND)], &[], &[]), false, &none),
            Some((vec![Reason::InlineSendingPolicy], true))
        );
        assert_eq!(
            classify(
                &detail(&[], &[], &[], &[("InvokedBy", "SESConsole")]),
                false,
                &none
            ),
            Some((vec![Reason::ConsoleTag], false))
        );
        // Left by an interrupted create-user before it joined the group: found, and it cannot send.
        assert_eq!(
            classify(
                &detail(&[], &[], &[], &[("sesctl:create-run", "5f0c")]),
                true,
                &none
            ),
            Some((vec![Reason::CreatedBySesctl], false))
        );
        assert_eq!(
            classify(
                &detail(&[], &[("mail", SEND), ("s3", OTHER)], &[], &[]),
                false,
                &none
            ),
            Some((
                vec![Reason::InlinePolicy {
                    policy: "mail".into()
                }],
                true
            ))
        );
        let docs: HashMap<String, String> = [
            ("arn:aws:iam::1:policy/send".to_string(), SEND.to_string()),
            ("arn:aws:iam::1:policy/s3".to_string(), OTHER.to_string()),
        ]
        .into();
        let d = detail(
            &[],
            &[],
            &["arn:aws:iam::1:policy/send", "arn:aws:iam::1:policy/s3"],
            &[],
        );
        assert_eq!(
            classify(&d, false, &docs),
            Some((
                vec![Reason::AttachedPolicy {
                    policy: "send".into()
                }],
                true
            ))
        );
        let d = detail(&[], &[], &["arn:aws:iam::1:policy/s3"], &[("InvokedBy", "other")]);
        assert_eq!(classify(&d, false, &docs), None);
    }

    fn slot(active: bool, created: &str, used: Option<&str>) -> ReportKey {
        ReportKey {
            active,
            created: at(created),
            last_used: used.map(at),
            last_used_region: None,
            last_used_service: None,
        }
    }

    fn listed(id: &str, active: bool, created: &str) -> AccessKey {
        AccessKey {
            id: id.into(),
            status: if active {
                KeyStatus::Active
            } else {
                KeyStatus::Inactive
            },
            created: at(created),
        }
    }

    #[test]
    fn a_failed_read_says_what_was_read_keeps_the_aws_error_as_its_cause_and_names_no_flag() {
        use std::error::Error as _;
        let aws = AwsError {
            kind: ErrorKind::AccessDenied,
            action: "iam:GetAccountAuthorizationDetails",
            code: Some("AccessDenied".into()),
            message: "no".into(),
        };
        let errors = [
            AuditError::ReadUsers(aws.clone()),
            AuditError::ReadPolicies(aws.clone()),
            AuditError::CredentialReport(aws.clone()),
            AuditError::ReadPolicy {
                arn: "arn:aws:iam::1:policy/send".into(),
                error: aws.clone(),
            },
        ];
        for e in &errors {
            let text = e.to_string();
            assert!(text.starts_with("reading "), "{text}");
            assert!(!text.contains("--") && !text.contains("sesctl "), "{text}");
            assert_eq!(e.source().map(|s| s.to_string()), Some(aws.to_string()));
            assert_eq!(e.aws().action, "iam:GetAccountAuthorizationDetails");
        }
        assert_eq!(
            errors[3].to_string(),
            "reading managed policy arn:aws:iam::1:policy/send"
        );
        let [first, ..] = errors;
        assert_eq!(first.into_aws().to_string(), aws.to_string());
    }

    #[test]
    fn keys_pair_with_report_slots_by_creation_time_then_status() {
        let slots = [
            slot(false, "2024-01-01T00:00:00Z", Some("2024-02-01T00:00:00Z")),
            slot(true, "2024-01-01T00:00:00Z", Some("2025-05-01T00:00:00Z")),
        ];
        let keys = [
            listed("AKIA_ACTIVE", true, "2024-01-01T00:00:00.400Z"),
            listed("AKIA_OLD", false, "2024-01-01T00:00:00Z"),
        ];
        let pairs = pair_keys(&keys, &slots);
        let by_id: HashMap<&str, Option<&ReportKey>> =
            pairs.iter().map(|(k, s)| (k.id.as_str(), *s)).collect();
        assert_eq!(by_id["AKIA_ACTIVE"], Some(&slots[1]));
        assert_eq!(by_id["AKIA_OLD"], Some(&slots[0]));

        // A key newer than the report has no slot.
        let pairs = pair_keys(&[listed("AKIA_NEW", true, "2025-01-01T00:00:00Z")], &slots);
        assert_eq!(pairs[0].1, None);
    }
}
