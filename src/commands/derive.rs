//! `sesctl derive`: the SMTP password for a secret access key, offline. The secret comes from stdin or
//! a hidden prompt (never argv), or with `--from-credentials` from the AWS credential chain.

use std::fmt;

use serde::Serialize;

use super::Context;
use crate::cli::DeriveArgs;
use crate::error::{usage, Outcome};
use crate::regions;
use crate::secret::Secret;
use crate::smtp_password::smtp_password_v4;

#[derive(Serialize)]
struct Derived {
    region: String,
    smtp_host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    smtp_username: Option<String>,
    smtp_password: Secret,
}

struct DeriveReport(Vec<Derived>);

impl fmt::Display for DeriveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let several = self.0.len() > 1;
        for d in &self.0 {
            if several {
                write!(f, "{}\t", d.region)?;
            }
            if let Some(user) = &d.smtp_username {
                write!(f, "{user}\t")?;
            }
            writeln!(f, "{}", d.smtp_password.expose())?;
        }
        Ok(())
    }
}

/// Why SES cannot take temporary credentials, for the refusal message.
pub const TEMPORARY_CREDENTIALS: &str = "temporary credentials (an ASIA key id or a session token) cannot \
    be used for SES SMTP: SMTP AUTH has no place for the session token, and the key expires. Use a \
    long-term IAM user access key (sesctl create-user makes one)";

/// Whether an access key id is from temporary credentials.
pub fn is_temporary_key_id(access_key_id: &str) -> bool {
    access_key_id.starts_with("ASIA")
}

pub async fn exec(ctx: &Context, args: DeriveArgs) -> anyhow::Result<Outcome> {
    // Regions first: bad input is refused before any secret is read.
    let mut wanted: Vec<String> = Vec::new();
    for r in &ctx.global.region {
        let r = regions::check(r, args.allow_unknown_region).map_err(|e| usage(e.to_string()))?;
        if !wanted.contains(&r) {
            wanted.push(r);
        }
    }

    let (username, secret) = if args.from_credentials {
        let creds = ctx.aws().await?.resolved_credentials().await?;
        if creds.has_session_token || is_temporary_key_id(&creds.access_key_id) {
            return Err(usage(format!(
                "the AWS credential chain resolved temporary credentials ({}); {TEMPORARY_CREDENTIALS}",
                creds.access_key_id
            )));
        }
        crate::validate::secret_access_key(
            creds.secret_access_key.expose(),
            "secret access key the AWS credential chain resolved",
        )?;
        if wanted.is_empty() {
            if let Some(r) = ctx.aws().await?.region() {
                wanted.push(regions::check(&r, args.allow_unknown_region).map_err(|e| usage(e.to_string()))?);
            }
        }
        (Some(creds.access_key_id), creds.secret_access_key)
    } else {
        if wanted.is_empty() {
            if let Some(r) = offline_region(ctx.global.profile.as_deref()).await? {
                wanted.push(regions::check(&r, args.allow_unknown_region).map_err(|e| usage(e.to_string()))?);
            }
        }
        if wanted.is_empty() {
            return Err(no_region());
        }
        let secret = crate::input::read_secret("secret access key")?;
        crate::validate::secret_access_key(secret.expose(), "secret access key")?;
        (None, secret)
    };
    if wanted.is_empty() {
        return Err(no_region());
    }

    let report = DeriveReport(
        wanted
            .into_iter()
            .map(|region| Derived {
                smtp_host: regions::smtp_host(&region),
                smtp_username: username.clone(),
                smtp_password: smtp_password_v4(&secret, &region),
                region,
            })
            .collect(),
    );
    match ctx.printer.format {
        crate::cli::OutputFormat::Json => ctx.printer.json(&report.0)?,
        _ => ctx.printer.text(&report)?,
    }
    Ok(Outcome::Done)
}

fn no_region() -> anyhow::Error {
    usage(
        "no region given: pass --region REGION (repeatable), or set AWS_REGION; the SMTP password \
         differs per region",
    )
}

/// The region from the environment and the profile files only: no credentials, no network (no IMDS).
/// A profile named by `--profile` or `AWS_PROFILE` must exist, as for every command that reads one.
async fn offline_region(profile: Option<&str>) -> anyhow::Result<Option<String>> {
    use aws_config::meta::region::ProvideRegion;
    sesctl_core::aws::conventions::checked_profiles(profile)
        .await
        .map_err(crate::validate::aws_settings_error)?;
    if let Some(r) = aws_config::environment::EnvironmentVariableRegionProvider::new()
        .region()
        .await
    {
        return Ok(Some(r.to_string()));
    }
    let mut provider = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(p) = profile {
        provider = provider.profile_name(p);
    }
    Ok(provider.build().region().await.map(|r| r.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_the_password_alone_for_one_region() {
        let r = DeriveReport(vec![Derived {
            region: "us-east-1".into(),
            smtp_host: "h".into(),
            smtp_username: None,
            smtp_password: Secret::new("BPW".into()),
        }]);
        assert_eq!(r.to_string(), "BPW\n");
    }
}
