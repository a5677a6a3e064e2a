//! `verify`'s work beyond the login itself: reading a stored credential (the SPEC's secret JSON),
//! asking IAM about the access key when a login is rejected, and the report (data; the front end
//! renders it). Reading the credential fails with a [`VerifyError`].
//!
//! Neighbours: [`crate::smtp`] logs in and diagnoses; [`crate::aws`] reads IAM and Secrets Manager.

use std::fmt;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use crate::aws::iam::{Iam, KeyStatus};
use crate::aws::secrets::{Secrets, STAGE_CURRENT};
use crate::aws::{AwsError, ErrorKind};
use crate::credential::{FormatError, StoredCredential};
use crate::secret::Secret;
use crate::smtp::diagnosis::KeyState;
use crate::smtp::{LoginFailure, LoginOk, TlsMode};

/// How long the IAM look-up behind a diagnosis may take; a verdict without it beats a long wait.
const KEY_CHECK_LIMIT: Duration = Duration::from_secs(20);

/// Why a stored credential could not be read.
#[derive(Debug)]
pub enum VerifyError {
    /// secretsmanager:GetSecretValue failed.
    ReadSecret {
        name: String,
        region: String,
        error: AwsError,
    },
    /// There is no such secret in that region, or it has no AWSCURRENT version.
    NoSuchSecret { name: String, region: String },
    /// The value is not an SMTP credential the codec reads; `error` says what was seen, never the value.
    Unreadable { name: String, error: FormatError },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::ReadSecret { name, region, .. } => write!(f, "reading secret {name} in {region}"),
            VerifyError::NoSuchSecret { name, region } => write!(
                f,
                "secret {name} was not found in {region} (or has no AWSCURRENT version)"
            ),
            VerifyError::Unreadable { name, error } => write!(
                f,
                "secret {name} does not hold an SMTP credential sesctl can read: {error}; expected \
                 sesctl's JSON {{\"username\", \"password\", \"host\", \"port\", \"region\", ...}}, \
                 {{\"SMTP_USERNAME\", \"SMTP_PASSWORD\"}}, or AKID:password"
            ),
        }
    }
}

/// The AWS error is the source of [`VerifyError::ReadSecret`]. [`VerifyError::Unreadable`] gives none:
/// its message already quotes the format error, in the middle of the sentence.
impl std::error::Error for VerifyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VerifyError::ReadSecret { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Reads a stored credential in any shape the codec knows ([`StoredCredential`]: sesctl's JSON, other
/// tools' JSON, `AKID:password`; a port may be a string). The error says what was seen and what was
/// expected, never a value.
pub fn read_credential(secret_string: &Secret, secret_name: &str) -> Result<StoredCredential, VerifyError> {
    StoredCredential::parse(secret_string).map_err(|error| VerifyError::Unreadable {
        name: secret_name.to_string(),
        error,
    })
}

/// Reads the credential stored in secret `name` (secretsmanager:GetSecretValue, AWSCURRENT) in
/// `region`, with [`read_credential`].
pub async fn read_stored_credential(
    secrets: &Secrets,
    name: &str,
    region: &str,
) -> Result<StoredCredential, VerifyError> {
    let value = secrets
        .get_value(name, STAGE_CURRENT)
        .await
        .map_err(|error| VerifyError::ReadSecret {
            name: name.to_string(),
            region: region.to_string(),
            error,
        })?
        .ok_or_else(|| VerifyError::NoSuchSecret {
            name: name.to_string(),
            region: region.to_string(),
        })?;
    read_credential(&value.value, name)
}

/// What IAM says about access key `key_id` (iam:GetAccessKeyLastUsed, then iam:ListAccessKeys on its
/// user). `user_hint` (the secret's `iam_user_name`) is used when the owner cannot be looked up.
/// Never fails: an IAM that cannot be read is a state of its own.
pub async fn key_state(iam: &Iam, key_id: &str, user_hint: Option<&str>) -> KeyState {
    match tokio::time::timeout(KEY_CHECK_LIMIT, read_key_state(iam, key_id, user_hint)).await {
        Ok(state) => state,
        Err(_) => KeyState::Unreadable {
            reason: format!("IAM did not answer within {} s", KEY_CHECK_LIMIT.as_secs()),
        },
    }
}

async fn read_key_state(iam: &Iam, key_id: &str, user_hint: Option<&str>) -> KeyState {
    let user = match iam.access_key_owner(key_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return KeyState::Missing,
        Err(e) => match user_hint {
            Some(hint) => hint.to_string(),
            None => {
                return KeyState::Unreadable {
                    reason: e.to_string(),
                }
            }
        },
    };
    match iam.list_access_keys(&user).await {
        Ok(keys) => match keys.iter().find(|k| k.id == key_id) {
            Some(k) if k.status == KeyStatus::Inactive => KeyState::Inactive { user },
            Some(k) => KeyState::Active {
                user,
                created: k.created,
            },
            None => KeyState::Missing,
        },
        Err(e) if e.is(ErrorKind::NotFound) => KeyState::UserMissing { user },
        Err(e) => KeyState::Unreadable {
            reason: e.to_string(),
        },
    }
}

/// The result of `sesctl verify`.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub username: String,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<LoginFailure>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnosis: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyState>,
}

impl VerifyReport {
    pub fn succeeded(username: &str, ok: LoginOk) -> Self {
        VerifyReport {
            ok: true,
            username: username.to_string(),
            host: ok.host,
            port: ok.port,
            tls: ok.tls,
            tls_version: Some(ok.tls_version),
            mechanism: Some(ok.mechanism),
            failure: None,
            diagnosis: Vec::new(),
            key: None,
        }
    }

    pub fn failed(
        username: &str,
        tls: TlsMode,
        failure: LoginFailure,
        diagnosis: Vec<String>,
        key: KeyState,
    ) -> Self {
        VerifyReport {
            ok: false,
            username: username.to_string(),
            host: failure.host.clone(),
            port: failure.port,
            tls,
            tls_version: None,
            mechanism: None,
            failure: Some(failure),
            diagnosis,
            key: (key != KeyState::NotChecked).then_some(key),
        }
    }

    /// A diagnosis for a failed login, from the failure and the facts.
    pub fn diagnose(failure: &LoginFailure, facts: &crate::smtp::diagnosis::Facts) -> Vec<String> {
        crate::smtp::diagnosis::diagnose(failure, facts, Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_value_says_what_was_expected_and_names_no_flag() {
        let Err(e) = read_credential(&Secret::new("[".into()), "smtp/x") else {
            panic!("[ is not a credential");
        };
        let text = e.to_string();
        assert!(
            text.starts_with("secret smtp/x does not hold an SMTP credential sesctl can read: "),
            "{text}"
        );
        assert!(
            text.ends_with("{\"SMTP_USERNAME\", \"SMTP_PASSWORD\"}, or AKID:password"),
            "{text}"
        );
        assert!(std::error::Error::source(&e).is_none());
        let missing = VerifyError::NoSuchSecret {
            name: "smtp/x".into(),
            region: "eu-west-1".into(),
        };
        assert!(!missing.to_string().contains("--"), "{missing}");
    }
}
