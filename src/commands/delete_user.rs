//! `sesctl delete-user`: check the name, read what the user holds, refuse a user that is not an SMTP
//! user unless --force, show the plan (--dry-run) or ask, then delete (`workflows::delete_user`).

use super::Context;
use crate::cli::{DeleteUserArgs, OutputFormat};
use crate::error::{usage, Outcome};
use crate::output::delete_user::{error, render};
use crate::output::plan::PlanText;
use crate::workflows::delete_user::{self, DeleteReport};

pub async fn exec(ctx: &Context, args: DeleteUserArgs) -> anyhow::Result<Outcome> {
    crate::validate::user_name(&args.user_name)?;
    if let Some(s) = &args.secret_name {
        crate::validate::secret_name(s)?;
    }
    let aws = ctx.aws().await?;
    let secrets_region = match &args.secret_name {
        None => None,
        Some(name) => Some(
            super::secret_location(
                ctx,
                name,
                args.secret_region.as_deref(),
                ctx.single_region()?.map(str::to_string),
            )
            .await?,
        ),
    };
    let iam = aws.iam();
    let secrets = secrets_region.as_deref().map(|r| aws.secrets(r));
    let Some(state) = delete_user::inspect(&iam, &args.user_name).await.map_err(error)? else {
        // An earlier run may have stopped after iam:DeleteUser: the secret is what is left.
        if let (Some(name), Some(client), Some(region)) = (&args.secret_name, &secrets, &secrets_region) {
            let secret = delete_user::inspect_secret(
                client,
                name,
                region,
                &args.user_name,
                &[],
                args.recovery_window_days,
                args.force,
            )
            .await
            .map_err(error)?;
            if ctx.global.dry_run {
                let mut plan = crate::workflows::Plan::new("delete-user");
                if !secret.already_scheduled {
                    plan.call(
                        "secretsmanager:DeleteSecret",
                        format!("{name} (recovery window {} days)", secret.recovery_window_days),
                    );
                }
                plan.note(format!(
                    "there is no IAM user named {} (already deleted)",
                    args.user_name
                ));
                ctx.printer.result(&PlanText(&plan))?;
                return Ok(Outcome::Done);
            }
            if !secret.already_scheduled
                && !ctx.confirm(&format!(
                    "IAM user {} is already deleted. Schedule secret {name} for deletion?",
                    args.user_name
                ))?
            {
                anyhow::bail!("deletion of secret {name} was not confirmed; nothing was changed");
            }
            let report = delete_user::delete_secret_only(client, &args.user_name, &secret)
                .await
                .map_err(error)?;
            print_report(ctx, &report)?;
            return Ok(Outcome::Done);
        }
        anyhow::bail!(
            "there is no IAM user named {}; nothing was deleted",
            args.user_name
        );
    };
    if !state.is_smtp_user() && !args.force {
        return Err(usage(format!(
            "{} is not an SMTP user (not in the sending group, no sending policy, no console tag); \
             pass --force to delete it anyway",
            args.user_name
        )));
    }
    let user_keys: Vec<String> = state.access_keys.iter().map(|k| k.id.clone()).collect();
    let secret = match (&args.secret_name, &secrets, &secrets_region) {
        (Some(name), Some(client), Some(region)) => Some(
            delete_user::inspect_secret(
                client,
                name,
                region,
                &args.user_name,
                &user_keys,
                args.recovery_window_days,
                args.force,
            )
            .await
            .map_err(error)?,
        ),
        _ => None,
    };
    let plan = state.plan(secret.as_ref());
    if ctx.global.dry_run {
        ctx.printer.result(&PlanText(&plan))?;
        return Ok(Outcome::Done);
    }
    let question = format!(
        "Delete IAM user {} ({} change(s){})?",
        args.user_name,
        plan.calls.len(),
        match &secret {
            Some(s) if !s.already_scheduled => format!(", and schedule secret {} for deletion", s.name),
            _ => String::new(),
        }
    );
    if !ctx.confirm(&question)? {
        anyhow::bail!(
            "deletion of {} was not confirmed; nothing was changed",
            args.user_name
        );
    }
    let report = delete_user::execute(&iam, secrets.as_ref(), &state, secret.as_ref())
        .await
        .map_err(error)?;
    print_report(ctx, &report)?;
    Ok(Outcome::Done)
}

/// The report: JSON with `-o json`, text ([`render`]) otherwise.
fn print_report(ctx: &Context, report: &DeleteReport) -> anyhow::Result<()> {
    match ctx.printer.format {
        OutputFormat::Json => ctx.printer.json(report),
        _ => ctx.printer.text(&render(report)),
    }
}
