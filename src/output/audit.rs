//! `audit`'s report as text (with its severities in colour on a terminal) and CSV, and what `audit` and
//! `list` share, since they show the same inventory: the table of users and keys, the line that says
//! where the keys came from, the account headings of an `--accounts` run, and the CSV rows; and the
//! error of a read that failed for the whole account, as both commands report it.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{account_heading, accounts_line, clip, paint, wrap, Paint, Printer, LINE_WIDTH};
use crate::workflows::audit::report::{AccountEntry, AuditReport, AuditedUser};
use crate::workflows::audit::{AuditError, Finding, Key, KeySource, Severity, SmtpUser};

/// Widest a cell of each column may be, so a row stays within 120 columns.
const WIDTHS: [usize; 6] = [32, 24, 20, 8, 10, 10];

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
    super::table(
        &["USER", "WHY", "ACCESS KEY", "STATUS", "CREATED", "LAST USED"],
        &rows,
    )
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

/// Tells the operator on stderr when the credential report could not be used, is stale, or is an old
/// one read because a new one could not be asked for. `prefix` names the account in an `--accounts`
/// run.
pub fn warn_key_source(printer: &Printer, source: &KeySource, prefix: &str) {
    match source {
        KeySource::PerUser { reason } => printer.warn(format!(
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
                printer.warn(format!("{prefix}{note}"));
            }
            if *stale {
                let when = generated.map_or("at an unknown time".to_string(), |g| {
                    format!("{} ago", ago(Utc::now(), g))
                });
                printer.warn(format!(
                    "{prefix}the IAM credential report was generated {when}, more than the 4 hours after which IAM \
                     makes a new one: keys created, deleted or used since are not in it (`sesctl list` reads \
                     every key)"
                ));
            }
        }
    }
}

/// A read of the account that failed, as `audit` and `list` report it (exit 1; with `--accounts`, the
/// account's `error`): the AWS error alone, which names the API action that failed and, when it was
/// denied, the permission it needs. Both commands only read, so there is no aftermath to describe.
pub fn error(err: AuditError) -> anyhow::Error {
    anyhow::Error::new(err.into_aws())
}

/// `audit`'s text report, with its severities in colour when `color` (for a terminal).
pub struct AuditText<'a> {
    pub report: &'a AuditReport,
    pub color: bool,
}

impl fmt::Display for AuditText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.report;
        write_by_account(
            f,
            &report.users,
            |u| u.user.account_id.as_deref(),
            report.accounts.as_deref(),
            (report.key_source.as_ref(), report.users_scanned),
            |f, users, source, scanned| {
                write_section(f, users, source, scanned, report.generated_at, self.color)
            },
        )
    }
}

/// A report whose users may come from several accounts, as text: without `accounts`, one `section`
/// of every user (with `whole`'s key source and users scanned); with them, each account under its
/// heading (why it failed, or the `section` of its users), then the line counting the accounts.
pub fn write_by_account<'a, U>(
    f: &mut fmt::Formatter<'_>,
    users: &'a [U],
    account_of: impl Fn(&U) -> Option<&str>,
    accounts: Option<&[AccountEntry]>,
    whole: (Option<&KeySource>, usize),
    section: impl Fn(&mut fmt::Formatter<'_>, &[&'a U], Option<&KeySource>, usize) -> fmt::Result,
) -> fmt::Result {
    let Some(accounts) = accounts else {
        let users: Vec<&U> = users.iter().collect();
        return section(f, &users, whole.0, whole.1);
    };
    for a in accounts {
        writeln!(f, "{}", account_heading(&a.account_id))?;
        if let Some(e) = &a.error {
            write!(f, "{}", wrap(&format!("FAILED: {e}"), "", LINE_WIDTH))?;
        } else {
            let mine: Vec<&U> = users
                .iter()
                .filter(|u| account_of(u) == Some(a.account_id.as_str()))
                .collect();
            section(
                f,
                &mine,
                a.key_source.as_ref(),
                a.users_scanned.unwrap_or_default(),
            )?;
        }
        writeln!(f)?;
    }
    let failed = accounts.iter().filter(|a| a.failed()).count();
    writeln!(f, "{}", accounts_line(accounts.len(), failed))
}

/// A severity padded to its column, in its colour when `color`.
fn severity_cell(severity: Severity, color: bool) -> String {
    let colour = match severity {
        Severity::Error => Paint::Red,
        Severity::Warning => Paint::Yellow,
        Severity::Info => Paint::Cyan,
    };
    paint(&format!("{severity:<7}"), colour, color)
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

/// `audit`'s report as CSV (see [`write_csv`]), with each row's findings.
pub fn audit_csv(out: impl std::io::Write, report: &AuditReport) -> anyhow::Result<()> {
    let rows: Vec<(&SmtpUser, Option<&[Finding]>)> = report
        .users
        .iter()
        .map(|u| (&u.user, Some(u.findings.as_slice())))
        .collect();
    write_csv(out, &rows, report.accounts.is_some())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AwsError, ErrorKind};

    #[test]
    fn a_failed_read_is_reported_as_the_aws_error() {
        let aws = AwsError {
            kind: ErrorKind::AccessDenied,
            action: "iam:GetAccountAuthorizationDetails",
            code: Some("AccessDenied".into()),
            message: "no".into(),
        };
        let e = error(AuditError::ReadUsers(aws.clone()));
        assert_eq!(crate::error::exit_code_for(&e), 1);
        assert_eq!(
            crate::error::render(&e, false),
            "sesctl: error: iam:GetAccountAuthorizationDetails was denied (AccessDenied): no; the caller \
             needs permission for iam:GetAccountAuthorizationDetails"
        );
        assert_eq!(format!("{e:#}"), aws.to_string());
        let e = error(AuditError::ReadPolicy {
            arn: "arn:aws:iam::1:policy/send".into(),
            error: aws.clone(),
        });
        assert_eq!(e.chain().count(), 1);
        assert_eq!(e.to_string(), aws.to_string());
    }
    use crate::aws::iam::KeyStatus;
    use crate::workflows::audit::{Inventory, Reason, Rules};

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
        let r = sample();
        let text = AuditText {
            report: &r,
            color: false,
        }
        .to_string();
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
        let coloured = AuditText {
            report: &r,
            color: true,
        }
        .to_string();
        assert!(coloured.contains("\x1b[1;31merror  \x1b[0m"), "{coloured}");
    }

    #[test]
    fn csv_has_a_row_per_key_with_its_findings() {
        let r = sample();
        let mut out = Vec::new();
        audit_csv(&mut out, &r).unwrap();
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
}
