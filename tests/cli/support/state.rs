//! Accounts in a known state for the fault and crash tests, and their state read back through the raw
//! SDK clients (never through sesctl): a user's keys, groups, inline policies and tags; a secret's
//! versions and values; the sending group; the secret access keys moto handed out (from the fault
//! proxy's recorded CreateAccessKey answers). Also the fault rules, one kind at a time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

use super::{block_on, legacy, FaultProxy, Run, Sesctl};

pub const REGION: &str = "eu-west-1";
pub const GROUP: &str = "AWSSESSendingGroupDoNotRename";
pub const POLICY: &str = "AmazonSesSendingAccess";
pub const POLICY_ARN: &str = "arn:aws:iam::123456789012:policy/AmazonSesSendingAccess";

/// How one API action is failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 `ServiceFailure`, every attempt.
    Error,
    /// The service's throttling error, every attempt (beyond the retry budget).
    Throttle,
    /// The connection closed without an answer, every attempt (the call never reached the service).
    Drop,
    /// No answer within `--api-timeout`, every attempt (the call never reached the service).
    Hang,
    /// The call reaches the service and takes effect, but its answer is lost, every attempt.
    Lost,
    /// As `Lost`, for the first attempt only: the SDK's retry gets an answer.
    LostOnce,
}

impl Fault {
    pub fn label(self) -> &'static str {
        match self {
            Fault::Error => "500",
            Fault::Throttle => "throttled",
            Fault::Drop => "dropped",
            Fault::Hang => "timeout",
            Fault::Lost => "answer lost",
            Fault::LostOnce => "answer lost once",
        }
    }

    /// The proxy rule failing `action` (only requests whose body contains `matches`, after letting
    /// `skip` matching requests through).
    pub fn rule(self, action: &str, matches: Option<&str>, skip: u32) -> Value {
        let mut rule = match self {
            Fault::Error => json!({"fault": "error", "status": 500, "code": "ServiceFailure"}),
            Fault::Throttle => json!({"fault": "throttle"}),
            Fault::Drop => json!({"fault": "drop"}),
            Fault::Hang => json!({"fault": "hang", "seconds": HANG_SECONDS}),
            Fault::Lost => json!({"fault": "after"}),
            Fault::LostOnce => json!({"fault": "after", "times": 1}),
        };
        rule["action"] = json!(action);
        rule["skip"] = json!(skip);
        if let Some(m) = matches {
            rule["match"] = json!(m);
        }
        rule
    }
}

/// How long a hung request is held: longer than [`API_TIMEOUT`], so each attempt times out.
pub const HANG_SECONDS: u64 = 3;
/// `--api-timeout` for fault runs.
pub const API_TIMEOUT: &str = "2";
/// `--max-attempts` for fault runs.
pub const MAX_ATTEMPTS: &str = "2";

/// The rule that keeps CreateAccessKey's answers (and so the new keys' secrets) in the proxy log.
pub fn record_keys() -> Value {
    json!({"action": "CreateAccessKey", "fault": "record"})
}

/// sesctl through `proxy`, with the fault runs' retry and timeout settings.
pub fn sesctl(proxy: &FaultProxy, args: &[String]) -> Run {
    Sesctl::at(&proxy.url)
        .args(["--max-attempts", MAX_ATTEMPTS, "--api-timeout", API_TIMEOUT])
        .args(args)
        .run()
}

/// key id → secret access key, from the recorded CreateAccessKey answers.
pub fn recorded_keys(proxy: &FaultProxy) -> HashMap<String, String> {
    super::fixtures::recorded_key_pairs(proxy).into_iter().collect()
}

/// The v4 SMTP password of a secret access key for [`REGION`].
pub fn smtp_password(secret_access_key: &str) -> String {
    super::v4_password(secret_access_key, REGION)
}

// ---- IAM ----

/// One user as IAM holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserView {
    pub exists: bool,
    /// key id → "Active" / "Inactive"
    pub keys: BTreeMap<String, String>,
    pub groups: Vec<String>,
    pub inline_policies: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

impl UserView {
    pub fn active_keys(&self) -> Vec<&str> {
        self.keys
            .iter()
            .filter(|(_, s)| *s == "Active")
            .map(|(k, _)| k.as_str())
            .collect()
    }

    pub fn in_group(&self) -> bool {
        self.groups.iter().any(|g| g == GROUP)
    }
}

pub fn user_view(url: &str, name: &str) -> UserView {
    let iam = super::iam(url);
    block_on(async {
        if iam.get_user().user_name(name).send().await.is_err() {
            return UserView::default();
        }
        let keys = iam.list_access_keys().user_name(name).send().await.unwrap();
        let groups = iam.list_groups_for_user().user_name(name).send().await.unwrap();
        let policies = iam.list_user_policies().user_name(name).send().await.unwrap();
        let tags = iam.list_user_tags().user_name(name).send().await.unwrap();
        UserView {
            exists: true,
            keys: keys
                .access_key_metadata()
                .iter()
                .map(|k| {
                    (
                        k.access_key_id().unwrap().to_string(),
                        k.status().unwrap().as_str().to_string(),
                    )
                })
                .collect(),
            groups: groups
                .groups()
                .iter()
                .map(|g| g.group_name().to_string())
                .collect(),
            inline_policies: policies.policy_names().to_vec(),
            tags: tags
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        }
    })
}

/// The sending group as IAM holds it: whether it exists, its attached policy ARNs, its inline
/// policies, and the customer-managed policies named `AmazonSesSendingAccess` with their documents.
#[derive(Debug, Clone, Default)]
pub struct GroupView {
    pub exists: bool,
    pub attached: Vec<String>,
    pub inline: Vec<String>,
    pub policies: Vec<(String, String)>,
}

impl GroupView {
    /// `setup`'s intended state: the group, with exactly the one managed policy attached, allowing
    /// ses:SendRawEmail, and nothing duplicated.
    #[track_caller]
    pub fn assert_ready(&self) {
        assert!(self.exists, "the group exists: {self:?}");
        assert_eq!(self.attached, [POLICY_ARN], "{self:?}");
        assert!(self.inline.is_empty(), "{self:?}");
        assert_eq!(self.policies.len(), 1, "one policy of that name: {self:?}");
        assert!(self.policies[0].1.contains("ses:SendRawEmail"), "{self:?}");
    }
}

pub fn group_view(url: &str) -> GroupView {
    let iam = super::iam(url);
    block_on(async {
        let mut view = GroupView {
            exists: iam.get_group().group_name(GROUP).send().await.is_ok(),
            ..GroupView::default()
        };
        if view.exists {
            let attached = iam
                .list_attached_group_policies()
                .group_name(GROUP)
                .send()
                .await
                .unwrap();
            view.attached = attached
                .attached_policies()
                .iter()
                .map(|p| p.policy_arn().unwrap_or_default().to_string())
                .collect();
            let inline = iam.list_group_policies().group_name(GROUP).send().await.unwrap();
            view.inline = inline.policy_names().to_vec();
        }
        let local = iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .send()
            .await
            .unwrap();
        for p in local
            .policies()
            .iter()
            .filter(|p| p.policy_name() == Some(POLICY))
        {
            let arn = p.arn().unwrap().to_string();
            let version = iam
                .get_policy_version()
                .policy_arn(&arn)
                .version_id(p.default_version_id().unwrap())
                .send()
                .await
                .unwrap();
            let doc = version
                .policy_version()
                .and_then(|v| v.document())
                .map(sesctl::aws::iam::decode_policy_document)
                .unwrap_or_default();
            view.policies.push((arn, doc));
        }
        view
    })
}

// ---- Secrets Manager ----

/// One secret as Secrets Manager holds it.
#[derive(Debug, Clone, Default)]
pub struct SecretView {
    pub exists: bool,
    pub scheduled_for_deletion: bool,
    /// version id → staging labels (versions without a label left out)
    pub stages: BTreeMap<String, Vec<String>>,
    /// staging label → the value (as JSON) of the version holding it
    pub values: BTreeMap<String, Value>,
}

impl SecretView {
    pub fn version_with(&self, stage: &str) -> Option<&str> {
        self.stages
            .iter()
            .find(|(_, s)| s.iter().any(|x| x == stage))
            .map(|(v, _)| v.as_str())
    }

    pub fn key_at(&self, stage: &str) -> Option<&str> {
        self.values.get(stage)?["access_key_id"].as_str()
    }
}

pub fn secret_view(url: &str, name: &str) -> SecretView {
    let sm = super::secretsmanager(url, REGION);
    block_on(async {
        let Ok(described) = sm.describe_secret().secret_id(name).send().await else {
            return SecretView::default();
        };
        let mut view = SecretView {
            exists: true,
            scheduled_for_deletion: described.deleted_date().is_some(),
            ..SecretView::default()
        };
        if view.scheduled_for_deletion {
            return view;
        }
        view.stages = described
            .version_ids_to_stages()
            .map(|m| {
                m.iter()
                    .filter(|(_, s)| !s.is_empty())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for stage in ["AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"] {
            if view.version_with(stage).is_none() {
                continue;
            }
            let out = sm
                .get_secret_value()
                .secret_id(name)
                .version_stage(stage)
                .send()
                .await
                .unwrap();
            view.values.insert(
                stage.to_string(),
                serde_json::from_str(out.secret_string().unwrap()).unwrap(),
            );
        }
        view
    })
}

// ---- fixtures ----

/// A user with one active key and a secret (named `secret`) holding that key's credential in
/// sesctl's format, made with the raw SDK: what `create-user --secret-name` leaves. Returns the key id.
pub fn smtp_user_with_secret(url: &str, user: &str, secret: &str) -> String {
    let iam = super::iam(url);
    block_on(iam.create_user().user_name(user).send()).unwrap();
    let key = block_on(iam.create_access_key().user_name(user).send())
        .unwrap()
        .access_key
        .unwrap();
    let value = super::fixtures::credential_json(
        user,
        &key.access_key_id,
        &smtp_password(&key.secret_access_key),
        REGION,
    );
    block_on(
        super::secretsmanager(url, REGION)
            .create_secret()
            .name(secret)
            .secret_string(value.to_string())
            .send(),
    )
    .unwrap();
    key.access_key_id
}

/// An SMTP user as the console made them before September 2024 (inline policy, InvokedBy tag).
pub fn legacy_user(url: &str, user: &str) {
    let iam = super::iam(url);
    block_on(legacy::create_user(
        &iam,
        user,
        &[("InvokedBy", "SESConsole")],
        Some(legacy::CONSOLE_POLICY),
    ));
}

/// Runs `sesctl setup` against `url` once per server (straight at moto, no proxy), so that commands
/// which run setup's reads find the group ready and change nothing account-wide.
pub fn ensure_setup(url: &str) {
    static DONE: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let done = DONE.get_or_init(|| Mutex::new(Vec::new()));
    let mut done = done.lock().unwrap();
    if done.iter().any(|u| u == url) {
        return;
    }
    Sesctl::at(url).args(["setup"]).run().assert_ok();
    done.push(url.to_string());
}
