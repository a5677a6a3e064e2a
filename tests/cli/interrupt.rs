//! Ctrl-C and SIGTERM sent at a chosen call (held by the fault proxy's `delay`): the call in flight
//! finishes, no new step starts, what the run made is undone, and the exit code is 128 + the signal.
//! A second signal stops at once and says so.

use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{self, fixtures, prefix, signal, FaultProxy, Moto, Run, Sesctl};

const REGION: &str = "eu-west-1";

/// Waits until the child catches `signo` (its handler is installed: the signal's bit in /proc's
/// `SigCgt`), so that a signal sent next reaches sesctl's handling and not the default action.
fn wait_until_catching(child: &Child, signo: i32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = format!("/proc/{}/status", child.id());
    loop {
        let caught = std::fs::read_to_string(&status)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            })
            .is_some_and(|mask| mask & (1 << (signo - 1)) != 0);
        if caught {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the child never installed its handler for signal {signo}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn create_user_interrupted_during_create_access_key_removes_everything_it_made() {
    for (signo, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let moto = Moto::dedicated();
        let proxy = FaultProxy::start(&moto);
        proxy.set_rules(json!([{"action": "CreateAccessKey", "fault": "delay", "seconds": 2}]));
        let p = prefix("intcreate");
        let (user, secret) = (format!("{p}-user"), format!("smtp/{p}"));
        let child = Sesctl::at(&proxy.url)
            .args(["create-user", &user, "--region", REGION, "--secret-name", &secret])
            .spawn();
        proxy.wait_for("CreateAccessKey");
        signal(&child, signo);
        let run = Run::wait(child);
        assert_eq!(run.code, code, "{}", run.all_output());
        assert!(
            run.stderr.contains("letting the call in flight finish"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("interrupted (SIG"), "{}", run.stderr);
        // The key the held call created was deleted, and the user with it: nothing is left.
        assert!(!fixtures::user_exists(&moto.url, &user), "{}", run.stderr);
        let actions = proxy.actions();
        assert!(actions.iter().any(|a| a == "DeleteAccessKey"), "{actions:?}");
        assert!(
            !actions.iter().any(|a| a == "CreateSecret"),
            "no new step started: {actions:?}"
        );
        // Re-running is clean: the name is free.
        Sesctl::at(&moto.url)
            .args(["create-user", &user, "--region", REGION, "--secret-name", &secret])
            .run()
            .assert_ok();
    }
}

#[test]
fn rotate_interrupted_while_storing_rolls_back_and_keeps_the_current_credential() {
    let moto = Moto::dedicated();
    let (user, secret) = fixtures::user_with_secret(&moto.url, "introtate");
    let before = support::access_keys(&moto.url, &user);
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([{"action": "PutSecretValue", "fault": "delay", "seconds": 2}]));
    let child = Sesctl::at(&proxy.url)
        .args(["rotate", &user, "--secret-name", &secret, "--region", REGION])
        .spawn();
    proxy.wait_for("PutSecretValue");
    signal(&child, libc::SIGINT);
    let run = Run::wait(child);
    assert_eq!(run.code, 130, "{}", run.all_output());
    assert!(run.stderr.contains("Rolled back"), "{}", run.stderr);
    assert_eq!(
        support::access_keys(&moto.url, &user),
        before,
        "the new key was deleted, the old one untouched"
    );
    let actions = proxy.actions();
    assert!(
        !actions.iter().any(|a| a == "UpdateAccessKey"),
        "the old key was never touched: {actions:?}"
    );
}

#[test]
fn a_second_signal_stops_at_once_and_says_so() {
    let moto = Moto::dedicated();
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([{"action": "CreateAccessKey", "fault": "delay", "seconds": 20}]));
    let p = prefix("inttwice");
    let user = format!("{p}-user");
    let child = Sesctl::at(&proxy.url)
        .args([
            "create-user",
            &user,
            "--region",
            REGION,
            "--secret-name",
            &format!("smtp/{p}"),
        ])
        .spawn();
    proxy.wait_for("CreateAccessKey");
    let started = Instant::now();
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    let run = Run::wait(child);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it did not wait for the held call"
    );
    assert_eq!(run.code, 130, "{}", run.all_output());
    assert!(
        run.stderr.contains("interrupted again: stopping at once"),
        "{}",
        run.stderr
    );
}

#[test]
fn commands_that_change_nothing_stop_at_once() {
    // `derive` waiting on its hidden prompt's stdin: the first Ctrl-C ends it, as in any program.
    let mut child = Sesctl::offline()
        .args(["derive", "--region", "us-east-1"])
        .spawn_open_stdin();
    // stdin stays open until the run has ended: the signal, not an end of input, must end it.
    let stdin = child.stdin.take();
    wait_until_catching(&child, libc::SIGINT);
    signal(&child, libc::SIGINT);
    let run = Run::wait(child);
    drop(stdin);
    assert_eq!(run.code, 130, "{}", run.all_output());
}

#[test]
fn migrate_interrupted_starts_no_new_step_and_every_user_can_still_send() {
    use crate::support::legacy;
    let moto = Moto::dedicated();
    Sesctl::at(&moto.url).args(["setup"]).run().assert_ok();
    let p = prefix("intmigrate");
    let names: Vec<String> = (0..6).map(|i| format!("{p}-{i}")).collect();
    legacy::create_legacy_users(&moto.url, &names);
    let proxy = FaultProxy::start(&moto);
    // One user at a time; each AddUserToGroup is held, so the signal lands mid-run.
    proxy.set_rules(json!([{"action": "AddUserToGroup", "fault": "delay", "seconds": 1}]));
    let mut args = vec![
        "migrate-inline-policy".to_string(),
        "--yes".into(),
        "--concurrency".into(),
        "1".into(),
    ];
    args.extend(names.iter().cloned());
    let child = Sesctl::at(&proxy.url).args(&args).spawn();
    proxy.wait_for("AddUserToGroup");
    signal(&child, libc::SIGINT);
    let run = Run::wait(child);
    assert_eq!(run.code, 130, "{}", run.all_output());
    let states: Vec<_> = names.iter().map(|n| legacy::state(&moto.url, n)).collect();
    assert!(
        states.iter().all(|s| s.can_send()),
        "no user lost both: {states:?}"
    );
    let untouched = states.iter().filter(|s| !s.is_migrated()).count();
    assert!(
        untouched >= 4,
        "no new user was started after the signal: {states:?}"
    );
    // Running it again finishes every user.
    let mut again = vec!["migrate-inline-policy".to_string(), "--yes".into()];
    again.extend(names.iter().cloned());
    Sesctl::at(&moto.url).args(&again).run().assert_ok();
    assert!(names.iter().all(|n| legacy::state(&moto.url, n).is_migrated()));
}
