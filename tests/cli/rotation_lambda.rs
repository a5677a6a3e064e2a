//! The rotation function (`sesctl-rotation-lambda`): the real binary under a Lambda Runtime API on
//! loopback, against moto for IAM and Secrets Manager and an SMTP server that checks logins as SES
//! does (any active key of moto, with its v4 password). Secrets Manager's start of a rotation is
//! emulated as tests/cli/support/lambda.rs says.

use serde_json::Value;

use crate::support::lambda::{start_rotation, Function};
use crate::support::smtp::{Mode, SmtpServer};
use crate::support::{self, block_on, fixtures, FaultProxy, Moto, Sesctl};

const REGION: &str = "eu-west-1";

/// A user made by `sesctl create-user --secret-name`, in a moto of its own, with the SMTP server.
struct World {
    moto: Moto,
    smtp: SmtpServer,
    user: String,
    secret: String,
}

fn world(test: &str) -> World {
    world_rejecting(test, 0)
}

fn world_rejecting(test: &str, reject_first: u32) -> World {
    let moto = Moto::rotating();
    let smtp = SmtpServer::start_iam(Mode::Starttls, &moto.url, REGION, reject_first);
    let (user, secret) = fixtures::user_with_secret(&moto.url, test);
    World {
        moto,
        smtp,
        user,
        secret,
    }
}

impl World {
    /// The function pointed at this world's moto and SMTP server, with extra settings.
    fn function(&self, env: &[(&str, &str)]) -> Function {
        self.function_at(&self.moto.url, env)
    }

    fn function_at(&self, aws_url: &str, env: &[(&str, &str)]) -> Function {
        let port = self.smtp.port_arg();
        let mut all = vec![
            ("SESCTL_SMTP_HOST", "127.0.0.1"),
            ("SESCTL_SMTP_PORT", port.as_str()),
            ("SESCTL_CA_FILE", self.smtp.ca_arg()),
            ("SESCTL_VERIFY_TIMEOUT", "30"),
        ];
        all.extend_from_slice(env);
        Function::start(aws_url, REGION, &all)
    }

    fn start_rotation(&self) -> String {
        start_rotation(&self.moto.url, REGION, &self.secret)
    }

    /// The user's keys: (id, status).
    fn keys(&self) -> Vec<(String, String)> {
        support::access_keys(&self.moto.url, &self.user)
    }

    fn status_of(&self, key: &str) -> Option<String> {
        self.keys().into_iter().find(|(id, _)| id == key).map(|(_, s)| s)
    }

    /// The value staged `stage`, parsed.
    fn value(&self, stage: &str) -> Option<Value> {
        fixtures::secret_value(&self.moto.url, REGION, &self.secret, stage)
    }

    fn key_at(&self, stage: &str) -> Option<String> {
        self.value(stage)?["access_key_id"].as_str().map(str::to_string)
    }

    /// version id → stages.
    fn stages(&self) -> Vec<(String, Vec<String>)> {
        let out = block_on(
            support::secretsmanager(&self.moto.url, REGION)
                .describe_secret()
                .secret_id(&self.secret)
                .send(),
        )
        .unwrap();
        let mut v: Vec<(String, Vec<String>)> = out
            .version_ids_to_stages()
            .map(|m| {
                m.iter()
                    .filter(|(_, s)| !s.is_empty())
                    .map(|(k, s)| (k.clone(), s.clone()))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// `sesctl verify --secret-name`: AWSCURRENT logs in to the SMTP server.
    fn assert_current_logs_in(&self) {
        Sesctl::at(&self.moto.url)
            .args(["verify", "--secret-name", &self.secret, "--region", REGION])
            .args([
                "--smtp-host",
                "127.0.0.1",
                "--port",
                &self.smtp.port_arg(),
                "--ca-file",
                self.smtp.ca_arg(),
            ])
            .run()
            .assert_ok();
    }
}

fn error_type(e: &Value) -> &str {
    e["errorType"].as_str().unwrap_or_default()
}

fn error_message(e: &Value) -> &str {
    e["errorMessage"].as_str().unwrap_or_default()
}

#[test]
fn a_full_rotation_promotes_a_key_that_logs_in_and_keeps_the_old_one() {
    let w = world("lambdafull");
    let old = w.key_at("AWSCURRENT").unwrap();
    let before = w.value("AWSCURRENT").unwrap();
    let f = w.function(&[]);
    let token = w.start_rotation();
    f.rotate(&w.secret, &token)
        .unwrap_or_else(|e| panic!("{e}\n{}", f.logs()));

    let new = w.key_at("AWSCURRENT").unwrap();
    assert_ne!(new, old);
    assert_eq!(w.key_at("AWSPREVIOUS").as_deref(), Some(old.as_str()));
    // The default keeps the old key active for a whole rotation period.
    assert_eq!(w.status_of(&old).as_deref(), Some("Active"));
    assert_eq!(w.keys().len(), 2);
    // Every field of the current value is kept; the key and password are new.
    let after = w.value("AWSCURRENT").unwrap();
    for field in ["host", "port", "region", "iam_user_name"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after["username"], Value::from(new.clone()));
    assert_ne!(after["password"], before["password"]);
    // The version is the token, and no AWSPENDING is left to block the next rotation.
    let stages = w.stages();
    assert!(stages
        .iter()
        .any(|(v, s)| *v == token && s.contains(&"AWSCURRENT".to_string())));
    assert!(
        !stages.iter().any(|(_, s)| s.contains(&"AWSPENDING".to_string())),
        "{stages:?}"
    );
    w.assert_current_logs_in();
    // One JSON line per step, each naming the step, the token and the outcome.
    let lines = f.step_lines();
    let steps: Vec<&str> = lines.iter().filter_map(|l| l["step"].as_str()).collect();
    assert_eq!(
        steps,
        ["createSecret", "setSecret", "testSecret", "finishSecret"],
        "{}",
        f.logs()
    );
    for l in &lines {
        assert_eq!(l["token"], Value::from(token.clone()));
        assert_eq!(l["outcome"], "done");
    }
    assert_eq!(lines[0]["pending_key_id"], Value::from(new));
}

#[test]
fn every_step_invoked_twice_does_the_work_once() {
    let w = world("lambdatwice");
    let old = w.key_at("AWSCURRENT").unwrap();
    let f = w.function(&[]);
    let token = w.start_rotation();
    let mut outcomes = Vec::new();
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        for _ in 0..2 {
            let r = f
                .invoke(step, &w.secret, &token)
                .unwrap_or_else(|e| panic!("{step}: {e}"));
            outcomes.push(format!("{step}:{}", r["outcome"].as_str().unwrap()));
        }
    }
    assert_eq!(
        outcomes,
        [
            "createSecret:done",
            "createSecret:already_stored",
            "setSecret:done",
            "setSecret:done",
            "testSecret:done",
            "testSecret:done",
            "finishSecret:done",
            "finishSecret:already_current",
        ]
    );
    assert_eq!(w.keys().len(), 2, "one new key, however often createSecret ran");
    assert_eq!(w.key_at("AWSPREVIOUS").as_deref(), Some(old.as_str()));
    w.assert_current_logs_in();
}

#[test]
fn six_rotations_in_a_row_never_hold_more_than_two_keys() {
    let w = world("lambdasix");
    let f = w.function(&[]);
    let mut seen = vec![w.key_at("AWSCURRENT").unwrap()];
    for round in 0..6 {
        let token = w.start_rotation();
        f.rotate(&w.secret, &token)
            .unwrap_or_else(|e| panic!("round {round}: {e}\n{}", f.logs()));
        let keys = w.keys();
        assert!(keys.len() <= 2, "round {round}: {keys:?}");
        let current = w.key_at("AWSCURRENT").unwrap();
        assert!(!seen.contains(&current), "round {round}: a new key each time");
        // AWSPREVIOUS is the key that was current, still active (SESCTL_OLD_KEY=keep).
        assert_eq!(w.key_at("AWSPREVIOUS").as_ref(), seen.last());
        assert_eq!(w.status_of(seen.last().unwrap()).as_deref(), Some("Active"));
        seen.push(current);
        w.assert_current_logs_in();
    }
    // From the second rotation on, createSecret made room by deleting the AWSPREVIOUS key.
    let deleted: Vec<Value> = f
        .step_lines()
        .iter()
        .filter(|l| l["step"] == "createSecret")
        .filter_map(|l| l["deleted_keys"].as_array().cloned())
        .flatten()
        .collect();
    assert_eq!(deleted.len(), 5, "{deleted:?}");
    assert!(deleted.iter().all(|d| d["reason"] == "previous"));
}

#[test]
fn a_failed_test_leaves_the_current_credential_and_a_retry_completes() {
    // The first two good logins are refused (a key not yet at SES); a 1 s deadline allows two tries.
    let w = world_rejecting("lambdaretry", 2);
    let old = w.key_at("AWSCURRENT").unwrap();
    let f = w.function(&[("SESCTL_VERIFY_TIMEOUT", "1")]);
    let token = w.start_rotation();
    f.invoke("createSecret", &w.secret, &token).unwrap();
    f.invoke("setSecret", &w.secret, &token).unwrap();
    let err = f.invoke("testSecret", &w.secret, &token).unwrap_err();
    assert_eq!(error_type(&err), "LoginFailed", "{err}");
    assert!(error_message(&err).contains("AWSCURRENT was not moved"), "{err}");
    assert_eq!(w.key_at("AWSCURRENT").as_deref(), Some(old.as_str()));
    // Secrets Manager retries: the key has reached SES by now.
    let ok = f.invoke("testSecret", &w.secret, &token).unwrap();
    assert_eq!(ok["login_attempts"], 1);
    f.invoke("finishSecret", &w.secret, &token).unwrap();
    assert_ne!(w.key_at("AWSCURRENT").as_deref(), Some(old.as_str()));
    w.assert_current_logs_in();
}

#[test]
fn a_lost_put_secret_value_answer_is_found_stored_on_retry() {
    let w = world("lambdalost");
    let proxy = FaultProxy::start(&w.moto);
    let f = w.function_at(&proxy.url, &[]);
    let token = w.start_rotation();
    proxy.set_rules(serde_json::json!([{"action": "PutSecretValue", "fault": "after"}]));
    let err = f.invoke("createSecret", &w.secret, &token).unwrap_err();
    assert_eq!(error_type(&err), "AwsError", "{err}");
    proxy.set_rules(serde_json::json!([]));
    let r = f.invoke("createSecret", &w.secret, &token).unwrap();
    assert_eq!(r["outcome"], "already_stored", "the value had been stored: {r}");
    assert_eq!(w.keys().len(), 2, "no second key for the retried step");
    for step in ["setSecret", "testSecret", "finishSecret"] {
        f.invoke(step, &w.secret, &token)
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    assert_eq!(w.key_at("AWSCURRENT").as_deref(), r["pending_key_id"].as_str());
    w.assert_current_logs_in();
}

#[test]
fn a_token_secrets_manager_never_staged_changes_nothing() {
    let w = world("lambdatoken");
    let keys = w.keys();
    let stages = w.stages();
    let f = w.function(&[]);
    let stranger = uuid::Uuid::new_v4().to_string();
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let err = f.invoke(step, &w.secret, &stranger).unwrap_err();
        assert_eq!(error_type(&err), "NotPending", "{step}: {err}");
        assert!(error_message(&err).contains("nothing was changed"), "{err}");
    }
    assert_eq!(w.keys(), keys);
    assert_eq!(w.stages(), stages);
}

#[test]
fn each_old_key_setting_is_applied_after_promotion() {
    for (setting, expected) in [
        ("keep", Some("Active")),
        ("deactivate", Some("Inactive")),
        ("delete", None),
    ] {
        let w = world(&format!("lambdaold{setting}"));
        let old = w.key_at("AWSCURRENT").unwrap();
        let f = w.function(&[("SESCTL_OLD_KEY", setting)]);
        let token = w.start_rotation();
        f.rotate(&w.secret, &token)
            .unwrap_or_else(|e| panic!("{setting}: {e}"));
        assert_eq!(w.status_of(&old).as_deref(), expected, "SESCTL_OLD_KEY={setting}");
        let finish = f
            .step_lines()
            .into_iter()
            .find(|l| l["step"] == "finishSecret")
            .unwrap();
        let said = match setting {
            "keep" => "kept",
            "deactivate" => "deactivated",
            _ => "deleted",
        };
        assert_eq!(finish["old_key"], said);
        w.assert_current_logs_in();
    }
}

#[test]
fn the_cli_and_the_function_take_turns_on_one_secret() {
    let w = world("lambdaturns");
    let first = w.key_at("AWSCURRENT").unwrap();
    let f = w.function(&[]);
    let token = w.start_rotation();
    f.rotate(&w.secret, &token).unwrap();
    let second = w.key_at("AWSCURRENT").unwrap();
    assert_eq!(w.keys().len(), 2);

    // The CLI finds two keys, one held by AWSPREVIOUS: that one makes room.
    let run = Sesctl::at(&w.moto.url)
        .args(["rotate", &w.user, "--secret-name", &w.secret, "--region", REGION])
        .run();
    run.assert_ok();
    assert!(
        run.stdout.contains(&format!("deleted key {first} first")),
        "{}",
        run.stdout
    );
    assert_eq!(w.status_of(&first), None);
    let third = w.key_at("AWSCURRENT").unwrap();
    assert_eq!(w.key_at("AWSPREVIOUS").as_deref(), Some(second.as_str()));
    assert_eq!(
        w.status_of(&second).as_deref(),
        Some("Inactive"),
        "the CLI deactivates by default"
    );
    w.assert_current_logs_in();

    // And the function again, after the CLI.
    let token = w.start_rotation();
    f.rotate(&w.secret, &token)
        .unwrap_or_else(|e| panic!("{e}\n{}", f.logs()));
    assert_eq!(w.status_of(&second), None, "AWSPREVIOUS's key made room");
    assert_eq!(w.key_at("AWSPREVIOUS").as_deref(), Some(third.as_str()));
    assert_eq!(w.keys().len(), 2);
    w.assert_current_logs_in();
}

#[test]
fn a_stray_key_of_an_interrupted_create_is_removed_and_an_unknown_older_key_is_refused() {
    let w = world("lambdastray");
    let iam = support::iam(&w.moto.url);
    // A key newer than the current one that no stage holds: what a crash between CreateAccessKey and
    // PutSecretValue leaves.
    let stray = block_on(iam.create_access_key().user_name(&w.user).send())
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id
        .clone();
    let f = w.function(&[]);
    let token = w.start_rotation();
    let r = f.invoke("createSecret", &w.secret, &token).unwrap();
    assert_eq!(r["deleted_keys"][0]["access_key_id"], Value::from(stray.clone()));
    assert_eq!(r["deleted_keys"][0]["reason"], "stray");
    assert_eq!(w.status_of(&stray), None);
    for step in ["setSecret", "testSecret", "finishSecret"] {
        f.invoke(step, &w.secret, &token).unwrap();
    }

    // A key older than the current credential that no stage holds is someone else's: refused by name.
    let w = world("lambdaunknown");
    let old = w.key_at("AWSCURRENT").unwrap();
    // Make the current key the newer one: rotate once with the CLI keeping the old key, then drop
    // the secret's AWSPREVIOUS label so that no stage holds the older key.
    Sesctl::at(&w.moto.url)
        .args([
            "rotate",
            &w.user,
            "--secret-name",
            &w.secret,
            "--region",
            REGION,
            "--old-key",
            "keep",
        ])
        .run()
        .assert_ok();
    let previous_version = w
        .stages()
        .into_iter()
        .find(|(_, s)| s.contains(&"AWSPREVIOUS".to_string()))
        .unwrap()
        .0;
    block_on(
        support::secretsmanager(&w.moto.url, REGION)
            .update_secret_version_stage()
            .secret_id(&w.secret)
            .version_stage("AWSPREVIOUS")
            .remove_from_version_id(previous_version)
            .send(),
    )
    .unwrap();
    let keys = w.keys();
    let f = w.function(&[]);
    let token = w.start_rotation();
    let err = f.invoke("createSecret", &w.secret, &token).unwrap_err();
    assert_eq!(error_type(&err), "NoRoomForKey", "{err}");
    assert!(error_message(&err).contains(&old), "names the key: {err}");
    assert!(error_message(&err).contains("nothing was changed"), "{err}");
    assert_eq!(w.keys(), keys);
}

#[test]
fn a_bad_setting_fails_every_invocation_with_one_line_and_changes_nothing() {
    let w = world("lambdabadenv");
    let keys = w.keys();
    let f = w.function(&[("SESCTL_OLD_KEY", "shred")]);
    let token = w.start_rotation();
    let err = f.invoke("createSecret", &w.secret, &token).unwrap_err();
    assert_eq!(error_type(&err), "ConfigurationError");
    assert!(
        error_message(&err).starts_with("SESCTL_OLD_KEY=\"shred\""),
        "{err}"
    );
    assert!(!error_message(&err).contains('\n'));
    assert_eq!(w.keys(), keys);
}

#[test]
fn no_secret_reaches_the_logs_at_trace() {
    let w = world("lambdahygiene");
    let f = w.function(&[("RUST_LOG", "trace"), ("AWS_LAMBDA_LOG_LEVEL", "trace")]);
    let token = w.start_rotation();
    f.rotate(&w.secret, &token).unwrap();
    let token = w.start_rotation();
    f.rotate(&w.secret, &token).unwrap();
    let logs = f.logs();
    assert!(logs.len() > 1000, "trace logging is on: {} bytes", logs.len());
    for stage in ["AWSCURRENT", "AWSPREVIOUS"] {
        let password = w.value(stage).unwrap()["password"].as_str().unwrap().to_string();
        assert!(!logs.contains(&password), "the {stage} password is in the logs");
        // The AUTH PLAIN form of the login, as the SMTP exchange would carry it.
        use base64::Engine as _;
        let user = w.key_at(stage).unwrap();
        let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        assert!(
            !logs.contains(&plain),
            "the {stage} AUTH PLAIN string is in the logs"
        );
    }
    assert!(
        !logs.contains("SecretAccessKey"),
        "a CreateAccessKey answer is in the logs"
    );
}

#[test]
fn a_secret_in_the_smtp_variables_shape_is_rotated_in_that_shape() {
    // Another tool's shape that names the IAM user and the region: the function rotates it, and the
    // fields its consumers read (SMTP_USERNAME, SMTP_PASSWORD, their own) hold the new credential.
    let w = world("lambdavars");
    let current = w.value("AWSCURRENT").unwrap();
    let old = current["access_key_id"].as_str().unwrap().to_string();
    let shaped = serde_json::json!({
        "SMTP_USERNAME": old,
        "SMTP_PASSWORD": current["password"],
        "iam_user_name": w.user,
        "region": REGION,
        "team": "mail",
    });
    block_on(
        support::secretsmanager(&w.moto.url, REGION)
            .put_secret_value()
            .secret_id(&w.secret)
            .secret_string(shaped.to_string())
            .send(),
    )
    .unwrap();
    let f = w.function(&[]);
    let token = w.start_rotation();
    f.rotate(&w.secret, &token)
        .unwrap_or_else(|e| panic!("{e}\n{}", f.logs()));

    let v = w.value("AWSCURRENT").unwrap();
    let new = v["SMTP_USERNAME"].as_str().unwrap().to_string();
    assert_ne!(new, old, "{v}");
    assert_eq!(v["access_key_id"], new.as_str(), "{v}");
    assert_eq!(v["SMTP_PASSWORD"], v["password"], "{v}");
    assert_ne!(v["SMTP_PASSWORD"], current["password"], "the new password: {v}");
    assert_eq!(v["team"], "mail", "{v}");
    assert_eq!(w.status_of(&new).as_deref(), Some("Active"));
    // `verify` reads SMTP_USERNAME/SMTP_PASSWORD from this shape: the new pair logs in.
    w.assert_current_logs_in();
}
