//! `sesctl verify`: log in to the SMTP endpoint with a credential (AUTH, then QUIT; no mail is sent)
//! and explain a failure. The credential comes from a Secrets Manager secret (`--secret-name`) or from
//! `--username` with the password on stdin.

use super::Context;
use crate::cli::{OutputFormat, VerifyArgs};
use crate::credential::StoredCredential;
use crate::error::{usage, Outcome};
use crate::output::verify::{coloured, error, render};
use crate::secret::Secret;
use crate::smtp::diagnosis::{Facts, KeyState};
use crate::smtp::{self, FailureKind};
use crate::workflows::verify::{key_state, read_stored_credential, VerifyReport};

/// The credential to try and what is known about it.
struct Credential {
    username: String,
    password: Secret,
    /// The region the password was derived for, when the secret says so.
    region: Option<String>,
    iam_user_name: Option<String>,
}

pub async fn exec(ctx: &Context, args: VerifyArgs) -> anyhow::Result<Outcome> {
    let mut smtp_args = args.smtp.clone();
    let region = ctx.smtp_region(args.allow_unknown_region).await?;
    let credential = match &args.secret_name {
        Some(name) => {
            crate::validate::secret_name(name)?;
            let location =
                super::secret_location(ctx, name, args.secret_region.as_deref(), Some(region.clone()))
                    .await?;
            let stored = read_secret(ctx, name, &location).await?;
            // The secret's endpoint is where this credential belongs; flags override it. A host the
            // secret names gets the password only if it is an SES SMTP endpoint or the operator
            // trusts it (--allow-host): whoever can write the secret must not be able to collect it.
            if smtp_args.smtp_host.is_none() {
                if let Some(host) = &stored.host {
                    let trusted = crate::smtp::diagnosis::is_ses_smtp_host(host)
                        || args
                            .allow_host
                            .iter()
                            .any(|h| h.eq_ignore_ascii_case(host.trim_end_matches('.')));
                    if !trusted {
                        let host = crate::error::escape_controls(host);
                        return Err(usage(format!(
                            "secret {name} names SMTP host {host}, which is not an Amazon SES SMTP endpoint; \
                             sesctl sends a password only to SES endpoints and to hosts you name: pass \
                             --allow-host {host} (or --smtp-host) if you trust it"
                        )));
                    }
                }
                smtp_args.smtp_host = stored.host.clone();
            }
            if smtp_args.port.is_none() {
                smtp_args.port = stored.port;
            }
            if let Some(r) = &stored.region {
                crate::regions::check(r, true)
                    .map_err(|e| anyhow::anyhow!("secret {name} has an unusable region: {e}"))?;
            }
            Credential {
                username: stored.username,
                password: stored.password,
                region: stored.region,
                iam_user_name: stored.iam_user_name,
            }
        }
        None => {
            let username = args.username.clone().ok_or_else(|| {
                usage("pass --secret-name NAME, or --username AKID with the password on stdin")
            })?;
            check_username(&username)?;
            let password = crate::input::read_secret("SMTP password")?;
            Credential {
                username,
                password,
                region: None,
                iam_user_name: None,
            }
        }
    };
    let endpoint_region = credential.region.clone().unwrap_or(region);
    let endpoint = super::smtp_endpoint(&smtp_args, &endpoint_region)?;
    tracing::debug!(
        "verifying {} at {}:{} ({})",
        credential.username,
        endpoint.host,
        endpoint.port,
        endpoint.tls
    );

    let report = match smtp::login(&endpoint, &credential.username, &credential.password).await {
        Ok(ok) => VerifyReport::succeeded(&credential.username, ok),
        Err(failure) => {
            let mut facts = Facts::new(&credential.username, &credential.password, &endpoint);
            facts.credential_region = credential.region.clone();
            if failure.kind == FailureKind::Rejected {
                facts.key = match ctx.aws().await {
                    Ok(aws) => {
                        key_state(
                            &aws.iam(),
                            &credential.username,
                            credential.iam_user_name.as_deref(),
                        )
                        .await
                    }
                    Err(e) => KeyState::Unreadable {
                        reason: e.to_string(),
                    },
                };
            }
            let diagnosis = VerifyReport::diagnose(&failure, &facts);
            VerifyReport::failed(&credential.username, endpoint.tls, failure, diagnosis, facts.key)
        }
    };
    match ctx.printer.format {
        OutputFormat::Json => ctx.printer.json(&report)?,
        OutputFormat::Text if ctx.printer.color => ctx.printer.text(&coloured(&report))?,
        _ => ctx.printer.text(&render(&report))?,
    }
    Ok(if report.ok { Outcome::Done } else { Outcome::Failed })
}

/// secretsmanager:GetSecretValue (AWSCURRENT) and the parse of its JSON.
async fn read_secret(ctx: &Context, name: &str, region: &str) -> anyhow::Result<StoredCredential> {
    let aws = ctx.aws().await?;
    read_stored_credential(&aws.secrets(region), name, region)
        .await
        .map_err(error)
}

/// An SMTP user name as given on the command line: an access key id, so short and without spaces.
fn check_username(username: &str) -> anyhow::Result<()> {
    if username.is_empty()
        || username.len() > 128
        || username.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(usage(
            "--username must be the SMTP user name (the access key id, AKIA...), without spaces",
        ));
    }
    Ok(())
}
