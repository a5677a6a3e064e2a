//! Least privilege: `policies/sesctl-operator.json` against a moto server that enforces IAM policies
//! (see `support::enforcing`). An operator holding exactly that policy runs every command; for each
//! action in it, an operator holding the policy without that action fails in the command that needs
//! it, with a message naming the action. Each action is also mapped to its scenario below, so a new
//! action in the policy without a test (or a test for an action no longer granted) fails the suite.

use std::collections::BTreeSet;

use crate::support::enforcing::{policy_actions, policy_without, EnforcingMoto, Prep};
use crate::support::{self, block_on, FaultProxy, Run, Sesctl};

const POLICY: &str = include_str!("../../policies/sesctl-operator.json");
const REGION: &str = "eu-west-1";
const GROUP: &str = "AWSSESSendingGroupDoNotRename";

/// Actions the SDK call does not name but AWS checks as well: moto checks only the call's own action,
/// so these cannot be proven here (see docs/permissions.md).
const CHECKED_ONLY_BY_AWS: [&str; 4] = [
    // iam:CreateUser with tags (create-user always tags sesctl:create-run).
    "iam:TagUser",
    // secretsmanager:CreateSecret with tags (sesctl always tags its secrets).
    "secretsmanager:TagResource",
    // delete-user: moto has no service-specific credentials (it answers these with HTTP 500).
    "iam:ListServiceSpecificCredentials",
    "iam:DeleteServiceSpecificCredential",
];

/// What each action is needed for, by the scenario that proves it (server, then scenario).
const MAIN: &[&str] = &[
    // setup, on an account where nothing exists yet
    "iam:CreatePolicy",
    "iam:AttachGroupPolicy",
    // setup's reads
    "iam:GetGroup",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:ListGroupPolicies",
    "iam:ListAttachedGroupPolicies",
    // create-user
    "iam:GetUser",
    "secretsmanager:DescribeSecret",
    "iam:CreateUser",
    "iam:AddUserToGroup",
    "iam:CreateAccessKey",
    "secretsmanager:CreateSecret",
    // create-user's rollback
    "secretsmanager:DeleteSecret",
    "iam:DeleteAccessKey",
    "iam:RemoveUserFromGroup",
    "iam:DeleteUser",
    // rotate
    "iam:ListAccessKeys",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
    "iam:UpdateAccessKey",
    "iam:GetAccessKeyLastUsed",
    // migrate-inline-policy
    "iam:ListGroupsForUser",
    "iam:GetUserPolicy",
    "iam:ListUserTags",
    "iam:DeleteUserPolicy",
    "iam:UntagUser",
    "iam:GetAccountAuthorizationDetails",
];
/// delete-user on a user holding everything IAM makes you remove first.
const DELETE_USER: &[&str] = &[
    "iam:GetLoginProfile",
    "iam:ListSigningCertificates",
    "iam:ListSSHPublicKeys",
    "iam:ListMFADevices",
    "iam:ListUserPolicies",
    "iam:ListAttachedUserPolicies",
    "iam:DeleteLoginProfile",
    "iam:DeleteSigningCertificate",
    "iam:DeleteSSHPublicKey",
    "iam:DeactivateMFADevice",
    "iam:DeleteVirtualMFADevice",
    "iam:DetachUserPolicy",
];
/// audit and list read the credential report; without it they fall back to per-user calls and say
/// why (so the run still succeeds, naming the missing action).
const CREDENTIAL_REPORT: &[&str] = &["iam:GenerateCredentialReport", "iam:GetCredentialReport"];
/// setup where the managed policy exists but the group does not.
const POLICY_ONLY: &[&str] = &["iam:CreateGroup"];
/// setup where the group holds the console's inline policy.
const INLINE_GROUP: &[&str] = &["iam:GetGroupPolicy"];

fn label(action: &str) -> String {
    format!("no-{}", action.replace(':', "."))
}

fn operators(actions: &[&str]) -> Vec<Prep> {
    let mut preps = vec![Prep::Operator {
        label: "full".into(),
        policy: POLICY.into(),
    }];
    preps.extend(actions.iter().map(|a| Prep::Operator {
        label: label(a),
        policy: policy_without(POLICY, a),
    }));
    preps
}

#[track_caller]
fn assert_denied(run: &Run, action: &str) {
    let needle = format!("the caller needs permission for {action}");
    let out = run.all_output();
    assert!(
        run.code == 1 && out.contains(&needle) && out.contains("was denied") && !out.contains("signature"),
        "wanted exit 1 and a message naming {action}; exit {}\nstdout:\n{}\nstderr:\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
}

#[test]
fn every_granted_action_has_a_scenario_and_the_policy_is_well_formed() {
    let granted: BTreeSet<String> = policy_actions(POLICY).into_iter().collect();
    let covered: BTreeSet<String> = MAIN
        .iter()
        .chain(POLICY_ONLY)
        .chain(INLINE_GROUP)
        .chain(DELETE_USER)
        .chain(CREDENTIAL_REPORT)
        .chain(CHECKED_ONLY_BY_AWS.iter())
        .map(|s| s.to_string())
        .collect();
    assert_eq!(granted, covered);
    assert_eq!(granted.len(), policy_actions(POLICY).len(), "no action twice");
    assert!(
        granted
            .iter()
            .all(|a| a.starts_with("iam:") || a.starts_with("secretsmanager:")),
        "only IAM and Secrets Manager; sts:GetCallerIdentity needs no permission"
    );
    assert!(!granted.iter().any(|a| a.contains('*')), "no wildcards");
}

#[test]
fn the_operator_policy_runs_every_command_and_each_action_is_needed() {
    let legacy: Vec<String> = MIGRATE_DENIALS
        .iter()
        .map(|a| legacy_name(a))
        .chain(["legacy-full-named", "legacy-all-1", "legacy-all-2"].map(String::from))
        .collect();
    let mut preps = operators(MAIN);
    preps.extend(legacy.iter().cloned().map(Prep::LegacyUser));
    let aws = EnforcingMoto::start(&preps);
    let dir = tempfile::tempdir().unwrap();

    // ---- setup, on an empty account: the creating actions ----
    for action in ["iam:CreatePolicy", "iam:AttachGroupPolicy"] {
        assert_denied(&aws.sesctl(&label(action)).args(["setup"]).run(), action);
    }
    aws.sesctl("full").args(["setup"]).run().assert_ok();
    let again = aws.sesctl("full").args(["setup", "-o", "json"]).run();
    again.assert_ok();
    assert_eq!(again.json()["changes"], serde_json::json!([]), "{}", again.stdout);
    aws.sesctl("full").args(["setup", "--dry-run"]).run().assert_ok();
    for action in [
        "iam:GetGroup",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:ListGroupPolicies",
        "iam:ListAttachedGroupPolicies",
    ] {
        assert_denied(
            &aws.sesctl(&label(action)).args(["setup", "--dry-run"]).run(),
            action,
        );
    }

    // ---- create-user ----
    let iam = aws.iam_as("full");
    let sm = aws.secretsmanager_as("full", REGION);
    let create = |op: &str, user: &str, extra: &[&str]| {
        aws.sesctl(op)
            .args(["create-user", user, "--region", REGION])
            .args(extra)
            .run()
    };
    create(
        "full",
        "made-by-full",
        &[
            "--secret-name",
            "smtp/made-by-full",
            "--path",
            "/smtp/",
            "--tag",
            "team=mail",
        ],
    )
    .assert_ok();
    let user = block_on(iam.get_user().user_name("made-by-full").send()).unwrap();
    assert_eq!(user.user().unwrap().path(), "/smtp/");
    assert!(block_on(sm.describe_secret().secret_id("smtp/made-by-full").send()).is_ok());
    create(
        "full",
        "made-by-full-csv",
        &["--csv", dir.path().join("full.csv").to_str().unwrap()],
    )
    .assert_ok();
    create("full", "planned", &["--secret-name", "smtp/planned", "--dry-run"]).assert_ok();
    for action in [
        "iam:GetUser",
        "secretsmanager:DescribeSecret",
        "iam:CreateUser",
        "iam:AddUserToGroup",
        "iam:CreateAccessKey",
        "secretsmanager:CreateSecret",
    ] {
        let user = format!("denied-{}", label(action).replace("no-", ""));
        let run = create(&label(action), &user, &["--secret-name", &format!("smtp/{user}")]);
        assert_denied(&run, action);
        // Whatever was made is rolled back (the operator may delete what it creates).
        assert!(
            block_on(iam.get_user().user_name(&user).send()).is_err(),
            "{user} left behind"
        );
    }

    // The rollback: CreateSecret takes effect but its answer is lost (one attempt only), so
    // create-user removes the secret, the key, the membership and the user again.
    let proxy = FaultProxy::start(&aws.moto);
    proxy.set_rules(serde_json::json!([{"action": "CreateSecret", "fault": "after"}]));
    let rolled_back = |op: &str, user: &str| {
        aws.sesctl_via(&proxy.url, op)
            .env("AWS_MAX_ATTEMPTS", "1")
            .args(["create-user", user, "--region", REGION, "--secret-name"])
            .args([format!("smtp/{user}")])
            .run()
    };
    let run = rolled_back("full", "rollback-full");
    run.assert_code(1);
    assert!(
        run.stderr.contains("deleted user rollback-full"),
        "{}",
        run.stderr
    );
    assert!(block_on(iam.get_user().user_name("rollback-full").send()).is_err());
    assert!(block_on(sm.describe_secret().secret_id("smtp/rollback-full").send()).is_err());
    for action in [
        "secretsmanager:DeleteSecret",
        "iam:DeleteAccessKey",
        "iam:RemoveUserFromGroup",
        "iam:DeleteUser",
    ] {
        let user = format!("rollback-{}", label(action).replace("no-", ""));
        assert_denied(&rolled_back(&label(action), &user), action);
    }
    drop(proxy);

    // ---- rotate ----
    let with_secret = |user: &str| {
        create("full", user, &["--secret-name", &format!("smtp/{user}")]).assert_ok();
    };
    let rotate = |op: &str, user: &str, extra: &[&str]| {
        aws.sesctl(op)
            .args(["rotate", user, "--region", REGION, "--secret-name"])
            .args([format!("smtp/{user}")])
            .args(extra)
            .run()
    };
    with_secret("rotated-by-full");
    rotate("full", "rotated-by-full", &[]).assert_ok();
    rotate(
        "full",
        "rotated-by-full",
        &["--delete-inactive", "--old-key", "delete"],
    )
    .assert_ok();
    rotate("full", "rotated-by-full", &["--old-key", "keep"]).assert_ok();
    rotate("full", "rotated-by-full", &["--finish", "--dry-run"]).assert_ok();
    rotate("full", "rotated-by-full", &["--finish", "--old-key", "delete"]).assert_ok();
    let keys = block_on(iam.list_access_keys().user_name("rotated-by-full").send()).unwrap();
    assert_eq!(keys.access_key_metadata().len(), 1);
    // Without a secret: the CSV goes to a file.
    create(
        "full",
        "rotated-csv",
        &["--csv", dir.path().join("r0.csv").to_str().unwrap()],
    )
    .assert_ok();
    aws.sesctl("full")
        .args(["rotate", "rotated-csv", "--region", REGION, "--csv"])
        .args([dir.path().join("r1.csv")])
        .run()
        .assert_ok();

    for action in [
        "iam:GetUser",
        "iam:ListAccessKeys",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "iam:CreateAccessKey",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "iam:UpdateAccessKey",
    ] {
        let user = format!("rot-{}", label(action).replace("no-", ""));
        with_secret(&user);
        assert_denied(&rotate(&label(action), &user, &[]), action);
    }
    with_secret("rot-delete");
    assert_denied(
        &rotate(
            &label("iam:DeleteAccessKey"),
            "rot-delete",
            &["--old-key", "delete"],
        ),
        "iam:DeleteAccessKey",
    );
    with_secret("rot-finish");
    rotate("full", "rot-finish", &["--old-key", "keep"]).assert_ok();
    assert_denied(
        &rotate(&label("iam:GetAccessKeyLastUsed"), "rot-finish", &["--finish"]),
        "iam:GetAccessKeyLastUsed",
    );

    // ---- migrate-inline-policy ----
    let migrate = |op: &str, args: &[&str]| {
        aws.sesctl(op)
            .args(["migrate-inline-policy", "--yes"])
            .args(args)
            .run()
    };
    migrate("full", &["legacy-full-named"]).assert_ok();
    migrate("full", &["legacy-full-named", "--dry-run"]).assert_ok();
    for action in MIGRATE_DENIALS {
        assert_denied(&migrate(&label(action), &[&legacy_name(action)]), action);
    }
    assert_denied(
        &migrate(&label("iam:GetAccountAuthorizationDetails"), &["--all"]),
        "iam:GetAccountAuthorizationDetails",
    );
    migrate("full", &["--all", "--dry-run"]).assert_ok();
    migrate("full", &["--all"]).assert_ok();
    for user in &legacy {
        let policy = block_on(
            iam.get_user_policy()
                .user_name(user)
                .policy_name("AmazonSesSendingAccess")
                .send(),
        );
        let gone = policy.map_err(|e| e.into_service_error().is_no_such_entity_exception());
        assert!(matches!(gone, Err(true)), "{user} still has its inline policy");
        let groups = block_on(iam.list_groups_for_user().user_name(user).send()).unwrap();
        assert!(groups.groups().iter().any(|g| g.group_name() == GROUP), "{user}");
    }

    // ---- derive --from-credentials makes no AWS call at all ----
    aws.sesctl("full")
        .args(["derive", "--from-credentials", "--region", REGION])
        .run()
        .assert_ok();
}

const MIGRATE_DENIALS: &[&str] = &[
    "iam:ListGroupsForUser",
    "iam:GetUserPolicy",
    "iam:ListUserTags",
    "iam:AddUserToGroup",
    "iam:DeleteUserPolicy",
    "iam:UntagUser",
];

fn legacy_name(action: &str) -> String {
    format!("legacy-{}", action.trim_start_matches("iam:"))
}

#[test]
fn setup_with_only_the_managed_policy_needs_create_group() {
    let mut preps = vec![Prep::ManagedSendingPolicy];
    preps.extend(operators(POLICY_ONLY));
    let aws = EnforcingMoto::start(&preps);
    assert_denied(
        &aws.sesctl(&label("iam:CreateGroup")).args(["setup"]).run(),
        "iam:CreateGroup",
    );
    let run = aws.sesctl("full").args(["setup", "-o", "json"]).run();
    run.assert_ok();
    let changes = run.json()["changes"].to_string();
    assert!(
        changes.contains("iam:CreateGroup") || changes.contains("iam:AttachGroupPolicy"),
        "{changes}"
    );
}

#[test]
fn a_console_made_group_needs_get_group_policy() {
    let mut preps = vec![Prep::InlineSendingGroup];
    preps.extend(operators(INLINE_GROUP));
    let aws = EnforcingMoto::start(&preps);
    assert_denied(
        &aws.sesctl(&label("iam:GetGroupPolicy"))
            .args(["setup", "--dry-run"])
            .run(),
        "iam:GetGroupPolicy",
    );
    let run = aws.sesctl("full").args(["setup", "-o", "json"]).run();
    run.assert_ok();
    assert_eq!(run.json()["changes"], serde_json::json!([]), "{}", run.stdout);
    aws.sesctl("full")
        .args([
            "create-user",
            "console-group-user",
            "--region",
            REGION,
            "-o",
            "json",
        ])
        .run()
        .assert_ok();
}

/// Real AWS answers a denial in the service's own error format (IAM: query XML `AccessDenied`;
/// Secrets Manager: JSON `AccessDeniedException`), which the SDK parses; moto's denials (an EC2-style
/// XML body, even for Secrets Manager) are not parsed and arrive as a bare HTTP 403. Both name the
/// action.
#[test]
fn a_denial_in_the_services_own_format_names_the_action_too() {
    let proxy = FaultProxy::start(support::moto());
    let p = support::prefix("denial");
    for (action, code, sink) in [
        ("CreateAccessKey", "AccessDenied", "iam:CreateAccessKey"),
        (
            "CreateSecret",
            "AccessDeniedException",
            "secretsmanager:CreateSecret",
        ),
    ] {
        proxy.set_rules(serde_json::json!([
            {"action": action, "fault": "error", "status": 403, "code": code,
             "message": "User: arn:aws:iam::123456789012:user/op is not authorized to perform this action"}
        ]));
        let user = format!("{p}-{action}");
        let run = Sesctl::at(&proxy.url)
            .args(["create-user", &user, "--region", REGION, "--secret-name"])
            .args([format!("{p}/{action}")])
            .run();
        assert_denied(&run, sink);
        assert!(run.stderr.contains(&format!("({code})")), "{}", run.stderr);
    }
}

#[test]
fn delete_user_audit_list_and_verify_with_the_operator_policy() {
    use crate::support::smtp::{Mode, SmtpServer};

    let mut actions: Vec<&str> = DELETE_USER.to_vec();
    actions.extend(CREDENTIAL_REPORT);
    let mut preps = operators(&actions);
    preps.push(Prep::Extras);
    let loaded = |a: &str| format!("loaded-{}", a.trim_start_matches("iam:"));
    preps.push(Prep::LoadedUser("loaded-full".into()));
    preps.extend(DELETE_USER.iter().map(|a| Prep::LoadedUser(loaded(a))));
    let aws = EnforcingMoto::start(&preps);
    let iam = aws.iam_as("full");

    // ---- audit and list ----
    aws.sesctl("full").args(["setup"]).run().assert_ok();
    aws.sesctl("full")
        .args([
            "create-user",
            "audited",
            "--region",
            REGION,
            "--secret-name",
            "smtp/audited",
        ])
        .run()
        .assert_ok();
    for command in ["audit", "list"] {
        let run = aws.sesctl("full").args([command, "-o", "json"]).run();
        run.assert_ok();
        assert!(run.stdout.contains("audited"), "{}", run.stdout);
        assert!(!run.all_output().contains("was denied"), "{}", run.all_output());
    }
    for action in CREDENTIAL_REPORT {
        let run = aws.sesctl(&label(action)).args(["audit", "-o", "json"]).run();
        run.assert_ok();
        assert!(run.stdout.contains("audited"), "{}", run.stdout);
        let needle = format!("the caller needs permission for {action}");
        assert!(run.all_output().contains(&needle), "{}", run.all_output());
    }

    // ---- verify: the credential read from the secret logs in; a refused login is diagnosed ----
    for reject in [0, 1000] {
        let smtp = SmtpServer::start_iam(Mode::Starttls, &aws.direct.url, REGION, reject);
        let run = aws
            .sesctl("full")
            .args(["verify", "--secret-name", "smtp/audited", "--region", REGION])
            .args([
                "--smtp-host",
                "127.0.0.1",
                "--port",
                &smtp.port.to_string(),
                "--ca-file",
            ])
            .args([&smtp.ca_file])
            .run();
        run.assert_code(if reject == 0 { 0 } else { 1 });
        assert!(!run.all_output().contains("was denied"), "{}", run.all_output());
    }

    // ---- delete-user ----
    let delete = |op: &str, user: &str| {
        aws.sesctl(op)
            .args(["delete-user", user, "--yes", "--region", REGION, "--secret-name"])
            .args([format!("smtp/{user}")])
            .run()
    };
    aws.sesctl("full")
        .args([
            "delete-user",
            "loaded-full",
            "--dry-run",
            "--region",
            REGION,
            "--secret-name",
        ])
        .args(["smtp/loaded-full"])
        .run()
        .assert_ok();
    delete("full", "loaded-full").assert_ok();
    assert!(block_on(iam.get_user().user_name("loaded-full").send()).is_err());
    for action in DELETE_USER {
        let user = loaded(action);
        assert_denied(&delete(&label(action), &user), action);
        assert!(
            block_on(iam.get_user().user_name(&user).send()).is_ok(),
            "{user} was deleted without {action}"
        );
    }
}
