//! `sesctl list`: the account's SMTP users and their keys, without judging them. Reads as `audit
//! --key-ids` does (see `workflows::audit`): every key with its id. Renders with audit's table and CSV.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::audit::{self, LINE_WIDTH, SCHEMA_VERSION};
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
    pub key_source: KeySource,
    pub users: Vec<SmtpUser>,
}

impl fmt::Display for ListReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&audit::user_table(&self.users))?;
        writeln!(f)?;
        let line = audit::source_line(
            &self.key_source,
            self.users_scanned,
            self.users.len(),
            self.generated_at,
        );
        write!(f, "{}", audit::wrap(&line, "", LINE_WIDTH))?;
        for u in &self.users {
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
}

pub async fn exec(ctx: &Context, args: ListArgs) -> anyhow::Result<Outcome> {
    // `list` always shows key ids: one iam:ListAccessKeys per SMTP user with keys.
    let inventory = audit::read(ctx, args.concurrency, args.report_wait, true).await?;
    let report = ListReport {
        schema_version: SCHEMA_VERSION,
        generated_at: Utc::now(),
        users_scanned: inventory.users_scanned,
        key_source: inventory.key_source,
        users: inventory.users,
    };
    match ctx.printer.format {
        OutputFormat::Csv => {
            let rows: Vec<(&SmtpUser, Option<&[Finding]>)> = report.users.iter().map(|u| (u, None)).collect();
            audit::write_csv(std::io::stdout().lock(), &rows)?;
        }
        _ => ctx.printer.result(&report)?,
    }
    let unreadable = report.users.iter().filter(|u| u.error.is_some()).count();
    if unreadable > 0 {
        ctx.printer.warn(format!(
            "the keys of {unreadable} user(s) could not be read; the list is incomplete"
        ));
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Done)
}
