//! Two sesctl runs on one user at once, made deterministic: one run's request is held by the fault
//! proxy (`delay`) while the other runs to its end directly against moto. Whatever the interleaving,
//! AWSCURRENT must keep an active key, and no run may delete or retire a key another run created.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{self, block_on, fixtures, prefix, FaultProxy, Moto, Run, Sesctl};

const REGION: &str = "eu-west-1";

struct World {
    moto: Moto,
    user: String,
    secret: String,
}

fn world(test: &str) -> World {
    let moto = Moto::dedicated();
    let (user, secret) = fixtures::user_with_secret(&moto.url, test);
    World { moto, user, secret }
}

impl World {
    fn keys(&self) -> Vec<(String, String)> {
        support::access_keys(&self.moto.url, &self.user)
    }

    fn current_key(&self) -> String {
        fixtures::current_key(&self.moto.url, REGION, &self.secret)
    }

    fn has_pending(&self) -> bool {
        let out = block_on(
            support::secretsmanager(&self.moto.url, REGION)
                .describe_secret()
                .secret_id(&self.secret)
                .send(),
        )
        .unwrap();
        out.version_ids_to_stages().is_some_and(|m| {
            m.values()
                .any(|s| s.iter().any(|x| x == "AWSPENDING") && !s.iter().any(|x| x == "AWSCURRENT"))
        })
    }

    /// The invariant: AWSCURRENT names a key that exists and is active.
    fn assert_current_is_active(&self) {
        let current = self.current_key();
        let keys = self.keys();
        assert!(
            keys.iter()
                .any(|(id, status)| *id == current && status == "Active"),
            "AWSCURRENT holds {current}, keys are {keys:?}"
        );
    }
}

#[test]
fn the_loser_of_two_rotations_never_deletes_the_winners_new_key() {
    // B (to the secret, or to a CSV file) is held at CreateAccessKey; A rotates meanwhile and wins.
    // B's CreateAccessKey then meets the two-key limit: before, its clean-up deleted A's new key.
    for delivery in ["secret", "csv"] {
        let w = world(&format!("race{delivery}"));
        let original = w.current_key();
        let proxy = FaultProxy::start(&w.moto);
        proxy.set_rules(json!([{"action": "CreateAccessKey", "fault": "delay", "seconds": 4}]));
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("b.csv");
        let mut b_args = vec![
            "rotate".to_string(),
            w.user.clone(),
            "--region".into(),
            REGION.into(),
        ];
        match delivery {
            "secret" => b_args.extend(["--secret-name".into(), w.secret.clone()]),
            _ => b_args.extend(["--csv".into(), csv.display().to_string()]),
        }
        let b = Sesctl::at(&proxy.url).args(&b_args).spawn();
        proxy.wait_for("CreateAccessKey");

        let a = Sesctl::at(&w.moto.url)
            .args(["rotate", &w.user, "--secret-name", &w.secret, "--region", REGION])
            .run();
        a.assert_ok();
        let winner = w.current_key();
        assert_ne!(winner, original);

        let b = Run::wait(b);
        assert_eq!(b.code, 1, "{delivery}: {}", b.all_output());
        assert!(
            b.stderr.contains(&format!("key {winner} appeared")) && b.stderr.contains("left as it is"),
            "{delivery}: B names the winner's key and leaves it: {}",
            b.stderr
        );
        assert!(b.stderr.contains("untouched"), "{}", b.stderr);
        w.assert_current_is_active();
        assert_eq!(w.current_key(), winner);
        assert!(!csv.exists(), "B delivered nothing");
        assert_eq!(
            w.keys(),
            {
                let mut k = vec![
                    (original.clone(), "Inactive".to_string()),
                    (winner.clone(), "Active".to_string()),
                ];
                k.sort();
                k
            },
            "{delivery}"
        );
    }
}

#[test]
fn finish_racing_a_rotation_never_leaves_awscurrent_without_an_active_key() {
    // R is held at PutSecretValue: its new key exists but no stage names it yet. `--finish` sees that
    // key as one to retire and deactivates it. R must notice before promoting, and roll back.
    let w = world("racefinish");
    let original = w.current_key();
    let proxy = FaultProxy::start(&w.moto);
    proxy.set_rules(json!([{"action": "PutSecretValue", "fault": "delay", "seconds": 4}]));
    let r = Sesctl::at(&proxy.url)
        .args(["rotate", &w.user, "--secret-name", &w.secret, "--region", REGION])
        .spawn();
    proxy.wait_for("PutSecretValue");

    let fin = Sesctl::at(&w.moto.url)
        .args([
            "rotate",
            &w.user,
            "--secret-name",
            &w.secret,
            "--region",
            REGION,
            "--finish",
        ])
        .run();
    fin.assert_ok();

    let r = Run::wait(r);
    assert_eq!(r.code, 1, "{}", r.all_output());
    assert!(
        r.stderr.contains("was deactivated by someone else"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Rolled back"), "{}", r.stderr);
    assert_eq!(w.current_key(), original, "AWSCURRENT was not moved");
    w.assert_current_is_active();
    assert!(!w.has_pending(), "the rolled-back version is not left pending");
    assert_eq!(w.keys(), vec![(original, "Active".to_string())]);
}

#[test]
fn finish_retires_nothing_when_a_rotation_is_stored_after_its_plan() {
    // `--finish` is held at its first retirement; a rotation meanwhile stores and promotes a new key.
    // The re-read before retiring sees AWSCURRENT moved and retires nothing.
    let w = world("racefinish2");
    // A kept old key gives --finish something to retire.
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
    let proxy = FaultProxy::start(&w.moto);
    // Hold --finish after its plan (GetAccessKeyLastUsed is read while planning), at the re-read.
    proxy.set_rules(json!([{"action": "DescribeSecret", "fault": "delay", "seconds": 4, "skip": 1}]));
    let fin = Sesctl::at(&proxy.url)
        .args([
            "rotate",
            &w.user,
            "--secret-name",
            &w.secret,
            "--region",
            REGION,
            "--finish",
        ])
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while proxy.actions().iter().filter(|a| *a == "DescribeSecret").count() < 2 {
        assert!(Instant::now() < deadline, "--finish never re-read the secret");
        std::thread::sleep(Duration::from_millis(20));
    }
    let a = Sesctl::at(&w.moto.url)
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
        .run();
    a.assert_ok();
    let newest = w.current_key();
    let before = w.keys();
    let fin = Run::wait(fin);
    assert_eq!(fin.code, 1, "{}", fin.all_output());
    assert!(fin.stderr.contains("nothing was retired"), "{}", fin.stderr);
    assert!(fin.stderr.contains(&newest), "{}", fin.stderr);
    assert_eq!(w.keys(), before, "no key was touched");
    w.assert_current_is_active();
}

#[test]
fn a_user_another_migrate_run_finished_is_reported_already_migrated() {
    use crate::support::legacy;
    let moto = Moto::dedicated();
    Sesctl::at(&moto.url).args(["setup"]).run().assert_ok();
    let user = format!("{}-u", prefix("racemigrate"));
    legacy::create_legacy_users(&moto.url, std::slice::from_ref(&user));
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([{"action": "AddUserToGroup", "fault": "delay", "seconds": 2}]));
    let child = Sesctl::at(&proxy.url)
        .args(["migrate-inline-policy", &user, "--yes", "-o", "json"])
        .spawn();
    proxy.wait_for("AddUserToGroup");
    // The other run: the user joins the group and loses its inline policy meanwhile.
    legacy::add_to_group(&moto.url, &user);
    legacy::delete_inline_policy(&moto.url, &user);
    let run = Run::wait(child);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let entry = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"] == user.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["status"], "already_migrated", "{entry}");
    assert!(
        entry["note"].as_str().unwrap_or_default().contains("another run"),
        "{entry}"
    );
    assert!(legacy::state(&moto.url, &user).can_send());
}

#[test]
fn an_unanswered_attempt_never_deletes_the_key_another_rotation_rolled_out_meanwhile() {
    // A's CreateAccessKey is held and then dropped without an answer (it never reached IAM); B
    // rotates to its end meanwhile. A then finds a key it did not have: before, A took it for its own
    // attempt's and deleted it, which left AWSCURRENT naming a deleted key. B's key is recognised as
    // another run's (a stage names it, the old key was retired) and left.
    for delivery in ["secret", "csv"] {
        let w = world(&format!("racelost{delivery}"));
        let original = w.current_key();
        let proxy = FaultProxy::start(&w.moto);
        proxy.set_rules(json!([
            {"action": "CreateAccessKey", "fault": "hang", "seconds": 4, "times": 1}
        ]));
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.csv");
        let mut a_args = vec![
            "rotate".to_string(),
            w.user.clone(),
            "--region".into(),
            REGION.into(),
        ];
        match delivery {
            "secret" => a_args.extend(["--secret-name".into(), w.secret.clone()]),
            _ => a_args.extend(["--csv".into(), csv.display().to_string()]),
        }
        let a = Sesctl::at(&proxy.url).args(&a_args).spawn();
        proxy.wait_for("CreateAccessKey");

        Sesctl::at(&w.moto.url)
            .args(["rotate", &w.user, "--secret-name", &w.secret, "--region", REGION])
            .run()
            .assert_ok();
        let winner = w.current_key();
        assert_ne!(winner, original);

        let a = Run::wait(a);
        assert_eq!(a.code, 1, "{delivery}: {}", a.all_output());
        assert!(
            a.stderr.contains(&format!("key {winner} appeared"))
                && a.stderr.contains("another run's new key")
                && a.stderr.contains("left as it is"),
            "{delivery}: A names B's key and leaves it: {}",
            a.stderr
        );
        w.assert_current_is_active();
        assert_eq!(w.current_key(), winner);
        assert!(!csv.exists(), "A delivered nothing");
        let mut expected = vec![
            (original.clone(), "Inactive".to_string()),
            (winner.clone(), "Active".to_string()),
        ];
        expected.sort();
        assert_eq!(w.keys(), expected, "{delivery}");
    }
}

#[test]
fn a_csv_rotation_whose_new_key_was_removed_after_delivery_leaves_the_old_key_active() {
    // The check before retiring the old key (a ListAccessKeys after the delivery) is held; meanwhile
    // someone deletes the new key. Retiring the old key then would leave the user without a working one.
    let w = world("racecsvretire");
    let original = w.current_key();
    let proxy = FaultProxy::start(&w.moto);
    proxy.set_rules(json!([
        {"action": "ListAccessKeys", "fault": "delay", "seconds": 3, "skip": 1}
    ]));
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("new.csv");
    let a = Sesctl::at(&proxy.url)
        .args(["rotate", &w.user, "--region", REGION, "--csv"])
        .args([&csv])
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while proxy.actions().iter().filter(|a| *a == "ListAccessKeys").count() < 2 {
        assert!(Instant::now() < deadline, "{:?}", proxy.actions());
        std::thread::sleep(Duration::from_millis(50));
    }
    let delivered = std::fs::read_to_string(&csv).unwrap();
    let new_key = delivered
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string();
    block_on(
        support::iam(&w.moto.url)
            .delete_access_key()
            .user_name(&w.user)
            .access_key_id(&new_key)
            .send(),
    )
    .unwrap();

    let a = Run::wait(a);
    assert_eq!(a.code, 1, "{}", a.all_output());
    assert!(
        a.stderr.contains(&format!("the new key {new_key} was delivered"))
            && a.stderr
                .contains(&format!("the old key {original} was left active")),
        "{}",
        a.stderr
    );
    assert_eq!(w.keys(), vec![(original, "Active".to_string())]);
    assert!(
        !proxy
            .actions()
            .iter()
            .any(|a| a == "UpdateAccessKey" || a == "DeleteAccessKey"),
        "{:?}",
        proxy.actions()
    );
}
