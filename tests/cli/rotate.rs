//! `sesctl rotate` against real services on loopback: the built binary against moto (through the
//! fault-injecting proxy where a step must fail), with IAM and Secrets Manager read back through the
//! raw SDK clients.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{self, block_on, fixtures, prefix, FaultProxy, Moto, Sesctl};

/// A moto server for the rotate tests alone. They read secret access keys back from moto's state
/// dump, which fails as soon as any test in the server has left an access key behind a deleted user
/// (moto, unlike IAM, lets a user with keys be deleted; the create-user rollback tests do that on
/// purpose).
fn moto() -> &'static Moto {
    static SERVER: std::sync::OnceLock<Moto> = std::sync::OnceLock::new();
    SERVER.get_or_init(Moto::dedicated)
}

const REGION: &str = "eu-west-1";

// ---- fixtures and read-back ----

struct Fixture {
    url: String,
    user: String,
    secret: String,
    old_key: String,
    old_password: String,
}

/// A user with one key and a secret holding that key's credential (in sesctl's format), made with
/// the raw SDK. `secret_region` is where the secret lives, `stored_region` what it says.
fn fixture_in(url: &str, test: &str, secret_region: &str, stored_region: &str) -> Fixture {
    let p = prefix(test);
    let user = format!("{p}-user");
    let secret = format!("smtp/{p}");
    let iam = support::iam(url);
    block_on(iam.create_user().user_name(&user).send()).unwrap();
    let key = block_on(iam.create_access_key().user_name(&user).send())
        .unwrap()
        .access_key
        .unwrap();
    let old_password = format!("old-password-{p}");
    let value = fixtures::credential_json(&user, &key.access_key_id, &old_password, stored_region);
    block_on(
        support::secretsmanager(url, secret_region)
            .create_secret()
            .name(&secret)
            .secret_string(value.to_string())
            .send(),
    )
    .unwrap();
    Fixture {
        url: url.to_string(),
        user,
        secret,
        old_key: key.access_key_id,
        old_password,
    }
}

fn fixture(test: &str) -> Fixture {
    fixture_in(&moto().url, test, REGION, REGION)
}

/// The user's keys: id → status.
fn keys(url: &str, user: &str) -> BTreeMap<String, String> {
    let out = block_on(support::iam(url).list_access_keys().user_name(user).send()).unwrap();
    out.access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap().to_string(),
                k.status().unwrap().as_str().to_string(),
            )
        })
        .collect()
}

/// The secret's version id → staging labels.
fn stages(url: &str, region: &str, secret: &str) -> BTreeMap<String, Vec<String>> {
    let out = block_on(
        support::secretsmanager(url, region)
            .describe_secret()
            .secret_id(secret)
            .send(),
    )
    .unwrap();
    out.version_ids_to_stages()
        .unwrap()
        .iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn version_with(stages: &BTreeMap<String, Vec<String>>, stage: &str) -> Option<String> {
    stages
        .iter()
        .find(|(_, s)| s.iter().any(|x| x == stage))
        .map(|(v, _)| v.clone())
}

/// The secret's value at a stage, as JSON.
fn value(url: &str, region: &str, secret: &str, stage: &str) -> Value {
    fixtures::secret_value(url, region, secret, stage).unwrap()
}

/// The secret access key moto holds for a key (its state dump has it; the IAM API never returns it
/// twice), to search output for it and to check the stored password.
fn moto_secret_access_key(url: &str, key_id: &str) -> String {
    // moto builds the dump while other tests change its state; a dump taken mid-change fails, so
    // take another.
    let data: Value = (0..20)
        .find_map(|_| {
            let (status, body) = support::http("GET", &format!("{url}/moto-api/data.json"), "").ok()?;
            let parsed = serde_json::from_str(&body).ok().filter(|_| status == 200);
            if parsed.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            parsed
        })
        .unwrap_or_else(|| {
            let (status, body) = support::http("GET", &format!("{url}/moto-api/data.json"), "").unwrap();
            panic!(
                "moto's state dump: HTTP {status}: {}",
                &body[..body.len().min(400)]
            )
        });
    data["iam"]["AccessKey"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["access_key_id"] == key_id)
        .unwrap_or_else(|| panic!("moto has no key {key_id}"))["secret_access_key"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The error is one line (other stderr lines are the SDK's own warnings about the test's empty config).
#[track_caller]
fn assert_one_error_line(run: &support::Run) {
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("sesctl: error"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        !run.stderr.contains("\n  "),
        "no continuation lines: {}",
        run.stderr
    );
}

fn rotate(url: &str, args: &[&str]) -> support::Run {
    Sesctl::at(url).args(["rotate"]).args(args).run()
}

impl Fixture {
    fn rotate(&self, extra: &[&str]) -> support::Run {
        let mut args = vec![
            self.user.as_str(),
            "--secret-name",
            self.secret.as_str(),
            "--region",
            REGION,
        ];
        args.extend_from_slice(extra);
        rotate(&self.url, &args)
    }

    fn rotate_via(&self, url: &str, extra: &[&str]) -> support::Run {
        let mut args = vec![
            self.user.as_str(),
            "--secret-name",
            self.secret.as_str(),
            "--region",
            REGION,
        ];
        args.extend_from_slice(extra);
        rotate(url, &args)
    }

    fn keys(&self) -> BTreeMap<String, String> {
        keys(&self.url, &self.user)
    }

    fn stages(&self) -> BTreeMap<String, Vec<String>> {
        stages(&self.url, REGION, &self.secret)
    }

    fn current(&self) -> Value {
        value(&self.url, REGION, &self.secret, "AWSCURRENT")
    }

    /// The one key that is not the old one.
    fn new_key(&self) -> String {
        let keys = self.keys();
        let others: Vec<&String> = keys.keys().filter(|k| **k != self.old_key).collect();
        assert_eq!(others.len(), 1, "{keys:?}");
        others[0].clone()
    }

    /// Nothing changed: the old key alone and active, the original version current, nothing pending.
    #[track_caller]
    fn assert_untouched(&self, before: &BTreeMap<String, Vec<String>>) {
        assert_eq!(
            self.keys(),
            BTreeMap::from([(self.old_key.clone(), "Active".to_string())])
        );
        assert_eq!(
            version_with(&self.stages(), "AWSCURRENT"),
            version_with(before, "AWSCURRENT")
        );
        assert_eq!(
            version_with(&self.stages(), "AWSPENDING"),
            None,
            "{:?}",
            self.stages()
        );
        assert_eq!(self.current()["access_key_id"], self.old_key.as_str());
    }
}

/// The stored credential is the new key's, for `region`, in the SPEC's format, with a v4 password
/// derived from the key's real secret.
#[track_caller]
fn assert_credential_of(url: &str, stored: &Value, user: &str, key: &str, region: &str) {
    let secret = moto_secret_access_key(url, key);
    let password = support::v4_password(&secret, region);
    assert_eq!(stored, &fixtures::credential_json(user, key, &password, region));
}

// ---- one-shot rotation ----

#[test]
fn rotates_into_the_secret_and_deactivates_the_old_key() {
    let f = fixture("oneshot");
    let before = f.stages();
    let run = f.rotate(&[]);
    run.assert_ok();
    let new_key = f.new_key();
    assert_eq!(
        f.keys(),
        BTreeMap::from([
            (f.old_key.clone(), "Inactive".to_string()),
            (new_key.clone(), "Active".to_string())
        ])
    );
    let after = f.stages();
    assert_eq!(
        version_with(&after, "AWSPREVIOUS"),
        version_with(&before, "AWSCURRENT"),
        "the old version becomes AWSPREVIOUS: {after:?}"
    );
    assert_eq!(version_with(&after, "AWSPENDING"), None, "{after:?}");
    assert_credential_of(&f.url, &f.current(), &f.user, &new_key, REGION);
    assert_eq!(
        value(&f.url, REGION, &f.secret, "AWSPREVIOUS")["access_key_id"],
        f.old_key.as_str()
    );
    // Nothing secret in the output: neither the new password nor the new key's secret.
    let out = run.all_output();
    let password = f.current()["password"].as_str().unwrap().to_string();
    assert!(!out.contains(&password), "{out}");
    assert!(!out.contains(&moto_secret_access_key(&f.url, &new_key)), "{out}");
    assert!(run.stdout.contains(&new_key), "{}", run.stdout);
    assert!(run.stdout.contains("deactivated"), "{}", run.stdout);
}

#[test]
fn json_report_names_keys_and_versions_and_no_secret() {
    let f = fixture("json");
    let before = f.stages();
    let run = f.rotate(&["--old-key", "delete", "-o", "json"]);
    run.assert_ok();
    let report = run.json();
    let new_key = f.new_key();
    assert_eq!(report["access_key_id"], new_key.as_str());
    assert_eq!(report["old_access_key_id"], f.old_key.as_str());
    assert_eq!(report["old_key"], "deleted");
    assert_eq!(report["resumed"], false);
    assert_eq!(
        report["previous_version_id"].as_str(),
        version_with(&before, "AWSCURRENT").as_deref()
    );
    assert_eq!(
        report["version_id"].as_str(),
        version_with(&f.stages(), "AWSCURRENT").as_deref()
    );
    assert!(report.get("smtp_password").is_none());
    assert!(!run
        .all_output()
        .contains(f.current()["password"].as_str().unwrap()));
    // --old-key delete: the old key is gone.
    assert_eq!(f.keys(), BTreeMap::from([(new_key, "Active".to_string())]));
}

#[test]
fn without_region_the_region_stored_in_the_secret_is_used() {
    // The secret lives in us-east-1 (found through AWS_REGION) and holds a credential for eu-central-1.
    let url = &moto().url;
    let f = fixture_in(url, "storedregion", "us-east-1", "eu-central-1");
    let run = Sesctl::at(url)
        .env("AWS_REGION", "us-east-1")
        .args(["rotate", &f.user, "--secret-name", &f.secret])
        .run();
    run.assert_ok();
    let new_key = f.new_key();
    let stored = value(url, "us-east-1", &f.secret, "AWSCURRENT");
    assert_credential_of(url, &stored, &f.user, &new_key, "eu-central-1");

    // A secret ARN carries its region: no --region, no AWS_REGION needed.
    let arn = block_on(
        support::secretsmanager(url, "us-east-1")
            .describe_secret()
            .secret_id(&f.secret)
            .send(),
    )
    .unwrap()
    .arn()
    .unwrap()
    .to_string();
    let run = rotate(
        url,
        &[
            &f.user,
            "--secret-name",
            &arn,
            "--old-key",
            "delete",
            "--delete-inactive",
        ],
    );
    run.assert_ok();
    let stored = value(url, "us-east-1", &f.secret, "AWSCURRENT");
    let newest = stored["access_key_id"].as_str().unwrap().to_string();
    assert_ne!(newest, new_key);
    assert_credential_of(url, &stored, &f.user, &newest, "eu-central-1");
}

// ---- refusals before any change ----

#[test]
fn unknown_user_exits_1_naming_it_and_bad_names_exit_2() {
    let f = fixture("unknown");
    let missing = format!("{}-missing", f.user);
    let run = rotate(
        &f.url,
        &[&missing, "--secret-name", &f.secret, "--region", REGION],
    );
    run.assert_code(1);
    assert!(run.stderr.contains(&missing), "{}", run.stderr);
    assert_one_error_line(&run);

    let run = rotate(&f.url, &["bad name!", "--region", REGION]);
    run.assert_code(2);
    assert!(run.stderr.contains("bad name!"), "{}", run.stderr);
    // Exit 2 before any AWS call: an unreachable endpoint is never tried.
    let port = support::free_port();
    let run = rotate(
        &format!("http://127.0.0.1:{port}"),
        &["bad name!", "--region", REGION],
    );
    run.assert_code(2);
}

#[test]
fn a_secret_of_another_user_or_a_missing_secret_is_refused_before_creating_a_key() {
    let f = fixture("otheruser");
    let other = fixture("otheruser2");
    let before = f.stages();
    // f's user with other's secret.
    let run = rotate(
        &f.url,
        &[&f.user, "--secret-name", &other.secret, "--region", REGION],
    );
    run.assert_code(1);
    assert!(run.stderr.contains(&other.user), "{}", run.stderr);
    f.assert_untouched(&before);
    assert_eq!(other.keys().len(), 1);

    let run = rotate(
        &f.url,
        &[
            &f.user,
            "--secret-name",
            &format!("{}-nope", f.secret),
            "--region",
            REGION,
        ],
    );
    run.assert_code(1);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    f.assert_untouched(&before);
}

#[test]
fn two_keys_are_refused_unless_one_is_inactive_and_delete_inactive_is_given() {
    let f = fixture("twokeys");
    let iam = support::iam(&f.url);
    let extra = block_on(iam.create_access_key().user_name(&f.user).send())
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    let run = f.rotate(&[]);
    run.assert_code(1);
    assert!(run.stderr.contains("at most two access keys"), "{}", run.stderr);
    assert!(run.stderr.contains(&extra), "{}", run.stderr);
    assert!(run.stderr.contains("--finish"), "{}", run.stderr);
    assert_eq!(f.keys().len(), 2);

    // --delete-inactive with two active keys: still refused, nothing deleted.
    let run = f.rotate(&["--delete-inactive"]);
    run.assert_code(1);
    assert!(run.stderr.contains("neither key is inactive"), "{}", run.stderr);
    assert_eq!(f.keys().len(), 2);

    block_on(
        iam.update_access_key()
            .user_name(&f.user)
            .access_key_id(&extra)
            .status(aws_sdk_iam::types::StatusType::Inactive)
            .send(),
    )
    .unwrap();
    let run = f.rotate(&[]);
    run.assert_code(1);
    assert!(run.stderr.contains("--delete-inactive"), "{}", run.stderr);
    assert_eq!(f.keys().len(), 2);

    let run = f.rotate(&["--delete-inactive", "-o", "json"]);
    run.assert_ok();
    assert_eq!(run.json()["deleted_inactive_key"], extra.as_str());
    let keys = f.keys();
    assert!(!keys.contains_key(&extra), "{keys:?}");
    assert_eq!(keys[&f.old_key], "Inactive");
    assert_eq!(keys.len(), 2);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let f = fixture("dryrun");
    let before = f.stages();
    let run = f.rotate(&["--dry-run"]);
    run.assert_ok();
    for action in [
        "iam:CreateAccessKey",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "iam:UpdateAccessKey",
    ] {
        assert!(run.stdout.contains(action), "{action}: {}", run.stdout);
    }
    assert!(run.stdout.contains(&f.old_key), "{}", run.stdout);
    assert!(!run.all_output().contains(&f.old_password));
    f.assert_untouched(&before);

    let run = f.rotate(&["--dry-run", "-o", "json"]);
    run.assert_ok();
    let plan = run.json();
    let actions: Vec<&str> = plan["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "iam:CreateAccessKey",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage",
            "iam:UpdateAccessKey",
            "secretsmanager:UpdateSecretVersionStage"
        ]
    );
    f.assert_untouched(&before);
}

#[test]
fn a_bad_ca_file_for_verify_is_a_usage_error_before_any_change() {
    let f = fixture("verify");
    let before = f.stages();
    let run = f.rotate(&["--verify", "--ca-file", "/nonexistent/private-ca.pem"]);
    run.assert_code(2);
    assert!(run.stderr.contains("private-ca.pem"), "{}", run.stderr);
    f.assert_untouched(&before);
}

// ---- two-phase rotation ----

#[test]
fn keep_then_finish_retires_exactly_the_keys_not_in_awscurrent() {
    let f = fixture("twophase");
    f.rotate(&["--old-key", "keep"]).assert_ok();
    let new_key = f.new_key();
    assert_eq!(f.keys()[&f.old_key], "Active", "kept");
    assert_eq!(f.current()["access_key_id"], new_key.as_str());

    // A second rotation would make room by deleting the AWSPREVIOUS key (the kept old key); its plan
    // says so and changes nothing.
    let run = f.rotate(&["--dry-run"]);
    run.assert_ok();
    assert!(
        run.stdout.contains(&format!(
            "key {} of user {}, held by the secret's AWSPREVIOUS",
            f.old_key, f.user
        )),
        "{}",
        run.stdout
    );
    assert_eq!(f.keys()[&f.old_key], "Active");

    // The finish plan reports the old key's last use and changes nothing.
    let run = f.rotate(&["--finish", "--dry-run"]);
    run.assert_ok();
    assert!(run.stdout.contains(&f.old_key), "{}", run.stdout);
    assert!(run.stdout.contains("never used"), "{}", run.stdout);
    assert!(
        !run.stdout.contains(&format!("{new_key} of user")),
        "{}",
        run.stdout
    );
    assert_eq!(f.keys()[&f.old_key], "Active");

    let run = f.rotate(&["--finish", "-o", "json"]);
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["current_access_key_id"], new_key.as_str());
    let retired = report["retired"].as_array().unwrap();
    assert_eq!(retired.len(), 1, "{report}");
    assert_eq!(retired[0]["access_key_id"], f.old_key.as_str());
    assert_eq!(retired[0]["outcome"], "deactivated");
    assert!(retired[0].get("last_used").is_some(), "{report}");
    assert_eq!(
        f.keys(),
        BTreeMap::from([
            (f.old_key.clone(), "Inactive".to_string()),
            (new_key.clone(), "Active".to_string())
        ])
    );

    // Finishing again has nothing to deactivate; --old-key delete deletes the inactive old key.
    let run = f.rotate(&["--finish"]);
    run.assert_ok();
    assert!(run.stdout.contains("already inactive"), "{}", run.stdout);
    f.rotate(&["--finish", "--old-key", "delete"]).assert_ok();
    assert_eq!(f.keys(), BTreeMap::from([(new_key, "Active".to_string())]));
}

#[test]
fn finish_refuses_while_a_rotation_is_pending() {
    let f = fixture("finishpending");
    let iam = support::iam(&f.url);
    let pending_key = block_on(iam.create_access_key().user_name(&f.user).send())
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    put_pending(&f, &pending_key);
    let run = f.rotate(&["--finish"]);
    run.assert_code(1);
    assert!(run.stderr.contains("in progress"), "{}", run.stderr);
    assert!(f.keys().values().all(|s| s == "Active"), "{:?}", f.keys());
}

// ---- resuming ----

/// Stores a pending version naming `key` (as an interrupted run would have).
fn put_pending(f: &Fixture, key: &str) -> String {
    let token = uuid::Uuid::new_v4().to_string();
    let v = json!({
        "username": key, "password": "pending-password", "host": "email-smtp.eu-west-1.amazonaws.com",
        "port": 587, "region": REGION, "iam_user_name": f.user, "access_key_id": key,
    });
    block_on(
        support::secretsmanager(&f.url, REGION)
            .put_secret_value()
            .secret_id(&f.secret)
            .secret_string(v.to_string())
            .version_stages("AWSPENDING")
            .client_request_token(&token)
            .send(),
    )
    .unwrap();
    token
}

#[test]
fn a_pending_version_whose_key_is_gone_is_cleared() {
    let f = fixture("stale");
    let stale = put_pending(&f, "AKIAGONEGONEGONEGONE");
    let run = f.rotate(&["-o", "json"]);
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["cleared_pending_version"], stale.as_str());
    assert_eq!(report["resumed"], false);
    let new_key = f.new_key();
    assert_eq!(f.current()["access_key_id"], new_key.as_str());
    assert_eq!(version_with(&f.stages(), "AWSPENDING"), None);
}

#[test]
fn a_run_killed_before_promotion_is_resumed_without_a_third_key() {
    let f = fixture("kill");
    let before = f.stages();
    let proxy = FaultProxy::start(moto());
    proxy.set_rules(json!([
        {"action": "UpdateSecretVersionStage", "fault": "hang", "match": "AWSCURRENT", "seconds": 60}
    ]));
    let mut child = Sesctl::at(&proxy.url)
        .args(["rotate", &f.user, "--secret-name", &f.secret, "--region", REGION])
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !proxy
        .log()
        .iter()
        .any(|(a, fault)| a == "UpdateSecretVersionStage" && fault.as_deref() == Some("hang"))
    {
        assert!(
            Instant::now() < deadline,
            "the promotion never started: {:?}",
            proxy.log()
        );
        assert!(child.try_wait().unwrap().is_none(), "sesctl ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup runs.
    child.wait().unwrap();

    // The interrupted state: the new key exists and is stored as AWSPENDING; nothing promoted.
    let new_key = f.new_key();
    assert_eq!(f.keys()[&f.old_key], "Active");
    assert_eq!(f.keys()[&new_key], "Active");
    let mid = f.stages();
    assert_eq!(
        version_with(&mid, "AWSCURRENT"),
        version_with(&before, "AWSCURRENT")
    );
    let pending = version_with(&mid, "AWSPENDING").expect("a pending version");
    assert_eq!(
        value(&f.url, REGION, &f.secret, "AWSPENDING")["access_key_id"],
        new_key.as_str()
    );

    // Re-run: it finishes that rotation instead of creating a third key.
    proxy.reset();
    let run = f.rotate_via(&proxy.url, &[]);
    run.assert_ok();
    assert!(
        run.stderr.contains("Resuming an interrupted rotation"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("Resumed"), "{}", run.stdout);
    assert!(
        !proxy
            .actions()
            .iter()
            .any(|a| a == "CreateAccessKey" || a == "PutSecretValue"),
        "{:?}",
        proxy.actions()
    );
    assert_eq!(
        f.keys(),
        BTreeMap::from([
            (f.old_key.clone(), "Inactive".to_string()),
            (new_key.clone(), "Active".to_string())
        ])
    );
    let after = f.stages();
    assert_eq!(version_with(&after, "AWSCURRENT"), Some(pending));
    assert_eq!(
        version_with(&after, "AWSPREVIOUS"),
        version_with(&before, "AWSCURRENT")
    );
    assert_eq!(version_with(&after, "AWSPENDING"), None);
    assert_credential_of(&f.url, &f.current(), &f.user, &new_key, REGION);
}

// ---- failures at each step ----

fn with_fault(
    test: &str,
    rules: Value,
    extra: &[&str],
) -> (Fixture, BTreeMap<String, Vec<String>>, support::Run, FaultProxy) {
    let f = fixture(test);
    let before = f.stages();
    let proxy = FaultProxy::start(moto());
    proxy.set_rules(rules);
    let run = f.rotate_via(&proxy.url, extra);
    (f, before, run, proxy)
}

/// The calls of a rotation into a secret, in order: the reads before any change, then the four
/// protocol steps, each reading the stages again (DescribeSecret) and checking the new key
/// (ListAccessKeys) before it acts. AWSCURRENT's value is read twice: once to check the secret, once
/// to make the next version from; the steps after that know it by its version.
#[test]
fn a_rotation_into_a_secret_makes_exactly_these_calls() {
    let (f, _, run, proxy) = with_fault("calls", json!([]), &[]);
    run.assert_ok();
    assert_eq!(
        proxy.actions(),
        [
            // The operator's read: the user, its keys, the secret.
            "GetUser",
            "ListAccessKeys",
            "DescribeSecret",
            "GetSecretValue",
            // createSecret
            "DescribeSecret",
            "GetSecretValue",
            "CreateAccessKey",
            "PutSecretValue",
            // setSecret
            "DescribeSecret",
            "ListAccessKeys",
            // testSecret (no --verify: the key check)
            "DescribeSecret",
            "ListAccessKeys",
            // finishSecret
            "DescribeSecret",
            "ListAccessKeys",
            "UpdateSecretVersionStage",
            "UpdateAccessKey",
            "UpdateSecretVersionStage",
        ]
    );
    assert_eq!(f.keys()[&f.old_key], "Inactive");
}

#[test]
fn create_access_key_failing_changes_nothing() {
    let (f, before, run, _proxy) = with_fault(
        "failcreate",
        json!([{"action": "CreateAccessKey", "fault": "error", "code": "ServiceFailure"}]),
        &[],
    );
    run.assert_code(1);
    assert!(run.stderr.contains("iam:CreateAccessKey"), "{}", run.stderr);
    assert_one_error_line(&run);
    f.assert_untouched(&before);
}

#[test]
fn put_secret_value_failing_deletes_the_new_key() {
    let (f, before, run, proxy) = with_fault(
        "failput",
        json!([{"action": "PutSecretValue", "fault": "error", "code": "InternalServiceError"}]),
        &[],
    );
    run.assert_code(1);
    assert!(
        run.stderr.contains("secretsmanager:PutSecretValue"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Rolled back"), "{}", run.stderr);
    f.assert_untouched(&before);
    assert!(proxy.actions().iter().any(|a| a == "DeleteAccessKey"));
    assert!(!proxy.actions().iter().any(|a| a == "UpdateAccessKey"));
}

#[test]
fn promotion_failing_deletes_the_new_key_and_its_pending_label() {
    let (f, before, run, _proxy) = with_fault(
        "failpromote",
        json!([{"action": "UpdateSecretVersionStage", "fault": "error", "match": "AWSCURRENT"}]),
        &[],
    );
    run.assert_code(1);
    assert!(
        run.stderr.contains("secretsmanager:UpdateSecretVersionStage"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("removed AWSPENDING"), "{}", run.stderr);
    f.assert_untouched(&before);
    assert!(!run.all_output().contains(&f.old_password));
}

#[test]
fn a_promotion_whose_answer_was_lost_is_recognised_and_completed() {
    // The call takes effect but the answer never arrives; the SDK's retry then fails (AWSCURRENT is no
    // longer on the old version). Reading back shows the promotion happened: nothing is rolled back.
    let (f, _before, run, proxy) = with_fault(
        "lostpromote",
        json!([{"action": "UpdateSecretVersionStage", "fault": "after", "match": "AWSCURRENT", "times": 1}]),
        &[],
    );
    run.assert_ok();
    let stage_calls: Vec<Option<String>> = proxy
        .log()
        .into_iter()
        .filter(|(a, _)| a == "UpdateSecretVersionStage")
        .map(|(_, fault)| fault)
        .collect();
    // The lost promotion, its failed retry, then removing the pending label.
    assert_eq!(stage_calls, [Some("after".to_string()), None, None]);
    let new_key = f.new_key();
    assert_eq!(f.keys()[&new_key], "Active");
    assert_eq!(f.keys()[&f.old_key], "Inactive");
    assert_eq!(f.current()["access_key_id"], new_key.as_str());
}

#[test]
fn a_failed_rollback_keeps_the_pending_key_and_a_rerun_resumes() {
    let (f, before, run, proxy) = with_fault(
        "failrollback",
        json!([
            {"action": "UpdateSecretVersionStage", "fault": "error", "match": "AWSCURRENT"},
            {"action": "DeleteAccessKey", "fault": "error"}
        ]),
        &[],
    );
    run.assert_code(1);
    assert!(run.stderr.contains("nothing is lost"), "{}", run.stderr);
    let new_key = f.new_key();
    assert_eq!(f.keys()[&f.old_key], "Active");
    assert_eq!(f.keys()[&new_key], "Active");
    assert_eq!(
        version_with(&f.stages(), "AWSCURRENT"),
        version_with(&before, "AWSCURRENT")
    );
    assert_eq!(
        value(&f.url, REGION, &f.secret, "AWSPENDING")["access_key_id"],
        new_key.as_str()
    );
    proxy.reset();
    let run = f.rotate_via(&proxy.url, &[]);
    run.assert_ok();
    assert!(!proxy.actions().iter().any(|a| a == "CreateAccessKey"));
    assert_eq!(f.current()["access_key_id"], new_key.as_str());
    assert_eq!(f.keys()[&f.old_key], "Inactive");
}

#[test]
fn retiring_failing_after_promotion_leaves_the_old_key_active_and_says_so() {
    for (test, action, old_key) in [
        ("faildeactivate", "UpdateAccessKey", "deactivate"),
        ("faildelete", "DeleteAccessKey", "delete"),
    ] {
        let (f, before, run, _proxy) = with_fault(
            test,
            json!([{"action": action, "fault": "error"}]),
            &["--old-key", old_key],
        );
        run.assert_code(1);
        assert!(run.stderr.contains(&format!("iam:{action}")), "{}", run.stderr);
        assert!(run.stderr.contains("the rotation is promoted"), "{}", run.stderr);
        assert!(run.stderr.contains("--finish"), "{}", run.stderr);
        assert_one_error_line(&run);
        let new_key = f.new_key();
        assert_eq!(f.keys()[&f.old_key], "Active", "{test}");
        assert_eq!(f.keys()[&new_key], "Active", "{test}");
        let after = f.stages();
        assert_eq!(
            version_with(&after, "AWSPREVIOUS"),
            version_with(&before, "AWSCURRENT")
        );
        assert_eq!(f.current()["access_key_id"], new_key.as_str());
        // The error's advice works.
        f.rotate(&["--finish", "--old-key", old_key]).assert_ok();
        assert_eq!(f.keys().len(), if old_key == "delete" { 1 } else { 2 });
        assert_eq!(f.keys()[&new_key], "Active");
    }
}

// ---- without a secret: CSV or JSON like create-user ----

/// A user with one key and no secret.
fn plain_user(test: &str) -> (String, String) {
    let user = format!("{}-user", prefix(test));
    let iam = support::iam(&moto().url);
    block_on(iam.create_user().user_name(&user).send()).unwrap();
    let key = block_on(iam.create_access_key().user_name(&user).send())
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    (user, key)
}

fn other_key(user: &str, old: &str) -> String {
    let keys = keys(&moto().url, user);
    let others: Vec<&String> = keys.keys().filter(|k| *k != old).collect();
    assert_eq!(others.len(), 1, "{keys:?}");
    others[0].clone()
}

fn password_for(key: &str, region: &str) -> String {
    support::v4_password(&moto_secret_access_key(&moto().url, key), region)
}

#[test]
fn without_a_secret_the_csv_goes_to_stdout_and_the_old_key_is_deactivated() {
    let url = &moto().url;
    let (user, old) = plain_user("csvstdout");
    let run = rotate(url, &[&user, "--region", REGION]);
    run.assert_ok();
    let new_key = other_key(&user, &old);
    let password = password_for(&new_key, REGION);
    assert_eq!(
        run.stdout,
        format!("IAM User Name,Smtp Username,Smtp Password\n{user},{new_key},{password}\n")
    );
    assert!(!run.stderr.contains(&password), "{}", run.stderr);
    assert!(
        run.stderr.contains(&old),
        "the summary names the old key: {}",
        run.stderr
    );
    assert_eq!(
        keys(url, &user),
        BTreeMap::from([(old, "Inactive".to_string()), (new_key, "Active".to_string())])
    );
}

#[test]
fn without_a_secret_json_is_create_users_result() {
    let url = &moto().url;
    let (user, old) = plain_user("jsonstdout");
    let run = rotate(
        url,
        &[&user, "--region", REGION, "-o", "json", "--old-key", "delete"],
    );
    run.assert_ok();
    let new_key = other_key(&user, &old);
    assert_eq!(
        run.json(),
        json!({
            "user_name": user,
            "access_key_id": new_key,
            "smtp_username": new_key,
            "smtp_password": password_for(&new_key, REGION),
            "region": REGION,
            "smtp_host": format!("email-smtp.{REGION}.amazonaws.com"),
            "smtp_port": 587,
        })
    );
    assert_eq!(
        keys(url, &user),
        BTreeMap::from([(new_key, "Active".to_string())])
    );
}

#[cfg(unix)]
#[test]
fn without_a_secret_a_csv_file_is_0600_and_never_silently_replaced() {
    use std::os::unix::fs::PermissionsExt;
    let url = &moto().url;
    let (user, old) = plain_user("csvfile");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smtp.csv");
    std::fs::write(&path, "keep me").unwrap();

    // An existing file without --force: exit 2 before any change.
    let run = rotate(url, &[&user, "--region", REGION, "--csv", path.to_str().unwrap()]);
    run.assert_code(2);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    assert_eq!(
        keys(url, &user),
        BTreeMap::from([(old.clone(), "Active".to_string())])
    );

    let run = rotate(
        url,
        &[
            &user,
            "--region",
            REGION,
            "--csv",
            path.to_str().unwrap(),
            "--force",
            "-o",
            "json",
        ],
    );
    run.assert_ok();
    let new_key = other_key(&user, &old);
    let password = password_for(&new_key, REGION);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("IAM User Name,Smtp Username,Smtp Password\n{user},{new_key},{password}\n")
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let report = run.json();
    assert_eq!(report["access_key_id"], new_key.as_str());
    assert_eq!(report["old_key"], "deactivated");
    assert_eq!(report["delivered_to"]["kind"], "csv_file");
    assert!(!run.all_output().contains(&password));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
}

#[cfg(unix)]
#[test]
fn without_a_secret_a_failed_delivery_deletes_the_new_key() {
    // stdout is /dev/full: writing the CSV fails with ENOSPC.
    let url = &moto().url;
    let (user, old) = plain_user("devfull");
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = std::process::Command::new(support::sesctl_bin())
        .env_clear()
        .env("HOME", support::home_dir())
        .env("AWS_CONFIG_FILE", support::home_dir().join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            support::home_dir().join("no-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", support::TEST_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", support::TEST_SECRET_ACCESS_KEY)
        .env("AWS_ENDPOINT_URL", url)
        .args(["rotate", &user, "--region", REGION])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("delivering the new credential failed"),
        "{stderr}"
    );
    assert!(stderr.contains("was deleted"), "{stderr}");
    assert_eq!(keys(url, &user), BTreeMap::from([(old, "Active".to_string())]));
}

#[test]
fn without_a_secret_retiring_failing_says_the_credential_was_delivered() {
    let (user, old) = plain_user("plainretire");
    let proxy = FaultProxy::start(moto());
    proxy.set_rules(json!([{"action": "UpdateAccessKey", "fault": "error"}]));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.csv");
    let run = rotate(
        &proxy.url,
        &[&user, "--region", REGION, "--csv", path.to_str().unwrap()],
    );
    run.assert_code(1);
    assert_one_error_line(&run);
    assert!(run.stderr.contains("was delivered to CSV file"), "{}", run.stderr);
    assert!(run.stderr.contains("iam:UpdateAccessKey"), "{}", run.stderr);
    let new_key = other_key(&user, &old);
    assert_eq!(
        keys(&moto().url, &user),
        BTreeMap::from([
            (old, "Active".to_string()),
            (new_key.clone(), "Active".to_string())
        ])
    );
    assert!(std::fs::read_to_string(&path).unwrap().contains(&new_key));
}

#[test]
fn without_a_secret_dry_run_changes_nothing() {
    let url = &moto().url;
    let (user, old) = plain_user("plaindry");
    let run = rotate(url, &[&user, "--region", REGION, "--dry-run"]);
    run.assert_ok();
    assert!(run.stdout.contains("iam:CreateAccessKey"), "{}", run.stdout);
    assert!(run.stdout.contains("CSV on stdout"), "{}", run.stdout);
    assert!(run.stdout.contains(&old), "{}", run.stdout);
    assert_eq!(keys(url, &user), BTreeMap::from([(old, "Active".to_string())]));
}

#[test]
fn nothing_secret_reaches_the_output_even_at_the_most_verbose_level() {
    let f = fixture("verbose");
    let run = f.rotate(&["-vvv"]);
    run.assert_ok();
    let new_key = f.new_key();
    let out = run.all_output();
    assert!(out.len() > 1000, "-vvv logs the calls: {out}");
    assert!(!out.contains(f.current()["password"].as_str().unwrap()));
    assert!(!out.contains(&moto_secret_access_key(&f.url, &new_key)));
    assert!(!out.contains(&f.old_password));
}

#[test]
fn contradictory_flags_exit_2_before_any_change() {
    let f = fixture("flags");
    let before = f.stages();
    for extra in [
        &["--finish", "--old-key", "keep"][..],
        &["--finish", "--delete-inactive"][..],
        &["--csv", "x.csv"][..],
    ] {
        let run = f.rotate(extra);
        run.assert_code(2);
        f.assert_untouched(&before);
    }
    let run = rotate(&f.url, &[&f.user, "--region", REGION, "--force"]);
    run.assert_code(2);
    assert!(run.stderr.contains("--csv"), "{}", run.stderr);
    f.assert_untouched(&before);
}
