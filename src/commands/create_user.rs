//! `sesctl create-user`: checks every input (exit 2 before any AWS call), then runs the
//! [`crate::workflows::create_user`] plan, or prints it with `--dry-run`.

use super::Context;
use crate::cli::{CreateUserArgs, OutputFormat};
use crate::error::{usage, Outcome};
use crate::output::create_user::{error, CreateUserText};
use crate::output::credential;
use crate::output::plan::PlanText;
use crate::validate;
use crate::workflows::create_user::{self, Request};
use crate::workflows::deliver::{Delivered, Sink};

pub async fn exec(ctx: &Context, args: CreateUserArgs) -> anyhow::Result<Outcome> {
    // The shape of the credential on stdout or in the --csv file; None is the console's CSV (or the
    // JSON result with -o json).
    let format = args.format.map(super::export::core_format);
    let request = request(ctx, args).await?;
    let aws = ctx.aws().await?;
    let prepared = create_user::prepare(aws, request).await.map_err(error)?;
    if ctx.global.dry_run {
        ctx.printer.result(&PlanText(&prepared.plan()))?;
        return Ok(Outcome::Done);
    }
    let sink = prepared.request.sink.clone();
    let report = create_user::execute(aws, prepared, &mut credential::handover(format))
        .await
        .map_err(error)?;
    for w in &report.warnings {
        ctx.printer.warn(w);
    }
    if sink.is_stdout() {
        // stdout carried the credential itself; the summary goes to stderr.
        ctx.printer.status(format!(
            "Created IAM user {} in group {} with access key {} (SMTP credential for {}, {}:{}). \
             The password above is shown only this once: store it now.",
            report.user_name,
            report.group,
            report.access_key_id,
            report.region,
            report.smtp_host,
            report.smtp_port
        ));
    } else {
        if let Delivered::CsvFile { path } = &report.delivered {
            ctx.printer.status(format!(
                "The SMTP credential is in {} (mode 0600).",
                path.display()
            ));
        }
        return super::report_done(ctx, &CreateUserText(&report));
    }
    Ok(Outcome::Done)
}

/// Turns the flags into a checked request; every failure here is a usage error (exit 2), and none
/// calls AWS.
async fn request(ctx: &Context, args: CreateUserArgs) -> anyhow::Result<Request> {
    let default_name = args.user_name.is_none();
    let user_name = args
        .user_name
        .unwrap_or_else(|| create_user::default_user_name(chrono::Utc::now()));
    validate::user_name(&user_name)?;
    if let Some(p) = &args.path {
        validate::iam_path(p)?;
    }
    let tags = validate::tags(&args.tags)?;
    if tags.len() > create_user::MAX_USER_TAGS {
        return Err(usage(format!(
            "{} tags given; create-user takes at most {} (IAM allows 50 per user, and sesctl adds its tag {})",
            tags.len(),
            create_user::MAX_USER_TAGS,
            create_user::TAG_CREATE_RUN
        )));
    }
    if let Some((k, _)) = tags
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(create_user::TAG_CREATE_RUN))
    {
        return Err(usage(format!(
            "tag key '{k}' is set by sesctl itself; choose another key"
        )));
    }
    if let Some(name) = &args.secret_name {
        if name.starts_with("arn:") {
            return Err(usage(
                "--secret-name names the new secret to create; an ARN names an existing one (give the name, \
                 and --secret-region for another region)",
            ));
        }
        validate::secret_name(name)?;
    }
    let secret_tags = validate::tags(&args.secret_tags)?;
    if let Some((k, _)) = secret_tags.iter().chain(tags.iter()).find(|(k, _)| {
        k.to_ascii_lowercase()
            .starts_with(crate::vocabulary::SESCTL_TAG_PREFIX)
    }) {
        return Err(usage(format!(
            "tag key '{}' is in sesctl's own namespace (sesctl: is set by sesctl); choose another key",
            crate::error::escape_controls(k)
        )));
    }
    // Secrets Manager allows 50 tags; sesctl adds two (the IAM user and the region).
    if tags.len() + secret_tags.len() > 48 {
        return Err(usage(format!(
            "{} tags for the secret (--tag and --secret-tag together); Secrets Manager allows 50, and sesctl \
             adds two",
            tags.len() + secret_tags.len()
        )));
    }
    if let Some(d) = &args.secret_description {
        if d.len() > 2048 || d.chars().any(char::is_control) {
            return Err(usage(
                "--secret-description must be at most 2048 characters, without control characters",
            ));
        }
    }
    if let Some(r) = &args.secret_region {
        if !crate::regions::looks_like_region(r) {
            return Err(usage(format!(
                "--secret-region '{}' is not a region name",
                crate::error::escape_controls(r)
            )));
        }
    }
    if let Some(k) = &args.kms_key_id {
        validate::kms_key_id(k)?;
    }
    let file_sink = credential::file_sink(
        args.csv.as_deref(),
        args.force,
        ctx.global.output == OutputFormat::Json,
    )?;
    let region = ctx.smtp_region(args.allow_unknown_region).await?;
    // The SMTP options are checked (exit 2) whether or not --verify is given.
    let endpoint = super::smtp_endpoint(&args.smtp, &region)?;
    let verify = args
        .verify
        .then(|| (endpoint, std::time::Duration::from_secs(args.verify_timeout)));
    let sink = match args.secret_name {
        Some(name) => Sink::SecretsManager {
            name,
            kms_key_id: args.kms_key_id,
        },
        None => file_sink,
    };
    Ok(Request {
        user_name,
        path: args.path,
        tags,
        region,
        sink,
        rollback: !args.no_rollback,
        verify,
        default_name,
        secret_location: args.secret_region,
        secret_tags,
        secret_description: args.secret_description,
    })
}
