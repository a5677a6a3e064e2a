//! Account-wide IAM reads whose call count does not grow with the number of users.

use aws_sdk_iam::types::EntityType;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::{classify, AwsError};
use super::iam::{decode_policy_document, AttachedPolicy, Iam};
use super::to_utc;

/// One user as GetAccountAuthorizationDetails describes it.
#[derive(Debug, Clone, Serialize)]
pub struct UserDetail {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub created: DateTime<Utc>,
    /// Inline policies: name and decoded document.
    pub inline_policies: Vec<(String, String)>,
    pub groups: Vec<String>,
    pub attached_policies: Vec<AttachedPolicy>,
    pub tags: Vec<(String, String)>,
}

impl UserDetail {
    pub fn inline_policy(&self, name: &str) -> Option<&str> {
        self.inline_policies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.as_str())
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl Iam {
    /// iam:GetAccountAuthorizationDetails with Filter=User, every page: all users with their inline
    /// policies, groups, attached policies and tags. `page_size` is MaxItems per call (IAM's default
    /// is 100; at most 1000).
    pub async fn account_users(&self, page_size: Option<i32>) -> Result<Vec<UserDetail>, AwsError> {
        let mut req = self
            .sdk()
            .get_account_authorization_details()
            .filter(EntityType::User);
        if let Some(n) = page_size {
            req = req.max_items(n);
        }
        let mut pages = req.into_paginator().send();
        let mut users = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:GetAccountAuthorizationDetails", e))?;
            for u in page.user_detail_list() {
                users.push(UserDetail {
                    name: u.user_name().unwrap_or_default().to_string(),
                    arn: u.arn().unwrap_or_default().to_string(),
                    path: u.path().unwrap_or_default().to_string(),
                    created: u.create_date().map(to_utc).unwrap_or_default(),
                    inline_policies: u
                        .user_policy_list()
                        .iter()
                        .map(|p| {
                            (
                                p.policy_name().unwrap_or_default().to_string(),
                                decode_policy_document(p.policy_document().unwrap_or_default()),
                            )
                        })
                        .collect(),
                    groups: u.group_list().to_vec(),
                    attached_policies: u
                        .attached_managed_policies()
                        .iter()
                        .map(|p| AttachedPolicy {
                            name: p.policy_name().unwrap_or_default().to_string(),
                            arn: p.policy_arn().unwrap_or_default().to_string(),
                        })
                        .collect(),
                    tags: u
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect(),
                });
            }
        }
        Ok(users)
    }
}
