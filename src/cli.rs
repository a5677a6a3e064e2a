//! The command line: clap definitions only (syntax). Resolving flags against the environment happens
//! in `commands`, which turns these values into settings and runs the work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Provision, rotate, migrate, audit and verify Amazon SES SMTP credentials.
#[derive(Debug, Parser)]
#[command(
    name = "sesctl",
    version = crate::VERSION_LINE,
    about = "Provision, rotate, migrate, audit and verify Amazon SES SMTP credentials",
    propagate_version = true,
    max_term_width = 110,
    after_help = "Examples:\n  sesctl create-user app-mailer --region eu-west-1 --secret-name smtp/app-mailer\n  \
    sesctl rotate app-mailer --secret-name smtp/app-mailer --region eu-west-1\n  \
    sesctl audit --fail-on error -o json\n\n\
    `sesctl COMMAND --help` shows a command's options and examples; docs/ has a page per command."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after the subcommand.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// AWS profile (default: the standard AWS credential chain)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// The SES region of the SMTP credential (derive takes it more than once)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Vec<String>,
    /// Send every AWS call to this endpoint (an emulator, a VPC endpoint)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Output format: text for people, json for scripts (csv for audit and list); default: AWS_DEFAULT_OUTPUT or the profile's output, else text
    #[arg(
        short = 'o',
        long = "output",
        id = "output",
        global = true,
        value_enum,
        value_name = "OUTPUT"
    )]
    pub output_flag: Option<OutputFormat>,
    /// The format in effect: `-o`, else the AWS CLI's `AWS_DEFAULT_OUTPUT` or the profile's `output`,
    /// else text. `commands::run` settles it before anything is printed.
    #[arg(skip = OutputFormat::Text)]
    pub output: OutputFormat,
    /// More detail on stderr (-v, -vv, -vvv); nothing secret is logged at any level
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less on stderr (errors only)
    #[arg(short = 'q', long = "quiet", global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Print the plan (each API call it would make) and change nothing
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Skip confirmation prompts
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// Attempts per AWS API call, retries included (default: AWS_MAX_ATTEMPTS, else 3)
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: Option<u32>,
    /// Seconds one attempt of an AWS API call may take
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub api_timeout: u64,
    /// When to use colour on a terminal
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// audit, list, setup, migrate-inline-policy --all: run in these AWS Organization accounts: `all` (every ACTIVE one) or ID[,ID...]
    #[arg(long, global = true, value_name = "all|ID,...")]
    pub accounts: Option<String>,
    /// With --accounts: the role assumed in each member account
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        default_value = "OrganizationAccountAccessRole"
    )]
    pub role_name: String,
    /// With --accounts: the external id the member role's trust policy requires
    #[arg(long, global = true, value_name = "ID")]
    pub external_id: Option<String>,
    /// With --accounts: accounts read at once
    #[arg(long, global = true, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub account_concurrency: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Derive the SMTP password from a secret access key (offline)
    #[command(
        after_help = "Examples:\n  printf '%s' \"$SECRET\" | sesctl derive --region eu-west-1\n  \
        sesctl derive --region us-east-1 --region eu-west-1 -o json < secret.txt\n  \
        sesctl derive --from-credentials --profile smtp-sender --region us-east-1"
    )]
    Derive(DeriveArgs),
    /// List the regions that have an SES SMTP endpoint
    #[command(after_help = "Examples:\n  sesctl regions\n  sesctl regions -o json")]
    Regions,
    /// Ensure the AWSSESSendingGroupDoNotRename group grants ses:SendRawEmail (idempotent)
    #[command(after_help = "Examples:\n  sesctl setup --dry-run\n  sesctl setup")]
    Setup,
    /// Create an IAM user with SMTP credentials, as the SES console does
    #[command(
        after_help = "Examples:\n  sesctl create-user app-mailer --region eu-west-1 --secret-name smtp/app-mailer\n  \
        sesctl create-user --region us-east-1 --csv credentials.csv\n  \
        sesctl create-user app-mailer --region us-east-1 --dry-run"
    )]
    CreateUser(CreateUserArgs),
    /// Give a user a new access key and SMTP password without a gap in service
    #[command(
        after_help = "Examples:\n  sesctl rotate app-mailer --secret-name smtp/app-mailer\n  \
        sesctl rotate app-mailer --secret-name smtp/app-mailer --old-key keep\n  \
        sesctl rotate app-mailer --secret-name smtp/app-mailer --finish"
    )]
    Rotate(RotateArgs),
    /// Move pre-September-2024 SMTP users from their inline policy onto the group
    #[command(after_help = "Examples:\n  sesctl migrate-inline-policy --all --dry-run\n  \
        sesctl migrate-inline-policy ses-smtp-user.20230101-120000\n  sesctl migrate-inline-policy --all --yes")]
    MigrateInlinePolicy(MigrateArgs),
    /// Report the account's SMTP users with findings (old keys, legacy passwords, inline policies)
    #[command(
        after_help = "Examples:\n  sesctl audit\n  sesctl audit --fail-on error -o json\n  \
        sesctl audit --max-key-age 180 -o csv > audit.csv"
    )]
    Audit(AuditArgs),
    /// List the account's SMTP users and their access keys
    #[command(after_help = "Examples:\n  sesctl list\n  sesctl list -o json")]
    List(ListArgs),
    /// Delete an SMTP user and everything that blocks its deletion
    #[command(after_help = "Examples:\n  sesctl delete-user app-mailer\n  \
        sesctl delete-user app-mailer --secret-name smtp/app-mailer --yes")]
    DeleteUser(DeleteUserArgs),
    /// Log in to the SES SMTP endpoint with a credential (no mail is sent)
    #[command(after_help = "Examples:\n  sesctl verify --secret-name smtp/app-mailer\n  \
        printf '%s' \"$SMTP_PASSWORD\" | sesctl verify --username AKIA... --region eu-west-1")]
    Verify(VerifyArgs),
    /// Print a stored SMTP credential in the shape an application or a mail server reads
    #[command(
        after_help = "Examples:\n  sesctl export --secret-name smtp/app-mailer --format env\n  \
        sesctl export --secret-name smtp/app-mailer --format dsn\n  \
        sesctl export --secret-name smtp/relay --format postfix --output-file /etc/postfix/sasl_passwd"
    )]
    Export(ExportArgs),
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  sesctl completions bash > /etc/bash_completion.d/sesctl\n  \
        sesctl completions zsh > \"${fpath[1]}/_sesctl\""
    )]
    Completions(CompletionsArgs),
    /// Print the man page (roff): sesctl(1), or one command's page
    #[command(after_help = "Examples:\n  sesctl man > sesctl.1 && man ./sesctl.1\n  \
        sesctl man create-user > sesctl-create-user.1")]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (default: the sesctl(1) overview)
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeriveArgs {
    /// Derive from the static credentials the AWS chain resolves, and print the user name too
    #[arg(long)]
    pub from_credentials: bool,
    /// Accept a region that is not in sesctl's table (newer regions)
    #[arg(long)]
    pub allow_unknown_region: bool,
}

/// How to reach the SMTP endpoint for a login check.
#[derive(Debug, Clone, Args)]
pub struct SmtpArgs {
    /// SMTP host (default: the region's email-smtp endpoint)
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port (587, 2587 and 25 use STARTTLS; 465 and 2465 implicit TLS)
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Use implicit TLS instead of STARTTLS (the default on 465 and 2465)
    #[arg(long)]
    pub tls: bool,
    /// PEM file of extra CA certificates to trust, besides the system roots
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Seconds for the whole login exchange
    #[arg(long, value_name = "SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// IAM user name (default: ses-smtp-user.YYYYMMDD-HHMMSS, UTC)
    pub user_name: Option<String>,
    /// IAM path for the user, e.g. /smtp/
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Tag the user (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Store the credential in this Secrets Manager secret (must not exist yet)
    #[arg(long, value_name = "NAME")]
    pub secret_name: Option<String>,
    /// Create the secret in this region instead of --region (the SES region)
    #[arg(long, value_name = "REGION", requires = "secret_name")]
    pub secret_region: Option<String>,
    /// The credential's shape on stdout or in --csv: csv (the console's, default), env, dsn, postfix, json
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "secret_name")]
    pub format: Option<ExportFormat>,
    /// A tag for the secret only, KEY=VALUE (repeatable); the user's --tag tags go on the secret too
    #[arg(long = "secret-tag", value_name = "KEY=VALUE", requires = "secret_name")]
    pub secret_tags: Vec<String>,
    /// The secret's description (default: names the IAM user and the region)
    #[arg(long, value_name = "TEXT", requires = "secret_name")]
    pub secret_description: Option<String>,
    /// KMS key for the secret
    #[arg(long, value_name = "KEY", requires = "secret_name")]
    pub kms_key_id: Option<String>,
    /// Write the console's CSV to this file (mode 0600) instead of stdout
    #[arg(long, value_name = "PATH", conflicts_with = "secret_name")]
    pub csv: Option<PathBuf>,
    /// Replace an existing --csv file
    #[arg(long)]
    pub force: bool,
    /// On failure, keep what was created (for inspection) instead of removing it
    #[arg(long)]
    pub no_rollback: bool,
    /// Log in to the SMTP endpoint with the new credential before finishing
    #[arg(long)]
    pub verify: bool,
    /// Seconds to keep retrying --verify while the new key propagates
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub verify_timeout: u64,
    #[command(flatten)]
    pub smtp: SmtpArgs,
    /// Accept a region that is not in sesctl's table
    #[arg(long)]
    pub allow_unknown_region: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OldKeyAction {
    /// Make the old key inactive (it can be re-activated to roll back)
    Deactivate,
    /// Delete the old key
    Delete,
    /// Leave the old key active (retire it later with --finish)
    Keep,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The IAM user whose SMTP credential is rotated
    pub user_name: String,
    /// The Secrets Manager secret that holds the user's credential
    #[arg(long, value_name = "NAME")]
    pub secret_name: Option<String>,
    /// The credential's shape on stdout or in --csv: csv (the console's, default), env, dsn, postfix, json
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "secret_name")]
    pub format: Option<ExportFormat>,
    /// The region the secret is in, when it is not the --region (or the default) region; a secret ARN's own region always wins
    #[arg(long, value_name = "REGION", requires = "secret_name")]
    pub secret_region: Option<String>,
    /// What to do with the old key once the new one is current
    #[arg(long, value_enum, default_value_t = OldKeyAction::Deactivate)]
    pub old_key: OldKeyAction,
    /// With two keys already, delete the inactive one first
    #[arg(long)]
    pub delete_inactive: bool,
    /// Second phase: retire the keys the secret's AWSCURRENT no longer references
    #[arg(long, requires = "secret_name")]
    pub finish: bool,
    /// Write the console's CSV to this file (mode 0600) when there is no secret
    #[arg(long, value_name = "PATH", conflicts_with = "secret_name")]
    pub csv: Option<PathBuf>,
    /// Replace an existing --csv file
    #[arg(long)]
    pub force: bool,
    /// Log in with the new credential before promoting it
    #[arg(long)]
    pub verify: bool,
    /// Seconds to keep retrying --verify while the new key propagates
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub verify_timeout: u64,
    #[command(flatten)]
    pub smtp: SmtpArgs,
    /// Accept a region that is not in sesctl's table
    #[arg(long)]
    pub allow_unknown_region: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Users to migrate
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub users: Vec<String>,
    /// Find and migrate every user with the inline AmazonSesSendingAccess policy
    #[arg(long)]
    pub all: bool,
    /// Users migrated at once
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum FailOn {
    Warning,
    Error,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Flag keys older than this many days (CIS AWS Foundations asks for 90)
    #[arg(long, value_name = "DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub max_key_age: u32,
    /// Flag keys unused for this many days (CIS AWS Foundations asks for 45)
    #[arg(long, value_name = "DAYS", default_value_t = 45, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub unused_days: u32,
    /// Exit 3 when a finding at or above this severity exists
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Concurrent API calls where per-user calls are needed
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Seconds to wait for IAM to generate the credential report before reading keys user by user
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub report_wait: u64,
    /// Also read each key's id (one iam:ListAccessKeys per SMTP user with keys); without it keys are
    /// judged from the credential report alone and named by slot and dates
    #[arg(long)]
    pub key_ids: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Concurrent API calls where per-user calls are needed
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Seconds to wait for IAM to generate the credential report before reading keys user by user
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub report_wait: u64,
}

#[derive(Debug, Args)]
pub struct DeleteUserArgs {
    /// The IAM user to delete
    pub user_name: String,
    /// Also schedule this Secrets Manager secret for deletion
    #[arg(long, value_name = "NAME")]
    pub secret_name: Option<String>,
    /// The region the secret is in, when it is not the --region (or the default) region; a secret ARN's own region always wins
    #[arg(long, value_name = "REGION", requires = "secret_name")]
    pub secret_region: Option<String>,
    /// Days the secret can still be restored (7-30)
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(i64).range(7..=30))]
    pub recovery_window_days: i64,
    /// Delete a user even if it is not an SMTP user
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Read the credential (and host, port, region) from this Secrets Manager secret
    #[arg(long, value_name = "NAME", conflicts_with = "username")]
    pub secret_name: Option<String>,
    /// The region the secret is in, when it is not the --region (or the default) region; a secret ARN's own region always wins
    #[arg(long, value_name = "REGION", requires = "secret_name")]
    pub secret_region: Option<String>,
    /// SMTP user name (the access key id); the password is read from stdin
    #[arg(long, value_name = "AKID", required_unless_present = "secret_name")]
    pub username: Option<String>,
    #[command(flatten)]
    pub smtp: SmtpArgs,
    /// Trust this host when the secret names it (repeatable); by default only SES SMTP endpoints get a password
    #[arg(long, value_name = "HOST")]
    pub allow_host: Vec<String>,
    /// Accept a region that is not in sesctl's table
    #[arg(long)]
    pub allow_unknown_region: bool,
}

/// The shapes `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD lines
    Env,
    /// smtp://USER:PASS@HOST:PORT, user and password percent-encoded (RFC 3986 userinfo)
    Dsn,
    /// Postfix's sasl_passwd line: [HOST]:PORT USER:PASS
    Postfix,
    /// {"host", "port", "username", "password", "region"}
    Json,
    /// The console's CSV: IAM User Name, Smtp Username, Smtp Password
    Csv,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The Secrets Manager secret that holds the credential (sesctl's format, or another tool's)
    #[arg(long, value_name = "NAME")]
    pub secret_name: String,
    /// The region the secret is in, when it is not the --region (or the default) region; a secret ARN's own region always wins
    #[arg(long, value_name = "REGION")]
    pub secret_region: Option<String>,
    /// The shape to print
    #[arg(long, value_enum, default_value_t = ExportFormat::Env)]
    pub format: ExportFormat,
    /// Write to this file (created with mode 0600) instead of stdout
    #[arg(long, value_name = "PATH")]
    pub output_file: Option<PathBuf>,
    /// Replace --output-file if it exists (only a regular file is replaced)
    #[arg(long, requires = "output_file")]
    pub force: bool,
    /// Accept a region that is not in sesctl's table
    #[arg(long)]
    pub allow_unknown_region: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        let a = Cli::try_parse_from(["sesctl", "--region", "eu-west-1", "-o", "json", "regions"]).unwrap();
        let b = Cli::try_parse_from(["sesctl", "regions", "--region", "eu-west-1", "-o", "json"]).unwrap();
        assert_eq!(a.global.region, b.global.region);
        // `-o` is parsed into `output_flag`; `commands::run` settles `output` from it (or from
        // AWS_DEFAULT_OUTPUT / the profile when it is absent).
        assert_eq!(a.global.output_flag, Some(OutputFormat::Json));
        assert_eq!(b.global.output_flag, Some(OutputFormat::Json));
    }
}
