//! `sesctl derive`, run as a user would: stdin, regions, output formats, bad input and exit codes.

use crate::support::{self, moto, Sesctl};

const GUIDE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const GUIDE_US_EAST_1: &str = "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9";

fn vectors() -> serde_json::Value {
    let path = support::repo_root().join("tests/vectors/smtp_password.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn derive(stdin: &str, args: &[&str]) -> support::Run {
    Sesctl::offline().args(["derive"]).args(args).stdin(stdin).run()
}

#[test]
fn prints_the_password_alone_for_every_shared_vector() {
    for case in vectors()["v4"].as_array().unwrap() {
        let run = derive(
            case["secret"].as_str().unwrap(),
            &[
                "--region",
                case["region"].as_str().unwrap(),
                "--allow-unknown-region",
            ],
        );
        run.assert_ok();
        assert_eq!(run.stdout, format!("{}\n", case["password"].as_str().unwrap()));
        assert_eq!(run.stderr, "");
    }
}

#[test]
fn trims_one_trailing_lf_or_crlf() {
    for input in [
        GUIDE_SECRET.to_string(),
        format!("{GUIDE_SECRET}\n"),
        format!("{GUIDE_SECRET}\r\n"),
    ] {
        let run = derive(&input, &["--region", "us-east-1"]);
        run.assert_ok();
        assert_eq!(run.stdout, format!("{GUIDE_US_EAST_1}\n"));
    }
}

#[test]
fn bad_secrets_exit_2_without_echoing_them() {
    for input in ["", "\n", "abc def", "abc\tdef", "abc\n\n", "abc\ndef\n"] {
        let run = derive(input, &["--region", "us-east-1"]);
        run.assert_code(2);
        assert_eq!(run.stdout, "");
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
        if input.len() > 3 {
            assert!(!run.stderr.contains("abc"), "{}", run.stderr);
        }
    }
    let long = "a".repeat(5000);
    derive(&long, &["--region", "us-east-1"]).assert_code(2);
}

#[test]
fn input_that_cannot_be_a_key_exits_2_saying_what_was_seen() {
    let bom = [&b"\xEF\xBB\xBF"[..], GUIDE_SECRET.as_bytes(), b"\n"].concat();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (bom, "starts with a UTF-8 byte-order mark"),
        (
            format!("{GUIDE_SECRET}\u{00A0}").into_bytes(),
            "ends with a no-break space (U+00A0)",
        ),
        (
            format!("{GUIDE_SECRET}\u{200B}\n").into_bytes(),
            "ends with a zero-width space (U+200B)",
        ),
        (
            "wJalrXUtnFEMI/K7\u{200B}MDENG/bPxRfiCYEXAMPLEKEY"
                .as_bytes()
                .to_vec(),
            "a zero-width space (U+200B) at character 17 of 41",
        ),
        (
            b"AKIAIOSFODNN7EXAMPLE\n".to_vec(),
            "an access key id (20 characters starting AKIA)",
        ),
        (
            b"ASIAIOSFODNN7EXAMPLE".to_vec(),
            "a temporary access key id (20 characters starting ASIA)",
        ),
        (
            format!("{GUIDE_SECRET}=").into_bytes(),
            "contains '=' at character 41 of 41",
        ),
    ];
    for (input, seen) in cases {
        let run = Sesctl::offline()
            .args(["derive", "--region", "us-east-1"])
            .stdin(&input)
            .run();
        run.assert_code(2);
        assert_eq!(run.stdout, "");
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
        assert!(run.stderr.contains(seen), "{seen}: {}", run.stderr);
        for part in ["wJalrXUtnFEMI", "MDENG", "IOSFODNN7"] {
            assert!(!run.stderr.contains(part), "the input is echoed: {}", run.stderr);
        }
    }
    // Longer or shorter keys of AWS's characters are still derived (the derivation is defined for
    // any key; the shared vectors use short ones).
    derive("some+secret+key", &["--region", "us-east-1"]).assert_ok();
}

#[test]
fn the_secret_is_never_taken_from_argv() {
    let run = derive(GUIDE_SECRET, &["--region", "us-east-1", GUIDE_SECRET]);
    run.assert_code(2);
    assert_eq!(run.stdout, "");
    let run = derive(GUIDE_SECRET, &["--secret", GUIDE_SECRET, "--region", "us-east-1"]);
    run.assert_code(2);
}

#[test]
fn several_regions_print_region_tab_password() {
    let run = derive(GUIDE_SECRET, &["--region", "us-east-1", "--region", "us-east-2"]);
    run.assert_ok();
    let expected_east2 = vectors()["v4"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["region"] == "us-east-2" && c["secret"] == GUIDE_SECRET)
        .unwrap()["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        run.stdout,
        format!("us-east-1\t{GUIDE_US_EAST_1}\nus-east-2\t{expected_east2}\n")
    );
}

#[test]
fn json_output_has_region_host_and_password() {
    let run = derive(GUIDE_SECRET, &["--region", "us-east-1", "-o", "json"]);
    run.assert_ok();
    assert_eq!(
        run.json(),
        serde_json::json!([{"region": "us-east-1", "smtp_host": "email-smtp.us-east-1.amazonaws.com", "smtp_password": GUIDE_US_EAST_1}])
    );
}

#[test]
fn regions_without_an_endpoint_exit_2_listing_the_valid_ones() {
    for region in [
        "af-south-1",
        "me-south-1",
        "il-central-1",
        "eu-south-1",
        "ap-southeast-3",
    ] {
        let run = derive(GUIDE_SECRET, &["--region", region]);
        run.assert_code(2);
        assert!(run.stderr.contains(region), "{}", run.stderr);
        assert!(run.stderr.contains("us-east-1, us-east-2"), "{}", run.stderr);
        assert!(run.stderr.contains("--allow-unknown-region"));
    }
    let run = derive(GUIDE_SECRET, &["--region", "not_a_region"]);
    run.assert_code(2);
    assert!(run.stderr.contains("is not an AWS region name"), "{}", run.stderr);
    // Allowed explicitly, a well-formed region newer than the table derives.
    derive(
        GUIDE_SECRET,
        &["--region", "af-south-1", "--allow-unknown-region"],
    )
    .assert_ok();
    derive(GUIDE_SECRET, &["--region", "bogus", "--allow-unknown-region"]).assert_code(2);
}

#[test]
fn region_comes_from_aws_region_when_not_given() {
    let run = Sesctl::offline()
        .env("AWS_REGION", "us-east-1")
        .args(["derive"])
        .stdin(GUIDE_SECRET)
        .run();
    run.assert_ok();
    assert_eq!(run.stdout, format!("{GUIDE_US_EAST_1}\n"));
    let run = Sesctl::offline().args(["derive"]).stdin(GUIDE_SECRET).run();
    run.assert_code(2);
    assert!(run.stderr.contains("no region given"), "{}", run.stderr);
}

#[test]
fn region_comes_from_the_profile_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "[profile mail]\nregion = us-east-1\n").unwrap();
    let run = Sesctl::offline()
        .env("AWS_CONFIG_FILE", config.to_str().unwrap())
        .args(["derive", "--profile", "mail"])
        .stdin(GUIDE_SECRET)
        .run();
    run.assert_ok();
    assert_eq!(run.stdout, format!("{GUIDE_US_EAST_1}\n"));
}

#[test]
fn from_credentials_prints_the_user_name_and_password() {
    let run = Sesctl::offline()
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", GUIDE_SECRET)
        .args(["derive", "--from-credentials", "--region", "us-east-1"])
        .run();
    run.assert_ok();
    assert_eq!(run.stdout, format!("AKIAIOSFODNN7EXAMPLE\t{GUIDE_US_EAST_1}\n"));
    let run = Sesctl::offline()
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", GUIDE_SECRET)
        .args([
            "derive",
            "--from-credentials",
            "--region",
            "us-east-1",
            "-o",
            "json",
        ])
        .run();
    run.assert_ok();
    assert_eq!(run.json()[0]["smtp_username"], "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(run.json()[0]["smtp_password"], GUIDE_US_EAST_1);
}

#[test]
fn from_credentials_refuses_temporary_credentials() {
    for (akid, token) in [
        ("ASIAIOSFODNN7EXAMPLE", None),
        ("AKIAIOSFODNN7EXAMPLE", Some("FwoGZXIvYXdzEXAMPLE")),
    ] {
        let mut cmd = Sesctl::offline()
            .env("AWS_ACCESS_KEY_ID", akid)
            .env("AWS_SECRET_ACCESS_KEY", GUIDE_SECRET);
        if let Some(t) = token {
            cmd = cmd.env("AWS_SESSION_TOKEN", t);
        }
        let run = cmd
            .args(["derive", "--from-credentials", "--region", "us-east-1"])
            .run();
        run.assert_code(2);
        assert!(run.stderr.contains("temporary credentials"), "{}", run.stderr);
        assert!(!run.all_output().contains(GUIDE_SECRET));
        assert_eq!(run.stdout, "");
    }
}

#[test]
fn derive_is_offline_even_with_an_endpoint_configured() {
    // moto is not needed: an unreachable endpoint changes nothing for plain derive.
    let run = Sesctl::offline()
        .args([
            "derive",
            "--region",
            "us-east-1",
            "--endpoint-url",
            "http://127.0.0.1:1",
        ])
        .stdin(GUIDE_SECRET)
        .run();
    run.assert_ok();
    let _ = moto; // the shared server exists for other tests; derive never calls it
}

#[test]
fn global_options_work_after_the_subcommand_and_unknown_flags_exit_2() {
    let run = derive(GUIDE_SECRET, &["-o", "json", "--region", "us-east-1"]);
    run.assert_ok();
    run.json();
    let run = Sesctl::offline().args(["derive", "--no-such-flag"]).run();
    run.assert_code(2);
}

#[test]
fn help_and_version_exit_0() {
    let run = Sesctl::offline().args(["--help"]).run();
    run.assert_ok();
    assert!(run.stdout.contains("create-user"));
    let run = Sesctl::offline().args(["--version"]).run();
    run.assert_ok();
    assert!(run.stdout.starts_with("sesctl 0."), "{}", run.stdout);
    assert!(run.stdout.contains("commit"), "{}", run.stdout);
}

#[test]
fn a_closed_stdout_pipe_exits_quietly() {
    use std::process::{Command, Stdio};
    // `sesctl completions bash | true`: the reader is gone before sesctl writes; sesctl must exit 0
    // without a panic message or an error line.
    let mut child = Command::new(support::sesctl_bin())
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr, "", "nothing on stderr");
    assert_eq!(out.status.code(), Some(0));
}
