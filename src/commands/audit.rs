//! `sesctl audit`: the account's SMTP users with findings. Also home of the rendering `list` shares
//! (text table, CSV); the reading and judging live in `workflows::audit`.
//!
//! The JSON document (`-o json`) is versioned by `schema_version` and documented in docs/audit.md.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::accounts::{self, AccountResult, Selection, Status};
use super::Context;
use crate::aws::Aws;
use crate::cli::{AuditArgs, FailOn, OutputFormat};
use crate::error::Outcome;
use crate::workflows::audit::{
    self as workflow, Finding, Inventory, Key, KeySource, ReadSettings, Rules, Severity, SmtpUser,
};

/// The version of the JSON documents of `audit` and `list`. 2: keys carry their `slot`, an audit key's
/// `access_key_id` is null unless `--key-ids` read it, findings carry `key_slot`, and `key_source`
/// says whether the report is stale and whether ids were read. 3: with `--accounts`, users and
/// findings carry `account_id`, an `accounts` array says how each account went (with its own
/// `users_scanned` and `key_source`), and the top-level `key_source` is left out.
pub const SCHEMA_VERSION: u32 = 3;

/// Users per iam:GetAccountAuthorizationDetails page: IAM's maximum, so large accounts take few calls.
pub const PAGE_SIZE: i32 = 1000;

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
    pub status: Status,
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
        self.status == Status::Failed
    }
}

/// The inventories of several accounts: their users (each with its `account_id`) in account order.
pub struct AccountsInventory {
    pub users_scanned: usize,
    pub users: Vec<SmtpUser>,
    pub accounts: Vec<AccountEntry>,
}

impl AccountsInventory {
    pub fn from_results(results: Vec<AccountResult<Inventory>>) -> Self {
        let mut out = AccountsInventory {
            users_scanned: 0,
            users: Vec::new(),
            accounts: Vec::new(),
        };
        for r in results {
            match r.result {
                Ok(inventory) => {
                    out.users_scanned += inventory.users_scanned;
                    out.users.extend(inventory.users.into_iter().map(|mut u| {
                        u.account_id = Some(r.account_id.clone());
                        u
                    }));
                    out.accounts.push(AccountEntry {
                        account_id: r.account_id,
                        status: Status::Ok,
                        error: None,
                        users_scanned: Some(inventory.users_scanned),
                        key_source: Some(inventory.key_source),
                    });
                }
                Err(e) => out.accounts.push(AccountEntry {
                    account_id: r.account_id,
                    status: Status::Failed,
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
                let findings = workflow::findings(&user, rules);
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
        self.accounts.iter().flatten().filter(|a| a.failed()).count()
    }

    /// The most serious finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.users
            .iter()
            .flat_map(|u| u.findings.iter())
            .map(|f| f.severity)
            .max()
    }

    /// The exit outcome: unreadable users fail the run (the audit is incomplete); otherwise findings
    /// at or above `fail_on` give exit 3.
    pub fn outcome(&self, fail_on: Option<FailOn>) -> Outcome {
        if self.summary.unreadable_users > 0 || self.failed_accounts() > 0 {
            return Outcome::Failed;
        }
        let threshold = match fail_on {
            None => return Outcome::Done,
            Some(FailOn::Warning) => Severity::Warning,
            Some(FailOn::Error) => Severity::Error,
        };
        match self.worst() {
            Some(worst) if worst >= threshold => Outcome::Findings,
            _ => Outcome::Done,
        }
    }
}

// ---- rendering shared with `list` ----

/// Widest a cell of each column may be, so a row stays within 120 columns.
const WIDTHS: [usize; 6] = [32, 24, 20, 8, 10, 10];
/// Text lines are kept to this width.
pub const LINE_WIDTH: usize = 120;

/// Shortens `s` to `max` characters, marking the cut with `…`.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn day(d: Option<DateTime<Utc>>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "never".into())
}

/// A key's id, or its slot when the id was not read.
fn key_cell(k: &Key) -> String {
    k.access_key_id
        .clone()
        .unwrap_or_else(|| format!("key {}", k.slot))
}

fn reasons(user: &SmtpUser, sep: &str) -> String {
    user.reasons
        .iter()
        .map(|r| r.label())
        .collect::<Vec<_>>()
        .join(sep)
}

/// The users and their keys as an aligned table, one row per key (a user without keys gets one row).
pub fn user_table<'a>(users: impl IntoIterator<Item = &'a SmtpUser>) -> String {
    let mut rows = Vec::new();
    for u in users {
        let first = |cells: [String; 4]| {
            let [a, b, c, d] = cells;
            vec![
                clip(&u.user_name, WIDTHS[0]),
                clip(&reasons(u, ","), WIDTHS[1]),
                a,
                b,
                c,
                d,
            ]
        };
        if u.error.is_some() {
            rows.push(first(["(unreadable)".into(), "-".into(), "-".into(), "-".into()]));
            continue;
        }
        if u.keys.is_empty() {
            rows.push(first(["(no keys)".into(), "-".into(), "-".into(), "-".into()]));
        }
        for (i, k) in u.keys.iter().enumerate() {
            let cells = [
                clip(&key_cell(k), WIDTHS[2]),
                k.status.to_string(),
                day(Some(k.created)),
                day(k.last_used),
            ];
            if i == 0 {
                rows.push(first(cells));
            } else {
                let [a, b, c, d] = cells;
                rows.push(vec![String::new(), String::new(), a, b, c, d]);
            }
        }
    }
    crate::output::table(
        &["USER", "WHY", "ACCESS KEY", "STATUS", "CREATED", "LAST USED"],
        &rows,
    )
}

/// Breaks `text` into lines of at most `width` characters after `indent`, at spaces where possible.
pub fn wrap(text: &str, indent: &str, width: usize) -> String {
    let room = width.saturating_sub(indent.chars().count()).max(10);
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > room {
            if !line.is_empty() {
                out.push_str(&format!("{indent}{line}\n"));
                line.clear();
            }
            let head: String = word.chars().take(room).collect();
            out.push_str(&format!("{indent}{head}\n"));
            word = word.chars().skip(room).collect();
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            out.push_str(&format!("{indent}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{line}\n"));
    }
    out
}

/// How long ago `then` was, in the largest whole unit.
fn ago(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let d = now - then;
    match (d.num_days(), d.num_hours(), d.num_minutes()) {
        (days, _, _) if days >= 2 => format!("{days} days"),
        (_, hours, _) if hours >= 2 => format!("{hours} hours"),
        (_, _, minutes) => format!("{} min", minutes.max(0)),
    }
}

/// The line that says where the key details came from, and what that means for them.
pub fn source_line(source: &KeySource, scanned: usize, smtp: usize, now: DateTime<Utc>) -> String {
    let from = match source {
        KeySource::CredentialReport {
            generated,
            stale,
            key_ids,
            users_not_in_report,
            ..
        } => {
            let mut line = match generated {
                Some(g) => format!(
                    "keys from the IAM credential report generated {} ({} before this run)",
                    g.format("%Y-%m-%d %H:%M UTC"),
                    ago(now, *g)
                ),
                None => "keys from the IAM credential report (undated)".into(),
            };
            if *stale {
                line.push_str(
                    ", older than the 4 hours after which IAM makes a new one: keys created, deleted or used \
                     since are not in it",
                );
            } else {
                line.push_str(": keys created, deleted or used since are not in it");
            }
            if *users_not_in_report > 0 {
                line.push_str(&format!(
                    "; {users_not_in_report} SMTP user(s) newer than the report read user by user"
                ));
            }
            if !key_ids {
                line.push_str("; key ids not read (--key-ids reads them, `sesctl list` shows them)");
            }
            line
        }
        KeySource::PerUser { .. } => "keys read user by user (no credential report)".into(),
    };
    format!("{smtp} SMTP users among {scanned} IAM users; {from}.")
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_text(f, false)
    }
}

/// The text report with its severities in colour (for a terminal).
pub struct Coloured<'a>(pub &'a AuditReport);

impl fmt::Display for Coloured<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write_text(f, true)
    }
}

/// A severity padded to its column, in its colour when `color`.
fn severity_cell(severity: Severity, color: bool) -> String {
    use crate::output::{paint, Paint};
    let colour = match severity {
        Severity::Error => Paint::Red,
        Severity::Warning => Paint::Yellow,
        Severity::Info => Paint::Cyan,
    };
    paint(&format!("{severity:<7}"), colour, color)
}

impl AuditReport {
    fn write_text(&self, f: &mut fmt::Formatter<'_>, color: bool) -> fmt::Result {
        let Some(accounts) = &self.accounts else {
            let users: Vec<&AuditedUser> = self.users.iter().collect();
            return write_section(
                f,
                &users,
                self.key_source.as_ref(),
                self.users_scanned,
                self.generated_at,
                color,
            );
        };
        for a in accounts {
            writeln!(f, "{}", account_heading(a))?;
            if let Some(e) = &a.error {
                write!(f, "{}", wrap(&format!("FAILED: {e}"), "", LINE_WIDTH))?;
            } else {
                let users: Vec<&AuditedUser> = self
                    .users
                    .iter()
                    .filter(|u| u.user.account_id.as_deref() == Some(a.account_id.as_str()))
                    .collect();
                write_section(
                    f,
                    &users,
                    a.key_source.as_ref(),
                    a.users_scanned.unwrap_or_default(),
                    self.generated_at,
                    color,
                )?;
            }
            writeln!(f)?;
        }
        writeln!(f, "{}", accounts_line(accounts))
    }
}

/// The heading of one account's part of a text report.
pub fn account_heading(a: &AccountEntry) -> String {
    format!("== account {} ==", a.account_id)
}

/// The last line of an `--accounts` text report.
pub fn accounts_line(accounts: &[AccountEntry]) -> String {
    let failed = accounts.iter().filter(|a| a.failed()).count();
    format!(
        "{} account(s): {} ok, {failed} failed.",
        accounts.len(),
        accounts.len() - failed
    )
}

/// One account's users as text: their table, where the keys came from, unreadable users, findings.
fn write_section(
    f: &mut fmt::Formatter<'_>,
    users: &[&AuditedUser],
    key_source: Option<&KeySource>,
    users_scanned: usize,
    now: DateTime<Utc>,
    color: bool,
) -> fmt::Result {
    f.write_str(&user_table(users.iter().map(|u| &u.user)))?;
    writeln!(f)?;
    if let Some(source) = key_source {
        let line = source_line(source, users_scanned, users.len(), now);
        write!(f, "{}", wrap(&line, "", LINE_WIDTH))?;
    }
    for u in users.iter().filter(|u| u.user.error.is_some()) {
        let e = u.user.error.as_deref().unwrap_or_default();
        write!(
            f,
            "{}",
            wrap(
                &format!("could not read {}: {e}", u.user.user_name),
                "",
                LINE_WIDTH
            )
        )?;
    }
    let mut all: Vec<&Finding> = users.iter().flat_map(|u| u.findings.iter()).collect();
    if all.is_empty() {
        return writeln!(f, "No findings.");
    }
    let count = |s: Severity| all.iter().filter(|x| x.severity == s).count();
    writeln!(
        f,
        "Findings: {} error(s), {} warning(s), {} info (see docs/audit.md):",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    )?;
    all.sort_by_key(|f| std::cmp::Reverse(f.severity));
    for x in all {
        let key = match (&x.access_key_id, x.key_slot) {
            (Some(id), _) => id.clone(),
            (None, Some(slot)) => format!("key {slot}"),
            (None, None) => String::new(),
        };
        let head = format!(
            "{}  {:<21}  {}  {}",
            severity_cell(x.severity, color),
            x.id,
            clip(&x.user_name, 64),
            key
        );
        writeln!(f, "{}", head.trim_end())?;
        write!(f, "{}", wrap(&x.message, "         ", LINE_WIDTH))?;
        write!(f, "{}", wrap(&format!("fix: {}", x.fix), "         ", LINE_WIDTH))?;
    }
    Ok(())
}

/// CSV: one row per key (a user without keys gets one row), with the row's findings by id; with
/// `with_account` (an `--accounts` run) an `account_id` column comes first.
pub fn write_csv(
    out: impl std::io::Write,
    users: &[(&SmtpUser, Option<&[Finding]>)],
    with_account: bool,
) -> anyhow::Result<()> {
    let with_findings = users.iter().any(|(_, f)| f.is_some());
    let mut w = csv::Writer::from_writer(out);
    let mut header = if with_account {
        vec!["account_id"]
    } else {
        Vec::new()
    };
    header.extend([
        "user_name",
        "arn",
        "reasons",
        "sending_permission",
        "key_slot",
        "access_key_id",
        "status",
        "created",
        "last_used",
        "last_used_service",
        "last_used_region",
    ]);
    if with_findings {
        header.push("findings");
    }
    header.push("error");
    w.write_record(&header)?;
    for (u, findings) in users {
        let ids = |slot: Option<u8>| -> String {
            findings
                .unwrap_or_default()
                .iter()
                .filter(|f| f.key_slot.is_none() || f.key_slot == slot)
                .map(|f| f.id)
                .collect::<Vec<_>>()
                .join(";")
        };
        let base = |cells: [String; 7], slot: Option<u8>| {
            let mut row = Vec::new();
            if with_account {
                row.push(u.account_id.clone().unwrap_or_default());
            }
            row.extend([
                u.user_name.clone(),
                u.arn.clone(),
                reasons(u, ";"),
                u.sending_permission.to_string(),
            ]);
            row.extend(cells);
            if with_findings {
                row.push(ids(slot));
            }
            row.push(u.error.clone().unwrap_or_default());
            row
        };
        if u.keys.is_empty() {
            w.write_record(neutralised(base(Default::default(), None)))?;
        }
        for k in &u.keys {
            let cells = [
                k.slot.to_string(),
                k.access_key_id.clone().unwrap_or_default(),
                k.status.to_string(),
                k.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                k.last_used
                    .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default(),
                k.last_used_service.clone().unwrap_or_default(),
                k.last_used_region.clone().unwrap_or_default(),
            ];
            w.write_record(neutralised(base(cells, Some(k.slot))))?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Cells a spreadsheet would take for a formula (starting `=`, `+`, `-`, `@`, a tab or a carriage
/// return; IAM user names may start with `=`, `+`, `-` or `@`) get a leading `'`, as OWASP advises for
/// CSV injection; the text after it is the value as it was. A report is for people and spreadsheets;
/// the console's credential CSV, which programs read by value, is written exactly.
fn neutralised(row: Vec<String>) -> Vec<String> {
    row.into_iter()
        .map(|cell| match cell.chars().next() {
            Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
            _ => cell,
        })
        .collect()
}

/// A progress bar on stderr when someone watches, hidden otherwise.
pub fn progress_bar(ctx: &Context) -> crate::output::Bar {
    if !ctx.printer.show_progress() {
        return crate::output::Bar(indicatif::ProgressBar::hidden());
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {pos}/{len} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    crate::output::Bar(bar)
}

/// Reads the inventory, telling the operator on stderr when the credential report could not be used,
/// is stale, or is an old one read because a new one could not be asked for.
pub async fn read(
    ctx: &Context,
    concurrency: u16,
    report_wait: u64,
    key_ids: bool,
) -> anyhow::Result<Inventory> {
    let settings = read_settings(concurrency, report_wait, key_ids);
    let bar = progress_bar(ctx);
    let inventory = workflow::read_inventory(&ctx.aws().await?.iam(), &settings, &bar).await?;
    warn_key_source(ctx, &inventory.key_source, "");
    Ok(inventory)
}

fn read_settings(concurrency: u16, report_wait: u64, key_ids: bool) -> ReadSettings {
    ReadSettings {
        concurrency: usize::from(concurrency),
        page_size: Some(PAGE_SIZE),
        report_wait: Duration::from_secs(report_wait),
        key_ids,
    }
}

/// Reads the inventory of every account `--accounts` selects (see [`accounts::run_each`]); the
/// warnings [`read`] gives name their account.
pub async fn read_accounts(
    ctx: &Context,
    selection: &Selection,
    command: &str,
    concurrency: u16,
    report_wait: u64,
    key_ids: bool,
) -> anyhow::Result<AccountsInventory> {
    let settings = read_settings(concurrency, report_wait, key_ids);
    let settings = &settings;
    let results = accounts::run_each(ctx, selection, command, |id: String, aws: Aws| async move {
        let inventory = workflow::read_inventory(&aws.iam(), settings, &crate::workflows::NoProgress).await?;
        warn_key_source(ctx, &inventory.key_source, &format!("account {id}: "));
        Ok(inventory)
    })
    .await?;
    Ok(AccountsInventory::from_results(results))
}

/// Tells the operator on stderr when the credential report could not be used or is stale.
fn warn_key_source(ctx: &Context, source: &KeySource, prefix: &str) {
    match source {
        KeySource::PerUser { reason } => ctx.printer.warn(format!(
            "{prefix}the IAM credential report could not be used ({reason}); read each SMTP user's keys with \
             iam:ListAccessKeys and iam:GetAccessKeyLastUsed instead"
        )),
        KeySource::CredentialReport {
            generated,
            stale,
            note,
            ..
        } => {
            if let Some(note) = note {
                ctx.printer.warn(format!("{prefix}{note}"));
            }
            if *stale {
                let when = generated.map_or("at an unknown time".to_string(), |g| {
                    format!("{} ago", ago(Utc::now(), g))
                });
                ctx.printer.warn(format!(
                    "{prefix}the IAM credential report was generated {when}, more than the 4 hours after which IAM \
                     makes a new one: keys created, deleted or used since are not in it (`sesctl list` reads \
                     every key)"
                ));
            }
        }
    }
}

pub async fn exec(ctx: &Context, args: AuditArgs) -> anyhow::Result<Outcome> {
    let rules = Rules {
        max_key_age_days: args.max_key_age,
        unused_days: args.unused_days,
        now: Utc::now(),
    };
    let report = match ctx.accounts()? {
        None => AuditReport::build(
            read(ctx, args.concurrency, args.report_wait, args.key_ids).await?,
            &rules,
        ),
        Some(selection) => {
            let inventory = read_accounts(
                ctx,
                &selection,
                "audit",
                args.concurrency,
                args.report_wait,
                args.key_ids,
            )
            .await?;
            AuditReport::build_accounts(inventory, &rules)
        }
    };
    match ctx.printer.format {
        OutputFormat::Csv => {
            let rows: Vec<(&SmtpUser, Option<&[Finding]>)> = report
                .users
                .iter()
                .map(|u| (&u.user, Some(u.findings.as_slice())))
                .collect();
            write_csv(std::io::stdout().lock(), &rows, report.accounts.is_some())?;
        }
        OutputFormat::Text if ctx.printer.color => ctx.printer.text(&Coloured(&report))?,
        _ => ctx.printer.result(&report)?,
    }
    let outcome = report.outcome(args.fail_on);
    if report.summary.unreadable_users > 0 {
        ctx.printer.warn(format!(
            "the keys of {} user(s) could not be read; the audit is incomplete",
            report.summary.unreadable_users
        ));
    }
    if report.failed_accounts() > 0 {
        ctx.printer.warn(format!(
            "{} account(s) could not be audited (named above); the audit is incomplete",
            report.failed_accounts()
        ));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::iam::KeyStatus;
    use crate::workflows::audit::Reason;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sample() -> AuditReport {
        let long = "ses-smtp-user.20190101-000000-with-a-very-long-name-for-the-application-x".to_string();
        let user = SmtpUser {
            account_id: None,
            user_name: long,
            arn: "arn:aws:iam::123456789012:user/x".into(),
            created: at("2018-01-01T00:00:00Z"),
            reasons: vec![
                Reason::SendingGroup,
                Reason::InlineSendingPolicy,
                Reason::ConsoleTag,
                Reason::AttachedPolicy {
                    policy: "a-policy-with-a-long-name-too".into(),
                },
            ],
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
        let inventory = Inventory {
            users_scanned: 2000,
            key_source: KeySource::CredentialReport {
                generated: Some(at("2025-06-01T00:00:00Z")),
                stale: false,
                key_ids: false,
                users_not_in_report: 0,
                note: None,
            },
            users: vec![user],
        };
        let rules = Rules {
            max_key_age_days: 90,
            unused_days: 45,
            now: at("2025-06-01T00:00:00Z"),
        };
        AuditReport::build(inventory, &rules)
    }

    #[test]
    fn text_fits_120_columns() {
        let text = sample().to_string();
        for line in text.lines() {
            assert!(
                line.chars().count() <= LINE_WIDTH,
                "{} chars: {line}",
                line.chars().count()
            );
        }
        assert!(text.contains("legacy-v2-key"), "{text}");
        assert!(
            text.contains("key 2"),
            "a key without its id is named by slot: {text}"
        );
        assert!(text.contains("fix: sesctl rotate"), "{text}");
    }

    #[test]
    fn summary_and_exit_outcome() {
        let r = sample();
        assert_eq!(r.summary.errors, 1); // legacy
        assert_eq!(r.summary.warnings, 3); // inline, too old, never used
        assert_eq!(r.summary.info, 1); // inactive
        assert_eq!(r.worst(), Some(Severity::Error));
        assert_eq!(r.outcome(None), Outcome::Done);
        assert_eq!(r.outcome(Some(FailOn::Error)), Outcome::Findings);
        assert_eq!(r.outcome(Some(FailOn::Warning)), Outcome::Findings);
    }

    #[test]
    fn csv_has_a_row_per_key_with_its_findings() {
        let r = sample();
        let rows: Vec<_> = r
            .users
            .iter()
            .map(|u| (&u.user, Some(u.findings.as_slice())))
            .collect();
        let mut out = Vec::new();
        write_csv(&mut out, &rows, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].ends_with("last_used_region,findings,error"));
        assert!(lines[0].contains(",sending_permission,key_slot,access_key_id,"));
        assert!(lines[1].contains(",1,AKIAIOSFODNN7EXAMPLE,"), "{}", lines[1]);
        // The second key's id was not read: its slot names it.
        assert!(lines[2].contains(",true,2,,Inactive,"), "{}", lines[2]);
        assert!(
            lines[1].contains("inline-policy;legacy-v2-key;key-too-old;key-never-used"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains("inline-policy;inactive-key"), "{}", lines[2]);
        assert!(
            lines[2].contains(",group;inline;tag;policy:a-policy-with-a-long-name-too,true,"),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn wrap_keeps_lines_short() {
        let w = wrap(&"word ".repeat(60), "    ", 40);
        assert!(w.lines().all(|l| l.chars().count() <= 40), "{w}");
        let w = wrap(&"x".repeat(100), "  ", 30);
        assert!(w.lines().all(|l| l.chars().count() <= 30), "{w}");
    }
}
