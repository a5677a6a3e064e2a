//! The AWS side of sesctl: the only module that names `aws_sdk_*` types.
//!
//! [`Aws::load`] builds one `SdkConfig` from the global options (profile, region, endpoint URL, retry
//! attempts, timeouts) and hands out thin clients ([`iam::Iam`], [`secrets::Secrets`]) whose methods take
//! and return sesctl's own types. Every failure becomes an [`error::AwsError`] with a small
//! [`error::ErrorKind`], so workflows never inspect SDK errors themselves.

pub mod account;
pub mod authorization;
pub mod cleanup;
pub mod conventions;
pub mod credential_report;
pub mod error;
pub mod iam;
pub mod key_owner;
pub mod organization;
pub mod retry;
pub mod secrets;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;

use crate::secret::Secret;
pub use conventions::{Conventions, Service};
pub use error::{AwsError, ErrorKind};

/// IAM is a global service; with no region configured, its requests are signed for this one.
pub const IAM_SIGNING_REGION: &str = "us-east-1";

/// What the global options say about reaching AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Total attempts per API call (first try plus retries); `None` leaves it to `AWS_MAX_ATTEMPTS`
    /// or the SDK's standard default of 3.
    pub max_attempts: Option<u32>,
    /// How long one attempt of one API call may take before it is abandoned (and retried).
    pub attempt_timeout: Duration,
}

/// A loaded AWS configuration and the clients built from it.
#[derive(Clone)]
pub struct Aws {
    config: SdkConfig,
    conventions: Conventions,
}

impl Aws {
    /// Resolves the configuration: credentials chain, region chain, endpoint overrides (including
    /// `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_IAM`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`), retries.
    /// Conventions that cannot be resolved (an unknown profile, an unreadable CA bundle) are logged
    /// and left out; the CLI resolves them first and refuses such input ([`Aws::load_with`]).
    pub async fn load(options: &AwsOptions) -> Aws {
        let conventions = Conventions::resolve(options).await.unwrap_or_else(|e| {
            tracing::warn!("{:#}", anyhow::Error::new(e));
            Conventions::default()
        });
        Self::load_with(options, conventions).await
    }

    /// As [`Aws::load`], with the AWS CLI's conventions already resolved ([`Conventions::resolve`]).
    pub async fn load_with(options: &AwsOptions, conventions: Conventions) -> Aws {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader = loader.timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(options.attempt_timeout)
                .build(),
        );
        if let Some(http) = conventions.http_client() {
            loader = loader.http_client(http);
        }
        Aws {
            config: retry::apply(conventions.finish(loader.load().await), options.max_attempts),
            conventions,
        }
    }

    /// The region the configuration resolved, if any.
    pub fn region(&self) -> Option<String> {
        self.config.region().map(|r| r.to_string())
    }

    /// The IAM client, signing for us-east-1 when no region is configured.
    pub fn iam(&self) -> iam::Iam {
        let mut builder = aws_sdk_iam::config::Builder::from(&self.config)
            .interceptor(retry::ThrottlingRetries::for_config(&self.config));
        if self.config.region().is_none() {
            builder = builder.region(Region::new(IAM_SIGNING_REGION));
        }
        if let Some(url) = self.conventions.endpoint(Service::Iam) {
            builder = builder.endpoint_url(url);
        }
        iam::Iam::new(aws_sdk_iam::Client::from_conf(builder.build()))
    }

    /// The Secrets Manager client for `region` (the SMTP credential's region, where its secret lives).
    pub fn secrets(&self, region: &str) -> secrets::Secrets {
        let mut builder = aws_sdk_secretsmanager::config::Builder::from(&self.config)
            .region(Region::new(region.to_string()))
            .interceptor(retry::ThrottlingRetries::for_config(&self.config));
        if let Some(url) = self.conventions.endpoint(Service::SecretsManager) {
            builder = builder.endpoint_url(url);
        }
        secrets::Secrets::new(aws_sdk_secretsmanager::Client::from_conf(builder.build()))
    }

    /// Who the credentials are (sts:GetCallerIdentity; needs no permission): the account id and the
    /// partition (`aws`, `aws-us-gov`, `aws-cn`), which policy ARNs are built from.
    pub async fn caller(&self) -> Result<Caller, AwsError> {
        let mut builder = aws_sdk_sts::config::Builder::from(&self.config)
            .interceptor(retry::ThrottlingRetries::for_config(&self.config));
        if self.config.region().is_none() {
            builder = builder.region(Region::new(IAM_SIGNING_REGION));
        }
        if let Some(url) = self.conventions.endpoint(Service::Sts) {
            builder = builder.endpoint_url(url);
        }
        let sts = aws_sdk_sts::Client::from_conf(builder.build());
        let out = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| error::classify("sts:GetCallerIdentity", e))?;
        let arn = out.arn().unwrap_or_default().to_string();
        Ok(Caller {
            account: out.account().unwrap_or_default().to_string(),
            partition: arn
                .split(':')
                .nth(1)
                .filter(|p| !p.is_empty())
                .unwrap_or("aws")
                .to_string(),
            arn,
        })
    }

    /// Fails early, with advice, when the credential chain finds no credentials: otherwise the first
    /// API call fails with a dispatch error that reads like a network problem.
    pub async fn check_credentials(&self) -> Result<(), anyhow::Error> {
        let provider = self.config.credentials_provider().ok_or_else(no_credentials)?;
        provider.provide_credentials().await.map_err(|e| {
            anyhow::anyhow!(
                "could not load AWS credentials ({}); configure them with AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, a profile (--profile or AWS_PROFILE), SSO (aws sso login) or an \
                 instance role",
                error::display_chain(&e)
            )
        })?;
        Ok(())
    }

    /// The static credentials the chain resolves, for `derive --from-credentials`.
    pub async fn resolved_credentials(&self) -> Result<ResolvedCredentials, anyhow::Error> {
        let provider = self.config.credentials_provider().ok_or_else(no_credentials)?;
        let creds = provider.provide_credentials().await.map_err(|e| {
            anyhow::anyhow!("could not resolve AWS credentials: {}", error::display_chain(&e))
        })?;
        Ok(ResolvedCredentials {
            access_key_id: creds.access_key_id().to_string(),
            secret_access_key: Secret::new(creds.secret_access_key().to_string()),
            has_session_token: creds.session_token().is_some(),
        })
    }
}

fn no_credentials() -> anyhow::Error {
    anyhow::anyhow!("no AWS credentials are configured (set a profile, environment variables or SSO)")
}

/// The identity behind the credentials.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Caller {
    pub account: String,
    pub partition: String,
    pub arn: String,
}

impl Caller {
    /// The ARN of a customer-managed policy at path `/` in this account.
    pub fn policy_arn(&self, name: &str) -> String {
        format!("arn:{}:iam::{}:policy/{name}", self.partition, self.account)
    }
}

/// Credentials as the chain resolved them; the secret stays wrapped.
#[derive(Debug)]
pub struct ResolvedCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub has_session_token: bool,
}

/// Converts an SDK timestamp to UTC.
pub(crate) fn to_utc(t: &aws_smithy_types::DateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
}
