//! A moto server that enforces IAM policies, for proving the operator policy
//! (`policies/sesctl-operator.json`) is enough and that every action in it is needed.
//!
//! moto counts the requests it serves; once `INITIAL_NO_AUTH_ACTION_COUNT` of them have been served it
//! checks every further request: the SigV4 signature must be one made with an access key moto itself
//! created (anything else, the test root credentials included, is refused with
//! `InvalidClientTokenId`), and the key's user must be allowed the action by its inline, attached and
//! group policies. So [`EnforcingMoto::start`] first works out how many requests its preparations take,
//! starts moto with exactly that count, makes them with the root test credentials (operator users with
//! their policies and keys, legacy users, pre-existing sending policies), and then checks that the root
//! credentials are refused: from there on only the operators' keys work.
//!
//! sesctl reaches that moto through `tests/support/sigv4_shim.py`, which works around one moto
//! limitation (it recomputes signatures of form-encoded requests from re-encoded parameters, so a
//! space in an IAM parameter breaks the check): the shim re-signs such requests with the same
//! operator key. The authorization decision stays moto's.

use std::collections::BTreeMap;

use super::{block_on, http, legacy, LoopbackService, Moto, Sesctl};

/// Something made with the root credentials before enforcement starts.
#[derive(Debug, Clone)]
pub enum Prep {
    /// An operator user with `policy` as its inline policy, and an access key (3 requests).
    Operator { label: String, policy: String },
    /// A user as the SES console made them before September 2024 (2 requests).
    LegacyUser(String),
    /// The customer-managed `AmazonSesSendingAccess` policy, not yet attached (1 request).
    ManagedSendingPolicy,
    /// The sending group with the console's inline `AmazonSesSendingAccess` policy (2 requests).
    InlineSendingGroup,
    /// A managed policy [`EXTRA_POLICY`] and a group [`EXTRA_GROUP`], for loaded users (2 requests).
    Extras,
    /// An SMTP user (console tag, console inline policy) holding everything `delete-user` removes: a
    /// login profile, an enabled virtual MFA device, a signing certificate, an SSH key, the attached
    /// [`EXTRA_POLICY`], membership of [`EXTRA_GROUP`], an access key, and a secret `smtp/NAME` in
    /// eu-west-1 naming it (11 requests). Needs [`Prep::Extras`] first.
    LoadedUser(String),
}

pub const EXTRA_POLICY: &str = "sesctl-test-attached";
pub const EXTRA_GROUP: &str = "sesctl-test-group";

impl Prep {
    fn requests(&self) -> usize {
        match self {
            Prep::Operator { .. } => 3,
            Prep::LegacyUser(_) => 2,
            Prep::ManagedSendingPolicy => 1,
            Prep::InlineSendingGroup => 2,
            Prep::Extras => 2,
            Prep::LoadedUser(_) => 11,
        }
    }
}

/// An operator's long-term credentials.
#[derive(Debug, Clone)]
pub struct Operator {
    pub user_name: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

pub struct EnforcingMoto {
    /// The shim in front of moto: where sesctl (and a fault proxy) should send requests.
    pub moto: Moto,
    /// moto itself.
    pub direct: Moto,
    pub operators: BTreeMap<String, Operator>,
    _shim: LoopbackService,
}

/// The operator policy with `action` taken out (the statement keeps its other actions).
pub fn policy_without(policy: &str, action: &str) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(policy).expect("the policy is JSON");
    let mut found = false;
    for st in doc["Statement"].as_array_mut().expect("a Statement list") {
        if let Some(actions) = st["Action"].as_array_mut() {
            let before = actions.len();
            actions.retain(|a| a.as_str() != Some(action));
            found |= actions.len() != before;
        }
    }
    assert!(found, "{action} is not in the policy");
    doc.to_string()
}

/// Every action the policy grants.
pub fn policy_actions(policy: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(policy).expect("the policy is JSON");
    let mut out = Vec::new();
    for st in doc["Statement"].as_array().expect("a Statement list") {
        assert_eq!(st["Effect"], "Allow");
        match &st["Action"] {
            serde_json::Value::String(a) => out.push(a.clone()),
            serde_json::Value::Array(list) => {
                out.extend(list.iter().map(|a| a.as_str().unwrap().to_string()))
            }
            other => panic!("unexpected Action {other}"),
        }
    }
    out
}

// One attempt per call: a retry would be one request more than counted.
fn root_iam(url: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&super::sdk_config_in(url, "us-east-1", Some(1)))
}

fn root_secretsmanager(url: &str) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&super::sdk_config_in(url, "eu-west-1", Some(1)))
}

async fn load_user(iam: &aws_sdk_iam::Client, sm: &aws_sdk_secretsmanager::Client, name: &str) {
    legacy::create_user(
        iam,
        name,
        &[("InvokedBy", "SESConsole")],
        Some(legacy::CONSOLE_POLICY),
    )
    .await;
    iam.create_login_profile()
        .user_name(name)
        .password("Aa1!sesctl-test-password")
        .send()
        .await
        .unwrap();
    let serial = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(name)
        .send()
        .await
        .unwrap()
        .virtual_mfa_device
        .unwrap()
        .serial_number;
    iam.enable_mfa_device()
        .user_name(name)
        .serial_number(serial)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap();
    iam.upload_signing_certificate()
        .user_name(name)
        .certificate_body(include_str!("../../support/signing-cert.pem"))
        .send()
        .await
        .unwrap();
    iam.upload_ssh_public_key()
        .user_name(name)
        .ssh_public_key_body("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC sesctl-test")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name(name)
        .policy_arn(format!("arn:aws:iam::123456789012:policy/{EXTRA_POLICY}"))
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name(EXTRA_GROUP)
        .user_name(name)
        .send()
        .await
        .unwrap();
    iam.create_access_key().user_name(name).send().await.unwrap();
    sm.create_secret()
        .name(format!("smtp/{name}"))
        .secret_string(serde_json::json!({"iam_user_name": name}).to_string())
        .send()
        .await
        .unwrap();
}

impl EnforcingMoto {
    /// Starts moto with `INITIAL_NO_AUTH_ACTION_COUNT` = the requests `preps` take, makes them, and
    /// checks that enforcement is on.
    pub fn start(preps: &[Prep]) -> EnforcingMoto {
        let count: usize = preps.iter().map(Prep::requests).sum();
        let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", &count.to_string())]);
        let iam = root_iam(&moto.url);
        let sm = root_secretsmanager(&moto.url);
        let mut operators = BTreeMap::new();
        block_on(async {
            for prep in preps {
                match prep {
                    Prep::Operator { label, policy } => {
                        let user_name = format!("operator-{label}");
                        iam.create_user().user_name(&user_name).send().await.unwrap();
                        iam.put_user_policy()
                            .user_name(&user_name)
                            .policy_name("sesctl-operator")
                            .policy_document(policy)
                            .send()
                            .await
                            .unwrap();
                        let key = iam
                            .create_access_key()
                            .user_name(&user_name)
                            .send()
                            .await
                            .unwrap()
                            .access_key
                            .unwrap();
                        operators.insert(
                            label.clone(),
                            Operator {
                                user_name,
                                access_key_id: key.access_key_id,
                                secret_access_key: key.secret_access_key,
                            },
                        );
                    }
                    Prep::LegacyUser(name) => {
                        legacy::create_user(
                            &iam,
                            name,
                            &[("InvokedBy", "SESConsole")],
                            Some(legacy::CONSOLE_POLICY),
                        )
                        .await
                    }
                    Prep::ManagedSendingPolicy => {
                        iam.create_policy()
                            .policy_name(legacy::POLICY)
                            .policy_document(legacy::CONSOLE_POLICY)
                            .send()
                            .await
                            .unwrap();
                    }
                    Prep::Extras => {
                        iam.create_policy()
                            .policy_name(EXTRA_POLICY)
                            .policy_document(legacy::CONSOLE_POLICY)
                            .send()
                            .await
                            .unwrap();
                        iam.create_group().group_name(EXTRA_GROUP).send().await.unwrap();
                    }
                    Prep::LoadedUser(name) => load_user(&iam, &sm, name).await,
                    Prep::InlineSendingGroup => {
                        iam.create_group().group_name(legacy::GROUP).send().await.unwrap();
                        iam.put_group_policy()
                            .group_name(legacy::GROUP)
                            .policy_name(legacy::POLICY)
                            .policy_document(legacy::CONSOLE_POLICY)
                            .send()
                            .await
                            .unwrap();
                    }
                }
            }
            // The count is spent: the root credentials, which moto did not create, are refused now.
            let refused = iam
                .get_user()
                .user_name("anyone")
                .send()
                .await
                .expect_err("moto enforces IAM after the counted requests");
            // moto answers in an EC2-style XML body the SDK does not parse, so read the raw reply.
            let raw = refused.raw_response().expect("an HTTP answer");
            let body = String::from_utf8_lossy(raw.body().bytes().unwrap_or_default()).into_owned();
            assert_eq!(raw.status().as_u16(), 403, "{body}");
            assert!(body.contains("InvalidClientTokenId"), "{body}");
        });
        let shim = LoopbackService::start("sigv4_shim.py", &moto.url);
        let url = shim.url.clone();
        let keys: serde_json::Map<String, serde_json::Value> = operators
            .values()
            .map(|o| (o.access_key_id.clone(), o.secret_access_key.clone().into()))
            .collect();
        let (status, _) = http(
            "POST",
            &format!("{url}/__shim/keys"),
            &serde_json::Value::Object(keys).to_string(),
        )
        .unwrap();
        assert_eq!(status, 200);
        EnforcingMoto {
            moto: Moto { url, _process: None },
            direct: moto,
            operators,
            _shim: shim,
        }
    }

    pub fn operator(&self, label: &str) -> &Operator {
        self.operators
            .get(label)
            .unwrap_or_else(|| panic!("no operator {label}"))
    }

    /// sesctl against `endpoint` (this moto, or a proxy in front of it) as the operator `label`.
    pub fn sesctl_via(&self, endpoint: &str, label: &str) -> Sesctl {
        let op = self.operator(label);
        Sesctl::at(endpoint)
            .env("AWS_ACCESS_KEY_ID", &op.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &op.secret_access_key)
    }

    /// sesctl straight against this moto as the operator `label`.
    pub fn sesctl(&self, label: &str) -> Sesctl {
        self.sesctl_via(&self.moto.url, label)
    }

    /// Raw SDK clients signed by the operator `label`, for reading state back (the root credentials
    /// no longer work).
    pub fn iam_as(&self, label: &str) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config_as(label))
    }

    pub fn secretsmanager_as(&self, label: &str, region: &str) -> aws_sdk_secretsmanager::Client {
        let conf = aws_sdk_secretsmanager::config::Builder::from(&self.config_as(label))
            .region(aws_config::Region::new(region.to_string()))
            .build();
        aws_sdk_secretsmanager::Client::from_conf(conf)
    }

    fn config_as(&self, label: &str) -> aws_config::SdkConfig {
        let op = self.operator(label);
        let creds = aws_credential_types::Credentials::new(
            &op.access_key_id,
            &op.secret_access_key,
            None,
            None,
            "operator",
        );
        block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(&self.moto.url)
                .credentials_provider(creds)
                .load(),
        )
    }
}
