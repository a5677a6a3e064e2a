//! Delivering a new SMTP credential: the Secrets Manager secret string and its tags, the console's CSV
//! (to stdout, or to a file created 0600 from the start), and the JSON result. Shared by `create-user`
//! and `rotate`, so every command hands a credential over in exactly the same shapes.
//!
//! Neighbours: [`crate::smtp_password`] derives the password; [`crate::aws::secrets`] stores the string
//! built here. This module is the only one that calls [`Secret::expose`] on a finished credential.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::aws::secrets::Secrets;
use crate::aws::AwsError;
use crate::error::usage;
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

impl std::fmt::Display for Delivered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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

/// Checks, before any AWS change, that `--csv PATH` can be written: its directory exists, and the file
/// does not exist unless `force` (exit 2 otherwise).
pub fn check_csv_path(path: &Path, force: bool) -> anyhow::Result<()> {
    check_output_path("--csv", path, force)
}

/// [`check_csv_path`] for any flag that names a file to receive a credential (`flag` is named in
/// the errors).
pub fn check_output_path(flag: &str, path: &Path, force: bool) -> anyhow::Result<()> {
    if path.as_os_str().to_string_lossy().ends_with('/') {
        return Err(usage(format!(
            "{flag} {} ends with '/': give a file name",
            path.display()
        )));
    }
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(usage(format!(
            "cannot write {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    let target = match std::fs::symlink_metadata(path) {
        Err(_) => CsvTarget::New,
        Ok(_) if path.is_dir() => {
            return Err(usage(format!(
                "{flag} {} is a directory; give a file name",
                path.display()
            )))
        }
        Ok(_) if !force => {
            return Err(usage(format!(
                "{} already exists; choose another {flag} path, or pass --force to replace it",
                path.display()
            )))
        }
        Ok(_) => csv_target(flag, path)?,
    };
    if matches!(target, CsvTarget::New | CsvTarget::Replace) {
        // The file is created beside its final name: prove now, before any AWS change, that the
        // directory takes a new file (permissions, a read-only file system, a full disk).
        let probe = dir.join(format!(".sesctl-probe.{}", uuid::Uuid::new_v4().simple()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
        {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
            }
            Err(e) => {
                return Err(usage(format!(
                    "cannot write {}: the directory {} does not take a new file ({e})",
                    path.display(),
                    dir.display()
                )))
            }
        }
    }
    Ok(())
}

/// What `--csv PATH --force` does with a path that exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsvTarget {
    /// Nothing there: a new 0600 file.
    New,
    /// A regular file: replaced by a new 0600 file (written beside it, then renamed over it).
    Replace,
    /// A character device or a FIFO (`/dev/stdout`, a pipe), directly or through a link: written
    /// to, never replaced.
    WriteThrough,
}

/// Decides how an existing `--csv` path is written with `--force`: only a regular file is ever
/// replaced; a directory, or a link to a regular file (replacing would turn the link into a file,
/// and writing through would leave the target's mode), is refused.
fn csv_target(flag: &str, path: &Path) -> anyhow::Result<CsvTarget> {
    use std::os::unix::fs::FileTypeExt;
    let own = std::fs::symlink_metadata(path)?;
    if own.file_type().is_file() {
        return Ok(CsvTarget::Replace);
    }
    let followed = std::fs::metadata(path)
        .map_err(|e| usage(format!("--csv {}: cannot follow it ({e})", path.display())))?;
    let kind = followed.file_type();
    if kind.is_char_device() || kind.is_fifo() {
        return Ok(CsvTarget::WriteThrough);
    }
    if kind.is_dir() {
        return Err(usage(format!(
            "{flag} {} is a directory; give a file name",
            path.display()
        )));
    }
    Err(usage(format!(
        "{flag} {} is {}; --force replaces only a regular file (give the file's own path, or leave out \
         {flag} to print on stdout)",
        path.display(),
        if own.file_type().is_symlink() {
            "a symbolic link"
        } else {
            "neither a regular file, a device nor a pipe"
        }
    )))
}

/// Checks, before any AWS change, that no secret called `name` exists (one scheduled for deletion
/// counts: its name stays taken until it is purged). Exit 2 when it exists.
pub async fn check_secret_absent(secrets: &Secrets, name: &str) -> anyhow::Result<()> {
    match secrets.describe(name).await? {
        None => Ok(()),
        Some(info) if info.deleted.is_some() => Err(usage(format!(
            "secret {name} exists and is scheduled for deletion; restore it, purge it, or choose another \
             --secret-name"
        ))),
        Some(_) => Err(usage(format!(
            "secret {name} already exists; choose another --secret-name (to renew the credential it holds, \
             use `sesctl rotate`)"
        ))),
    }
}

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

/// Writes the console's CSV to `path`, created with mode 0600 from the start. Without `force` an
/// existing file is an error (and is left alone). With `force`, the CSV goes to a new 0600 file in the
/// same directory that then replaces `path` by rename, so no reader ever sees a partial file or one
/// with wider permissions. A partly written file is removed.
pub fn write_csv_file(
    path: &Path,
    force: bool,
    credential: &SmtpCredential,
    format: Option<crate::credential::ExportFormat>,
) -> anyhow::Result<()> {
    match format {
        None => write_secret_file("--csv", path, force, &credential.csv()),
        Some(f) => write_secret_file("--csv", path, force, credential.render(f).as_bytes()),
    }
}

/// Writes bytes that hold a secret to `path` as [`write_csv_file`] does (0600 from the start; an
/// existing file only with `force`, and then only a regular file is replaced; a device or a pipe is
/// written to). `flag` names the option in errors.
pub fn write_secret_file(flag: &str, path: &Path, force: bool, bytes: &[u8]) -> anyhow::Result<()> {
    if !force {
        return write_new_file(path, bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                usage(format!(
                    "{} already exists; choose another {flag} path, or pass --force to replace it",
                    path.display()
                ))
            } else {
                anyhow::Error::new(e).context(format!("could not write {}", path.display()))
            }
        });
    }
    if std::fs::symlink_metadata(path).is_ok() && csv_target(flag, path)? == CsvTarget::WriteThrough {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("could not open {}", path.display()))?;
        out.write_all(bytes)
            .and_then(|()| out.flush())
            .with_context(|| format!("could not write {}", path.display()))?;
        return Ok(());
    }
    let name = path
        .file_name()
        .with_context(|| format!("{flag} {} names no file", path.display()))?;
    let temp = parent_dir(path).join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    write_new_file(&temp, bytes).with_context(|| format!("could not write {}", temp.display()))?;
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        anyhow::Error::new(e).context(format!("could not replace {}", path.display()))
    })
}

/// Writes the credential to the caller's output (the CLI's stdout): the console's CSV, or the JSON
/// result.
pub fn write_to(
    out: &mut dyn Write,
    sink: &Sink,
    credential: &SmtpCredential,
    format: Option<crate::credential::ExportFormat>,
) -> std::io::Result<()> {
    if let Some(f) = format {
        out.write_all(credential.render(f).as_bytes())?;
        return out.flush();
    }
    match sink {
        Sink::StdoutJson => {
            let mut text = Zeroizing::new(
                serde_json::to_vec_pretty(&credential.result()).map_err(std::io::Error::from)?,
            );
            text.push(b'\n');
            out.write_all(&text)?;
        }
        _ => out.write_all(&credential.csv())?,
    }
    out.flush()
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates `path` (which must not exist) with mode 0600 and writes `bytes`, synced to disk; on a
/// failed write the partial file is removed.
fn write_new_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
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

    #[cfg(unix)]
    #[test]
    fn files_are_0600_and_never_silently_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        write_csv_file(&path, false, &credential(), None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(write_csv_file(&path, false, &credential(), None).is_err());
        assert!(check_csv_path(&path, false).is_err());
        assert!(check_csv_path(&path, true).is_ok());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_csv_file(&path, true, &credential(), None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        assert!(check_csv_path(&dir.path().join("missing/c.csv"), false).is_err());
    }
}
