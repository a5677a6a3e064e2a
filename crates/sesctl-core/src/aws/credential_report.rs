//! The IAM credential report: every user's access keys (active flag, last rotated, last used date,
//! region and service) in one download, so an audit's call count does not grow with the number of
//! users. Neighbours: `account.rs` reads the users themselves; `workflows::audit` joins the two.
//!
//! The report has no access key ids. Its key slots are ordered by creation, and a slot's
//! `last_rotated` is the key's creation time, which is how a slot is matched to a key that
//! iam:ListAccessKeys names.
//!
//! IAM generates a new report only when the one it has is more than four hours old
//! ([`REUSED_FOR`]); keys created, deleted or used since the report's generation are not in it. A
//! caller denied iam:GenerateCredentialReport still gets the report IAM already has, however old,
//! with a note saying so.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_iam::types::ReportStateType;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::{classify, AwsError, ErrorKind};
use super::iam::Iam;
use super::to_utc;

/// One access key slot of a user's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportKey {
    pub active: bool,
    /// When the key was created (IAM calls it "last rotated").
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_region: Option<String>,
    pub last_used_service: Option<String>,
}

/// One user's row: the keys it has (zero, one or two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub user: String,
    pub keys: Vec<ReportKey>,
}

/// IAM answers iam:GenerateCredentialReport with the report it has while that is younger than this.
pub const REUSED_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(4);

/// A downloaded credential report.
#[derive(Debug, Clone)]
pub struct CredentialReport {
    /// When IAM generated it (a report is reused for up to four hours).
    pub generated: Option<DateTime<Utc>>,
    pub rows: HashMap<String, ReportRow>,
    /// Why the report may be older than usual (iam:GenerateCredentialReport was denied, so the
    /// report IAM already had was read).
    pub note: Option<String>,
}

impl CredentialReport {
    /// Whether the report is older than IAM lets a report get when one is asked for (or has no time).
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.generated.is_none_or(|g| now - g > REUSED_FOR)
    }
}

/// Values IAM writes where a field has no value.
fn value(field: &str) -> Option<&str> {
    match field.trim() {
        "" | "N/A" | "not_supported" | "no_information" => None,
        v => Some(v),
    }
}

fn date(field: &str) -> Result<Option<DateTime<Utc>>, String> {
    value(field)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| format!("unreadable date {v:?}: {e}"))
        })
        .transpose()
}

/// Parses the report's CSV by column name (IAM has added columns over the years). The root account's
/// row (`<root_account>`) is skipped: it is not an IAM user.
pub fn parse(content: &[u8]) -> Result<HashMap<String, ReportRow>, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(content);
    let headers = reader
        .headers()
        .map_err(|e| format!("the credential report is not CSV: {e}"))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("the credential report has no column {name}"))
    };
    let user = column("user")?;
    let mut slots = Vec::new();
    for n in 1..=2 {
        slots.push((
            column(&format!("access_key_{n}_active"))?,
            column(&format!("access_key_{n}_last_rotated"))?,
            column(&format!("access_key_{n}_last_used_date"))?,
            column(&format!("access_key_{n}_last_used_region"))?,
            column(&format!("access_key_{n}_last_used_service"))?,
        ));
    }
    let mut rows = HashMap::new();
    for (line, record) in reader.records().enumerate() {
        let record =
            record.map_err(|e| format!("the credential report's row {} is unreadable: {e}", line + 2))?;
        let name = record.get(user).unwrap_or_default().to_string();
        if name.is_empty() || name == "<root_account>" {
            continue;
        }
        let mut keys = Vec::new();
        for &(active, rotated, used, region, service) in &slots {
            let field = |i: usize| record.get(i).unwrap_or_default();
            let context = |e: String| format!("user {name}: {e}");
            // A slot without a creation time holds no key.
            let Some(created) = date(field(rotated)).map_err(context)? else {
                continue;
            };
            keys.push(ReportKey {
                active: field(active).eq_ignore_ascii_case("true"),
                created,
                last_used: date(field(used)).map_err(context)?,
                last_used_region: value(field(region)).map(str::to_string),
                last_used_service: value(field(service)).map(str::to_string),
            });
        }
        rows.insert(name.clone(), ReportRow { user: name, keys });
    }
    Ok(rows)
}

impl Iam {
    /// iam:GenerateCredentialReport, repeated with a growing pause (250 ms doubling to 2 s) until IAM
    /// says the report is complete, for at most `wait`; then iam:GetCredentialReport (polled the same
    /// way while IAM answers ReportInProgress). A report younger than four hours is reused by IAM as it
    /// is. Denied iam:GenerateCredentialReport, the report IAM already has is read, with a note; none
    /// there (ReportNotPresent, ReportExpired) is a `NotFound` error that says why.
    pub async fn credential_report(&self, wait: Duration) -> Result<CredentialReport, AwsError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(250);
        let not_ready = |action: &'static str| AwsError {
            kind: ErrorKind::Timeout,
            action,
            code: None,
            message: format!("the credential report was not ready within {} s", wait.as_secs()),
        };
        let mut note = None;
        loop {
            match self.sdk().generate_credential_report().send().await {
                Ok(out) if out.state() == Some(&ReportStateType::Complete) => break,
                Ok(_) => {}
                Err(e) => {
                    let e = classify("iam:GenerateCredentialReport", e);
                    if !e.is(ErrorKind::AccessDenied) {
                        return Err(e);
                    }
                    note = Some(format!("{e}; the report IAM already had was read"));
                    break;
                }
            }
            let left = wait.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(not_ready("iam:GenerateCredentialReport"));
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
        let out = loop {
            let e = match self.sdk().get_credential_report().send().await {
                Ok(out) => break out,
                Err(e) => classify("iam:GetCredentialReport", e),
            };
            let code = e.code.clone().unwrap_or_default();
            match code.as_str() {
                "ReportInProgress" => {
                    let left = wait.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(not_ready("iam:GetCredentialReport"));
                    }
                    tokio::time::sleep(pause.min(left)).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                "ReportNotPresent" | "ReportExpired" => {
                    let why = match &note {
                        Some(_) => "no credential report exists and iam:GenerateCredentialReport was denied",
                        None => "IAM had no credential report although it said one was complete",
                    };
                    return Err(AwsError {
                        kind: ErrorKind::NotFound,
                        action: "iam:GetCredentialReport",
                        code: e.code.clone(),
                        message: format!("{why} ({}){}", e.message, denied_suffix(&note)),
                    });
                }
                _ => {
                    return Err(AwsError {
                        message: format!("{}{}", e.message, denied_suffix(&note)),
                        ..e
                    })
                }
            }
        };
        let content = out.content().map(|b| b.as_ref()).unwrap_or_default();
        let rows = parse(content).map_err(|message| AwsError {
            kind: ErrorKind::Other,
            action: "iam:GetCredentialReport",
            code: None,
            message,
        })?;
        Ok(CredentialReport {
            generated: out.generated_time().map(to_utc),
            rows,
            note,
        })
    }
}

/// The denial of iam:GenerateCredentialReport, for the message of a failed read after it.
fn denied_suffix(note: &Option<String>) -> String {
    note.as_deref()
        .and_then(|n| n.split("; the report IAM already had").next())
        .map(|denied| format!("; before it, {denied}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,\
password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,\
access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,\
access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,\
cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

    #[test]
    fn reads_both_key_slots_and_skips_root() {
        let csv = format!(
            "{HEADER}\n\
<root_account>,arn:aws:iam::1:root,2014-01-01T00:00:00+00:00,not_supported,2024-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n\
mailer,arn:aws:iam::1:user/mailer,2018-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2018-05-01T10:00:00+00:00,2024-11-20T08:15:00+00:00,eu-west-1,ses,false,2024-01-02T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n\
nokeys,arn:aws:iam::1:user/nokeys,2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        );
        let rows = parse(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        let m = &rows["mailer"];
        assert_eq!(m.keys.len(), 2);
        assert!(m.keys[0].active);
        assert_eq!(m.keys[0].created.to_rfc3339(), "2018-05-01T10:00:00+00:00");
        assert_eq!(
            m.keys[0].last_used.unwrap().to_rfc3339(),
            "2024-11-20T08:15:00+00:00"
        );
        assert_eq!(m.keys[0].last_used_service.as_deref(), Some("ses"));
        assert_eq!(m.keys[0].last_used_region.as_deref(), Some("eu-west-1"));
        assert!(!m.keys[1].active);
        assert_eq!(m.keys[1].last_used, None);
        assert_eq!(m.keys[1].last_used_service, None);
        assert!(rows["nokeys"].keys.is_empty());
    }

    #[test]
    fn columns_are_found_by_name_not_position() {
        let csv = "access_key_2_last_used_service,user,access_key_1_active,access_key_1_last_rotated,\
access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,\
access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region\n\
N/A,u,true,2023-03-03T03:03:03+00:00,no_information,N/A,N/A,false,N/A,N/A,N/A\n";
        let rows = parse(csv.as_bytes()).unwrap();
        assert_eq!(rows["u"].keys.len(), 1);
        assert_eq!(rows["u"].keys[0].last_used, None);
    }

    #[test]
    fn a_report_older_than_four_hours_is_stale() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let report = |generated: Option<&str>| CredentialReport {
            generated: generated.map(at),
            rows: HashMap::new(),
            note: None,
        };
        let now = at("2025-06-01T12:00:00Z");
        assert!(!report(Some("2025-06-01T08:00:00Z")).is_stale(now));
        assert!(report(Some("2025-06-01T07:59:59Z")).is_stale(now));
        assert!(report(None).is_stale(now));
    }

    #[test]
    fn a_missing_column_or_bad_date_is_an_error_not_a_silent_gap() {
        let err = parse(b"user,arn\nu,x\n").unwrap_err();
        assert!(err.contains("access_key_1_active"), "{err}");
        let csv = format!(
            "{HEADER}\nu,a,x,false,N/A,N/A,N/A,false,true,yesterday,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        );
        let err = parse(csv.as_bytes()).unwrap_err();
        assert!(err.contains("user u") && err.contains("yesterday"), "{err}");
    }
}
