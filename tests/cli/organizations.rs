//! `--accounts`: `audit` and `list` across the accounts of an AWS Organization, against moto.
//!
//! What moto does here (moto 5, read in its source): it implements Organizations
//! (CreateOrganization, CreateAccount, ListAccounts) with the caller's account (moto's default,
//! 123456789012) as the management account; sts:AssumeRole succeeds for any role ARN, whether or not
//! the role exists (moto/sts/models.py: "the role does not need to exist"), and files the access key it
//! issues under the account in the role's ARN; every later request signed with that key is served by
//! that account's IAM (moto/core/responses.py `get_current_account` → iam `get_account_id_from`), so
//! each member has an IAM of its own. Role trust policies, external ids and SCPs are not enforced, so a
//! denied AssumeRole is injected with the fault proxy (tests/support/fault_proxy.py), matched on the
//! request body (which names the role ARN, the session name and the external id).
//!
//! The organization (tests/support/seed_organization.py) is made once per test run on a moto server of
//! its own and only read by these tests: three members, each with a group SMTP user, a console-shaped
//! pre-2024 user with the inline policy, and two plain users; the management account has one group
//! SMTP user.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::support::pins::{
    audit_report, exercised, list_report, migration_accounts_report, pinned, setup_accounts_report,
};
use crate::support::{self, FaultProxy, Moto, Run, Sesctl};

struct Org {
    moto: Moto,
    management: String,
    members: Vec<String>,
    /// account → user → kind ("group" or "inline")
    users: BTreeMap<String, BTreeMap<String, String>>,
}

fn org() -> &'static Org {
    static ORG: OnceLock<Org> = OnceLock::new();
    ORG.get_or_init(|| make_org(&[]))
}

/// A moto server of its own with an organization of three members (`extra`: seed_organization.py's
/// options, e.g. `--empty`).
fn make_org(extra: &[&str]) -> Org {
    {
        let moto = Moto::dedicated();
        let out = Command::new(support::python())
            .arg(support::repo_root().join("tests/support/seed_organization.py"))
            .args(["--endpoint", &moto.url, "--prefix", "org", "--members", "3"])
            .args(extra)
            .output()
            .expect("run seed_organization.py");
        assert!(
            out.status.success(),
            "seeding failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seed: Value = serde_json::from_slice(&out.stdout).unwrap();
        let users = seed["users"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(account, users)| {
                let users = users
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(u, k)| (u.clone(), k.as_str().unwrap().to_string()))
                    .collect();
                (account.clone(), users)
            })
            .collect();
        Org {
            management: seed["management"].as_str().unwrap().to_string(),
            members: seed["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_string())
                .collect(),
            users,
            moto,
        }
    }
}

/// (account, user) of every user in a report.
fn users_by_account(doc: &Value) -> BTreeSet<(String, String)> {
    doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["account_id"].as_str().unwrap().to_string(),
                u["user_name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn seeded(org: &Org, accounts: &[&String]) -> BTreeSet<(String, String)> {
    accounts
        .iter()
        .flat_map(|a| org.users[*a].keys().map(move |u| (a.to_string(), u.clone())))
        .collect()
}

fn statuses(doc: &Value) -> Vec<(String, String)> {
    doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account_id"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn count(actions: &[String], name: &str) -> usize {
    actions.iter().filter(|a| *a == name).count()
}

#[test]
fn audit_of_all_accounts_reads_each_member_through_its_role_and_the_caller_with_its_own_credentials() {
    let org = org();
    let proxy = FaultProxy::start(&org.moto);
    let run = Sesctl::at(&proxy.url)
        .args(["audit", "--accounts", "all", "-o", "json"])
        .run();
    run.assert_ok();
    // The shape docs/json.md gives for --accounts, each field pinned.
    let doc = pinned("audit --accounts all -o json", &run, &audit_report(true));
    for pointer in [
        "/accounts/0/key_source",
        "/users/0/account_id",
        "/users/0/findings/0/account_id",
    ] {
        exercised("audit --accounts all", &doc, pointer);
    }
    assert_eq!(doc["schema_version"], 3);
    assert!(
        doc.get("key_source").is_none(),
        "each account has its own key_source"
    );

    let mut all: Vec<&String> = org.members.iter().chain([&org.management]).collect();
    all.sort();
    let wanted: Vec<(String, String)> = all.iter().map(|a| (a.to_string(), "ok".into())).collect();
    assert_eq!(statuses(&doc), wanted, "every ACTIVE account, sorted, all ok");
    for a in doc["accounts"].as_array().unwrap() {
        assert!(a.get("error").is_none(), "{a}");
        assert_eq!(a["key_source"]["kind"], "credential_report", "{a}");
    }
    // Members have four IAM users each, the management account one.
    assert_eq!(doc["users_scanned"], 3 * 4 + 1);

    // Exactly the SMTP users of every account, each under its own account; no plain users.
    assert_eq!(users_by_account(&doc), seeded(org, &all));
    for u in doc["users"].as_array().unwrap() {
        let account = u["account_id"].as_str().unwrap();
        assert!(
            u["arn"].as_str().unwrap().contains(&format!(":{account}:user/")),
            "{u}"
        );
        let ids: BTreeSet<&str> = u["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                assert_eq!(f["account_id"], account, "a finding names its account: {f}");
                f["id"].as_str().unwrap()
            })
            .collect();
        let kind = &org.users[account][u["user_name"].as_str().unwrap()];
        assert_eq!(ids.contains("inline-policy"), kind == "inline", "{u}");
    }
    assert_eq!(doc["summary"]["smtp_users"], 1 + 3 * 2);

    // One organizations:ListAccounts, one sts:AssumeRole per member (none into the caller's own
    // account), and no per-user reads in audit.
    let actions = proxy.actions();
    assert_eq!(count(&actions, "ListAccounts"), 1, "{actions:?}");
    assert_eq!(count(&actions, "AssumeRole"), 3, "{actions:?}");
    assert_eq!(count(&actions, "GetCallerIdentity"), 1, "{actions:?}");
    assert_eq!(count(&actions, "ListAccessKeys"), 0, "{actions:?}");
    // Per account: two iam:GetAccountAuthorizationDetails (users, policies) and the credential report.
    assert_eq!(
        count(&actions, "GetAccountAuthorizationDetails"),
        2 * 4,
        "{actions:?}"
    );
    assert_eq!(count(&actions, "GetCredentialReport"), 4, "{actions:?}");

    // Without --accounts: the caller's account alone, in the single-account shape.
    let single = Sesctl::at(&org.moto.url).args(["audit", "-o", "json"]).run();
    single.assert_ok();
    let doc = single.json();
    assert!(doc.get("accounts").is_none(), "{doc}");
    assert!(doc["key_source"].is_object());
    let users = doc["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["user_name"], "org-mgmt-group");
    assert!(users[0].get("account_id").is_none(), "{}", users[0]);
}

#[test]
fn list_of_chosen_accounts_groups_text_by_account_and_gives_csv_an_account_column() {
    let org = org();
    let proxy = FaultProxy::start(&org.moto);
    let (a, b) = (&org.members[0], &org.members[2]);
    let chosen = format!("{a},{b}");

    let run = Sesctl::at(&proxy.url)
        .args(["list", "--accounts", &chosen, "-o", "json"])
        .run();
    run.assert_ok();
    let doc = pinned("list --accounts -o json", &run, &list_report(true));
    exercised("list --accounts", &doc, "/users/0/account_id");
    assert_eq!(doc["schema_version"], 3);
    assert_eq!(
        statuses(&doc),
        vec![(a.clone(), "ok".into()), (b.clone(), "ok".into())],
        "the accounts given, in the order given"
    );
    assert_eq!(users_by_account(&doc), seeded(org, &[a, b]));
    for u in doc["users"].as_array().unwrap() {
        // list reads key ids.
        assert!(
            u["keys"][0]["access_key_id"]
                .as_str()
                .unwrap()
                .starts_with("AKIA"),
            "{u}"
        );
    }
    let actions = proxy.actions();
    assert_eq!(
        count(&actions, "ListAccounts"),
        0,
        "ids given: no listing {actions:?}"
    );
    assert_eq!(count(&actions, "AssumeRole"), 2, "{actions:?}");

    let text = Sesctl::at(&org.moto.url)
        .args(["list", "--accounts", &chosen, "--account-concurrency", "1"])
        .run();
    text.assert_ok();
    let headings: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| l.starts_with("== account "))
        .collect();
    assert_eq!(
        headings,
        vec![format!("== account {a} =="), format!("== account {b} ==")],
        "{}",
        text.stdout
    );
    // Each user appears under its own account's heading.
    let at = |s: &str| {
        text.stdout
            .find(s)
            .unwrap_or_else(|| panic!("{s} in {}", text.stdout))
    };
    assert!(at(headings[0]) < at("org-0-group") && at("org-0-group") < at(headings[1]));
    assert!(at(headings[1]) < at("org-2-inline"));
    assert!(
        text.stdout.trim_end().ends_with("2 account(s): 2 ok, 0 failed."),
        "{}",
        text.stdout
    );

    let csv = Sesctl::at(&org.moto.url)
        .args(["list", "--accounts", &chosen, "-o", "csv"])
        .run();
    csv.assert_ok();
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert!(lines[0].starts_with("account_id,user_name,arn,"), "{}", lines[0]);
    assert_eq!(lines.len(), 1 + 4, "{}", csv.stdout);
    for line in &lines[1..] {
        let account = line.split(',').next().unwrap();
        assert!(account == a || account == b, "{line}");
        assert!(line.contains(&format!(":{account}:user/")), "{line}");
    }
}

#[test]
fn an_account_whose_role_cannot_be_assumed_is_reported_failed_and_the_others_are_still_read() {
    let org = org();
    let proxy = FaultProxy::start(&org.moto);
    let denied = &org.members[1];
    proxy.set_rules(json!([
        {"action": "AssumeRole", "match": denied, "fault": "error", "status": 403, "code": "AccessDenied"}
    ]));
    // --fail-on warning would give 3 (the inline users): a failed account's 1 takes precedence.
    let run = Sesctl::at(&proxy.url)
        .args(["audit", "--accounts", "all", "-o", "json", "--fail-on", "warning"])
        .run();
    run.assert_code(1);
    let doc = pinned("audit --accounts (one denied)", &run, &audit_report(true));
    // (The denied account's `error` is checked below: its place in the sorted array varies.)
    for a in doc["accounts"].as_array().unwrap() {
        if a["account_id"] == denied.as_str() {
            assert_eq!(a["status"], "failed", "{a}");
            let error = a["error"].as_str().unwrap();
            assert!(
                error.contains("sts:AssumeRole") && error.contains("AccessDenied"),
                "{error}"
            );
            assert!(a.get("key_source").is_none(), "{a}");
        } else {
            assert_eq!(a["status"], "ok", "{a}");
        }
    }
    assert_eq!(doc["accounts"].as_array().unwrap().len(), 4);
    let others: Vec<&String> = org
        .members
        .iter()
        .chain([&org.management])
        .filter(|a| *a != denied)
        .collect();
    assert_eq!(users_by_account(&doc), seeded(org, &others));
    assert!(
        run.stderr.contains(&format!("account {denied} failed")),
        "named on stderr: {}",
        run.stderr
    );

    // Text says so under the account's heading, and at the end.
    let text = Sesctl::at(&proxy.url)
        .args(["list", "--accounts", &format!("{denied},{}", org.members[0])])
        .run();
    text.assert_code(1);
    assert!(
        text.stdout.contains(&format!(
            "== account {denied} ==\nFAILED: sts:AssumeRole was denied"
        )),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("2 account(s): 1 ok, 1 failed."),
        "{}",
        text.stdout
    );
}

#[test]
fn role_name_external_id_and_session_name_reach_sts_assume_role() {
    let org = org();
    let proxy = FaultProxy::start(&org.moto);
    // Each rule fails AssumeRole only when the request carries what it matches, so a failure proves
    // the value was sent.
    let deny = |m: &str| json!({"action": "AssumeRole", "match": m, "fault": "error", "status": 403, "code": "AccessDenied"});
    let member = &org.members[0];
    for (rule, extra) in [
        ("RoleSessionName=sesctl-list", vec![]),
        ("SesctlAuditReader", vec!["--role-name", "SesctlAuditReader"]),
        ("ExternalId=ext-4711", vec!["--external-id", "ext-4711"]),
    ] {
        proxy.set_rules(json!([deny(rule)]));
        let run = Sesctl::at(&proxy.url)
            .args(["list", "-o", "json", "--accounts", member])
            .args(extra)
            .run();
        run.assert_code(1);
        assert_eq!(
            statuses(&run.json()),
            vec![(member.clone(), "failed".into())],
            "{rule}"
        );
    }
    // The defaults carry none of them: the same member is read.
    proxy.set_rules(json!([deny("SesctlAuditReader"), deny("ExternalId")]));
    let run = Sesctl::at(&proxy.url)
        .args(["list", "-o", "json", "--accounts", member])
        .run();
    run.assert_ok();
    // A throttled STS is retried, not failed.
    proxy.reset();
    proxy.set_rules(json!([
        {"action": "AssumeRole", "fault": "error", "status": 400, "code": "Throttling", "times": 1}
    ]));
    let run = Sesctl::at(&proxy.url)
        .args(["list", "-o", "json", "--accounts", member])
        .run();
    run.assert_ok();
    assert_eq!(statuses(&run.json()), vec![(member.clone(), "ok".into())]);
    assert_eq!(count(&proxy.actions(), "AssumeRole"), 2, "{:?}", proxy.actions());
    // The caller's own account is never entered through a role, so a denied AssumeRole cannot fail it.
    proxy.set_rules(json!([deny("AssumeRole")]));
    let run = Sesctl::at(&proxy.url)
        .args(["audit", "-o", "json", "--accounts", &org.management])
        .run();
    run.assert_ok();
    assert_eq!(statuses(&run.json()), vec![(org.management.clone(), "ok".into())]);
}

#[test]
fn a_malformed_account_id_or_a_command_without_accounts_support_is_exit_2_before_any_call() {
    let org = org();
    let proxy = FaultProxy::start(&org.moto);
    for (args, says) in [
        (
            vec!["audit", "--accounts", "12345"],
            "'12345' is not an AWS account id",
        ),
        (
            vec!["list", "--accounts", "123456789012,abc"],
            "'abc' is not an AWS account id",
        ),
        (
            vec!["audit", "--accounts", "123456789012,"],
            "is not an AWS account id",
        ),
        (
            vec!["delete-user", "x", "--accounts", "all"],
            "--accounts is for `audit`, `list`, `setup` and `migrate-inline-policy --all`",
        ),
        (
            vec!["migrate-inline-policy", "someone", "--accounts", "all"],
            "migrate-inline-policy --accounts takes --all",
        ),
        (
            vec!["audit", "--accounts", "all", "--account-concurrency", "0"],
            "--account-concurrency",
        ),
        (
            vec!["audit", "--accounts", "all", "--account-concurrency", "33"],
            "--account-concurrency",
        ),
    ] {
        let run = Sesctl::at(&proxy.url).args(&args).run();
        run.assert_code(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    assert!(proxy.actions().is_empty(), "no AWS call: {:?}", proxy.actions());
}

#[test]
fn setup_across_accounts_makes_each_sending_group_ready_once_and_reports_a_denied_account() {
    // An organization of its own: setup changes IAM in every account.
    let org = make_org(&["--empty"]);
    let proxy = FaultProxy::start(&org.moto);
    let mut all: Vec<&String> = org.members.iter().chain([&org.management]).collect();
    all.sort();
    let calls = |doc: &Value, key: &str| -> Vec<(String, Vec<String>)> {
        doc["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                assert_eq!(a["status"], "ok", "{a}");
                let list = &a[key][if key == "plan" { "calls" } else { "changes" }];
                let names = list
                    .as_array()
                    .unwrap_or_else(|| panic!("{key} in {a}"))
                    .iter()
                    .map(|c| c.get("action").unwrap_or(c).as_str().unwrap().to_string())
                    .collect();
                (a["account_id"].as_str().unwrap().to_string(), names)
            })
            .collect()
    };

    let plan = Sesctl::at(&proxy.url)
        .args(["setup", "--accounts", "all", "--dry-run", "-o", "json"])
        .run();
    plan.assert_ok();
    let doc = pinned("setup --accounts --dry-run", &plan, &setup_accounts_report());
    exercised("setup --accounts --dry-run", &doc, "/accounts/0/plan/calls");
    let planned = calls(&doc, "plan");
    assert_eq!(planned.len(), 4);
    for (account, names) in &planned {
        assert_eq!(
            names,
            &["iam:CreatePolicy", "iam:CreateGroup", "iam:AttachGroupPolicy"],
            "{account}"
        );
    }
    assert_eq!(
        planned.iter().map(|(a, _)| a).collect::<Vec<_>>(),
        all,
        "every account, sorted"
    );
    let actions = proxy.actions();
    assert!(
        !actions
            .iter()
            .any(|a| a.starts_with("Create") || a.starts_with("Attach")),
        "a dry run changes nothing: {actions:?}"
    );

    let done = Sesctl::at(&proxy.url)
        .args(["setup", "--accounts", "all", "-o", "json"])
        .run();
    done.assert_ok();
    let doc = pinned("setup --accounts", &done, &setup_accounts_report());
    exercised("setup --accounts", &doc, "/accounts/0/setup/changes");
    assert_eq!(calls(&doc, "setup").len(), 4);
    for a in doc["accounts"].as_array().unwrap() {
        // Each account's policy is its own: the member's identity, not the caller's, names it.
        let account = a["account_id"].as_str().unwrap();
        assert_eq!(
            a["setup"]["policy_arn"],
            format!("arn:aws:iam::{account}:policy/AmazonSesSendingAccess"),
            "{a}"
        );
        assert!(!a["setup"]["changes"].as_array().unwrap().is_empty(), "{a}");
    }

    // Idempotent: nothing left to do anywhere.
    let again = Sesctl::at(&proxy.url)
        .args(["setup", "--accounts", "all", "--dry-run", "-o", "json"])
        .run();
    again.assert_ok();
    for (account, names) in calls(&again.json(), "plan") {
        assert!(names.is_empty(), "{account}: {names:?}");
    }

    // A member that cannot be entered fails alone.
    let denied = &org.members[2];
    proxy.set_rules(json!([
        {"action": "AssumeRole", "match": denied, "fault": "error", "status": 403, "code": "AccessDenied"}
    ]));
    let run = Sesctl::at(&proxy.url).args(["setup", "--accounts", "all"]).run();
    run.assert_code(1);
    assert!(
        run.stdout.contains(&format!(
            "== account {denied} ==\nFAILED: sts:AssumeRole was denied"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("4 account(s): 3 ok, 1 failed."),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(&format!("account {denied} failed")),
        "{}",
        run.stderr
    );
}

/// (account, user, status) of every user in a migration report.
fn migration_users(doc: &Value) -> BTreeSet<(String, String, String)> {
    doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["account_id"].as_str().unwrap().to_string(),
                u["user"].as_str().unwrap().to_string(),
                u["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The pre-2024 (inline policy) users of the seeded organization, with `status`.
fn inline_users(org: &Org, accounts: &[&String], status: &str) -> BTreeSet<(String, String, String)> {
    accounts
        .iter()
        .flat_map(|a| {
            org.users[*a]
                .iter()
                .filter(|(_, kind)| kind.as_str() == "inline")
                .map(move |(u, _)| (a.to_string(), u.clone(), status.to_string()))
        })
        .collect()
}

#[test]
fn migration_across_accounts_plans_per_account_confirms_naming_them_and_converges_past_a_denied_one() {
    // An organization of its own: the migration changes IAM in every member.
    let org = make_org(&[]);
    let proxy = FaultProxy::start(&org.moto);
    // `migrate-inline-policy --all --accounts all` with more arguments.
    let migrate_all = |extra: &[&str]| {
        Sesctl::at(&proxy.url)
            .args(["migrate-inline-policy", "--all", "--accounts", "all"])
            .args(extra)
            .run()
    };
    let mut members: Vec<&String> = org.members.iter().collect();
    members.sort();
    let changes = |proxy: &FaultProxy| -> Vec<String> {
        proxy
            .actions()
            .into_iter()
            .filter(|a| {
                [
                    "AddUserToGroup",
                    "DeleteUserPolicy",
                    "UntagUser",
                    "Create",
                    "Attach",
                    "Put",
                ]
                .iter()
                .any(|w| a.starts_with(w))
            })
            .collect()
    };

    // The plan, per account: each member's pre-2024 user, nothing changed.
    let plan = migrate_all(&["--dry-run", "-o", "json"]);
    plan.assert_ok();
    let doc = pinned(
        "migrate-inline-policy --accounts --dry-run",
        &plan,
        &migration_accounts_report(),
    );
    exercised(
        "migrate-inline-policy --accounts --dry-run",
        &doc,
        "/users/0/steps_done",
    );
    assert_eq!(doc["dry_run"], true);
    assert_eq!(
        statuses(&doc).len(),
        4,
        "the members and the caller's own account"
    );
    assert!(statuses(&doc).iter().all(|(_, s)| s == "ok"), "{doc}");
    assert_eq!(
        migration_users(&doc),
        inline_users(&org, &members, "would_migrate")
    );
    assert_eq!(doc["totals"]["would_migrate"], 3, "{doc}");
    assert!(
        changes(&proxy).is_empty(),
        "a dry run changes nothing: {:?}",
        changes(&proxy)
    );
    let text = migrate_all(&["--dry-run"]);
    text.assert_ok();
    for m in &members {
        assert!(
            text.stdout.contains(&format!("== account {m} ==")),
            "{}",
            text.stdout
        );
    }
    assert!(
        text.stdout.contains("4 account(s): 4 ok, 0 failed."),
        "{}",
        text.stdout
    );

    // Without --yes and without a terminal to ask on: the question names the accounts (in the order
    // read: `all` is by id) and the users, and nothing is changed.
    let refused = migrate_all(&[]);
    refused.assert_code(2);
    let question = format!(
        "Migrate 3 user(s) in 3 account(s) ({}: 1, {}: 1, {}: 1)",
        members[0], members[1], members[2]
    );
    assert!(refused.stderr.contains(&question), "{}", refused.stderr);
    assert!(changes(&proxy).is_empty(), "{:?}", changes(&proxy));

    // One member cannot be entered: the others are migrated in the guide's order, it is named.
    let denied = members[1];
    proxy.set_rules(json!([
        {"action": "AssumeRole", "match": denied, "fault": "error", "status": 403, "code": "AccessDenied"}
    ]));
    let run = migrate_all(&["--yes", "-o", "json"]);
    run.assert_code(1);
    let doc = pinned(
        "migrate-inline-policy --accounts (one denied)",
        &run,
        &migration_accounts_report(),
    );
    assert_eq!(doc["dry_run"], false);
    for a in doc["accounts"].as_array().unwrap() {
        if a["account_id"] == denied.as_str() {
            assert_eq!(a["status"], "failed", "{a}");
            assert!(a["error"].as_str().unwrap().contains("AccessDenied"), "{a}");
        } else {
            assert_eq!(a["status"], "ok", "{a}");
        }
    }
    let entered: Vec<&String> = members.iter().copied().filter(|m| *m != denied).collect();
    assert_eq!(migration_users(&doc), inline_users(&org, &entered, "migrated"));
    assert!(
        run.stderr.contains(&format!("account {denied} failed")),
        "named on stderr: {}",
        run.stderr
    );
    let done = changes(&proxy);
    for call in ["AddUserToGroup", "DeleteUserPolicy", "UntagUser"] {
        assert_eq!(count(&done, call), 2, "one {call} per entered member: {done:?}");
    }
    for user in doc["users"].as_array().unwrap() {
        let steps: Vec<&str> = user["steps_done"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(steps.first(), Some(&"iam:AddUserToGroup"), "{user}");
        assert_eq!(steps.last(), Some(&"iam:UntagUser"), "{user}");
        assert!(steps.contains(&"iam:DeleteUserPolicy"), "{user}");
    }

    // Run again once the account can be entered: only its user is left, and then nothing.
    proxy.set_rules(json!([]));
    let plan = migrate_all(&["--dry-run", "-o", "json"]);
    plan.assert_ok();
    assert_eq!(
        migration_users(&plan.json()),
        inline_users(&org, &[denied], "would_migrate")
    );
    let rest = migrate_all(&["--yes", "-o", "json"]);
    rest.assert_ok();
    assert_eq!(
        migration_users(&rest.json()),
        inline_users(&org, &[denied], "migrated")
    );
    let again = migrate_all(&["--yes", "-o", "json"]);
    again.assert_ok();
    assert!(migration_users(&again.json()).is_empty(), "{}", again.stdout);
    assert_eq!(again.json()["totals"]["users"], 0);

    // The members' users now send through the group: audit finds no inline policy anywhere.
    let audit = Sesctl::at(&proxy.url)
        .args(["audit", "--accounts", "all", "-o", "json"])
        .run();
    audit.assert_ok();
    let findings: Vec<String> = audit.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["findings"].as_array().unwrap().clone())
        .filter_map(|f| f["id"].as_str().map(str::to_string))
        .collect();
    assert!(!findings.iter().any(|f| f == "inline-policy"), "{findings:?}");
}

#[test]
fn an_interrupted_migration_across_accounts_starts_no_other_account() {
    // One account at a time; the first AddUserToGroup is held, so Ctrl-C lands in the first account
    // with work. Its call in flight finishes; no account that has not started is started.
    let org = make_org(&[]);
    let proxy = FaultProxy::start(&org.moto);
    proxy.set_rules(json!([{"action": "AddUserToGroup", "fault": "delay", "seconds": 2}]));
    let child = Sesctl::at(&proxy.url)
        .args(["migrate-inline-policy", "--all", "--accounts", "all", "--yes"])
        .args(["--account-concurrency", "1", "-o", "json"])
        .spawn();
    proxy.wait_for("AddUserToGroup");
    support::signal(&child, libc::SIGINT);
    let run = Run::wait(child);
    assert_eq!(run.code, 130, "{}", run.all_output());
    let actions = proxy.actions();
    assert_eq!(
        count(&actions, "AddUserToGroup"),
        1,
        "no other account was started: {actions:?}"
    );
    let doc = run.json();
    let not_started: Vec<&Value> = doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["status"] == "failed"
                && a["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("before this account was started"))
        })
        .collect();
    assert_eq!(not_started.len(), 2, "the two other members: {doc}");
    // Everyone can still send: the held user is in the group or still has its inline policy.
    let again = Sesctl::at(&proxy.url)
        .args([
            "migrate-inline-policy",
            "--all",
            "--accounts",
            "all",
            "--yes",
            "-o",
            "json",
        ])
        .run();
    again.assert_ok();
    assert_eq!(again.json()["totals"]["failed"], 0, "{}", again.stdout);
}
