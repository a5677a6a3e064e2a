//! `sesctl setup`: idempotently make the sending group ready (in each account with `--accounts`).

use std::fmt;

use serde::Serialize;

use super::accounts::{self, Status};
use super::Context;
use crate::aws::Aws;
use crate::error::Outcome;
use crate::output::plan::{self, PlanText};
use crate::output::setup::{error, render, SetupText};
use crate::output::{account_heading, accounts_line};
use crate::workflows::setup::{self, SetupError, SetupReport, SetupState};
use crate::workflows::Plan;

/// Reads the group's state in one account; a failed read changes nothing.
async fn inspect(aws: &Aws) -> anyhow::Result<SetupState> {
    let iam = aws.iam();
    let caller = aws.caller().await.map_err(|e| error(SetupError::Aws(e)))?;
    setup::inspect(&iam, &caller).await.map_err(error)
}

pub async fn exec(ctx: &Context) -> anyhow::Result<Outcome> {
    if let Some(selection) = ctx.accounts()? {
        return exec_accounts(ctx, &selection).await;
    }
    let aws = ctx.aws().await?;
    let state = inspect(aws).await?;
    let steps = state.steps();
    if ctx.global.dry_run {
        ctx.printer.result(&PlanText(&state.plan_for(&steps)))?;
        return Ok(Outcome::Done);
    }
    let report = setup::run(&aws.iam(), &state, &steps).await.map_err(error)?;
    ctx.printer.result(&SetupText(&report))?;
    Ok(Outcome::Done)
}

/// One account of `setup --accounts`.
#[derive(Debug, Serialize)]
pub struct AccountSetup {
    pub account_id: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `--dry-run`: the calls that would make the group ready.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "plan::serialize_option"
    )]
    pub plan: Option<Plan>,
    /// What was done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<SetupReport>,
}

/// What `setup --accounts` prints.
#[derive(Debug, Serialize)]
pub struct AccountsSetupReport {
    pub accounts: Vec<AccountSetup>,
}

impl fmt::Display for AccountsSetupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in &self.accounts {
            writeln!(f, "{}", account_heading(&a.account_id))?;
            if let Some(e) = &a.error {
                writeln!(f, "FAILED: {e}")?;
            }
            if let Some(p) = &a.plan {
                f.write_str(&plan::render(p))?;
            }
            if let Some(r) = &a.setup {
                f.write_str(&render(r))?;
            }
            writeln!(f)?;
        }
        let failed = self
            .accounts
            .iter()
            .filter(|a| a.status == Status::Failed)
            .count();
        writeln!(f, "{}", accounts_line(self.accounts.len(), failed))
    }
}

enum Done {
    Planned(Plan),
    Applied(SetupReport),
}

async fn exec_accounts(ctx: &Context, selection: &accounts::Selection) -> anyhow::Result<Outcome> {
    let dry_run = ctx.global.dry_run;
    let results = accounts::run_each(ctx, selection, "setup", |_id: String, aws: Aws| async move {
        let state = inspect(&aws).await?;
        let steps = state.steps();
        if dry_run {
            return Ok(Done::Planned(state.plan_for(&steps)));
        }
        Ok(Done::Applied(
            setup::run(&aws.iam(), &state, &steps).await.map_err(error)?,
        ))
    })
    .await?;
    let report = AccountsSetupReport {
        accounts: results
            .into_iter()
            .map(|r| {
                let (status, error, plan, setup) = match r.result {
                    Ok(Done::Planned(p)) => (Status::Ok, None, Some(p), None),
                    Ok(Done::Applied(s)) => (Status::Ok, None, None, Some(s)),
                    Err(e) => (Status::Failed, Some(e), None, None),
                };
                AccountSetup {
                    account_id: r.account_id,
                    status,
                    error,
                    plan,
                    setup,
                }
            })
            .collect(),
    };
    let failed = report
        .accounts
        .iter()
        .filter(|a| a.status == Status::Failed)
        .count();
    super::report_done(ctx, &report)?;
    if failed > 0 {
        ctx.printer.warn(format!(
            "{failed} account(s) could not be set up (named above); run again for them"
        ));
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Done)
}
