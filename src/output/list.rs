//! `list`'s report as text and CSV, with the table, source line and account headings it shares with
//! `audit` ([`super::audit`]).

use std::fmt;

use chrono::{DateTime, Utc};

use super::audit::{source_line, user_table, write_by_account, write_csv};
use super::{wrap, LINE_WIDTH};
use crate::workflows::audit::report::ListReport;
use crate::workflows::audit::{Finding, KeySource, SmtpUser};

/// `list`'s text report.
pub struct ListText<'a>(pub &'a ListReport);

/// One account's users as text: their table, where the keys came from, unreadable users.
fn write_section(
    f: &mut fmt::Formatter<'_>,
    users: &[&SmtpUser],
    key_source: Option<&KeySource>,
    users_scanned: usize,
    now: DateTime<Utc>,
) -> fmt::Result {
    f.write_str(&user_table(users.iter().copied()))?;
    writeln!(f)?;
    if let Some(source) = key_source {
        let line = source_line(source, users_scanned, users.len(), now);
        write!(f, "{}", wrap(&line, "", LINE_WIDTH))?;
    }
    for u in users {
        if let Some(e) = &u.error {
            write!(
                f,
                "{}",
                wrap(&format!("could not read {}: {e}", u.user_name), "", LINE_WIDTH)
            )?;
        }
    }
    Ok(())
}

impl fmt::Display for ListText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        write_by_account(
            f,
            &report.users,
            |u| u.account_id.as_deref(),
            report.accounts.as_deref(),
            (report.key_source.as_ref(), report.users_scanned),
            |f, users, source, scanned| write_section(f, users, source, scanned, report.generated_at),
        )
    }
}

/// `list`'s report as CSV: [`write_csv`] without findings.
pub fn list_csv(out: impl std::io::Write, report: &ListReport) -> anyhow::Result<()> {
    let rows: Vec<(&SmtpUser, Option<&[Finding]>)> = report.users.iter().map(|u| (u, None)).collect();
    write_csv(out, &rows, report.accounts.is_some())
}
