//! Secret hygiene, through the built binary: the secret access key and the SMTP password never appear
//! in stdout or stderr outside the deliberate CSV/JSON result — at every log level, in `--dry-run`, in
//! error messages (SDK errors included) — and while a secret is in memory the process has no child
//! processes, cannot dump core, and keeps the secret out of its argv and environment. The real values
//! are known from the proxy's recording of moto's CreateAccessKey answers (and the values the test
//! stored itself).

use std::os::unix::fs::PermissionsExt;

use crate::support::fixtures::{recorded_key_secrets, recorded_user_with_secret};
use crate::support::{self, moto, prefix, FaultProxy, Run, Sesctl, TEST_SECRET_ACCESS_KEY};

const REGION: &str = "eu-west-1";

/// The ways of running that log the most: none, -vvv, RUST_LOG=trace, and trace for the SDK's
/// wire-level targets named one by one.
const MODES: [(&str, Option<&str>); 4] = [
    ("", None),
    ("-vvv", None),
    ("", Some("trace")),
    (
        "",
        Some(
            "aws_smithy_runtime=trace,aws_smithy_runtime_api=trace,aws_smithy_http_client=trace,\
             aws_sigv4=trace,aws_sdk_iam=trace,aws_sdk_secretsmanager=trace,hyper=trace,hyper_util=trace",
        ),
    ),
];

fn with_mode(mut s: Sesctl, mode: (&str, Option<&str>)) -> Sesctl {
    if !mode.0.is_empty() {
        s = s.args([mode.0]);
    }
    if let Some(filter) = mode.1 {
        s = s.env("RUST_LOG", filter);
    }
    s
}

fn record(proxy: &FaultProxy, more: serde_json::Value) {
    let mut rules = vec![serde_json::json!({"action": "CreateAccessKey", "fault": "record"})];
    rules.extend(more.as_array().cloned().unwrap_or_default());
    proxy.reset();
    proxy.set_rules(serde_json::Value::Array(rules));
}

#[track_caller]
fn assert_absent(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(s.len() >= 16, "not a real secret value: {s:?}");
        assert!(!text.contains(s), "a secret value appears in {what}:\n{text}");
    }
}

/// Secrets appear in neither stream.
#[track_caller]
fn assert_clean(run: &Run, secrets: &[&str]) {
    assert_absent("stdout", &run.stdout, secrets);
    assert_absent("stderr", &run.stderr, secrets);
}

// ---- create-user ----

#[test]
fn create_user_keeps_secrets_to_the_deliberate_result_at_every_log_level() {
    let proxy = FaultProxy::start(moto());
    let dir = tempfile::tempdir().unwrap();
    let p = prefix("hyg-create");
    for (i, mode) in MODES.into_iter().enumerate() {
        // To a secret: nothing secret anywhere.
        record(&proxy, serde_json::json!([]));
        let user = format!("{p}-sm{i}");
        let run = with_mode(Sesctl::at(&proxy.url), mode)
            .args(["create-user", &user, "--region", REGION, "--secret-name"])
            .args([format!("smtp/{user}")])
            .run();
        run.assert_ok();
        let key = recorded_key_secrets(&proxy).pop().unwrap();
        assert_clean(&run, &[&key, &support::v4_password(&key, REGION)]);

        // To a CSV file: nothing secret on the terminal; the file is 0600 and holds the password.
        record(&proxy, serde_json::json!([]));
        let user = format!("{p}-file{i}");
        let path = dir.path().join(format!("{user}.csv"));
        let run = with_mode(Sesctl::at(&proxy.url), mode)
            .args(["create-user", &user, "--region", REGION, "--csv"])
            .args([&path])
            .run();
        run.assert_ok();
        let key = recorded_key_secrets(&proxy).pop().unwrap();
        let pw = support::v4_password(&key, REGION);
        assert_clean(&run, &[&key, &pw]);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&pw));
        assert_absent("the CSV file", &text, &[&key]);

        // To stdout (CSV, then JSON): the password once, in the result only; never on stderr; the
        // key's secret nowhere.
        for format in ["text", "json"] {
            record(&proxy, serde_json::json!([]));
            let user = format!("{p}-{format}{i}");
            let run = with_mode(Sesctl::at(&proxy.url), mode)
                .args(["create-user", &user, "--region", REGION, "-o", format])
                .run();
            run.assert_ok();
            let key = recorded_key_secrets(&proxy).pop().unwrap();
            let pw = support::v4_password(&key, REGION);
            assert_eq!(run.stdout.matches(&pw).count(), 1, "{}", run.stdout);
            assert_absent("stderr", &run.stderr, &[&key, &pw]);
            assert_absent("stdout", &run.stdout, &[&key]);
            if format == "json" {
                assert_eq!(run.json()["smtp_password"], pw.as_str());
            } else {
                assert!(run
                    .stdout
                    .starts_with("IAM User Name,Smtp Username,Smtp Password\n"));
            }
        }
    }
}

#[test]
fn failed_deliveries_and_their_rollbacks_name_no_secret() {
    let proxy = FaultProxy::start(moto());
    let p = prefix("hyg-fail");
    // An error answer, a dropped connection and an answer lost after the secret was made: the SDK
    // error, its source chain and the rollback report are all printed (at -vvv with every cause).
    for (i, fault) in ["error", "drop", "after"].into_iter().enumerate() {
        for mode in [MODES[0], MODES[1], MODES[2]] {
            record(
                &proxy,
                serde_json::json!([{"action": "CreateSecret", "fault": fault, "status": 500}]),
            );
            let user = format!("{p}-{i}{}", mode.0.len() + mode.1.map_or(0, str::len));
            let run = with_mode(Sesctl::at(&proxy.url), mode)
                .args(["create-user", &user, "--region", REGION, "--secret-name"])
                .args([format!("smtp/{user}")])
                .run();
            run.assert_code(1);
            assert!(
                run.stderr.contains("secretsmanager:CreateSecret"),
                "{}",
                run.stderr
            );
            for key in recorded_key_secrets(&proxy) {
                assert_clean(&run, &[&key, &support::v4_password(&key, REGION)]);
            }
        }
    }
}

#[test]
fn dry_runs_name_no_secret() {
    let proxy = FaultProxy::start(moto());
    let p = prefix("hyg-dry");
    let user = format!("{p}-u");
    let (key, pw) = recorded_user_with_secret(&proxy, &user);
    for mode in MODES {
        let run = with_mode(Sesctl::at(&proxy.url), mode)
            .args(["rotate", &user, "--region", REGION, "--dry-run", "--secret-name"])
            .args([format!("smtp/{user}")])
            .run();
        run.assert_ok();
        assert_clean(&run, &[&key, &pw]);
        let run = with_mode(Sesctl::at(&proxy.url), mode)
            .args([
                "create-user",
                &format!("{p}-new"),
                "--region",
                REGION,
                "--dry-run",
            ])
            .run();
        run.assert_ok();
        assert_clean(&run, &[TEST_SECRET_ACCESS_KEY]);
    }
}

// ---- rotate ----

#[test]
fn rotate_names_neither_the_old_nor_the_new_secrets() {
    let proxy = FaultProxy::start(moto());
    let p = prefix("hyg-rot");
    for (i, mode) in MODES.into_iter().enumerate() {
        let user = format!("{p}-{i}");
        let (old_key, old_pw) = recorded_user_with_secret(&proxy, &user);
        record(&proxy, serde_json::json!([]));
        let run = with_mode(Sesctl::at(&proxy.url), mode)
            .args(["rotate", &user, "--region", REGION, "--secret-name"])
            .args([format!("smtp/{user}")])
            .run();
        run.assert_ok();
        let new_key = recorded_key_secrets(&proxy).pop().unwrap();
        assert_clean(
            &run,
            &[
                &old_key,
                &old_pw,
                &new_key,
                &support::v4_password(&new_key, REGION),
            ],
        );

        // Without a secret: the new password goes to stdout in the CSV, nowhere else.
        record(&proxy, serde_json::json!([]));
        let run = with_mode(Sesctl::at(&proxy.url), mode)
            .args(["rotate", &user, "--region", REGION, "--delete-inactive"])
            .run();
        run.assert_ok();
        let newest = recorded_key_secrets(&proxy).pop().unwrap();
        let pw = support::v4_password(&newest, REGION);
        assert_eq!(run.stdout.matches(&pw).count(), 1);
        assert_absent("stderr", &run.stderr, &[&newest, &pw, &new_key, &old_pw]);
        assert_absent("stdout", &run.stdout, &[&newest, &new_key, &old_pw]);
    }
}

#[test]
fn failed_rotations_name_no_secret() {
    let proxy = FaultProxy::start(moto());
    let p = prefix("hyg-rotfail");
    for (i, action) in ["PutSecretValue", "UpdateSecretVersionStage"]
        .into_iter()
        .enumerate()
    {
        for fault in ["error", "drop"] {
            let user = format!("{p}-{i}{fault}");
            let (old_key, old_pw) = recorded_user_with_secret(&proxy, &user);
            record(
                &proxy,
                serde_json::json!([{"action": action, "fault": fault, "status": 500}]),
            );
            let run = Sesctl::at(&proxy.url)
                .args(["-vvv", "rotate", &user, "--region", REGION, "--secret-name"])
                .args([format!("smtp/{user}")])
                .env("RUST_LOG", "trace")
                .run();
            run.assert_code(1);
            assert!(
                run.stderr.contains(&format!("secretsmanager:{action}")),
                "{}",
                run.stderr
            );
            let new_key = recorded_key_secrets(&proxy).pop().unwrap();
            assert_clean(
                &run,
                &[
                    &old_key,
                    &old_pw,
                    &new_key,
                    &support::v4_password(&new_key, REGION),
                ],
            );
        }
    }
}

// ---- derive ----

#[test]
fn derive_prints_the_password_alone_and_never_the_secret() {
    let secret = "Kx9/hygieneSecretAccessKeyValue+0123456";
    let pw = support::v4_password(secret, REGION);
    for mode in MODES {
        let run = with_mode(Sesctl::offline(), mode)
            .args(["derive", "--region", REGION])
            .stdin(format!("{secret}\n"))
            .run();
        run.assert_ok();
        assert_eq!(run.stdout, format!("{pw}\n"));
        assert_absent("stderr", &run.stderr, &[secret, &pw]);
        assert_absent("stdout", &run.stdout, &[secret]);

        // From the credential chain: the chain's secret is never printed.
        let run = with_mode(Sesctl::at("http://127.0.0.1:9"), mode)
            .args(["derive", "--from-credentials", "--region", REGION])
            .run();
        run.assert_ok();
        assert_absent("output", &run.all_output(), &[TEST_SECRET_ACCESS_KEY]);

        // A malformed secret is refused without being echoed.
        let run = with_mode(Sesctl::offline(), mode)
            .args(["derive", "--region", REGION])
            .stdin("Kx9/hygieneSecret AccessKeyValue+0123456\n")
            .run();
        run.assert_code(2);
        assert_absent(
            "output",
            &run.all_output(),
            &["Kx9/hygieneSecret", "AccessKeyValue+0123456"],
        );
    }
}

// ---- the process while a secret is in memory ----

fn children(pid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("children");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        out.extend(text.split_whitespace().map(str::to_string));
    }
    out
}

#[test]
fn while_a_secret_is_in_memory_there_is_no_child_no_core_dump_and_no_secret_in_argv_or_environ() {
    let proxy = FaultProxy::start(moto());
    let user = format!("{}-held", prefix("hyg-proc"));
    // The key is created (and recorded); storing it hangs: sesctl holds the key's secret and the SMTP
    // password in memory now.
    record(
        &proxy,
        serde_json::json!([{"action": "CreateSecret", "fault": "hang", "seconds": 60}]),
    );
    let mut child = Sesctl::at(&proxy.url)
        // Not verbose: nobody reads its pipes until it ends, so it must not fill them.
        .args(["create-user", &user, "--region", REGION, "--secret-name"])
        .args([format!("smtp/{user}")])
        .spawn();
    proxy.wait_for("CreateSecret");
    let pid = child.id();
    let key = recorded_key_secrets(&proxy).pop().unwrap();
    let pw = support::v4_password(&key, REGION);

    assert_eq!(
        children(pid),
        Vec::<String>::new(),
        "sesctl started a child process"
    );
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    for text in [cmdline, environ] {
        assert_absent(
            "argv or environment",
            &String::from_utf8_lossy(&text),
            &[&key, &pw],
        );
    }
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_absent("output", &String::from_utf8_lossy(&out.stderr), &[&key, &pw]);
}

/// sesctl's own code starts no process (the only child the SDK may start is an operator's configured
/// `credential_process`, before any secret of sesctl's exists).
#[test]
fn the_source_starts_no_process() {
    let mut stack = vec![support::repo_root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for needle in ["process::Command", "Command::new", "libc::fork", "libc::exec"] {
                    assert!(!text.contains(needle), "{} uses {needle}", path.display());
                }
            }
        }
    }
}

#[test]
fn rotated_csv_files_are_0600() {
    let proxy = FaultProxy::start(moto());
    let dir = tempfile::tempdir().unwrap();
    let user = format!("{}-u", prefix("hyg-csv"));
    let first = dir.path().join("first.csv");
    Sesctl::at(&proxy.url)
        .args(["create-user", &user, "--region", REGION, "--csv"])
        .args([&first])
        .run()
        .assert_ok();
    let second = dir.path().join("second.csv");
    Sesctl::at(&proxy.url)
        .args(["rotate", &user, "--region", REGION, "--csv"])
        .args([&second])
        .run()
        .assert_ok();
    for path in [first, second] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

// ---- verify ----

/// The password and the forms an SMTP AUTH exchange carries it in (AUTH PLAIN and AUTH LOGIN).
fn auth_forms(user: &str, pw: &str) -> Vec<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        pw.to_string(),
        b64.encode(format!("\0{user}\0{pw}")),
        b64.encode(pw),
    ]
}

#[test]
fn verify_names_no_password_whether_the_login_succeeds_or_not() {
    use crate::support::smtp::{Mode, SmtpServer};

    let user = "AKIAIOSFODNN7EXAMPLE";
    let pw = "BHygieneVerifyPasswordValue0123456789abcdEFGH";
    let smtp = SmtpServer::start(Mode::Starttls, user, pw);
    let lettre = ("", Some("lettre=trace,sesctl=trace"));
    for mode in MODES.into_iter().chain([lettre]) {
        for (given, code) in [(pw, 0), ("BHygieneWrongPasswordValue0123456789abcdEFGH", 1)] {
            let run = with_mode(Sesctl::offline(), mode)
                .args([
                    "verify",
                    "--username",
                    user,
                    "--region",
                    REGION,
                    "--smtp-host",
                    "127.0.0.1",
                ])
                .args(["--port", &smtp.port.to_string(), "--ca-file"])
                .args([&smtp.ca_file])
                .stdin(format!("{given}\n"))
                .run();
            run.assert_code(code);
            let forms = auth_forms(user, given);
            assert_clean(&run, &forms.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}

#[test]
fn verify_from_a_secret_names_no_password() {
    use crate::support::smtp::{Mode, SmtpServer};

    // A moto of its own: the SMTP server reads moto's whole state, which fails while other tests
    // change the shared one.
    let moto = crate::support::Moto::dedicated();
    let proxy = FaultProxy::start(&moto);
    let user = format!("{}-v", prefix("hyg-verify"));
    let (key, pw) = recorded_user_with_secret(&proxy, &user);
    let smtp = SmtpServer::start_iam(Mode::Starttls, &moto.url, REGION, 0);
    for mode in MODES {
        let run = with_mode(Sesctl::at(&proxy.url), mode)
            .args([
                "verify",
                "--region",
                REGION,
                "--smtp-host",
                "127.0.0.1",
                "--secret-name",
            ])
            .args([format!("smtp/{user}")])
            .args(["--port", &smtp.port.to_string(), "--ca-file"])
            .args([&smtp.ca_file])
            .run();
        run.assert_ok();
        assert_clean(&run, &[&key, &pw]);
    }
}
