//! The fixtures the test files share: a user with its credential in a secret, as
//! `sesctl create-user --secret-name` leaves it; the v4 SMTP password of a key; the secret access keys
//! moto handed out, recovered from the fault proxy's recording; and state read back through the raw
//! SDK clients (never through sesctl).

use serde_json::{json, Value};

use super::state::REGION;
use super::{block_on, iam, prefix, secretsmanager, FaultProxy, Sesctl};

// ---- a user with a secret ----

/// One test's user and secret names, unique to the run: (`<prefix>-user`, `smtp/<prefix>`).
pub fn names(test: &str) -> (String, String) {
    let p = prefix(test);
    (format!("{p}-user"), format!("smtp/{p}"))
}

/// `sesctl create-user <user> --region <region> --secret-name <secret>` (and `extra`) against `url`,
/// which must succeed: the user has one active key, its credential is in the secret in sesctl's
/// format.
pub fn create_user_with_secret(url: &str, region: &str, user: &str, secret: &str, extra: &[&str]) {
    Sesctl::at(url)
        .args(["create-user", user, "--region", region, "--secret-name", secret])
        .args(extra)
        .run()
        .assert_ok();
}

/// A user with its credential in a secret, made with `sesctl create-user` in eu-west-1 under names of
/// its own ([`names`]). Returns (user, secret).
pub fn user_with_secret(url: &str, test: &str) -> (String, String) {
    let (user, secret) = names(test);
    create_user_with_secret(url, REGION, &user, &secret, &[]);
    (user, secret)
}

/// A user with its credential in secret `smtp/<user>`, made with `sesctl create-user` through `proxy`,
/// whose rules are replaced to record moto's CreateAccessKey answer. Returns the key's secret access
/// key and its v4 SMTP password.
pub fn recorded_user_with_secret(proxy: &FaultProxy, user: &str) -> (String, String) {
    proxy.reset();
    proxy.set_rules(json!([super::state::record_keys()]));
    create_user_with_secret(&proxy.url, REGION, user, &format!("smtp/{user}"), &[]);
    let secret = recorded_key_secrets(proxy).pop().expect("a recorded key");
    let password = v4_password(&secret, REGION);
    (secret, password)
}

/// A credential in sesctl's secret format.
pub fn credential_json(user: &str, key_id: &str, password: &str, region: &str) -> Value {
    json!({
        "username": key_id,
        "password": password,
        "host": format!("email-smtp.{region}.amazonaws.com"),
        "port": 587,
        "region": region,
        "iam_user_name": user,
        "access_key_id": key_id,
    })
}

// ---- passwords and keys ----

/// The v4 SMTP password of a secret access key for `region`, as the tests compute it independently of
/// the binary (the derivation itself is checked against published vectors).
pub fn v4_password(secret_access_key: &str, region: &str) -> String {
    sesctl::smtp_password::smtp_password_v4(&sesctl::secret::Secret::new(secret_access_key.into()), region)
        .expose()
        .to_string()
}

/// The keys moto handed out, in order, from the proxy's recorded CreateAccessKey answers (the
/// `record` fault): (key id, secret access key).
pub fn recorded_key_pairs(proxy: &FaultProxy) -> Vec<(String, String)> {
    let (_, body) = super::http("GET", &format!("{}/__proxy/log", proxy.url), "").unwrap();
    let log: Value = serde_json::from_str(&body).unwrap();
    let field = |r: &str, name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = r.find(&open)? + open.len();
        let end = r[start..].find(&format!("</{name}>"))? + start;
        Some(r[start..end].to_string())
    };
    log.as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["response"].as_str())
        .filter_map(|r| Some((field(r, "AccessKeyId")?, field(r, "SecretAccessKey")?)))
        .collect()
}

/// The secret access keys moto handed out, in order, from the proxy's recorded CreateAccessKey
/// answers.
pub fn recorded_key_secrets(proxy: &FaultProxy) -> Vec<String> {
    recorded_key_pairs(proxy).into_iter().map(|(_, s)| s).collect()
}

// ---- state read back ----

/// A user's access keys as IAM (moto) lists them: (key id, status).
pub fn access_keys(endpoint: &str, user: &str) -> Vec<(String, String)> {
    let out = block_on(iam(endpoint).list_access_keys().user_name(user).send()).unwrap();
    let mut keys: Vec<(String, String)> = out
        .access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap_or_default().to_string(),
                k.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            )
        })
        .collect();
    keys.sort();
    keys
}

pub fn user_exists(url: &str, user: &str) -> bool {
    block_on(iam(url).get_user().user_name(user).send()).is_ok()
}

/// Whether Secrets Manager in `region` knows the secret (scheduled for deletion or not).
pub fn secret_exists(url: &str, region: &str, secret: &str) -> bool {
    block_on(
        secretsmanager(url, region)
            .describe_secret()
            .secret_id(secret)
            .send(),
    )
    .is_ok()
}

pub fn scheduled_for_deletion(url: &str, region: &str, secret: &str) -> bool {
    block_on(
        secretsmanager(url, region)
            .describe_secret()
            .secret_id(secret)
            .send(),
    )
    .unwrap()
    .deleted_date()
    .is_some()
}

/// The secret's value staged `stage`, parsed; None when it cannot be read.
pub fn secret_value(url: &str, region: &str, secret: &str, stage: &str) -> Option<Value> {
    let out = block_on(
        secretsmanager(url, region)
            .get_secret_value()
            .secret_id(secret)
            // By stage: moto answers a read without one from a version it never moves.
            .version_stage(stage)
            .send(),
    )
    .ok()?;
    serde_json::from_str(out.secret_string()?).ok()
}

/// The key id the secret's AWSCURRENT value holds.
pub fn current_key(url: &str, region: &str, secret: &str) -> String {
    let value = secret_value(url, region, secret, "AWSCURRENT").expect("the secret has a current value");
    value["access_key_id"].as_str().unwrap().to_string()
}
