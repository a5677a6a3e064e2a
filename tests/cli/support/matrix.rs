//! The commands of the fault matrix and the crash tests (`setup`, `create-user` to Secrets Manager,
//! `rotate --secret-name`, `migrate-inline-policy`): each AWS step they make and what a fault at it
//! does, the account each case starts from, and what a failed run may leave and a finished one must.

use super::state::{self, group_view, recorded_keys, secret_view, smtp_password, user_view, Fault, REGION};
use super::{FaultProxy, Run};

/// What a run with the fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exit 1, the message names the step; what is left is checked, then a clean run finishes.
    Fails,
    /// Exit 0: the SDK's retry or sesctl's own read-back got past the fault.
    Done,
    /// Exit 0 with a warning that names the step.
    Warns,
}
use Expect::{Done, Fails, Warns};

/// One AWS step of a command.
pub struct Step {
    /// The action in IAM policy form (what the message must name).
    pub action: &'static str,
    /// Which call of that action, when the command makes it more than once.
    pub which: &'static str,
    /// Only requests whose body contains this are failed.
    pub matches: Option<&'static str>,
    /// Requests of the action let through before failing.
    pub skip: u32,
    /// With a 500, throttling, a dropped connection or a timeout.
    pub usual: Expect,
    pub lost: Expect,
    pub lost_once: Expect,
}

impl Step {
    pub fn proxy_action(&self) -> &'static str {
        self.action.split_once(':').map_or(self.action, |(_, a)| a)
    }

    pub fn expect(&self, fault: Fault) -> Expect {
        match fault {
            Fault::Lost => self.lost,
            Fault::LostOnce => self.lost_once,
            _ => self.usual,
        }
    }
}

const fn step(action: &'static str, usual: Expect, lost: Expect, lost_once: Expect) -> Step {
    Step {
        action,
        which: "",
        matches: None,
        skip: 0,
        usual,
        lost,
        lost_once,
    }
}

/// A read: any fault that leaves it without an answer fails the run before any change; one lost
/// answer is retried.
const fn read(action: &'static str) -> Step {
    step(action, Fails, Fails, Done)
}

// ---- the tables: command × step → outcome (500 / throttled / dropped / timeout, lost, lost once) ----

/// `setup` on an account where nothing exists yet.
pub const SETUP: &[Step] = &[
    read("sts:GetCallerIdentity"),
    read("iam:GetGroup"),
    read("iam:GetPolicy"),
    read("iam:ListGroupPolicies"),
    read("iam:ListAttachedGroupPolicies"),
    step("iam:CreatePolicy", Fails, Fails, Done),
    step("iam:CreateGroup", Fails, Fails, Done),
    step("iam:AttachGroupPolicy", Fails, Fails, Done),
];

/// `create-user NAME --secret-name S` on an account where `setup` is done.
pub const CREATE_USER: &[Step] = &[
    read("iam:GetUser"),
    read("secretsmanager:DescribeSecret"),
    read("sts:GetCallerIdentity"),
    read("iam:GetGroup"),
    read("iam:GetPolicy"),
    read("iam:GetPolicyVersion"),
    read("iam:ListGroupPolicies"),
    read("iam:ListAttachedGroupPolicies"),
    // A lost answer: the user is found by its run tag and the run goes on.
    step("iam:CreateUser", Fails, Warns, Warns),
    step("iam:AddUserToGroup", Fails, Fails, Done),
    // A lost answer once: the retry's key is delivered, the first key (secret never seen) deleted.
    step("iam:CreateAccessKey", Fails, Fails, Warns),
    step("secretsmanager:CreateSecret", Fails, Fails, Done),
    // The check for a key left by a retried CreateAccessKey: a warning, the credential is delivered.
    step("iam:ListAccessKeys", Warns, Warns, Done),
];

/// `rotate USER --secret-name S` of a user with one key whose credential the secret holds.
pub const ROTATE: &[Step] = &[
    read("iam:GetUser"),
    read("iam:ListAccessKeys"),
    read("secretsmanager:DescribeSecret"),
    read("secretsmanager:GetSecretValue"),
    // A lost answer once: before its second attempt rotate finds the key the first one made (its
    // secret never arrived), deletes it, and the second attempt's key is the rotation's.
    step("iam:CreateAccessKey", Fails, Fails, Done),
    step("secretsmanager:PutSecretValue", Fails, Fails, Done),
    Step {
        which: "AWSCURRENT to the new version",
        matches: Some("MoveToVersionId"),
        // A lost answer: the secret is read back, the promotion took effect, the run goes on.
        ..step("secretsmanager:UpdateSecretVersionStage", Fails, Done, Done)
    },
    // After the promotion: the old key stays active; `--finish` retires it.
    step("iam:UpdateAccessKey", Fails, Fails, Done),
    Step {
        which: "remove AWSPENDING from the new version",
        skip: 1,
        ..step("secretsmanager:UpdateSecretVersionStage", Warns, Warns, Done)
    },
];

/// `migrate-inline-policy USER` of a console user from before September 2024, `setup` done.
pub const MIGRATE: &[Step] = &[
    read("iam:GetUserPolicy"),
    Step {
        which: "every call, the first reads the user",
        ..read("iam:ListGroupsForUser")
    },
    read("iam:ListUserTags"),
    read("sts:GetCallerIdentity"),
    read("iam:GetGroup"),
    read("iam:GetPolicy"),
    read("iam:GetPolicyVersion"),
    read("iam:ListGroupPolicies"),
    read("iam:ListAttachedGroupPolicies"),
    step("iam:AddUserToGroup", Fails, Fails, Done),
    Step {
        which: "confirming the membership",
        skip: 1,
        ..step("iam:ListGroupsForUser", Fails, Fails, Done)
    },
    // A lost answer: the policy is read back, found deleted, and the run goes on.
    step("iam:DeleteUserPolicy", Fails, Done, Done),
    step("iam:UntagUser", Fails, Fails, Done),
];

// ---- the commands ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Setup,
    CreateUser,
    Rotate,
    Migrate,
}

/// What one case works on.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub user: String,
    pub secret: String,
    pub old_key: String,
}

impl Command {
    pub fn steps(self) -> &'static [Step] {
        match self {
            Command::Setup => SETUP,
            Command::CreateUser => CREATE_USER,
            Command::Rotate => ROTATE,
            Command::Migrate => MIGRATE,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Command::Setup => "setup",
            Command::CreateUser => "create-user",
            Command::Rotate => "rotate",
            Command::Migrate => "migrate-inline-policy",
        }
    }

    pub fn fixture(self, url: &str, p: &str) -> Subject {
        match self {
            Command::Setup => Subject::default(),
            Command::CreateUser => Subject {
                user: p.to_string(),
                secret: format!("{p}/smtp"),
                ..Subject::default()
            },
            Command::Rotate => {
                let user = format!("{p}-user");
                let secret = format!("smtp/{p}");
                let old_key = state::smtp_user_with_secret(url, &user, &secret);
                Subject {
                    user,
                    secret,
                    old_key,
                }
            }
            Command::Migrate => {
                state::legacy_user(url, p);
                Subject {
                    user: p.to_string(),
                    ..Subject::default()
                }
            }
        }
    }

    pub fn args(self, s: &Subject) -> Vec<String> {
        let args: Vec<&str> = match self {
            Command::Setup => vec!["setup"],
            Command::CreateUser => vec![
                "create-user",
                &s.user,
                "--region",
                REGION,
                "--secret-name",
                &s.secret,
            ],
            Command::Rotate => vec!["rotate", &s.user, "--secret-name", &s.secret, "--region", REGION],
            Command::Migrate => vec!["migrate-inline-policy", &s.user],
        };
        args.into_iter().map(String::from).collect()
    }

    /// The clean run after a failure: the same command, or the one the message gives.
    pub fn rerun_args(self, s: &Subject, step: &Step, run: &Run) -> Vec<String> {
        let mut args = self.args(s);
        if self == Command::Rotate && step.action == "iam:UpdateAccessKey" {
            assert!(
                run.stderr.contains("--finish"),
                "the message gives the command: {}",
                run.stderr
            );
            args.push("--finish".into());
        }
        args
    }

    /// What a failed run may leave, read back from moto.
    pub fn check_left(self, url: &str, s: &Subject, step: &Step, fault: Fault, run: &Run) {
        let out = run.all_output();
        match self {
            Command::Setup => {
                // Whatever exists is setup's own, not duplicated, and what the re-run builds on.
                let g = group_view(url);
                assert!(g.policies.len() <= 1, "{g:?}");
                assert!(g.attached.iter().all(|a| a == state::POLICY_ARN), "{g:?}");
                // The message says what this run made (on a fresh account); a call without an answer
                // may have taken effect unlisted, and the message says that too.
                let listed_group = out.contains("iam:CreateGroup AWSSESSendingGroupDoNotRename");
                let listed_policy = out.contains("iam:CreatePolicy AmazonSesSendingAccess");
                assert!(!listed_group || g.exists, "{g:?}\n{out}");
                assert!(!listed_policy || !g.policies.is_empty(), "{g:?}\n{out}");
                if !out.contains("may have taken effect") {
                    assert_eq!(listed_group, g.exists, "{g:?}\n{out}");
                    assert_eq!(listed_policy, !g.policies.is_empty(), "{g:?}\n{out}");
                }
                assert!(
                    out.contains("nothing was changed") || out.contains("already done"),
                    "{out}"
                );
            }
            Command::CreateUser => {
                let u = user_view(url, &s.user);
                assert!(!u.exists, "user left behind: {u:?}\n{out}");
                let sv = secret_view(url, &s.secret);
                assert!(!sv.exists, "secret left behind: {sv:?}\n{out}");
                assert!(
                    out.contains("rolled back")
                        || out.contains("nothing had been created")
                        || out.contains("nothing was created"),
                    "the message says what became of the run's changes: {out}"
                );
            }
            Command::Rotate => {
                let u = user_view(url, &s.user);
                let sv = secret_view(url, &s.secret);
                if step.action == "iam:UpdateAccessKey" {
                    // Promoted: the secret holds the new key; the old key is as the message says.
                    let current = sv.key_at("AWSCURRENT").unwrap();
                    assert_ne!(current, s.old_key, "{sv:?}");
                    assert_eq!(u.keys[current], "Active");
                    assert_eq!(sv.key_at("AWSPREVIOUS"), Some(s.old_key.as_str()));
                    let old = &u.keys[&s.old_key];
                    if fault == Fault::Lost {
                        assert_eq!(old, "Inactive", "the lost call took effect");
                    } else {
                        assert_eq!(old, "Active");
                        assert!(out.contains("still active"), "{out}");
                    }
                } else {
                    // Nothing changed: the old key alone, the secret's AWSCURRENT on it, no pending version.
                    assert_eq!(u.keys.len(), 1, "a new key is left: {u:?}\n{out}");
                    assert_eq!(u.keys[&s.old_key], "Active");
                    assert_eq!(sv.key_at("AWSCURRENT"), Some(s.old_key.as_str()), "{sv:?}");
                    let pending = sv.version_with("AWSPENDING");
                    assert!(
                        pending.is_none() || pending == sv.version_with("AWSCURRENT"),
                        "a pending version is left: {sv:?}"
                    );
                }
            }
            Command::Migrate => {
                let u = user_view(url, &s.user);
                let has_policy = u.inline_policies.iter().any(|p| p == state::POLICY);
                // The user can always send: the inline policy goes only once the group is seen.
                assert!(has_policy || u.in_group(), "{u:?}");
                if out.contains("the inline policy is kept") {
                    assert!(has_policy, "the message says the policy is kept: {u:?}\n{out}");
                }
                if out.contains("nothing changed") {
                    assert!(has_policy && !u.in_group(), "{u:?}\n{out}");
                }
                assert!(
                    out.contains("run the command again")
                        || out.contains("nothing changed")
                        || out.contains("no user was changed"),
                    "{out}"
                );
            }
        }
    }

    /// The intended state, after the run (or the clean re-run).
    pub fn check_done(self, url: &str, s: &Subject, proxy: &FaultProxy) {
        match self {
            Command::Setup => group_view(url).assert_ready(),
            Command::CreateUser => {
                let u = user_view(url, &s.user);
                assert!(u.exists && u.in_group(), "{u:?}");
                assert_eq!(u.keys.len(), 1, "exactly the delivered key: {u:?}");
                assert!(u.tags.contains_key("sesctl:create-run"), "{u:?}");
                let key = u.keys.keys().next().unwrap();
                let sv = secret_view(url, &s.secret);
                let value = &sv.values["AWSCURRENT"];
                assert_eq!(value["access_key_id"], key.as_str());
                assert_eq!(value["iam_user_name"], s.user.as_str());
                let secrets = recorded_keys(proxy);
                let secret = secrets.get(key).expect("the delivered key's answer was recorded");
                assert_eq!(
                    value["password"],
                    smtp_password(secret),
                    "the stored password is the key's"
                );
            }
            Command::Rotate => {
                let u = user_view(url, &s.user);
                let sv = secret_view(url, &s.secret);
                let current = sv.key_at("AWSCURRENT").expect("AWSCURRENT").to_string();
                assert_ne!(current, s.old_key, "rotated: {sv:?}");
                assert_eq!(
                    u.active_keys(),
                    [current.as_str()],
                    "only the new key is active: {u:?}"
                );
                assert_eq!(u.keys[&s.old_key], "Inactive", "{u:?}");
                assert_eq!(u.keys.len(), 2, "{u:?}");
                assert_eq!(sv.key_at("AWSPREVIOUS"), Some(s.old_key.as_str()), "{sv:?}");
                let pending = sv.version_with("AWSPENDING");
                assert!(
                    pending.is_none() || pending == sv.version_with("AWSCURRENT"),
                    "{sv:?}"
                );
                let secrets = recorded_keys(proxy);
                let secret = secrets.get(&current).expect("the new key's answer was recorded");
                assert_eq!(sv.values["AWSCURRENT"]["password"], smtp_password(secret));
            }
            Command::Migrate => {
                let u = user_view(url, &s.user);
                assert!(u.in_group(), "{u:?}");
                assert!(u.inline_policies.is_empty(), "{u:?}");
                assert!(!u.tags.contains_key("InvokedBy"), "{u:?}");
            }
        }
    }
}
