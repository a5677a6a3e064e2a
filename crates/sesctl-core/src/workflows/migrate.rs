//! `migrate-inline-policy`: move SMTP users created before 6 September 2024 from their inline user
//! policy `AmazonSesSendingAccess` onto the group `AWSSESSendingGroupDoNotRename`, in the SES developer
//! guide's order.
//!
//! Per user: add to the group; confirm the membership is visible; only then delete the inline policy;
//! then remove the `InvokedBy` tag if its value is `SESConsole`. The membership is confirmed by
//! reading the user's groups (iam:ListGroupsForUser, one call per user) or, when the users were found
//! by an account read and that is cheaper, by reading the group's members (iam:GetGroup, one call
//! per 1,000 members confirming every user at once): see [`Confirm`]. The inline
//! policy is never deleted unless the user was just seen as a member of the group, which `setup`
//! (run once beforehand, see [`super::setup`]) has made grant `ses:SendRawEmail`; so a user stopped at
//! any step keeps at least one way to send. An inline policy that is not exactly `ses:SendRawEmail` on
//! `*` is left alone and reported as needing a decision.
//!
//! The work is split in three: reading users into [`UserState`] ([`read_named`], [`read_account`]),
//! judging each one ([`assess`], pure), and carrying out the steps ([`migrate_users`]) with bounded
//! concurrency. Every user ends in one [`UserOutcome`]; one user's failure never stops the others.
//! What stops a whole run before any user was changed (its users or its sending group could not be
//! read or made ready) is a [`MigrateError`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::setup::{SetupError, SetupState, GROUP, POLICY};
use super::PlannedCall;
use crate::aws::account::UserDetail;
use crate::aws::iam::Iam;
use crate::aws::{Aws, AwsError, ErrorKind};
use crate::policy::differences_from_sending_policy;

/// The tag the SES console put on the SMTP users it created; only this value of it is removed.
pub use crate::vocabulary::{CONSOLE_TAG_KEY as TAG_KEY, CONSOLE_TAG_VALUE as TAG_VALUE};

/// Named users beyond this many are read with one account-wide read (GetAccountAuthorizationDetails,
/// up to 1,000 users a call) instead of three reads per user: at 20 names the per-user reads cost 60
/// calls, which the account read beats in any account of fewer than 60,000 users.
pub const ACCOUNT_READ_FROM: usize = 20;

/// Users per GetAccountAuthorizationDetails page (IAM's maximum).
const ACCOUNT_PAGE_SIZE: i32 = crate::vocabulary::IAM_PAGE_SIZE;

/// Members per iam:GetGroup page (IAM's maximum).
pub const GROUP_PAGE_SIZE: usize = crate::vocabulary::IAM_PAGE_SIZE as usize;

/// Waits between reads of the memberships while a new one is not yet visible (IAM is eventually
/// consistent). Bounded: after the last one the user is reported failed, policy kept.
const CONFIRM_WAITS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// What IAM says about one user, as far as the migration cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserState {
    pub name: String,
    pub exists: bool,
    /// The decoded document of the inline policy `AmazonSesSendingAccess`, if the user has one.
    pub inline_policy: Option<String>,
    /// Whether the user is a member of `AWSSESSendingGroupDoNotRename`.
    pub in_group: bool,
    /// The value of the `InvokedBy` tag, if the user has one.
    pub invoked_by: Option<String>,
}

impl UserState {
    fn missing(name: &str) -> Self {
        UserState {
            name: name.to_string(),
            exists: false,
            inline_policy: None,
            in_group: false,
            invoked_by: None,
        }
    }

    /// Whether `--all` should look at this user: it still has the inline policy or the console's tag.
    pub fn is_candidate(&self) -> bool {
        self.inline_policy.is_some() || self.invoked_by.as_deref() == Some(TAG_VALUE)
    }
}

impl From<&UserDetail> for UserState {
    fn from(u: &UserDetail) -> Self {
        UserState {
            name: u.name.clone(),
            exists: true,
            inline_policy: u.inline_policy(POLICY).map(str::to_string),
            in_group: u.groups.iter().any(|g| g == GROUP),
            invoked_by: u.tag(TAG_KEY).map(str::to_string),
        }
    }
}

/// How a run confirms that its users' memberships are visible before it deletes their inline
/// policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirm {
    /// iam:ListGroupsForUser, one call per user, right after that user's AddUserToGroup.
    UserGroups,
    /// iam:GetGroup (every page) once the run's users were added, confirming all of them at once;
    /// each user's inline policy is then deleted only if that user was among the members read.
    GroupMembers,
}

impl Confirm {
    /// The API call that confirms, in IAM policy form.
    pub fn action(self) -> &'static str {
        match self {
            Confirm::UserGroups => "iam:ListGroupsForUser",
            Confirm::GroupMembers => "iam:GetGroup",
        }
    }
}

/// The cheaper way to confirm `confirming` memberships. `group_members` is the sending group's member
/// count when an account read gave it (`None`: not known, so one read per user, which never costs more
/// than the per-user reads that found the users). A group read costs a call per 1,000 members.
pub fn confirmation(confirming: usize, group_members: Option<usize>) -> Confirm {
    match group_members {
        Some(members) => {
            let pages = (members + confirming).div_ceil(GROUP_PAGE_SIZE).max(1);
            if confirming > pages {
                Confirm::GroupMembers
            } else {
                Confirm::UserGroups
            }
        }
        None => Confirm::UserGroups,
    }
}

/// One step of a user's migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    AddToGroup,
    ConfirmMembership,
    DeleteInlinePolicy,
    RemoveTag,
}

impl Step {
    /// The API call the step makes, in IAM policy form (the confirmation's depends on `confirm`).
    pub fn action(self, confirm: Confirm) -> &'static str {
        match self {
            Step::AddToGroup => "iam:AddUserToGroup",
            Step::ConfirmMembership => confirm.action(),
            Step::DeleteInlinePolicy => "iam:DeleteUserPolicy",
            Step::RemoveTag => "iam:UntagUser",
        }
    }

    /// What the step acts on, for the plan.
    pub fn target(self, user: &str) -> String {
        match self {
            Step::AddToGroup => format!("user {user} to group {GROUP}"),
            Step::ConfirmMembership => format!("user {user}: confirm membership of {GROUP}"),
            Step::DeleteInlinePolicy => format!("inline policy {POLICY} of user {user}"),
            Step::RemoveTag => format!("tag {TAG_KEY}={TAG_VALUE} of user {user}"),
        }
    }
}

/// What a user needs, judged from its state alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    /// Steps to take; `partly` when an earlier run (or a person) already did some of the work.
    Migrate {
        steps: Vec<Step>,
        partly: bool,
        note: Option<String>,
    },
    AlreadyMigrated {
        note: Option<String>,
    },
    /// Nothing is changed; an operator has to look (an edited policy, a user that cannot send).
    NeedsDecision {
        reason: String,
        differences: Vec<String>,
    },
    /// A named user that has neither the inline policy nor the group: not an SMTP user to migrate.
    NotSmtpUser,
    NotFound,
}

/// Judges one user: which steps remain, in the guide's order.
pub fn assess(user: &UserState) -> Assessment {
    if !user.exists {
        return Assessment::NotFound;
    }
    let console_tag = user.invoked_by.as_deref() == Some(TAG_VALUE);
    let tag_note = match user.invoked_by.as_deref() {
        Some(v) if v != TAG_VALUE => Some(format!(
            "tag {TAG_KEY}={v} kept: only {TAG_KEY}={TAG_VALUE} is removed"
        )),
        _ => None,
    };
    match &user.inline_policy {
        Some(document) => {
            let differences = differences_from_sending_policy(document);
            if !differences.is_empty() {
                return Assessment::NeedsDecision {
                    reason: format!(
                        "its inline policy {POLICY} is not exactly {} on *: nothing was changed \
                         (the group would grant something else); decide, then delete or keep the policy yourself",
                        crate::policy::SEND_RAW_EMAIL
                    ),
                    differences,
                };
            }
            let mut steps = Vec::new();
            if !user.in_group {
                steps.push(Step::AddToGroup);
            }
            steps.push(Step::ConfirmMembership);
            steps.push(Step::DeleteInlinePolicy);
            if console_tag {
                steps.push(Step::RemoveTag);
            }
            Assessment::Migrate {
                steps,
                partly: user.in_group,
                note: tag_note,
            }
        }
        None if user.in_group && console_tag => Assessment::Migrate {
            steps: vec![Step::RemoveTag],
            partly: true,
            note: None,
        },
        None if user.in_group => Assessment::AlreadyMigrated { note: tag_note },
        None if console_tag => Assessment::NeedsDecision {
            reason: format!(
                "tagged {TAG_KEY}={TAG_VALUE} but has neither the inline policy {POLICY} nor membership \
                 of {GROUP}, so it cannot send; add it to the group yourself if it should"
            ),
            differences: Vec::new(),
        },
        None => Assessment::NotSmtpUser,
    }
}

/// The users a run looks at, as read.
#[derive(Debug)]
pub struct Read {
    /// Each user's state, or the error reading it, in the order asked for (`--all`: by name).
    pub states: Vec<(String, Result<UserState, AwsError>)>,
    /// How many members the sending group had, when an account read told (see [`confirmation`]).
    pub group_members: Option<usize>,
}

fn members_of_group(users: &[UserDetail]) -> usize {
    users
        .iter()
        .filter(|u| u.groups.iter().any(|g| g == GROUP))
        .count()
}

/// Reads named users, three concurrent reads each (iam:ListGroupsForUser, which also tells whether
/// the user exists; iam:GetUserPolicy; iam:ListUserTags), `concurrency` users at a time. With more
/// than [`ACCOUNT_READ_FROM`] names, one account-wide read is used instead. A user whose reads fail
/// gets its error, in the order of `names`; the account-wide read, when it fails, fails the whole read.
pub async fn read_named(iam: &Iam, names: &[String], concurrency: usize) -> Result<Read, AwsError> {
    if names.len() > ACCOUNT_READ_FROM {
        let users = iam.account_users(Some(ACCOUNT_PAGE_SIZE)).await?;
        let group_members = members_of_group(&users);
        let mut found: HashMap<String, UserState> = users
            .iter()
            .map(|u| (u.name.clone(), UserState::from(u)))
            .collect();
        let states = names
            .iter()
            .map(|n| {
                let state = found.remove(n).unwrap_or_else(|| UserState::missing(n));
                (n.clone(), Ok(state))
            })
            .collect();
        return Ok(Read {
            states,
            group_members: Some(group_members),
        });
    }
    let states = stream::iter(names.iter().cloned())
        .map(|name| async move {
            let state = read_user(iam, &name).await;
            (name, state)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    Ok(Read {
        states,
        group_members: None,
    })
}

async fn read_user(iam: &Iam, name: &str) -> Result<UserState, AwsError> {
    let (groups, policy, tags) = tokio::join!(
        iam.list_groups_for_user(name),
        iam.get_user_policy(name, POLICY),
        iam.list_user_tags(name)
    );
    let groups = match groups {
        Ok(g) => g,
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(UserState::missing(name)),
        Err(e) => return Err(e),
    };
    let tags = match tags {
        Ok(t) => t,
        // Deleted between the reads.
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(UserState::missing(name)),
        Err(e) => return Err(e),
    };
    Ok(UserState {
        name: name.to_string(),
        exists: true,
        inline_policy: policy?,
        in_group: groups.iter().any(|g| g == GROUP),
        invoked_by: tags.into_iter().find(|(k, _)| k == TAG_KEY).map(|(_, v)| v),
    })
}

/// `--all`: every user that still has the inline policy or the console's tag, sorted by name, from
/// iam:GetAccountAuthorizationDetails (Filter=User, every page) — no per-user reads.
pub async fn read_account(iam: &Iam) -> Result<Read, AwsError> {
    let all = iam.account_users(Some(ACCOUNT_PAGE_SIZE)).await?;
    let mut users: Vec<UserState> = all
        .iter()
        .map(UserState::from)
        .filter(UserState::is_candidate)
        .collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Read {
        states: users.into_iter().map(|s| (s.name.clone(), Ok(s))).collect(),
        group_members: Some(members_of_group(&all)),
    })
}

/// Where a user ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every step ran in this run.
    Migrated,
    /// A partly migrated user, finished in this run.
    Finished,
    AlreadyMigrated,
    NeedsDecision,
    /// A named user that is not an SMTP user to migrate (no inline policy, not in the group).
    Skipped,
    NotFound,
    Failed,
    /// `--dry-run` only: the steps that would run.
    WouldMigrate,
}

impl Status {
    /// How the text report names the status.
    pub fn label(self) -> &'static str {
        match self {
            Status::Migrated => "migrated",
            Status::Finished => "finished",
            Status::AlreadyMigrated => "already migrated",
            Status::NeedsDecision => "needs a decision",
            Status::Skipped => "skipped",
            Status::NotFound => "not found",
            Status::Failed => "FAILED",
            Status::WouldMigrate => "would migrate",
        }
    }
}

/// One user's line in the report.
#[derive(Debug, Clone, Serialize)]
pub struct UserOutcome {
    pub user: String,
    pub status: Status,
    /// The API calls that took effect, in order (`--dry-run`: the calls that would be made).
    pub steps_done: Vec<String>,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For an edited inline policy: how it differs from `ses:SendRawEmail` on `*`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
}

impl UserOutcome {
    fn new(user: &str, status: Status) -> Self {
        UserOutcome {
            user: user.to_string(),
            status,
            steps_done: Vec::new(),
            error: None,
            note: None,
            differences: Vec::new(),
        }
    }

    /// The outcome of a user that needs no change (or that this run cannot change), from its
    /// assessment; `None` when there is work to do.
    pub fn without_work(user: &str, assessment: &Assessment) -> Option<UserOutcome> {
        Some(match assessment {
            Assessment::Migrate { .. } => return None,
            Assessment::AlreadyMigrated { note } => UserOutcome {
                note: note.clone(),
                ..UserOutcome::new(user, Status::AlreadyMigrated)
            },
            Assessment::NeedsDecision { reason, differences } => UserOutcome {
                note: Some(reason.clone()),
                differences: differences.clone(),
                ..UserOutcome::new(user, Status::NeedsDecision)
            },
            Assessment::NotSmtpUser => UserOutcome {
                note: Some(format!(
                    "has no inline policy {POLICY} and is not in {GROUP}: nothing to migrate"
                )),
                ..UserOutcome::new(user, Status::Skipped)
            },
            Assessment::NotFound => UserOutcome {
                error: Some(format!("IAM user {user} does not exist; check the name")),
                ..UserOutcome::new(user, Status::NotFound)
            },
        })
    }

    /// A user whose state could not be read.
    pub fn unreadable(user: &str, error: &AwsError) -> UserOutcome {
        UserOutcome {
            error: Some(format!("reading the user failed, nothing changed: {error}")),
            ..UserOutcome::new(user, Status::Failed)
        }
    }

    /// `--dry-run`: the steps a user would go through.
    pub fn planned(user: &str, steps: &[Step], note: Option<String>, confirm: Confirm) -> UserOutcome {
        UserOutcome {
            steps_done: steps.iter().map(|s| s.action(confirm).to_string()).collect(),
            note,
            ..UserOutcome::new(user, Status::WouldMigrate)
        }
    }

    fn is_failure(&self) -> bool {
        matches!(self.status, Status::Failed | Status::NotFound)
    }
}

/// A user with work to do.
#[derive(Debug, Clone)]
pub struct Job {
    pub user: String,
    pub steps: Vec<Step>,
    pub partly: bool,
    pub note: Option<String>,
}

/// How a user's steps ended: all done, or the step that failed and why.
type StepsResult = Result<(), (Step, String)>;

/// Carries out the jobs, `concurrency` users at a time, confirming memberships as `confirm` says;
/// `on_done` is called as each user finishes (for a progress bar). Outcomes come back in the order of
/// `jobs`.
///
/// With [`Confirm::GroupMembers`] the run goes in three rounds: every user's steps before the
/// confirmation (AddUserToGroup), then one read of the group's members for all of them, then the steps
/// after it (DeleteUserPolicy, UntagUser) for the users the read showed. Each user still takes the
/// guide's steps in the guide's order; only the confirmation is shared.
pub async fn migrate_users(
    iam: &Iam,
    jobs: &[Job],
    concurrency: usize,
    confirm: Confirm,
    on_done: impl Fn(&UserOutcome),
) -> Vec<UserOutcome> {
    let concurrency = concurrency.max(1);
    if confirm == Confirm::UserGroups {
        let mut outcomes: Vec<(usize, UserOutcome)> = stream::iter(jobs.iter().enumerate())
            .map(|(i, job)| async move {
                let (mut done, mut gone) = (Vec::new(), false);
                let result = run_steps(iam, &job.user, &job.steps, confirm, &mut done, &mut gone).await;
                (i, outcome(job, done, result, confirm, gone))
            })
            .buffer_unordered(concurrency)
            .inspect(|(_, outcome)| on_done(outcome))
            .collect()
            .await;
        outcomes.sort_by_key(|(i, _)| *i);
        return outcomes.into_iter().map(|(_, o)| o).collect();
    }

    // Round 1: the steps before the confirmation; a user without one finishes here.
    let split = |job: &Job| job.steps.iter().position(|s| *s == Step::ConfirmMembership);
    let first: Vec<(usize, Vec<String>, StepsResult)> = stream::iter(jobs.iter().enumerate())
        .map(|(i, job)| async move {
            let before = match split(job) {
                Some(at) => &job.steps[..at],
                None => &job.steps[..],
            };
            let (mut done, mut gone) = (Vec::new(), false);
            let result = run_steps(iam, &job.user, before, confirm, &mut done, &mut gone).await;
            (i, done, result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut outcomes: Vec<Option<UserOutcome>> = vec![None; jobs.len()];
    let mut pending: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, done, result) in first {
        let job = &jobs[i];
        if result.is_ok() && split(job).is_some() {
            pending.push((i, done));
        } else {
            let o = outcome(job, done, result, confirm, false);
            on_done(&o);
            outcomes[i] = Some(o);
        }
    }

    // Round 2: one read of the group's members confirms every pending user.
    let names: Vec<&str> = pending.iter().map(|(i, _)| jobs[*i].user.as_str()).collect();
    let mut confirmed = confirm_members(iam, &names).await;

    // Round 3: the steps after the confirmation, for the users it showed.
    let rest: Vec<(usize, UserOutcome)> = stream::iter(pending)
        .map(|(i, mut done)| {
            let job = &jobs[i];
            let seen = confirmed
                .remove(job.user.as_str())
                .unwrap_or_else(|| Err("the membership was not confirmed".to_string()));
            async move {
                let mut gone = false;
                let result = match seen {
                    Err(e) => Err((Step::ConfirmMembership, e)),
                    Ok(()) => {
                        done.push(Step::ConfirmMembership.action(confirm).to_string());
                        let after = split(job).map_or(&job.steps[..0], |at| &job.steps[at + 1..]);
                        run_steps(iam, &job.user, after, confirm, &mut done, &mut gone).await
                    }
                };
                (i, outcome(job, done, result, confirm, gone))
            }
        })
        .buffer_unordered(concurrency)
        .inspect(|(_, outcome)| on_done(outcome))
        .collect()
        .await;
    for (i, o) in rest {
        outcomes[i] = Some(o);
    }
    outcomes.into_iter().flatten().collect()
}

/// Runs `steps` for `user` in order, recording each that took effect in `done`; stops at the first
/// failure, returning the step and the error. The inline policy is only ever deleted after the
/// membership was seen (by this function's confirmation, or by the caller's group read).
async fn run_steps(
    iam: &Iam,
    user: &str,
    steps: &[Step],
    confirm: Confirm,
    done: &mut Vec<String>,
    gone: &mut bool,
) -> StepsResult {
    for &step in steps {
        // An operator's interruption: no new step starts (each user's inline policy is still only
        // deleted after its membership was seen, so a user stopped here keeps sending).
        if let Err(i) = crate::interrupt::check() {
            return Err((step, format!("{i} before this step")));
        }
        let result = match step {
            Step::AddToGroup => iam
                .add_user_to_group(GROUP, user)
                .await
                .map_err(|e| e.to_string()),
            Step::ConfirmMembership => match confirm {
                Confirm::UserGroups => confirm_membership(iam, user).await,
                // Confirmed by the caller's group read, never here.
                Confirm::GroupMembers => Err("the membership was not confirmed".to_string()),
            },
            Step::DeleteInlinePolicy => match delete_policy(iam, user, gone).await {
                // Gone already (a retried call that had taken effect, or another run): done. Should
                // the user itself be gone, the next step says so.
                Err(e) if e.is(ErrorKind::NotFound) => Ok(()),
                // No answer: the call may have taken effect. Read it back rather than guess.
                Err(e) => match iam.get_user_policy(user, POLICY).await {
                    Ok(None) => Ok(()),
                    Ok(Some(_)) => Err(format!("{e}; the inline policy is kept")),
                    Err(read) => Err(format!(
                        "{e}; whether the inline policy was deleted could not be read back ({read}); the \
                         user is in the group either way"
                    )),
                },
                Ok(()) => Ok(()),
            },
            Step::RemoveTag => iam.untag_user(user, &[TAG_KEY]).await.map_err(|e| e.to_string()),
        };
        match result {
            Ok(()) => done.push(step.action(confirm).to_string()),
            Err(error) => return Err((step, error)),
        }
    }
    Ok(())
}

/// iam:DeleteUserPolicy attempt by attempt (transient failures retried as the SDK would): a
/// `NoSuchEntity` to the first attempt means another run had deleted the policy (`gone`); after an
/// attempt without an answer it is this run's own deletion, taken effect.
async fn delete_policy(iam: &Iam, user: &str, gone: &mut bool) -> Result<(), crate::aws::AwsError> {
    let attempts = iam.max_attempts();
    let mut pause = std::time::Duration::from_millis(200);
    for attempt in 1.. {
        match iam.delete_user_policy_once(user, POLICY).await {
            Err(e) if e.is(ErrorKind::NotFound) && attempt == 1 => {
                *gone = true;
                return Err(e);
            }
            Err(e)
                if (e.is(ErrorKind::Throttled) && attempt < iam.throttled_attempts())
                    || (attempt < attempts
                        && matches!(e.kind, ErrorKind::Timeout | ErrorKind::Network | ErrorKind::Other)) =>
            {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            other => return other,
        }
    }
    unreachable!("the loop returns")
}

/// A user's outcome from the steps done and how they ended. Whatever failed, the inline policy was only
/// deleted after the membership was seen, so the user is never left without both.
fn outcome(job: &Job, done: Vec<String>, result: StepsResult, confirm: Confirm, gone: bool) -> UserOutcome {
    let user = job.user.as_str();
    if let Err((step, error)) = result {
        let kept = if done.iter().any(|d| d == Step::DeleteInlinePolicy.action(confirm)) {
            "; the inline policy is already deleted and the user is in the group"
        } else if step == Step::DeleteInlinePolicy {
            // The read-back said what became of it.
            ""
        } else {
            "; the inline policy is kept"
        };
        return UserOutcome {
            steps_done: done,
            error: Some(format!("{error}{kept}; run the command again to finish")),
            note: job.note.clone(),
            ..UserOutcome::new(user, Status::Failed)
        };
    }
    // The inline policy was gone when this run came to delete it: another run (or an earlier attempt
    // of this call) had finished the user, so this run says so rather than "migrated".
    let (status, note) = match (gone, job.partly) {
        (true, _) => (
            Status::AlreadyMigrated,
            Some("another run had already deleted the inline policy".to_string()),
        ),
        (false, true) => (Status::Finished, job.note.clone()),
        (false, false) => (Status::Migrated, job.note.clone()),
    };
    UserOutcome {
        steps_done: done,
        note,
        ..UserOutcome::new(user, status)
    }
}

/// Reads the user's groups until the membership shows, waiting a little between reads (bounded by
/// [`CONFIRM_WAITS`]).
async fn confirm_membership(iam: &Iam, user: &str) -> Result<(), String> {
    let mut waits = CONFIRM_WAITS.iter();
    loop {
        let groups = iam.list_groups_for_user(user).await.map_err(|e| e.to_string())?;
        if groups.iter().any(|g| g == GROUP) {
            return Ok(());
        }
        match waits.next() {
            Some(wait) => tokio::time::sleep(*wait).await,
            None => {
                return Err(format!(
                    "iam:ListGroupsForUser does not show user {user} in group {GROUP}, so the inline policy \
                     was not deleted"
                ))
            }
        }
    }
}

/// Reads the group's members (every page) until all of `users` show, waiting a little between reads
/// (bounded by [`CONFIRM_WAITS`]); each user gets `Ok` once seen, or the reason it was not confirmed.
async fn confirm_members<'a>(iam: &Iam, users: &[&'a str]) -> HashMap<&'a str, Result<(), String>> {
    let mut results = HashMap::new();
    let mut waiting: BTreeSet<&'a str> = users.iter().copied().collect();
    let mut waits = CONFIRM_WAITS.iter();
    while !waiting.is_empty() {
        let members: HashSet<String> = match iam.group_members(GROUP).await {
            Ok(m) => m.into_iter().collect(),
            Err(e) => {
                for user in std::mem::take(&mut waiting) {
                    results.insert(user, Err(e.to_string()));
                }
                break;
            }
        };
        waiting.retain(|user| {
            let seen = members.contains(*user);
            if seen {
                results.insert(*user, Ok(()));
            }
            !seen
        });
        if waiting.is_empty() {
            break;
        }
        match waits.next() {
            Some(wait) => tokio::time::sleep(*wait).await,
            None => {
                for user in std::mem::take(&mut waiting) {
                    results.insert(
                        user,
                        Err(format!(
                            "iam:GetGroup does not show user {user} in group {GROUP}, so the inline policy \
                             was not deleted"
                        )),
                    );
                }
            }
        }
    }
    results
}

/// Counts of users by status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub users: usize,
    pub migrated: usize,
    pub finished: usize,
    pub already_migrated: usize,
    pub needs_decision: usize,
    pub skipped: usize,
    pub not_found: usize,
    pub failed: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub would_migrate: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Totals {
    fn of(users: &[UserOutcome]) -> Totals {
        let mut t = Totals {
            users: users.len(),
            ..Totals::default()
        };
        for u in users {
            match u.status {
                Status::Migrated => t.migrated += 1,
                Status::Finished => t.finished += 1,
                Status::AlreadyMigrated => t.already_migrated += 1,
                Status::NeedsDecision => t.needs_decision += 1,
                Status::Skipped => t.skipped += 1,
                Status::NotFound => t.not_found += 1,
                Status::Failed => t.failed += 1,
                Status::WouldMigrate => t.would_migrate += 1,
            }
        }
        t
    }
}

/// What the command did (or, with `--dry-run`, would do), user by user, with totals.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub dry_run: bool,
    /// The setup calls made before the users (dry run: that would be made).
    pub setup: Vec<PlannedCall>,
    pub users: Vec<UserOutcome>,
    pub totals: Totals,
}

impl MigrationReport {
    pub fn new(dry_run: bool, setup: Vec<PlannedCall>, users: Vec<UserOutcome>) -> Self {
        let totals = Totals::of(&users);
        MigrationReport {
            dry_run,
            setup,
            users,
            totals,
        }
    }

    /// Whether any user failed or was not found (exit 1).
    pub fn has_failures(&self) -> bool {
        self.users.iter().any(UserOutcome::is_failure)
    }
}

// ---- one account, read, assessed and migrated: the entry points of a front end ----

/// One account's users, read and assessed (nothing changed): each user's outcome where it is already known, the jobs
/// of the users with work, and the sending group's state where some inline policy is to be deleted.
pub struct Planned {
    outcomes: Vec<Option<UserOutcome>>,
    jobs: Vec<(usize, Job)>,
    setup_state: Option<SetupState>,
    confirm: Confirm,
}

impl Planned {
    /// How many users have work to do.
    pub fn users_with_work(&self) -> usize {
        self.jobs.len()
    }

    /// The setup calls that run before the users (none when the group is ready or not needed).
    pub fn setup_calls(&self) -> Vec<PlannedCall> {
        self.setup_state
            .as_ref()
            .map(|s| s.plan().calls)
            .unwrap_or_default()
    }

    /// `--dry-run`: every user, those with work shown with the steps they would go through.
    pub fn planned(mut self) -> Vec<UserOutcome> {
        for (i, job) in &self.jobs {
            self.outcomes[*i] = Some(UserOutcome::planned(
                &job.user,
                &job.steps,
                job.note.clone(),
                self.confirm,
            ));
        }
        self.outcomes.into_iter().flatten().collect()
    }

    /// Every user, those with work as `done` says, in the order read.
    pub fn finished(mut self, done: Vec<UserOutcome>) -> Vec<UserOutcome> {
        for ((i, _), outcome) in self.jobs.iter().zip(done) {
            self.outcomes[*i] = Some(outcome);
        }
        self.outcomes.into_iter().flatten().collect()
    }
}

/// Why a run stopped before changing any user: its users or its sending group could not be read, or
/// the group could not be made ready. One user's failure is not one of these: it is that user's
/// [`UserOutcome`].
#[derive(Debug)]
pub enum MigrateError {
    /// Finding the users to migrate (every user with the inline policy or the console's tag, from one
    /// account-wide read) failed; nothing was changed.
    FindUsers(AwsError),
    /// Reading the named users failed (the account-wide read used for many names; a single user's
    /// failed read is that user's outcome); nothing was changed.
    ReadUsers(AwsError),
    /// Checking the sending group failed: the caller or the group's state could not be read
    /// ([`SetupError::Aws`]), or a policy of sesctl's name cannot send. No user was changed.
    CheckGroup(SetupError),
    /// Making the sending group ready failed ([`SetupError::Unfinished`] says what setup made, which
    /// stays); no user was changed.
    PrepareGroup(SetupError),
}

impl MigrateError {
    /// The AWS failure behind the error, if one is (a policy of sesctl's name that cannot send has
    /// none).
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            MigrateError::FindUsers(e) | MigrateError::ReadUsers(e) => Some(e),
            MigrateError::CheckGroup(e) | MigrateError::PrepareGroup(e) => e.aws(),
        }
    }
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MigrateError::FindUsers(_) => "finding the users to migrate failed; nothing was changed",
            MigrateError::ReadUsers(_) => "reading the users failed; nothing was changed",
            MigrateError::CheckGroup(_) => "checking the sending group failed; no user was changed",
            MigrateError::PrepareGroup(_) => "making the sending group ready failed; no user was changed",
        })
    }
}

/// The cause is the AWS error of a failed read, or the setup's error.
impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MigrateError::FindUsers(e) | MigrateError::ReadUsers(e) => Some(e),
            MigrateError::CheckGroup(e) | MigrateError::PrepareGroup(e) => Some(e),
        }
    }
}

/// Reads and assesses the users (every candidate with `all`, else `names`) of the account `aws` is
/// signed for. Changes nothing.
pub async fn plan(
    aws: &Aws,
    all: bool,
    names: &[String],
    concurrency: usize,
) -> Result<Planned, MigrateError> {
    let iam = aws.iam();
    let read = if all {
        read_account(&iam).await.map_err(MigrateError::FindUsers)?
    } else {
        read_named(&iam, names, concurrency)
            .await
            .map_err(MigrateError::ReadUsers)?
    };

    // Each user either has work (a job) or its outcome is already known.
    let mut outcomes: Vec<Option<UserOutcome>> = Vec::with_capacity(read.states.len());
    let mut jobs: Vec<(usize, Job)> = Vec::new();
    for (i, (name, state)) in read.states.iter().enumerate() {
        let assessment = match state {
            Ok(s) => assess(s),
            Err(e) => {
                outcomes.push(Some(UserOutcome::unreadable(name, e)));
                continue;
            }
        };
        match assessment {
            Assessment::Migrate { steps, partly, note } => {
                outcomes.push(None);
                jobs.push((
                    i,
                    Job {
                        user: name.clone(),
                        steps,
                        partly,
                        note,
                    },
                ));
            }
            other => outcomes.push(UserOutcome::without_work(name, &other)),
        }
    }

    // Setup runs once, and only when some inline policy is to be deleted: that deletion relies on the
    // group granting ses:SendRawEmail, which `inspect` checks and `apply` ensures.
    let needs_group = jobs
        .iter()
        .any(|(_, j)| j.steps.contains(&Step::DeleteInlinePolicy));
    let setup_state = if needs_group {
        let caller = aws
            .caller()
            .await
            .map_err(|e| MigrateError::CheckGroup(SetupError::Aws(e)))?;
        Some(
            super::setup::inspect(&iam, &caller)
                .await
                .map_err(MigrateError::CheckGroup)?,
        )
    } else {
        None
    };
    let confirming = jobs
        .iter()
        .filter(|(_, j)| j.steps.contains(&Step::ConfirmMembership))
        .count();
    let confirm = confirmation(confirming, read.group_members);
    Ok(Planned {
        outcomes,
        jobs,
        setup_state,
        confirm,
    })
}

/// Makes the sending group ready where the plan needs it. A setup that fails changes no user.
pub async fn prepare(aws: &Aws, plan: &Planned) -> Result<(), MigrateError> {
    if let Some(state) = &plan.setup_state {
        super::setup::apply(&aws.iam(), state)
            .await
            .map_err(MigrateError::PrepareGroup)?;
    }
    Ok(())
}

/// Carries out the plan's jobs, `concurrency` users at a time; `on_done` is called as each user
/// finishes. Returns every user of the plan.
pub async fn run(
    aws: &Aws,
    plan: Planned,
    concurrency: usize,
    on_done: impl Fn(&UserOutcome),
) -> Vec<UserOutcome> {
    let jobs: Vec<Job> = plan.jobs.iter().map(|(_, j)| j.clone()).collect();
    let done = migrate_users(&aws.iam(), &jobs, concurrency, plan.confirm, on_done).await;
    plan.finished(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SENDING_POLICY_DOCUMENT;

    fn user(policy: Option<&str>, in_group: bool, tag: Option<&str>) -> UserState {
        UserState {
            name: "u".into(),
            exists: true,
            inline_policy: policy.map(str::to_string),
            in_group,
            invoked_by: tag.map(str::to_string),
        }
    }

    fn steps(a: Assessment) -> Vec<Step> {
        match a {
            Assessment::Migrate { steps, .. } => steps,
            other => panic!("expected steps, got {other:?}"),
        }
    }

    #[test]
    fn a_legacy_user_takes_the_guides_four_steps_in_order() {
        let s = steps(assess(&user(
            Some(SENDING_POLICY_DOCUMENT),
            false,
            Some(TAG_VALUE),
        )));
        assert_eq!(
            s,
            [
                Step::AddToGroup,
                Step::ConfirmMembership,
                Step::DeleteInlinePolicy,
                Step::RemoveTag
            ]
        );
    }

    #[test]
    fn partly_migrated_users_get_only_what_remains() {
        let a = assess(&user(Some(SENDING_POLICY_DOCUMENT), true, Some(TAG_VALUE)));
        assert!(matches!(a, Assessment::Migrate { partly: true, .. }));
        assert_eq!(
            steps(a),
            [Step::ConfirmMembership, Step::DeleteInlinePolicy, Step::RemoveTag]
        );
        assert_eq!(
            steps(assess(&user(None, true, Some(TAG_VALUE)))),
            [Step::RemoveTag]
        );
    }

    #[test]
    fn deletion_always_follows_a_confirmed_membership() {
        for in_group in [false, true] {
            for tag in [None, Some(TAG_VALUE), Some("Other")] {
                let s = steps(assess(&user(Some(SENDING_POLICY_DOCUMENT), in_group, tag)));
                let confirm = s.iter().position(|x| *x == Step::ConfirmMembership).unwrap();
                let delete = s.iter().position(|x| *x == Step::DeleteInlinePolicy).unwrap();
                assert!(confirm < delete);
                assert_eq!(s.contains(&Step::RemoveTag), tag == Some(TAG_VALUE));
            }
        }
    }

    #[test]
    fn migrated_and_foreign_users_are_left_alone() {
        assert_eq!(
            assess(&user(None, true, None)),
            Assessment::AlreadyMigrated { note: None }
        );
        assert!(matches!(
            assess(&user(None, true, Some("Terraform"))),
            Assessment::AlreadyMigrated { note: Some(_) }
        ));
        assert_eq!(assess(&user(None, false, None)), Assessment::NotSmtpUser);
        assert_eq!(assess(&UserState::missing("x")), Assessment::NotFound);
        assert!(matches!(
            assess(&user(None, false, Some(TAG_VALUE))),
            Assessment::NeedsDecision { .. }
        ));
    }

    #[test]
    fn an_edited_policy_needs_a_decision_with_its_differences() {
        let edited = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:SendRawEmail","ses:SendEmail"],"Resource":"*"}]}"#;
        match assess(&user(Some(edited), true, Some(TAG_VALUE))) {
            Assessment::NeedsDecision { differences, .. } => {
                assert_eq!(differences.len(), 1);
                assert!(differences[0].contains("ses:SendEmail"), "{differences:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_console_users_are_candidates_for_all() {
        assert!(user(Some("{}"), false, None).is_candidate());
        assert!(user(None, true, Some(TAG_VALUE)).is_candidate());
        assert!(!user(None, true, Some("Other")).is_candidate());
        assert!(!user(None, true, None).is_candidate());
    }

    #[test]
    fn the_group_is_read_when_that_takes_fewer_calls_than_a_read_per_user() {
        // Unknown group size (named users read one by one): one read per user.
        assert_eq!(confirmation(500, None), Confirm::UserGroups);
        // 1,000 users joining a group of 10: one page confirms them all.
        assert_eq!(confirmation(1000, Some(10)), Confirm::GroupMembers);
        // One user against a group of 5,000: six pages cost more than one ListGroupsForUser.
        assert_eq!(confirmation(1, Some(5000)), Confirm::UserGroups);
        assert_eq!(confirmation(7, Some(5000)), Confirm::GroupMembers);
        assert_eq!(confirmation(1, Some(0)), Confirm::UserGroups);
        assert_eq!(confirmation(2, Some(0)), Confirm::GroupMembers);
        assert_eq!(
            Step::ConfirmMembership.action(Confirm::UserGroups),
            "iam:ListGroupsForUser"
        );
        assert_eq!(
            Step::ConfirmMembership.action(Confirm::GroupMembers),
            "iam:GetGroup"
        );
    }

    #[test]
    fn a_run_that_stops_says_nothing_was_changed_keeps_its_cause_and_names_no_flag() {
        use std::error::Error as _;
        let aws = AwsError {
            kind: ErrorKind::Throttled,
            action: "iam:GetAccountAuthorizationDetails",
            code: Some("Throttling".into()),
            message: "slow down".into(),
        };
        let chain = |e: &MigrateError| {
            let mut parts = vec![e.to_string()];
            let mut next = e.source();
            while let Some(s) = next {
                parts.push(s.to_string());
                next = s.source();
            }
            parts.join(": ")
        };
        let found = MigrateError::FindUsers(aws.clone());
        assert_eq!(
            chain(&found),
            format!("finding the users to migrate failed; nothing was changed: {aws}")
        );
        let read = MigrateError::ReadUsers(aws.clone());
        assert_eq!(
            chain(&read),
            format!("reading the users failed; nothing was changed: {aws}")
        );
        // A failed read of the group is shown as the AWS error itself, under the check.
        let check = MigrateError::CheckGroup(SetupError::Aws(aws.clone()));
        assert_eq!(
            chain(&check),
            format!("checking the sending group failed; no user was changed: {aws}")
        );
        let prepare = MigrateError::PrepareGroup(SetupError::Unfinished {
            error: aws.clone(),
            changes: Vec::new(),
        });
        let text = chain(&prepare);
        assert!(
            text.starts_with(
                "making the sending group ready failed; no user was changed: the sending group \
                 AWSSESSendingGroupDoNotRename is not ready (nothing was changed)"
            ),
            "{text}"
        );
        assert!(text.ends_with(&format!(": {aws}")), "{text}");
        for e in [&found, &read, &check, &prepare] {
            assert_eq!(
                e.aws().map(|a| a.action),
                Some("iam:GetAccountAuthorizationDetails")
            );
            let text = chain(e);
            assert!(!text.contains("--") && !text.contains("sesctl "), "{text}");
        }
    }

    #[test]
    fn the_report_counts() {
        let users = vec![
            UserOutcome {
                steps_done: vec!["iam:AddUserToGroup".into()],
                error: Some("boom".into()),
                ..UserOutcome::new("a", Status::Failed)
            },
            UserOutcome::new("b", Status::Migrated),
            UserOutcome {
                differences: vec!["statement 1 has a Condition".into()],
                ..UserOutcome::new("c", Status::NeedsDecision)
            },
        ];
        let r = MigrationReport::new(false, Vec::new(), users);
        assert!(r.has_failures());
        assert_eq!(
            (r.totals.failed, r.totals.migrated, r.totals.needs_decision),
            (1, 1, 1)
        );
    }
}
