//! The AWS CLI's conventions, through the binary: an explicit profile wins over keys in the
//! environment and an unknown one is refused naming it; a `credential_process` helper runs once per
//! command; `AWS_CA_BUNDLE` and a profile's `ca_bundle` are trusted (an HTTPS proxy in front of moto,
//! signed by a test CA); the config file's `[services]` endpoints apply to Secrets Manager too;
//! `AWS_DEFAULT_OUTPUT` and a profile's `output` pick the output format.

use std::path::Path;

use crate::support::{self, moto, prefix, FaultProxy, LoopbackService, Sesctl, TEST_ACCESS_KEY_ID};

const PROFILE_KEY_ID: &str = "AKIAPROFILEKEY000001";
const PROFILE_SECRET: &str = "profileSecretKeyValue0000000000000000000";

/// A config file and an empty credentials file in a temporary directory.
struct AwsFiles {
    dir: tempfile::TempDir,
}

impl AwsFiles {
    fn new(config: &str) -> AwsFiles {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config"), config).unwrap();
        std::fs::write(dir.path().join("credentials"), "").unwrap();
        AwsFiles { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    /// sesctl against `endpoint` (test keys in the environment) reading these files.
    fn sesctl(&self, endpoint: &str) -> Sesctl {
        Sesctl::at(endpoint)
            .env("AWS_CONFIG_FILE", &self.path("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", &self.path("credentials"))
    }
}

fn ops_profile() -> String {
    format!(
        "[profile ops]\nregion = eu-west-1\naws_access_key_id = {PROFILE_KEY_ID}\naws_secret_access_key = {PROFILE_SECRET}\n"
    )
}

// ---- item 2: profiles ----

#[test]
fn an_explicit_profile_wins_over_keys_in_the_environment() {
    let files = AwsFiles::new(&ops_profile());
    // derive --from-credentials prints the key id the chain resolved (offline).
    let from_flag = files
        .sesctl("http://127.0.0.1:9")
        .args([
            "derive",
            "--from-credentials",
            "--profile",
            "ops",
            "--region",
            "us-east-1",
        ])
        .run();
    from_flag.assert_ok();
    assert!(
        from_flag.stdout.starts_with(&format!("{PROFILE_KEY_ID}\t")),
        "{}",
        from_flag.stdout
    );

    let from_env = files
        .sesctl("http://127.0.0.1:9")
        .env("AWS_PROFILE", "ops")
        .args(["derive", "--from-credentials", "--region", "us-east-1"])
        .run();
    from_env.assert_ok();
    assert!(
        from_env.stdout.starts_with(&format!("{PROFILE_KEY_ID}\t")),
        "{}",
        from_env.stdout
    );

    // No profile named: the environment's keys, as before.
    let plain = files
        .sesctl("http://127.0.0.1:9")
        .args(["derive", "--from-credentials", "--region", "us-east-1"])
        .run();
    plain.assert_ok();
    assert!(
        plain.stdout.starts_with(&format!("{TEST_ACCESS_KEY_ID}\t")),
        "{}",
        plain.stdout
    );

    // A named profile without credentials of its own: with --profile the environment's keys are not
    // used (the AWS CLI's rule); with AWS_PROFILE they are, since nothing in the profile competes.
    let files = AwsFiles::new(&format!(
        "{}\n[profile regiononly]\nregion = eu-west-1\n",
        ops_profile()
    ));
    let run = files
        .sesctl("http://127.0.0.1:9")
        .args(["derive", "--from-credentials", "--profile", "regiononly"])
        .run();
    run.assert_code(1);
    assert!(
        run.stderr.contains("could not load AWS credentials"),
        "{}",
        run.stderr
    );
    let run = files
        .sesctl("http://127.0.0.1:9")
        .env("AWS_PROFILE", "regiononly")
        .args(["derive", "--from-credentials"])
        .run();
    run.assert_ok();
    assert!(
        run.stdout.starts_with(&format!("{TEST_ACCESS_KEY_ID}\t")),
        "{}",
        run.stdout
    );

    // And the profile's credentials carry real calls.
    files
        .sesctl(&moto().url)
        .args(["list", "--profile", "ops", "-o", "json"])
        .run()
        .assert_ok();
}

#[test]
fn an_unknown_profile_is_refused_naming_it_before_any_aws_call() {
    let proxy = FaultProxy::start(moto());
    let files = AwsFiles::new(&ops_profile());
    let runs = [
        (
            "--profile on setup",
            files.sesctl(&proxy.url).args(["setup", "--profile", "nope"]),
        ),
        (
            "AWS_PROFILE on list",
            files.sesctl(&proxy.url).env("AWS_PROFILE", "nope").args(["list"]),
        ),
        (
            "--profile on create-user",
            files.sesctl(&proxy.url).args([
                "create-user",
                &prefix("noprof"),
                "--region",
                "eu-west-1",
                "--profile",
                "nope",
            ]),
        ),
        (
            "--profile on derive --from-credentials",
            files.sesctl(&proxy.url).args([
                "derive",
                "--from-credentials",
                "--region",
                "us-east-1",
                "--profile",
                "nope",
            ]),
        ),
        (
            "--profile on derive without --region",
            files
                .sesctl(&proxy.url)
                .args(["derive", "--profile", "nope"])
                .stdin(support::TEST_SECRET_ACCESS_KEY),
        ),
    ];
    for (what, s) in runs {
        let run = s.run();
        run.assert_code(2);
        assert_eq!(run.stdout, "", "{what}");
        assert!(
            run.stderr
                .contains("the config profile (nope) could not be found"),
            "{what}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{what}: {}", run.stderr);
    }
    assert_eq!(
        proxy.actions(),
        Vec::<String>::new(),
        "an unknown profile reached AWS"
    );
}

#[test]
fn a_credential_process_runs_once_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("asked");
    let script = support::repo_root().join("tests/support/credential_process.py");
    let files = AwsFiles::new(&format!(
        "[profile helper]\nregion = us-east-1\ncredential_process = {} {} {}\n",
        support::python(),
        script.display(),
        counter.display()
    ));
    let asked = |counter: &Path| {
        let n = std::fs::read_to_string(counter)
            .unwrap_or_default()
            .lines()
            .count();
        let _ = std::fs::remove_file(counter);
        n
    };
    for args in [
        vec!["setup", "--profile", "helper"],
        vec!["list", "--profile", "helper", "-o", "json"],
        vec!["derive", "--from-credentials", "--profile", "helper"],
    ] {
        let run = files.sesctl(&moto().url).args(&args).run();
        run.assert_ok();
        assert_eq!(
            asked(&counter),
            1,
            "sesctl {} asked the helper more than once",
            args.join(" ")
        );
    }
}

// ---- item 3: CA bundles ----

/// tests/support/tls_proxy.py: HTTPS on loopback in front of moto, with its CA in `dir`/ca.pem.
fn tls_proxy(upstream: &str, dir: &Path) -> LoopbackService {
    LoopbackService::start_with(
        "tls_proxy.py",
        upstream,
        &["--dir", dir.to_str().unwrap()],
        "https",
    )
}

#[test]
fn aws_ca_bundle_and_the_profiles_ca_bundle_are_trusted() {
    let certs = tempfile::tempdir().unwrap();
    let proxy = tls_proxy(&moto().url, certs.path());
    let ca = certs.path().join("ca.pem").to_str().unwrap().to_string();
    let other = certs.path().join("other-ca.pem").to_str().unwrap().to_string();

    // Without a bundle the test CA is unknown: the call fails on the certificate.
    let files = AwsFiles::new("");
    let run = files.sesctl(&proxy.url).args(["list", "-o", "json"]).run();
    run.assert_code(1);
    assert!(run.stderr.contains("certificate"), "{}", run.stderr);

    // AWS_CA_BUNDLE trusts it.
    let run = files
        .sesctl(&proxy.url)
        .env("AWS_CA_BUNDLE", &ca)
        .args(["list", "-o", "json"])
        .run();
    run.assert_ok();
    run.json();

    // The profile's ca_bundle too, for the default profile and a named one.
    let files = AwsFiles::new(&format!(
        "[default]\nca_bundle = {ca}\n\n[profile ops]\nca_bundle = {ca}\n"
    ));
    files.sesctl(&proxy.url).args(["setup"]).run().assert_ok();
    files
        .sesctl(&proxy.url)
        .env("AWS_PROFILE", "ops")
        .args(["setup"])
        .run()
        .assert_ok();

    // AWS_CA_BUNDLE comes before the profile's, and a bundle replaces the system's roots: an
    // unrelated CA does not let the call through.
    let run = files
        .sesctl(&proxy.url)
        .env("AWS_CA_BUNDLE", &other)
        .args(["setup"])
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("certificate"), "{}", run.stderr);
}

// ---- item 4: the config file's [services] section ----

#[test]
fn the_services_section_applies_to_secrets_manager_too() {
    let moto = moto();
    let proxy = FaultProxy::start(moto);
    let files = AwsFiles::new(&format!(
        "[default]\nregion = eu-west-1\nservices = local\n# anything the services section misses goes here, and fails\nendpoint_url = http://127.0.0.1:9\n\n\
         [services local]\niam =\n  endpoint_url = {p}\nsts =\n  endpoint_url = {p}\nsecrets_manager =\n  endpoint_url = {p}\n",
        p = proxy.url
    ));
    let user = prefix("services");
    let secret = format!("smtp/{user}");
    let run = files
        .sesctl(&proxy.url)
        .env_remove("AWS_ENDPOINT_URL")
        .args([
            "create-user",
            &user,
            "--region",
            "eu-west-1",
            "--secret-name",
            &secret,
        ])
        .run();
    run.assert_ok();
    let actions = proxy.actions();
    for action in ["CreateUser", "CreateAccessKey", "CreateSecret"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} not seen: {actions:?}"
        );
    }
    // The user and the secret are in the same place.
    support::block_on(support::iam(&moto.url).get_user().user_name(&user).send()).unwrap();
    support::block_on(
        support::secretsmanager(&moto.url, "eu-west-1")
            .describe_secret()
            .secret_id(&secret)
            .send(),
    )
    .unwrap();

    // A services endpoint that is not a URL is refused before any call.
    proxy.reset();
    let bad = AwsFiles::new(
        "[default]\nservices = local\n\n[services local]\nsecrets_manager =\n  endpoint_url = nonsense\n",
    );
    let run = bad
        .sesctl(&proxy.url)
        .env_remove("AWS_ENDPOINT_URL")
        .args(["setup"])
        .run();
    run.assert_code(2);
    assert!(
        run.stderr.contains("[services] local secrets_manager"),
        "{}",
        run.stderr
    );
    assert_eq!(proxy.actions(), Vec::<String>::new());
}

#[test]
fn endpoint_url_wins_over_the_environment_and_the_config_file() {
    let files = AwsFiles::new(
        "[default]\nservices = local\n\n[services local]\niam =\n  endpoint_url = http://127.0.0.1:9\n",
    );
    let run = files
        .sesctl("http://127.0.0.1:9")
        .args([
            "list",
            "-o",
            "json",
            "--max-attempts",
            "1",
            "--endpoint-url",
            &moto().url,
        ])
        .run();
    run.assert_ok();
    run.json();
}

// ---- item 11: the output format ----

#[test]
fn aws_default_output_and_the_profiles_output_pick_the_format() {
    let files = AwsFiles::new("[profile jsonfan]\noutput = json\n\n[profile bad]\noutput = xml\n");
    let regions = |env: &[(&str, &str)], args: &[&str]| {
        let mut s = files.sesctl("http://127.0.0.1:9").args(["regions"]).args(args);
        for (k, v) in env {
            s = s.env(k, v);
        }
        s.run()
    };
    let is_json = |run: &support::Run| serde_json::from_str::<serde_json::Value>(&run.stdout).is_ok();

    let text = regions(&[], &[]);
    text.assert_ok();
    assert!(!is_json(&text), "text stays the default");
    for value in ["json", "yaml", "yaml-stream"] {
        let run = regions(&[("AWS_DEFAULT_OUTPUT", value)], &[]);
        run.assert_ok();
        assert!(is_json(&run), "AWS_DEFAULT_OUTPUT={value}: {}", run.stdout);
    }
    for value in ["text", "table"] {
        let run = regions(&[("AWS_DEFAULT_OUTPUT", value)], &[]);
        run.assert_ok();
        assert_eq!(run.stdout, text.stdout, "AWS_DEFAULT_OUTPUT={value}");
    }
    // The profile's output, for --profile and AWS_PROFILE; the variable comes first; -o wins.
    assert!(is_json(&regions(&[], &["--profile", "jsonfan"])));
    assert!(is_json(&regions(&[("AWS_PROFILE", "jsonfan")], &[])));
    assert!(!is_json(&regions(
        &[("AWS_PROFILE", "jsonfan"), ("AWS_DEFAULT_OUTPUT", "text")],
        &[]
    )));
    assert!(!is_json(&regions(
        &[("AWS_DEFAULT_OUTPUT", "json")],
        &["-o", "text"]
    )));
    // A value the AWS CLI refuses is refused, naming where it came from; -o overrides it.
    let run = regions(&[("AWS_DEFAULT_OUTPUT", "xml")], &[]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("AWS_DEFAULT_OUTPUT is 'xml'"),
        "{}",
        run.stderr
    );
    let run = regions(&[("AWS_PROFILE", "bad")], &[]);
    run.assert_code(2);
    assert!(run.stderr.contains("profile bad"), "{}", run.stderr);
    assert!(is_json(&regions(
        &[("AWS_DEFAULT_OUTPUT", "xml")],
        &["-o", "json"]
    )));

    // A command that calls AWS: one JSON document on stdout.
    let run = files
        .sesctl(&moto().url)
        .env("AWS_DEFAULT_OUTPUT", "json")
        .args(["list"])
        .run();
    run.assert_ok();
    run.json();
}
