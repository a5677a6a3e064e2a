//! One file per command: it turns parsed flags into settings (checking them against the environment),
//! calls a workflow, and prints the report. Shared here: the [`Context`] every command gets.

pub mod accounts;
pub mod audit;
pub mod create_user;
pub mod delete_user;
pub mod derive;
pub mod export;
pub mod list;
pub mod migrate_inline_policy;
pub mod regions;
pub mod rotate;
pub mod setup;
pub mod verify;

use std::time::Duration;

use anyhow::Context as _;
use clap::CommandFactory;
use tokio::sync::OnceCell;

use crate::aws::{Aws, AwsOptions};
use crate::cli::{Cli, Command, GlobalArgs, Shell};
use crate::error::{usage, Outcome};
use crate::output::Printer;

/// What every command gets: the global options, the printer, and AWS loaded on first use (offline
/// commands never load it).
pub struct Context {
    pub global: GlobalArgs,
    pub printer: Printer,
    aws: OnceCell<Aws>,
}

impl Context {
    pub fn new(global: GlobalArgs) -> Self {
        let printer = Printer::new(&global);
        Context {
            global,
            printer,
            aws: OnceCell::new(),
        }
    }

    /// The AWS options from the global flags.
    pub fn aws_options(&self) -> anyhow::Result<AwsOptions> {
        if let Some(url) = &self.global.endpoint_url {
            crate::validate::endpoint_url(url)?;
        }
        crate::validate::aws_environment()?;
        Ok(AwsOptions {
            profile: self.global.profile.clone(),
            region: self.single_region()?.map(str::to_string),
            endpoint_url: self.global.endpoint_url.clone(),
            max_attempts: self.global.max_attempts,
            attempt_timeout: Duration::from_secs(self.global.api_timeout),
        })
    }

    /// AWS, loaded once, with credentials checked so that a missing credential is reported as such.
    /// The AWS CLI's conventions (profile, CA bundle, `[services]` endpoints) are resolved first: an
    /// unknown profile or an unreadable CA bundle is a usage error before any AWS call.
    pub async fn aws(&self) -> anyhow::Result<&Aws> {
        let options = self.aws_options()?;
        self.aws
            .get_or_try_init(|| async {
                let conventions = crate::aws::Conventions::resolve(&options)
                    .await
                    .map_err(crate::validate::aws_settings_error)?;
                let aws = Aws::load_with(&options, conventions).await;
                aws.check_credentials().await?;
                Ok::<_, anyhow::Error>(aws)
            })
            .await
    }

    /// `--accounts`, parsed (checked before any call in [`run`]); `None` for the caller's account alone.
    pub fn accounts(&self) -> anyhow::Result<Option<accounts::Selection>> {
        self.global.accounts.as_deref().map(accounts::parse).transpose()
    }

    /// `--region`, given at most once (only `derive` takes several).
    pub fn single_region(&self) -> anyhow::Result<Option<&str>> {
        match self.global.region.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.as_str())),
            many => Err(usage(format!(
                "--region is given {} times; only `derive` takes more than one",
                many.len()
            ))),
        }
    }

    /// The SES region for an SMTP credential: `--region`, else the AWS config chain; checked against
    /// the table. None found is a usage error.
    pub async fn smtp_region(&self, allow_unknown: bool) -> anyhow::Result<String> {
        let region = match self.single_region()? {
            Some(r) => r.to_string(),
            None => self.aws().await?.region().ok_or_else(|| {
                usage(
                    "no region given: pass --region REGION (or set AWS_REGION or a profile region) \
                       for the SES region the SMTP credential is for",
                )
            })?,
        };
        crate::regions::check(&region, allow_unknown).map_err(|e| usage(e.to_string()))
    }

    /// Asks the operator to confirm a destructive step; `--yes` skips it. Off a terminal, without
    /// `--yes`, it refuses (exit 2) rather than guess.
    pub fn confirm(&self, question: &str) -> anyhow::Result<bool> {
        use std::io::{BufRead, IsTerminal, Write};
        if self.global.yes {
            return Ok(true);
        }
        if !std::io::stdin().is_terminal() {
            return Err(usage(format!(
                "{question} needs confirmation: stdin is not a terminal, so pass --yes"
            )));
        }
        eprint!("{question} [y/N] ");
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("reading the confirmation")?;
        Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
    }
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let mut global = cli.global;
    global.output = output_format(&global).await?;
    let ctx = Context::new(global);
    if ctx.global.output == crate::cli::OutputFormat::Csv
        && !matches!(cli.command, Command::Audit(_) | Command::List(_))
    {
        return Err(usage(
            "-o csv is for `audit` and `list`; this command prints text or JSON (-o json)",
        ));
    }
    if let Some(spec) = &ctx.global.accounts {
        match &cli.command {
            Command::Audit(_) | Command::List(_) | Command::Setup => {}
            Command::MigrateInlinePolicy(args) if args.all => {}
            Command::MigrateInlinePolicy(_) => {
                return Err(usage(
                    "migrate-inline-policy --accounts takes --all (the users are found in each account), not user names",
                ))
            }
            _ => {
                return Err(usage(
                    "--accounts is for `audit`, `list`, `setup` and `migrate-inline-policy --all`",
                ))
            }
        }
        accounts::parse(spec)?;
    }
    // Commands that call AWS check how to reach it before anything else (offline ones never look).
    if !matches!(
        cli.command,
        Command::Derive(_) | Command::Regions | Command::Completions(_) | Command::Man(_)
    ) {
        crate::aws::Conventions::resolve(&ctx.aws_options()?)
            .await
            .map_err(crate::validate::aws_settings_error)?;
    }
    match cli.command {
        Command::Derive(args) => derive::exec(&ctx, args).await,
        Command::Regions => regions::exec(&ctx),
        Command::Setup => setup::exec(&ctx).await,
        Command::CreateUser(args) => create_user::exec(&ctx, args).await,
        Command::Rotate(args) => rotate::exec(&ctx, args).await,
        Command::MigrateInlinePolicy(args) => migrate_inline_policy::exec(&ctx, args).await,
        Command::Audit(args) => audit::exec(&ctx, args).await,
        Command::List(args) => list::exec(&ctx, args).await,
        Command::DeleteUser(args) => delete_user::exec(&ctx, args).await,
        Command::Verify(args) => verify::exec(&ctx, args).await,
        Command::Export(args) => export::exec(&ctx, args).await,
        Command::Completions(args) => completions(args.shell),
        Command::Man(args) => man(args.command.as_deref()),
    }
}

/// `-o`, else `AWS_DEFAULT_OUTPUT`, else the profile's `output`, else text ([`crate::output::choose_format`]).
async fn output_format(global: &GlobalArgs) -> anyhow::Result<crate::cli::OutputFormat> {
    if let Some(format) = global.output_flag {
        return Ok(format);
    }
    let env = std::env::var("AWS_DEFAULT_OUTPUT").ok();
    let profile = global
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".to_string());
    let setting = if env.as_deref().is_some_and(|v| !v.trim().is_empty()) {
        None
    } else {
        sesctl_core::aws::conventions::profile_setting(global.profile.as_deref(), "output").await
    };
    crate::output::choose_format(
        None,
        env.as_deref(),
        setting.as_deref().map(|v| (profile.as_str(), v)),
    )
}

fn completions(shell: Shell) -> anyhow::Result<Outcome> {
    use clap_complete::Shell as S;
    let shell = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
        Shell::Elvish => S::Elvish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "sesctl", &mut out);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(Outcome::Done)
}

fn man(command: Option<&str>) -> anyhow::Result<Outcome> {
    let mut root = Cli::command();
    // Building propagates the global options into each command, so its page lists them too.
    root.build();
    let page = match command {
        None => root,
        Some(name) => {
            let names: Vec<String> = root.get_subcommands().map(|c| c.get_name().to_string()).collect();
            let sub = root
                .get_subcommands()
                .find(|c| c.get_name() == name)
                .cloned()
                .ok_or_else(|| usage(format!("no command `{name}`; commands: {}", names.join(", "))))?;
            // The page is named sesctl-COMMAND(1), as git and cargo name theirs.
            // clap keeps names as 'static strings; this one lives until the process exits anyway.
            let full: &'static str = Box::leak(format!("sesctl-{name}").into_boxed_str());
            sub.name(full).bin_name(full)
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
    Ok(Outcome::Done)
}

/// The SMTP endpoint for a credential of `region` from the `--smtp-host`, `--port`, `--tls`,
/// `--ca-file` and `--timeout` flags. A bad host or an unusable CA file is a usage error (exit 2),
/// found before any connection; the login's notices (waiting for a new key) go to stderr.
pub fn smtp_endpoint(args: &crate::cli::SmtpArgs, region: &str) -> anyhow::Result<crate::smtp::Endpoint> {
    use crate::smtp::{Endpoint, EndpointError};
    let endpoint = Endpoint::new(&smtp_settings(args), region).map_err(|e| match e {
        EndpointError::BadHost(_) => usage(format!("--smtp-host {e}")),
        EndpointError::CaFile { .. } => usage(format!("--ca-file {e}")),
        EndpointError::Tls(_) => anyhow::Error::new(e),
    })?;
    Ok(endpoint.with_notice(std::sync::Arc::new(|line: &str| eprintln!("sesctl: {line}"))))
}

/// The SMTP flags as the core's endpoint settings (plain values).
pub fn smtp_settings(args: &crate::cli::SmtpArgs) -> crate::smtp::EndpointSettings {
    crate::smtp::EndpointSettings {
        host: args.smtp_host.clone(),
        port: args.port,
        implicit_tls: args.tls,
        ca_file: args.ca_file.clone(),
        timeout: Duration::from_secs(args.timeout),
    }
}

/// Prints the report of work that is done. If stdout cannot take it (full, closed, gone), the work
/// still stands: a warning on stderr says so and the command exits 0, so that a script that retries
/// on failure does not do the work twice.
pub fn report_done<T: serde::Serialize + std::fmt::Display>(
    ctx: &Context,
    report: &T,
) -> anyhow::Result<Outcome> {
    if let Err(e) = ctx.printer.result(report) {
        if !crate::error::is_broken_pipe(&e) {
            eprintln!(
                "sesctl: warning: the work is done, but its report could not be written to stdout ({}); \
                 do not run the command again for this",
                crate::error::escape_controls(&e.to_string())
            );
        }
    }
    Ok(Outcome::Done)
}

/// Where a secret is read: its ARN's own region; else `--secret-region`; else `fallback` (the
/// command's `--region`); else the default region. A `--secret-region` that contradicts the ARN, a
/// malformed ARN or a malformed region is a usage error (exit 2), found before any call.
pub async fn secret_location(
    ctx: &Context,
    secret_id: &str,
    secret_region: Option<&str>,
    fallback: Option<String>,
) -> anyhow::Result<String> {
    if let Some(r) = secret_region {
        if !crate::regions::looks_like_region(r) {
            return Err(usage(format!(
                "--secret-region '{}' is not a region name",
                crate::error::escape_controls(r)
            )));
        }
    }
    let arn = if secret_id.starts_with("arn:") {
        Some(crate::validate::secret_arn(secret_id)?)
    } else {
        None
    };
    match (arn, secret_region, fallback) {
        (Some(a), Some(r), _) if a.region != r => Err(usage(format!(
            "--secret-region {r} contradicts the secret ARN, which is in {}; leave out --secret-region",
            a.region
        ))),
        (Some(a), _, _) => Ok(a.region),
        (None, Some(r), _) => Ok(r.to_string()),
        (None, None, Some(r)) => Ok(r),
        (None, None, None) => ctx.aws().await?.region().ok_or_else(|| {
            usage(format!(
                "no region to find secret {secret_id} in: pass --secret-region or --region (or set AWS_REGION), \
                 or give the secret's full ARN"
            ))
        }),
    }
}
