//! `sesctl rotate`: resolves the flags (user, secret, regions, old-key action), reads the state, and
//! prints the plan (`--dry-run`) or runs the rotation in `workflows::rotate`.
//!
//! Regions: Secrets Manager is called in `--region`, else in the region of a secret ARN, else in the
//! AWS config chain's region. The SMTP password is derived for `--region`, else for the region stored
//! in the secret (so a rotation never silently moves a credential to another region).

use super::Context;
use crate::cli::{OldKeyAction as OldKeyFlag, OutputFormat, RotateArgs};
use crate::error::{usage, Outcome};
use crate::output::credential::{file_sink, handover};
use crate::output::rotate::{render, FinishText, RotateText};
use crate::workflows::rotate::{self as workflow, OldKeyAction, RotationRequest};

pub async fn exec(ctx: &Context, args: RotateArgs) -> anyhow::Result<Outcome> {
    crate::validate::user_name(&args.user_name)?;
    let old_key_action = match args.old_key {
        OldKeyFlag::Deactivate => OldKeyAction::Deactivate,
        OldKeyFlag::Delete => OldKeyAction::Delete,
        OldKeyFlag::Keep => OldKeyAction::Keep,
    };
    if args.finish && old_key_action == OldKeyAction::Keep {
        return Err(usage(
            "--finish retires the keys no longer in AWSCURRENT: give --old-key deactivate (the default) or \
             --old-key delete, not keep",
        ));
    }
    if args.finish && args.delete_inactive {
        return Err(usage(
            "--delete-inactive does not apply to --finish (which retires every key not in AWSCURRENT; \
             --old-key delete deletes them)",
        ));
    }
    match &args.secret_name {
        Some(name) => {
            crate::validate::secret_name(name)?;
            in_secret(ctx, &args, name, old_key_action).await
        }
        None => without_secret(ctx, &args, old_key_action).await,
    }
}

async fn in_secret(
    ctx: &Context,
    args: &RotateArgs,
    secret_id: &str,
    old_key_action: OldKeyAction,
) -> anyhow::Result<Outcome> {
    let flag_region = ctx.single_region()?.map(str::to_string);
    if let Some(r) = &flag_region {
        crate::regions::check(r, args.allow_unknown_region).map_err(|e| usage(e.to_string()))?;
    }
    let aws = ctx.aws().await?;
    let secrets_region =
        super::secret_location(ctx, secret_id, args.secret_region.as_deref(), flag_region.clone()).await?;
    let iam = aws.iam();
    let secrets = aws.secrets(&secrets_region);
    let user = workflow::inspect_user(&iam, &args.user_name)
        .await
        .map_err(rotate_error)?;
    let secret = workflow::inspect_secret(&secrets, secret_id, &secrets_region, &args.user_name)
        .await
        .map_err(rotate_error)?;

    if args.finish {
        let plan = workflow::plan_finish(&iam, &user, &secret, old_key_action)
            .await
            .map_err(rotate_error)?;
        if ctx.global.dry_run {
            ctx.printer
                .result(&crate::output::plan::PlanText(&plan.to_plan()))?;
            return Ok(Outcome::Done);
        }
        let report = workflow::finish(&iam, &secrets, &secret, &plan)
            .await
            .map_err(rotate_error)?;
        return super::report_done(ctx, &FinishText(&report));
    }

    let region = match (&flag_region, &secret.current.region) {
        (Some(r), _) => r.clone(),
        (None, Some(stored)) => crate::regions::check(stored, args.allow_unknown_region).map_err(|e| {
            usage(format!(
                "secret {secret_id} names region {stored}, which sesctl cannot use ({e}); pass --region"
            ))
        })?,
        (None, None) => {
            return Err(usage(format!(
                "secret {secret_id} does not say which SES region its credential is for; pass --region"
            )))
        }
    };
    let request = RotationRequest {
        region: region.clone(),
        old_key_action,
        delete_inactive: args.delete_inactive,
        delivery: None,
    };
    let plan = workflow::plan_rotation(&user, Some(&secret), &request).map_err(rotate_error)?;
    let mut moved = None;
    if let Some(stored) = secret.current.region.as_deref().filter(|s| *s != region) {
        moved = Some(format!(
            "the credential moves from {stored} to {region}: the new SMTP password is for {region} only, and the \
             secret's host becomes {}",
            crate::regions::smtp_host(&region)
        ));
    }
    if ctx.global.dry_run {
        let mut p = plan.to_plan();
        if let Some(m) = moved {
            p.note(m);
        }
        ctx.printer.result(&crate::output::plan::PlanText(&p))?;
        return Ok(Outcome::Done);
    }
    if let workflow::NewKey::Resume {
        access_key_id,
        version_id,
    } = &plan.new_key
    {
        ctx.printer.status(format!(
            "Resuming an interrupted rotation of {}: key {access_key_id} is already stored as AWSPENDING \
             (version {version_id}); no new key is created.",
            args.user_name
        ));
    }
    // testSecret: with --verify, log in with the pending credential before it is promoted.
    let login = login_check(args, &plan.region)?;
    let mut report = workflow::rotate_in_secret(&iam, &secrets, &plan, &secret, login.as_ref())
        .await
        .map_err(rotate_error)?;
    if let Some(m) = moved {
        report.warnings.push(m);
    }
    super::report_done(ctx, &RotateText(&report))
}

/// Without a secret: the credential is delivered like `create-user` (the console's CSV on stdout or
/// in a 0600 `--csv` file, or the JSON result with `-o json`) before the old key is retired.
async fn without_secret(
    ctx: &Context,
    args: &RotateArgs,
    old_key_action: OldKeyAction,
) -> anyhow::Result<Outcome> {
    let sink = file_sink(
        args.csv.as_deref(),
        args.force,
        ctx.global.output == OutputFormat::Json,
    )?;
    let format = args.format.map(super::export::core_format);
    let region = ctx.smtp_region(args.allow_unknown_region).await?;
    let aws = ctx.aws().await?;
    let iam = aws.iam();
    let user = workflow::inspect_user(&iam, &args.user_name)
        .await
        .map_err(rotate_error)?;
    let request = RotationRequest {
        region: region.clone(),
        old_key_action,
        delete_inactive: args.delete_inactive,
        delivery: Some(sink.describe(&region)),
    };
    let plan = workflow::plan_rotation(&user, None, &request).map_err(rotate_error)?;
    if ctx.global.dry_run {
        ctx.printer
            .result(&crate::output::plan::PlanText(&plan.to_plan()))?;
        return Ok(Outcome::Done);
    }
    let login = login_check(args, &region)?;
    let report = workflow::rotate_and_deliver(
        &iam,
        &plan,
        |credential| handover(format)(credential, &sink).map_err(anyhow::Error::from_boxed),
        login.as_ref(),
    )
    .await
    .map_err(rotate_error)?;
    if sink.is_stdout() {
        // stdout carried the credential itself; the summary goes to stderr.
        ctx.printer.status(format!(
            "{}The password above is shown only this once: store it now.",
            render(&report)
        ));
    } else {
        return super::report_done(ctx, &RotateText(&report));
    }
    Ok(Outcome::Done)
}

/// `--verify`'s login check, from the SMTP flags. A bad `--smtp-host` or `--ca-file` is a usage error
/// found here, before any change.
fn login_check(args: &RotateArgs, region: &str) -> anyhow::Result<Option<workflow::LoginCheck>> {
    if !args.verify {
        return Ok(None);
    }
    let endpoint = super::smtp_endpoint(&args.smtp, region)?;
    Ok(Some(workflow::LoginCheck {
        endpoint: super::smtp_settings(&args.smtp),
        deadline: std::time::Duration::from_secs(args.verify_timeout),
        notice: endpoint.notice(),
    }))
}

/// The rotation's error in the CLI's words (see [`crate::output::rotate::error`]).
fn rotate_error(e: workflow::RotateError) -> anyhow::Error {
    crate::output::rotate::error(e)
}
