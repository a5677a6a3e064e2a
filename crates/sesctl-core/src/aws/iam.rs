//! IAM calls, in sesctl's own types. Each method's doc names the IAM action it needs; the operator
//! policy in `policies/sesctl-operator.json` grants exactly these. Every list call follows all pages.

use aws_sdk_iam::types::{StatusType, Tag};
use aws_sdk_iam::Client;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::{classify, found, AwsError, ErrorKind};
use super::to_utc;
use crate::secret::Secret;

/// An IAM user.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub created: DateTime<Utc>,
}

/// Whether an access key can sign requests (and log in to SMTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl std::fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        })
    }
}

/// An existing access key (without its secret, which IAM never returns again).
#[derive(Debug, Clone, Serialize)]
pub struct AccessKey {
    pub id: String,
    pub status: KeyStatus,
    pub created: DateTime<Utc>,
}

/// A key just created: the only moment its secret exists.
#[derive(Debug)]
pub struct NewAccessKey {
    pub id: String,
    pub secret: Secret,
    pub created: DateTime<Utc>,
}

/// When and where a key was last used, as IAM reports it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyLastUsed {
    pub date: Option<DateTime<Utc>>,
    pub service: Option<String>,
    pub region: Option<String>,
}

/// A managed policy attached to a user or group.
#[derive(Debug, Clone, Serialize)]
pub struct AttachedPolicy {
    pub name: String,
    pub arn: String,
}

/// Decodes a policy document as IAM returns it (URL-encoded JSON).
pub fn decode_policy_document(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

fn status_of(s: Option<&StatusType>) -> KeyStatus {
    match s {
        Some(StatusType::Active) => KeyStatus::Active,
        _ => KeyStatus::Inactive,
    }
}

/// IAM, through sesctl's types.
#[derive(Clone)]
pub struct Iam {
    client: Client,
}

impl Iam {
    pub(crate) fn new(client: Client) -> Self {
        Iam { client }
    }

    // ---- users ----

    /// iam:GetUser. `None` when the user does not exist.
    pub async fn get_user(&self, name: &str) -> Result<Option<User>, AwsError> {
        match found("iam:GetUser", self.client.get_user().user_name(name).send().await)? {
            Some(out) => Ok(out.user().map(|u| User {
                name: u.user_name().to_string(),
                arn: u.arn().to_string(),
                path: u.path().to_string(),
                created: to_utc(u.create_date()),
            })),
            None => Ok(None),
        }
    }

    /// iam:CreateUser (and iam:TagUser when tags are given).
    pub async fn create_user(
        &self,
        name: &str,
        path: Option<&str>,
        tags: &[(String, String)],
    ) -> Result<User, AwsError> {
        let mut req = self.client.create_user().user_name(name);
        if let Some(p) = path {
            req = req.path(p);
        }
        for (k, v) in tags {
            req = req.tags(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .expect("key and value are set"),
            );
        }
        let out = req.send().await.map_err(|e| classify("iam:CreateUser", e))?;
        let u = out.user().ok_or_else(|| AwsError {
            kind: ErrorKind::Other,
            action: "iam:CreateUser",
            code: None,
            message: "the response named no user".into(),
        })?;
        Ok(User {
            name: u.user_name().to_string(),
            arn: u.arn().to_string(),
            path: u.path().to_string(),
            created: to_utc(u.create_date()),
        })
    }

    /// iam:DeleteUser. The user must have no keys, policies or memberships left.
    pub async fn delete_user(&self, name: &str) -> Result<(), AwsError> {
        self.client
            .delete_user()
            .user_name(name)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteUser", e))?;
        Ok(())
    }

    /// iam:ListUserTags (all pages).
    pub async fn list_user_tags(&self, name: &str) -> Result<Vec<(String, String)>, AwsError> {
        let mut pages = self
            .client
            .list_user_tags()
            .user_name(name)
            .into_paginator()
            .send();
        let mut tags = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:ListUserTags", e))?;
            tags.extend(
                page.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string())),
            );
        }
        Ok(tags)
    }

    /// iam:UntagUser.
    pub async fn untag_user(&self, name: &str, keys: &[&str]) -> Result<(), AwsError> {
        let mut req = self.client.untag_user().user_name(name);
        for k in keys {
            req = req.tag_keys(*k);
        }
        req.send().await.map_err(|e| classify("iam:UntagUser", e))?;
        Ok(())
    }

    // ---- groups ----

    /// iam:GetGroup (first page only: used to learn whether the group exists).
    pub async fn group_exists(&self, group: &str) -> Result<bool, AwsError> {
        match found(
            "iam:GetGroup",
            self.client
                .get_group()
                .group_name(group)
                .max_items(1)
                .send()
                .await,
        )? {
            Some(_) => Ok(true),
            None => Ok(false),
        }
    }

    /// iam:GetGroup (all pages, 1,000 members a page): the names of the group's members. One read
    /// confirms up to a thousand memberships, where iam:ListGroupsForUser confirms one.
    pub async fn group_members(&self, group: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .client
            .get_group()
            .group_name(group)
            .max_items(1000)
            .into_paginator()
            .send();
        let mut members = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:GetGroup", e))?;
            members.extend(page.users().iter().map(|u| u.user_name().to_string()));
        }
        Ok(members)
    }

    /// iam:CreateGroup.
    pub async fn create_group(&self, group: &str) -> Result<(), AwsError> {
        self.client
            .create_group()
            .group_name(group)
            .send()
            .await
            .map_err(|e| classify("iam:CreateGroup", e))?;
        Ok(())
    }

    /// iam:AddUserToGroup (idempotent in IAM: adding a member again succeeds).
    pub async fn add_user_to_group(&self, group: &str, user: &str) -> Result<(), AwsError> {
        self.client
            .add_user_to_group()
            .group_name(group)
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify("iam:AddUserToGroup", e))?;
        Ok(())
    }

    /// iam:RemoveUserFromGroup.
    pub async fn remove_user_from_group(&self, group: &str, user: &str) -> Result<(), AwsError> {
        self.client
            .remove_user_from_group()
            .group_name(group)
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify("iam:RemoveUserFromGroup", e))?;
        Ok(())
    }

    /// iam:ListGroupsForUser (all pages): the names of the user's groups.
    pub async fn list_groups_for_user(&self, user: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .client
            .list_groups_for_user()
            .user_name(user)
            .into_paginator()
            .send();
        let mut groups = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:ListGroupsForUser", e))?;
            groups.extend(page.groups().iter().map(|g| g.group_name().to_string()));
        }
        Ok(groups)
    }

    /// iam:ListAttachedGroupPolicies (all pages).
    pub async fn list_attached_group_policies(&self, group: &str) -> Result<Vec<AttachedPolicy>, AwsError> {
        let mut pages = self
            .client
            .list_attached_group_policies()
            .group_name(group)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:ListAttachedGroupPolicies", e))?;
            out.extend(page.attached_policies().iter().map(|p| AttachedPolicy {
                name: p.policy_name().unwrap_or_default().to_string(),
                arn: p.policy_arn().unwrap_or_default().to_string(),
            }));
        }
        Ok(out)
    }

    /// iam:AttachGroupPolicy.
    pub async fn attach_group_policy(&self, group: &str, policy_arn: &str) -> Result<(), AwsError> {
        self.client
            .attach_group_policy()
            .group_name(group)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|e| classify("iam:AttachGroupPolicy", e))?;
        Ok(())
    }

    /// iam:ListGroupPolicies (all pages): names of the group's inline policies.
    pub async fn list_group_policies(&self, group: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .client
            .list_group_policies()
            .group_name(group)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:ListGroupPolicies", e))?;
            out.extend(page.policy_names().iter().cloned());
        }
        Ok(out)
    }

    /// iam:GetGroupPolicy: the decoded document of an inline group policy, `None` if absent.
    pub async fn get_group_policy(&self, group: &str, policy: &str) -> Result<Option<String>, AwsError> {
        match found(
            "iam:GetGroupPolicy",
            self.client
                .get_group_policy()
                .group_name(group)
                .policy_name(policy)
                .send()
                .await,
        )? {
            Some(out) => Ok(Some(decode_policy_document(out.policy_document()))),
            None => Ok(None),
        }
    }

    // ---- managed policies ----

    /// iam:CreatePolicy: returns the new policy's ARN.
    pub async fn create_policy(
        &self,
        name: &str,
        document: &str,
        description: &str,
    ) -> Result<String, AwsError> {
        let out = self
            .client
            .create_policy()
            .policy_name(name)
            .policy_document(document)
            .description(description)
            .send()
            .await
            .map_err(|e| classify("iam:CreatePolicy", e))?;
        Ok(out.policy().and_then(|p| p.arn()).unwrap_or_default().to_string())
    }

    /// iam:GetPolicy then iam:GetPolicyVersion: the decoded default version's document, `None` if the
    /// policy does not exist.
    pub async fn get_policy_document(&self, arn: &str) -> Result<Option<String>, AwsError> {
        let Some(out) = found(
            "iam:GetPolicy",
            self.client.get_policy().policy_arn(arn).send().await,
        )?
        else {
            return Ok(None);
        };
        let policy = out.policy;
        let Some(version) = policy.and_then(|p| p.default_version_id) else {
            return Ok(None);
        };
        let out = self
            .client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| classify("iam:GetPolicyVersion", e))?;
        Ok(out
            .policy_version()
            .and_then(|v| v.document())
            .map(decode_policy_document))
    }

    // ---- user policies ----

    /// iam:ListUserPolicies (all pages): names of the user's inline policies.
    pub async fn list_user_policies(&self, user: &str) -> Result<Vec<String>, AwsError> {
        let mut pages = self
            .client
            .list_user_policies()
            .user_name(user)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:ListUserPolicies", e))?;
            out.extend(page.policy_names().iter().cloned());
        }
        Ok(out)
    }

    /// iam:GetUserPolicy: the decoded document, `None` if absent.
    pub async fn get_user_policy(&self, user: &str, policy: &str) -> Result<Option<String>, AwsError> {
        match found(
            "iam:GetUserPolicy",
            self.client
                .get_user_policy()
                .user_name(user)
                .policy_name(policy)
                .send()
                .await,
        )? {
            Some(out) => Ok(Some(decode_policy_document(out.policy_document()))),
            None => Ok(None),
        }
    }

    /// iam:PutUserPolicy.
    pub async fn put_user_policy(&self, user: &str, policy: &str, document: &str) -> Result<(), AwsError> {
        self.client
            .put_user_policy()
            .user_name(user)
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await
            .map_err(|e| classify("iam:PutUserPolicy", e))?;
        Ok(())
    }

    /// iam:DeleteUserPolicy.
    pub async fn delete_user_policy(&self, user: &str, policy: &str) -> Result<(), AwsError> {
        self.client
            .delete_user_policy()
            .user_name(user)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteUserPolicy", e))?;
        Ok(())
    }

    /// iam:DeleteUserPolicy, one attempt (the SDK retries nothing), so that a `NoSuchEntity` is known
    /// to answer this attempt and not a retry of one whose answer was lost.
    pub async fn delete_user_policy_once(&self, user: &str, policy: &str) -> Result<(), AwsError> {
        self.client
            .delete_user_policy()
            .user_name(user)
            .policy_name(policy)
            .customize()
            .config_override(
                aws_sdk_iam::config::Builder::default()
                    .retry_config(aws_smithy_types::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| classify("iam:DeleteUserPolicy", e))?;
        Ok(())
    }

    /// iam:ListAttachedUserPolicies (all pages).
    pub async fn list_attached_user_policies(&self, user: &str) -> Result<Vec<AttachedPolicy>, AwsError> {
        let mut pages = self
            .client
            .list_attached_user_policies()
            .user_name(user)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:ListAttachedUserPolicies", e))?;
            out.extend(page.attached_policies().iter().map(|p| AttachedPolicy {
                name: p.policy_name().unwrap_or_default().to_string(),
                arn: p.policy_arn().unwrap_or_default().to_string(),
            }));
        }
        Ok(out)
    }

    /// iam:DetachUserPolicy.
    pub async fn detach_user_policy(&self, user: &str, policy_arn: &str) -> Result<(), AwsError> {
        self.client
            .detach_user_policy()
            .user_name(user)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|e| classify("iam:DetachUserPolicy", e))?;
        Ok(())
    }

    // ---- access keys ----

    /// iam:CreateAccessKey. The returned secret exists nowhere else: deliver it or delete the key.
    pub async fn create_access_key(&self, user: &str) -> Result<NewAccessKey, AwsError> {
        let out = self
            .client
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .map_err(|e| classify("iam:CreateAccessKey", e))?;
        new_access_key(out)
    }

    /// iam:CreateAccessKey, one attempt: the SDK does not retry it, so the caller knows that a
    /// refusal (`LimitExceeded`) belongs to the only attempt made, and can look for a key a failed
    /// attempt created before its answer was lost before it tries again.
    pub async fn create_access_key_once(&self, user: &str) -> Result<NewAccessKey, AwsError> {
        let out = self
            .client
            .create_access_key()
            .user_name(user)
            .customize()
            .config_override(
                aws_sdk_iam::config::Builder::default()
                    .retry_config(aws_smithy_types::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| classify("iam:CreateAccessKey", e))?;
        new_access_key(out)
    }

    /// How long one attempt of a call may take (`--api-timeout`), when set.
    pub fn attempt_timeout(&self) -> Option<std::time::Duration> {
        self.client
            .config()
            .timeout_config()
            .and_then(|t| t.operation_attempt_timeout())
    }

    /// The attempts a throttled call may take in a loop of single attempts: more than other
    /// failures, as the SDK's own retries allow ([`super::retry::throttling_attempts`]).
    pub fn throttled_attempts(&self) -> u32 {
        super::retry::throttling_attempts(self.max_attempts())
    }

    /// In a loop of single attempts, whether attempt number `attempt` that failed with `error` may be
    /// followed by another: only a transient failure (throttled, timed out, a network or server
    /// failure), within [`Self::max_attempts`], or [`Self::throttled_attempts`] when throttled.
    pub fn may_retry(&self, error: &AwsError, attempt: u32) -> bool {
        let transient = matches!(
            error.kind,
            ErrorKind::Throttled | ErrorKind::Timeout | ErrorKind::Network | ErrorKind::Other
        );
        let limit = if error.is(ErrorKind::Throttled) {
            self.throttled_attempts()
        } else {
            self.max_attempts()
        };
        transient && attempt < limit
    }

    /// The attempts the client makes per call (its retry configuration).
    pub fn max_attempts(&self) -> u32 {
        self.client
            .config()
            .retry_config()
            .map_or(3, |r| r.max_attempts())
            .max(1)
    }

    /// iam:ListAccessKeys (all pages).
    pub async fn list_access_keys(&self, user: &str) -> Result<Vec<AccessKey>, AwsError> {
        let mut pages = self
            .client
            .list_access_keys()
            .user_name(user)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:ListAccessKeys", e))?;
            out.extend(page.access_key_metadata().iter().map(|k| AccessKey {
                id: k.access_key_id().unwrap_or_default().to_string(),
                status: status_of(k.status()),
                created: k.create_date().map(to_utc).unwrap_or_default(),
            }));
        }
        Ok(out)
    }

    /// iam:UpdateAccessKey.
    pub async fn set_access_key_status(
        &self,
        user: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> Result<(), AwsError> {
        let status = match status {
            KeyStatus::Active => StatusType::Active,
            KeyStatus::Inactive => StatusType::Inactive,
        };
        self.client
            .update_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .status(status)
            .send()
            .await
            .map_err(|e| classify("iam:UpdateAccessKey", e))?;
        Ok(())
    }

    /// iam:DeleteAccessKey.
    pub async fn delete_access_key(&self, user: &str, key_id: &str) -> Result<(), AwsError> {
        self.client
            .delete_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .send()
            .await
            .map_err(|e| classify("iam:DeleteAccessKey", e))?;
        Ok(())
    }

    /// iam:GetAccessKeyLastUsed.
    pub async fn access_key_last_used(&self, key_id: &str) -> Result<KeyLastUsed, AwsError> {
        let out = self
            .client
            .get_access_key_last_used()
            .access_key_id(key_id)
            .send()
            .await
            .map_err(|e| classify("iam:GetAccessKeyLastUsed", e))?;
        let used = out.access_key_last_used();
        Ok(KeyLastUsed {
            date: used.and_then(|u| u.last_used_date()).map(to_utc),
            service: used
                .map(|u| u.service_name().to_string())
                .filter(|s| !s.is_empty() && s != "N/A"),
            region: used
                .map(|u| u.region().to_string())
                .filter(|s| !s.is_empty() && s != "N/A"),
        })
    }

    /// The raw SDK client, for the account-wide readers in this module's siblings.
    #[allow(dead_code)]
    pub(crate) fn sdk(&self) -> &Client {
        &self.client
    }
}

/// The new key in a CreateAccessKey answer; its secret goes straight into a [`Secret`].
fn new_access_key(
    out: aws_sdk_iam::operation::create_access_key::CreateAccessKeyOutput,
) -> Result<NewAccessKey, AwsError> {
    let key = out.access_key.ok_or_else(|| AwsError {
        kind: ErrorKind::Other,
        action: "iam:CreateAccessKey",
        code: None,
        message: "the response held no access key".into(),
    })?;
    let created = key.create_date.as_ref().map(to_utc).unwrap_or_else(Utc::now);
    Ok(NewAccessKey {
        id: key.access_key_id,
        secret: Secret::new(key.secret_access_key),
        created,
    })
}
