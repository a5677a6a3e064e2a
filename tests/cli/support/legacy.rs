//! SMTP users as the SES console created them before 6 September 2024 (tag `InvokedBy=SESConsole`,
//! inline user policy `AmazonSesSendingAccess`), made with the raw SDK, and their state read back.

use futures::stream::{self, StreamExt};

use super::block_on;

pub const GROUP: &str = "AWSSESSendingGroupDoNotRename";
pub const POLICY: &str = "AmazonSesSendingAccess";
/// The console's inline policy, exactly.
pub const CONSOLE_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}"#;

fn tag(key: &str, value: &str) -> aws_sdk_iam::types::Tag {
    aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .unwrap()
}

/// Creates one user with the given tags and, when `policy` is given, that inline policy.
pub async fn create_user(iam: &aws_sdk_iam::Client, name: &str, tags: &[(&str, &str)], policy: Option<&str>) {
    let mut req = iam.create_user().user_name(name);
    for (k, v) in tags {
        req = req.tags(tag(k, v));
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("CreateUser {name}: {e:?}"));
    if let Some(doc) = policy {
        iam.put_user_policy()
            .user_name(name)
            .policy_name(POLICY)
            .policy_document(doc)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutUserPolicy {name}: {e:?}"));
    }
}

/// Creates legacy console users, 16 at a time.
pub fn create_legacy_users(endpoint: &str, names: &[String]) {
    let iam = super::iam(endpoint);
    block_on(stream::iter(names).for_each_concurrent(16, |n| {
        let iam = iam.clone();
        async move {
            create_user(&iam, n, &[("InvokedBy", "SESConsole")], Some(CONSOLE_POLICY)).await;
        }
    }));
}

/// Creates the sending group (without a policy: `setup` adds it) and puts `user` in it.
pub fn add_to_group(endpoint: &str, user: &str) {
    let iam = super::iam(endpoint);
    block_on(async {
        if let Err(e) = iam.create_group().group_name(GROUP).send().await {
            let e = e.into_service_error();
            assert!(e.is_entity_already_exists_exception(), "CreateGroup: {e:?}");
        }
        iam.add_user_to_group()
            .group_name(GROUP)
            .user_name(user)
            .send()
            .await
            .unwrap();
    });
}

pub fn delete_inline_policy(endpoint: &str, user: &str) {
    let iam = super::iam(endpoint);
    block_on(
        iam.delete_user_policy()
            .user_name(user)
            .policy_name(POLICY)
            .send(),
    )
    .unwrap();
}

/// What IAM holds for a user, read back independently of sesctl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyState {
    /// The inline policy document (URL-decoded), if any.
    pub policy: Option<String>,
    pub in_group: bool,
    pub tags: Vec<(String, String)>,
}

impl LegacyState {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The user can send: it keeps the inline policy or is in the group.
    pub fn can_send(&self) -> bool {
        self.policy.is_some() || self.in_group
    }

    pub fn is_migrated(&self) -> bool {
        self.policy.is_none() && self.in_group && self.tag("InvokedBy").is_none()
    }
}

pub fn state(endpoint: &str, user: &str) -> LegacyState {
    let iam = super::iam(endpoint);
    block_on(async {
        let policy = match iam
            .get_user_policy()
            .user_name(user)
            .policy_name(POLICY)
            .send()
            .await
        {
            Ok(out) => Some(
                percent_encoding::percent_decode_str(out.policy_document())
                    .decode_utf8_lossy()
                    .into_owned(),
            ),
            Err(e) => {
                let e = e.into_service_error();
                assert!(e.is_no_such_entity_exception(), "GetUserPolicy {user}: {e:?}");
                None
            }
        };
        let groups = iam.list_groups_for_user().user_name(user).send().await.unwrap();
        let tags = iam.list_user_tags().user_name(user).send().await.unwrap();
        LegacyState {
            policy,
            in_group: groups.groups().iter().any(|g| g.group_name() == GROUP),
            tags: tags
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        }
    })
}

/// Every user's state in one read (GetAccountAuthorizationDetails), for large runs.
pub fn all_states(endpoint: &str) -> Vec<(String, LegacyState)> {
    let iam = super::iam(endpoint);
    let pages = block_on(
        iam.get_account_authorization_details()
            .filter(aws_sdk_iam::types::EntityType::User)
            .into_paginator()
            .send()
            .collect::<Vec<_>>(),
    );
    let out: Vec<_> = pages
        .into_iter()
        .flat_map(|p| p.unwrap().user_detail_list.unwrap_or_default())
        .collect();
    out.into_iter()
        .map(|u| {
            (
                u.user_name().unwrap_or_default().to_string(),
                LegacyState {
                    policy: u
                        .user_policy_list()
                        .iter()
                        .find(|p| p.policy_name() == Some(POLICY))
                        .map(|p| {
                            percent_encoding::percent_decode_str(p.policy_document().unwrap_or_default())
                                .decode_utf8_lossy()
                                .into_owned()
                        }),
                    in_group: u.group_list().iter().any(|g| g == GROUP),
                    tags: u
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect(),
                },
            )
        })
        .collect()
}
