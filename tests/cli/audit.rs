//! `sesctl audit` and `sesctl list` against real services on loopback: a dedicated moto server per
//! test (audits see the whole account), the fault proxy to count calls, split responses into pages
//! and deny the credential report.

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
    assert_eq!(report["users_scanned"], 2000);
    assert_eq!(report["key_source"]["kind"], "credential_report");

    let users: HashMap<String, &Value> = report["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["user_name"].as_str().unwrap().to_string(), u))
        .collect();
    let found: BTreeSet<&String> = users.keys().collect();
    let wanted: BTreeSet<&String> = smtp.keys().collect();
    assert_eq!(found, wanted, "exactly the SMTP users, none of the plain ones");

    for (name, kind) in &smtp {
        let u = users[name];
        let reasons: Vec<&str> = u["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reason"].as_str().unwrap())
            .collect();
        let keys: BTreeSet<String> = u["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["access_key_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            keys,
            seeded_keys(&seed, name),
            "{name}: every key, across key pages"
        );
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
        "user_name,arn,reasons,sending_permission,access_key_id,status,created,last_used,\
         last_used_service,last_used_region,findings,error"
    );
    // healthy: one key; the long-named user: two keys.
    assert_eq!(lines.len(), 4, "{}", csv.stdout);
    let long: Vec<&&str> = lines.iter().filter(|l| l.starts_with("ses-smtp-user.")).collect();
    assert_eq!(long.len(), 2);
    assert!(long.iter().all(|l| l.contains(",inline,true,AKIA")), "{long:?}");
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
    assert_eq!(v["schema_version"], 1);
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
        BTreeSet::from(["id", "severity", "user_name", "access_key_id", "message", "fix"])
    );

    // list: the same users and keys, no findings.
    let list = Sesctl::at(&moto.url).args(["list", "-o", "json"]).run();
    list.assert_ok();
    let l = list.json();
    assert_eq!(l["users"].as_array().unwrap().len(), 2);
    assert!(l.get("summary").is_none() && l["users"][0].get("findings").is_none());
    assert_eq!(l["users"][1]["keys"].as_array().unwrap().len(), 2);
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
    let v = run.json();
    assert_eq!(v["key_source"]["kind"], "per_user");
    let keys = v["users"][0]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let actions = proxy.actions();
    assert_eq!(count(&actions, "ListAccessKeys"), 1);
    assert_eq!(count(&actions, "GetAccessKeyLastUsed"), 1);
    assert_eq!(count(&actions, "GetCredentialReport"), 0);
}

#[test]
fn a_user_whose_keys_cannot_be_read_is_reported_and_the_run_exits_1() {
    let moto = account(|_| {});
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([
        {"action": "ListAccessKeys", "fault": "error", "status": 403, "code": "AccessDenied"},
    ]));
    let run = Sesctl::at(&proxy.url).args(["audit", "-o", "json"]).run();
    run.assert_code(1);
    let v = run.json();
    assert_eq!(v["summary"]["unreadable_users"], 1);
    assert!(v["users"][0]["error"]
        .as_str()
        .unwrap()
        .contains("iam:ListAccessKeys"));
    assert!(run.stderr.contains("incomplete"), "{}", run.stderr);
}
