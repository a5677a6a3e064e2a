//! `sesctl audit` and `sesctl list` against real services on loopback: a dedicated moto server per
//! test (audits see the whole account), the fault proxy to count calls, split responses into pages,
//! deny the credential report and hold the run to a sustained rate limit.
//!
//! What moto cannot show: its credential report is built afresh at every iam:GetCredentialReport
//! (so no user is ever missing from it, as one created after a real report would be), it is always
//! dated 2015-02-02T20:02:02Z (so every report looks stale, and sesctl says so on every run here),
//! and its `access_key_N_last_used_region` and `_service` columns are always `not_supported`. The
//! parsing of real reports, the staleness rule and the pairing of slots with listed keys are unit
//! tests in sesctl-core.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Value};

use crate::support::{self, block_on, FaultProxy, Moto, Sesctl};

const GROUP: &str = "AWSSESSendingGroupDoNotRename";
const SEND: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}"#;

fn seeded_smtp(seed: &Value) -> BTreeMap<String, String> {
    seed["smtp"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn seeded_keys(seed: &Value, user: &str) -> BTreeSet<String> {
    seed["keys"][user]
        .as_array()
        .map(|a| a.iter().map(|k| k.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn finding_ids(user: &Value) -> BTreeSet<String> {
    user["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn count(actions: &[String], name: &str) -> usize {
    actions.iter().filter(|a| *a == name).count()
}

#[test]
fn two_thousand_users_every_page_read_only_smtp_users_reported_with_few_calls() {
    let moto = Moto::dedicated();
    let seed = support::seed_account(&moto.url, "acct", 2000, 20);
    let smtp = seeded_smtp(&seed);
    assert_eq!(smtp.len(), 100);

    // moto never paginates: the proxy answers 300 entries per page (and one access key per page),
    // so a reader that stops after the first page misses users and keys.
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([
        {"action": "GetAccountAuthorizationDetails", "fault": "paginate", "page_size": 300},
        {"action": "ListAccessKeys", "fault": "paginate", "page_size": 1},
    ]));
    let run = Sesctl::at(&proxy.url)
        .args(["audit", "-o", "json", "--fail-on", "error"])
        .run();
    // Tag-only users have no sending permission: an error-level finding.
    run.assert_code(3);
    let report = run.json();
    assert_eq!(report["schema_version"], 3);
    assert_eq!(report["users_scanned"], 2000);
    assert_eq!(report["key_source"]["kind"], "credential_report");
    assert_eq!(report["key_source"]["key_ids"], false);
    // moto dates every report 2015-02-02: stale, and said so.
    assert_eq!(report["key_source"]["stale"], true);
    assert!(run.stderr.contains("more than the 4 hours"), "{}", run.stderr);
    // The keys come from the report alone: no per-user call at all.
    let actions = proxy.actions();
    for per_user in [
        "ListUsers",
        "ListUserPolicies",
        "ListGroupsForUser",
        "ListAccessKeys",
        "GetAccessKeyLastUsed",
    ] {
        assert_eq!(count(&actions, per_user), 0, "{per_user}");
    }
    assert!(
        actions.len() as f64 <= 0.05 * 2000.0,
        "{} calls for 2000 users",
        actions.len()
    );
    check_users(&report, &smtp, &seed, false);

    // --key-ids: the same report, each SMTP user's key ids read with one ListAccessKeys (all pages).
    proxy.reset();
    proxy.set_rules(json!([
        {"action": "GetAccountAuthorizationDetails", "fault": "paginate", "page_size": 300},
        {"action": "ListAccessKeys", "fault": "paginate", "page_size": 1},
    ]));
    let run = Sesctl::at(&proxy.url)
        .args(["audit", "--key-ids", "-o", "json", "--fail-on", "error"])
        .run();
    run.assert_code(3);
    let report = run.json();
    assert_eq!(report["key_source"]["key_ids"], true);
    check_users(&report, &smtp, &seed, true);

    let actions = proxy.actions();
    // Users: 2000 / 300 → 7 pages; groups and policies: 1 page.
    assert_eq!(
        count(&actions, "GetAccountAuthorizationDetails"),
        8,
        "{actions:?}"
    );
    assert_eq!(count(&actions, "GetCredentialReport"), 1);
    // ListAccessKeys only for SMTP users holding keys (one page per key here), never for the 1900
    // plain users, some of whom hold keys too.
    let key_pages: usize = smtp.keys().map(|u| seeded_keys(&seed, u).len()).sum();
    assert_eq!(count(&actions, "ListAccessKeys"), key_pages);
    for per_user in [
        "ListUsers",
        "ListUserPolicies",
        "ListGroupsForUser",
        "GetAccessKeyLastUsed",
    ] {
        assert_eq!(count(&actions, per_user), 0, "{per_user}");
    }
    assert!(actions.len() <= 120, "{} calls for 2000 users", actions.len());
}

/// Checks the seeded SMTP users of `seed` in an audit `report`: exactly them, their reasons, their
/// keys (by id when `ids`, else by slot, with a null id) and findings.
fn check_users(report: &Value, smtp: &BTreeMap<String, String>, seed: &Value, ids: bool) {
    let users: HashMap<String, &Value> = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["user_name"].as_str().unwrap().to_string(), u))
        .collect();
    let found: BTreeSet<&String> = users.keys().collect();
    let wanted: BTreeSet<&String> = smtp.keys().collect();
    assert_eq!(found, wanted, "exactly the SMTP users, none of the plain ones");

    for (name, kind) in smtp {
        let u = users[name];
        let reasons: Vec<&str> = u["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reason"].as_str().unwrap())
            .collect();
        let keys = u["keys"].as_array().unwrap();
        let slots: Vec<u64> = keys.iter().map(|k| k["slot"].as_u64().unwrap()).collect();
        assert_eq!(
            slots,
            (1..=seeded_keys(seed, name).len() as u64).collect::<Vec<_>>(),
            "{name}: every key, numbered by creation"
        );
        if ids {
            let listed: BTreeSet<String> = keys
                .iter()
                .map(|k| k["access_key_id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                listed,
                seeded_keys(seed, name),
                "{name}: every key id, across key pages"
            );
        } else {
            assert!(
                keys.iter().all(|k| k["access_key_id"].is_null()),
                "{name}: {keys:?}"
            );
            for f in u["findings"].as_array().unwrap() {
                assert!(f["access_key_id"].is_null(), "{f}");
                if f["id"] == "key-never-used" || f["id"] == "inactive-key" {
                    let slot = f["key_slot"].as_u64().unwrap();
                    assert!(
                        f["message"].as_str().unwrap().starts_with(&format!("key {slot}")),
                        "{f}"
                    );
                }
            }
        }
        let ids = finding_ids(u);
        match kind.as_str() {
            "group" => {
                assert_eq!(reasons, ["sending_group"]);
                assert_eq!(ids, BTreeSet::from(["key-never-used".to_string()]), "{name}");
            }
            "inline" => {
                assert_eq!(reasons, ["inline_sending_policy", "console_tag"]);
                assert!(
                    ids.contains("inline-policy") && !ids.contains("console-tag"),
                    "{ids:?}"
                );
            }
            "tag" => {
                assert_eq!(reasons, ["console_tag"]);
                assert_eq!(u["sending_permission"], false);
                assert!(
                    ids.contains("no-sending-permission") && ids.contains("console-tag"),
                    "{ids:?}"
                );
            }
            "attached" => {
                assert_eq!(u["reasons"][0]["reason"], "attached_policy");
                assert_eq!(u["reasons"][0]["policy"], "acct-send");
                assert_eq!(u["sending_permission"], true);
            }
            "group_two_keys" => {
                assert!(
                    ids.contains("inactive-key") && !ids.contains("two-active-keys"),
                    "{ids:?}"
                );
                let statuses: BTreeSet<&str> = u["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k["status"].as_str().unwrap())
                    .collect();
                assert_eq!(statuses, BTreeSet::from(["Active", "Inactive"]));
            }
            other => panic!("unknown kind {other}"),
        }
    }
}

/// A small account: the sending group with its policy, and what `extra` adds.
fn account(extra: impl FnOnce(&aws_sdk_iam::Client)) -> Moto {
    let moto = Moto::dedicated();
    let iam = support::iam(&moto.url);
    block_on(async {
        iam.create_group().group_name(GROUP).send().await.unwrap();
        iam.put_group_policy()
            .group_name(GROUP)
            .policy_name("AmazonSesSendingAccess")
            .policy_document(SEND)
            .send()
            .await
            .unwrap();
        iam.create_user().user_name("healthy").send().await.unwrap();
        iam.add_user_to_group()
            .group_name(GROUP)
            .user_name("healthy")
            .send()
            .await
            .unwrap();
        iam.create_access_key().user_name("healthy").send().await.unwrap();
        iam.create_user().user_name("bystander").send().await.unwrap();
    });
    extra(&iam);
    moto
}

#[test]
fn fail_on_sets_exit_3_only_at_or_above_the_threshold() {
    // Only a warning (a key never used) in this account.
    let moto = account(|_| {});
    let audit = |extra: &[&str]| Sesctl::at(&moto.url).args(["audit"]).args(extra).run();
    audit(&[]).assert_code(0);
    audit(&["--fail-on", "error"]).assert_code(0);
    audit(&["--fail-on", "warning"]).assert_code(3);

    // A user tagged by the console with nothing that lets it send: an error.
    let iam = support::iam(&moto.url);
    block_on(
        iam.create_user()
            .user_name("orphan")
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("InvokedBy")
                    .value("SESConsole")
                    .build()
                    .unwrap(),
            )
            .send(),
    )
    .unwrap();
    audit(&[]).assert_code(0);
    let run = audit(&["--fail-on", "error"]);
    run.assert_code(3);
    assert!(run.stdout.contains("no-sending-permission"), "{}", run.stdout);
    audit(&["--fail-on", "bogus"]).assert_code(2);
}

#[test]
fn text_csv_and_json_shapes() {
    let moto = account(|iam| {
        block_on(async {
            let name = "ses-smtp-user.20240101-000000-a-rather-long-application-name-x";
            iam.create_user().user_name(name).send().await.unwrap();
            iam.put_user_policy()
                .user_name(name)
                .policy_name("AmazonSesSendingAccess")
                .policy_document(SEND)
                .send()
                .await
                .unwrap();
            iam.create_access_key().user_name(name).send().await.unwrap();
            iam.create_access_key().user_name(name).send().await.unwrap();
        })
    });

    let text = Sesctl::at(&moto.url).args(["audit"]).run();
    text.assert_ok();
    for line in text.stdout.lines() {
        assert!(line.chars().count() <= 120, "too wide: {line}");
    }
    assert!(text.stdout.starts_with("USER"), "{}", text.stdout);
    assert!(text.stdout.contains("two-active-keys"), "{}", text.stdout);
    assert!(
        text.stdout.contains("fix: sesctl migrate-inline-policy"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("bystander"));

    let csv = Sesctl::at(&moto.url).args(["audit", "-o", "csv"]).run();
    csv.assert_ok();
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "user_name,arn,reasons,sending_permission,key_slot,access_key_id,status,created,last_used,\
         last_used_service,last_used_region,findings,error"
    );
    // healthy: one key; the long-named user: two keys, named by slot (no ids without --key-ids).
    assert_eq!(lines.len(), 4, "{}", csv.stdout);
    let long: Vec<&&str> = lines.iter().filter(|l| l.starts_with("ses-smtp-user.")).collect();
    assert_eq!(long.len(), 2);
    assert!(long[0].contains(",inline,true,1,,Active,"), "{long:?}");
    assert!(long[1].contains(",inline,true,2,,Active,"), "{long:?}");
    let with_ids = Sesctl::at(&moto.url)
        .args(["audit", "--key-ids", "-o", "csv"])
        .run();
    with_ids.assert_ok();
    let long: Vec<&str> = with_ids
        .stdout
        .lines()
        .filter(|l| l.starts_with("ses-smtp-user."))
        .collect();
    assert!(long[0].contains(",inline,true,1,AKIA"), "{long:?}");
    assert!(long[1].contains(",inline,true,2,AKIA"), "{long:?}");
    assert!(
        long.iter()
            .all(|l| l.contains("inline-policy;two-active-keys;key-never-used")),
        "{long:?}"
    );

    let json = Sesctl::at(&moto.url).args(["audit", "-o", "json"]).run();
    json.assert_ok();
    let v = json.json();
    let top: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        top,
        BTreeSet::from([
            "schema_version",
            "generated_at",
            "settings",
            "users_scanned",
            "key_source",
            "summary",
            "users"
        ])
    );
    assert_eq!(v["schema_version"], 3);
    assert_eq!(v["settings"], json!({"max_key_age_days": 90, "unused_days": 45}));
    assert_eq!(v["users_scanned"], 3);
    let user: BTreeSet<&str> = v["users"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        user,
        BTreeSet::from([
            "user_name",
            "arn",
            "created",
            "reasons",
            "sending_permission",
            "keys",
            "findings"
        ])
    );
    let finding: BTreeSet<&str> = v["users"][0]["findings"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        finding,
        BTreeSet::from([
            "id",
            "severity",
            "user_name",
            "access_key_id",
            "key_slot",
            "message",
            "fix"
        ])
    );
    let key: BTreeSet<&str> = v["users"][0]["keys"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        key,
        BTreeSet::from([
            "access_key_id",
            "slot",
            "status",
            "created",
            "last_used",
            "last_used_service",
            "last_used_region"
        ])
    );
    assert!(v["users"][0]["keys"][0]["access_key_id"].is_null());
    assert!(text.stdout.contains("key ids not read"), "{}", text.stdout);

    // list: the same users and keys, no findings.
    let list = Sesctl::at(&moto.url).args(["list", "-o", "json"]).run();
    list.assert_ok();
    let l = list.json();
    assert_eq!(l["users"].as_array().unwrap().len(), 2);
    assert!(l.get("summary").is_none() && l["users"][0].get("findings").is_none());
    assert_eq!(l["users"][1]["keys"].as_array().unwrap().len(), 2);
    assert_eq!(l["key_source"]["key_ids"], true);
    for u in l["users"].as_array().unwrap() {
        for k in u["keys"].as_array().unwrap() {
            assert!(k["access_key_id"].as_str().unwrap().starts_with("AKIA"), "{k}");
        }
    }
    let list_text = Sesctl::at(&moto.url).args(["list"]).run();
    list_text.assert_ok();
    assert!(list_text.stdout.contains("healthy") && !list_text.stdout.contains("Findings"));
}

#[test]
fn without_the_credential_report_keys_are_read_per_user_and_stderr_says_so() {
    let moto = account(|_| {});
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([
        {"action": "GenerateCredentialReport", "fault": "error", "status": 403, "code": "AccessDenied"},
    ]));
    let run = Sesctl::at(&proxy.url).args(["list", "-o", "json"]).run();
    run.assert_ok();
    assert!(
        run.stderr.contains("credential report could not be used")
            && run.stderr.contains("iam:GenerateCredentialReport"),
        "{}",
        run.stderr
    );
    // Denied a new report, sesctl reads the one IAM has; this account never had one.
    assert!(
        run.stderr.contains("no credential report exists"),
        "{}",
        run.stderr
    );
    let v = run.json();
    assert_eq!(v["key_source"]["kind"], "per_user");
    let keys = v["users"][0]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let actions = proxy.actions();
    assert_eq!(count(&actions, "ListAccessKeys"), 1);
    assert_eq!(count(&actions, "GetAccessKeyLastUsed"), 1);
    assert_eq!(count(&actions, "GetCredentialReport"), 1);

    // The same audit with iam:GetCredentialReport denied as well: per-user reads, both named.
    proxy.set_rules(json!([
        {"action": "GenerateCredentialReport", "fault": "error", "status": 403, "code": "AccessDenied"},
        {"action": "GetCredentialReport", "fault": "error", "status": 403, "code": "AccessDenied"},
    ]));
    let run = Sesctl::at(&proxy.url).args(["audit", "-o", "json"]).run();
    run.assert_ok();
    assert_eq!(run.json()["key_source"]["kind"], "per_user");
    for action in ["iam:GenerateCredentialReport", "iam:GetCredentialReport"] {
        assert!(
            run.stderr
                .contains(&format!("the caller needs permission for {action}")),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn denied_a_new_report_the_existing_one_is_used_and_said() {
    let moto = account(|_| {});
    // A report exists once somebody generated one.
    Sesctl::at(&moto.url).args(["audit"]).run().assert_ok();
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([
        {"action": "GenerateCredentialReport", "fault": "error", "status": 403, "code": "AccessDenied"},
    ]));
    let run = Sesctl::at(&proxy.url).args(["audit", "-o", "json"]).run();
    run.assert_ok();
    let v = run.json();
    assert_eq!(v["key_source"]["kind"], "credential_report");
    let note = v["key_source"]["note"].as_str().unwrap();
    assert!(
        note.contains("the caller needs permission for iam:GenerateCredentialReport")
            && note.contains("the report IAM already had was read"),
        "{note}"
    );
    assert!(run.stderr.contains(note), "{}", run.stderr);
    assert_eq!(v["users"][0]["keys"].as_array().unwrap().len(), 1);
    let actions = proxy.actions();
    assert_eq!(count(&actions, "ListAccessKeys"), 0);
    assert_eq!(count(&actions, "GetCredentialReport"), 1);
}

#[test]
fn a_report_not_ready_at_once_is_polled_until_complete() {
    let moto = account(|_| {});
    let proxy = FaultProxy::start(&moto);
    // IAM answers ReportInProgress while it builds a report; sesctl asks again, with a pause.
    proxy.set_rules(json!([
        {"action": "GetCredentialReport", "fault": "error", "status": 410, "code": "ReportInProgress", "times": 2},
    ]));
    let run = Sesctl::at(&proxy.url).args(["audit", "-o", "json"]).run();
    run.assert_ok();
    assert_eq!(run.json()["key_source"]["kind"], "credential_report");
    assert_eq!(count(&proxy.actions(), "GetCredentialReport"), 3);
}

#[test]
fn a_user_whose_keys_cannot_be_read_is_reported_and_the_run_exits_1() {
    let moto = account(|_| {});
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([
        {"action": "ListAccessKeys", "fault": "error", "status": 403, "code": "AccessDenied"},
    ]));
    // Only --key-ids (and `list`) read keys user by user.
    Sesctl::at(&proxy.url).args(["audit"]).run().assert_ok();
    let run = Sesctl::at(&proxy.url)
        .args(["audit", "--key-ids", "-o", "json"])
        .run();
    run.assert_code(1);
    let v = run.json();
    assert_eq!(v["summary"]["unreadable_users"], 1);
    assert!(v["users"][0]["error"]
        .as_str()
        .unwrap()
        .contains("iam:ListAccessKeys"));
    assert!(run.stderr.contains("incomplete"), "{}", run.stderr);
}

/// An account where every user is an SMTP user, most with keys: audit reads it in a handful of calls
/// whatever its size, and under a sustained rate limit (the fault proxy's token bucket, answering
/// `Throttling` beyond it, as IAM does) `list` and `audit --key-ids`, which make a call per user,
/// finish with every user read and no call given up. How close to the limit they run is measured by
/// bench/throttled.py (docs/benchmarks.md), not here.
#[test]
fn an_all_smtp_account_under_a_rate_limit() {
    let moto = Moto::dedicated();
    let seed = support::seed_account(&moto.url, "rl", 300, 1);
    let smtp = seeded_smtp(&seed);
    assert_eq!(smtp.len(), 300);
    let with_keys = smtp.keys().filter(|u| !seeded_keys(&seed, u).is_empty()).count();

    let proxy = FaultProxy::start(&moto);
    let audit = Sesctl::at(&proxy.url).args(["audit", "-o", "json"]).run();
    audit.assert_ok();
    let report = audit.json();
    assert_eq!(report["summary"]["smtp_users"], 300);
    assert_eq!(report["summary"]["unreadable_users"], 0);
    let actions = proxy.actions();
    assert!(
        actions.len() as f64 <= 0.05 * 300.0,
        "{} calls for 300 SMTP users: {actions:?}",
        actions.len()
    );

    for args in [
        vec!["list", "-o", "json"],
        vec!["audit", "--key-ids", "-o", "json"],
    ] {
        proxy.reset();
        proxy.set_rules(json!([{"action": "*", "fault": "ratelimit", "rate": 40, "burst": 10}]));
        // sesctl's own retry settings, not the suite's pinned AWS_MAX_ATTEMPTS and AWS_RETRY_MODE.
        let run = Sesctl::at(&proxy.url)
            .env_remove("AWS_MAX_ATTEMPTS")
            .env_remove("AWS_RETRY_MODE")
            .args(&args)
            .run();
        assert!(run.code == 0 || run.code == 3, "{args:?}: {}", run.stderr);
        let v = run.json();
        let users = v["users"].as_array().unwrap();
        assert_eq!(users.len(), 300, "{args:?}");
        assert!(
            users.iter().all(|u| u.get("error").is_none()),
            "{args:?}: a user was not read"
        );
        let keys: usize = users.iter().map(|u| u["keys"].as_array().unwrap().len()).sum();
        let seeded: usize = smtp.keys().map(|u| seeded_keys(&seed, u).len()).sum();
        assert_eq!(keys, seeded, "{args:?}");
        let log = proxy.log();
        let throttled = log.iter().filter(|(_, f)| f.is_some()).count();
        assert!(throttled > 0, "{args:?}: the limit was never reached");
        let listed = log
            .iter()
            .filter(|(a, f)| a == "ListAccessKeys" && f.is_none())
            .count();
        assert_eq!(
            listed, with_keys,
            "{args:?}: one ListAccessKeys per user with keys"
        );
    }
}
