//! Paths that used to lose a credential or misreport what they left (hardening, second pass), each
//! through the binary against moto and the fault proxy.

use serde_json::json;

use crate::support::fixtures::{scheduled_for_deletion, user_exists, user_with_secret};
use crate::support::{self, block_on, prefix, FaultProxy, Moto, Sesctl};

const REGION: &str = "eu-west-1";

#[test]
fn a_rollback_that_cannot_delete_an_unstored_key_says_its_secret_was_never_stored() {
    let moto = Moto::dedicated();
    let (user, secret) = user_with_secret(&moto.url, "orphanreport");
    let before: Vec<String> = support::access_keys(&moto.url, &user)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([
        {"action": "PutSecretValue", "fault": "error"},
        {"action": "DeleteAccessKey", "fault": "error"}
    ]));
    let run = Sesctl::at(&proxy.url)
        .args(["rotate", &user, "--secret-name", &secret, "--region", REGION])
        .run();
    run.assert_code(1);
    let orphan = support::access_keys(&moto.url, &user)
        .into_iter()
        .map(|(k, _)| k)
        .find(|k| !before.contains(k))
        .expect("the undeletable new key is still there");
    assert!(!run.stderr.contains("nothing is lost"), "{}", run.stderr);
    assert!(
        run.stderr.contains("its secret was never stored"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "aws iam delete-access-key --user-name {user} --access-key-id {orphan}"
        )),
        "names the one command that cleans it: {}",
        run.stderr
    );
    // That command does clean it, and a rotation then runs.
    block_on(
        support::iam(&moto.url)
            .delete_access_key()
            .user_name(&user)
            .access_key_id(&orphan)
            .send(),
    )
    .unwrap();
    Sesctl::at(&moto.url)
        .args(["rotate", &user, "--secret-name", &secret, "--region", REGION])
        .run()
        .assert_ok();
}

#[test]
fn delete_user_stopped_at_the_secret_continues_when_run_again() {
    let moto = Moto::dedicated();
    let (user, secret) = user_with_secret(&moto.url, "delresume");
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([{"action": "DeleteSecret", "fault": "error"}]));
    let args = [
        "delete-user",
        &user,
        "--secret-name",
        &secret,
        "--region",
        REGION,
        "--yes",
    ];
    let run = Sesctl::at(&proxy.url).args(args).run();
    run.assert_code(1);
    assert!(
        run.stderr.contains("run the same command again"),
        "{}",
        run.stderr
    );
    assert!(!user_exists(&moto.url, &user));
    assert!(!scheduled_for_deletion(&moto.url, REGION, &secret));

    let run = Sesctl::at(&moto.url).args(args).run();
    run.assert_ok();
    assert!(run.stdout.contains("already deleted"), "{}", run.stdout);
    assert!(scheduled_for_deletion(&moto.url, REGION, &secret));
    // And once more: nothing left to do, still not an error.
    Sesctl::at(&moto.url).args(args).run().assert_ok();
}

#[test]
fn delete_user_refuses_a_secret_that_is_not_the_users_credential() {
    let moto = Moto::dedicated();
    let (user, _) = user_with_secret(&moto.url, "delforeign");
    let key = block_on(support::iam(&moto.url).list_access_keys().user_name(&user).send())
        .unwrap()
        .access_key_metadata()[0]
        .access_key_id()
        .unwrap()
        .to_string();
    let sm = support::secretsmanager(&moto.url, REGION);
    let p = prefix("delforeign");
    let cases = [
        (format!("{p}/plain"), "just some text".to_string(), false),
        (format!("{p}/other-json"), json!({"db": "x"}).to_string(), false),
        (
            format!("{p}/other-key"),
            json!({"username": "AKIAOTHEROTHEROTHER1", "password": "x"}).to_string(),
            false,
        ),
        // Another tool's shapes, holding this user's key: recognised.
        (
            format!("{p}/pepperize"),
            json!({"username": key, "password": "x"}).to_string(),
            true,
        ),
        (format!("{p}/samples"), format!("{key}:not-a-real-password"), true),
    ];
    for (name, value, _) in &cases {
        block_on(sm.create_secret().name(name).secret_string(value).send()).unwrap();
    }
    for (name, _, recognised) in &cases {
        let run = Sesctl::at(&moto.url)
            .args([
                "delete-user",
                &user,
                "--secret-name",
                name,
                "--region",
                REGION,
                "--yes",
                "--dry-run",
            ])
            .run();
        if *recognised {
            run.assert_ok();
        } else {
            run.assert_code(2);
            assert!(
                run.stderr.contains("not recognisably the SMTP credential"),
                "{name}: {}",
                run.stderr
            );
            assert!(run.stderr.contains("--force"), "{}", run.stderr);
            assert!(!run.stderr.contains("not-a-real-password") && !run.stderr.contains("just some text"));
        }
    }
    assert!(user_exists(&moto.url, &user));
}

#[test]
fn csv_paths_are_checked_before_any_change_and_force_replaces_only_regular_files() {
    let moto = Moto::dedicated();
    let dir = tempfile::tempdir().unwrap();
    let create = |user: &str, csv: &str, force: bool| {
        let mut args = vec!["create-user", user, "--region", REGION, "--csv", csv];
        if force {
            args.push("--force");
        }
        Sesctl::at(&moto.url).args(args).run()
    };
    let regular = dir.path().join("target.csv");
    std::fs::write(&regular, "old").unwrap();
    let link_to_regular = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&regular, &link_to_regular).unwrap();
    let bad = [
        (
            format!("{}/", dir.path().join("sub").display()),
            false,
            "ends with '/'",
        ),
        (
            "/proc/sesctl-test.csv".to_string(),
            false,
            "does not take a new file",
        ),
        (link_to_regular.display().to_string(), true, "a symbolic link"),
        (dir.path().display().to_string(), true, "is a directory"),
    ];
    for (i, (path, force, says)) in bad.iter().enumerate() {
        let user = format!("{}-{i}", prefix("csvbad"));
        let run = create(&user, path, *force);
        run.assert_code(2);
        assert!(run.stderr.contains(says), "{path}: {}", run.stderr);
        assert!(
            !user_exists(&moto.url, &user),
            "{path}: refused before any change"
        );
    }
    assert_eq!(std::fs::read_to_string(&regular).unwrap(), "old");
    assert!(std::fs::symlink_metadata(&link_to_regular)
        .unwrap()
        .file_type()
        .is_symlink());

    // A link to a character device is written through, and stays a link.
    let null_link = dir.path().join("null.csv");
    std::os::unix::fs::symlink("/dev/null", &null_link).unwrap();
    create(&prefix("csvnull"), null_link.to_str().unwrap(), true).assert_ok();
    assert_eq!(
        std::fs::read_link(&null_link).unwrap(),
        std::path::Path::new("/dev/null")
    );

    // /dev/stdout (here a pipe): the CSV arrives on stdout; nothing is replaced.
    let run = create(&prefix("csvstdout"), "/dev/stdout", true);
    run.assert_ok();
    assert!(
        run.stdout.contains("IAM User Name,Smtp Username,Smtp Password"),
        "{}",
        run.stdout
    );
    assert!(std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type()
        .is_symlink());

    // A regular file is replaced with a 0600 file.
    create(&prefix("csvreplace"), regular.to_str().unwrap(), true).assert_ok();
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&regular).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&regular)
        .unwrap()
        .starts_with("IAM User Name"));
}

#[test]
fn finished_work_whose_report_cannot_be_written_exits_0() {
    let moto = Moto::dedicated();
    let p = prefix("fullstdout");
    let (user, secret) = (format!("{p}-user"), format!("smtp/{p}"));
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let run = Sesctl::at(&moto.url)
        .args(["create-user", &user, "--region", REGION, "--secret-name", &secret])
        .run_with_stdout(full());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the work is done, but its report could not be written"),
        "{}",
        run.stderr
    );
    assert!(user_exists(&moto.url, &user));
    let run = Sesctl::at(&moto.url)
        .args(["rotate", &user, "--region", REGION, "--secret-name", &secret])
        .run_with_stdout(full());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("do not run the command again"),
        "{}",
        run.stderr
    );
}

#[test]
fn control_characters_in_rejected_input_are_printed_escaped() {
    let run = Sesctl::at("http://127.0.0.1:9")
        .args(["create-user", "bad\u{1b}[2Jname\nsecond line", "--region", REGION])
        .run();
    run.assert_code(2);
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
    assert_eq!(run.stderr.trim_end().lines().count(), 1, "{:?}", run.stderr);
    assert!(
        run.stderr.contains("\\u{1b}[2Jname\\nsecond line"),
        "{:?}",
        run.stderr
    );
}

/// The console-style default names of the seconds around now, as create-user makes them.
fn default_names_around_now() -> Vec<String> {
    let now = chrono::Utc::now();
    (-2..12)
        .map(|s| {
            let t = now + chrono::Duration::seconds(s);
            format!("ses-smtp-user.{}", t.format("%Y%m%d-%H%M%S"))
        })
        .collect()
}

#[test]
fn unnamed_create_users_in_the_same_second_both_succeed() {
    let moto = Moto::dedicated();
    let iam = support::iam(&moto.url);
    // Taken before the run reads it (its check finds it), and taken between its check and its
    // CreateUser (held by the proxy meanwhile): either way it makes a fresh name and succeeds.
    for held in [false, true] {
        let proxy = FaultProxy::start(&moto);
        if held {
            proxy.set_rules(json!([{"action": "CreateUser", "fault": "delay", "seconds": 2}]));
        } else {
            for n in default_names_around_now() {
                let _ = block_on(iam.create_user().user_name(&n).send());
            }
        }
        let secret = format!("smtp/{}", prefix("samesecond"));
        let child = Sesctl::at(&proxy.url)
            .args([
                "create-user",
                "--region",
                REGION,
                "--secret-name",
                &secret,
                "-o",
                "json",
            ])
            .spawn();
        if held {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !proxy.actions().iter().any(|a| a == "CreateUser") {
                assert!(std::time::Instant::now() < deadline);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            for n in default_names_around_now() {
                let _ = block_on(iam.create_user().user_name(&n).send());
            }
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "held={held}: {stderr}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let name = report["user_name"].as_str().unwrap();
        assert!(name.starts_with("ses-smtp-user."), "{name}");
        assert!(
            !default_names_around_now().contains(&name.to_string()) || !held,
            "{name}"
        );
        assert!(user_exists(&moto.url, name));
        let tags = block_on(iam.list_user_tags().user_name(name).send()).unwrap();
        assert!(
            tags.tags().iter().any(|t| t.key() == "sesctl:create-run"),
            "the run's own user"
        );
    }
}

#[test]
fn a_create_access_key_attempt_that_times_out_and_lands_later_leaves_no_second_key() {
    let moto = Moto::dedicated();
    let proxy = FaultProxy::start(&moto);
    // The first attempt is held past --api-timeout (the client gives up and tries again), then
    // reaches IAM anyway, after the second attempt's key was made.
    proxy.set_rules(json!([{"action": "CreateAccessKey", "fault": "delay", "seconds": 3, "times": 1}]));
    let p = prefix("latekey");
    let (user, secret) = (format!("{p}-user"), format!("smtp/{p}"));
    let run = Sesctl::at(&proxy.url)
        .args(["create-user", &user, "--region", REGION, "--secret-name", &secret])
        .args(["--api-timeout", "2", "--max-attempts", "3", "-o", "json"])
        .run();
    run.assert_ok();
    assert!(
        run.stderr.contains("timed out"),
        "the risk is said: {}",
        run.stderr
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    let keys = support::access_keys(&moto.url, &user);
    let delivered = run.json()["access_key_id"].as_str().unwrap().to_string();
    assert_eq!(
        keys,
        vec![(delivered, "Active".to_string())],
        "only the delivered key is left"
    );
}

#[test]
fn a_new_user_not_yet_visible_to_iam_is_waited_for() {
    // IAM is eventually consistent: for a moment after CreateUser, AddUserToGroup and CreateAccessKey
    // may answer NoSuchEntity. moto never does; the proxy does for 1.5 s after each CreateUser.
    let moto = Moto::dedicated();
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([
        {"action": "AddUserToGroup", "fault": "young", "ms": 1500},
        {"action": "CreateAccessKey", "fault": "young", "ms": 1500}
    ]));
    let p = prefix("young");
    let (user, secret) = (format!("{p}-user"), format!("smtp/{p}"));
    let run = Sesctl::at(&proxy.url)
        .args(["create-user", &user, "--region", REGION, "--secret-name", &secret])
        .run();
    run.assert_ok();
    let log = proxy.log_entries();
    let refused = log.iter().filter(|e| e["refused"] == true).count();
    assert!(
        refused >= 2,
        "IAM said NoSuchEntity at least once for each call: {log:?}"
    );
    assert_eq!(support::access_keys(&moto.url, &user).len(), 1);
    let groups = block_on(
        support::iam(&moto.url)
            .list_groups_for_user()
            .user_name(&user)
            .send(),
    )
    .unwrap();
    assert_eq!(groups.groups().len(), 1);
}

#[test]
fn report_csvs_neutralise_formula_cells_and_the_console_csv_stays_exact() {
    let moto = Moto::dedicated();
    let user = format!("={}", prefix("formula"));
    let dir = tempfile::tempdir().unwrap();
    let console = dir.path().join("console.csv");
    Sesctl::at(&moto.url)
        .args([
            "create-user",
            &user,
            "--region",
            REGION,
            "--csv",
            console.to_str().unwrap(),
        ])
        .run()
        .assert_ok();
    for command in ["list", "audit"] {
        let run = Sesctl::at(&moto.url).args([command, "-o", "csv"]).run();
        assert!(run.code == 0 || run.code == 3, "{command}: {}", run.all_output());
        let row = run
            .stdout
            .lines()
            .find(|l| l.contains(&user[1..]))
            .expect("the user's row");
        assert!(row.starts_with(&format!("'{user},")), "{command}: {row}");
        assert!(
            !run.stdout.lines().skip(1).any(|l| l.starts_with('=')),
            "{command}: {}",
            run.stdout
        );
    }
    // The credential file is read by programs, by value: the exact name.
    let text = std::fs::read_to_string(&console).unwrap();
    assert!(
        text.lines().nth(1).unwrap().starts_with(&format!("{user},")),
        "{text}"
    );
}
