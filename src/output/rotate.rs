//! `rotate`'s reports as text, and its errors as the CLI shows them (with the commands and flags
//! that fix them).

use std::fmt;

use serde::Serialize;

use crate::aws::iam::KeyStatus;
use crate::workflows::rotate::{
    describe_last_use, Cause, FinishReport, KeyOutcome, OldKeyAction, RotateError, RotateReport, Undo,
};

/// The text of a rotation's report.
pub fn render(r: &RotateReport) -> String {
    let mut out = String::new();
    if r.resumed {
        out.push_str(&format!(
            "Resumed the interrupted rotation of {}: its new key {} was already stored, and is now current.\n",
            r.user_name, r.access_key_id
        ));
    } else {
        out.push_str(&format!(
            "Rotated the SMTP credential of {}: new key {} ({}).\n",
            r.user_name, r.access_key_id, r.smtp_host
        ));
    }
    if let (Some(name), Some(version)) = (&r.secret_name, &r.version_id) {
        out.push_str(&format!("  secret {name}: AWSCURRENT is version {version}"));
        match &r.previous_version_id {
            Some(p) => out.push_str(&format!(", AWSPREVIOUS is version {p}\n")),
            None => out.push('\n'),
        }
    }
    if let Some(to) = &r.delivered_to {
        out.push_str(&format!("  delivered to {to}\n"));
    }
    if let Some(k) = &r.deleted_inactive_key {
        out.push_str(&format!(
            "  deleted the inactive key {k} first (IAM allows two keys)\n"
        ));
    }
    if let Some(k) = &r.deleted_previous_key {
        out.push_str(&format!(
            "  deleted key {k} first: the secret's AWSPREVIOUS held it (the old key of the last rotation; IAM \
             allows two keys)\n"
        ));
    }
    if let Some(v) = &r.cleared_pending_version {
        out.push_str(&format!(
            "  cleared the stale pending version {v} (its key was gone or inactive)\n"
        ));
    }
    match (&r.old_access_key_id, r.old_key) {
        (Some(k), Some(KeyOutcome::Kept)) => {
            out.push_str(&format!("  old key {k}: kept active\n"));
            match &r.secret_name {
                Some(name) => out.push_str(&format!(
                    "  once every consumer uses the new key: sesctl rotate {} --secret-name {name} --finish\n",
                    r.user_name
                )),
                None => out.push_str(&format!(
                    "  once every consumer uses the new key: aws iam update-access-key --user-name {} \
                     --access-key-id {k} --status Inactive\n",
                    r.user_name
                )),
            }
        }
        (Some(k), Some(outcome)) => out.push_str(&format!("  old key {k}: {outcome}\n")),
        _ => out.push_str("  no old key to retire\n"),
    }
    for w in &r.warnings {
        out.push_str(&format!("  warning: {w}\n"));
    }
    out
}

/// The text of `--finish`'s report.
pub fn render_finish(r: &FinishReport) -> String {
    let mut out = if r.retired.is_empty() {
        format!(
            "Nothing to retire: {} has no key besides {}, the one in {}'s AWSCURRENT.\n",
            r.user_name, r.current_access_key_id, r.secret_name
        )
    } else {
        format!(
            "Finished the rotation of {}: {} stays (in {}'s AWSCURRENT).\n",
            r.user_name, r.current_access_key_id, r.secret_name
        )
    };
    for k in &r.retired {
        out.push_str(&format!(
            "  key {}: {} ({}; created {})\n",
            k.access_key_id,
            k.outcome,
            describe_last_use(&k.last_used),
            k.created.format("%Y-%m-%d")
        ));
    }
    for k in &r.already_inactive {
        out.push_str(&format!("  key {k}: already inactive\n"));
    }
    for w in &r.warnings {
        out.push_str(&format!("  warning: {w}\n"));
    }
    out
}

/// A rotation's report as the printer takes it: [`render`] as text, the core's document as JSON.
#[derive(Serialize)]
#[serde(transparent)]
pub struct RotateText<'a>(pub &'a RotateReport);

impl fmt::Display for RotateText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(self.0))
    }
}

/// `--finish`'s report as the printer takes it.
#[derive(Serialize)]
#[serde(transparent)]
pub struct FinishText<'a>(pub &'a FinishReport);

impl fmt::Display for FinishText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_finish(self.0))
    }
}

/// Why a rotation stopped before promotion, naming `--verify` for a failed login.
fn cause(c: &Cause) -> String {
    match c {
        Cause::Login(detail) => format!("the new credential did not pass --verify: {detail}"),
        Cause::KeyTaken { key, deactivated } => format!(
            "the new key {key} was {} by someone else (another sesctl run, such as a `--finish`, or a person) \
             before it was promoted, so AWSCURRENT was not moved to it",
            if *deactivated { "deactivated" } else { "deleted" }
        ),
        Cause::Other(text) => text.clone(),
    }
}

/// A rotation's error as the CLI reports it (exit 1), with the commands and flags that fix it.
pub fn error(e: RotateError) -> anyhow::Error {
    let text = match e {
        RotateError::Read(aws) => {
            return anyhow::Error::new(aws)
                .context("reading the user and its secret failed, so nothing was changed")
        }
        RotateError::LastUse(aws) => return anyhow::Error::new(aws),
        RotateError::NoUser { user } => format!(
            "IAM user {user} does not exist; check the name (`sesctl list` shows the SMTP users, `sesctl \
             create-user` creates one)"
        ),
        RotateError::NoSecret { secret, region } => format!(
            "secret {secret} does not exist in {region}; rotate updates an existing secret (check the name and \
             --region, or create the user's credential with `sesctl create-user --secret-name`)"
        ),
        RotateError::SecretOfAnotherUser { secret, holder, user } => format!(
            "secret {secret} holds the SMTP credential of IAM user {holder}, not {user}; nothing was changed \
             (check the user name and --secret-name)"
        ),
        RotateError::NotTheUsersKey { secret, key, user } => format!(
            "secret {secret} holds access key {key}, which is not a key of IAM user {user}; nothing was changed \
             (check the user name and --secret-name)"
        ),
        RotateError::NoRoom {
            user,
            keys,
            current_key,
            secret,
            delete_inactive,
        } => {
            let current_key = current_key.as_deref();
            let described: Vec<String> = keys
                .iter()
                .map(|k| {
                    let role = if Some(k.id.as_str()) == current_key {
                        ", the one in the secret's AWSCURRENT"
                    } else {
                        ""
                    };
                    format!(
                        "{} ({}, created {}{role})",
                        k.id,
                        k.status,
                        k.created.format("%Y-%m-%d")
                    )
                })
                .collect();
            let inactive_other = keys
                .iter()
                .any(|k| k.status == KeyStatus::Inactive && Some(k.id.as_str()) != current_key);
            let advice = if delete_inactive {
                if keys.iter().any(|k| k.status == KeyStatus::Inactive) {
                    "The --delete-inactive flag was given, but the only inactive key is the one the secret's \
                     AWSCURRENT holds, and sesctl will not delete it"
                        .to_string()
                } else {
                    "The --delete-inactive flag was given, but neither key is inactive (it never deletes an active \
                     key); deactivate the key no longer in use first"
                        .to_string()
                }
            } else if inactive_other {
                "Re-run with --delete-inactive to delete the inactive key first".to_string()
            } else if let Some(s) = secret {
                format!(
                    "If the other key is the old key of an earlier rotation (kept with --old-key keep, or left by \
                     an interrupted run), retire it with `sesctl rotate {user} --secret-name {s} --finish`; \
                     otherwise deactivate or delete the key no longer in use, then rotate again"
                )
            } else {
                "Deactivate the key no longer in use (then re-run with --delete-inactive), or delete it, and \
                 rotate again"
                    .to_string()
            };
            format!(
                "IAM allows at most two access keys per user and {user} already has two: {}. A rotation needs \
                 room for a new key; nothing was changed. {advice}",
                described.join(" and ")
            )
        }
        RotateError::DeleteInactiveFailed { key, error } => format!(
            "could not delete the inactive key {key} (--delete-inactive): {error}; nothing was changed"
        ),
        RotateError::RolledBack {
            user,
            secret,
            cause: c,
            undo,
        } => {
            let c = cause(&c);
            let delete = |key: &str| format!("aws iam delete-access-key --user-name {user} --access-key-id {key}");
            match undo {
                Undo::Nothing => c,
                Undo::Deleted { key, label } => format!(
                    "{c}. Rolled back: deleted the new key {key}{label}; the old key and the secret's AWSCURRENT \
                     are as they were"
                ),
                Undo::KeyStaysStored { key, version, error } => format!(
                    "{c}. Deleting the new key {key} failed too ({error}), so it stays, stored as AWSPENDING in \
                     {secret} (version {version}): nothing is lost, AWSCURRENT and the old key are as they were. \
                     Re-run `sesctl rotate {user} --secret-name {secret}` to finish the rotation, or delete the \
                     key ({})",
                    delete(&key)
                ),
                Undo::KeyStaysUnstored { key, error } => format!(
                    "{c}. Deleting the new key {key} failed too ({error}): it stays active, but its secret was \
                     never stored, so it can never be used. AWSCURRENT and the old key are as they were. Delete \
                     it: {}",
                    delete(&key)
                ),
                Undo::KeyStaysUnknown { key, error } => format!(
                    "{c}. Deleting the new key {key} failed too ({error}), and whether its secret was stored \
                     could not be read. AWSCURRENT and the old key are as they were. Once the secret can be read: \
                     if a version of {secret} is staged AWSPENDING with key {key}, re-run `sesctl rotate {user} \
                     --secret-name {secret}` to finish; otherwise delete the key: {}",
                    delete(&key)
                ),
            }
        }
        ref e @ RotateError::PromotionUnknown {
            ref user,
            ref secret,
            ..
        } => format!(
            "{e}. Once the secret can be read, re-run `sesctl rotate {user} --secret-name {secret}`: it \
             finishes this rotation"
        ),
        ref e @ RotateError::RetireFailed {
            ref user,
            ref secret,
            action,
            ..
        } => format!(
            "{e}; retire the old key with `sesctl rotate {user} --secret-name {secret} --finish{}` once the \
             cause is fixed",
            if action == OldKeyAction::Delete {
                " --old-key delete"
            } else {
                ""
            }
        ),
        RotateError::NotDelivered { cause: c, undo } => {
            format!("{}; {undo}; the old key is untouched", cause(&c))
        }
        RotateError::FinishWhilePending {
            user,
            secret,
            key,
            version,
        } => format!(
            "a rotation of {user} is in progress: key {key} is stored as AWSPENDING (version {version}) but not \
             yet current; finishing now would retire it. Run `sesctl rotate {user} --secret-name {secret}` to \
             complete that rotation first; nothing was changed"
        ),
        e @ RotateError::FinishRaced { .. } => format!("{e}; run --finish again once it is done"),
        other => other.to_string(),
    };
    anyhow::anyhow!(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::iam::AccessKey;
    use chrono::{TimeZone, Utc};

    fn key(id: &str, status: KeyStatus) -> AccessKey {
        AccessKey {
            id: id.into(),
            status,
            created: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
        }
    }

    fn no_room(keys: Vec<AccessKey>, secret: Option<&str>, delete_inactive: bool) -> String {
        error(RotateError::NoRoom {
            user: "mailer".into(),
            keys,
            current_key: secret.map(|_| "AKIACUR".to_string()),
            secret: secret.map(str::to_string),
            delete_inactive,
        })
        .to_string()
    }

    #[test]
    fn no_room_names_both_keys_and_the_flag_or_command_that_makes_room() {
        let text = no_room(
            vec![
                key("AKIACUR", KeyStatus::Active),
                key("AKIAOFF", KeyStatus::Inactive),
            ],
            Some("smtp/mailer"),
            false,
        );
        assert!(text.contains("AKIACUR (Active, created 2026-01-02, the one in the secret's AWSCURRENT)"));
        assert!(text.contains("Re-run with --delete-inactive"), "{text}");

        let text = no_room(
            vec![
                key("AKIACUR", KeyStatus::Active),
                key("AKIAOTHER", KeyStatus::Active),
            ],
            Some("smtp/mailer"),
            false,
        );
        assert!(
            text.contains("`sesctl rotate mailer --secret-name smtp/mailer --finish`"),
            "{text}"
        );

        let text = no_room(
            vec![
                key("AKIACUR", KeyStatus::Inactive),
                key("AKIAOTHER", KeyStatus::Active),
            ],
            Some("smtp/mailer"),
            true,
        );
        assert!(
            text.contains("the only inactive key is the one the secret's AWSCURRENT holds"),
            "{text}"
        );
    }

    #[test]
    fn a_failed_login_names_verify_and_a_kept_key_names_the_rerun() {
        let text = error(RotateError::RolledBack {
            user: "mailer".into(),
            secret: "smtp/mailer".into(),
            cause: Cause::Login("535 Authentication Credentials Invalid".into()),
            undo: Undo::Deleted {
                key: "AKIANEW".into(),
                label: " and removed AWSPENDING from version v2".into(),
            },
        })
        .to_string();
        assert!(
            text.starts_with("the new credential did not pass --verify: 535"),
            "{text}"
        );
        assert!(
            text.contains("Rolled back: deleted the new key AKIANEW and removed AWSPENDING from version v2"),
            "{text}"
        );
    }
}
