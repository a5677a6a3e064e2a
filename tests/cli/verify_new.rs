//! `create-user --verify` and `rotate --verify`: the new credential logs in to a real SMTP server on
//! loopback that checks logins as SES does (any active key of the moto server, with its v4 password
//! for the region), refusing the first logins as while a new key propagates.

use crate::support::fixtures::{self, current_key, secret_exists, user_exists};
use crate::support::smtp::{Mode, SmtpServer};
use crate::support::{self, access_keys, block_on, prefix, Moto, Sesctl};

const REGION: &str = "us-east-1";

/// The SMTP options that point sesctl at the test server.
fn smtp_args(server: &SmtpServer) -> Vec<String> {
    vec![
        "--smtp-host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        server.port_arg(),
        "--ca-file".into(),
        server.ca_arg().to_string(),
    ]
}

fn auth_count(server: &SmtpServer) -> usize {
    server.verbs().iter().filter(|v| v.as_str() == "AUTH").count()
}

#[test]
fn create_user_waits_for_the_new_key_then_delivers() {
    // A server of its own: the SMTP server reads keys from moto's state dump.
    let moto = Moto::dedicated();
    let server = SmtpServer::start_iam(Mode::Starttls, &moto.url, REGION, 1);
    let p = prefix("cuverify");
    let (user, secret) = (format!("{p}-user"), format!("{p}/smtp"));
    let run = Sesctl::at(&moto.url)
        .args([
            "create-user",
            &user,
            "--region",
            REGION,
            "--secret-name",
            &secret,
            "--verify",
        ])
        .args(smtp_args(&server))
        .args(["--verify-timeout", "60"])
        .run();
    run.assert_ok();
    assert!(run.stderr.contains("waiting up to"), "{}", run.stderr);
    assert!(run.stdout.contains("SMTP login OK"), "{}", run.stdout);
    assert_eq!(auth_count(&server), 2, "one refused login, then the accepted one");
    assert!(secret_exists(&moto.url, REGION, &secret));
    let run = Sesctl::at(&moto.url)
        .args(["verify", "--secret-name", &secret, "--region", REGION])
        .args(smtp_args(&server))
        .run();
    run.assert_ok();
}

#[test]
fn create_user_json_reports_the_login() {
    let moto = Moto::dedicated();
    let server = SmtpServer::start_iam(Mode::Starttls, &moto.url, REGION, 0);
    let user = format!("{}-user", prefix("cuverifyjson"));
    let secret = format!("{user}/smtp");
    let run = Sesctl::at(&moto.url)
        .args([
            "create-user",
            &user,
            "--region",
            REGION,
            "--secret-name",
            &secret,
            "--verify",
            "-o",
            "json",
        ])
        .args(smtp_args(&server))
        .run();
    run.assert_ok();
    let v = run.json();
    assert_eq!(v["verified"]["port"], server.port);
    assert_eq!(v["verified"]["attempts"], 1);
    assert!(v["verified"]["tls_version"]
        .as_str()
        .unwrap()
        .starts_with("TLSv1."));
}

#[test]
fn create_user_rolls_back_when_the_login_never_succeeds() {
    let moto = Moto::dedicated();
    let server = SmtpServer::start_iam(Mode::Starttls, &moto.url, REGION, 1000);
    let p = prefix("cuverifyfail");
    let (user, secret) = (format!("{p}-user"), format!("{p}/smtp"));
    let run = Sesctl::at(&moto.url)
        .args([
            "create-user",
            &user,
            "--region",
            REGION,
            "--secret-name",
            &secret,
            "--verify",
        ])
        .args(smtp_args(&server))
        .args(["--verify-timeout", "3"])
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("--verify"), "{}", run.stderr);
    assert!(run.stderr.contains("535"), "{}", run.stderr);
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    assert!(!user_exists(&moto.url, &user), "the user was removed again");
    assert!(
        !secret_exists(&moto.url, REGION, &secret),
        "nothing was delivered"
    );
    assert!(auth_count(&server) >= 2, "it retried before giving up");
}

/// A user with one key and a secret holding its credential, as create-user leaves them in REGION:
/// (user, secret, key id).
fn user_with_key(url: &str, test: &str) -> (String, String, String) {
    let (user, secret) = fixtures::names(test);
    fixtures::create_user_with_secret(url, REGION, &user, &secret, &[]);
    let old = access_keys(url, &user).remove(0).0;
    (user, secret, old)
}

#[test]
fn rotate_promotes_only_after_the_new_key_logs_in() {
    let moto = Moto::dedicated();
    let (user, secret, old) = user_with_key(&moto.url, "rotverify");
    let server = SmtpServer::start_iam(Mode::Starttls, &moto.url, REGION, 1);
    let run = Sesctl::at(&moto.url)
        .args([
            "rotate",
            &user,
            "--secret-name",
            &secret,
            "--region",
            REGION,
            "--verify",
            "--verify-timeout",
            "60",
        ])
        .args(smtp_args(&server))
        .run();
    run.assert_ok();
    let new = current_key(&moto.url, REGION, &secret);
    assert_ne!(new, old, "{run:?}");
    let keys = access_keys(&moto.url, &user);
    assert!(keys.contains(&(old.clone(), "Inactive".into())), "{keys:?}");
    assert!(keys.contains(&(new, "Active".into())), "{keys:?}");
    assert_eq!(auth_count(&server), 2);
}

#[test]
fn rotate_keeps_the_old_credential_when_the_new_one_cannot_log_in() {
    let moto = Moto::dedicated();
    let (user, secret, old) = user_with_key(&moto.url, "rotverifyfail");
    let server = SmtpServer::start_iam(Mode::Starttls, &moto.url, REGION, 1000);
    let run = Sesctl::at(&moto.url)
        .args([
            "rotate",
            &user,
            "--secret-name",
            &secret,
            "--region",
            REGION,
            "--verify",
            "--verify-timeout",
            "3",
        ])
        .args(smtp_args(&server))
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("--verify"), "{}", run.stderr);
    assert_eq!(
        current_key(&moto.url, REGION, &secret),
        old,
        "AWSCURRENT is untouched"
    );
    assert_eq!(
        access_keys(&moto.url, &user),
        vec![(old, "Active".to_string())],
        "the new key was deleted"
    );
}

#[test]
fn rotate_without_a_secret_verifies_before_printing() {
    let moto = Moto::dedicated();
    let user = format!("{}-user", prefix("rotverifycsv"));
    let iam = support::iam(&moto.url);
    block_on(iam.create_user().user_name(&user).send()).unwrap();
    let old = block_on(iam.create_access_key().user_name(&user).send())
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    let server = SmtpServer::start_iam(Mode::Starttls, &moto.url, REGION, 1000);
    let run = Sesctl::at(&moto.url)
        .args([
            "rotate",
            &user,
            "--region",
            REGION,
            "--verify",
            "--verify-timeout",
            "3",
        ])
        .args(smtp_args(&server))
        .run();
    run.assert_code(1);
    assert_eq!(run.stdout, "", "no credential is printed when it cannot log in");
    assert_eq!(access_keys(&moto.url, &user), vec![(old, "Active".to_string())]);
}
