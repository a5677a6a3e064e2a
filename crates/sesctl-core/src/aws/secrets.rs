//! Secrets Manager calls, in sesctl's own types. Each method's doc names the action it needs.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::types::Tag;
use aws_sdk_secretsmanager::Client;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::{classify, found, AwsError};
use super::to_utc;
use crate::secret::Secret;

pub use crate::vocabulary::{STAGE_CURRENT, STAGE_PENDING, STAGE_PREVIOUS};

/// What DescribeSecret says of a secret (never its value).
#[derive(Debug, Clone, Serialize)]
pub struct SecretInfo {
    pub arn: String,
    pub name: String,
    /// version id → staging labels.
    pub versions: BTreeMap<String, Vec<String>>,
    pub tags: Vec<(String, String)>,
    /// Set when the secret is scheduled for deletion.
    pub deleted: Option<DateTime<Utc>>,
}

impl SecretInfo {
    /// The version that carries `stage`, if any.
    pub fn version_with_stage(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(v, _)| v.as_str())
    }
}

/// One version of a secret's value.
#[derive(Debug)]
pub struct SecretValue {
    pub version_id: String,
    pub stages: Vec<String>,
    pub value: Secret,
}

/// Secrets Manager, through sesctl's types.
#[derive(Clone)]
pub struct Secrets {
    client: Client,
}

impl Secrets {
    pub(crate) fn new(client: Client) -> Self {
        Secrets { client }
    }

    /// secretsmanager:DescribeSecret. `None` when no secret of that name or ARN exists.
    pub async fn describe(&self, secret_id: &str) -> Result<Option<SecretInfo>, AwsError> {
        match found(
            "secretsmanager:DescribeSecret",
            self.client.describe_secret().secret_id(secret_id).send().await,
        )? {
            Some(out) => Ok(Some(SecretInfo {
                arn: out.arn().unwrap_or_default().to_string(),
                name: out.name().unwrap_or_default().to_string(),
                versions: out
                    .version_ids_to_stages()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                tags: out
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
                deleted: out.deleted_date().map(to_utc),
            })),
            None => Ok(None),
        }
    }

    /// secretsmanager:CreateSecret (and secretsmanager:TagResource for the tags). The client request
    /// token makes a retried call idempotent: the SDK's retries never create two versions.
    pub async fn create(
        &self,
        name: &str,
        value: &Secret,
        description: &str,
        kms_key_id: Option<&str>,
        tags: &[(String, String)],
        request_token: &str,
    ) -> Result<String, AwsError> {
        let mut req = self
            .client
            .create_secret()
            .name(name)
            .description(description)
            .secret_string(value.expose())
            .client_request_token(request_token);
        if let Some(k) = kms_key_id {
            req = req.kms_key_id(k);
        }
        for (k, v) in tags {
            req = req.tags(Tag::builder().key(k).value(v).build());
        }
        let out = req
            .send()
            .await
            .map_err(|e| classify("secretsmanager:CreateSecret", e))?;
        Ok(out.arn().unwrap_or_default().to_string())
    }

    /// secretsmanager:GetSecretValue for a staging label. `None` if no version has that label.
    pub async fn get_value(&self, secret_id: &str, stage: &str) -> Result<Option<SecretValue>, AwsError> {
        match found(
            "secretsmanager:GetSecretValue",
            self.client
                .get_secret_value()
                .secret_id(secret_id)
                .version_stage(stage)
                .send()
                .await,
        )? {
            Some(mut out) => Ok(Some(SecretValue {
                version_id: out.version_id().unwrap_or_default().to_string(),
                stages: out.version_stages().to_vec(),
                value: Secret::new(out.secret_string.take().unwrap_or_default()),
            })),
            None => Ok(None),
        }
    }

    /// secretsmanager:GetSecretValue for one version. `None` when the version does not exist or holds
    /// no value yet (a rotation that Secrets Manager started and whose createSecret step has not
    /// stored anything).
    pub async fn get_version(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> Result<Option<SecretValue>, AwsError> {
        match found(
            "secretsmanager:GetSecretValue",
            self.client
                .get_secret_value()
                .secret_id(secret_id)
                .version_id(version_id)
                .send()
                .await,
        )? {
            Some(mut out) => match out.secret_string.take() {
                Some(value) if !value.is_empty() => Ok(Some(SecretValue {
                    version_id: out.version_id().unwrap_or_default().to_string(),
                    stages: out.version_stages().to_vec(),
                    value: Secret::new(value),
                })),
                Some(value) => {
                    drop(Secret::new(value));
                    Ok(None)
                }
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// secretsmanager:PutSecretValue for a rotation that Secrets Manager started: the version is the
    /// rotation's token, staged `AWSPENDING`, with the `RotationToken` the service passed to the
    /// rotation function when there is one.
    pub async fn put_pending_value(
        &self,
        secret_id: &str,
        value: &Secret,
        token: &str,
        rotation_token: Option<&str>,
    ) -> Result<String, AwsError> {
        let mut req = self
            .client
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(value.expose())
            .client_request_token(token)
            .version_stages(STAGE_PENDING);
        if let Some(t) = rotation_token {
            req = req.rotation_token(t);
        }
        let out = req
            .send()
            .await
            .map_err(|e| classify("secretsmanager:PutSecretValue", e))?;
        Ok(out.version_id().unwrap_or_default().to_string())
    }

    /// secretsmanager:PutSecretValue: a new version with the given staging labels; `version_id` is
    /// the client request token, so a retry of the same call stores nothing twice.
    pub async fn put_value(
        &self,
        secret_id: &str,
        value: &Secret,
        stages: &[&str],
        version_id: &str,
    ) -> Result<String, AwsError> {
        let mut req = self
            .client
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(value.expose())
            .client_request_token(version_id);
        for s in stages {
            req = req.version_stages(*s);
        }
        let out = req
            .send()
            .await
            .map_err(|e| classify("secretsmanager:PutSecretValue", e))?;
        Ok(out.version_id().unwrap_or_default().to_string())
    }

    /// secretsmanager:UpdateSecretVersionStage: moves `stage` to `to_version` (and off `from_version`).
    pub async fn move_stage(
        &self,
        secret_id: &str,
        stage: &str,
        to_version: Option<&str>,
        from_version: Option<&str>,
    ) -> Result<(), AwsError> {
        let mut req = self
            .client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(stage);
        if let Some(v) = to_version {
            req = req.move_to_version_id(v);
        }
        if let Some(v) = from_version {
            req = req.remove_from_version_id(v);
        }
        req.send()
            .await
            .map_err(|e| classify("secretsmanager:UpdateSecretVersionStage", e))?;
        Ok(())
    }

    /// secretsmanager:DeleteSecret: with `recovery_window_days` (7–30) the secret can be restored until
    /// then; `None` deletes it at once (used only to undo a secret this same run created).
    pub async fn delete(&self, secret_id: &str, recovery_window_days: Option<i64>) -> Result<(), AwsError> {
        let mut req = self.client.delete_secret().secret_id(secret_id);
        req = match recovery_window_days {
            Some(days) => req.recovery_window_in_days(days),
            None => req.force_delete_without_recovery(true),
        };
        req.send()
            .await
            .map_err(|e| classify("secretsmanager:DeleteSecret", e))?;
        Ok(())
    }
}
