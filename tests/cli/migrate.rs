//! `sesctl migrate-inline-policy` against real services on loopback: legacy console users made with
//! the raw SDK, every mixed state, faults injected by the proxy, large and throttled runs; state read
//! back with the raw SDK and the calls counted in the proxy's log.

use serde_json::{json, Value};

use crate::support::legacy::{self, CONSOLE_POLICY};
use crate::support::{self, block_on, moto, prefix, FaultProxy, Moto, Run, Sesctl};

const WRITES: [&str; 6] = [
    "AddUserToGroup",
    "DeleteUserPolicy",
    "UntagUser",
    "CreatePolicy",
    "CreateGroup",
    "AttachGroupPolicy",
];
/// The guide's steps for a few named users: each membership confirmed with the user's groups.
const GUIDE_STEPS: [&str; 4] = [
    "iam:AddUserToGroup",
    "iam:ListGroupsForUser",
    "iam:DeleteUserPolicy",
    "iam:UntagUser",
];
/// The guide's steps where an account read found the users: the memberships confirmed together by
/// reading the group's members.
const GROUP_READ_STEPS: [&str; 4] = [
    "iam:AddUserToGroup",
    "iam:GetGroup",
    "iam:DeleteUserPolicy",
    "iam:UntagUser",
];

fn migrate(endpoint: &str, args: &[&str]) -> Run {
    Sesctl::at(endpoint)
        .args(["migrate-inline-policy"])
        .args(args)
        .run()
}

fn names(p: &str, what: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{p}-{what}{i:04}")).collect()
}

/// The report's entry for `user`.
fn entry<'a>(report: &'a Value, user: &str) -> &'a Value {
    report["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"] == user)
        .unwrap_or_else(|| panic!("{user} not in the report:\n{report:#}"))
}

fn steps(report: &Value, user: &str) -> Vec<String> {
    entry(report, user)["steps_done"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn count(actions: &[String], action: &str) -> usize {
    actions.iter().filter(|a| *a == action).count()
}

fn writes(actions: &[String]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| WRITES.contains(&a.as_str()))
        .cloned()
        .collect()
}

#[test]
fn one_legacy_user_is_moved_onto_the_group_in_the_guides_order() {
    let p = prefix("one");
    let user = format!("{p}-mailer");
    let iam = support::iam(&moto().url);
    block_on(legacy::create_user(
        &iam,
        &user,
        &[("InvokedBy", "SESConsole"), ("team", "mail")],
        Some(CONSOLE_POLICY),
    ));
    let proxy = FaultProxy::start(moto());

    let run = migrate(&proxy.url, &[&user, "-o", "json"]);
    run.assert_ok();
    let report = run.json();
    assert_eq!(entry(&report, &user)["status"], "migrated");
    assert_eq!(steps(&report, &user), GUIDE_STEPS);
    assert_eq!(report["totals"]["migrated"], 1);

    // The calls from the membership on are exactly the guide's, in its order.
    let actions = proxy.actions();
    let add = actions.iter().position(|a| a == "AddUserToGroup").unwrap();
    assert_eq!(
        actions[add..],
        [
            "AddUserToGroup",
            "ListGroupsForUser",
            "DeleteUserPolicy",
            "UntagUser"
        ],
        "{actions:?}"
    );
    let state = legacy::state(&moto().url, &user);
    assert!(state.is_migrated(), "{state:?}");
    assert_eq!(state.tag("team"), Some("mail"), "other tags stay");

    // Again: nothing to do, nothing written.
    proxy.reset();
    let again = migrate(&proxy.url, &[&user, "-o", "json"]);
    again.assert_ok();
    assert_eq!(entry(&again.json(), &user)["status"], "already_migrated");
    assert_eq!(writes(&proxy.actions()), Vec::<String>::new());
}

#[test]
fn several_users_in_every_mixed_state_are_finished_or_left_alone() {
    let p = prefix("mixed");
    let url = &moto().url;
    let iam = support::iam(url);
    let n = |s: &str| format!("{p}-{s}");
    let console = [("InvokedBy", "SESConsole")];
    block_on(async {
        for u in ["legacy", "policyleft", "tagleft"] {
            legacy::create_user(&iam, &n(u), &console, Some(CONSOLE_POLICY)).await;
        }
        legacy::create_user(&iam, &n("done"), &[], None).await;
        legacy::create_user(
            &iam,
            &n("othertag"),
            &[("InvokedBy", "Terraform")],
            Some(CONSOLE_POLICY),
        )
        .await;
        legacy::create_user(&iam, &n("cannotsend"), &console, None).await;
        legacy::create_user(&iam, &n("plain"), &[], None).await;
    });
    // Interrupted earlier: in the group with the policy left; policy gone with the tag left.
    legacy::add_to_group(url, &n("policyleft"));
    legacy::add_to_group(url, &n("tagleft"));
    legacy::delete_inline_policy(url, &n("tagleft"));
    legacy::add_to_group(url, &n("done"));
    let before_cannotsend = legacy::state(url, &n("cannotsend"));
    let before_plain = legacy::state(url, &n("plain"));

    let all = [
        "legacy",
        "policyleft",
        "tagleft",
        "done",
        "othertag",
        "cannotsend",
        "plain",
    ]
    .map(n);
    let mut args: Vec<&str> = all.iter().map(String::as_str).collect();
    args.extend(["-o", "json"]);
    let run = migrate(url, &args);
    run.assert_ok();
    let r = run.json();
    assert_eq!(entry(&r, &n("legacy"))["status"], "migrated");
    assert_eq!(entry(&r, &n("policyleft"))["status"], "finished");
    assert_eq!(
        steps(&r, &n("policyleft")),
        ["iam:ListGroupsForUser", "iam:DeleteUserPolicy", "iam:UntagUser"]
    );
    assert_eq!(entry(&r, &n("tagleft"))["status"], "finished");
    assert_eq!(steps(&r, &n("tagleft")), ["iam:UntagUser"]);
    assert_eq!(entry(&r, &n("done"))["status"], "already_migrated");
    assert_eq!(entry(&r, &n("othertag"))["status"], "migrated");
    assert_eq!(entry(&r, &n("cannotsend"))["status"], "needs_decision");
    assert_eq!(entry(&r, &n("plain"))["status"], "skipped");
    assert_eq!(r["totals"]["users"], 7);
    assert_eq!(r["totals"]["failed"], 0);
    // The report lists users in the order given.
    let order: Vec<&str> = r["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user"].as_str().unwrap())
        .collect();
    assert_eq!(order, all.iter().map(String::as_str).collect::<Vec<_>>());

    for u in ["legacy", "policyleft", "tagleft", "done"] {
        let s = legacy::state(url, &n(u));
        assert!(s.is_migrated(), "{u}: {s:?}");
    }
    let other = legacy::state(url, &n("othertag"));
    assert!(other.policy.is_none() && other.in_group, "{other:?}");
    assert_eq!(
        other.tag("InvokedBy"),
        Some("Terraform"),
        "only InvokedBy=SESConsole is removed"
    );
    assert_eq!(
        legacy::state(url, &n("cannotsend")),
        before_cannotsend,
        "nothing granted"
    );
    assert_eq!(legacy::state(url, &n("plain")), before_plain);
}

#[test]
fn an_edited_inline_policy_is_kept_and_its_difference_shown() {
    let p = prefix("edited");
    let user = format!("{p}-edited");
    let edited = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:SendRawEmail","ses:SendEmail"],"Resource":"*"}]}"#;
    let iam = support::iam(&moto().url);
    block_on(legacy::create_user(
        &iam,
        &user,
        &[("InvokedBy", "SESConsole")],
        Some(edited),
    ));
    let before = legacy::state(&moto().url, &user);

    let text = migrate(&moto().url, &[&user]);
    text.assert_ok();
    assert!(text.stdout.contains("needs a decision"), "{}", text.stdout);
    assert!(
        text.stdout.contains("ses:SendEmail"),
        "the difference is shown:\n{}",
        text.stdout
    );

    let json = migrate(&moto().url, &[&user, "-o", "json"]);
    let r = json.json();
    let e = entry(&r, &user);
    assert_eq!(e["status"], "needs_decision");
    assert_eq!(e["steps_done"], json!([]));
    let diffs = e["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1);
    assert!(diffs[0].as_str().unwrap().contains("ses:SendEmail"), "{diffs:?}");

    let after = legacy::state(&moto().url, &user);
    assert_eq!(after, before, "not deleted, not added to the group, tag kept");
    assert!(after.policy.unwrap().contains("ses:SendEmail"));
}

#[test]
fn a_missing_user_fails_and_the_others_go_on() {
    let p = prefix("missing");
    let user = format!("{p}-real");
    let ghost = format!("{p}-ghost");
    legacy::create_legacy_users(&moto().url, std::slice::from_ref(&user));

    let run = migrate(&moto().url, &[&ghost, &user, "-o", "json"]);
    run.assert_code(1);
    let r = run.json();
    assert_eq!(entry(&r, &ghost)["status"], "not_found");
    assert!(entry(&r, &ghost)["error"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    assert_eq!(entry(&r, &user)["status"], "migrated");
    assert_eq!(r["totals"]["not_found"], 1);
    assert!(legacy::state(&moto().url, &user).is_migrated());
}

#[test]
fn bad_input_exits_2_before_any_call() {
    let proxy = FaultProxy::start(moto());
    for args in [
        vec!["ok-name", "bad name"],
        vec!["sl/ash"],
        vec![],
        vec!["--all", "someone"],
        vec!["x", "--concurrency", "0"],
    ] {
        let run = migrate(&proxy.url, &args);
        run.assert_code(2);
        assert_eq!(run.stdout, "");
    }
    let one = migrate(&proxy.url, &["fine", "bad name"]);
    assert_eq!(one.stderr.lines().count(), 1, "{}", one.stderr);
    assert!(one.stderr.contains("bad name"));
    assert_eq!(proxy.actions(), Vec::<String>::new(), "no AWS call");
}

#[test]
fn dry_run_lists_the_steps_and_changes_nothing() {
    let p = prefix("dry");
    let users = names(&p, "u", 2);
    legacy::create_legacy_users(&moto().url, &users);
    let proxy = FaultProxy::start(moto());

    let text = migrate(&proxy.url, &[&users[0], &users[1], "--dry-run"]);
    text.assert_ok();
    assert!(text.stdout.contains("dry run"), "{}", text.stdout);
    for u in &users {
        let line = text.stdout.lines().find(|l| l.starts_with(u.as_str())).unwrap();
        assert!(
            line.contains("AddUserToGroup, ListGroupsForUser, DeleteUserPolicy, UntagUser"),
            "{line}"
        );
    }
    let json = migrate(&proxy.url, &[&users[0], "--dry-run", "-o", "json"]).json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(entry(&json, &users[0])["status"], "would_migrate");
    assert_eq!(steps(&json, &users[0]), GUIDE_STEPS);

    assert_eq!(writes(&proxy.actions()), Vec::<String>::new());
    for u in &users {
        let s = legacy::state(&moto().url, u);
        assert!(s.policy.is_some() && !s.in_group && s.tag("InvokedBy") == Some("SESConsole"));
    }
}

#[test]
fn all_finds_console_users_from_the_account_read_alone() {
    let moto = Moto::dedicated();
    let iam = support::iam(&moto.url);
    let legacy_users = names("acct", "legacy", 5);
    legacy::create_legacy_users(&moto.url, &legacy_users);
    block_on(async {
        legacy::create_user(
            &iam,
            "acct-tagleft",
            &[("InvokedBy", "SESConsole")],
            Some(CONSOLE_POLICY),
        )
        .await;
        legacy::create_user(&iam, "acct-member", &[], None).await;
        legacy::create_user(&iam, "acct-plain", &[("team", "web")], None).await;
    });
    legacy::add_to_group(&moto.url, "acct-tagleft");
    legacy::delete_inline_policy(&moto.url, "acct-tagleft");
    legacy::add_to_group(&moto.url, "acct-member");
    let proxy = FaultProxy::start(&moto);

    // Off a terminal, --all wants --yes; refusing changes nothing.
    let refused = migrate(&proxy.url, &["--all"]);
    refused.assert_code(2);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(writes(&proxy.actions()), Vec::<String>::new());
    proxy.reset();

    let run = migrate(&proxy.url, &["--all", "--yes", "-o", "json"]);
    run.assert_ok();
    let r = run.json();
    let listed: Vec<&str> = r["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = legacy_users.iter().map(String::as_str).collect();
    expected.push("acct-tagleft");
    expected.sort();
    assert_eq!(
        listed, expected,
        "only users with the inline policy or the console tag"
    );
    for u in &legacy_users {
        assert_eq!(entry(&r, u)["status"], "migrated");
    }
    assert_eq!(entry(&r, "acct-tagleft")["status"], "finished");
    for u in &legacy_users {
        assert_eq!(steps(&r, u), GROUP_READ_STEPS);
    }

    let actions = proxy.actions();
    assert_eq!(count(&actions, "GetAccountAuthorizationDetails"), 1);
    for per_user_read in [
        "GetUser",
        "ListUserPolicies",
        "GetUserPolicy",
        "ListUserTags",
        "ListGroupsForUser",
    ] {
        assert_eq!(count(&actions, per_user_read), 0, "{per_user_read}: {actions:?}");
    }
    let per_user: usize = ["AddUserToGroup", "DeleteUserPolicy", "UntagUser"]
        .iter()
        .map(|a| count(&actions, a))
        .sum();
    assert_eq!(
        per_user,
        5 * 3 + 1,
        "three writes per legacy user, one for the tag left"
    );
    // setup's look at the group, and one read of its members confirming all five.
    assert_eq!(count(&actions, "GetGroup"), 2, "{actions:?}");
    // The guide's order per user: a user's policy goes only after the members read that showed it.
    let confirm = actions.iter().rposition(|a| a == "GetGroup").unwrap();
    let first_delete = actions.iter().position(|a| a == "DeleteUserPolicy").unwrap();
    let last_add = actions.iter().rposition(|a| a == "AddUserToGroup").unwrap();
    assert!(last_add < confirm && confirm < first_delete, "{actions:?}");

    for (name, state) in legacy::all_states(&moto.url) {
        if name == "acct-plain" {
            assert!(!state.in_group && state.tag("team") == Some("web"));
        } else {
            assert!(state.is_migrated(), "{name}: {state:?}");
        }
    }

    let again = migrate(&proxy.url, &["--all"]);
    again.assert_ok();
    assert!(again.stdout.contains("nothing to migrate"), "{}", again.stdout);
}

#[test]
fn a_failure_mid_run_leaves_the_user_safe_and_a_re_run_finishes() {
    let moto = Moto::dedicated();
    let mut users = names("fault", "ok", 4);
    users.push("fault-xdel".into());
    users.push("fault-xadd".into());
    users.push("fault-xtag".into());
    legacy::create_legacy_users(&moto.url, &users);
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([
        {"action": "DeleteUserPolicy", "fault": "error", "match": "fault-xdel"},
        {"action": "AddUserToGroup", "fault": "error", "code": "AccessDenied", "status": 403, "match": "fault-xadd"},
        {"action": "UntagUser", "fault": "error", "match": "fault-xtag"}
    ]));

    let run = migrate(&proxy.url, &["--all", "--yes", "-o", "json"]);
    run.assert_code(1);
    let r = run.json();
    assert_eq!(r["totals"]["failed"], 3);
    assert_eq!(r["totals"]["migrated"], 4);

    let del = entry(&r, "fault-xdel");
    assert_eq!(del["status"], "failed");
    assert_eq!(steps(&r, "fault-xdel"), ["iam:AddUserToGroup", "iam:GetGroup"]);
    assert!(
        del["error"].as_str().unwrap().contains("iam:DeleteUserPolicy"),
        "{del}"
    );
    let add = entry(&r, "fault-xadd");
    assert_eq!(steps(&r, "fault-xadd"), Vec::<String>::new());
    assert!(
        add["error"].as_str().unwrap().contains("iam:AddUserToGroup"),
        "{add}"
    );
    assert!(
        add["error"].as_str().unwrap().contains("inline policy is kept"),
        "{add}"
    );
    assert_eq!(steps(&r, "fault-xtag"), GROUP_READ_STEPS[..3]);

    // Nobody is left unable to send, and a failed user kept its policy.
    for u in &users {
        let s = legacy::state(&moto.url, u);
        assert!(s.can_send(), "{u}: {s:?}");
    }
    let xdel = legacy::state(&moto.url, "fault-xdel");
    assert!(xdel.policy.is_some() && xdel.in_group, "{xdel:?}");
    let xadd = legacy::state(&moto.url, "fault-xadd");
    assert!(xadd.policy.is_some() && !xadd.in_group, "{xadd:?}");

    // The text report names the failure too (same faults, same state).
    let text = migrate(&proxy.url, &["--all", "--yes"]);
    text.assert_code(1);
    let line = text.stdout.lines().find(|l| l.starts_with("fault-xdel")).unwrap();
    assert!(
        line.contains("FAILED") && line.contains("iam:DeleteUserPolicy"),
        "{line}"
    );

    // Faults gone: the re-run completes every user.
    proxy.set_rules(json!([]));
    let rerun = migrate(&proxy.url, &["--all", "--yes", "-o", "json"]);
    rerun.assert_ok();
    let r = rerun.json();
    assert_eq!(entry(&r, "fault-xdel")["status"], "finished");
    assert_eq!(entry(&r, "fault-xadd")["status"], "migrated");
    assert_eq!(entry(&r, "fault-xtag")["status"], "finished");
    assert_eq!(steps(&r, "fault-xtag"), ["iam:UntagUser"]);
    for u in &users {
        assert!(legacy::state(&moto.url, u).is_migrated(), "{u}");
    }
}

#[test]
fn a_delete_whose_answer_is_lost_counts_as_done() {
    let p = prefix("lost");
    let user = format!("{p}-u");
    legacy::create_legacy_users(&moto().url, std::slice::from_ref(&user));
    let proxy = FaultProxy::start(moto());
    // The deletion takes effect but the connection drops before the answer; the retry finds the
    // policy gone.
    proxy.set_rules(json!([{"action": "DeleteUserPolicy", "fault": "after", "times": 1}]));

    let run = migrate(&proxy.url, &[&user, "-o", "json", "--max-attempts", "3"]);
    run.assert_ok();
    assert_eq!(entry(&run.json(), &user)["status"], "migrated");
    assert_eq!(count(&proxy.actions(), "DeleteUserPolicy"), 2);
    assert!(legacy::state(&moto().url, &user).is_migrated());
}

#[test]
fn a_thousand_users_take_at_most_three_calls_and_a_bit_each() {
    let moto = Moto::dedicated();
    let users = names("k", "user", 1000);
    legacy::create_legacy_users(&moto.url, &users);
    let proxy = FaultProxy::start(&moto);

    let run = migrate(&proxy.url, &["--all", "--yes", "-o", "json"]);
    run.assert_ok();
    let r = run.json();
    assert_eq!(r["totals"]["users"], 1000);
    assert_eq!(r["totals"]["migrated"], 1000);

    let actions = proxy.actions();
    // Three writes per user, the tag removed only where it is; the memberships confirmed by one read
    // of the group; plus the account read and setup (caller identity, group and policy reads and
    // creation).
    assert!(
        actions.len() as f64 <= 3.05 * 1000.0,
        "{} calls: {:?}",
        actions.len(),
        actions
            .iter()
            .filter(|a| !["AddUserToGroup", "DeleteUserPolicy", "UntagUser"].contains(&a.as_str()))
            .collect::<Vec<_>>()
    );
    assert_eq!(count(&actions, "AddUserToGroup"), 1000);
    assert_eq!(count(&actions, "DeleteUserPolicy"), 1000);
    assert_eq!(count(&actions, "UntagUser"), 1000);
    assert_eq!(count(&actions, "ListGroupsForUser"), 0);
    assert!(r["users"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["steps_done"] == json!(GROUP_READ_STEPS)));

    let states = legacy::all_states(&moto.url);
    assert_eq!(states.len(), 1000);
    for (name, s) in states {
        assert!(s.is_migrated(), "{name}: {s:?}");
    }
}

#[test]
fn a_throttled_run_migrates_everyone_once() {
    let moto = Moto::dedicated();
    let users = names("thr", "user", 200);
    legacy::create_legacy_users(&moto.url, &users);
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([{"action": "*", "fault": "throttle", "probability": 0.3}]));

    let run = migrate(
        &proxy.url,
        &["--all", "--yes", "-o", "json", "--max-attempts", "12"],
    );
    run.assert_ok();
    let r = run.json();
    assert_eq!(r["totals"]["migrated"], 200);

    let log = proxy.log();
    let throttled = log.iter().filter(|(_, f)| f.is_some()).count();
    assert!(throttled > 100, "the proxy throttled only {throttled} calls");
    for action in ["AddUserToGroup", "DeleteUserPolicy", "UntagUser"] {
        let took_effect = log.iter().filter(|(a, f)| a == action && f.is_none()).count();
        assert_eq!(took_effect, 200, "{action} reached IAM once per user");
    }
    for (name, s) in legacy::all_states(&moto.url) {
        assert!(s.is_migrated(), "{name}: {s:?}");
    }
}

#[test]
fn many_named_users_are_read_with_one_account_read() {
    let p = prefix("named");
    let users = names(&p, "u", 24);
    legacy::create_legacy_users(&moto().url, &users);
    let ghost = format!("{p}-ghost");
    let proxy = FaultProxy::start(moto());

    let mut args: Vec<&str> = users.iter().map(String::as_str).collect();
    args.extend([ghost.as_str(), "-o", "json"]);
    let run = migrate(&proxy.url, &args);
    run.assert_code(1);
    let r = run.json();
    assert_eq!(r["totals"]["migrated"], 24);
    assert_eq!(entry(&r, &ghost)["status"], "not_found");

    let actions = proxy.actions();
    assert_eq!(count(&actions, "GetAccountAuthorizationDetails"), 1);
    assert_eq!(
        count(&actions, "GetUserPolicy") + count(&actions, "ListUserTags"),
        0
    );
    // 24 memberships to confirm against a group of a few members: one read of the group.
    assert_eq!(count(&actions, "ListGroupsForUser"), 0);
    assert!(count(&actions, "GetGroup") <= 3, "{actions:?}");
    for u in &users {
        assert!(legacy::state(&moto().url, u).is_migrated(), "{u}");
    }
}

#[test]
fn a_killed_run_leaves_every_user_able_to_send_and_a_re_run_completes() {
    let moto = Moto::dedicated();
    let users = names("kill", "user", 300);
    legacy::create_legacy_users(&moto.url, &users);
    let proxy = FaultProxy::start(&moto);

    let mut child = Sesctl::at(&proxy.url)
        .args(["migrate-inline-policy", "--all", "--yes", "--concurrency", "4"])
        .spawn();
    // Stop it once some users are under way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count(&proxy.actions(), "DeleteUserPolicy") < 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let states = legacy::all_states(&moto.url);
    let migrated = states.iter().filter(|(_, s)| s.is_migrated()).count();
    assert!(migrated < 300, "the run was stopped before the end");
    for (name, s) in &states {
        assert!(s.can_send(), "{name}: {s:?}");
    }

    let rerun = migrate(&proxy.url, &["--all", "--yes", "-o", "json"]);
    rerun.assert_ok();
    assert_eq!(rerun.json()["totals"]["failed"], 0);
    for (name, s) in legacy::all_states(&moto.url) {
        assert!(s.is_migrated(), "{name}: {s:?}");
    }
}

/// A migration under a sustained rate limit (the fault proxy's token bucket, answering `Throttling`
/// beyond 50 calls a second, as IAM does), with the default settings: every user migrated, none
/// failed, each write reaching IAM once. How close to the limit it runs is measured by
/// bench/throttled.py (docs/benchmarks.md), not here.
#[test]
fn a_rate_limited_run_migrates_everyone_with_default_settings() {
    let moto = Moto::dedicated();
    let users = names("rate", "user", 300);
    legacy::create_legacy_users(&moto.url, &users);
    let proxy = FaultProxy::start(&moto);
    proxy.set_rules(json!([{"action": "*", "fault": "ratelimit", "rate": 50, "burst": 10}]));

    // sesctl's own retry settings, not the suite's pinned AWS_MAX_ATTEMPTS and AWS_RETRY_MODE.
    let run = Sesctl::at(&proxy.url)
        .env_remove("AWS_MAX_ATTEMPTS")
        .env_remove("AWS_RETRY_MODE")
        .args(["migrate-inline-policy", "--all", "--yes", "-o", "json"])
        .run();
    run.assert_ok();
    let r = run.json();
    assert_eq!(r["totals"]["migrated"], 300);
    assert_eq!(r["totals"]["failed"], 0);

    let log = proxy.log();
    let throttled = log.iter().filter(|(_, f)| f.is_some()).count();
    assert!(throttled > 0, "the limit was never reached");
    for action in ["AddUserToGroup", "DeleteUserPolicy", "UntagUser"] {
        let took_effect = log.iter().filter(|(a, f)| a == action && f.is_none()).count();
        assert_eq!(took_effect, 300, "{action} reached IAM once per user");
    }
    for (name, s) in legacy::all_states(&moto.url) {
        assert!(s.is_migrated(), "{name}: {s:?}");
    }
}
