//! `create-user`: what the SES console's "Create SMTP credentials" does, as a plan and an executor.
//!
//! [`prepare`] makes every check that needs AWS before anything changes (the user must not exist, the
//! secret must not exist, the sending group's policy must be sound) and reads what `setup` would do;
//! [`Prepared::plan`] is the `--dry-run` output; [`execute`] makes the changes:
//!
//! ```text
//! setup (only what is missing)  ‖  iam:CreateUser
//! iam:AddUserToGroup            ‖  iam:CreateAccessKey
//! derive the SMTP password (local)
//! deliver: secretsmanager:CreateSecret, or the CSV file, or stdout  ‖  iam:ListAccessKeys
//! ```
//!
//! The user is tagged `sesctl:create-run=<id of this run>` so that a CreateUser whose answer was lost
//! (the call took effect; its retry sees EntityAlreadyExists, or no answer comes at all) is recognised
//! as this run's own user and carried on with, never left behind nor mistaken for someone else's.
//! If a step after iam:CreateUser fails, everything this run created is removed again (secret, access
//! keys, group membership, user), unless rollback is turned off, in which case the error lists what
//! was kept. The group and policy that `setup` ensures stay: they are shared by every SMTP user.
//! Neighbours: [`super::setup`] for the group, [`super::deliver`] for the credential's shapes.

use std::fmt;

use serde::Serialize;

use super::deliver::{self, Delivered, Sink, SmtpCredential};
use super::setup::{self, SetupReport, SetupState, GROUP};
use super::Plan;
use crate::aws::iam::{Iam, User};
use crate::aws::secrets::Secrets;
use crate::aws::{Aws, AwsError, ErrorKind};
use crate::error::usage;

/// Tag put on the user at iam:CreateUser, with a value unique to the run. When CreateUser's answer is
/// lost (the call took effect, the SDK's retry then sees EntityAlreadyExists, or every attempt's
/// answer is lost), this tag tells the run's own user from one someone else created meanwhile, so it
/// is neither left behind nor taken over.
pub const TAG_CREATE_RUN: &str = "sesctl:create-run";

/// Tags the operator may give: IAM allows 50 per user and the run tag takes one.
pub const MAX_USER_TAGS: usize = 49;

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
    /// The shape of the credential on stdout or in the `--csv` file (`--format`); `None` is the
    /// console's CSV (or the JSON result with `-o json`).
    pub format: Option<crate::credential::ExportFormat>,
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

/// A request whose checks passed, with the state `setup` found.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub request: Request,
    pub setup: SetupState,
}

/// Every check that needs AWS, before any change, all at once: iam:GetUser (the user must not exist),
/// secretsmanager:DescribeSecret (the secret must not exist), sts:GetCallerIdentity and setup's reads.
pub async fn prepare(aws: &Aws, request: Request) -> anyhow::Result<Prepared> {
    let iam = aws.iam();
    let secrets = aws.secrets(request.secret_region());
    let mut request = request;
    if request.default_name && iam.get_user(&request.user_name).await?.is_some() {
        request.user_name = default_name_again(&request.user_name);
    }
    let user_absent = async {
        match iam.get_user(&request.user_name).await? {
            None => Ok(()),
            Some(_) => Err(usage(format!(
                "IAM user {0} already exists; to give it a new SMTP credential run `sesctl rotate {0}`, \
                 or choose another user name",
                request.user_name
            ))),
        }
    };
    let secret_absent = async {
        match &request.sink {
            Sink::SecretsManager { name, .. } => deliver::check_secret_absent(&secrets, name).await,
            _ => Ok(()),
        }
    };
    let setup_state = async {
        let caller = aws.caller().await?;
        setup::inspect(&iam, &caller).await
    };
    let ((), (), setup) = tokio::try_join!(user_absent, secret_absent, setup_state)?;
    Ok(Prepared { request, setup })
}

impl Prepared {
    /// The calls `execute` would make, with their targets (never a secret).
    pub fn plan(&self) -> Plan {
        let r = &self.request;
        let mut plan = Plan::new("create-user");
        let setup = self.setup.plan();
        plan.calls.extend(setup.calls);
        plan.notes.extend(setup.notes);
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
        plan.call(
            "iam:AddUserToGroup",
            format!("user {} to group {GROUP}", r.user_name),
        );
        plan.call("iam:CreateAccessKey", format!("for user {}", r.user_name));
        plan.note(format!(
            "the SMTP password is derived locally for {} ({}:{})",
            r.region,
            crate::regions::smtp_host(&r.region),
            crate::regions::DEFAULT_PORT
        ));
        if let Some((endpoint, deadline)) = &r.verify {
            plan.note(format!(
                "--verify: SMTP login at {}:{} ({}) before delivery, retried for up to {} s while the key \
                 propagates; no mail is sent",
                endpoint.host,
                endpoint.port,
                endpoint.tls,
                deadline.as_secs()
            ));
        }
        match &r.sink {
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
        }
        plan.call(
            "iam:ListAccessKeys",
            format!(
                "for user {} (a key whose secret was lost is deleted)",
                r.user_name
            ),
        );
        if !r.rollback {
            plan.note("--no-rollback: if a step fails, what was created is kept and listed");
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

impl fmt::Display for CreateUserReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Created SMTP credential for IAM user {}", self.user_name)?;
        writeln!(f, "  user ARN:        {}", self.user_arn)?;
        writeln!(f, "  group:           {}", self.group)?;
        writeln!(f, "  SMTP host:       {}", self.smtp_host)?;
        writeln!(f, "  SMTP port:       {} (STARTTLS)", self.smtp_port)?;
        writeln!(f, "  SMTP user name:  {}", self.smtp_username)?;
        writeln!(f, "  SMTP password:   in {}", self.delivered)?;
        if let Some(v) = &self.verified {
            writeln!(
                f,
                "  verified:        SMTP login OK at {}:{} ({}, {}, AUTH {})",
                v.host, v.port, v.tls, v.tls_version, v.mechanism
            )?;
        }
        for c in &self.setup.changes {
            writeln!(f, "  setup:           {c}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning:         {w}")?;
        }
        Ok(())
    }
}

/// A failed run: the step that failed, why, and what became of what the run had created.
#[derive(Debug, Clone)]
pub struct CreateUserFailed {
    pub user_name: String,
    /// The step, e.g. `iam:AddUserToGroup`.
    pub step: String,
    pub cause: String,
    pub aftermath: Aftermath,
}

/// What happened to the things a failed run had created.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// `--no-rollback`: these exist and were kept.
    Kept(Vec<String>),
    /// iam:CreateUser failed and reading the user back failed too, so whether it took effect is not
    /// known (the reason is given).
    Unknown(String),
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
                let secret_left = left.iter().any(|(w, _)| w.starts_with("secret "));
                let left: Vec<String> = left.iter().map(|(w, why)| format!("{w} ({why})")).collect();
                write!(
                    f,
                    "rollback was incomplete: {}; could NOT remove {}. Remove what is left with `sesctl \
                     delete-user {}{}` once the cause is fixed (the user carries this run's {TAG_CREATE_RUN} \
                     tag, so it counts as an SMTP user)",
                    if removed.is_empty() {
                        "nothing was undone".to_string()
                    } else {
                        format!("undone: {}", removed.join(", "))
                    },
                    left.join(", "),
                    self.user_name,
                    if secret_left {
                        " --secret-name SECRET --region REGION"
                    } else {
                        ""
                    }
                )
            }
            Aftermath::Unknown(why) => write!(
                f,
                "whether iam:CreateUser took effect could not be checked ({why}): if user {0} exists and is \
                 tagged {TAG_CREATE_RUN}, this run made it; remove it with `sesctl delete-user {0}` before \
                 running create-user again",
                self.user_name
            ),
            Aftermath::Kept(kept) => write!(
                f,
                "--no-rollback: kept for inspection: {}; delete them with `sesctl delete-user {}` when done",
                kept.join(", "),
                self.user_name
            ),
        }
    }
}

impl std::error::Error for CreateUserFailed {}

/// What this run has created so far (what rollback walks back).
#[derive(Debug, Default)]
struct Created {
    user: bool,
    /// iam:AddUserToGroup was sent (it may have taken effect even if its answer was lost).
    membership_sent: bool,
    membership: bool,
    /// The key whose secret this run holds.
    key: Option<String>,
    /// secretsmanager:CreateSecret was sent: `Some(arn)` once it answered.
    secret_sent: bool,
    secret_arn: Option<String>,
    /// The credential reached its sink.
    delivered: bool,
}

/// Carries out a prepared request.
pub async fn execute(
    aws: &Aws,
    prepared: Prepared,
    out: &mut (dyn std::io::Write + Send),
) -> Result<CreateUserReport, CreateUserFailed> {
    let Prepared {
        mut request,
        setup: state,
    } = prepared;
    let iam = aws.iam();
    let secrets = aws.secrets(request.secret_region());
    let mut created = Created::default();

    if let Err(i) = crate::interrupt::check() {
        return Err(fail(&iam, &secrets, &request, created, "iam:CreateUser", i.to_string()).await);
    }
    let run_token = uuid::Uuid::new_v4().to_string();
    let mut tags = request.tags.clone();
    tags.push((TAG_CREATE_RUN.to_string(), run_token.clone()));
    let mut warnings = Vec::new();
    let (setup_done, mut user) = tokio::join!(
        setup::apply(&iam, &state),
        iam.create_user(&request.user_name, request.path.as_deref(), &tags)
    );
    // A default name that another run took in the same second: a fresh one, a few times.
    for _ in 0..3 {
        match &user {
            Err(e) if request.default_name && e.is(ErrorKind::AlreadyExists) => {
                if matches!(
                    created_by_this_run(&iam, &request.user_name, &run_token).await,
                    Ok(Some(_))
                ) {
                    break;
                }
                let taken = std::mem::take(&mut request.user_name);
                request.user_name = default_name_again(&taken);
                warnings.push(format!(
                    "the default name {taken} was taken by another run in the same second; this user is \
                     named {}",
                    request.user_name
                ));
                user = iam
                    .create_user(&request.user_name, request.path.as_deref(), &tags)
                    .await;
            }
            _ => break,
        }
    }
    let name = request.user_name.as_str();
    let user = match user {
        Ok(u) => u,
        Err(e) => match created_by_this_run(&iam, name, &run_token).await {
            // The call took effect and its answer was lost: the user is this run's, so go on.
            Ok(Some(u)) => {
                warnings.push(format!(
                    "iam:CreateUser reported a failure ({e}) but had taken effect: user {name} carries this \
                     run's {TAG_CREATE_RUN} tag, so the run went on with it"
                ));
                u
            }
            Ok(None) => return Err(fail(&iam, &secrets, &request, created, e.action, e.to_string()).await),
            Err(check) => {
                return Err(CreateUserFailed {
                    user_name: request.user_name.clone(),
                    step: e.action.to_string(),
                    cause: e.to_string(),
                    aftermath: Aftermath::Unknown(check.to_string()),
                })
            }
        },
    };
    created.user = true;
    tracing::debug!("created IAM user {}", user.arn);
    let setup_report = match setup_done {
        Ok(r) => r,
        Err(e) => {
            let step = e.downcast_ref::<AwsError>().map(|a| a.action).unwrap_or("setup");
            return Err(fail(&iam, &secrets, &request, created, step, format!("{e:#}")).await);
        }
    };

    if let Err(i) = crate::interrupt::check() {
        let step = "adding the user to the group and creating its access key".to_string();
        return Err(fail_owned(&iam, &secrets, &request, created, step, i.to_string()).await);
    }
    created.membership_sent = true;
    let (membership, (key, key_timed_out, key_notes)) = tokio::join!(
        while_propagating(|| iam.add_user_to_group(GROUP, name)),
        new_users_key(&iam, name)
    );
    warnings.extend(key_notes);
    created.membership = membership.is_ok();
    if let Ok(k) = &key {
        created.key = Some(k.id.clone());
    }
    let key = match (membership, key) {
        (Ok(()), Ok(key)) => key,
        (Err(e), _) | (_, Err(e)) => {
            return Err(fail(&iam, &secrets, &request, created, e.action, e.to_string()).await)
        }
    };

    let credential = SmtpCredential::derive(name, &key.id, &key.secret, &request.region);
    drop(key);

    // --verify: before delivery, so a credential that cannot log in is never handed over; a failure
    // rolls back like any other step.
    let verified = match &request.verify {
        Some((endpoint, deadline)) => {
            match crate::smtp::verify_new_credential(
                &credential.access_key_id,
                &credential.smtp_password,
                endpoint,
                *deadline,
            )
            .await
            {
                Ok(ok) => Some(ok),
                Err(e) => {
                    let step = "the SMTP login (--verify)".to_string();
                    return Err(fail_owned(&iam, &secrets, &request, created, step, format!("{e:#}")).await);
                }
            }
        }
        None => None,
    };

    if let Err(i) = crate::interrupt::check() {
        let step = format!(
            "delivering the credential to {}",
            request.sink.describe(request.secret_region())
        );
        return Err(fail_owned(&iam, &secrets, &request, created, step, i.to_string()).await);
    }
    let request_token = uuid::Uuid::new_v4().to_string();
    let deliver = async {
        match &request.sink {
            Sink::SecretsManager {
                name: secret,
                kms_key_id,
            } => deliver::store_secret(
                &secrets,
                secret,
                kms_key_id.as_deref(),
                &credential,
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
            .map_err(|e| (e.action.to_string(), e.to_string())),
            Sink::CsvFile { path, force } => {
                deliver::write_csv_file(path, *force, &credential, request.format)
                    .map(|()| Delivered::CsvFile { path: path.clone() })
                    .map_err(|e| (format!("writing {}", path.display()), format!("{e:#}")))
            }
            sink => deliver::write_to(out, sink, &credential, request.format)
                .map(|()| Delivered::Stdout)
                .map_err(|e| ("writing the credential to stdout".to_string(), e.to_string())),
        }
    };
    created.secret_sent = matches!(request.sink, Sink::SecretsManager { .. });
    let (delivered, keys) = tokio::join!(deliver, iam.list_access_keys(name));
    let delivered = match delivered {
        Ok(d) => {
            created.delivered = true;
            if let Delivered::SecretsManager { secret_arn, .. } = &d {
                created.secret_arn = Some(secret_arn.clone());
            }
            d
        }
        Err((step, cause)) => {
            return Err(fail_owned(&iam, &secrets, &request, created, step, cause).await);
        }
    };

    // An attempt of iam:CreateAccessKey that timed out may still reach IAM after this run listed the
    // keys: give it the attempt timeout to land, then list again.
    let keys = match (key_timed_out, iam.attempt_timeout()) {
        (true, Some(wait)) => {
            tokio::time::sleep(wait).await;
            iam.list_access_keys(name).await
        }
        _ => keys,
    };
    if key_timed_out {
        warnings.push(
            "an iam:CreateAccessKey attempt timed out: a key it creates after this run ends would have a \
             secret nobody holds; `sesctl audit` reports a second key on this user if that happens"
                .to_string(),
        );
    }
    // A retried iam:CreateAccessKey whose first answer was lost leaves a second key whose secret
    // nobody holds. The user is brand new, so every key but the delivered one is such a key.
    match keys {
        Ok(keys) => {
            for k in keys.iter().filter(|k| k.id != credential.access_key_id) {
                match iam.delete_access_key(name, &k.id).await {
                    Ok(()) => warnings.push(format!(
                        "deleted access key {}: a retried iam:CreateAccessKey created it and its secret was \
                         never received",
                        k.id
                    )),
                    Err(e) => warnings.push(format!(
                        "access key {} has a secret nobody holds (a retried iam:CreateAccessKey created \
                         it) and could not be deleted ({e}); delete it by hand",
                        k.id
                    )),
                }
            }
        }
        Err(e) => warnings.push(format!(
            "could not list the user's access keys to check for a key left by a retried call ({e})"
        )),
    }

    Ok(CreateUserReport {
        user_name: user.name,
        user_arn: user.arn,
        group: GROUP.to_string(),
        smtp_username: credential.access_key_id.clone(),
        access_key_id: credential.access_key_id.clone(),
        region: credential.region.clone(),
        smtp_host: credential.smtp_host.clone(),
        smtp_port: credential.smtp_port,
        delivered,
        setup: setup_report,
        verified,
        warnings,
    })
}

/// After a failed iam:CreateUser: the user, if it exists and carries this run's tag (iam:GetUser,
/// iam:ListUserTags). `None` when there is no such user or it is someone else's.
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
    let attempts = iam.max_attempts();
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
        let transient = matches!(
            e.kind,
            ErrorKind::Throttled | ErrorKind::Timeout | ErrorKind::Network | ErrorKind::Other
        );
        let limit = if e.is(ErrorKind::Throttled) {
            iam.throttled_attempts()
        } else {
            attempts
        };
        if !transient || attempt >= limit {
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

async fn fail(
    iam: &Iam,
    secrets: &Secrets,
    request: &Request,
    created: Created,
    step: &str,
    cause: String,
) -> CreateUserFailed {
    fail_owned(iam, secrets, request, created, step.to_string(), cause).await
}

/// Builds the error for a failed step, rolling back first unless told not to.
async fn fail_owned(
    iam: &Iam,
    secrets: &Secrets,
    request: &Request,
    created: Created,
    step: String,
    cause: String,
) -> CreateUserFailed {
    tracing::debug!("{step} failed; created so far: {created:?}");
    let aftermath = if !created.user {
        Aftermath::NothingCreated
    } else if request.rollback {
        roll_back(iam, secrets, request, &created).await
    } else {
        keep(iam, secrets, request, &created).await
    };
    CreateUserFailed {
        user_name: request.user_name.clone(),
        step,
        cause,
        aftermath,
    }
}

/// The secret this run created, if it exists: the one CreateSecret answered with, or (when its
/// answer was lost) a secret of that name tagged with this run's brand-new user.
async fn our_secret(secrets: &Secrets, request: &Request, created: &Created) -> Option<String> {
    let Sink::SecretsManager { name, .. } = &request.sink else {
        return None;
    };
    if let Some(arn) = &created.secret_arn {
        return Some(arn.clone());
    }
    if !created.secret_sent {
        return None;
    }
    match secrets.describe(name).await {
        Ok(Some(info))
            if info
                .tags
                .iter()
                .any(|(k, v)| k == deliver::TAG_IAM_USER && v == &request.user_name) =>
        {
            Some(info.arn)
        }
        _ => None,
    }
}

/// Removes what this run created, in IAM's required order: secret, access keys, group membership,
/// user. Every key of the user goes (the user is this run's, so all its keys are too, including one
/// a retried call may have made).
async fn roll_back(iam: &Iam, secrets: &Secrets, request: &Request, created: &Created) -> Aftermath {
    let name = request.user_name.as_str();
    let mut removed = Vec::new();
    let mut left = Vec::new();

    if let Some(arn) = our_secret(secrets, request, created).await {
        match secrets.delete(&arn, None).await {
            Ok(()) => removed.push(format!("deleted secret {arn}")),
            Err(e) if e.is(ErrorKind::NotFound) => {}
            Err(e) => left.push((format!("secret {arn}"), e.to_string())),
        }
    }

    let keys = match iam.list_access_keys(name).await {
        Ok(keys) => keys.into_iter().map(|k| k.id).collect(),
        Err(_) => created.key.iter().cloned().collect::<Vec<_>>(),
    };
    for id in keys {
        match iam.delete_access_key(name, &id).await {
            Ok(()) => removed.push(format!("deleted access key {id}")),
            Err(e) if e.is(ErrorKind::NotFound) => {}
            Err(e) => left.push((format!("access key {id}"), e.to_string())),
        }
    }

    if created.membership_sent {
        match iam.remove_user_from_group(GROUP, name).await {
            Ok(()) => removed.push(format!("removed {name} from group {GROUP}")),
            Err(e) if e.is(ErrorKind::NotFound) => {}
            Err(e) => left.push((format!("membership of {name} in group {GROUP}"), e.to_string())),
        }
    }

    match iam.delete_user(name).await {
        Ok(()) => removed.push(format!("deleted user {name}")),
        Err(e) if e.is(ErrorKind::NotFound) => {}
        Err(e) => left.push((format!("user {name}"), e.to_string())),
    }

    if left.is_empty() {
        Aftermath::RolledBack(removed)
    } else {
        Aftermath::RollbackIncomplete { removed, left }
    }
}

/// `--no-rollback`: lists what exists, naming a key whose secret never reached its sink.
async fn keep(iam: &Iam, secrets: &Secrets, request: &Request, created: &Created) -> Aftermath {
    let name = request.user_name.as_str();
    let mut kept = vec![format!("user {name}")];
    if created.membership {
        kept.push(format!("membership in group {GROUP}"));
    }
    let keys: Vec<String> = match iam.list_access_keys(name).await {
        Ok(keys) => keys.into_iter().map(|k| k.id).collect(),
        Err(_) => created.key.iter().cloned().collect(),
    };
    for id in keys {
        if created.delivered && created.key.as_deref() == Some(id.as_str()) {
            kept.push(format!("access key {id}"));
        } else {
            kept.push(format!(
                "access key {id} (its secret was never delivered and cannot be read again: delete this key)"
            ));
        }
    }
    if let Some(arn) = our_secret(secrets, request, created).await {
        kept.push(format!("secret {arn}"));
    }
    Aftermath::Kept(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn prepared(sink: Sink) -> Prepared {
        Prepared {
            request: Request {
                user_name: "app-mailer".into(),
                path: Some("/smtp/".into()),
                tags: vec![("team".into(), "mail".into())],
                region: "eu-west-1".into(),
                sink,
                rollback: true,
                verify: None,
                default_name: false,
                secret_location: None,
                secret_tags: Vec::new(),
                secret_description: None,
                format: None,
            },
            setup: SetupState {
                group_exists: true,
                inline_policy: false,
                managed_policy_exists: true,
                managed_policy_attached: true,
                policy_arn: "arn:aws:iam::123456789012:policy/AmazonSesSendingAccess".into(),
            },
        }
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
        assert!(plan.notes.iter().any(|n| n.contains("CSV on stdout")));
    }

    #[test]
    fn failures_say_what_became_of_the_created_things() {
        let mut e = CreateUserFailed {
            user_name: "u".into(),
            step: "iam:CreateAccessKey".into(),
            cause: "iam:CreateAccessKey failed (ServiceFailure): boom".into(),
            aftermath: Aftermath::RolledBack(vec!["deleted user u".into()]),
        };
        assert!(e.to_string().contains("failed at iam:CreateAccessKey"));
        assert!(e.to_string().contains("rolled back (deleted user u)"));
        e.aftermath = Aftermath::RollbackIncomplete {
            removed: vec![],
            left: vec![("user u".into(), "denied".into())],
        };
        assert!(e.to_string().contains("could NOT remove user u (denied)"));
    }
}
