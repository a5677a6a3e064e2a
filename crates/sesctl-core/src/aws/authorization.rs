//! Account-wide reads of groups and managed policies (iam:GetAccountAuthorizationDetails), so that
//! whether a policy grants sending can be judged without one call per user or per policy.
//! Neighbour of `account.rs`, which reads the users the same way.

use std::collections::HashMap;

use aws_sdk_iam::types::EntityType;

use super::error::{classify, AwsError};
use super::iam::{decode_policy_document, AttachedPolicy, Iam};

/// A group with its inline and attached policies.
#[derive(Debug, Clone)]
pub struct GroupDetail {
    pub name: String,
    /// Inline policies: name and decoded document.
    pub inline_policies: Vec<(String, String)>,
    pub attached_policies: Vec<AttachedPolicy>,
}

/// Groups and the default-version documents of managed policies, by ARN.
#[derive(Debug, Clone, Default)]
pub struct AccountPolicies {
    pub groups: Vec<GroupDetail>,
    /// Policy ARN → decoded document of its default version.
    pub documents: HashMap<String, String>,
}

impl Iam {
    /// iam:GetAccountAuthorizationDetails with Filter=Group,LocalManagedPolicy,AWSManagedPolicy, every
    /// page: every group, every customer-managed policy, and the AWS-managed policies in use.
    pub async fn account_policies(&self, page_size: Option<i32>) -> Result<AccountPolicies, AwsError> {
        let mut req = self
            .sdk()
            .get_account_authorization_details()
            .filter(EntityType::Group)
            .filter(EntityType::LocalManagedPolicy)
            .filter(EntityType::AwsManagedPolicy);
        if let Some(n) = page_size {
            req = req.max_items(n);
        }
        let mut pages = req.into_paginator().send();
        let mut out = AccountPolicies::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("iam:GetAccountAuthorizationDetails", e))?;
            for g in page.group_detail_list() {
                out.groups.push(GroupDetail {
                    name: g.group_name().unwrap_or_default().to_string(),
                    inline_policies: g
                        .group_policy_list()
                        .iter()
                        .map(|p| {
                            (
                                p.policy_name().unwrap_or_default().to_string(),
                                decode_policy_document(p.policy_document().unwrap_or_default()),
                            )
                        })
                        .collect(),
                    attached_policies: g
                        .attached_managed_policies()
                        .iter()
                        .map(|p| AttachedPolicy {
                            name: p.policy_name().unwrap_or_default().to_string(),
                            arn: p.policy_arn().unwrap_or_default().to_string(),
                        })
                        .collect(),
                });
            }
            for p in page.policies() {
                let default = p
                    .policy_version_list()
                    .iter()
                    .find(|v| v.is_default_version())
                    .and_then(|v| v.document());
                if let (Some(arn), Some(doc)) = (p.arn(), default) {
                    out.documents.insert(arn.to_string(), decode_policy_document(doc));
                }
            }
        }
        Ok(out)
    }
}
