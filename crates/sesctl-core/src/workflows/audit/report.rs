//! The reports of `audit` and `list`, built from what [`super::read_inventory`] read: their JSON
//! documents are versioned by [`SCHEMA_VERSION`] and documented in docs/audit.md. Rendering them as
//! text or CSV is the front end's.
//!
//! One account: [`audit`] and [`list`] read it and build the report. Several accounts (`--accounts`):
//! the front end reads each with [`super::read_inventory`] as that account, gathers the results with
//! [`AccountsInventory::from_results`], and builds the report with [`AuditReport::build_accounts`] or
//! [`ListReport::build_accounts`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    findings, read_inventory, AuditError, Finding, Inventory, KeySource, ReadSettings, Rules, Severity,
    SmtpUser,
};
use crate::aws::iam::Iam;
use crate::workflows::Progress;

/// The version of the JSON documents of `audit` and `list`. 2: keys carry their `slot`, an audit key's
/// `access_key_id` is null unless `--key-ids` read it, findings carry `key_slot`, and `key_source`
/// says whether the report is stale and whether ids were read. 3: with `--accounts`, users and
/// findings carry `account_id`, an `accounts` array says how each account went (with its own
/// `users_scanned` and `key_source`), and the top-level `key_source` is left out.
pub const SCHEMA_VERSION: u32 = 3;

/// Users per iam:GetAccountAuthorizationDetails page: IAM's maximum, so large accounts take few calls.
pub const PAGE_SIZE: i32 = crate::vocabulary::IAM_PAGE_SIZE;

impl ReadSettings {
    /// How `audit` and `list` read an account: [`PAGE_SIZE`] users a page, `concurrency` per-user
    /// calls at once, up to `report_wait` for the credential report, key ids with `key_ids`.
    pub fn new(concurrency: usize, report_wait: Duration, key_ids: bool) -> Self {
        ReadSettings {
            concurrency,
            page_size: Some(PAGE_SIZE),
            report_wait,
            key_ids,
        }
    }
}

/// `audit` in one account: reads it and judges every SMTP user by `rules`. Fails as
/// [`read_inventory`] does.
pub async fn audit(
    iam: &Iam,
    settings: &ReadSettings,
    rules: &Rules,
    progress: &dyn Progress,
) -> Result<AuditReport, AuditError> {
    let inventory = read_inventory(iam, settings, progress).await?;
    Ok(AuditReport::build(inventory, rules))
}

/// `list` in one account: reads it (the report is dated when the read is done). Fails as
/// [`read_inventory`] does.
pub async fn list(
    iam: &Iam,
    settings: &ReadSettings,
    progress: &dyn Progress,
) -> Result<ListReport, AuditError> {
    let inventory = read_inventory(iam, settings, progress).await?;
    Ok(ListReport::build(inventory, Utc::now()))
}

/// The status of one account in the JSON documents' `accounts` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Ok,
    Failed,
}

/// The settings findings were judged by.
#[derive(Debug, Clone, Serialize)]
pub struct AuditSettings {
    pub max_key_age_days: u32,
    pub unused_days: u32,
}

/// Counts for the report's summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub smtp_users: usize,
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    /// Users whose keys could not be read (the report is incomplete for them).
    pub unreadable_users: usize,
}

/// One user with its findings.
#[derive(Debug, Clone, Serialize)]
pub struct AuditedUser {
    #[serde(flatten)]
    pub user: SmtpUser,
    pub findings: Vec<Finding>,
}

/// How one account of an `--accounts` run went.
#[derive(Debug, Clone, Serialize)]
pub struct AccountEntry {
    pub account_id: String,
    pub status: AccountStatus,
    /// Why the account could not be entered or read (`failed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// IAM users in the account (`ok` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users_scanned: Option<usize>,
    /// Where the account's key details came from (`ok` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_source: Option<KeySource>,
}

impl AccountEntry {
    pub fn failed(&self) -> bool {
        self.status == AccountStatus::Failed
    }
}

/// The inventories of several accounts: their users (each with its `account_id`) in account order.
pub struct AccountsInventory {
    pub users_scanned: usize,
    pub users: Vec<SmtpUser>,
    pub accounts: Vec<AccountEntry>,
}

impl AccountsInventory {
    /// Gathers each account's read, in account order: its id and its inventory, or why the account
    /// could not be entered or read, as the front end words it (the JSON documents' `accounts[].error`).
    pub fn from_results(results: impl IntoIterator<Item = (String, Result<Inventory, String>)>) -> Self {
        let mut out = AccountsInventory {
            users_scanned: 0,
            users: Vec::new(),
            accounts: Vec::new(),
        };
        for (account_id, result) in results {
            match result {
                Ok(inventory) => {
                    out.users_scanned += inventory.users_scanned;
                    out.users.extend(inventory.users.into_iter().map(|mut u| {
                        u.account_id = Some(account_id.clone());
                        u
                    }));
                    out.accounts.push(AccountEntry {
                        account_id,
                        status: AccountStatus::Ok,
                        error: None,
                        users_scanned: Some(inventory.users_scanned),
                        key_source: Some(inventory.key_source),
                    });
                }
                Err(e) => out.accounts.push(AccountEntry {
                    account_id,
                    status: AccountStatus::Failed,
                    error: Some(e),
                    users_scanned: None,
                    key_source: None,
                }),
            }
        }
        out
    }

    pub fn failed(&self) -> usize {
        self.accounts.iter().filter(|a| a.failed()).count()
    }
}

/// Accounts that could not be entered or read.
fn failed_accounts(accounts: &Option<Vec<AccountEntry>>) -> usize {
    accounts.iter().flatten().filter(|a| a.failed()).count()
}

/// What `sesctl audit` prints.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub schema_version: u32,
    pub generated_at: DateTime<Utc>,
    pub settings: AuditSettings,
    pub users_scanned: usize,
    /// Where the key details came from; with `--accounts`, each account says so instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_source: Option<KeySource>,
    /// With `--accounts`: how each account went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<AccountEntry>>,
    pub summary: Summary,
    pub users: Vec<AuditedUser>,
}

impl AuditReport {
    pub fn build(inventory: Inventory, rules: &Rules) -> Self {
        Self::judge(
            inventory.users,
            inventory.users_scanned,
            Some(inventory.key_source),
            None,
            rules,
        )
    }

    /// The report of an `--accounts` run.
    pub fn build_accounts(inventory: AccountsInventory, rules: &Rules) -> Self {
        Self::judge(
            inventory.users,
            inventory.users_scanned,
            None,
            Some(inventory.accounts),
            rules,
        )
    }

    fn judge(
        users: Vec<SmtpUser>,
        users_scanned: usize,
        key_source: Option<KeySource>,
        accounts: Option<Vec<AccountEntry>>,
        rules: &Rules,
    ) -> Self {
        let mut summary = Summary {
            smtp_users: users.len(),
            ..Summary::default()
        };
        let users: Vec<AuditedUser> = users
            .into_iter()
            .map(|user| {
                let findings = findings(&user, rules);
                for f in &findings {
                    match f.severity {
                        Severity::Error => summary.errors += 1,
                        Severity::Warning => summary.warnings += 1,
                        Severity::Info => summary.info += 1,
                    }
                }
                summary.unreadable_users += usize::from(user.error.is_some());
                AuditedUser { user, findings }
            })
            .collect();
        AuditReport {
            schema_version: SCHEMA_VERSION,
            generated_at: rules.now,
            settings: AuditSettings {
                max_key_age_days: rules.max_key_age_days,
                unused_days: rules.unused_days,
            },
            users_scanned,
            key_source,
            accounts,
            summary,
            users,
        }
    }

    /// Accounts that could not be entered or read (`--accounts`).
    pub fn failed_accounts(&self) -> usize {
        failed_accounts(&self.accounts)
    }

    /// The most serious finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.users
            .iter()
            .flat_map(|u| u.findings.iter())
            .map(|f| f.severity)
            .max()
    }

    /// How the audit ended: incomplete when a user's keys or an account could not be read; otherwise
    /// with findings at or above `fail_on`, or clean. The front end decides what each means to it
    /// (the CLI: exit 1, 3, 0).
    pub fn verdict(&self, fail_on: Option<Severity>) -> Verdict {
        if self.summary.unreadable_users > 0 || self.failed_accounts() > 0 {
            return Verdict::Incomplete;
        }
        match (fail_on, self.worst()) {
            (Some(threshold), Some(worst)) if worst >= threshold => Verdict::Findings,
            _ => Verdict::Clean,
        }
    }
}

/// How an audit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything was read, and no finding reached the threshold.
    Clean,
    /// Some user's keys or some account could not be read.
    Incomplete,
    /// A finding at or above the threshold.
    Findings,
}

/// What `sesctl list` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub schema_version: u32,
    pub generated_at: DateTime<Utc>,
    pub users_scanned: usize,
    /// Where the key details came from; with `--accounts`, each account says so instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_source: Option<KeySource>,
    /// With `--accounts`: how each account went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<AccountEntry>>,
    pub users: Vec<SmtpUser>,
}

impl ListReport {
    pub fn build(inventory: Inventory, generated_at: DateTime<Utc>) -> Self {
        ListReport {
            schema_version: SCHEMA_VERSION,
            generated_at,
            users_scanned: inventory.users_scanned,
            key_source: Some(inventory.key_source),
            accounts: None,
            users: inventory.users,
        }
    }

    /// The report of an `--accounts` run.
    pub fn build_accounts(inventory: AccountsInventory, generated_at: DateTime<Utc>) -> Self {
        ListReport {
            schema_version: SCHEMA_VERSION,
            generated_at,
            users_scanned: inventory.users_scanned,
            key_source: None,
            accounts: Some(inventory.accounts),
            users: inventory.users,
        }
    }

    /// Users whose keys could not be read (the list is incomplete for them).
    pub fn unreadable_users(&self) -> usize {
        self.users.iter().filter(|u| u.error.is_some()).count()
    }

    /// Accounts that could not be entered or read (`--accounts`).
    pub fn failed_accounts(&self) -> usize {
        failed_accounts(&self.accounts)
    }

    /// Whether every user's keys and every account could be read.
    pub fn is_complete(&self) -> bool {
        self.unreadable_users() == 0 && self.failed_accounts() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::iam::KeyStatus;
    use crate::workflows::audit::{Key, Reason};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn inventory() -> Inventory {
        let user = SmtpUser {
            account_id: None,
            user_name: "ses-smtp-user.20190101-000000".into(),
            arn: "arn:aws:iam::123456789012:user/x".into(),
            created: at("2018-01-01T00:00:00Z"),
            reasons: vec![Reason::SendingGroup, Reason::InlineSendingPolicy],
            sending_permission: true,
            keys: vec![
                Key {
                    access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
                    slot: 1,
                    status: KeyStatus::Active,
                    created: at("2018-05-01T00:00:00Z"),
                    last_used: None,
                    last_used_service: None,
                    last_used_region: None,
                },
                Key {
                    access_key_id: None,
                    slot: 2,
                    status: KeyStatus::Inactive,
                    created: at("2024-05-01T00:00:00Z"),
                    last_used: Some(at("2024-06-01T00:00:00Z")),
                    last_used_service: Some("ses".into()),
                    last_used_region: Some("eu-west-1".into()),
                },
            ],
            error: None,
        };
        Inventory {
            users_scanned: 2000,
            key_source: KeySource::CredentialReport {
                generated: Some(at("2025-06-01T00:00:00Z")),
                stale: false,
                key_ids: false,
                users_not_in_report: 0,
                note: None,
            },
            users: vec![user],
        }
    }

    fn rules() -> Rules {
        Rules {
            max_key_age_days: 90,
            unused_days: 45,
            now: at("2025-06-01T00:00:00Z"),
        }
    }

    #[test]
    fn summary_and_exit_outcome() {
        let r = AuditReport::build(inventory(), &rules());
        assert_eq!(r.summary.errors, 1); // legacy
        assert_eq!(r.summary.warnings, 3); // inline, too old, never used
        assert_eq!(r.summary.info, 1); // inactive
        assert_eq!(r.worst(), Some(Severity::Error));
        assert_eq!(r.verdict(None), Verdict::Clean);
        assert_eq!(r.verdict(Some(Severity::Error)), Verdict::Findings);
        assert_eq!(r.verdict(Some(Severity::Warning)), Verdict::Findings);
    }

    #[test]
    fn accounts_keep_their_order_and_name_their_users() {
        let results = vec![
            ("111111111111".to_string(), Ok(inventory())),
            ("222222222222".to_string(), Err("access denied".to_string())),
        ];
        let inventory = AccountsInventory::from_results(results);
        assert_eq!(inventory.failed(), 1);
        assert_eq!(inventory.users_scanned, 2000);
        assert_eq!(inventory.users[0].account_id.as_deref(), Some("111111111111"));
        let list = ListReport::build_accounts(inventory, at("2025-06-01T00:00:00Z"));
        assert_eq!(list.failed_accounts(), 1);
        assert!(!list.is_complete());
        let json = serde_json::to_value(&list).unwrap();
        assert!(json.get("key_source").is_none(), "{json}");
        assert_eq!(json["accounts"][0]["status"], "ok");
        assert_eq!(json["accounts"][0]["users_scanned"], 2000);
        assert_eq!(json["accounts"][1]["status"], "failed");
        assert_eq!(json["accounts"][1]["error"], "access denied");
        assert!(json["accounts"][1].get("users_scanned").is_none(), "{json}");
    }
}
