//! Writing a new SMTP credential where the operator asked: a file created 0600 from the start
//! (`--csv`, `export --output-file`) or stdout. The bytes are the core's
//! ([`SmtpCredential::csv`], [`SmtpCredential::render`], [`SmtpCredential::result`]); the checks and
//! their messages, which name the flags, are the CLI's.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::error::usage;
use crate::workflows::create_user::HandoverError;
use crate::workflows::deliver::{DeliverError, Delivered, Sink, SmtpCredential};
use sesctl_core::credential::ExportFormat;

/// The sink the delivery flags name when the credential does not go to Secrets Manager: `--csv PATH`
/// (checked now: 0600, never silently replaced without `--force`), else the JSON result with `-o
/// json`, else the console's CSV on stdout. `create-user` and `rotate` both choose it here. Bad flags
/// are usage errors (exit 2), found before anything changes.
pub fn file_sink(csv: Option<&Path>, force: bool, json: bool) -> anyhow::Result<Sink> {
    if force && csv.is_none() {
        return Err(usage(
            "--force replaces an existing --csv file; it needs --csv PATH",
        ));
    }
    Ok(match csv {
        Some(path) => {
            check_csv_path(path, force)?;
            Sink::CsvFile {
                path: path.to_path_buf(),
                force,
            }
        }
        None if json => Sink::StdoutJson,
        None => Sink::StdoutCsv,
    })
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

/// Writes the console's CSV (or the `--format` shape) to `path`, created with mode 0600 from the
/// start. Without `force` an existing file is an error (and is left alone). With `force`, the CSV goes
/// to a new 0600 file in the same directory that then replaces `path` by rename, so no reader ever
/// sees a partial file or one with wider permissions. A partly written file is removed.
pub fn write_csv_file(
    path: &Path,
    force: bool,
    credential: &SmtpCredential,
    format: Option<ExportFormat>,
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

/// Writes the credential to `out` (stdout): the `--format` shape, else the JSON result for
/// [`Sink::StdoutJson`] and the console's CSV otherwise.
pub fn write_to(
    out: &mut dyn Write,
    sink: &Sink,
    credential: &SmtpCredential,
    format: Option<ExportFormat>,
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

/// The handover `create-user` gives the core for a credential that does not go to Secrets Manager:
/// the `--csv` file (its errors with their causes, as [`write_csv_file`] gives them), or stdout.
pub fn handover(
    format: Option<ExportFormat>,
) -> impl FnMut(&SmtpCredential, &Sink) -> Result<Delivered, HandoverError> + Send {
    move |credential, sink| match sink {
        Sink::CsvFile { path, force } => write_csv_file(path, *force, credential, format)
            .map(|()| Delivered::CsvFile { path: path.clone() })
            .map_err(HandoverError::from),
        _ => write_to(&mut std::io::stdout(), sink, credential, format)
            .map(|()| Delivered::Stdout)
            .map_err(HandoverError::from),
    }
}

/// A secret that cannot take a new credential, as the CLI reports it: a taken name is a usage error
/// (exit 2) naming `--secret-name`; a failed Secrets Manager call is that call's error (exit 1).
pub fn secret_error(e: DeliverError) -> anyhow::Error {
    match e {
        DeliverError::SecretScheduledForDeletion { name } => usage(format!(
            "secret {name} exists and is scheduled for deletion; restore it, purge it, or choose another \
             --secret-name"
        )),
        DeliverError::SecretExists { name } => usage(format!(
            "secret {name} already exists; choose another --secret-name (to renew the credential it holds, \
             use `sesctl rotate`)"
        )),
        DeliverError::Aws(aws) => anyhow::Error::new(aws),
    }
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
    use crate::secret::Secret;

    fn credential() -> SmtpCredential {
        SmtpCredential::derive(
            "ses-smtp-user.20240101-120000",
            "AKIAIOSFODNN7EXAMPLE",
            &Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
            "us-east-1",
        )
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
        let err = write_csv_file(&path, false, &credential(), None).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), 2);
        assert!(err.to_string().contains("pass --force to replace it"), "{err}");
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

    #[test]
    fn a_taken_secret_name_is_a_usage_error_naming_the_flag() {
        let e = secret_error(DeliverError::SecretScheduledForDeletion {
            name: "smtp/app".into(),
        });
        assert_eq!(crate::error::exit_code_for(&e), 2);
        assert_eq!(
            e.to_string(),
            "secret smtp/app exists and is scheduled for deletion; restore it, purge it, or choose another \
             --secret-name"
        );
        let e = secret_error(DeliverError::SecretExists {
            name: "smtp/app".into(),
        });
        assert_eq!(crate::error::exit_code_for(&e), 2);
        assert!(e
            .to_string()
            .ends_with("(to renew the credential it holds, use `sesctl rotate`)"));
    }

    #[test]
    fn a_failed_handover_keeps_the_causes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("c.csv");
        let sink = Sink::CsvFile {
            path: path.clone(),
            force: false,
        };
        let err = handover(None)(&credential(), &sink).unwrap_err();
        assert_eq!(err.to_string(), format!("could not write {}", path.display()));
        assert!(std::error::Error::source(err.as_ref()).is_some());
    }
}
