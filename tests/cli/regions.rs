//! `sesctl regions`.

use crate::support::Sesctl;

#[test]
fn text_table_lists_every_region_with_hosts() {
    let run = Sesctl::offline().args(["regions"]).run();
    run.assert_ok();
    assert!(run.stdout.starts_with("REGION"), "{}", run.stdout);
    for r in sesctl::regions::REGIONS {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{} ", r.region)))
            .unwrap();
        assert!(
            line.contains(&format!("email-smtp.{}.amazonaws.com", r.region)),
            "{line}"
        );
    }
    assert!(run.stdout.contains("email-smtp-fips.us-east-1.amazonaws.com"));
    assert!(!run.stdout.contains("af-south-1"));
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn json_is_one_document_with_ports_and_sources() {
    let run = Sesctl::offline().args(["regions", "-o", "json"]).run();
    run.assert_ok();
    let v = run.json();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), sesctl::regions::REGIONS.len());
    let us = list.iter().find(|r| r["region"] == "us-west-2").unwrap();
    assert_eq!(us["smtp_host"], "email-smtp.us-west-2.amazonaws.com");
    assert_eq!(us["fips_smtp_host"], "email-smtp-fips.us-west-2.amazonaws.com");
    assert_eq!(us["starttls_ports"], serde_json::json!([25, 587, 2587]));
    assert_eq!(us["tls_ports"], serde_json::json!([465, 2465]));
    assert!(us["source"].as_str().unwrap().starts_with("https://"));
    assert_eq!(
        list.iter().find(|r| r["region"] == "eu-west-1").unwrap()["fips_smtp_host"],
        serde_json::Value::Null
    );
}

#[test]
fn osaka_is_in_the_table_and_fips_hosts_only_where_documented() {
    let run = Sesctl::offline().args(["regions", "-o", "json"]).run();
    run.assert_ok();
    let v = run.json();
    let list = v.as_array().unwrap();
    let osaka = list.iter().find(|r| r["region"] == "ap-northeast-3").unwrap();
    assert_eq!(osaka["smtp_host"], "email-smtp.ap-northeast-3.amazonaws.com");
    assert_eq!(osaka["fips_smtp_host"], serde_json::Value::Null);
    for region in ["us-east-2", "us-west-1"] {
        let r = list.iter().find(|r| r["region"] == region).unwrap();
        assert_eq!(r["fips_smtp_host"], serde_json::Value::Null, "{region}");
    }
    let fips: Vec<&str> = list
        .iter()
        .filter(|r| r["fips_smtp_host"].is_string())
        .map(|r| r["region"].as_str().unwrap())
        .collect();
    assert_eq!(fips, ["us-east-1", "us-west-2", "us-gov-west-1"]);
    // derive takes it without --allow-unknown-region.
    Sesctl::offline()
        .args(["derive", "--region", "ap-northeast-3"])
        .stdin("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        .run()
        .assert_ok();
}

#[test]
fn regions_needs_no_aws_configuration() {
    // A broken endpoint and profile must not matter to an offline command.
    let run = Sesctl::offline()
        .args([
            "regions",
            "--profile",
            "does-not-exist",
            "--endpoint-url",
            "http://127.0.0.1:1",
        ])
        .run();
    run.assert_ok();
}
