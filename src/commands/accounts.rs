//! `--accounts`: running `audit`, `list`, `setup` and `migrate-inline-policy` in several accounts of an AWS Organization (see
//! docs/organizations.md). The accounts are `all` (every ACTIVE account from
//! organizations:ListAccounts) or a list of ids; the caller's own account is read with its own
//! credentials, every other one through sts:AssumeRole on `--role-name` (with `--external-id`), at most
//! `--account-concurrency` accounts at once. An account that cannot be entered or read is reported as
//! failed (and named on stderr); the others are still done.

use std::future::Future;

use futures::stream::{self, StreamExt};

use super::Context;
use crate::aws::organization::is_account_id;
use crate::aws::Aws;
use crate::error::{escape_controls, usage};
use crate::output::audit::{error, warn_key_source};
use crate::workflows::audit::report::AccountsInventory;
use crate::workflows::audit::{read_inventory, ReadSettings};
use crate::workflows::NoProgress;

/// Which accounts `--accounts` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every ACTIVE account of the organization.
    All,
    /// These accounts, in the order given, each once.
    Ids(Vec<String>),
}

/// Parses `--accounts`: `all`, or 12-digit account ids separated by commas. Anything else is a usage
/// error (exit 2), found before any AWS call.
pub fn parse(spec: &str) -> anyhow::Result<Selection> {
    if spec.trim() == "all" {
        return Ok(Selection::All);
    }
    let mut ids: Vec<String> = Vec::new();
    for part in spec.split(',') {
        let id = part.trim();
        if !is_account_id(id) {
            return Err(usage(format!(
                "--accounts: '{}' is not an AWS account id (12 digits); give `all` or ID[,ID...]",
                escape_controls(id)
            )));
        }
        if !ids.iter().any(|x| x == id) {
            ids.push(id.to_string());
        }
    }
    Ok(Selection::Ids(ids))
}

/// The status of one account in the JSON documents' `accounts` array (one type for every command).
pub use crate::workflows::audit::report::AccountStatus as Status;

/// What was done in one account.
pub struct AccountResult<T> {
    pub account_id: String,
    /// The work's result, or why the account could not be entered or read.
    pub result: Result<T, String>,
}

/// Runs `work` in every selected account, `--account-concurrency` at a time, in account order. The
/// work gets the account id and an [`Aws`] signed as that account (the caller's own credentials in its
/// own account). Failing to find the caller or to list the organization's accounts is an error of the
/// whole run; a failure inside one account is that account's result.
pub async fn run_each<T, F, Fut>(
    ctx: &Context,
    selection: &Selection,
    command: &str,
    work: F,
) -> anyhow::Result<Vec<AccountResult<T>>>
where
    F: Fn(String, Aws) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let base = ctx.aws().await?;
    let caller = base.caller().await?;
    let ids = match selection {
        Selection::All => base.organization_accounts().await?,
        Selection::Ids(ids) => ids.clone(),
    };
    let session = format!("sesctl-{command}");
    let (work, caller, session) = (&work, &caller, &session);
    let results = stream::iter(ids)
        .map(|id| async move {
            let aws = if id == caller.account {
                Ok(base.clone())
            } else {
                base.assume_role(
                    &caller.partition,
                    &id,
                    &ctx.global.role_name,
                    ctx.global.external_id.as_deref(),
                    session,
                )
                .await
                .map_err(|e| e.to_string())
            };
            let result = match aws {
                Ok(aws) => work(id.clone(), aws).await.map_err(|e| format!("{e:#}")),
                Err(e) => Err(e),
            };
            let result = result.map_err(|e| escape_controls(&e));
            if let Err(e) = &result {
                eprintln!("sesctl: error: account {id} failed: {e}");
            }
            AccountResult {
                account_id: id,
                result,
            }
        })
        .buffered(usize::from(ctx.global.account_concurrency))
        .collect()
        .await;
    Ok(results)
}

/// `audit` and `list` with `--accounts`: each account's inventory, read as in one account (where its
/// keys came from is said on stderr, prefixed with the account), gathered into one.
pub async fn read_inventories(
    ctx: &Context,
    selection: &Selection,
    command: &str,
    settings: &ReadSettings,
) -> anyhow::Result<AccountsInventory> {
    let results = run_each(ctx, selection, command, |id: String, aws: Aws| async move {
        let inventory = read_inventory(&aws.iam(), settings, &NoProgress)
            .await
            .map_err(error)?;
        warn_key_source(&ctx.printer, &inventory.key_source, &format!("account {id}: "));
        Ok(inventory)
    })
    .await?;
    Ok(AccountsInventory::from_results(
        results.into_iter().map(|r| (r.account_id, r.result)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_all_or_ids() {
        assert_eq!(parse("all").unwrap(), Selection::All);
        assert_eq!(
            parse("111111111111, 222222222222,111111111111").unwrap(),
            Selection::Ids(vec!["111111111111".into(), "222222222222".into()])
        );
        assert!(parse("12345").is_err());
        assert!(parse("111111111111,").is_err());
        assert!(parse("").is_err());
        assert!(parse("ALL").is_err());
    }
}
