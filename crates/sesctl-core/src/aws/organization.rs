//! Working across the accounts of an AWS Organization: the ACTIVE accounts from
//! organizations:ListAccounts, and an [`Aws`] for a member account entered with sts:AssumeRole.
//!
//! A member's credentials come from one sts:AssumeRole made up front (so that an account that cannot
//! be entered is known before anything is read there), then from `aws_config`'s
//! [`AssumeRoleProvider`] when the SDK's identity cache finds them near expiry: they are cached for
//! the run and refreshed before they expire. STS is reached at the run's region (its regional
//! endpoint), with the same retry settings as every other call, so a throttled STS is retried.

use std::sync::Mutex;
use std::time::SystemTime;

use aws_config::sts::AssumeRoleProvider;
use aws_config::Region;
use aws_credential_types::provider::{self, future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;

use super::{error, retry, Aws, AwsError, Service, IAM_SIGNING_REGION};

/// Whether `id` is an AWS account id (12 digits).
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Credentials of an assumed role: the ones sesctl's own sts:AssumeRole returned, then fresh ones from
/// the [`AssumeRoleProvider`] each time the SDK's identity cache asks (it asks before expiry).
#[derive(Debug)]
struct Assumed {
    first: Mutex<Option<Credentials>>,
    refresh: AssumeRoleProvider,
}

impl ProvideCredentials for Assumed {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let first = self.first.lock().ok().and_then(|mut f| f.take());
        future::ProvideCredentials::new(async move {
            match first {
                Some(c) => provider::Result::Ok(c),
                None => self.refresh.provide_credentials().await,
            }
        })
    }
}

impl Aws {
    /// The configuration STS is called with: the run's region (us-east-1 when none) and the STS
    /// endpoint override, if any.
    fn sts_config(&self) -> aws_config::SdkConfig {
        let mut builder = self.config.to_builder();
        if self.config.region().is_none() {
            builder.set_region(Some(Region::new(IAM_SIGNING_REGION)));
        }
        if let Some(url) = self.conventions.endpoint(Service::Sts) {
            builder.set_endpoint_url(Some(url.to_string()));
        }
        builder.build()
    }

    /// Every ACTIVE account of the organization (organizations:ListAccounts, every page), sorted.
    /// Needs the management account or a delegated administrator.
    pub async fn organization_accounts(&self) -> Result<Vec<String>, AwsError> {
        use aws_sdk_organizations::types::{AccountState, AccountStatus};
        let mut builder = aws_sdk_organizations::config::Builder::from(&self.config)
            .interceptor(retry::ThrottlingRetries::for_config(&self.config));
        if self.config.region().is_none() {
            builder = builder.region(Region::new(IAM_SIGNING_REGION));
        }
        let client = aws_sdk_organizations::Client::from_conf(builder.build());
        let mut pages = client.list_accounts().into_paginator().send();
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| error::classify("organizations:ListAccounts", e))?;
            for account in page.accounts() {
                let active = match (account.state(), account.status()) {
                    (Some(state), _) => *state == AccountState::Active,
                    (None, Some(status)) => *status == AccountStatus::Active,
                    (None, None) => true,
                };
                if let (true, Some(id)) = (active, account.id()) {
                    ids.push(id.to_string());
                }
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Enters `account_id` through sts:AssumeRole on `arn:PARTITION:iam::ACCOUNT:role/ROLE`, with
    /// `session_name` (CloudTrail shows it) and `external_id` when given. The returned [`Aws`] signs
    /// every call with that role's credentials, refreshed before they expire.
    pub async fn assume_role(
        &self,
        partition: &str,
        account_id: &str,
        role_name: &str,
        external_id: Option<&str>,
        session_name: &str,
    ) -> Result<Aws, AwsError> {
        let role_arn = format!("arn:{partition}:iam::{account_id}:role/{role_name}");
        let sts_config = self.sts_config();
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&sts_config)
                .interceptor(retry::ThrottlingRetries::for_config(&sts_config))
                .build(),
        );
        let out = sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(session_name)
            .set_external_id(external_id.map(str::to_string))
            .send()
            .await
            .map_err(|e| error::classify("sts:AssumeRole", e))?;
        let c = out.credentials().ok_or_else(|| AwsError {
            kind: error::ErrorKind::Other,
            action: "sts:AssumeRole",
            code: None,
            message: "the response holds no credentials".into(),
        })?;
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        let first = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "sesctl-assume-role",
        );
        let mut refresh = AssumeRoleProvider::builder(role_arn).session_name(session_name);
        if let Some(id) = external_id {
            refresh = refresh.external_id(id);
        }
        let refresh = refresh.configure(&sts_config).build().await;
        let provider = Assumed {
            first: Mutex::new(Some(first)),
            refresh,
        };
        Ok(Aws {
            config: self
                .config
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build(),
            conventions: self.conventions.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_account_id;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(is_account_id("123456789012"));
        assert!(!is_account_id("12345678901"));
        assert!(!is_account_id("1234567890123"));
        assert!(!is_account_id("12345678901a"));
        assert!(!is_account_id(""));
    }
}
