//! Where a secret is read: its ARN's own region, else --secret-region, else --region, else the
//! default region; create-user creates it in --secret-region when given. Malformed ARNs are refused
//! before any call.

use crate::support::smtp::{Mode, SmtpServer};
use crate::support::{self, block_on, fixtures, FaultProxy, Moto, Sesctl};

const SES_REGION: &str = "eu-west-1";
const SECRETS_REGION: &str = "us-east-1";

#[test]
fn a_secret_kept_in_another_region_is_created_rotated_verified_and_deleted_there() {
    let moto = Moto::dedicated();
    let smtp = SmtpServer::start_iam(Mode::Starttls, &moto.url, SES_REGION, 0);
    let (user, secret) = fixtures::names("secretregion");
    let extra = ["--secret-region", SECRETS_REGION];
    fixtures::create_user_with_secret(&moto.url, SES_REGION, &user, &secret, &extra);
    let stored = fixtures::secret_value(&moto.url, SECRETS_REGION, &secret, "AWSCURRENT")
        .expect("created in --secret-region");
    assert_eq!(stored["region"], SES_REGION, "the password is for the SES region");
    assert!(
        fixtures::secret_value(&moto.url, SES_REGION, &secret, "AWSCURRENT").is_none(),
        "not in the SES region"
    );

    // rotate: found through --secret-region; the new password is for the stored SES region.
    Sesctl::at(&moto.url)
        .args([
            "rotate",
            &user,
            "--secret-name",
            &secret,
            "--secret-region",
            SECRETS_REGION,
        ])
        .env("AWS_REGION", "ap-southeast-2")
        .run()
        .assert_ok();
    let rotated = fixtures::secret_value(&moto.url, SECRETS_REGION, &secret, "AWSCURRENT").unwrap();
    assert_ne!(rotated["access_key_id"], stored["access_key_id"]);
    assert_eq!(rotated["region"], SES_REGION);

    // verify by ARN: the ARN's region decides where the secret is read, whatever the default is.
    let arn = block_on(
        support::secretsmanager(&moto.url, SECRETS_REGION)
            .describe_secret()
            .secret_id(&secret)
            .send(),
    )
    .unwrap()
    .arn()
    .unwrap()
    .to_string();
    Sesctl::at(&moto.url)
        .args(["verify", "--secret-name", &arn])
        .args([
            "--smtp-host",
            "127.0.0.1",
            "--port",
            &smtp.port_arg(),
            "--ca-file",
            smtp.ca_arg(),
        ])
        .env("AWS_REGION", "ap-southeast-2")
        .run()
        .assert_ok();

    // delete-user by ARN, with a --region that is not the secret's: the ARN wins.
    Sesctl::at(&moto.url)
        .args([
            "delete-user",
            &user,
            "--secret-name",
            &arn,
            "--region",
            SES_REGION,
            "--yes",
        ])
        .run()
        .assert_ok();
    let described = block_on(
        support::secretsmanager(&moto.url, SECRETS_REGION)
            .describe_secret()
            .secret_id(&secret)
            .send(),
    )
    .unwrap();
    assert!(
        described.deleted_date().is_some(),
        "scheduled for deletion in its own region"
    );
}

#[test]
fn malformed_or_contradicting_secret_arns_are_refused_before_any_call() {
    let moto = Moto::dedicated();
    let proxy = FaultProxy::start(&moto);
    let good = "arn:aws:secretsmanager:us-east-1:123456789012:secret:smtp/app-AbCdEf";
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["rotate", "someone", "--secret-name", "arn:totally bogus; rm -rf"],
            "is not a secret ARN",
        ),
        (
            vec!["verify", "--secret-name", "arn:aws:iam::123456789012:user/x"],
            "is not a secret ARN",
        ),
        (
            vec![
                "delete-user",
                "someone",
                "--secret-name",
                "arn:aws:secretsmanager:eu-west-1:12:secret:x",
                "--yes",
            ],
            "12 digits",
        ),
        (
            vec![
                "rotate",
                "someone",
                "--secret-name",
                good,
                "--secret-region",
                "eu-west-1",
            ],
            "contradicts",
        ),
        (
            vec![
                "create-user",
                "someone",
                "--secret-name",
                good,
                "--region",
                SES_REGION,
            ],
            "an ARN names an existing",
        ),
        (
            vec![
                "create-user",
                "someone",
                "--secret-name",
                "x",
                "--region",
                SES_REGION,
                "--secret-region",
                "nowhere",
            ],
            "not a region name",
        ),
    ];
    for (args, says) in cases {
        proxy.reset();
        let run = Sesctl::at(&proxy.url)
            .args(&args)
            .env("AWS_REGION", SES_REGION)
            .run();
        run.assert_code(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.trim_end().lines().count(), 1, "{}", run.stderr);
        assert!(
            proxy.actions().is_empty(),
            "{args:?}: no AWS call: {:?}",
            proxy.actions()
        );
    }
    // moto would have created a secret literally named after the bad ARN.
    let listed = block_on(
        support::secretsmanager(&moto.url, SES_REGION)
            .list_secrets()
            .send(),
    )
    .unwrap();
    assert!(listed.secret_list().is_empty());
}

#[test]
fn the_users_tags_and_the_secrets_own_reach_the_secret() {
    let moto = Moto::dedicated();
    let (user, secret) = fixtures::names("secrettags");
    let extra = [
        "--tag",
        "team=mail",
        "--secret-tag",
        "cost-centre=42",
        "--secret-description",
        "relay credential for the billing app",
    ];
    fixtures::create_user_with_secret(&moto.url, SES_REGION, &user, &secret, &extra);
    let described = block_on(
        support::secretsmanager(&moto.url, SES_REGION)
            .describe_secret()
            .secret_id(&secret)
            .send(),
    )
    .unwrap();
    let tags: std::collections::BTreeMap<String, String> = described
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(tags.get("team").map(String::as_str), Some("mail"), "{tags:?}");
    assert_eq!(tags.get("cost-centre").map(String::as_str), Some("42"));
    assert_eq!(tags.get("sesctl:iam-user-name"), Some(&user));
    assert_eq!(tags.get("sesctl:region").map(String::as_str), Some(SES_REGION));
    assert_eq!(
        described.description(),
        Some("relay credential for the billing app")
    );
    // --secret-tag is the secret's only.
    let user_tags = block_on(support::iam(&moto.url).list_user_tags().user_name(&user).send()).unwrap();
    assert!(!user_tags.tags().iter().any(|t| t.key() == "cost-centre"));

    let run = Sesctl::at(&moto.url)
        .args(["create-user", "x", "--region", SES_REGION, "--secret-name", "s/x"])
        .args(["--secret-tag", "sesctl:region=us-east-1"])
        .run();
    run.assert_code(2);
    assert!(run.stderr.contains("sesctl's own namespace"), "{}", run.stderr);
}
