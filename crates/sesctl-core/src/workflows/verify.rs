//! `verify`'s work beyond the login itself: reading a stored credential (the SPEC's secret JSON),
//! asking IAM about the access key when a login is rejected, and the report.
//!
//! Neighbours: [`crate::smtp`] logs in and diagnoses; [`crate::aws`] reads IAM and Secrets Manager.

use std::fmt;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use crate::aws::iam::{Iam, KeyStatus};
use crate::aws::ErrorKind;
use crate::credential::StoredCredential;
use crate::secret::Secret;
use crate::smtp::diagnosis::KeyState;
use crate::smtp::{LoginFailure, LoginOk, TlsMode};

/// How long the IAM look-up behind a diagnosis may take; a verdict without it beats a long wait.
const KEY_CHECK_LIMIT: Duration = Duration::from_secs(20);

/// Reads a stored credential in any shape the codec knows ([`StoredCredential`]: sesctl's JSON, other
/// tools' JSON, `AKID:password`; a port may be a string). The error says what was seen and what was
/// expected, never a value.
pub fn read_credential(secret_string: &Secret, secret_name: &str) -> anyhow::Result<StoredCredential> {
    StoredCredential::parse(secret_string).map_err(|e| {
        anyhow::anyhow!(
            "secret {secret_name} does not hold an SMTP credential sesctl can read: {e}; expected \
             sesctl's JSON {{\"username\", \"password\", \"host\", \"port\", \"region\", ...}}, \
             {{\"SMTP_USERNAME\", \"SMTP_PASSWORD\"}}, or AKID:password"
        )
    })
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

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => writeln!(
                f,
                "OK: {} logged in to {}:{} ({}, {}, AUTH {}); no mail was sent",
                self.username,
                self.host,
                self.port,
                self.tls,
                self.tls_version.as_deref().unwrap_or("unknown"),
                self.mechanism.as_deref().unwrap_or("?")
            ),
            Some(failure) => {
                writeln!(f, "FAILED: {failure}")?;
                if let (Some(code), Some(text)) = (failure.reply_code, &failure.reply_text) {
                    writeln!(f, "  server reply: {code} {text}")?;
                }
                if !self.diagnosis.is_empty() {
                    writeln!(f, "  diagnosis:")?;
                    for d in &self.diagnosis {
                        writeln!(f, "  - {d}")?;
                    }
                }
                Ok(())
            }
        }
    }
}
