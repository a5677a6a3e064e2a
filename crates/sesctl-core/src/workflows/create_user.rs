//! `create-user`: what the SES console's "Create SMTP credentials" does, as a plan and an executor.
//!
//! [`prepare`] makes every check that needs AWS before anything changes (the user must not exist, the
//! secret must not exist, the sending group's policy must be sound) and reads what `setup` would do;
//! from that it computes the plan once, a list of [`Step`]s. [`Prepared::plan`] turns the list into the
//! [`Plan`] `--dry-run` shows; [`execute`] runs the same list, stage by stage (a stage is a step and the
//! steps that run beside it):
//!
//! ```text
//! setup (only what is missing)  ‖  iam:CreateUser
//! iam:AddUserToGroup            ‖  iam:CreateAccessKey
//! derive the SMTP password (local)
//! --verify: an SMTP login with the new credential
//! deliver: secretsmanager:CreateSecret, or the front end's file or stdout  ‖  iam:ListAccessKeys
//! ```
//!
//! The user is tagged `sesctl:create-run=<id of this run>` so that a CreateUser whose answer was lost
//! (the call took effect; its retry sees EntityAlreadyExists, or no answer comes at all) is recognised
//! as this run's own user and carried on with, never left behind nor mistaken for someone else's.
//! Each change the executor made (or sent: a call whose answer was lost may have taken effect) goes
//! into a [`Ledger`]. If a step after iam:CreateUser fails, rollback walks the ledger backwards and
//! undoes each entry (secret, access keys, group membership, user), unless rollback is turned off, in
//! which case the error lists what the ledger holds. The group and policy that `setup` ensures stay:
//! they are shared by every SMTP user.
//! Neighbours: [`super::setup`] for the group, [`super::deliver`] for the credential's shapes.
//!
//! Failures are a [`CreateUserError`]: bad input found by the checks (the user or the secret exists),
//! a failed check, or a failed run ([`CreateUserFailed`]: the step, its cause and what became of what
//! the run had created). Their text names no front end's options; a front end adds its own advice.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use super::deliver::{self, DeliverError, Delivered, Sink, SmtpCredential};
use super::setup::{self, SetupError, SetupReport, SetupState, GROUP};
use super::{Plan, PlanNote};
use crate::aws::iam::{Iam, User};
use crate::aws::secrets::Secrets;
use crate::aws::{Aws, AwsError, ErrorKind};
use crate::interrupt::Interrupted;

pub use crate::vocabulary::{MAX_USER_TAGS, TAG_CREATE_RUN};

/// What the operator asked for, already validated.
#[derive(Debug, Clone)]
pub struct Request {
    pub user_name: String,
    pub path: Option<String>,
    pub tags: Vec<(String, String)>,
    /// The SES region the SMTP password is derived for (and where the secret is created).
    pub region: String,
    pub sink: Sink,
    /// Remove what this run created when a later step fails (`--no-rollback` turns it off).
    pub rollback: bool,
    /// `--verify`: log in with the new credential before delivering it, retrying up to the deadline
    /// while the new key propagates.
    pub verify: Option<(crate::smtp::Endpoint, std::time::Duration)>,
    /// The user name is the console-style default (no name was given): when another run took it in
    /// the same second, a suffix is added instead of failing.
    pub default_name: bool,
    /// Where the secret is created, when not in the SES region (`--secret-region`).
    pub secret_location: Option<String>,
    /// The secret's own tags (`--secret-tag`), added to the user's tags and sesctl's.
    pub secret_tags: Vec<(String, String)>,
    /// The secret's description, when not sesctl's default.
    pub secret_description: Option<String>,
}

impl Request {
    /// The region the secret is created in: `--secret-region`, else the SES region.
    pub fn secret_region(&self) -> &str {
        self.secret_location.as_deref().unwrap_or(&self.region)
    }
}

/// The default user name, as the console names them: `ses-smtp-user.YYYYMMDD-HHMMSS` in UTC.
pub fn default_user_name(now: chrono::DateTime<chrono::Utc>) -> String {
    format!("ses-smtp-user.{}", now.format("%Y%m%d-%H%M%S"))
}

/// A default name taken by another run in the same second, made unique with a random suffix.
fn default_name_again(taken: &str) -> String {
    let base: String = taken
        .chars()
        .take("ses-smtp-user.YYYYMMDD-HHMMSS".len())
        .collect();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    format!("{base}-{suffix}")
}

/// A request whose checks passed, with the state `setup` found and the plan made from both.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub request: Request,
    pub setup: SetupState,
    /// The plan, computed once by [`Prepared::new`]: what `--dry-run` prints and `execute` runs.
    steps: Vec<Step>,
}

/// Every check that needs AWS, before any change, all at once: iam:GetUser (the user must not exist),
/// secretsmanager:DescribeSecret (the secret must not exist), sts:GetCallerIdentity and setup's reads.
pub async fn prepare(aws: &Aws, request: Request) -> Result<Prepared, CreateUserError> {
    let iam = aws.iam();
    let secrets = aws.secrets(request.secret_region());
    let mut request = request;
    if request.default_name
        && iam
            .get_user(&request.user_name)
            .await
            .map_err(CreateUserError::Check)?
            .is_some()
    {
        request.user_name = default_name_again(&request.user_name);
    }
    let user_absent = async {
        match iam.get_user(&request.user_name).await {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err(CreateUserError::UserExists {
                user_name: request.user_name.clone(),
            }),
            Err(e) => Err(CreateUserError::Check(e)),
        }
    };
    let secret_absent = async {
        let Sink::SecretsManager { name, .. } = &request.sink else {
            return Ok(());
        };
        deliver::check_secret_absent(&secrets, name)
            .await
            .map_err(|e| match e {
                DeliverError::Aws(e) => CreateUserError::Check(e),
                taken => CreateUserError::Secret(taken),
            })
    };
    let setup_state = async {
        let caller = aws.caller().await.map_err(CreateUserError::Check)?;
        setup::inspect(&iam, &caller).await.map_err(|e| match e {
            SetupError::Aws(e) => CreateUserError::Check(e),
            unsound => CreateUserError::Setup(unsound),
        })
    };
    let ((), (), setup) = tokio::try_join!(user_absent, secret_absent, setup_state)?;
    Ok(Prepared::new(request, setup))
}

/// One step of `create-user`, in the order the plan lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Make the sending group ready: what `setup` lacks (its own steps, run by its executor; none
    /// when the group is ready), beside iam:CreateUser.
    Setup(Vec<setup::Step>),
    /// iam:CreateUser, tagged with the operator's tags and this run's [`TAG_CREATE_RUN`].
    CreateUser,
    /// iam:AddUserToGroup, beside iam:CreateAccessKey.
    AddToGroup,
    /// iam:CreateAccessKey.
    CreateAccessKey,
    /// The SMTP password, derived locally from the new key.
    DerivePassword,
    /// `--verify`: an SMTP login with the new credential, before it is handed over.
    VerifyLogin,
    /// The credential to its sink: secretsmanager:CreateSecret, the CSV file or stdout.
    Deliver,
    /// iam:ListAccessKeys beside the delivery, then the deletion of any key a retried
    /// iam:CreateAccessKey left (its secret was never received).
    DeleteStrayKeys,
}

impl Step {
    /// The step starts together with the one before it (the two do not depend on each other).
    fn beside_previous(&self) -> bool {
        matches!(
            self,
            Step::CreateUser | Step::CreateAccessKey | Step::DeleteStrayKeys
        )
    }
}

/// The plan's steps grouped into stages: a step and those that run beside it.
fn stages(steps: &[Step]) -> Vec<&[Step]> {
    let mut stages = Vec::new();
    let mut rest = steps;
    while !rest.is_empty() {
        let together = 1 + rest[1..].iter().take_while(|s| s.beside_previous()).count();
        let (stage, after) = rest.split_at(together);
        stages.push(stage);
        rest = after;
    }
    stages
}

impl Prepared {
    /// The request with its plan: the decisions, made once from the request and the inspected state.
    pub fn new(request: Request, setup: SetupState) -> Self {
        let mut steps = vec![
            Step::Setup(setup.steps()),
            Step::CreateUser,
            Step::AddToGroup,
            Step::CreateAccessKey,
            Step::DerivePassword,
        ];
        if request.verify.is_some() {
            steps.push(Step::VerifyLogin);
        }
        steps.extend([Step::Deliver, Step::DeleteStrayKeys]);
        Prepared {
            request,
            setup,
            steps,
        }
    }

    /// The plan's steps, in the order `execute` runs them.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The plan as `--dry-run` prints it: each step's call with its target (never a secret), and notes
    /// for what is not an AWS call.
    pub fn plan(&self) -> Plan {
        let r = &self.request;
        let mut plan = Plan::new("create-user");
        for step in &self.steps {
            match step {
                Step::Setup(steps) => {
                    plan.calls.extend(steps.iter().map(setup::Step::call));
                    plan.notes.extend(self.setup.notes(steps));
                }
                Step::CreateUser => {
                    let mut user = format!("user {}", r.user_name);
                    if let Some(p) = &r.path {
                        user.push_str(&format!(" (path {p})"));
                    }
                    if !r.tags.is_empty() {
                        let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        user.push_str(&format!(" tagged {}", tags.join(", ")));
                    }
                    plan.call("iam:CreateUser", user);
                    plan.note(format!(
                        "the user is also tagged {TAG_CREATE_RUN}=<an id of this run>, to recognise it if \
                         iam:CreateUser's answer is lost"
                    ));
                }
                Step::AddToGroup => plan.call(
                    "iam:AddUserToGroup",
                    format!("user {} to group {GROUP}", r.user_name),
                ),
                Step::CreateAccessKey => {
                    plan.call("iam:CreateAccessKey", format!("for user {}", r.user_name))
                }
                Step::DerivePassword => plan.note(format!(
                    "the SMTP password is derived locally for {} ({}:{})",
                    r.region,
                    crate::regions::smtp_host(&r.region),
                    crate::regions::DEFAULT_PORT
                )),
                Step::VerifyLogin => {
                    if let Some((endpoint, deadline)) = &r.verify {
                        plan.note(PlanNote::VerifyLogin {
                            host: endpoint.host.clone(),
                            port: endpoint.port,
                            tls: endpoint.tls,
                            deadline: *deadline,
                        });
                    }
                }
                Step::Deliver => match &r.sink {
                    Sink::SecretsManager { .. } => plan.call(
                        "secretsmanager:CreateSecret",
                        format!(
                            "{} tagged {}={}, {}={}",
                            r.sink.describe(r.secret_region()),
                            deliver::TAG_IAM_USER,
                            r.user_name,
                            deliver::TAG_REGION,
                            r.region
                        ),
                    ),
                    other => plan.note(format!(
                        "the credential is written to {}",
                        other.describe(r.secret_region())
                    )),
                },
                Step::DeleteStrayKeys => plan.call(
                    "iam:ListAccessKeys",
                    format!(
                        "for user {} (a key whose secret was lost is deleted)",
                        r.user_name
                    ),
                ),
            }
        }
        if !r.rollback {
            plan.note(PlanNote::NoRollback);
        }
        plan
    }
}

/// What `create-user` did (nothing secret).
#[derive(Debug, Clone, Serialize)]
pub struct CreateUserReport {
    pub user_name: String,
    pub user_arn: String,
    pub group: String,
    pub access_key_id: String,
    pub smtp_username: String,
    pub region: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub delivered: Delivered,
    pub setup: SetupReport,
    /// The SMTP login made with `--verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<crate::smtp::LoginOk>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Why `create-user` did not create the credential.
#[derive(Debug)]
pub enum CreateUserError {
    /// A read of the checks before any change failed (IAM, STS or Secrets Manager), so nothing was
    /// created.
    Check(AwsError),
    /// The IAM user exists already: create-user never reuses one.
    UserExists { user_name: String },
    /// The secret the credential was to go to is taken ([`DeliverError::is_bad_input`]).
    Secret(DeliverError),
    /// The sending group's policy of sesctl's name cannot send (see [`setup::inspect`]); nothing was
    /// created.
    Setup(SetupError),
    /// A step of the run failed after the run had begun to change things.
    Failed(CreateUserFailed),
}

impl CreateUserError {
    /// Bad input found before anything changed (the user or the secret exists).
    pub fn is_bad_input(&self) -> bool {
        match self {
            CreateUserError::UserExists { .. } => true,
            CreateUserError::Secret(e) => e.is_bad_input(),
            CreateUserError::Check(_) | CreateUserError::Setup(_) | CreateUserError::Failed(_) => false,
        }
    }
}

impl fmt::Display for CreateUserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateUserError::Check(_) => {
                f.write_str("the checks before any change failed, so nothing was created")
            }
            CreateUserError::UserExists { user_name } => write!(
                f,
                "IAM user {user_name} already exists; rotate its SMTP credential instead, or choose another \
                 user name"
            ),
            CreateUserError::Secret(e) => e.fmt(f),
            CreateUserError::Setup(e) => e.fmt(f),
            CreateUserError::Failed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CreateUserError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CreateUserError::Check(e) => Some(e),
            // The others are shown as the error they hold.
            CreateUserError::Secret(e) => e.source(),
            CreateUserError::Setup(e) => e.source(),
            CreateUserError::Failed(e) => e.source(),
            CreateUserError::UserExists { .. } => None,
        }
    }
}

/// A failed run: the step that failed, why, and what became of what the run had created.
#[derive(Debug)]
pub struct CreateUserFailed {
    pub user_name: String,
    pub step: FailedStep,
    pub cause: Cause,
    pub aftermath: Aftermath,
}

/// The step a failed run stopped at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailedStep {
    /// An AWS call, by its action in IAM policy form (e.g. `iam:AddUserToGroup`).
    Call(&'static str),
    /// Making the sending group ready, when no AWS call is to blame.
    Setup,
    /// Adding the user to the group and creating its access key (stopped before they started).
    AddToGroupAndCreateKey,
    /// The SMTP login with the new credential, before it is handed over.
    Login,
    /// Handing the credential to `sink` (stopped before it started); `region` is where a secret goes.
    Delivery { sink: Sink, region: String },
    /// Writing the credential to a file.
    WriteFile(PathBuf),
    /// Writing the credential to the front end's output (the CLI's stdout).
    WriteStdout,
}

impl fmt::Display for FailedStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailedStep::Call(action) => f.write_str(action),
            FailedStep::Setup => f.write_str("setup"),
            FailedStep::AddToGroupAndCreateKey => {
                f.write_str("adding the user to the group and creating its access key")
            }
            FailedStep::Login => f.write_str("the SMTP login"),
            FailedStep::Delivery { sink, region } => {
                write!(f, "delivering the credential to {}", sink.describe(region))
            }
            FailedStep::WriteFile(path) => write!(f, "writing {}", path.display()),
            FailedStep::WriteStdout => f.write_str("writing the credential to stdout"),
        }
    }
}

/// An error that a front end's handover of the credential (a file, stdout) returns; the core shows it
/// with its causes and does not look into it.
pub type HandoverError = Box<dyn std::error::Error + Send + Sync>;

/// The front end's part of the delivery: writes the credential to a sink that is not Secrets Manager
/// (a file, stdout) and says where it went. The CLI passes one that writes the file or stdout.
pub type Handover<'a> = dyn FnMut(&SmtpCredential, &Sink) -> Result<Delivered, HandoverError> + Send + 'a;

/// Why a step failed.
#[derive(Debug)]
pub enum Cause {
    /// An AWS call failed.
    Aws(AwsError),
    /// The operator asked to stop before the step began.
    Interrupted(Interrupted),
    /// Making the sending group ready failed (what it made stays).
    Setup(SetupError),
    /// The SMTP login with the new credential failed.
    Login(anyhow::Error),
    /// The front end's handover failed.
    Handover(HandoverError),
}

impl fmt::Display for Cause {
    /// The cause and the causes behind it, joined by `: `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Aws(e) => e.fmt(f),
            Cause::Interrupted(i) => i.fmt(f),
            Cause::Setup(e) => write_chain(f, e),
            Cause::Login(e) => write!(f, "{e:#}"),
            Cause::Handover(e) => write_chain(f, e.as_ref()),
        }
    }
}

/// An error followed by each of its causes, joined by `: `.
fn write_chain(f: &mut fmt::Formatter<'_>, error: &dyn std::error::Error) -> fmt::Result {
    write!(f, "{error}")?;
    let mut next = error.source();
    while let Some(cause) = next {
        write!(f, ": {cause}")?;
        next = cause.source();
    }
    Ok(())
}

/// What happened to the things a failed run had created.
#[derive(Debug, Clone)]
pub enum Aftermath {
    /// The failure came before anything of this run existed.
    NothingCreated,
    /// Everything was removed again (each removal in words).
    RolledBack(Vec<String>),
    /// Some removals failed: `(what, why)` is left behind.
    RollbackIncomplete {
        removed: Vec<String>,
        left: Vec<(String, String)>,
    },
    /// Rollback was turned off: these exist and were kept.
    Kept(Vec<String>),
    /// iam:CreateUser failed and reading the user back failed too (this error), so whether it took
    /// effect is not known.
    Unknown(AwsError),
}

impl Aftermath {
    /// Whether a secret is among what is left after an incomplete rollback.
    pub fn secret_left(&self) -> bool {
        match self {
            Aftermath::RollbackIncomplete { left, .. } => left.iter().any(|(w, _)| w.starts_with("secret ")),
            _ => false,
        }
    }
}

impl fmt::Display for CreateUserFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "create-user {} failed at {}: {}; ",
            self.user_name, self.step, self.cause
        )?;
        match &self.aftermath {
            Aftermath::NothingCreated => write!(f, "nothing had been created, so nothing was rolled back"),
            Aftermath::RolledBack(done) => write!(
                f,
                "everything this run created was rolled back ({})",
                done.join(", ")
            ),
            Aftermath::RollbackIncomplete { removed, left } => {
                let left: Vec<String> = left.iter().map(|(w, why)| format!("{w} ({why})")).collect();
                write!(
                    f,
                    "rollback was incomplete: {}; could NOT remove {}. Remove what is left once the cause is \
                     fixed (the user carries this run's {TAG_CREATE_RUN} tag, so it counts as an SMTP user)",
                    undone(removed),
                    left.join(", "),
                )
            }
            Aftermath::Unknown(why) => write!(
                f,
                "whether iam:CreateUser took effect could not be checked ({why}): if user {} exists and is \
                 tagged {TAG_CREATE_RUN}, this run made it; remove it before creating it again",
                self.user_name
            ),
            Aftermath::Kept(kept) => write!(
                f,
                "rollback was off: kept for inspection: {}; delete them when done",
                kept.join(", ")
            ),
        }
    }
}

/// What an incomplete rollback did undo, in words.
pub fn undone(removed: &[String]) -> String {
    if removed.is_empty() {
        "nothing was undone".to_string()
    } else {
        format!("undone: {}", removed.join(", "))
    }
}

impl std::error::Error for CreateUserFailed {}

/// A change this run made, or sent (a call whose answer was lost may still have taken effect).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Done {
    /// iam:CreateUser: the user is this run's.
    User,
    /// iam:AddUserToGroup was sent; `confirmed` once it answered.
    Membership { confirmed: bool },
    /// iam:CreateAccessKey was sent: the key whose secret this run holds, once it answered.
    AccessKey(Option<String>),
    /// secretsmanager:CreateSecret was sent: the secret's ARN, once it answered.
    Secret(Option<String>),
    /// The credential reached its sink.
    Delivered,
}

/// What this run did, in the order it did it: what rollback walks back.
type Ledger = super::Ledger<Done>;

impl Ledger {
    /// The key whose secret this run holds.
    fn key(&self) -> Option<&str> {
        self.entries().iter().find_map(|d| match d {
            Done::AccessKey(id) => id.as_deref(),
            _ => None,
        })
    }
}

/// Why a stage stopped the run.
enum Stop {
    /// The step failed; what the ledger holds is rolled back (or kept).
    Failed { step: FailedStep, cause: Cause },
    /// iam:CreateUser failed (`cause`) and reading the user back failed too (`check`).
    Unknown { cause: AwsError, check: AwsError },
}

impl Stop {
    fn failed(step: FailedStep, cause: Cause) -> Self {
        Stop::Failed { step, cause }
    }

    /// An AWS call failed: the step is the call.
    fn aws(e: AwsError) -> Self {
        Stop::Failed {
            step: FailedStep::Call(e.action),
            cause: Cause::Aws(e),
        }
    }
}

/// Carries out a prepared request: runs its plan ([`Prepared::steps`]) stage by stage, recording each
/// change in the ledger; when a stage fails, walks the ledger back (or keeps what it holds when
/// rollback is off). A credential that does not go to Secrets Manager is given to `handover` (the
/// front end writes it to a file or stdout). The error is always [`CreateUserError::Failed`].
pub async fn execute(
    aws: &Aws,
    prepared: Prepared,
    handover: &mut Handover<'_>,
) -> Result<CreateUserReport, CreateUserError> {
    let Prepared {
        request,
        setup: state,
        steps,
    } = prepared;
    let mut run = Run {
        iam: aws.iam(),
        secrets: aws.secrets(request.secret_region()),
        request,
        state,
        run_token: uuid::Uuid::new_v4().to_string(),
        ledger: Ledger::default(),
        warnings: Vec::new(),
        user: None,
        setup: None,
        key: None,
        key_timed_out: false,
        credential: None,
        verified: None,
        delivered: None,
    };
    for stage in stages(&steps) {
        if let Err(stop) = run.stage(stage, handover).await {
            return Err(CreateUserError::Failed(run.stop(stop).await));
        }
    }
    Ok(run.report())
}

/// The executor's state: the request, the ledger, and what earlier steps produced for later ones.
struct Run {
    iam: Iam,
    secrets: Secrets,
    request: Request,
    state: SetupState,
    /// The value of this run's [`TAG_CREATE_RUN`] tag.
    run_token: String,
    ledger: Ledger,
    warnings: Vec<String>,
    user: Option<User>,
    setup: Option<SetupReport>,
    key: Option<crate::aws::iam::NewAccessKey>,
    /// An iam:CreateAccessKey attempt timed out: its key may still land later.
    key_timed_out: bool,
    credential: Option<SmtpCredential>,
    verified: Option<crate::smtp::LoginOk>,
    delivered: Option<Delivered>,
}

impl Run {
    async fn stage(&mut self, stage: &[Step], handover: &mut Handover<'_>) -> Result<(), Stop> {
        match stage {
            [Step::Setup(setup), Step::CreateUser] => self.create_user(setup).await,
            [Step::AddToGroup, Step::CreateAccessKey] => self.add_to_group_and_create_key().await,
            [Step::DerivePassword] => {
                self.derive_password();
                Ok(())
            }
            [Step::VerifyLogin] => self.verify_login().await,
            [Step::Deliver, Step::DeleteStrayKeys] => self.deliver_and_delete_stray_keys(handover).await,
            other => unreachable!("create-user's plan has no stage {other:?}"),
        }
    }

    /// `setup`'s steps ‖ iam:CreateUser.
    async fn create_user(&mut self, setup_steps: &[setup::Step]) -> Result<(), Stop> {
        crate::interrupt::check()
            .map_err(|i| Stop::failed(FailedStep::Call("iam:CreateUser"), Cause::Interrupted(i)))?;
        let iam = &self.iam;
        let mut tags = self.request.tags.clone();
        tags.push((TAG_CREATE_RUN.to_string(), self.run_token.clone()));
        let (setup_done, mut user) = tokio::join!(
            setup::run(iam, &self.state, setup_steps),
            iam.create_user(&self.request.user_name, self.request.path.as_deref(), &tags)
        );
        // A default name that another run took in the same second: a fresh one, a few times.
        for _ in 0..3 {
            match &user {
                Err(e) if self.request.default_name && e.is(ErrorKind::AlreadyExists) => {
                    if matches!(
                        created_by_this_run(iam, &self.request.user_name, &self.run_token).await,
                        Ok(Some(_))
                    ) {
                        break;
                    }
                    let taken = std::mem::take(&mut self.request.user_name);
                    self.request.user_name = default_name_again(&taken);
                    self.warnings.push(format!(
                        "the default name {taken} was taken by another run in the same second; this user is \
                         named {}",
                        self.request.user_name
                    ));
                    user = iam
                        .create_user(&self.request.user_name, self.request.path.as_deref(), &tags)
                        .await;
                }
                _ => break,
            }
        }
        let name = self.request.user_name.as_str();
        let user = match user {
            Ok(u) => u,
            Err(e) => match created_by_this_run(iam, name, &self.run_token).await {
                // The call took effect and its answer was lost: the user is this run's, so go on.
                Ok(Some(u)) => {
                    self.warnings.push(format!(
                        "iam:CreateUser reported a failure ({e}) but had taken effect: user {name} carries \
                         this run's {TAG_CREATE_RUN} tag, so the run went on with it"
                    ));
                    u
                }
                Ok(None) => return Err(Stop::aws(e)),
                Err(check) => return Err(Stop::Unknown { cause: e, check }),
            },
        };
        self.ledger.record(Done::User);
        tracing::debug!("created IAM user {}", user.arn);
        self.user = Some(user);
        match setup_done {
            Ok(report) => {
                self.setup = Some(report);
                Ok(())
            }
            Err(e) => {
                let step = e.aws().map_or(FailedStep::Setup, |a| FailedStep::Call(a.action));
                Err(Stop::failed(step, Cause::Setup(e)))
            }
        }
    }

    /// iam:AddUserToGroup ‖ iam:CreateAccessKey.
    async fn add_to_group_and_create_key(&mut self) -> Result<(), Stop> {
        crate::interrupt::check()
            .map_err(|i| Stop::failed(FailedStep::AddToGroupAndCreateKey, Cause::Interrupted(i)))?;
        let (iam, name) = (&self.iam, self.request.user_name.as_str());
        let (membership, (key, key_timed_out, key_notes)) = tokio::join!(
            while_propagating(|| iam.add_user_to_group(GROUP, name)),
            new_users_key(iam, name)
        );
        self.warnings.extend(key_notes);
        self.key_timed_out = key_timed_out;
        self.ledger.record(Done::Membership {
            confirmed: membership.is_ok(),
        });
        self.ledger
            .record(Done::AccessKey(key.as_ref().ok().map(|k| k.id.clone())));
        match (membership, key) {
            (Ok(()), Ok(key)) => {
                self.key = Some(key);
                Ok(())
            }
            (Err(e), _) | (_, Err(e)) => Err(Stop::aws(e)),
        }
    }

    /// The SMTP password from the new key; the key's secret is dropped once derived.
    fn derive_password(&mut self) {
        let key = self.key.take().expect("the plan creates the key before deriving");
        self.credential = Some(SmtpCredential::derive(
            &self.request.user_name,
            &key.id,
            &key.secret,
            &self.request.region,
        ));
    }

    /// `--verify`: before delivery, so a credential that cannot log in is never handed over; a failure
    /// rolls back like any other step.
    async fn verify_login(&mut self) -> Result<(), Stop> {
        let (Some((endpoint, deadline)), Some(credential)) = (&self.request.verify, &self.credential) else {
            return Ok(());
        };
        let ok = crate::smtp::verify_new_credential(
            &credential.access_key_id,
            &credential.smtp_password,
            endpoint,
            *deadline,
        )
        .await
        .map_err(|e| Stop::failed(FailedStep::Login, Cause::Login(e)))?;
        self.verified = Some(ok);
        Ok(())
    }

    /// The delivery ‖ iam:ListAccessKeys; then any key but the delivered one is deleted.
    async fn deliver_and_delete_stray_keys(&mut self, handover: &mut Handover<'_>) -> Result<(), Stop> {
        let request = &self.request;
        crate::interrupt::check().map_err(|i| {
            Stop::failed(
                FailedStep::Delivery {
                    sink: request.sink.clone(),
                    region: request.secret_region().to_string(),
                },
                Cause::Interrupted(i),
            )
        })?;
        let credential = self
            .credential
            .as_ref()
            .expect("the plan derives before delivering");
        let (iam, name) = (&self.iam, request.user_name.as_str());
        let request_token = uuid::Uuid::new_v4().to_string();
        let deliver = async {
            match &request.sink {
                Sink::SecretsManager {
                    name: secret,
                    kms_key_id,
                } => deliver::store_secret(
                    &self.secrets,
                    secret,
                    kms_key_id.as_deref(),
                    credential,
                    &deliver::SecretExtras {
                        tags: request.tags.iter().chain(&request.secret_tags).cloned().collect(),
                        description: request.secret_description.clone(),
                    },
                    &request_token,
                )
                .await
                .map(|arn| Delivered::SecretsManager {
                    secret_name: secret.clone(),
                    secret_arn: arn,
                })
                .map_err(Stop::aws),
                Sink::CsvFile { path, .. } => handover(credential, &request.sink)
                    .map_err(|e| Stop::failed(FailedStep::WriteFile(path.clone()), Cause::Handover(e))),
                sink => handover(credential, sink)
                    .map_err(|e| Stop::failed(FailedStep::WriteStdout, Cause::Handover(e))),
            }
        };
        let (delivered, keys) = tokio::join!(deliver, iam.list_access_keys(name));
        if matches!(request.sink, Sink::SecretsManager { .. }) {
            let arn = match &delivered {
                Ok(Delivered::SecretsManager { secret_arn, .. }) => Some(secret_arn.clone()),
                _ => None,
            };
            self.ledger.record(Done::Secret(arn));
        }
        let delivered = delivered?;
        self.ledger.record(Done::Delivered);
        self.delivered = Some(delivered);

        // An attempt of iam:CreateAccessKey that timed out may still reach IAM after this run listed
        // the keys: give it the attempt timeout to land, then list again.
        let keys = match (self.key_timed_out, iam.attempt_timeout()) {
            (true, Some(wait)) => {
                tokio::time::sleep(wait).await;
                iam.list_access_keys(name).await
            }
            _ => keys,
        };
        if self.key_timed_out {
            self.warnings.push(
                "an iam:CreateAccessKey attempt timed out: a key it creates after this run ends would have \
                 a secret nobody holds; `sesctl audit` reports a second key on this user if that happens"
                    .to_string(),
            );
        }
        // A retried iam:CreateAccessKey whose first answer was lost leaves a second key whose secret
        // nobody holds. The user is brand new, so every key but the delivered one is such a key.
        match keys {
            Ok(keys) => {
                for k in keys.iter().filter(|k| k.id != credential.access_key_id) {
                    match iam.delete_access_key(name, &k.id).await {
                        Ok(()) => self.warnings.push(format!(
                            "deleted access key {}: a retried iam:CreateAccessKey created it and its secret \
                             was never received",
                            k.id
                        )),
                        Err(e) => self.warnings.push(format!(
                            "access key {} has a secret nobody holds (a retried iam:CreateAccessKey created \
                             it) and could not be deleted ({e}); delete it by hand",
                            k.id
                        )),
                    }
                }
            }
            Err(e) => self.warnings.push(format!(
                "could not list the user's access keys to check for a key left by a retried call ({e})"
            )),
        }
        Ok(())
    }

    /// The report of a run whose every step was done.
    fn report(self) -> CreateUserReport {
        let (Some(user), Some(setup), Some(credential), Some(delivered)) =
            (self.user, self.setup, self.credential, self.delivered)
        else {
            unreachable!("create-user's plan creates the user and delivers the credential");
        };
        CreateUserReport {
            user_name: user.name,
            user_arn: user.arn,
            group: GROUP.to_string(),
            smtp_username: credential.access_key_id.clone(),
            access_key_id: credential.access_key_id.clone(),
            region: credential.region.clone(),
            smtp_host: credential.smtp_host.clone(),
            smtp_port: credential.smtp_port,
            delivered,
            setup,
            verified: self.verified,
            warnings: self.warnings,
        }
    }

    /// Builds the error for a stopped run, walking the ledger back first unless told not to.
    async fn stop(&self, stop: Stop) -> CreateUserFailed {
        let (step, cause, aftermath) = match stop {
            Stop::Unknown { cause, check } => (
                FailedStep::Call(cause.action),
                Cause::Aws(cause),
                Aftermath::Unknown(check),
            ),
            Stop::Failed { step, cause } => {
                tracing::debug!("{step} failed; created so far: {:?}", self.ledger);
                let aftermath = if self.ledger.entries().is_empty() {
                    Aftermath::NothingCreated
                } else if self.request.rollback {
                    self.roll_back().await
                } else {
                    self.keep().await
                };
                (step, cause, aftermath)
            }
        };
        CreateUserFailed {
            user_name: self.request.user_name.clone(),
            step,
            cause,
            aftermath,
        }
    }

    /// Walks the ledger backwards, undoing each entry; IAM's order follows (secret, access keys, group
    /// membership, user). Every key of the user goes (the user is this run's, so all its keys are too,
    /// including one a retried call may have made), and before the user even when no key step ran.
    async fn roll_back(&self) -> Aftermath {
        let name = self.request.user_name.as_str();
        let mut removed = Vec::new();
        let mut left = Vec::new();
        let mut keys_undone = false;
        for done in self.ledger.entries().iter().rev() {
            match done {
                // Stdout and the CSV file cannot be taken back; a secret is its own entry.
                Done::Delivered => {}
                Done::Secret(arn) => {
                    if let Some(arn) = self.our_secret(arn.as_deref()).await {
                        match self.secrets.delete(&arn, None).await {
                            Ok(()) => removed.push(format!("deleted secret {arn}")),
                            Err(e) if e.is(ErrorKind::NotFound) => {}
                            Err(e) => left.push((format!("secret {arn}"), e.to_string())),
                        }
                    }
                }
                Done::AccessKey(_) => {
                    self.delete_keys(&mut removed, &mut left).await;
                    keys_undone = true;
                }
                Done::Membership { .. } => match self.iam.remove_user_from_group(GROUP, name).await {
                    Ok(()) => removed.push(format!("removed {name} from group {GROUP}")),
                    Err(e) if e.is(ErrorKind::NotFound) => {}
                    Err(e) => left.push((format!("membership of {name} in group {GROUP}"), e.to_string())),
                },
                Done::User => {
                    if !keys_undone {
                        self.delete_keys(&mut removed, &mut left).await;
                    }
                    match self.iam.delete_user(name).await {
                        Ok(()) => removed.push(format!("deleted user {name}")),
                        Err(e) if e.is(ErrorKind::NotFound) => {}
                        Err(e) => left.push((format!("user {name}"), e.to_string())),
                    }
                }
            }
        }
        if left.is_empty() {
            Aftermath::RolledBack(removed)
        } else {
            Aftermath::RollbackIncomplete { removed, left }
        }
    }

    /// Deletes every key of the user (the ledger's key if they cannot be listed).
    async fn delete_keys(&self, removed: &mut Vec<String>, left: &mut Vec<(String, String)>) {
        let name = self.request.user_name.as_str();
        for id in self.key_ids().await {
            match self.iam.delete_access_key(name, &id).await {
                Ok(()) => removed.push(format!("deleted access key {id}")),
                Err(e) if e.is(ErrorKind::NotFound) => {}
                Err(e) => left.push((format!("access key {id}"), e.to_string())),
            }
        }
    }

    /// The user's keys (iam:ListAccessKeys), or the ledger's key if they cannot be listed.
    async fn key_ids(&self) -> Vec<String> {
        match self.iam.list_access_keys(&self.request.user_name).await {
            Ok(keys) => keys.into_iter().map(|k| k.id).collect(),
            Err(_) => self.ledger.key().map(str::to_string).into_iter().collect(),
        }
    }

    /// Rollback off (the CLI's `--no-rollback`): what the ledger holds, in its order, naming a key whose
    /// secret never reached its sink. The user's keys are listed whether or not a key step ran.
    async fn keep(&self) -> Aftermath {
        let name = self.request.user_name.as_str();
        let delivered = self.ledger.entries().contains(&Done::Delivered);
        let mut kept = Vec::new();
        let mut keys_listed = false;
        for done in self.ledger.entries() {
            match done {
                Done::User => kept.push(format!("user {name}")),
                Done::Membership { confirmed } => {
                    if *confirmed {
                        kept.push(format!("membership in group {GROUP}"));
                    }
                }
                Done::AccessKey(_) => {
                    kept.extend(self.kept_keys(delivered).await);
                    keys_listed = true;
                }
                Done::Secret(arn) => {
                    if let Some(arn) = self.our_secret(arn.as_deref()).await {
                        kept.push(format!("secret {arn}"));
                    }
                }
                Done::Delivered => {}
            }
        }
        if !keys_listed {
            kept.extend(self.kept_keys(delivered).await);
        }
        Aftermath::Kept(kept)
    }

    async fn kept_keys(&self, delivered: bool) -> Vec<String> {
        let ours = self.ledger.key();
        self.key_ids()
            .await
            .into_iter()
            .map(|id| {
                if delivered && ours == Some(id.as_str()) {
                    format!("access key {id}")
                } else {
                    format!(
                        "access key {id} (its secret was never delivered and cannot be read again: delete \
                         this key)"
                    )
                }
            })
            .collect()
    }

    /// The secret this run created, if it exists: the one CreateSecret answered with, or (when its
    /// answer was lost) a secret of that name tagged with this run's brand-new user.
    async fn our_secret(&self, answered: Option<&str>) -> Option<String> {
        let Sink::SecretsManager { name, .. } = &self.request.sink else {
            return None;
        };
        if let Some(arn) = answered {
            return Some(arn.to_string());
        }
        match self.secrets.describe(name).await {
            Ok(Some(info))
                if info
                    .tags
                    .iter()
                    .any(|(k, v)| k == deliver::TAG_IAM_USER && v == &self.request.user_name) =>
            {
                Some(info.arn)
            }
            _ => None,
        }
    }
}

/// How long a call on a user this run just created retries `NoSuchEntity`: IAM is eventually
/// consistent, and for a few seconds after iam:CreateUser other calls may not see the user yet.
const PROPAGATION: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs `call` again while it answers `NoSuchEntity` (the new user not visible yet), with backoff,
/// until [`PROPAGATION`] has passed.
async fn while_propagating<T, F, Fut>(call: F) -> Result<T, AwsError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let until = std::time::Instant::now() + PROPAGATION;
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        match call().await {
            Err(e) if e.is(ErrorKind::NotFound) && std::time::Instant::now() + pause < until => {
                tracing::debug!(
                    "{}: the new user is not visible yet ({e}); trying again",
                    e.action
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(4));
            }
            other => return other,
        }
    }
}

/// iam:CreateAccessKey for the user this run just created, attempt by attempt: `NoSuchEntity` is
/// retried while the user propagates, a transient failure as the SDK would; after a failed attempt,
/// a key that appeared is that attempt's (the user is brand new and its answer was lost) and is
/// deleted before the next. Also says whether an attempt timed out (its key may still land later).
async fn new_users_key(
    iam: &Iam,
    user: &str,
) -> (Result<crate::aws::iam::NewAccessKey, AwsError>, bool, Vec<String>) {
    let mut timed_out = false;
    let mut notes = Vec::new();
    let mut attempt = 0;
    let mut pause = std::time::Duration::from_millis(200);
    loop {
        attempt += 1;
        let e = match while_propagating(|| iam.create_access_key_once(user)).await {
            Ok(k) => return (Ok(k), timed_out, notes),
            Err(e) => e,
        };
        timed_out |= e.is(ErrorKind::Timeout);
        if !iam.may_retry(&e, attempt) {
            return (Err(e), timed_out, notes);
        }
        if let Ok(keys) = iam.list_access_keys(user).await {
            for stray in keys {
                notes.push(match iam.delete_access_key(user, &stray.id).await {
                    Ok(()) => format!(
                        "deleted access key {}: a failed iam:CreateAccessKey attempt created it and its secret \
                         was never received",
                        stray.id
                    ),
                    Err(d) => format!(
                        "access key {} has a secret nobody holds (a failed iam:CreateAccessKey attempt created \
                         it) and could not be deleted ({d}); delete it by hand",
                        stray.id
                    ),
                });
            }
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

/// After a failed iam:CreateUser: the user, if it exists and carries this run's tag (iam:GetUser,
/// iam:ListUserTags). `None` when there is no such user or it is someone else's.
async fn created_by_this_run(iam: &Iam, name: &str, run_token: &str) -> Result<Option<User>, AwsError> {
    let Some(user) = iam.get_user(name).await? else {
        return Ok(None);
    };
    let tags = match iam.list_user_tags(name).await {
        Ok(tags) => tags,
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(tags
        .iter()
        .any(|(k, v)| k == TAG_CREATE_RUN && v == run_token)
        .then_some(user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const ARN: &str = "arn:aws:iam::123456789012:policy/AmazonSesSendingAccess";

    fn ready() -> SetupState {
        SetupState {
            group_exists: true,
            inline_policy: false,
            managed_policy_exists: true,
            managed_policy_attached: true,
            policy_arn: ARN.into(),
        }
    }

    fn prepared(sink: Sink) -> Prepared {
        prepared_with(sink, ready(), None)
    }

    fn prepared_with(
        sink: Sink,
        setup: SetupState,
        verify: Option<(crate::smtp::Endpoint, std::time::Duration)>,
    ) -> Prepared {
        Prepared::new(
            Request {
                user_name: "app-mailer".into(),
                path: Some("/smtp/".into()),
                tags: vec![("team".into(), "mail".into())],
                region: "eu-west-1".into(),
                sink,
                rollback: true,
                verify,
                default_name: false,
                secret_location: None,
                secret_tags: Vec::new(),
                secret_description: None,
            },
            setup,
        )
    }

    fn secret() -> Sink {
        Sink::SecretsManager {
            name: "smtp/app".into(),
            kms_key_id: None,
        }
    }

    #[test]
    fn a_ready_group_plans_the_users_steps_only() {
        assert_eq!(
            prepared(secret()).steps(),
            [
                Step::Setup(Vec::new()),
                Step::CreateUser,
                Step::AddToGroup,
                Step::CreateAccessKey,
                Step::DerivePassword,
                Step::Deliver,
                Step::DeleteStrayKeys,
            ]
        );
        let plan = prepared(secret()).plan();
        assert_eq!(
            plan.notes[0],
            PlanNote::Text(format!(
                "group {GROUP} already has policy AmazonSesSendingAccess attached"
            ))
        );
    }

    #[test]
    fn what_setup_lacks_comes_first_in_the_plan() {
        let missing = SetupState {
            group_exists: false,
            inline_policy: false,
            managed_policy_exists: false,
            managed_policy_attached: false,
            policy_arn: ARN.into(),
        };
        let p = prepared_with(Sink::StdoutCsv, missing.clone(), None);
        assert_eq!(p.steps()[0], Step::Setup(missing.steps()));
        let actions: Vec<String> = p.plan().calls.into_iter().map(|c| c.action).collect();
        assert_eq!(
            actions,
            [
                "iam:CreatePolicy",
                "iam:CreateGroup",
                "iam:AttachGroupPolicy",
                "iam:CreateUser",
                "iam:AddUserToGroup",
                "iam:CreateAccessKey",
                "iam:ListAccessKeys"
            ]
        );
    }

    #[test]
    fn verify_logs_in_after_deriving_and_before_delivering() {
        let settings = crate::smtp::EndpointSettings {
            host: None,
            port: None,
            implicit_tls: false,
            ca_file: None,
            timeout: std::time::Duration::from_secs(10),
        };
        let endpoint = crate::smtp::Endpoint::new(&settings, "eu-west-1").unwrap();
        let p = prepared_with(
            secret(),
            ready(),
            Some((endpoint, std::time::Duration::from_secs(60))),
        );
        let steps = p.steps();
        let verify = steps.iter().position(|s| *s == Step::VerifyLogin).unwrap();
        assert_eq!(steps[verify - 1], Step::DerivePassword);
        assert_eq!(steps[verify + 1], Step::Deliver);
        assert!(p.plan().notes.contains(&PlanNote::VerifyLogin {
            host: "email-smtp.eu-west-1.amazonaws.com".into(),
            port: 587,
            tls: crate::smtp::TlsMode::Starttls,
            deadline: std::time::Duration::from_secs(60),
        }));
        assert!(!prepared(secret()).steps().contains(&Step::VerifyLogin));
    }

    #[test]
    fn stages_pair_the_steps_that_run_together() {
        let p = prepared(secret());
        let stages: Vec<Vec<Step>> = stages(p.steps()).into_iter().map(<[Step]>::to_vec).collect();
        assert_eq!(
            stages,
            [
                vec![Step::Setup(Vec::new()), Step::CreateUser],
                vec![Step::AddToGroup, Step::CreateAccessKey],
                vec![Step::DerivePassword],
                vec![Step::Deliver, Step::DeleteStrayKeys],
            ]
        );
    }

    #[test]
    fn the_ledger_names_the_key_whose_secret_the_run_holds() {
        let mut ledger = Ledger::default();
        ledger.record(Done::User);
        assert_eq!(ledger.key(), None);
        ledger.record(Done::Membership { confirmed: true });
        ledger.record(Done::AccessKey(Some("AKIAEXAMPLE".into())));
        assert_eq!(ledger.key(), Some("AKIAEXAMPLE"));
    }

    #[test]
    fn default_names_are_the_consoles() {
        let t = chrono::Utc.with_ymd_and_hms(2024, 10, 1, 7, 5, 9).unwrap();
        assert_eq!(default_user_name(t), "ses-smtp-user.20241001-070509");
    }

    #[test]
    fn plan_names_every_call_and_target() {
        let plan = prepared(Sink::SecretsManager {
            name: "smtp/app".into(),
            kms_key_id: None,
        })
        .plan();
        let calls: Vec<(&str, &str)> = plan
            .calls
            .iter()
            .map(|c| (c.action.as_str(), c.target.as_str()))
            .collect();
        assert_eq!(
            calls[0],
            ("iam:CreateUser", "user app-mailer (path /smtp/) tagged team=mail")
        );
        assert_eq!(
            calls[1],
            (
                "iam:AddUserToGroup",
                "user app-mailer to group AWSSESSendingGroupDoNotRename"
            )
        );
        assert_eq!(calls[2], ("iam:CreateAccessKey", "for user app-mailer"));
        assert_eq!(calls[3].0, "secretsmanager:CreateSecret");
        assert!(calls[3].1.starts_with("secret smtp/app in eu-west-1"));
    }

    #[test]
    fn a_csv_plan_makes_no_secrets_manager_call() {
        let plan = prepared(Sink::StdoutCsv).plan();
        assert!(plan
            .calls
            .iter()
            .all(|c| !c.action.starts_with("secretsmanager:")));
        assert!(plan
            .notes
            .iter()
            .any(|n| n.text().is_some_and(|t| t.contains("CSV on stdout"))));
    }

    #[test]
    fn plan_notes_name_no_front_ends_options() {
        let mut p = prepared(Sink::StdoutCsv);
        assert!(!p.plan().notes.contains(&PlanNote::NoRollback));
        p.request.rollback = false;
        let plan = p.plan();
        assert_eq!(plan.notes.last(), Some(&PlanNote::NoRollback));
        for text in plan.notes.iter().filter_map(PlanNote::text) {
            assert!(!text.contains("--") && !text.contains("sesctl "), "{text}");
        }
    }

    #[test]
    fn failures_say_what_became_of_the_created_things() {
        let mut e = CreateUserFailed {
            user_name: "u".into(),
            step: FailedStep::Call("iam:CreateAccessKey"),
            cause: Cause::Interrupted(Interrupted(2)),
            aftermath: Aftermath::RolledBack(vec!["deleted user u".into()]),
        };
        assert!(e
            .to_string()
            .contains("failed at iam:CreateAccessKey: interrupted (SIGINT)"));
        assert!(e.to_string().contains("rolled back (deleted user u)"));
        e.aftermath = Aftermath::RollbackIncomplete {
            removed: vec![],
            left: vec![("user u".into(), "denied".into())],
        };
        assert!(e.to_string().contains("could NOT remove user u (denied)"));
        assert!(!e.aftermath.secret_left());
    }

    #[test]
    fn errors_name_no_front_ends_options() {
        let failed = |step, aftermath| {
            CreateUserFailed {
                user_name: "u".into(),
                step,
                cause: Cause::Interrupted(Interrupted(15)),
                aftermath,
            }
            .to_string()
        };
        let texts = [
            failed(
                FailedStep::Login,
                Aftermath::RollbackIncomplete {
                    removed: vec!["deleted access key AKIAEXAMPLE".into()],
                    left: vec![("secret arn:x".into(), "denied".into())],
                },
            ),
            failed(FailedStep::WriteStdout, Aftermath::Kept(vec!["user u".into()])),
            CreateUserError::UserExists {
                user_name: "u".into(),
            }
            .to_string(),
        ];
        for text in texts {
            assert!(!text.contains("--") && !text.contains("sesctl "), "{text}");
        }
        assert!(CreateUserError::UserExists {
            user_name: "u".into()
        }
        .is_bad_input());
        assert!(!CreateUserError::Setup(SetupError::InlinePolicyCannotSend).is_bad_input());
    }

    #[test]
    fn a_cause_is_shown_with_the_causes_behind_it() {
        let aws = AwsError {
            kind: ErrorKind::Other,
            action: "iam:CreateGroup",
            code: Some("ServiceFailure".into()),
            message: "boom".into(),
        };
        let setup = SetupError::Unfinished {
            error: aws,
            changes: Vec::new(),
        };
        let shown = Cause::Setup(setup).to_string();
        assert!(shown.starts_with("the sending group"), "{shown}");
        assert!(
            shown.ends_with("once the cause is fixed: iam:CreateGroup failed (ServiceFailure): boom"),
            "{shown}"
        );
        let io = std::io::Error::other("disk full");
        assert_eq!(Cause::Handover(Box::new(io)).to_string(), "disk full");
    }
}
