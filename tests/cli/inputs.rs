//! Bad input, one row per input of docs/inputs.md: each bad value exits 2 with one line on stderr,
//! nothing on stdout, and no AWS request at all (the proxy in front of moto sees none), so nothing can
//! have changed.

use crate::support::{moto, stderr_lines, FaultProxy, Sesctl};

/// (what, arguments, stdin, environment, a word the message must contain)
type Row = (
    &'static str,
    Vec<String>,
    Vec<u8>,
    Vec<(&'static str, String)>,
    &'static str,
);

fn row(what: &'static str, args: &[&str], needle: &'static str) -> Row {
    (
        what,
        args.iter().map(|s| s.to_string()).collect(),
        Vec::new(),
        Vec::new(),
        needle,
    )
}

fn rows(dir: &std::path::Path) -> Vec<Row> {
    let existing = dir.join("existing.csv");
    std::fs::write(&existing, "keep me").unwrap();
    let existing = existing.to_str().unwrap().to_string();
    let missing_dir = dir.join("no/such/dir/c.csv").to_str().unwrap().to_string();
    let a_dir = dir.to_str().unwrap().to_string();
    let long_name = "a".repeat(65);
    let many_tags: Vec<String> = (0..51)
        .flat_map(|i| ["--tag".to_string(), format!("k{i}=v")])
        .collect();
    let cu = |extra: &[&str]| {
        let mut v = vec!["create-user", "ok-name", "--region", "eu-west-1"];
        v.extend_from_slice(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let mut rows = vec![
        // user names
        row(
            "user name with a space",
            &["create-user", "bad name", "--region", "eu-west-1"],
            "IAM user name",
        ),
        row(
            "user name with a slash (rotate)",
            &["rotate", "bad/name", "--region", "eu-west-1"],
            "IAM user name",
        ),
        row(
            "user name with a non-ASCII letter (migrate)",
            &["migrate-inline-policy", "ü"],
            "IAM user name",
        ),
        row(
            "user name of 65 characters",
            &["create-user", &long_name, "--region", "eu-west-1"],
            "64",
        ),
        row(
            "empty user name",
            &["create-user", "", "--region", "eu-west-1"],
            "IAM user name",
        ),
        // paths
        row(
            "path without the leading slash",
            &cu(&["--path", "smtp/"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "IAM path",
        ),
        row(
            "path with a space",
            &cu(&["--path", "/a b/"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "IAM path",
        ),
        // tags
        row(
            "tag without =",
            &cu(&["--tag", "noequals"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "KEY=VALUE",
        ),
        row(
            "tag with the reserved aws: prefix",
            &cu(&["--tag", "aws:x=1"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "reserved",
        ),
        row(
            "tag with a character IAM refuses",
            &cu(&["--tag", "k=v;"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "tag",
        ),
        row(
            "tag key given twice (any case)",
            &cu(&["--tag", "a=1", "--tag", "A=2"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "twice",
        ),
        // regions
        row(
            "region not in the table",
            &["create-user", "u", "--region", "mars-east-1"],
            "region",
        ),
        row(
            "region not in the table (derive)",
            &["derive", "--region", "xx-nowhere-1"],
            "region",
        ),
        row(
            "region given twice outside derive",
            &["setup", "--region", "eu-west-1", "--region", "us-east-1"],
            "--region",
        ),
        // CSV paths
        row(
            "CSV path in a missing directory",
            &cu(&["--csv", &missing_dir])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "does not exist",
        ),
        row(
            "CSV path that exists, without --force",
            &cu(&["--csv", &existing])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "--force",
        ),
        row(
            "CSV path that is a directory",
            &cu(&["--csv", &a_dir])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "directory",
        ),
        row(
            "--force without --csv",
            &cu(&["--force"]).iter().map(String::as_str).collect::<Vec<_>>(),
            "--csv",
        ),
        row(
            "--csv together with --secret-name",
            &cu(&["--csv", "x.csv", "--secret-name", "s"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "cannot be used",
        ),
        // secret names
        row(
            "secret name with a space",
            &cu(&["--secret-name", "bad name"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "secret name",
        ),
        row(
            "secret name with # (rotate)",
            &["rotate", "u", "--region", "eu-west-1", "--secret-name", "a#b"],
            "secret name",
        ),
        // KMS key ids
        row(
            "KMS key id with a space",
            &cu(&["--secret-name", "s", "--kms-key-id", "alias/a b"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "KMS key",
        ),
        row(
            "KMS key id without --secret-name",
            &cu(&["--kms-key-id", "alias/k"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "--secret-name",
        ),
        // endpoint URLs
        row(
            "--endpoint-url that is not a URL",
            &["setup", "--endpoint-url", "not a url"],
            "--endpoint-url",
        ),
        row(
            "--endpoint-url with another scheme",
            &[
                "rotate",
                "u",
                "--region",
                "eu-west-1",
                "--endpoint-url",
                "ftp://h",
            ],
            "http",
        ),
        row(
            "--endpoint-url without a host",
            &["migrate-inline-policy", "--all", "--endpoint-url", "http://"],
            "--endpoint-url",
        ),
        // ports, timeouts, counts, days (clap ranges)
        row(
            "SMTP port 0",
            &cu(&["--port", "0"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "--port",
        ),
        row(
            "SMTP port above 65535",
            &cu(&["--port", "70000"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "--port",
        ),
        row(
            "--verify-timeout 0",
            &cu(&["--verify-timeout", "0"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "--verify-timeout",
        ),
        row(
            "--api-timeout 0",
            &["setup", "--api-timeout", "0"],
            "--api-timeout",
        ),
        row(
            "--max-attempts 0",
            &["setup", "--max-attempts", "0"],
            "--max-attempts",
        ),
        row(
            "--max-attempts 21",
            &["setup", "--max-attempts", "21"],
            "--max-attempts",
        ),
        row(
            "--concurrency 0",
            &["migrate-inline-policy", "--all", "--concurrency", "0"],
            "--concurrency",
        ),
        row(
            "--concurrency 65",
            &["migrate-inline-policy", "--all", "--concurrency", "65"],
            "--concurrency",
        ),
        row(
            "--concurrency that is not a number",
            &["migrate-inline-policy", "--all", "--concurrency", "many"],
            "--concurrency",
        ),
        row(
            "--max-key-age 0 (audit)",
            &["audit", "--max-key-age", "0"],
            "--max-key-age",
        ),
        row(
            "--unused-days that is negative (audit)",
            &["audit", "--unused-days", "-1"],
            "-1",
        ),
        row(
            "--recovery-window-days 6 (delete-user)",
            &["delete-user", "u", "--recovery-window-days", "6"],
            "--recovery-window-days",
        ),
        row(
            "--timeout 0 (SMTP)",
            &cu(&["--timeout", "0"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            "--timeout",
        ),
        // choices
        row("-o with an unknown format", &["setup", "-o", "xml"], "xml"),
        row(
            "--old-key with an unknown action",
            &["rotate", "u", "--old-key", "shred"],
            "shred",
        ),
        row(
            "migrate with neither names nor --all",
            &["migrate-inline-policy"],
            "required",
        ),
        row(
            "--all together with names",
            &["migrate-inline-policy", "--all", "u"],
            "cannot be used",
        ),
        row(
            "--finish without --secret-name",
            &["rotate", "u", "--finish"],
            "--secret-name",
        ),
    ];
    // verify's own inputs
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "garbage").unwrap();
    let not_pem = not_pem.to_str().unwrap().to_string();
    let missing_pem = dir.join("missing.pem").to_str().unwrap().to_string();
    let verify = |extra: &[&str]| {
        let mut v: Vec<String> = [
            "verify",
            "--username",
            "AKIAIOSFODNN7EXAMPLE",
            "--region",
            "eu-west-1",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    for (what, args, needle) in [
        (
            "CA file that does not exist",
            verify(&["--ca-file", &missing_pem]),
            "--ca-file",
        ),
        (
            "CA file without a PEM certificate",
            verify(&["--ca-file", &not_pem]),
            "PEM",
        ),
        (
            "SMTP host with a space",
            verify(&["--smtp-host", "bad host"]),
            "--smtp-host",
        ),
        (
            "SMTP user name with a space",
            vec![
                "verify".into(),
                "--username".into(),
                "AK IA".into(),
                "--region".into(),
                "eu-west-1".into(),
            ],
            "--username",
        ),
        ("SMTP port 0 (verify)", verify(&["--port", "0"]), "--port"),
    ] {
        rows.push((what, args, b"password\n".to_vec(), Vec::new(), needle));
    }
    rows.push((
        "SMTP password with a space on stdin",
        verify(&[]),
        b"pass word\n".to_vec(),
        Vec::new(),
        "whitespace",
    ));
    // 51 tags
    let mut args: Vec<String> = cu(&[]);
    args.extend(many_tags);
    rows.push(("more than 50 tags", args, Vec::new(), Vec::new(), "50"));
    // secrets on stdin
    for (what, input, needle) in [
        ("empty secret on stdin", b"".to_vec(), "no secret access key"),
        ("secret with a space inside", b"abc def\n".to_vec(), "whitespace"),
        (
            "secret with two trailing newlines",
            b"abc\n\n".to_vec(),
            "whitespace",
        ),
        ("secret that is not UTF-8", b"\xff\xfe\xfd".to_vec(), "UTF-8"),
        ("secret longer than 4096 bytes", vec![b'a'; 5000], "4096"),
        (
            "secret starting with a UTF-8 byte-order mark",
            [&b"\xEF\xBB\xBF"[..], KEY.as_bytes()].concat(),
            "byte-order mark",
        ),
        (
            "secret ending with a no-break space",
            format!("{KEY}\u{00A0}\n").into_bytes(),
            "ends with a no-break space (U+00A0)",
        ),
        (
            "secret ending with a zero-width space",
            format!("{KEY}\u{200B}").into_bytes(),
            "ends with a zero-width space (U+200B)",
        ),
        (
            "an access key id instead of the secret",
            b"AKIAIOSFODNN7EXAMPLE\n".to_vec(),
            "an access key id (20 characters starting AKIA)",
        ),
        (
            "a temporary access key id instead of the secret",
            b"ASIAIOSFODNN7EXAMPLE".to_vec(),
            "temporary access key id",
        ),
        (
            "secret in quotes",
            format!("\"{KEY}\"\n").into_bytes(),
            "contains '\"' at character 1 of 42",
        ),
    ] {
        rows.push((
            what,
            vec!["derive".into(), "--region".into(), "eu-west-1".into()],
            input,
            Vec::new(),
            needle,
        ));
    }
    // the environment
    for (what, var, value, needle) in [
        (
            "AWS_ENDPOINT_URL that is not a URL",
            "AWS_ENDPOINT_URL",
            "nonsense",
            "AWS_ENDPOINT_URL",
        ),
        (
            "AWS_ENDPOINT_URL_IAM without a host",
            "AWS_ENDPOINT_URL_IAM",
            "https://",
            "AWS_ENDPOINT_URL_IAM",
        ),
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER with another scheme",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "file:///x",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        ),
        (
            "AWS_MAX_ATTEMPTS that is not a number",
            "AWS_MAX_ATTEMPTS",
            "abc",
            "AWS_MAX_ATTEMPTS",
        ),
        ("AWS_MAX_ATTEMPTS 0", "AWS_MAX_ATTEMPTS", "0", "AWS_MAX_ATTEMPTS"),
        (
            "AWS_RETRY_MODE unknown",
            "AWS_RETRY_MODE",
            "eager",
            "AWS_RETRY_MODE",
        ),
    ] {
        rows.push((
            what,
            vec!["setup".into()],
            Vec::new(),
            vec![(var, value.to_string())],
            needle,
        ));
    }
    // the AWS CLI's conventions
    rows.push((
        "a profile that does not exist (--profile)",
        vec!["setup".into(), "--profile".into(), "nope".into()],
        Vec::new(),
        Vec::new(),
        "the config profile (nope) could not be found",
    ));
    for (what, var, value, needle) in [
        (
            "a profile that does not exist (AWS_PROFILE)",
            "AWS_PROFILE",
            "nope".to_string(),
            "the config profile (nope) could not be found",
        ),
        (
            "AWS_CA_BUNDLE that does not exist",
            "AWS_CA_BUNDLE",
            missing_pem.clone(),
            "AWS_CA_BUNDLE",
        ),
        (
            "AWS_CA_BUNDLE without a PEM certificate",
            "AWS_CA_BUNDLE",
            not_pem.clone(),
            "no usable PEM certificate",
        ),
        (
            "AWS_DEFAULT_OUTPUT the AWS CLI does not know",
            "AWS_DEFAULT_OUTPUT",
            "xml".to_string(),
            "AWS_DEFAULT_OUTPUT is 'xml'",
        ),
    ] {
        rows.push((what, vec!["setup".into()], Vec::new(), vec![(var, value)], needle));
    }
    let bad_services = dir.join("bad-services-config");
    std::fs::write(
        &bad_services,
        "[default]\nservices = local\n\n[services local]\nsecrets_manager =\n  endpoint_url = nonsense\n",
    )
    .unwrap();
    rows.push((
        "a [services] endpoint in the config file that is not a URL",
        vec!["setup".into()],
        Vec::new(),
        vec![
            ("AWS_CONFIG_FILE", bad_services.to_str().unwrap().to_string()),
            // An empty variable counts as unset, so the config file's endpoints apply.
            ("AWS_ENDPOINT_URL", String::new()),
        ],
        "[services] local secrets_manager endpoint_url 'nonsense' is not a URL",
    ));
    rows
}

/// A well-formed secret access key (the SES developer guide's example).
const KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

#[test]
fn every_bad_input_exits_2_with_one_line_before_any_aws_request() {
    let proxy = FaultProxy::start(moto());
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (what, args, stdin, env, needle) in rows(dir.path()) {
        let mut s = Sesctl::at(&proxy.url).args(&args).stdin(&stdin);
        for (k, v) in &env {
            s = s.env(k, v);
        }
        let run = s.run();
        let lines: Vec<&str> = stderr_lines(&run)
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect();
        // sesctl's own checks print exactly one line; clap's syntax errors print their one error line
        // followed by the usage and a pointer to --help.
        let shape = match lines.first() {
            Some(first) if first.starts_with("sesctl: error:") => lines.len() == 1,
            Some(first) if first.starts_with("error:") => lines.iter().skip(1).all(|l| {
                l.starts_with("  ")
                    || l.starts_with("Usage:")
                    || l.starts_with("For more information")
                    || l.starts_with("tip:")
            }),
            _ => false,
        };
        let ok = run.code == 2 && run.stdout.is_empty() && shape && run.stderr.contains(needle);
        if !ok {
            failures.push(format!(
                "{what}: exit {}, stdout {:?}, stderr:\n{}",
                run.code, run.stdout, run.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(proxy.actions(), Vec::<String>::new(), "a bad input reached AWS");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("existing.csv")).unwrap(),
        "keep me",
        "an existing CSV file was touched"
    );
}
