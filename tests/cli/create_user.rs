//! `sesctl create-user` against real services on loopback: every test runs the built binary through a
//! fault proxy in front of moto (to log or fail chosen calls) and reads IAM and Secrets Manager back
//! with the raw SDK clients. Tests that need the sending group in a known state get a moto of their own.

use std::os::unix::fs::PermissionsExt;

use crate::support::fixtures::recorded_key_secrets;
use crate::support::{self, block_on, changes, moto, prefix, stderr_lines, FaultProxy, Moto, Run, Sesctl};

const GROUP: &str = "AWSSESSendingGroupDoNotRename";
const REGION: &str = "eu-west-1";

/// One test's view of an account: a proxy in front of moto, and clients reading moto directly.
struct Env {
    proxy: FaultProxy,
    iam: aws_sdk_iam::Client,
    sm: aws_sdk_secretsmanager::Client,
}

impl Env {
    fn on(moto: &Moto) -> Env {
        Env {
            proxy: FaultProxy::start(moto),
            iam: support::iam(&moto.url),
            sm: support::secretsmanager(&moto.url, REGION),
        }
    }

    fn shared() -> Env {
        Env::on(moto())
    }

    fn create_user(&self, args: &[&str]) -> Run {
        self.sesctl(args, &[]).run()
    }

    fn sesctl(&self, args: &[&str], envs: &[(&str, &str)]) -> Sesctl {
        let mut s = Sesctl::at(&self.proxy.url)
            .args(["create-user", "--region", REGION])
            .args(args);
        for (k, v) in envs {
            s = s.env(k, v);
        }
        s
    }

    fn user(&self, name: &str) -> Option<aws_sdk_iam::types::User> {
        block_on(self.iam.get_user().user_name(name).send())
            .ok()
            .and_then(|o| o.user)
    }

    fn keys(&self, name: &str) -> Vec<String> {
        block_on(self.iam.list_access_keys().user_name(name).send())
            .map(|o| {
                o.access_key_metadata()
                    .iter()
                    .map(|k| k.access_key_id().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn groups(&self, name: &str) -> Vec<String> {
        block_on(self.iam.list_groups_for_user().user_name(name).send())
            .map(|o| o.groups().iter().map(|g| g.group_name().to_string()).collect())
            .unwrap_or_default()
    }

    fn group_members(&self) -> Vec<String> {
        block_on(self.iam.get_group().group_name(GROUP).send())
            .map(|o| o.users().iter().map(|u| u.user_name().to_string()).collect())
            .unwrap_or_default()
    }

    fn secret(&self, name: &str) -> Option<serde_json::Value> {
        block_on(self.sm.get_secret_value().secret_id(name).send())
            .ok()
            .map(|o| serde_json::from_str(o.secret_string().unwrap()).unwrap())
    }

    fn secret_exists(&self, name: &str) -> bool {
        block_on(self.sm.describe_secret().secret_id(name).send()).is_ok()
    }

    fn record_keys(&self) {
        self.proxy
            .set_rules(serde_json::json!([{"action": "CreateAccessKey", "fault": "record"}]));
    }

    fn fail(&self, action: &str) {
        self.proxy.set_rules(serde_json::json!([
            {"action": action, "fault": "error", "status": 500, "code": "ServiceFailure"}
        ]));
    }
}

#[track_caller]
fn assert_no_secret(run: &Run, secrets: &[&str]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(
            !run.all_output().contains(s),
            "a secret value appears in the output:\n{}",
            run.all_output()
        );
    }
}

#[track_caller]
fn assert_gone(env: &Env, user: &str) {
    assert!(env.user(user).is_none(), "user {user} is left behind");
    assert!(env.keys(user).is_empty());
    assert!(!env.group_members().contains(&user.to_string()));
}

// ---- delivery ----

#[test]
fn to_secrets_manager_stores_the_spec_secret_string_with_tags_and_prints_nothing_secret() {
    let env = Env::shared();
    env.record_keys();
    let user = prefix("sm");
    let secret_name = format!("{user}/smtp");
    let run = env.create_user(&[&user, "--secret-name", &secret_name]);
    run.assert_ok();

    let keys = env.keys(&user);
    assert_eq!(keys.len(), 1);
    let akid = &keys[0];
    assert_eq!(env.groups(&user), [GROUP]);
    let recorded = recorded_key_secrets(&env.proxy);
    assert_eq!(recorded.len(), 1);
    let value = env.secret(&secret_name).expect("the secret exists");
    assert_eq!(
        value,
        serde_json::json!({
            "username": akid,
            "password": support::v4_password(&recorded[0], REGION),
            "host": "email-smtp.eu-west-1.amazonaws.com",
            "port": 587,
            "region": REGION,
            "iam_user_name": user,
            "access_key_id": akid,
        })
    );
    let described = block_on(env.sm.describe_secret().secret_id(&secret_name).send()).unwrap();
    let tags: Vec<(String, String)> = described
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect();
    assert!(
        tags.contains(&("sesctl:iam-user-name".into(), user.clone())),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("sesctl:region".into(), REGION.into())),
        "{tags:?}"
    );
    assert_no_secret(&run, &[&recorded[0], value["password"].as_str().unwrap()]);
    assert!(run.stdout.contains(&secret_name), "{}", run.stdout);
    assert!(run.stdout.contains(akid.as_str()), "{}", run.stdout);
}

#[test]
fn no_secret_on_stderr_at_vvv_or_rust_log_trace() {
    let env = Env::shared();
    for (flag, envs) in [
        ("-vvv", vec![]),
        ("-q", vec![("RUST_LOG", "trace")]),
        (
            "-v",
            vec![(
                "RUST_LOG",
                "aws_smithy_runtime=trace,aws_sdk_iam=trace,hyper=trace",
            )],
        ),
    ] {
        env.proxy.reset();
        env.record_keys();
        let user = prefix("trace");
        let secret_name = format!("{user}/smtp");
        let run = env
            .sesctl(&[&user, "--secret-name", &secret_name, flag], &envs)
            .run();
        run.assert_ok();
        assert!(run.stderr.len() > 200, "tracing is on: {}", run.stderr);
        let recorded = recorded_key_secrets(&env.proxy);
        let value = env.secret(&secret_name).unwrap();
        assert_no_secret(&run, &[&recorded[0], value["password"].as_str().unwrap()]);
    }
}

#[test]
fn csv_to_stdout_is_exactly_the_consoles_download() {
    let env = Env::shared();
    env.record_keys();
    let user = prefix("csvout");
    let run = env.create_user(&[&user]);
    run.assert_ok();
    let akid = &env.keys(&user)[0];
    let secret = &recorded_key_secrets(&env.proxy)[0];
    assert_eq!(
        run.stdout,
        format!(
            "IAM User Name,Smtp Username,Smtp Password\n{user},{akid},{}\n",
            support::v4_password(secret, REGION)
        )
    );
    assert!(!run.stderr.contains(&support::v4_password(secret, REGION)));
    assert!(!run.all_output().contains(secret.as_str()));
}

#[test]
fn json_without_a_secret_sink_is_the_spec_document() {
    let env = Env::shared();
    env.record_keys();
    let user = prefix("json");
    let run = env.create_user(&[&user, "-o", "json"]);
    run.assert_ok();
    let akid = &env.keys(&user)[0];
    let secret = &recorded_key_secrets(&env.proxy)[0];
    assert_eq!(
        run.json(),
        serde_json::json!({
            "user_name": user,
            "access_key_id": akid,
            "smtp_username": akid,
            "smtp_password": support::v4_password(secret, REGION),
            "region": REGION,
            "smtp_host": "email-smtp.eu-west-1.amazonaws.com",
            "smtp_port": 587,
        })
    );
}

#[test]
fn json_with_a_secret_sink_reports_without_the_secret() {
    let env = Env::shared();
    let user = prefix("jsonsm");
    let secret_name = format!("{user}/smtp");
    let run = env.create_user(&[&user, "--secret-name", &secret_name, "-o", "json"]);
    run.assert_ok();
    let v = run.json();
    assert_eq!(v["user_name"], user.as_str());
    assert_eq!(v["delivered"]["kind"], "secrets_manager");
    assert_eq!(v["delivered"]["secret_name"], secret_name.as_str());
    assert!(v.get("smtp_password").is_none());
    let stored = env.secret(&secret_name).unwrap();
    assert_no_secret(&run, &[stored["password"].as_str().unwrap()]);
}

#[test]
fn csv_file_is_created_0600_and_holds_the_credential() {
    let env = Env::shared();
    env.record_keys();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smtp.csv");
    let user = prefix("csvfile");
    let run = env.create_user(&[&user, "--csv", path.to_str().unwrap()]);
    run.assert_ok();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let akid = &env.keys(&user)[0];
    let secret = &recorded_key_secrets(&env.proxy)[0];
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!(
            "IAM User Name,Smtp Username,Smtp Password\n{user},{akid},{}\n",
            support::v4_password(secret, REGION)
        )
    );
    assert_no_secret(&run, &[secret, &support::v4_password(secret, REGION)]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_existing_csv_file_is_an_error_before_any_change_and_force_replaces_it_0600() {
    let env = Env::shared();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smtp.csv");
    std::fs::write(&path, "keep me\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let user = prefix("csvexists");
    let run = env.create_user(&[&user, "--csv", path.to_str().unwrap()]);
    run.assert_code(2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me\n");
    assert!(
        env.proxy.actions().is_empty(),
        "no AWS call: {:?}",
        env.proxy.actions()
    );
    assert!(env.user(&user).is_none());

    env.record_keys();
    let run = env.create_user(&[&user, "--csv", path.to_str().unwrap(), "--force"]);
    run.assert_ok();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("IAM User Name,Smtp Username,Smtp Password\n"));
    assert!(text.contains(&support::v4_password(
        &recorded_key_secrets(&env.proxy)[0],
        REGION
    )));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
}

#[test]
fn kms_key_id_passes_through_to_the_secret() {
    let env = Env::shared();
    let user = prefix("kms");
    let secret_name = format!("{user}/smtp");
    let key = "alias/smtp-secrets";
    env.create_user(&[&user, "--secret-name", &secret_name, "--kms-key-id", key])
        .assert_ok();
    let described = block_on(env.sm.describe_secret().secret_id(&secret_name).send()).unwrap();
    assert_eq!(described.kms_key_id(), Some(key));
}

#[test]
fn path_and_tags_are_set_on_the_user() {
    let env = Env::shared();
    let user = prefix("pathtags");
    env.create_user(&[
        &user,
        "--path",
        "/smtp/mail/",
        "--tag",
        "team=mail ops",
        "--tag",
        "cost-center=42",
    ])
    .assert_ok();
    assert_eq!(env.user(&user).unwrap().path(), "/smtp/mail/");
    let tags = block_on(env.iam.list_user_tags().user_name(&user).send()).unwrap();
    let mut tags: Vec<(String, String)> = tags
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    tags.sort();
    let run_tag = tags.iter().position(|(k, _)| k == "sesctl:create-run");
    let (_, run_id) = tags.remove(run_tag.expect("the run tag is set"));
    assert!(uuid::Uuid::parse_str(&run_id).is_ok(), "{run_id}");
    assert_eq!(
        tags,
        [
            ("cost-center".to_string(), "42".to_string()),
            ("team".to_string(), "mail ops".to_string())
        ]
    );
}

#[test]
fn the_default_user_name_is_the_consoles_in_utc() {
    let env = Env::shared();
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let run = env.create_user(&["-o", "json"]);
    let after = chrono::Utc::now() + chrono::Duration::seconds(1);
    run.assert_ok();
    let name = run.json()["user_name"].as_str().unwrap().to_string();
    let stamp = name
        .strip_prefix("ses-smtp-user.")
        .unwrap_or_else(|| panic!("{name}"));
    let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d-%H%M%S")
        .unwrap()
        .and_utc();
    assert!(before <= t + chrono::Duration::seconds(1) && t <= after, "{name}");
    assert!(env.user(&name).is_some());
    assert_eq!(env.groups(&name), [GROUP]);
}

// ---- checks before any change ----

#[test]
fn an_existing_user_is_an_error_suggesting_rotate_and_nothing_changes() {
    let env = Env::shared();
    let user = prefix("exists");
    block_on(env.iam.create_user().user_name(&user).send()).unwrap();
    let secret_name = format!("{user}/smtp");
    let run = env.create_user(&[&user, "--secret-name", &secret_name]);
    run.assert_code(2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("sesctl rotate {user}")),
        "{}",
        run.stderr
    );
    assert_eq!(changes(&env.proxy.actions()), Vec::<String>::new());
    assert!(env.keys(&user).is_empty());
    assert!(!env.secret_exists(&secret_name));
}

#[test]
fn an_existing_secret_is_an_error_before_any_iam_change() {
    let env = Env::shared();
    let user = prefix("secretexists");
    let secret_name = format!("{user}/smtp");
    block_on(
        env.sm
            .create_secret()
            .name(&secret_name)
            .secret_string("{}")
            .send(),
    )
    .unwrap();
    let run = env.create_user(&[&user, "--secret-name", &secret_name]);
    run.assert_code(2);
    assert!(run.stderr.contains(&secret_name), "{}", run.stderr);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(changes(&env.proxy.actions()), Vec::<String>::new());
    assert!(env.user(&user).is_none());
    assert_eq!(env.secret(&secret_name).unwrap(), serde_json::json!({}));
}

#[test]
fn every_bad_input_exits_2_with_one_line_and_no_aws_call() {
    let env = Env::shared();
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = dir.path().join("nope/out.csv");
    let long_name = "a".repeat(65);
    let long_key = format!("{}=v", "k".repeat(129));
    let long_value = format!("k={}", "v".repeat(257));
    let too_many: Vec<String> = (0..51).map(|i| format!("k{i}=v")).collect();
    let mut too_many_args = vec!["fifty-one-tags".to_string()];
    for t in &too_many {
        too_many_args.push("--tag".into());
        too_many_args.push(t.clone());
    }
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![long_name.clone()], "1 to 64"),
        (vec!["".into()], "1 to 64"),
        (vec!["has space".into()], "contains ' '"),
        (vec!["sl/ash".into()], "contains '/'"),
        (vec!["ümlaut".into()], "contains 'ü'"),
        (vec!["semi;colon".into()], "contains ';'"),
        (vec!["ok".into(), "--path".into(), "smtp/".into()], "path"),
        (vec!["ok".into(), "--path".into(), "/smtp".into()], "path"),
        (vec!["ok".into(), "--path".into(), "/a b/".into()], "path"),
        (vec!["ok".into(), "--path".into(), "//".into()], "path"),
        (vec!["ok".into(), "--tag".into(), "noequals".into()], "KEY=VALUE"),
        (vec!["ok".into(), "--tag".into(), "=v".into()], "1 to 128"),
        (vec!["ok".into(), "--tag".into(), "aws:x=1".into()], "aws:"),
        (vec!["ok".into(), "--tag".into(), "k=v;".into()], "contains ';'"),
        (vec!["ok".into(), "--tag".into(), long_key], "1 to 128"),
        (vec!["ok".into(), "--tag".into(), long_value], "256"),
        (
            vec![
                "ok".into(),
                "--tag".into(),
                "a=1".into(),
                "--tag".into(),
                "A=2".into(),
            ],
            "twice",
        ),
        (too_many_args, "at most 50"),
        (
            vec!["ok".into(), "--secret-name".into(), "has space".into()],
            "secret name",
        ),
        (
            vec!["ok".into(), "--secret-name".into(), "".into()],
            "secret name",
        ),
        (
            vec![
                "ok".into(),
                "--secret-name".into(),
                "s".into(),
                "--kms-key-id".into(),
                "bad key".into(),
            ],
            "KMS key",
        ),
        (
            vec!["ok".into(), "--kms-key-id".into(), "alias/x".into()],
            "--secret-name",
        ),
        (
            vec![
                "ok".into(),
                "--csv".into(),
                "x.csv".into(),
                "--secret-name".into(),
                "s".into(),
            ],
            "cannot be used with",
        ),
        (vec!["ok".into(), "--force".into()], "--csv"),
        (
            vec!["ok".into(), "--csv".into(), missing_dir.to_str().unwrap().into()],
            "does not exist",
        ),
        (
            vec!["ok".into(), "--csv".into(), dir.path().to_str().unwrap().into()],
            "directory",
        ),
        (
            vec![
                "ok".into(),
                "--verify".into(),
                "--ca-file".into(),
                "/nonexistent/private-ca.pem".into(),
            ],
            "private-ca.pem",
        ),
        (
            vec!["ok".into(), "--region".into(), "af-south-1".into()],
            "af-south-1",
        ),
        (
            vec!["ok".into(), "--region".into(), "not_a_region".into()],
            "region",
        ),
        (
            vec![
                "ok".into(),
                "--region".into(),
                "us-east-1".into(),
                "--region".into(),
                "eu-west-1".into(),
            ],
            "more than one",
        ),
    ];
    for (args, expected) in cases {
        env.proxy.reset();
        let mut cmd = Sesctl::at(&env.proxy.url).args(["create-user"]).args(&args);
        if !args.iter().any(|a| a == "--region") {
            cmd = cmd.args(["--region", REGION]);
        }
        let run = cmd.run();
        run.assert_code(2);
        let lines: Vec<&str> = stderr_lines(&run)
            .into_iter()
            // clap's own usage errors add an indented detail, a usage line and a hint.
            .filter(|l| {
                !l.trim().is_empty()
                    && !l.starts_with(' ')
                    && !l.starts_with("Usage:")
                    && !l.starts_with("For more")
            })
            .collect();
        assert_eq!(lines.len(), 1, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{args:?}: wanted {expected:?} in {}",
            run.stderr
        );
        assert_eq!(run.stdout, "");
        assert!(
            env.proxy.actions().is_empty(),
            "{args:?}: AWS was called: {:?}",
            env.proxy.actions()
        );
    }
    // No region at all.
    env.proxy.reset();
    let run = Sesctl::at(&env.proxy.url).args(["create-user", "ok"]).run();
    run.assert_code(2);
    assert!(run.stderr.contains("no region given"), "{}", run.stderr);
    assert!(env.proxy.actions().is_empty());
}

// ---- dry run ----

#[test]
fn dry_run_prints_the_plan_with_target_names_and_changes_nothing() {
    let env = Env::shared();
    let user = prefix("dry");
    let secret_name = format!("{user}/smtp");
    let run = env.create_user(&[
        &user,
        "--secret-name",
        &secret_name,
        "--path",
        "/smtp/",
        "--tag",
        "team=mail",
        "--dry-run",
    ]);
    run.assert_ok();
    for expected in [
        "iam:CreateUser".to_string(),
        format!("user {user} (path /smtp/) tagged team=mail"),
        "iam:AddUserToGroup".to_string(),
        format!("user {user} to group {GROUP}"),
        "iam:CreateAccessKey".to_string(),
        "secretsmanager:CreateSecret".to_string(),
        format!("secret {secret_name} in {REGION}"),
    ] {
        assert!(run.stdout.contains(&expected), "{expected}: {}", run.stdout);
    }
    assert_eq!(changes(&env.proxy.actions()), Vec::<String>::new());
    assert!(env.user(&user).is_none());
    assert!(!env.secret_exists(&secret_name));
    // The JSON plan, and for CSV the plan names the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    let run = env.create_user(&[&user, "--csv", path.to_str().unwrap(), "--dry-run", "-o", "json"]);
    run.assert_ok();
    let plan = run.json();
    assert_eq!(plan["command"], "create-user");
    assert!(plan.to_string().contains(path.to_str().unwrap()));
    assert!(!path.exists());
    assert!(env.user(&user).is_none());
    assert!(!run.stdout.contains("Smtp Password"));
}

// ---- rollback ----

/// Fails `action` once and checks that the run names it, says it rolled back, and left nothing.
fn fails_and_rolls_back(env: &Env, action: &str, sink: &[&str], user: &str) -> Run {
    env.fail(action);
    let mut args = vec![user];
    args.extend_from_slice(sink);
    let run = env.create_user(&args);
    run.assert_code(1);
    let lines = stderr_lines(&run);
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("iam:{action}"))
            || run.stderr.contains(&format!("secretsmanager:{action}")),
        "names the step: {}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "nothing on stdout");
    assert_gone(env, user);
    run
}

#[test]
fn a_failed_create_user_leaves_nothing_and_says_nothing_was_created() {
    let env = Env::shared();
    let user = prefix("rbcreate");
    let secret_name = format!("{user}/smtp");
    let run = fails_and_rolls_back(&env, "CreateUser", &["--secret-name", &secret_name], &user);
    assert!(run.stderr.contains("nothing had been created"), "{}", run.stderr);
    assert!(!env.secret_exists(&secret_name));
    let actions = env.proxy.actions();
    assert!(!actions.contains(&"CreateAccessKey".to_string()), "{actions:?}");
}

#[test]
fn each_failed_step_after_create_user_is_rolled_back() {
    let env = Env::shared();
    for action in ["AddUserToGroup", "CreateAccessKey", "CreateSecret"] {
        env.proxy.reset();
        let user = prefix(&format!("rb{action}"));
        let secret_name = format!("{user}/smtp");
        let run = fails_and_rolls_back(&env, action, &["--secret-name", &secret_name], &user);
        assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("deleted user {user}")),
            "{}",
            run.stderr
        );
        assert!(!env.secret_exists(&secret_name), "{action}: secret left");
        let actions = env.proxy.actions();
        // moto deletes a user that still has keys (IAM would refuse), so check the calls were made.
        if action != "CreateAccessKey" {
            assert!(
                actions.contains(&"DeleteAccessKey".to_string()),
                "{action}: {actions:?}"
            );
        }
        let delete_user = actions
            .iter()
            .position(|a| a == "DeleteUser")
            .expect("DeleteUser");
        if let Some(k) = actions.iter().position(|a| a == "DeleteAccessKey") {
            assert!(k < delete_user, "keys go before the user: {actions:?}");
        }
        if let Some(m) = actions.iter().position(|a| a == "RemoveUserFromGroup") {
            assert!(m < delete_user, "{actions:?}");
        }
    }
}

#[test]
fn a_failed_csv_file_delivery_and_a_closed_stdout_are_rolled_back() {
    let env = Env::shared();
    // stdout closed before sesctl writes the CSV: the credential never reached anyone.
    let user = prefix("rbstdout");
    let mut child = env.sesctl(&[&user], &[]).spawn();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stdout"), "{stderr}");
    assert!(stderr.contains("rolled back"), "{stderr}");
    assert_gone(&env, &user);
}

#[test]
fn setups_failed_calls_roll_the_user_back() {
    for action in ["CreatePolicy", "CreateGroup", "AttachGroupPolicy"] {
        let moto = Moto::dedicated();
        let env = Env::on(&moto);
        let user = prefix(&format!("rbsetup{action}"));
        let run = fails_and_rolls_back(&env, action, &[], &user);
        assert!(
            run.stderr.contains("rolled back") || run.stderr.contains("nothing had been created"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn no_rollback_keeps_what_exists_and_lists_it() {
    let env = Env::shared();
    for action in ["AddUserToGroup", "CreateAccessKey", "CreateSecret"] {
        env.proxy.reset();
        env.fail(action);
        let user = prefix(&format!("keep{action}"));
        let secret_name = format!("{user}/smtp");
        let run = env.create_user(&[&user, "--secret-name", &secret_name, "--no-rollback"]);
        run.assert_code(1);
        assert!(run.stderr.contains("--no-rollback"), "{}", run.stderr);
        assert!(run.stderr.contains(&format!("user {user}")), "{}", run.stderr);
        assert!(env.user(&user).is_some(), "{action}: the user is kept");
        for key in env.keys(&user) {
            assert!(
                run.stderr.contains(&key),
                "{action}: key {key} listed: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains("never delivered"),
                "an undelivered key is named as such: {}",
                run.stderr
            );
        }
        if action == "CreateAccessKey" {
            assert!(env.keys(&user).is_empty());
        } else {
            assert_eq!(env.keys(&user).len(), 1);
        }
        if action == "AddUserToGroup" {
            assert!(env.groups(&user).is_empty());
        } else {
            assert_eq!(env.groups(&user), [GROUP]);
            assert!(
                run.stderr.contains(&format!("membership in group {GROUP}")),
                "{}",
                run.stderr
            );
        }
        assert!(!env.secret_exists(&secret_name));
    }
}

#[test]
fn a_rollback_that_fails_says_what_is_left() {
    let env = Env::shared();
    env.proxy.set_rules(serde_json::json!([
        {"action": "CreateSecret", "fault": "error", "status": 500, "code": "ServiceFailure"},
        {"action": "DeleteUser", "fault": "error", "status": 403, "code": "AccessDenied"},
    ]));
    let user = prefix("rbfails");
    let secret_name = format!("{user}/smtp");
    let run = env.create_user(&[&user, "--secret-name", &secret_name]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("secretsmanager:CreateSecret"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("rollback was incomplete"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("could NOT remove user {user}")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("removed removed"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("`sesctl delete-user {user}`")),
        "names the one command that cleans up: {}",
        run.stderr
    );
    assert!(run.stderr.contains("iam:DeleteUser"), "{}", run.stderr);
    assert!(env.user(&user).is_some());
    assert!(env.keys(&user).is_empty(), "the keys did go");
}

#[test]
fn a_key_whose_answer_was_lost_is_not_left_behind() {
    // The first CreateAccessKey takes effect but its answer never arrives; the SDK retries and gets a
    // second key. The first key's secret is lost: it must not stay behind silently.
    let env = Env::shared();
    let lose_first_answer = serde_json::json!([{"action": "CreateAccessKey", "fault": "after", "times": 1}]);
    env.proxy.set_rules(lose_first_answer.clone());
    let user = prefix("lostkey");
    let secret_name = format!("{user}/smtp");
    let run = env.create_user(&[&user, "--secret-name", &secret_name]);
    run.assert_ok();
    let creates = env
        .proxy
        .actions()
        .iter()
        .filter(|a| *a == "CreateAccessKey")
        .count();
    assert_eq!(creates, 2, "{:?}", env.proxy.actions());
    let keys = env.keys(&user);
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(
        env.secret(&secret_name).unwrap()["access_key_id"],
        keys[0].as_str()
    );
    assert!(
        run.stderr.contains("warning: deleted access key"),
        "{}",
        run.stderr
    );

    // Without retries the step fails: everything is rolled back, the key nobody heard of included.
    env.proxy.reset();
    env.proxy.set_rules(lose_first_answer);
    let user = prefix("lostkey1");
    let run = env.create_user(&[&user, "--max-attempts", "1"]);
    run.assert_code(1);
    assert!(run.stderr.contains("iam:CreateAccessKey"), "{}", run.stderr);
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    assert!(run.stderr.contains("deleted access key"), "{}", run.stderr);
    assert_gone(&env, &user);
    assert!(env.proxy.actions().contains(&"DeleteAccessKey".to_string()));
}

#[test]
fn a_secret_whose_answer_was_lost_is_rolled_back_too() {
    // CreateSecret takes effect but its answer never arrives and there is no retry: the run fails, and
    // the secret (found by name and its tag naming this run's user) goes with the rest.
    let env = Env::shared();
    env.proxy
        .set_rules(serde_json::json!([{"action": "CreateSecret", "fault": "after"}]));
    let user = prefix("lostsecret");
    let secret_name = format!("{user}/smtp");
    let run = env.create_user(&[&user, "--secret-name", &secret_name, "--max-attempts", "1"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("secretsmanager:CreateSecret"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("deleted secret"), "{}", run.stderr);
    assert!(!env.secret_exists(&secret_name));
    assert_gone(&env, &user);
}

// ---- a lost iam:CreateUser answer ----

fn user_tags(env: &Env, user: &str) -> Vec<(String, String)> {
    block_on(env.iam.list_user_tags().user_name(user).send())
        .map(|o| {
            o.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_user_whose_create_answer_was_lost_is_recognised_by_its_run_tag_and_finished() {
    // Once: the retry sees EntityAlreadyExists. Every attempt: no answer ever arrives. Either way the
    // user exists, made by this run, and the run carries on with it instead of leaving it behind.
    let env = Env::shared();
    for (case, rule) in [
        (
            "once",
            serde_json::json!([{"action": "CreateUser", "fault": "after", "times": 1}]),
        ),
        (
            "always",
            serde_json::json!([{"action": "CreateUser", "fault": "after"}]),
        ),
    ] {
        env.proxy.reset();
        env.proxy.set_rules(rule);
        let user = prefix(&format!("lostuser{case}"));
        let secret_name = format!("{user}/smtp");
        let run = env.create_user(&[&user, "--secret-name", &secret_name, "--max-attempts", "2"]);
        run.assert_ok();
        assert!(run.stderr.contains("iam:CreateUser"), "{case}: {}", run.stderr);
        assert!(run.stderr.contains("had taken effect"), "{case}: {}", run.stderr);
        let keys = env.keys(&user);
        assert_eq!(keys.len(), 1, "{case}");
        assert_eq!(env.groups(&user), [GROUP], "{case}");
        assert_eq!(
            env.secret(&secret_name).unwrap()["access_key_id"],
            keys[0].as_str()
        );
        let tags = user_tags(&env, &user);
        assert!(
            tags.iter()
                .any(|(k, v)| k == "sesctl:create-run" && !v.is_empty()),
            "{case}: {tags:?}"
        );
    }
}

#[test]
fn someone_elses_user_created_meanwhile_is_left_alone() {
    // prepare's iam:GetUser is told the user is absent; it exists (made by someone else, without this
    // run's tag), so CreateUser's EntityAlreadyExists is a real conflict: nothing is created or removed.
    let env = Env::shared();
    let user = prefix("otheruser");
    block_on(env.iam.create_user().user_name(&user).send()).unwrap();
    env.proxy.set_rules(serde_json::json!([
        {"action": "GetUser", "fault": "error", "status": 404, "code": "NoSuchEntity", "times": 1}
    ]));
    let run = env.create_user(&[&user]);
    run.assert_code(1);
    assert!(run.stderr.contains("EntityAlreadyExists"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing had been created"), "{}", run.stderr);
    assert!(env.user(&user).is_some(), "the other user is not deleted");
    assert!(!env.proxy.actions().contains(&"DeleteUser".to_string()));
    assert!(env.keys(&user).is_empty());
}

#[test]
fn fifty_tags_leave_no_room_for_the_run_tag() {
    let env = Env::shared();
    let user = prefix("tags50");
    let mut args = vec![user.clone()];
    for i in 0..50 {
        args.push("--tag".into());
        args.push(format!("k{i}=v"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = env.create_user(&args);
    run.assert_code(2);
    assert!(run.stderr.contains("at most 49"), "{}", run.stderr);
    let run = env.create_user(&[&user, "--tag", "sesctl:create-run=x"]);
    run.assert_code(2);
    assert!(env.proxy.actions().is_empty());
}
