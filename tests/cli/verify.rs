//! `sesctl verify` against real services on loopback: an aiosmtpd server (STARTTLS, implicit TLS and
//! misbehaving modes) and moto for the secret and the IAM look-ups behind a diagnosis.

use std::time::{Duration, Instant};

use base64::Engine;
use sesctl::secret::Secret;
use sesctl::smtp_password::smtp_password_v2;

use crate::support::smtp::{Mode, SmtpServer};
use crate::support::{self, block_on, moto, prefix, Sesctl};

const USER: &str = "AKIAZZZZVERIFYEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYVERIFYKEY1";
const OTHER_SECRET_KEY: &str = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY";

/// `sesctl verify --username USER` against `server` on 127.0.0.1, the password on stdin.
fn verify(server: &SmtpServer, username: &str, password: &str, extra: &[&str]) -> support::Run {
    Sesctl::at(&moto().url)
        .args(["verify", "--username", username, "--region", "us-east-1"])
        .args(["--smtp-host", "127.0.0.1", "--port", &server.port_arg()])
        .args(extra)
        .stdin(format!("{password}\n"))
        .run()
}

/// Every way the password could show: as is, and inside AUTH PLAIN's base64.
#[track_caller]
fn assert_no_leak(run: &support::Run, username: &str, password: &str) {
    let out = run.all_output();
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{username}\0{password}"));
    let login = base64::engine::general_purpose::STANDARD.encode(password);
    for needle in [password, plain.as_str(), login.as_str()] {
        assert!(
            !out.contains(needle),
            "the password leaked into the output:\n{out}"
        );
    }
}

#[test]
fn logs_in_over_starttls_and_sends_no_mail() {
    let pw = support::v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::Starttls, USER, &pw);
    let run = verify(&server, USER, &pw, &["--ca-file", server.ca_arg()]);
    run.assert_ok();
    assert!(run.stdout.starts_with("OK: "), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("127.0.0.1:{}", server.port)),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("STARTTLS, TLSv1.3, AUTH PLAIN"),
        "{}",
        run.stdout
    );
    assert_eq!(
        server.commands(),
        vec![
            ("EHLO".to_string(), false),
            ("STARTTLS".to_string(), false),
            ("EHLO".to_string(), true),
            ("AUTH".to_string(), true),
            ("QUIT".to_string(), true),
        ]
    );
    assert_no_leak(&run, USER, &pw);

    let run = verify(&server, USER, &pw, &["--ca-file", server.ca_arg(), "-o", "json"]);
    run.assert_ok();
    let v = run.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["tls"], "starttls");
    assert_eq!(v["tls_version"], "TLSv1.3");
    assert_eq!(v["mechanism"], "PLAIN");
    assert_eq!(v["port"], server.port);
}

#[test]
fn logs_in_over_implicit_tls_by_host_name() {
    let pw = support::v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::Tls, USER, &pw);
    let run = Sesctl::at(&moto().url)
        .args(["verify", "--username", USER, "--region", "us-east-1", "--tls"])
        .args([
            "--smtp-host",
            "localhost",
            "--port",
            &server.port_arg(),
            "--ca-file",
            server.ca_arg(),
        ])
        .args(["-o", "json"])
        .stdin(&pw)
        .run();
    run.assert_ok();
    let v = run.json();
    assert_eq!(v["tls"], "tls");
    assert_eq!(v["host"], "localhost");
    assert!(v["tls_version"].as_str().unwrap().starts_with("TLSv1."), "{v}");
    assert_eq!(
        server.commands(),
        vec![
            ("EHLO".to_string(), true),
            ("AUTH".to_string(), true),
            ("QUIT".to_string(), true)
        ]
    );
}

#[test]
fn a_wrong_password_shows_the_535_reply_and_a_diagnosis() {
    let pw = support::v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::Starttls, USER, &pw);
    let wrong = support::v4_password(OTHER_SECRET_KEY, "us-east-1");
    let run = verify(&server, USER, &wrong, &["--ca-file", server.ca_arg()]);
    run.assert_code(1);
    assert!(run.stdout.starts_with("FAILED: "), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("server reply: 535 5.7.8 Authentication credentials invalid"),
        "{}",
        run.stdout
    );
    // The key is in no IAM that sesctl can read (moto here), which the diagnosis names.
    assert!(
        run.stdout.contains("does not exist in this account's IAM"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("works only in the region it was derived for"),
        "{}",
        run.stdout
    );
    assert_no_leak(&run, USER, &wrong);

    let run = verify(
        &server,
        USER,
        &wrong,
        &["--ca-file", server.ca_arg(), "-o", "json"],
    );
    run.assert_code(1);
    let v = run.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["failure"]["reply_code"], 535);
    assert_eq!(v["failure"]["kind"], "rejected");
    assert_eq!(v["failure"]["stage"], "auth");
    assert_eq!(v["key"]["state"], "missing");
    assert!(!v["diagnosis"].as_array().unwrap().is_empty());
}

#[test]
fn a_legacy_v2_password_is_diagnosed() {
    let pw = support::v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::Starttls, USER, &pw);
    let v2 = smtp_password_v2(&Secret::new(SECRET_KEY.to_string()))
        .expose()
        .to_string();
    let run = verify(&server, USER, &v2, &["--ca-file", server.ca_arg()]);
    run.assert_code(1);
    assert!(run.stdout.contains("535"), "{}", run.stdout);
    assert!(run.stdout.contains("legacy v2 SMTP password"), "{}", run.stdout);
    assert_no_leak(&run, USER, &v2);
}

#[test]
fn a_temporary_key_id_is_diagnosed() {
    let pw = support::v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::Starttls, USER, &pw);
    let run = verify(
        &server,
        "ASIAZZZZVERIFYEXAMPLE",
        &pw,
        &["--ca-file", server.ca_arg()],
    );
    run.assert_code(1);
    assert!(run.stdout.contains("temporary credentials"), "{}", run.stdout);
}

#[test]
fn an_inactive_key_from_a_stored_secret_is_diagnosed() {
    let p = prefix("inactive");
    let iam = support::iam(&moto().url);
    let user = format!("{p}-mailer");
    let key = block_on(async {
        iam.create_user().user_name(&user).send().await.unwrap();
        let key = iam.create_access_key().user_name(&user).send().await.unwrap();
        let key = key.access_key.unwrap();
        iam.update_access_key()
            .user_name(&user)
            .access_key_id(&key.access_key_id)
            .status(aws_sdk_iam::types::StatusType::Inactive)
            .send()
            .await
            .unwrap();
        key
    });
    let pw = support::v4_password(&key.secret_access_key, "us-east-1");
    // SES refuses an inactive key; so does this server, which accepts another password only.
    let server = SmtpServer::start(Mode::Starttls, &key.access_key_id, "not-this-one");
    let secret_name = format!("{p}/smtp");
    store_secret(
        &secret_name,
        &key.access_key_id,
        &pw,
        server.port,
        "us-east-1",
        &user,
    );
    let run = Sesctl::at(&moto().url)
        .args(["verify", "--secret-name", &secret_name, "--region", "us-east-1"])
        .args(["--allow-host", "127.0.0.1"])
        .args(["--ca-file", server.ca_arg(), "-o", "json"])
        .run();
    run.assert_code(1);
    let v = run.json();
    assert_eq!(v["key"]["state"], "inactive", "{v}");
    assert_eq!(v["key"]["user"], user.as_str());
    let diagnosis = v["diagnosis"].to_string();
    assert!(diagnosis.contains("is inactive in IAM"), "{diagnosis}");
    assert_no_leak(&run, &key.access_key_id, &pw);
}

fn store_secret(name: &str, username: &str, password: &str, port: u16, region: &str, user: &str) {
    let value = serde_json::json!({
        "username": username,
        "password": password,
        "host": "127.0.0.1",
        "port": port,
        "region": region,
        "iam_user_name": user,
        "access_key_id": username,
    });
    let sm = support::secretsmanager(&moto().url, "us-east-1");
    block_on(
        sm.create_secret()
            .name(name)
            .secret_string(value.to_string())
            .send(),
    )
    .unwrap();
}

#[test]
fn reads_the_credential_and_endpoint_from_a_secret() {
    let p = prefix("secret");
    let pw = support::v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::Starttls, USER, &pw);
    let name = format!("{p}/smtp");
    store_secret(&name, USER, &pw, server.port, "us-east-1", "someone");
    // A host the secret names that is not an SES endpoint gets no password unless trusted by name.
    let run = Sesctl::at(&moto().url)
        .args(["verify", "--secret-name", &name, "--region", "us-east-1"])
        .args(["--ca-file", server.ca_arg()])
        .run();
    run.assert_code(2);
    assert!(
        run.stderr.contains("not an Amazon SES SMTP endpoint"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--allow-host 127.0.0.1"), "{}", run.stderr);
    assert!(
        server.verbs().is_empty(),
        "no connection was made: {:?}",
        server.verbs()
    );
    assert_no_leak(&run, USER, &pw);

    let run = Sesctl::at(&moto().url)
        .args(["verify", "--secret-name", &name, "--region", "us-east-1"])
        .args(["--allow-host", "127.0.0.1", "--ca-file", server.ca_arg(), "-vvv"])
        .run();
    run.assert_ok();
    assert!(
        run.stdout
            .contains(&format!("OK: {USER} logged in to 127.0.0.1:{}", server.port)),
        "{}",
        run.stdout
    );
    assert_no_leak(&run, USER, &pw);

    let run = Sesctl::at(&moto().url)
        .args([
            "verify",
            "--secret-name",
            &format!("{p}/absent"),
            "--region",
            "us-east-1",
        ])
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("was not found"), "{}", run.stderr);
}

#[test]
fn a_server_without_starttls_never_receives_the_credential() {
    let pw = support::v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::NoStarttls, USER, &pw);
    let run = verify(&server, USER, &pw, &["-o", "json"]);
    run.assert_code(1);
    let v = run.json();
    assert_eq!(v["failure"]["kind"], "no_starttls");
    assert!(
        v["diagnosis"].to_string().contains("does not offer STARTTLS"),
        "{v}"
    );
    let verbs = server.verbs();
    assert!(verbs.contains(&"EHLO".to_string()), "{verbs:?}");
    assert!(
        !verbs.contains(&"AUTH".to_string()),
        "AUTH was sent in clear: {verbs:?}"
    );
}

#[test]
fn an_untrusted_certificate_is_refused_before_auth() {
    let pw = support::v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::Starttls, USER, &pw);
    let run = verify(&server, USER, &pw, &["-o", "json"]);
    run.assert_code(1);
    let v = run.json();
    assert_eq!(v["failure"]["kind"], "certificate", "{v}");
    assert!(
        v["failure"]["detail"]
            .as_str()
            .unwrap()
            .contains("unknown issuer"),
        "{v}"
    );
    assert!(v["diagnosis"].to_string().contains("--ca-file"), "{v}");
    assert!(!server.verbs().contains(&"AUTH".to_string()));
}

#[test]
fn a_refused_connection_is_reported() {
    let port = support::free_port().to_string();
    let run = Sesctl::at(&moto().url)
        .args(["verify", "--username", USER, "--region", "us-east-1"])
        .args(["--smtp-host", "127.0.0.1", "--port", &port])
        .stdin(support::v4_password(SECRET_KEY, "us-east-1"))
        .run();
    run.assert_code(1);
    assert!(run.stdout.contains("failed at connecting"), "{}", run.stdout);
    assert!(run.stdout.contains("the connection failed"), "{}", run.stdout);
}

#[test]
fn a_silent_server_is_abandoned_at_the_timeout() {
    let server = SmtpServer::start(Mode::Silent, USER, "unused");
    let started = Instant::now();
    let run = verify(
        &server,
        USER,
        &support::v4_password(SECRET_KEY, "us-east-1"),
        &["--timeout", "2", "-o", "json"],
    );
    let took = started.elapsed();
    run.assert_code(1);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "took {took:?}"
    );
    let v = run.json();
    assert_eq!(v["failure"]["kind"], "timeout");
    assert_eq!(v["failure"]["stage"], "greeting");
    assert!(
        v["failure"]["detail"].as_str().unwrap().contains("within 2 s"),
        "{v}"
    );
}

#[test]
fn throttling_is_diagnosed() {
    let pw = support::v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::Throttle, USER, &pw);
    let run = verify(&server, USER, &pw, &["--ca-file", server.ca_arg()]);
    run.assert_code(1);
    assert!(run.stdout.contains("server reply: 454"), "{}", run.stdout);
    assert!(run.stdout.contains("limiting login attempts"), "{}", run.stdout);
}

#[test]
fn bad_flags_exit_2_before_connecting() {
    let run = Sesctl::at(&moto().url)
        .args([
            "verify",
            "--username",
            USER,
            "--region",
            "us-east-1",
            "--ca-file",
            "/nonexistent.pem",
        ])
        .stdin("x")
        .run();
    run.assert_code(2);
    let run = Sesctl::at(&moto().url)
        .args(["verify", "--username", "AKIA X", "--region", "us-east-1"])
        .stdin("x")
        .run();
    run.assert_code(2);
    let run = Sesctl::at(&moto().url)
        .args(["verify", "--region", "us-east-1"])
        .run();
    run.assert_code(2);
}

#[test]
fn the_password_never_shows_at_any_verbosity() {
    let pw = support::v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::Starttls, USER, &pw);
    for level in ["-v", "-vv", "-vvv"] {
        let run = verify(&server, USER, &pw, &["--ca-file", server.ca_arg(), level]);
        run.assert_ok();
        assert_no_leak(&run, USER, &pw);
        let wrong = support::v4_password(OTHER_SECRET_KEY, "us-east-1");
        let run = verify(&server, USER, &wrong, &["--ca-file", server.ca_arg(), level]);
        run.assert_code(1);
        assert_no_leak(&run, USER, &wrong);
    }
}

mod propagation_wait {
    use super::*;
    use sesctl::cli::SmtpArgs;
    use sesctl::smtp::{wait_for_login, Endpoint, FailureKind};

    fn endpoint(server: &SmtpServer) -> Endpoint {
        let args = SmtpArgs {
            smtp_host: Some("127.0.0.1".to_string()),
            port: Some(server.port),
            tls: false,
            ca_file: Some(server.ca_file.clone()),
            timeout: 10,
        };
        sesctl::commands::smtp_endpoint(&args, "us-east-1").unwrap()
    }

    #[test]
    fn retries_a_rejected_login_until_the_key_works() {
        let pw = support::v4_password(SECRET_KEY, "us-east-1");
        let server = SmtpServer::start_rejecting(Mode::Starttls, USER, &pw, 2);
        let started = Instant::now();
        let ok = block_on(wait_for_login(
            USER,
            &Secret::new(pw.clone()),
            &endpoint(&server),
            Duration::from_secs(60),
        ))
        .unwrap();
        assert_eq!(ok.attempts, 3);
        // Backoff: 2 s, then 4 s.
        assert!(
            started.elapsed() >= Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
        let auths = server.verbs().iter().filter(|v| *v == "AUTH").count();
        assert_eq!(auths, 3);
    }

    #[test]
    fn gives_up_at_the_deadline() {
        let pw = support::v4_password(SECRET_KEY, "us-east-1");
        let server = SmtpServer::start_rejecting(Mode::Starttls, USER, &pw, 1000);
        let started = Instant::now();
        let err = block_on(wait_for_login(
            USER,
            &Secret::new(pw.clone()),
            &endpoint(&server),
            Duration::from_secs(3),
        ))
        .unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind, FailureKind::Rejected);
        assert_eq!(err.reply_code, Some(535));
        assert!(err.attempts >= 2, "{err:?}");
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_secs(15),
            "{took:?}"
        );
    }

    #[test]
    fn other_failures_stop_at_once() {
        let pw = support::v4_password(SECRET_KEY, "us-east-1");
        let server = SmtpServer::start(Mode::Throttle, USER, &pw);
        let started = Instant::now();
        let err = block_on(wait_for_login(
            USER,
            &Secret::new(pw.clone()),
            &endpoint(&server),
            Duration::from_secs(60),
        ))
        .unwrap_err();
        assert_eq!(err.kind, FailureKind::Throttled);
        assert_eq!(err.attempts, 1);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
