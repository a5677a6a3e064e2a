//! The text of `migrate-inline-policy`'s report: a table of users with their status and the steps
//! done, the differences of edited policies, and the totals; with `--accounts`, each account's part
//! under its heading. And the error of a run that stopped before changing any user.

use std::fmt;

use super::{account_heading, accounts_line};
use crate::commands::migrate_inline_policy::AccountsMigrationReport;
use crate::workflows::migrate::{MigrateError, MigrationReport, Totals, TAG_KEY, TAG_VALUE};
use crate::workflows::setup::POLICY;
use sesctl_core::text::table;

/// A run that stopped before changing any user, as the command reports it (exit 1; with `--accounts`,
/// the account's `error`): in the core's words, which say that nothing (or no user) was changed, with
/// the AWS or setup error as the cause. Running the same command again starts over, so there is no
/// flag to name.
pub fn error(err: MigrateError) -> anyhow::Error {
    anyhow::Error::new(err)
}

/// A migration report as text.
pub struct MigrationText<'a>(pub &'a MigrationReport);

fn short(action: &str) -> &str {
    action.strip_prefix("iam:").unwrap_or(action)
}

impl fmt::Display for MigrationText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        if report.dry_run {
            writeln!(
                f,
                "Plan for `sesctl migrate-inline-policy` (dry run: nothing is changed):"
            )?;
        }
        write_body(f, report)?;
        write_totals(f, &report.totals, report.dry_run)
    }
}

/// The setup calls, the users' table and the differences of edited policies.
fn write_body(f: &mut fmt::Formatter<'_>, report: &MigrationReport) -> fmt::Result {
    if !report.setup.is_empty() {
        let verb = if report.dry_run { "would run" } else { "ran" };
        writeln!(f, "Setup {verb} first:")?;
        for c in &report.setup {
            writeln!(f, "  {:<26} {}", c.action, c.target)?;
        }
    }
    if report.users.is_empty() {
        return writeln!(
            f,
            "No user has the inline policy {POLICY} or the tag {TAG_KEY}={TAG_VALUE}: nothing to migrate."
        );
    }
    let header = if report.dry_run {
        ["USER", "STATUS", "STEPS", "ERROR / NOTE"]
    } else {
        ["USER", "STATUS", "STEPS DONE", "ERROR / NOTE"]
    };
    let with_detail = report.users.iter().any(|u| u.error.is_some() || u.note.is_some());
    let columns = if with_detail { 4 } else { 3 };
    let rows: Vec<Vec<String>> = report
        .users
        .iter()
        .map(|u| {
            let steps = if u.steps_done.is_empty() {
                "-".to_string()
            } else {
                u.steps_done
                    .iter()
                    .map(|s| short(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let detail = u.error.clone().or_else(|| u.note.clone()).unwrap_or_default();
            let mut row = vec![u.user.clone(), u.status.label().to_string(), steps, detail];
            row.truncate(columns);
            row
        })
        .collect();
    f.write_str(&table(&header[..columns], &rows))?;
    for u in report.users.iter().filter(|u| !u.differences.is_empty()) {
        writeln!(
            f,
            "{}: inline policy {POLICY} differs from ses:SendRawEmail on *:",
            u.user
        )?;
        for d in &u.differences {
            writeln!(f, "  - {d}")?;
        }
    }
    Ok(())
}

/// The totals line.
fn write_totals(f: &mut fmt::Formatter<'_>, t: &Totals, dry_run: bool) -> fmt::Result {
    let mut parts = Vec::new();
    if dry_run {
        parts.push(format!("{} would migrate", t.would_migrate));
    } else {
        parts.push(format!("{} migrated", t.migrated));
        parts.push(format!("{} finished", t.finished));
    }
    parts.push(format!("{} already migrated", t.already_migrated));
    parts.push(format!("{} need a decision", t.needs_decision));
    for (n, what) in [(t.skipped, "skipped"), (t.not_found, "not found")] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.push(format!("{} failed", t.failed));
    writeln!(f, "Totals: {} users: {}.", t.users, parts.join(", "))
}

impl fmt::Display for AccountsMigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(
                f,
                "Plan for `sesctl migrate-inline-policy --accounts` (dry run: nothing is changed):"
            )?;
        }
        for a in &self.accounts {
            writeln!(f, "{}", account_heading(&a.account_id))?;
            match &a.error {
                Some(e) => writeln!(f, "FAILED: {e}")?,
                None => {
                    let part = self.account_report(a);
                    write_body(f, &part)?;
                    write_totals(f, &part.totals, self.dry_run)?;
                }
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "{}",
            accounts_line(self.accounts.len(), self.failed_accounts())
        )?;
        write_totals(f, &self.totals, self.dry_run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AwsError, ErrorKind};
    use crate::workflows::migrate::{Status, UserOutcome};
    use crate::workflows::setup::SetupError;

    fn denied(action: &'static str) -> AwsError {
        AwsError {
            kind: ErrorKind::AccessDenied,
            action,
            code: Some("AccessDenied".into()),
            message: "no".into(),
        }
    }

    #[test]
    fn a_stopped_run_says_what_failed_and_that_no_user_was_changed() {
        let e = error(MigrateError::FindUsers(denied(
            "iam:GetAccountAuthorizationDetails",
        )));
        assert_eq!(crate::error::exit_code_for(&e), 1);
        assert_eq!(
            crate::error::render(&e, false),
            "sesctl: error: finding the users to migrate failed; nothing was changed: \
             iam:GetAccountAuthorizationDetails was denied (AccessDenied): no; the caller needs permission \
             for iam:GetAccountAuthorizationDetails"
        );
        let e = error(MigrateError::CheckGroup(SetupError::Aws(denied(
            "sts:GetCallerIdentity",
        ))));
        assert_eq!(
            format!("{e:#}"),
            "checking the sending group failed; no user was changed: sts:GetCallerIdentity was denied \
             (AccessDenied): no; the caller needs permission for sts:GetCallerIdentity"
        );
        let e = error(MigrateError::PrepareGroup(SetupError::Unfinished {
            error: denied("iam:CreateGroup"),
            changes: Vec::new(),
        }));
        assert_eq!(
            crate::error::render(&e, true),
            "sesctl: error: making the sending group ready failed; no user was changed\n  caused by: the \
             sending group AWSSESSendingGroupDoNotRename is not ready (nothing was changed); run the command \
             again once the cause is fixed\n  caused by: iam:CreateGroup was denied (AccessDenied): no; the \
             caller needs permission for iam:CreateGroup"
        );
    }

    fn user(name: &str, status: Status) -> UserOutcome {
        UserOutcome {
            user: name.into(),
            status,
            steps_done: Vec::new(),
            error: None,
            note: None,
            differences: Vec::new(),
        }
    }

    #[test]
    fn the_report_renders_its_users_differences_and_totals() {
        let users = vec![
            UserOutcome {
                steps_done: vec!["iam:AddUserToGroup".into()],
                error: Some("boom".into()),
                ..user("a", Status::Failed)
            },
            user("b", Status::Migrated),
            UserOutcome {
                differences: vec!["statement 1 has a Condition".into()],
                ..user("c", Status::NeedsDecision)
            },
        ];
        let text = MigrationText(&MigrationReport::new(false, Vec::new(), users)).to_string();
        assert!(text.contains("a     FAILED"), "{text}");
        assert!(
            text.contains("AddUserToGroup") && !text.contains("iam:AddUserToGroup"),
            "{text}"
        );
        assert!(text.contains("  - statement 1 has a Condition"), "{text}");
        assert!(
            text.ends_with(
                "Totals: 3 users: 1 migrated, 0 finished, 0 already migrated, 1 need a decision, 1 failed.\n"
            ),
            "{text}"
        );
    }
}
