//! `sesctl list`: the account's SMTP users and their keys, without judging them (in several accounts
//! with `--accounts`). Reads as `audit
//! --key-ids` does (see `workflows::audit`): every key with its id. Renders with audit's table and CSV.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::audit::{self, AccountEntry, LINE_WIDTH, SCHEMA_VERSION};
use super::Context;
use crate::cli::{ListArgs, OutputFormat};
use crate::error::Outcome;
use crate::workflows::audit::{Finding, KeySource, SmtpUser};

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

/// One account's users as text: their table, where the keys came from, unreadable users.
fn write_section(
    f: &mut fmt::Formatter<'_>,
    users: &[&SmtpUser],
    key_source: Option<&KeySource>,
    users_scanned: usize,
    now: DateTime<Utc>,
) -> fmt::Result {
    f.write_str(&audit::user_table(users.iter().copied()))?;
    writeln!(f)?;
    if let Some(source) = key_source {
        let line = audit::source_line(source, users_scanned, users.len(), now);
        write!(f, "{}", audit::wrap(&line, "", LINE_WIDTH))?;
    }
    for u in users {
        if let Some(e) = &u.error {
            write!(
                f,
                "{}",
                audit::wrap(&format!("could not read {}: {e}", u.user_name), "", LINE_WIDTH)
            )?;
        }
    }
    Ok(())
}

impl fmt::Display for ListReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(accounts) = &self.accounts else {
            let users: Vec<&SmtpUser> = self.users.iter().collect();
            return write_section(
                f,
                &users,
                self.key_source.as_ref(),
                self.users_scanned,
                self.generated_at,
            );
        };
        for a in accounts {
            writeln!(f, "{}", audit::account_heading(a))?;
            if let Some(e) = &a.error {
                write!(f, "{}", audit::wrap(&format!("FAILED: {e}"), "", LINE_WIDTH))?;
            } else {
                let users: Vec<&SmtpUser> = self
                    .users
                    .iter()
                    .filter(|u| u.account_id.as_deref() == Some(a.account_id.as_str()))
                    .collect();
                write_section(
                    f,
                    &users,
                    a.key_source.as_ref(),
                    a.users_scanned.unwrap_or_default(),
                    self.generated_at,
                )?;
            }
            writeln!(f)?;
        }
        writeln!(f, "{}", audit::accounts_line(accounts))
    }
}

pub async fn exec(ctx: &Context, args: ListArgs) -> anyhow::Result<Outcome> {
    // `list` always shows key ids: one iam:ListAccessKeys per SMTP user with keys.
    let report = match ctx.accounts()? {
        None => {
            let inventory = audit::read(ctx, args.concurrency, args.report_wait, true).await?;
            ListReport {
                schema_version: SCHEMA_VERSION,
                generated_at: Utc::now(),
                users_scanned: inventory.users_scanned,
                key_source: Some(inventory.key_source),
                accounts: None,
                users: inventory.users,
            }
        }
        Some(selection) => {
            let inventory =
                audit::read_accounts(ctx, &selection, "list", args.concurrency, args.report_wait, true)
                    .await?;
            ListReport {
                schema_version: SCHEMA_VERSION,
                generated_at: Utc::now(),
                users_scanned: inventory.users_scanned,
                key_source: None,
                accounts: Some(inventory.accounts),
                users: inventory.users,
            }
        }
    };
    match ctx.printer.format {
        OutputFormat::Csv => {
            let rows: Vec<(&SmtpUser, Option<&[Finding]>)> = report.users.iter().map(|u| (u, None)).collect();
            audit::write_csv(std::io::stdout().lock(), &rows, report.accounts.is_some())?;
        }
        _ => ctx.printer.result(&report)?,
    }
    let mut outcome = Outcome::Done;
    let unreadable = report.users.iter().filter(|u| u.error.is_some()).count();
    if unreadable > 0 {
        ctx.printer.warn(format!(
            "the keys of {unreadable} user(s) could not be read; the list is incomplete"
        ));
        outcome = Outcome::Failed;
    }
    let failed = report.accounts.iter().flatten().filter(|a| a.failed()).count();
    if failed > 0 {
        ctx.printer.warn(format!(
            "{failed} account(s) could not be listed (named above); the list is incomplete"
        ));
        outcome = Outcome::Failed;
    }
    Ok(outcome)
}
