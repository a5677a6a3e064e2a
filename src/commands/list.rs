//! `sesctl list`: the account's SMTP users and their keys, without judging them (in several accounts
//! with `--accounts`). Reads as `audit --key-ids` does (see `workflows::audit`): every key with its id.
//! The report is `workflows::audit::report`'s; the text and CSV are `output::list`'s.

use std::time::Duration;

use chrono::Utc;

use super::accounts;
use super::Context;
use crate::cli::{ListArgs, OutputFormat};
use crate::error::Outcome;
use crate::output::audit::{error, warn_key_source};
use crate::output::list::{list_csv, ListText};
use crate::workflows::audit::report::{self, ListReport};
use crate::workflows::audit::ReadSettings;

pub async fn exec(ctx: &Context, args: ListArgs) -> anyhow::Result<Outcome> {
    // `list` always shows key ids: one iam:ListAccessKeys per SMTP user with keys.
    let settings = ReadSettings::new(
        usize::from(args.concurrency),
        Duration::from_secs(args.report_wait),
        true,
    );
    let report = match ctx.accounts()? {
        None => {
            let bar = ctx.printer.progress_bar();
            let report = report::list(&ctx.aws().await?.iam(), &settings, &bar)
                .await
                .map_err(error)?;
            if let Some(source) = &report.key_source {
                warn_key_source(&ctx.printer, source, "");
            }
            report
        }
        Some(selection) => ListReport::build_accounts(
            accounts::read_inventories(ctx, &selection, "list", &settings).await?,
            Utc::now(),
        ),
    };
    match ctx.printer.format {
        OutputFormat::Csv => list_csv(std::io::stdout().lock(), &report)?,
        OutputFormat::Json => ctx.printer.json(&report)?,
        OutputFormat::Text => ctx.printer.text(&ListText(&report))?,
    }
    if report.unreadable_users() > 0 {
        ctx.printer.warn(format!(
            "the keys of {} user(s) could not be read; the list is incomplete",
            report.unreadable_users()
        ));
    }
    if report.failed_accounts() > 0 {
        ctx.printer.warn(format!(
            "{} account(s) could not be listed (named above); the list is incomplete",
            report.failed_accounts()
        ));
    }
    Ok(if report.is_complete() {
        Outcome::Done
    } else {
        Outcome::Failed
    })
}
