//! Crashes: sesctl killed with SIGKILL at each step, then run again. The fault proxy holds the step's
//! request open (`hang`), the test waits until the proxy has it, then kills: the moment is exact, and
//! the held request never reaches moto. What each crash leaves is read back with the raw SDK clients,
//! then the re-run (or the cleanup command docs/recovery.md gives) must reach the intended state.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::matrix::{Command, Subject};
use crate::support::state::{self, ensure_setup, secret_view, user_view, GROUP};
use crate::support::{moto, prefix, FaultProxy, Sesctl};

/// Starts `args` through `proxy` with `hang` rules on `steps` (concurrent calls are held together),
/// waits until every held request has arrived, and kills sesctl with SIGKILL.
fn kill_at(proxy: &FaultProxy, args: &[String], steps: &[Value]) {
    kill_when(proxy, args, steps, || true)
}

/// As [`kill_at`], waiting also until `ready` (for a call that runs beside the held one).
fn kill_when(proxy: &FaultProxy, args: &[String], steps: &[Value], ready: impl Fn() -> bool) {
    let mut rules: Vec<Value> = steps
        .iter()
        .map(|s| {
            let mut r = s.clone();
            r["fault"] = json!("hang");
            r["seconds"] = json!(20);
            r
        })
        .collect();
    rules.push(state::record_keys());
    proxy.set_rules(Value::Array(rules));
    let mut child = Sesctl::at(&proxy.url).args(args).spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let held = proxy
            .log()
            .iter()
            .filter(|(_, f)| f.as_deref() == Some("hang"))
            .count();
        if held >= steps.len() && ready() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the step never came: {:?}",
            proxy.log()
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("sesctl ended ({status}) before the step: {:?}", proxy.log());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    proxy.set_rules(json!([state::record_keys()]));
}

fn at(action: &str) -> Value {
    json!({"action": action})
}

fn run(proxy: &FaultProxy, args: &[&str]) -> crate::support::Run {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    state::sesctl(proxy, &args)
}

// ---- create-user ----

#[test]
fn create_user_killed_at_each_step() {
    let moto = moto();
    ensure_setup(&moto.url);
    let command = Command::CreateUser;
    std::thread::scope(|scope| {
        // Killed while iam:CreateUser is held: nothing exists; the re-run creates everything.
        scope.spawn(|| {
            let proxy = FaultProxy::start(moto);
            let s = command.fixture(&moto.url, &prefix("crashcreate"));
            kill_at(&proxy, &command.args(&s), &[at("CreateUser")]);
            assert!(!user_view(&moto.url, &s.user).exists);
            state::sesctl(&proxy, &command.args(&s)).assert_ok();
            command.check_done(&moto.url, &s, &proxy);
        });
        // Killed at iam:AddUserToGroup ‖ iam:CreateAccessKey: the user alone, tagged by the run. The
        // re-run refuses (the user exists); `delete-user` removes it, then create-user succeeds.
        scope.spawn(|| {
            let proxy = FaultProxy::start(moto);
            let s = command.fixture(&moto.url, &prefix("crashkey"));
            kill_at(
                &proxy,
                &command.args(&s),
                &[at("AddUserToGroup"), at("CreateAccessKey")],
            );
            let u = user_view(&moto.url, &s.user);
            assert!(u.exists && u.keys.is_empty() && !u.in_group(), "{u:?}");
            assert!(u.tags.contains_key("sesctl:create-run"), "{u:?}");
            let again = state::sesctl(&proxy, &command.args(&s));
            again.assert_code(2);
            assert!(again.stderr.contains("already exists"), "{}", again.stderr);
            // Not in the group yet, but its create-run tag makes it an SMTP user for delete-user
            // (and for audit), so no --force is needed to clean it up.
            let deleted = run(&proxy, &["delete-user", &s.user, "--yes"]);
            deleted.assert_ok();
            assert!(deleted.stdout.contains("Deleted IAM user"), "{}", deleted.stdout);
            state::sesctl(&proxy, &command.args(&s)).assert_ok();
            command.check_done(&moto.url, &s, &proxy);
        });
        // Killed at secretsmanager:CreateSecret ‖ iam:ListAccessKeys: the user, its membership and a key
        // whose secret died with the process; no secret. `audit` reports the never-used key and names
        // `delete-user`; after it, create-user succeeds.
        scope.spawn(|| {
            let proxy = FaultProxy::start(moto);
            let s = command.fixture(&moto.url, &prefix("crashsecret"));
            kill_at(
                &proxy,
                &command.args(&s),
                &[at("CreateSecret"), at("ListAccessKeys")],
            );
            let u = user_view(&moto.url, &s.user);
            assert!(u.exists && u.in_group(), "{u:?}");
            assert_eq!(u.keys.len(), 1, "{u:?}");
            assert!(!secret_view(&moto.url, &s.secret).exists);
            let key = u.keys.keys().next().unwrap().clone();
            let audit = run(&proxy, &["audit", "--key-ids", "-o", "json"]);
            assert!(audit.code == 0 || audit.code == 3, "{audit:?}");
            assert!(audit.stdout.contains(&key), "audit lists the key");
            let report = audit.json();
            let found = report.to_string();
            assert!(found.contains("key-never-used"), "{found}");
            assert!(
                found.contains(&format!("sesctl delete-user {}", s.user)),
                "{found}"
            );
            run(&proxy, &["delete-user", &s.user, "--yes"]).assert_ok();
            assert!(!user_view(&moto.url, &s.user).exists);
            state::sesctl(&proxy, &command.args(&s)).assert_ok();
            command.check_done(&moto.url, &s, &proxy);
        });
        // Killed at iam:ListAccessKeys alone (the secret stored): the work is done.
        scope.spawn(|| {
            let proxy = FaultProxy::start(moto);
            let s = command.fixture(&moto.url, &prefix("crashlist"));
            // CreateSecret runs beside the held ListAccessKeys: kill once it has taken effect.
            kill_when(&proxy, &command.args(&s), &[at("ListAccessKeys")], || {
                secret_view(&moto.url, &s.secret).exists
            });
            command.check_done(&moto.url, &s, &proxy);
        });
    });
}

// ---- rotate ----

#[test]
fn rotate_killed_at_each_step() {
    let moto = moto();
    let command = Command::Rotate;
    let promote = json!({"action": "UpdateSecretVersionStage", "match": "MoveToVersionId"});
    std::thread::scope(|scope| {
        // Killed at iam:CreateAccessKey: nothing changed; the re-run rotates.
        scope.spawn(|| {
            let proxy = FaultProxy::start(moto);
            let s = command.fixture(&moto.url, &prefix("crashrotkey"));
            kill_at(&proxy, &command.args(&s), &[at("CreateAccessKey")]);
            assert_eq!(user_view(&moto.url, &s.user).keys.len(), 1);
            state::sesctl(&proxy, &command.args(&s)).assert_ok();
            command.check_done(&moto.url, &s, &proxy);
        });
        // Killed at secretsmanager:PutSecretValue: a second active key whose secret died with the
        // process. The re-run refuses (two keys) and names `--finish`; `--finish --old-key delete`
        // deletes every key not in AWSCURRENT (that one); then the rotation runs.
        scope.spawn(|| {
            let proxy = FaultProxy::start(moto);
            let s = command.fixture(&moto.url, &prefix("crashrotput"));
            kill_at(&proxy, &command.args(&s), &[at("PutSecretValue")]);
            let u = user_view(&moto.url, &s.user);
            assert_eq!(u.active_keys().len(), 2, "{u:?}");
            let sv = secret_view(&moto.url, &s.secret);
            assert_eq!(sv.key_at("AWSCURRENT"), Some(s.old_key.as_str()));
            assert!(sv.version_with("AWSPENDING").is_none(), "{sv:?}");
            // `--finish` completes it. (A plain re-run would start another rotation, making room by
            // deleting the AWSPREVIOUS key: the room rule of docs/rotate.md.)
            let mut finish = command.args(&s);
            finish.extend(["--finish".into(), "--old-key".into(), "delete".into()]);
            state::sesctl(&proxy, &finish).assert_ok();
            assert_eq!(
                user_view(&moto.url, &s.user).keys.keys().collect::<Vec<_>>(),
                [&s.old_key]
            );
            state::sesctl(&proxy, &command.args(&s)).assert_ok();
            command.check_done(&moto.url, &s, &proxy);
        });
        // Killed at the promotion: the new key is stored as AWSPENDING and active; the re-run resumes
        // it (no second new key) and finishes.
        scope.spawn(|| {
            let proxy = FaultProxy::start(moto);
            let s = command.fixture(&moto.url, &prefix("crashrotpromote"));
            kill_at(&proxy, &command.args(&s), std::slice::from_ref(&promote));
            let sv = secret_view(&moto.url, &s.secret);
            let pending = sv.key_at("AWSPENDING").expect("a pending version").to_string();
            assert_eq!(sv.key_at("AWSCURRENT"), Some(s.old_key.as_str()));
            assert_eq!(user_view(&moto.url, &s.user).active_keys().len(), 2);
            let creates = || proxy.actions().iter().filter(|a| *a == "CreateAccessKey").count();
            let before = creates();
            let again = state::sesctl(&proxy, &command.args(&s));
            again.assert_ok();
            assert!(again.all_output().contains("Resum"), "{}", again.all_output());
            assert_eq!(creates(), before, "no second new key");
            assert_eq!(
                secret_view(&moto.url, &s.secret).key_at("AWSCURRENT"),
                Some(pending.as_str())
            );
            command.check_done(&moto.url, &s, &proxy);
        });
        // Killed at iam:UpdateAccessKey: promoted, the old key still active. `--finish` retires it.
        scope.spawn(|| {
            let proxy = FaultProxy::start(moto);
            let s = command.fixture(&moto.url, &prefix("crashrotretire"));
            kill_at(&proxy, &command.args(&s), &[at("UpdateAccessKey")]);
            let sv = secret_view(&moto.url, &s.secret);
            assert_eq!(sv.key_at("AWSPREVIOUS"), Some(s.old_key.as_str()));
            assert_eq!(user_view(&moto.url, &s.user).active_keys().len(), 2);
            // `--finish` completes it. (A plain re-run would start another rotation, making room by
            // deleting the AWSPREVIOUS key: the room rule of docs/rotate.md.)
            let mut finish = command.args(&s);
            finish.push("--finish".into());
            state::sesctl(&proxy, &finish).assert_ok();
            command.check_done(&moto.url, &s, &proxy);
        });
    });
}

// ---- migrate-inline-policy ----

#[test]
fn migrate_killed_at_each_step() {
    let moto = moto();
    ensure_setup(&moto.url);
    let command = Command::Migrate;
    let cases: Vec<(&str, Value, bool)> = vec![
        // (step, held request, whether the user is in the group when killed)
        ("AddUserToGroup", at("AddUserToGroup"), false),
        ("confirm", json!({"action": "ListGroupsForUser", "skip": 1}), true),
        ("DeleteUserPolicy", at("DeleteUserPolicy"), true),
        ("UntagUser", at("UntagUser"), true),
    ];
    std::thread::scope(|scope| {
        for (name, held, in_group) in &cases {
            scope.spawn(move || {
                let proxy = FaultProxy::start(moto);
                let s: Subject = command.fixture(&moto.url, &prefix(&format!("crashmig{name}")));
                kill_at(&proxy, &command.args(&s), std::slice::from_ref(held));
                let u = user_view(&moto.url, &s.user);
                assert_eq!(u.in_group(), *in_group, "{name}: {u:?}");
                let has_policy = !u.inline_policies.is_empty();
                assert_eq!(has_policy, *name != "UntagUser", "{name}: {u:?}");
                assert!(has_policy || u.groups.iter().any(|g| g == GROUP), "able to send");
                assert!(u.tags.contains_key("InvokedBy"));
                state::sesctl(&proxy, &command.args(&s)).assert_ok();
                command.check_done(&moto.url, &s, &proxy);
            });
        }
    });
}
