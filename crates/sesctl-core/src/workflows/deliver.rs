//! Delivering a new SMTP credential: the Secrets Manager secret string and its tags, the console's CSV,
//! the JSON result and the `export` shapes, as bytes; where a credential goes ([`Sink`]) and went
//! ([`Delivered`]); and the Secrets Manager store. Shared by `create-user` and `rotate`, so every
//! command hands a credential over in exactly the same shapes. Writing the bytes to a file or to stdout
//! is the front end's (the CLI creates files 0600 from the start).
//!
//! Neighbours: [`crate::smtp_password`] derives the password; [`crate::aws::secrets`] stores the string
//! built here. This module is the only one that calls [`Secret::expose`] on a finished credential.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::aws::secrets::Secrets;
use crate::aws::AwsError;
use crate::regions::DEFAULT_PORT;
use crate::secret::Secret;

pub use crate::vocabulary::{TAG_IAM_USER, TAG_REGION};
/// The console's CSV header, exactly.
pub const CSV_HEADER: [&str; 3] = ["IAM User Name", "Smtp Username", "Smtp Password"];

/// A finished SMTP credential: what every sink receives. The password is the only secret part.
#[derive(Debug, Clone)]
pub struct SmtpCredential {
    pub user_name: String,
    pub access_key_id: String,
    pub smtp_password: Secret,
    pub region: String,
    pub smtp_host: String,
    pub smtp_port: u16,
}

impl SmtpCredential {
    /// Derives the v4 SMTP password for `region` from a key's secret; host and port are the region's
    /// endpoint on 587 (STARTTLS).
    pub fn derive(user_name: &str, access_key_id: &str, secret_access_key: &Secret, region: &str) -> Self {
        SmtpCredential {
            user_name: user_name.to_string(),
            access_key_id: access_key_id.to_string(),
            smtp_password: crate::smtp_password::smtp_password_v4(secret_access_key, region),
            region: region.to_string(),
            smtp_host: crate::regions::smtp_host(region),
            smtp_port: DEFAULT_PORT,
        }
    }

    /// The Secrets Manager secret string (see [`SecretString`]), as a [`Secret`].
    pub fn secret_string(&self) -> Secret {
        let doc = SecretString {
            username: &self.access_key_id,
            password: &self.smtp_password,
            host: &self.smtp_host,
            port: self.smtp_port,
            region: &self.region,
            iam_user_name: &self.user_name,
            access_key_id: &self.access_key_id,
        };
        // Serializing plain strings and a number cannot fail.
        crate::secret::json_secret(&doc).expect("the secret string serializes")
    }

    /// The tags a secret holding this credential carries: the IAM user and the region.
    pub fn secret_tags(&self) -> Vec<(String, String)> {
        vec![
            (TAG_IAM_USER.to_string(), self.user_name.clone()),
            (TAG_REGION.to_string(), self.region.clone()),
        ]
    }

    /// The secret's description (visible in the console; nothing secret).
    pub fn secret_description(&self) -> String {
        format!(
            "SES SMTP credential of IAM user {} for {} (created by sesctl)",
            self.user_name, self.region
        )
    }

    /// The console's CSV: the header and one row. Zeroized when dropped.
    pub fn csv(&self) -> Zeroizing<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::with_capacity(160));
        // Writing to a Vec cannot fail.
        w.write_record(CSV_HEADER).expect("write to memory");
        w.write_record([
            self.user_name.as_str(),
            self.access_key_id.as_str(),
            self.smtp_password.expose(),
        ])
        .expect("write to memory");
        Zeroizing::new(w.into_inner().expect("flush to memory"))
    }

    /// The credential in one of the shapes `export` writes (`--format` of create-user and rotate).
    pub fn render(&self, format: crate::credential::ExportFormat) -> Zeroizing<String> {
        crate::credential::Export {
            host: &self.smtp_host,
            port: self.smtp_port,
            username: &self.access_key_id,
            password: &self.smtp_password,
            region: Some(&self.region),
            iam_user_name: Some(&self.user_name),
        }
        .render(format)
    }

    /// The JSON result of `-o json` without a secret sink.
    pub fn result(&self) -> CredentialResult<'_> {
        CredentialResult {
            user_name: &self.user_name,
            access_key_id: &self.access_key_id,
            smtp_username: &self.access_key_id,
            smtp_password: &self.smtp_password,
            region: &self.region,
            smtp_host: &self.smtp_host,
            smtp_port: self.smtp_port,
        }
    }
}

/// The secret string stored in Secrets Manager (SPEC): all strings except `port`.
#[derive(Debug, Serialize)]
pub struct SecretString<'a> {
    pub username: &'a str,
    pub password: &'a Secret,
    pub host: &'a str,
    pub port: u16,
    pub region: &'a str,
    pub iam_user_name: &'a str,
    pub access_key_id: &'a str,
}

/// `{"user_name", "access_key_id", "smtp_username", "smtp_password", "region", "smtp_host",
/// "smtp_port"}`: the credential as `-o json` prints it when no secret sink is given.
#[derive(Debug, Serialize)]
pub struct CredentialResult<'a> {
    pub user_name: &'a str,
    pub access_key_id: &'a str,
    pub smtp_username: &'a str,
    pub smtp_password: &'a Secret,
    pub region: &'a str,
    pub smtp_host: &'a str,
    pub smtp_port: u16,
}

/// Where a new credential goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// A new Secrets Manager secret (in the credential's region).
    SecretsManager {
        name: String,
        kms_key_id: Option<String>,
    },
    /// The console's CSV in a file, mode 0600; `force` replaces an existing file.
    CsvFile { path: PathBuf, force: bool },
    /// The console's CSV on stdout.
    StdoutCsv,
    /// The JSON result on stdout.
    StdoutJson,
}

impl Sink {
    /// Whether the secret itself is written to stdout.
    pub fn is_stdout(&self) -> bool {
        matches!(self, Sink::StdoutCsv | Sink::StdoutJson)
    }

    /// The delivery step in words, for plans and errors (never the secret).
    pub fn describe(&self, region: &str) -> String {
        match self {
            Sink::SecretsManager { name, kms_key_id } => match kms_key_id {
                Some(k) => format!("secret {name} in {region} (KMS key {k})"),
                None => format!("secret {name} in {region}"),
            },
            Sink::CsvFile { path, force: false } => format!("CSV file {} (mode 0600)", path.display()),
            Sink::CsvFile { path, force: true } => {
                format!(
                    "CSV file {} (mode 0600, replacing any existing file)",
                    path.display()
                )
            }
            Sink::StdoutCsv => "the CSV on stdout".to_string(),
            Sink::StdoutJson => "the JSON result on stdout".to_string(),
        }
    }
}

/// Where a credential went, for reports (nothing secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivered {
    SecretsManager { secret_name: String, secret_arn: String },
    CsvFile { path: PathBuf },
    Stdout,
}

impl fmt::Display for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delivered::SecretsManager {
                secret_name,
                secret_arn,
            } => write!(f, "Secrets Manager secret {secret_name} ({secret_arn})"),
            Delivered::CsvFile { path } => write!(f, "CSV file {} (mode 0600)", path.display()),
            Delivered::Stdout => f.write_str("stdout"),
        }
    }
}

/// Checks, before any AWS change, that no secret called `name` exists (one scheduled for deletion
/// counts: its name stays taken until it is purged). An existing secret is bad input
/// ([`DeliverError::is_bad_input`]).
pub async fn check_secret_absent(secrets: &Secrets, name: &str) -> Result<(), DeliverError> {
    match secrets.describe(name).await.map_err(DeliverError::Aws)? {
        None => Ok(()),
        Some(info) if info.deleted.is_some() => Err(DeliverError::SecretScheduledForDeletion {
            name: name.to_string(),
        }),
        Some(_) => Err(DeliverError::SecretExists {
            name: name.to_string(),
        }),
    }
}

/// Why a credential cannot go to the Secrets Manager secret it was meant for.
#[derive(Debug)]
pub enum DeliverError {
    /// A secret of that name exists: a new credential never replaces one.
    SecretExists { name: String },
    /// A secret of that name is scheduled for deletion; its name stays taken until it is purged.
    SecretScheduledForDeletion { name: String },
    /// A Secrets Manager call failed. Shown as the AWS error itself.
    Aws(AwsError),
}

impl DeliverError {
    /// Bad input (a secret name that is taken), found before anything changed.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            DeliverError::SecretExists { .. } | DeliverError::SecretScheduledForDeletion { .. }
        )
    }
}

impl fmt::Display for DeliverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliverError::SecretExists { name } => {
                write!(f, "secret {name} already exists; choose another secret name")
            }
            DeliverError::SecretScheduledForDeletion { name } => write!(
                f,
                "secret {name} exists and is scheduled for deletion; restore it, purge it, or choose another \
                 secret name"
            ),
            DeliverError::Aws(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DeliverError {}

/// Creates the secret (secretsmanager:CreateSecret, with the tags and `kms_key_id`). The request
/// token makes the SDK's retries safe. Returns the secret's ARN.
pub async fn store_secret(
    secrets: &Secrets,
    name: &str,
    kms_key_id: Option<&str>,
    credential: &SmtpCredential,
    extras: &SecretExtras,
    request_token: &str,
) -> Result<String, AwsError> {
    let mut tags = extras.tags.clone();
    tags.extend(credential.secret_tags());
    let description = extras
        .description
        .clone()
        .unwrap_or_else(|| credential.secret_description());
    secrets
        .create(
            name,
            &credential.secret_string(),
            &description,
            kms_key_id,
            &tags,
            request_token,
        )
        .await
}

/// What the operator adds to a new secret: tags (the user's `--tag` and `--secret-tag`, so that an
/// organization's tag policy on secrets is met) and a description.
#[derive(Debug, Clone, Default)]
pub struct SecretExtras {
    pub tags: Vec<(String, String)>,
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential() -> SmtpCredential {
        SmtpCredential::derive(
            "ses-smtp-user.20240101-120000",
            "AKIAIOSFODNN7EXAMPLE",
            &Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
            "us-east-1",
        )
    }

    #[test]
    fn secret_string_has_exactly_the_spec_fields() {
        let c = credential();
        let v: serde_json::Value = serde_json::from_str(c.secret_string().expose()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "username": "AKIAIOSFODNN7EXAMPLE",
                "password": c.smtp_password.expose(),
                "host": "email-smtp.us-east-1.amazonaws.com",
                "port": 587,
                "region": "us-east-1",
                "iam_user_name": "ses-smtp-user.20240101-120000",
                "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            })
        );
    }

    #[test]
    fn csv_is_the_console_download() {
        let c = credential();
        let text = String::from_utf8(c.csv().to_vec()).unwrap();
        assert_eq!(
            text,
            format!(
                "IAM User Name,Smtp Username,Smtp Password\nses-smtp-user.20240101-120000,AKIAIOSFODNN7EXAMPLE,{}\n",
                c.smtp_password.expose()
            )
        );
    }

    #[test]
    fn debug_of_a_credential_hides_the_password() {
        let c = credential();
        assert!(!format!("{c:?}").contains(c.smtp_password.expose()));
    }

    #[test]
    fn a_taken_secret_name_is_bad_input() {
        let e = DeliverError::SecretExists {
            name: "smtp/app".into(),
        };
        assert!(e.is_bad_input());
        assert_eq!(
            e.to_string(),
            "secret smtp/app already exists; choose another secret name"
        );
        assert!(!e.to_string().contains("--"));
        let e = DeliverError::SecretScheduledForDeletion {
            name: "smtp/app".into(),
        };
        assert!(e.is_bad_input());
        assert!(e.to_string().contains("scheduled for deletion"), "{e}");
    }
}
