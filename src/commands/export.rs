//! `sesctl export`: read a stored SMTP credential (sesctl's format or another tool's) and print it in
//! the shape its consumer reads: environment variables, an `smtp://` URL, Postfix's `sasl_passwd`
//! line, JSON or the console's CSV; to stdout, or to a file created 0600.

use std::io::Write;

use anyhow::Context as _;

use super::Context;
use crate::aws::secrets::STAGE_CURRENT;
use crate::cli::{ExportArgs, ExportFormat};
use crate::error::{usage, Outcome};
use crate::output::credential::{check_output_path, write_secret_file};
use sesctl_core::credential::{Export, Shape, StoredCredential};

pub async fn exec(ctx: &Context, args: ExportArgs) -> anyhow::Result<Outcome> {
    crate::validate::secret_name(&args.secret_name)?;
    if let Some(path) = &args.output_file {
        check_output_path("--output-file", path, args.force)?;
    }
    let flag_region = ctx.single_region()?.map(str::to_string);
    let location = super::secret_location(
        ctx,
        &args.secret_name,
        args.secret_region.as_deref(),
        flag_region.clone(),
    )
    .await?;
    let name = &args.secret_name;
    let value = ctx
        .aws()
        .await?
        .secrets(&location)
        .get_value(name, STAGE_CURRENT)
        .await
        .with_context(|| format!("reading secret {name} in {location}"))?
        .ok_or_else(|| {
            anyhow::anyhow!("secret {name} was not found in {location} (or has no AWSCURRENT version)")
        })?;
    let stored = StoredCredential::parse(&value.value).map_err(|e| {
        anyhow::anyhow!("secret {name} does not hold an SMTP credential sesctl can read: {e}")
    })?;
    drop(value);
    // The endpoint: the stored host and port, else the SES endpoint of the stored region (or --region).
    let region = stored.region.clone().or(flag_region);
    let host = match (&stored.host, &region) {
        (Some(h), _) => h.clone(),
        (None, Some(r)) => {
            crate::regions::check(r, args.allow_unknown_region).map_err(|e| usage(e.to_string()))?;
            crate::regions::smtp_host(r)
        }
        (None, None) => {
            return Err(usage(format!(
                "secret {name} names neither an SMTP host nor a region ({}); pass --region for the SES \
                 region its password was derived for",
                stored.shape
            )))
        }
    };
    let export = Export {
        host: &host,
        port: stored.port.unwrap_or(crate::regions::DEFAULT_PORT),
        username: &stored.username,
        password: &stored.password,
        region: region.as_deref(),
        iam_user_name: stored.iam_user_name.as_deref(),
    };
    let text = export.render(core_format(args.format));
    match &args.output_file {
        Some(path) => {
            write_secret_file("--output-file", path, args.force, text.as_bytes())?;
            ctx.printer.status(format!(
                "Wrote the SMTP credential of secret {name} to {} (mode 0600).",
                path.display()
            ));
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    if stored.shape != Shape::Sesctl {
        ctx.printer
            .status(format!("secret {name} holds {}: read as such", stored.shape));
    }
    Ok(Outcome::Done)
}

/// The CLI's `--format` as the core's.
pub fn core_format(f: ExportFormat) -> sesctl_core::credential::ExportFormat {
    use sesctl_core::credential::ExportFormat as Core;
    match f {
        ExportFormat::Env => Core::Env,
        ExportFormat::Dsn => Core::Dsn,
        ExportFormat::Postfix => Core::Postfix,
        ExportFormat::Json => Core::Json,
        ExportFormat::Csv => Core::Csv,
    }
}
