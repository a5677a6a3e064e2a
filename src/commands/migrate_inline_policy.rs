//! `sesctl migrate-inline-policy [USER_NAME...] [--all]`: move pre-September-2024 SMTP users from
//! their inline policy onto the sending group, in one account or (`--all --accounts`) in every
//! account of an AWS Organization that is named. Settings and output here; the work is in
//! [`crate::workflows::migrate`], after one run of [`crate::workflows::setup`] in each account.

use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::accounts::{self, Selection, Status as AccountStatus};
use super::Context;
use crate::aws::Aws;
use crate::cli::{MigrateArgs, OutputFormat};
use crate::error::{escape_controls, Outcome};
use crate::output::migrate::{error, MigrationText};
use crate::workflows::migrate::{self, MigrationReport, Totals, UserOutcome};
use crate::workflows::setup;
use crate::workflows::PlannedCall;

pub async fn exec(ctx: &Context, args: MigrateArgs) -> anyhow::Result<Outcome> {
    if let Some(selection) = ctx.accounts()? {
        return exec_accounts(ctx, &args, &selection).await;
    }
    let names = user_names(&args.users)?;
    let concurrency = usize::from(args.concurrency);
    let aws = ctx.aws().await?;
    let plan = migrate::plan(aws, args.all, &names, concurrency)
        .await
        .map_err(error)?;
    let setup_calls = plan.setup_calls();

    if ctx.global.dry_run {
        return finish(ctx, MigrationReport::new(true, setup_calls, plan.planned()));
    }

    if args.all && plan.users_with_work() > 0 {
        let question = format!(
            "Migrate {} user(s) onto group {} and delete their inline policy {}?",
            plan.users_with_work(),
            setup::GROUP,
            setup::POLICY
        );
        if !ctx.confirm(&question)? {
            ctx.printer.status("Cancelled; nothing was changed.");
            return Ok(Outcome::Failed);
        }
    }

    stop_if_interrupted()?;
    migrate::prepare(aws, &plan).await.map_err(error)?;
    if plan.users_with_work() > 0 {
        ctx.printer.status(format!(
            "Migrating {} user(s), {} at a time...",
            plan.users_with_work(),
            concurrency
        ));
    }
    let bar = progress_bar(ctx, plan.users_with_work());
    let users = migrate::run(aws, plan, concurrency, |_| bar.inc(1)).await;
    bar.finish_and_clear();
    finish(ctx, MigrationReport::new(false, setup_calls, users))
}

/// Stops a run that the operator interrupted while it was reading: nothing has been changed yet.
fn stop_if_interrupted() -> anyhow::Result<()> {
    crate::interrupt::check().map_err(|i| anyhow::anyhow!("{i} while reading the users; nothing was changed"))
}

/// The named users, checked before any AWS call; a name given twice is migrated once.
fn user_names(raw: &[String]) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(raw.len());
    for name in raw {
        crate::validate::user_name(name)?;
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    Ok(names)
}

fn progress_bar(ctx: &Context, len: usize) -> ProgressBar {
    if !ctx.printer.show_progress() || len == 0 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} users migrated ({eta} left)") {
        bar.set_style(style);
    }
    bar
}

fn finish(ctx: &Context, report: MigrationReport) -> anyhow::Result<Outcome> {
    match ctx.printer.format {
        OutputFormat::Json => ctx.printer.json(&report)?,
        _ => ctx.printer.text(&MigrationText(&report))?,
    }
    Ok(if report.has_failures() {
        Outcome::Failed
    } else {
        Outcome::Done
    })
}

/// One account of `migrate-inline-policy --accounts`.
#[derive(Debug, Serialize)]
pub struct AccountMigration {
    pub account_id: String,
    pub status: AccountStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The setup calls made in the account before its users (dry run: that would be made).
    pub setup: Vec<PlannedCall>,
}

/// A user of the report, with its account.
#[derive(Debug, Serialize)]
pub struct AccountUser {
    pub account_id: String,
    #[serde(flatten)]
    pub outcome: UserOutcome,
}

/// What `migrate-inline-policy --accounts` prints: the single-account document with `account_id` on
/// every user and an `accounts` array (each account's status and setup calls).
#[derive(Debug, Serialize)]
pub struct AccountsMigrationReport {
    pub dry_run: bool,
    pub accounts: Vec<AccountMigration>,
    pub users: Vec<AccountUser>,
    pub totals: Totals,
}

impl AccountsMigrationReport {
    fn new(dry_run: bool, accounts: Vec<AccountMigration>, users: Vec<AccountUser>) -> Self {
        let totals = MigrationReport::new(
            dry_run,
            Vec::new(),
            users.iter().map(|u| u.outcome.clone()).collect(),
        )
        .totals;
        AccountsMigrationReport {
            dry_run,
            accounts,
            users,
            totals,
        }
    }

    pub(crate) fn failed_accounts(&self) -> usize {
        self.accounts
            .iter()
            .filter(|a| a.status == AccountStatus::Failed)
            .count()
    }

    /// One account's part, as the single-account report.
    pub(crate) fn account_report(&self, account: &AccountMigration) -> MigrationReport {
        MigrationReport::new(
            self.dry_run,
            account.setup.clone(),
            self.users
                .iter()
                .filter(|u| u.account_id == account.account_id)
                .map(|u| u.outcome.clone())
                .collect(),
        )
    }
}

/// An account as read: its plan, or why it could not be entered or read.
struct AccountRead {
    account_id: String,
    read: Result<(Aws, migrate::Planned), String>,
}

/// `migrate-inline-policy --all --accounts`: every account is read and assessed first (changing
/// nothing), then, after one confirmation naming the accounts and the users, each account is migrated
/// as a single account is, `--account-concurrency` accounts at once.
async fn exec_accounts(ctx: &Context, args: &MigrateArgs, selection: &Selection) -> anyhow::Result<Outcome> {
    let concurrency = usize::from(args.concurrency);
    let results = accounts::run_each(ctx, selection, "migrate", |_id: String, aws: Aws| async move {
        let plan = migrate::plan(&aws, true, &[], concurrency).await.map_err(error)?;
        Ok((aws, plan))
    })
    .await?;
    let reads: Vec<AccountRead> = results
        .into_iter()
        .map(|r| AccountRead {
            account_id: r.account_id,
            read: r.result,
        })
        .collect();

    let with_work: Vec<(&str, usize)> = reads
        .iter()
        .filter_map(|r| match &r.read {
            Ok((_, plan)) if plan.users_with_work() > 0 => {
                Some((r.account_id.as_str(), plan.users_with_work()))
            }
            _ => None,
        })
        .collect();
    let users_with_work: usize = with_work.iter().map(|(_, n)| n).sum();

    if ctx.global.dry_run {
        let mut accounts = Vec::new();
        let mut users = Vec::new();
        for r in reads {
            match r.read {
                Ok((_, plan)) => {
                    accounts.push(ok_account(&r.account_id, plan.setup_calls()));
                    users.extend(with_account(&r.account_id, plan.planned()));
                }
                Err(e) => accounts.push(failed_account(&r.account_id, e)),
            }
        }
        return finish_accounts(ctx, AccountsMigrationReport::new(true, accounts, users));
    }

    stop_if_interrupted()?;
    if users_with_work > 0 {
        let question = format!(
            "Migrate {users_with_work} user(s) in {} account(s) ({}) onto group {} and delete their inline policy {}?",
            with_work.len(),
            name_accounts(&with_work),
            setup::GROUP,
            setup::POLICY
        );
        if !ctx.confirm(&question)? {
            ctx.printer.status("Cancelled; nothing was changed.");
            return Ok(Outcome::Failed);
        }
        ctx.printer.status(format!(
            "Migrating {users_with_work} user(s) in {} account(s), {concurrency} at a time in each...",
            with_work.len()
        ));
    }

    let bar = progress_bar(ctx, users_with_work);
    let bar = &bar;
    let done: Vec<(AccountMigration, Vec<AccountUser>)> = stream::iter(reads)
        .map(|r| async move {
            let (aws, plan) = match r.read {
                Ok(read) => read,
                Err(e) => return (failed_account(&r.account_id, e), Vec::new()),
            };
            // Once the operator asked to stop, no account with work that has not started is started.
            let has_work = plan.users_with_work() > 0 || !plan.setup_calls().is_empty();
            if let (true, Err(i)) = (has_work, crate::interrupt::check()) {
                let why = format!("{i} before this account was started; nothing in it was changed");
                return (failed_account(&r.account_id, why), Vec::new());
            }
            let setup_calls = plan.setup_calls();
            match migrate::prepare(&aws, &plan).await {
                Ok(()) => {
                    let outcomes = migrate::run(&aws, plan, concurrency, |_| bar.inc(1)).await;
                    let users = with_account(&r.account_id, outcomes).collect();
                    (ok_account(&r.account_id, setup_calls), users)
                }
                Err(e) => {
                    let e = escape_controls(&format!("{:#}", error(e)));
                    eprintln!("sesctl: error: account {} failed: {e}", r.account_id);
                    (failed_account(&r.account_id, e), Vec::new())
                }
            }
        })
        .buffered(usize::from(ctx.global.account_concurrency))
        .collect()
        .await;
    bar.finish_and_clear();

    let (accounts, users): (Vec<AccountMigration>, Vec<Vec<AccountUser>>) = done.into_iter().unzip();
    let users = users.into_iter().flatten().collect();
    finish_accounts(ctx, AccountsMigrationReport::new(false, accounts, users))
}

fn ok_account(id: &str, setup: Vec<PlannedCall>) -> AccountMigration {
    AccountMigration {
        account_id: id.to_string(),
        status: AccountStatus::Ok,
        error: None,
        setup,
    }
}

fn failed_account(id: &str, error: String) -> AccountMigration {
    AccountMigration {
        account_id: id.to_string(),
        status: AccountStatus::Failed,
        error: Some(error),
        setup: Vec::new(),
    }
}

fn with_account(id: &str, outcomes: Vec<UserOutcome>) -> impl Iterator<Item = AccountUser> + '_ {
    outcomes.into_iter().map(move |outcome| AccountUser {
        account_id: id.to_string(),
        outcome,
    })
}

/// The accounts with users to migrate and how many in each, for the confirmation: the first ten,
/// then how many more.
fn name_accounts(with_work: &[(&str, usize)]) -> String {
    const SHOWN: usize = 10;
    let mut named: Vec<String> = with_work
        .iter()
        .take(SHOWN)
        .map(|(id, n)| format!("{id}: {n}"))
        .collect();
    if with_work.len() > SHOWN {
        named.push(format!("and {} more", with_work.len() - SHOWN));
    }
    named.join(", ")
}

fn finish_accounts(ctx: &Context, report: AccountsMigrationReport) -> anyhow::Result<Outcome> {
    super::report_done(ctx, &report)?;
    let failed = report.failed_accounts();
    if failed > 0 {
        ctx.printer.warn(format!(
            "{failed} account(s) could not be migrated (named above); run again for them"
        ));
    }
    let failed_users = report.users.iter().any(|u| {
        matches!(
            u.outcome.status,
            migrate::Status::Failed | migrate::Status::NotFound
        )
    });
    Ok(if failed > 0 || failed_users {
        Outcome::Failed
    } else {
        Outcome::Done
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_names_ten_accounts_then_counts_the_rest() {
        let ids: Vec<String> = (0..12).map(|i| format!("1111111111{i:02}")).collect();
        let with_work: Vec<(&str, usize)> = ids.iter().map(|id| (id.as_str(), 2)).collect();
        let named = name_accounts(&with_work);
        assert!(named.starts_with("111111111100: 2, 111111111101: 2"), "{named}");
        assert!(named.contains("111111111109: 2"), "{named}");
        assert!(!named.contains("111111111110"), "{named}");
        assert!(named.ends_with("and 2 more"), "{named}");
        assert_eq!(name_accounts(&with_work[..1]), "111111111100: 2");
    }
}
