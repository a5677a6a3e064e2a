//! `sesctl audit`: the account's SMTP users with findings (in several accounts with `--accounts`). The
//! reading, judging and report are `workflows::audit`'s; the text and CSV are `output::audit`'s.
//!
//! The JSON document (`-o json`) is versioned by `schema_version` and documented in docs/audit.md.

use std::time::Duration;

use chrono::Utc;

use super::accounts;
use super::Context;
use crate::cli::{AuditArgs, FailOn, OutputFormat};
use crate::error::Outcome;
use crate::output::audit::{audit_csv, error, warn_key_source, AuditText};
use crate::workflows::audit::report::{self, AuditReport, Verdict};
use crate::workflows::audit::{ReadSettings, Rules, Severity};

/// The `accounts` array's entry (now built in the core), still reachable at its former path.
pub use crate::workflows::audit::report::AccountEntry;

pub async fn exec(ctx: &Context, args: AuditArgs) -> anyhow::Result<Outcome> {
    let settings = ReadSettings::new(
        usize::from(args.concurrency),
        Duration::from_secs(args.report_wait),
        args.key_ids,
    );
    let rules = Rules {
        max_key_age_days: args.max_key_age,
        unused_days: args.unused_days,
        now: Utc::now(),
    };
    let report = match ctx.accounts()? {
        None => {
            let bar = ctx.printer.progress_bar();
            let report = report::audit(&ctx.aws().await?.iam(), &settings, &rules, &bar)
                .await
                .map_err(error)?;
            if let Some(source) = &report.key_source {
                warn_key_source(&ctx.printer, source, "");
            }
            report
        }
        Some(selection) => AuditReport::build_accounts(
            accounts::read_inventories(ctx, &selection, "audit", &settings).await?,
            &rules,
        ),
    };
    match ctx.printer.format {
        OutputFormat::Csv => audit_csv(std::io::stdout().lock(), &report)?,
        OutputFormat::Json => ctx.printer.json(&report)?,
        OutputFormat::Text => ctx.printer.text(&AuditText {
            report: &report,
            color: ctx.printer.color,
        })?,
    }
    let outcome = match report.verdict(args.fail_on.map(threshold)) {
        Verdict::Clean => Outcome::Done,
        Verdict::Incomplete => Outcome::Failed,
        Verdict::Findings => Outcome::Findings,
    };
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

/// The least serious finding `--fail-on` exits 3 for.
fn threshold(fail_on: FailOn) -> Severity {
    match fail_on {
        FailOn::Warning => Severity::Warning,
        FailOn::Error => Severity::Error,
    }
}
