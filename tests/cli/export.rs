//! `sesctl export`: a stored credential in the shapes applications and mail servers read, from
//! sesctl's secret and from other tools' shapes; and `verify` reading those shapes too.

use std::os::unix::fs::PermissionsExt;

use percent_encoding::percent_decode_str;
use serde_json::json;

use crate::support::smtp::{Mode, SmtpServer};
use crate::support::{self, block_on, fixtures, prefix, Moto, Sesctl};

const REGION: &str = "eu-west-1";

fn put(moto: &Moto, name: &str, value: &str) {
    block_on(
        support::secretsmanager(&moto.url, REGION)
            .create_secret()
            .name(name)
            .secret_string(value)
            .send(),
    )
    .unwrap();
}

fn export(moto: &Moto, name: &str, format: &str, extra: &[&str]) -> support::Run {
    Sesctl::at(&moto.url)
        .args([
            "export",
            "--secret-name",
            name,
            "--format",
            format,
            "--region",
            REGION,
        ])
        .args(extra)
        .run()
}

#[test]
fn every_format_carries_the_stored_credential_exactly() {
    let moto = Moto::dedicated();
    let (user, secret) = fixtures::user_with_secret(&moto.url, "export");
    let stored: serde_json::Value = serde_json::from_str(
        block_on(
            support::secretsmanager(&moto.url, REGION)
                .get_secret_value()
                .secret_id(&secret)
                .send(),
        )
        .unwrap()
        .secret_string()
        .unwrap(),
    )
    .unwrap();
    let (akid, password) = (
        stored["username"].as_str().unwrap(),
        stored["password"].as_str().unwrap(),
    );
    let host = format!("email-smtp.{REGION}.amazonaws.com");

    let run = export(&moto, &secret, "env", &[]);
    run.assert_ok();
    assert_eq!(
        run.stdout,
        format!("SMTP_HOST={host}\nSMTP_PORT=587\nSMTP_USERNAME={akid}\nSMTP_PASSWORD={password}\n")
    );

    let run = export(&moto, &secret, "dsn", &[]);
    run.assert_ok();
    let dsn = run.stdout.trim_end();
    let rest = dsn.strip_prefix("smtp://").unwrap();
    let (userinfo, hostport) = rest.rsplit_once('@').unwrap();
    assert_eq!(hostport, format!("{host}:587"));
    let (u, pw) = userinfo.split_once(':').unwrap();
    assert!(
        !pw.contains('+') && !pw.contains('/') && !pw.contains('='),
        "encoded: {pw}"
    );
    assert_eq!(percent_decode_str(u).decode_utf8().unwrap(), akid);
    assert_eq!(percent_decode_str(pw).decode_utf8().unwrap(), password);

    let run = export(&moto, &secret, "postfix", &[]);
    run.assert_ok();
    assert_eq!(run.stdout, format!("[{host}]:587 {akid}:{password}\n"));

    let run = export(&moto, &secret, "json", &[]);
    run.assert_ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (v["username"].as_str(), v["password"].as_str(), v["port"].as_u64()),
        (Some(akid), Some(password), Some(587))
    );

    let run = export(&moto, &secret, "csv", &[]);
    run.assert_ok();
    assert_eq!(
        run.stdout,
        format!("IAM User Name,Smtp Username,Smtp Password\n{user},{akid},{password}\n")
    );

    // A file: created 0600, never overwritten without --force.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sasl_passwd");
    let out = file.to_str().unwrap();
    let run = export(&moto, &secret, "postfix", &["--output-file", out]);
    run.assert_ok();
    assert_eq!(run.stdout, "", "the credential went to the file only");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .starts_with(&format!("[{host}]:587 ")));
    let run = export(&moto, &secret, "env", &["--output-file", out]);
    run.assert_code(2);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert!(
        std::fs::read_to_string(&file).unwrap().starts_with('['),
        "left as it was"
    );
    export(&moto, &secret, "env", &["--output-file", out, "--force"]).assert_ok();
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("SMTP_HOST="));
    assert!(!run.stderr.contains(password));
}

#[test]
fn other_tools_shapes_are_read() {
    let moto = Moto::dedicated();
    let p = prefix("exportshapes");
    let pw = "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS";
    let cases = [
        (
            format!("{p}/pepperize"),
            json!({"username": "AKIAIOSFODNN7EXAMPLE", "password": pw}).to_string(),
        ),
        (format!("{p}/samples"), format!("AKIAIOSFODNN7EXAMPLE:{pw}")),
        (
            format!("{p}/vars"),
            json!({"SMTP_USERNAME": "AKIAIOSFODNN7EXAMPLE", "SMTP_PASSWORD": pw, "SMTP_PORT": "2587"})
                .to_string(),
        ),
    ];
    for (name, value) in &cases {
        put(&moto, name, value);
        let run = export(&moto, name, "env", &[]);
        run.assert_ok();
        assert!(
            run.stdout.contains(&format!("SMTP_PASSWORD={pw}\n")),
            "{name}: {}",
            run.stdout
        );
        assert!(run.stdout.contains("SMTP_USERNAME=AKIAIOSFODNN7EXAMPLE\n"));
        assert!(run
            .stdout
            .contains(&format!("SMTP_HOST=email-smtp.{REGION}.amazonaws.com\n")));
        assert!(
            run.stderr.contains("read as such"),
            "says the shape: {}",
            run.stderr
        );
    }
    assert!(export(&moto, &cases[2].0, "env", &[])
        .stdout
        .contains("SMTP_PORT=2587\n"));
    put(&moto, &format!("{p}/junk"), "not a credential at all");
    let run = export(&moto, &format!("{p}/junk"), "env", &[]);
    run.assert_code(1);
    assert!(run.stderr.contains("neither JSON nor"), "{}", run.stderr);
    assert!(!run.stderr.contains("not a credential at all"));
}

#[test]
fn verify_reads_another_tools_secret_with_a_port_given_as_a_string() {
    let moto = Moto::dedicated();
    let pw = "BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS";
    let server = SmtpServer::start(Mode::Starttls, "AKIAIOSFODNN7EXAMPLE", pw);
    let name = format!("{}/smtp", prefix("verifyshape"));
    put(
        &moto,
        &name,
        &json!({"SMTP_USERNAME": "AKIAIOSFODNN7EXAMPLE", "SMTP_PASSWORD": pw, "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": server.port.to_string()})
        .to_string(),
    );
    Sesctl::at(&moto.url)
        .args([
            "verify",
            "--secret-name",
            &name,
            "--region",
            REGION,
            "--allow-host",
            "127.0.0.1",
        ])
        .args(["--ca-file", server.ca_arg()])
        .run()
        .assert_ok();
}

fn current_string(moto: &Moto, name: &str) -> String {
    block_on(
        support::secretsmanager(&moto.url, REGION)
            .get_secret_value()
            .secret_id(name)
            .version_stage("AWSCURRENT")
            .send(),
    )
    .unwrap()
    .secret_string()
    .unwrap()
    .to_string()
}

#[test]
fn rotate_rotates_another_tools_secret_keeping_its_shape() {
    let moto = Moto::dedicated();
    let iam = support::iam(&moto.url);
    let p = prefix("rotshape");
    let user = format!("{p}-user");
    block_on(iam.create_user().user_name(&user).send()).unwrap();
    let new_key = || {
        block_on(iam.create_access_key().user_name(&user).send())
            .unwrap()
            .access_key
            .unwrap()
            .access_key_id
    };
    // {"username", "password"} plus a field of the consumer's own.
    let key = new_key();
    let pepperize = format!("{p}/pepperize");
    put(
        &moto,
        &pepperize,
        &json!({"username": key, "password": "old-password", "app": "billing"}).to_string(),
    );
    let run = Sesctl::at(&moto.url)
        .args([
            "rotate",
            &user,
            "--secret-name",
            &pepperize,
            "--region",
            REGION,
            "--old-key",
            "delete",
        ])
        .run();
    run.assert_ok();
    assert!(
        run.stdout.contains("keeps the fields its consumers read"),
        "{}",
        run.stdout
    );
    let v: serde_json::Value = serde_json::from_str(&current_string(&moto, &pepperize)).unwrap();
    assert_ne!(v["username"], key.as_str());
    assert_ne!(v["password"], "old-password");
    assert_eq!(v["app"], "billing");
    assert_eq!(v["iam_user_name"], user.as_str());
    assert_eq!(v["region"], REGION);

    // The plain string AKID:password stays a plain string (a second user: the first has two keys now).
    let user = format!("{p}-user2");
    block_on(iam.create_user().user_name(&user).send()).unwrap();
    let key = block_on(iam.create_access_key().user_name(&user).send())
        .unwrap()
        .access_key
        .unwrap()
        .access_key_id;
    let samples = format!("{p}/samples");
    put(&moto, &samples, &format!("{key}:old-password"));
    let run = Sesctl::at(&moto.url)
        .args([
            "rotate",
            &user,
            "--secret-name",
            &samples,
            "--region",
            REGION,
            "--old-key",
            "delete",
        ])
        .run();
    run.assert_ok();
    let now = current_string(&moto, &samples);
    let (akid, pw) = now.split_once(':').unwrap();
    assert!(akid.starts_with("AKIA") && akid != key, "{akid}");
    assert!(!pw.is_empty() && pw != "old-password");
    // And export reads it back.
    let run = export(&moto, &samples, "env", &[]);
    assert!(
        run.stdout.contains(&format!("SMTP_USERNAME={akid}\n")),
        "{}",
        run.stdout
    );

    // A secret whose key is not the user's is refused, changing nothing.
    let foreign = format!("{p}/foreign");
    put(
        &moto,
        &foreign,
        &json!({"username": "AKIAOTHEROTHEROTHER1", "password": "x"}).to_string(),
    );
    let run = Sesctl::at(&moto.url)
        .args(["rotate", &user, "--secret-name", &foreign, "--region", REGION])
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("not a key of IAM user"), "{}", run.stderr);
}

#[test]
fn create_user_and_rotate_deliver_in_the_format_asked_for() {
    let moto = Moto::dedicated();
    let p = prefix("format");
    let user = format!("{p}-user");
    let run = Sesctl::at(&moto.url)
        .args(["create-user", &user, "--region", REGION, "--format", "dsn"])
        .run();
    run.assert_ok();
    let line = run.stdout.trim_end();
    assert!(
        line.starts_with("smtp://AKIA") && line.ends_with(&format!("@email-smtp.{REGION}.amazonaws.com:587")),
        "{line}"
    );
    assert_eq!(run.stdout.lines().count(), 1, "stdout holds the credential alone");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smtp.env");
    let user2 = format!("{p}-user2");
    Sesctl::at(&moto.url)
        .args([
            "create-user",
            &user2,
            "--region",
            REGION,
            "--csv",
            file.to_str().unwrap(),
            "--format",
            "env",
        ])
        .run()
        .assert_ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with(&format!(
            "SMTP_HOST=email-smtp.{REGION}.amazonaws.com\nSMTP_PORT=587\n"
        )),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let run = Sesctl::at(&moto.url)
        .args(["rotate", &user, "--region", REGION, "--format", "postfix"])
        .run();
    run.assert_ok();
    assert!(
        run.stdout
            .starts_with(&format!("[email-smtp.{REGION}.amazonaws.com]:587 AKIA")),
        "{}",
        run.stdout
    );

    let run = Sesctl::at(&moto.url)
        .args([
            "create-user",
            "x",
            "--region",
            REGION,
            "--secret-name",
            "s/x",
            "--format",
            "env",
        ])
        .run();
    run.assert_code(2);
}
