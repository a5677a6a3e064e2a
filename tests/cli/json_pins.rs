//! Every command's `-o json` document pinned to docs/json.md: the built binary runs against moto (and
//! the SMTP test server for `verify`), and the output must be exactly one JSON document on stdout
//! whose keys and value types match, recursively, the shapes in tests/cli/support/pins.rs. The shapes
//! are written by hand from docs/json.md: when one of these tests fails, either the code broke the
//! documented contract or the contract changed and docs/json.md (and these shapes) must say so.

use crate::support::pins::{
    arr, audit_report, check, create_user_report, credential, delete_report, derive_item, exercised,
    finish_report, list_report, migration_report, null_or, obj, one_of, opt, pinned, plan, region_item, req,
    rotate_report, setup_report, verify_report,
    Shape::{Date, Int},
};
use crate::support::smtp::{Mode, SmtpServer};
use crate::support::{fixtures, legacy, moto, prefix, v4_password, Moto, Run, Sesctl};

const REGION: &str = "eu-west-1";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPINSKEY12";

// ---- helpers ----

fn json_run(url: &str, args: &[&str]) -> Run {
    Sesctl::at(url).args(args).args(["-o", "json"]).run()
}

// ---- the pins ----

#[test]
fn derive_and_regions() {
    let run = Sesctl::offline()
        .args([
            "derive",
            "--region",
            "us-east-1",
            "--region",
            REGION,
            "-o",
            "json",
        ])
        .stdin(SECRET_KEY)
        .run();
    run.assert_ok();
    let doc = pinned("derive -o json", &run, &arr(derive_item()));
    assert_eq!(doc.as_array().map(Vec::len), Some(2));

    let run = Sesctl::at(&moto().url)
        .args(["derive", "--from-credentials", "--region", REGION, "-o", "json"])
        .run();
    run.assert_ok();
    let doc = pinned("derive --from-credentials -o json", &run, &arr(derive_item()));
    exercised("derive --from-credentials", &doc, "/0/smtp_username");

    let run = Sesctl::offline().args(["regions", "-o", "json"]).run();
    run.assert_ok();
    let doc = pinned("regions -o json", &run, &arr(region_item()));
    exercised("regions", &doc, "/0/starttls_ports");
    assert!(
        doc.as_array()
            .unwrap()
            .iter()
            .any(|r| r["fips_smtp_host"].is_string()),
        "some region has a FIPS host"
    );
}

#[test]
fn setup() {
    let url = &moto().url;
    let run = json_run(url, &["setup", "--dry-run"]);
    run.assert_ok();
    pinned("setup --dry-run -o json", &run, &plan());
    let run = json_run(url, &["setup"]);
    run.assert_ok();
    pinned("setup -o json", &run, &setup_report());
}

#[test]
fn create_user() {
    let url = &moto().url;
    let p = prefix("pincreate");
    let user = format!("{p}-plan");
    let run = json_run(
        url,
        &[
            "create-user",
            &user,
            "--region",
            REGION,
            "--tag",
            "team=mail",
            "--secret-name",
            &format!("{p}/plan"),
            "--dry-run",
        ],
    );
    run.assert_ok();
    let doc = pinned("create-user --dry-run -o json", &run, &plan());
    exercised("create-user --dry-run", &doc, "/calls/0/action");
    exercised("create-user --dry-run", &doc, "/notes");

    // No secret sink: the credential itself is the output; the summary goes to stderr.
    let run = json_run(url, &["create-user", &format!("{p}-stdout"), "--region", REGION]);
    run.assert_ok();
    pinned("create-user -o json", &run, &credential());
    assert!(
        run.stderr.contains("Created IAM user"),
        "the summary goes to stderr: {}",
        run.stderr
    );

    let secret = format!("{p}/smtp");
    let run = json_run(
        url,
        &[
            "create-user",
            &format!("{p}-secret"),
            "--region",
            REGION,
            "--secret-name",
            &secret,
        ],
    );
    run.assert_ok();
    let doc = pinned("create-user --secret-name -o json", &run, &create_user_report());
    assert_eq!(doc["delivered"]["kind"], "secrets_manager");

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    let run = json_run(
        url,
        &[
            "create-user",
            &format!("{p}-csv"),
            "--region",
            REGION,
            "--csv",
            csv.to_str().unwrap(),
        ],
    );
    run.assert_ok();
    let doc = pinned("create-user --csv -o json", &run, &create_user_report());
    assert_eq!(doc["delivered"]["kind"], "csv_file");
}

#[test]
fn rotate() {
    let url = &moto().url;
    let p = prefix("pinrotate");
    let (user, secret) = (format!("{p}-user"), format!("{p}/smtp"));
    fixtures::create_user_with_secret(url, REGION, &user, &secret, &[]);

    let run = json_run(
        url,
        &[
            "rotate",
            &user,
            "--secret-name",
            &secret,
            "--region",
            REGION,
            "--dry-run",
        ],
    );
    run.assert_ok();
    let doc = pinned("rotate --dry-run -o json", &run, &plan());
    exercised("rotate --dry-run", &doc, "/calls");

    let run = json_run(
        url,
        &[
            "rotate",
            &user,
            "--secret-name",
            &secret,
            "--region",
            REGION,
            "--old-key",
            "keep",
        ],
    );
    run.assert_ok();
    let doc = pinned("rotate --secret-name -o json", &run, &rotate_report(true));
    exercised("rotate --secret-name", &doc, "/old_access_key_id");
    exercised("rotate --secret-name", &doc, "/old_key");

    let finish = [
        "rotate",
        &user,
        "--secret-name",
        &secret,
        "--region",
        REGION,
        "--finish",
    ];
    let run = json_run(url, &[&finish[..], &["--dry-run"]].concat());
    run.assert_ok();
    let doc = pinned("rotate --finish --dry-run -o json", &run, &plan());
    assert_eq!(doc["command"], "rotate --finish");
    let run = json_run(url, &finish);
    run.assert_ok();
    let doc = pinned("rotate --finish -o json", &run, &finish_report());
    exercised("rotate --finish", &doc, "/retired/0/last_used");

    // Without a secret: the new credential on stdout, the report as text on stderr.
    let plain = format!("{p}-plain");
    Sesctl::at(url)
        .args(["create-user", &plain, "--region", REGION])
        .run()
        .assert_ok();
    let run = json_run(url, &["rotate", &plain, "--region", REGION]);
    run.assert_ok();
    pinned("rotate (no secret) -o json", &run, &credential());
    assert!(
        run.stderr.contains("Rotated the SMTP credential"),
        "{}",
        run.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("r.csv");
    let run = json_run(
        url,
        &[
            "rotate",
            &plain,
            "--region",
            REGION,
            "--csv",
            csv.to_str().unwrap(),
            "--delete-inactive",
            "--old-key",
            "delete",
        ],
    );
    run.assert_ok();
    let doc = pinned("rotate --csv -o json", &run, &rotate_report(false));
    assert_eq!(doc["delivered_to"]["kind"], "csv_file");
    assert_eq!(doc["old_key"], "deleted");
    exercised("rotate --csv --delete-inactive", &doc, "/deleted_inactive_key");
}

#[test]
fn migrate_inline_policy() {
    let url = &moto().url;
    let p = prefix("pinmigrate");
    let users = vec![format!("{p}-a"), format!("{p}-b")];
    legacy::create_legacy_users(url, &users);

    let run = json_run(url, &["migrate-inline-policy", &users[0], &users[1], "--dry-run"]);
    run.assert_ok();
    let doc = pinned(
        "migrate-inline-policy --dry-run -o json",
        &run,
        &migration_report(),
    );
    assert_eq!(doc["dry_run"], true);
    exercised("migrate-inline-policy --dry-run", &doc, "/users/0/steps_done");
    exercised("migrate-inline-policy --dry-run", &doc, "/totals/would_migrate");

    // A name that does not exist fails (exit 1) and the report still comes out, with its error.
    let missing = format!("{p}-missing");
    let run = json_run(url, &["migrate-inline-policy", &users[0], &users[1], &missing]);
    run.assert_code(1);
    let doc = pinned("migrate-inline-policy -o json", &run, &migration_report());
    assert_eq!(doc["dry_run"], false);
    assert_eq!(doc["totals"]["migrated"], 2, "{doc:#}");
    assert!(doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["status"] == "not_found" && u["error"].is_string()));
}

#[test]
fn delete_user() {
    let url = &moto().url;
    let (user, secret) = fixtures::user_with_secret(url, "pindelete");
    let args = [
        "delete-user",
        &user,
        "--secret-name",
        &secret,
        "--region",
        REGION,
        "--yes",
    ];

    let run = json_run(url, &[&args[..], &["--dry-run"]].concat());
    run.assert_ok();
    let doc = pinned("delete-user --dry-run -o json", &run, &plan());
    exercised("delete-user --dry-run", &doc, "/calls");

    let run = json_run(url, &args);
    run.assert_ok();
    let doc = pinned("delete-user -o json", &run, &delete_report());
    exercised("delete-user", &doc, "/done/0/action");
    exercised("delete-user", &doc, "/secret");
}

#[test]
fn verify() {
    const USER: &str = "AKIAZZZZPINSEXAMPLE1";
    let password = v4_password(SECRET_KEY, "us-east-1");
    let server = SmtpServer::start(Mode::Starttls, USER, &password);
    let login = |pw: &str| {
        Sesctl::at(&moto().url)
            .args(["verify", "--username", USER, "--region", "us-east-1"])
            .args(["--smtp-host", "127.0.0.1", "--port", &server.port_arg()])
            .args(["--ca-file", server.ca_arg(), "-o", "json"])
            .stdin(format!("{pw}\n"))
            .run()
    };

    let run = login(&password);
    run.assert_ok();
    let doc = pinned("verify -o json (accepted)", &run, &verify_report());
    assert_eq!(doc["ok"], true);
    exercised("verify (accepted)", &doc, "/tls_version");

    let wrong = v4_password("another-secret-key-entirely-0123456789", "us-east-1");
    let run = login(&wrong);
    run.assert_code(1);
    let doc = pinned("verify -o json (rejected)", &run, &verify_report());
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["failure"]["kind"], "rejected");
    exercised("verify (rejected)", &doc, "/failure/reply_code");
    exercised("verify (rejected)", &doc, "/diagnosis");
    exercised("verify (rejected)", &doc, "/key/state");
}

/// `audit`, `list` and `create-user --verify` in an account of their own: audits read every user, and
/// the SMTP server that checks logins as SES does reads moto's whole state.
#[test]
fn audit_list_and_create_user_verify() {
    let moto = Moto::dedicated();
    let url = &moto.url;
    let p = prefix("pinaudit");
    legacy::create_legacy_users(url, &[format!("{p}-legacy")]);

    let server = SmtpServer::start_iam(Mode::Starttls, url, REGION, 0);
    let run = json_run(
        url,
        &[
            "create-user",
            &format!("{p}-app"),
            "--region",
            REGION,
            "--secret-name",
            &format!("{p}/smtp"),
            "--verify",
            "--smtp-host",
            "127.0.0.1",
            "--port",
            &server.port_arg(),
            "--ca-file",
            server.ca_arg(),
        ],
    );
    run.assert_ok();
    let doc = pinned("create-user --verify -o json", &run, &create_user_report());
    exercised("create-user --verify", &doc, "/verified/tls_version");
    exercised("create-user --verify", &doc, "/setup/changes");

    let run = json_run(url, &["audit"]);
    run.assert_ok();
    let doc = pinned("audit -o json", &run, &audit_report(false));
    assert_eq!(doc["schema_version"], 3);
    assert_eq!(doc["summary"]["smtp_users"], 2, "{doc:#}");
    exercised("audit", &doc, "/users/0/findings/0/id");
    exercised("audit", &doc, "/users/0/reasons/0/reason");
    let with_keys = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .position(|u| u["keys"].as_array().is_some_and(|k| !k.is_empty()))
        .expect("a user with a key");
    exercised("audit", &doc, &format!("/users/{with_keys}/keys/0/status"));
    let run = json_run(url, &["audit", "--key-ids"]);
    run.assert_ok();
    let doc = pinned("audit --key-ids -o json", &run, &audit_report(false));
    exercised(
        "audit --key-ids",
        &doc,
        &format!("/users/{with_keys}/keys/0/access_key_id"),
    );

    let run = json_run(url, &["list"]);
    run.assert_ok();
    let doc = pinned("list -o json", &run, &list_report(false));
    assert_eq!(doc["users"].as_array().map(Vec::len), Some(2));
}

// ---- the checker itself ----

#[test]
fn the_checker_names_the_differing_path() {
    let shape = obj(vec![
        req("a", Int),
        opt("b", arr(obj(vec![req("c", one_of(&["x", "y"]))]))),
        req("d", null_or(Date)),
    ]);
    let mut errors = Vec::new();
    check(
        &serde_json::json!({"a": "1", "b": [{"c": "x"}, {"c": "z", "e": 1}], "d": null}),
        &shape,
        "$",
        &mut errors,
    );
    assert_eq!(
        errors,
        [
            "$.a: expected an integer, found string \"1\"",
            "$.b[1].c: expected one of [\"x\", \"y\"], found string \"z\"",
            "$.b[1].e: not documented in docs/json.md",
        ]
    );
    let mut errors = Vec::new();
    check(&serde_json::json!({"b": []}), &shape, "$", &mut errors);
    assert_eq!(
        errors,
        [
            "$.a: missing (documented as always present)",
            "$.d: missing (documented as always present)"
        ]
    );
    let run = Run {
        code: 0,
        stdout: "{}\n{}\n".into(),
        stderr: String::new(),
    };
    let two = std::panic::catch_unwind(|| pinned("two documents", &run, &obj(vec![])));
    assert!(two.is_err(), "two documents on stdout must fail");
}
