//! `sesctl-rotation-lambda`: a Secrets Manager rotation function for SES SMTP credentials.
//!
//! Secrets Manager invokes it four times per rotation with `{"Step", "SecretId",
//! "ClientRequestToken", "RotationToken"?}`; each step is one of sesctl-core's rotation steps
//! ([`sesctl_core::rotation`]), so a secret can be rotated by the schedule and by `sesctl rotate` in
//! turn. It runs on Lambda's `provided.al2023` runtime (deployed as `bootstrap`) and under any Lambda
//! Runtime API (`AWS_LAMBDA_RUNTIME_API`). Configuration is by environment (see [`Config`] and
//! docs/rotation-lambda.md). Each step writes one JSON line to stdout (step, secret ARN, token,
//! outcome, key ids); no secret is ever logged.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::Deserialize;
use sesctl_core::aws::{Aws, AwsOptions};
use sesctl_core::rotation::{
    self, OldKeyAction, Origin, RotationError, Settings, Step, StepReport, StepRequest, Verification,
};
use sesctl_core::smtp::EndpointSettings;

/// Secrets Manager's rotation event.
#[derive(Debug, Deserialize)]
struct RotationEvent {
    #[serde(rename = "Step")]
    step: String,
    #[serde(rename = "SecretId")]
    secret_id: String,
    #[serde(rename = "ClientRequestToken")]
    token: String,
    #[serde(rename = "RotationToken", default)]
    rotation_token: Option<String>,
}

/// The function's settings, from its environment.
#[derive(Debug, Clone)]
struct Config {
    settings: Settings,
}

/// Longest wait for a new key to log in: Lambda's own limit is 900 s.
const MAX_VERIFY_TIMEOUT: u64 = 840;
/// Bound on one SMTP login exchange.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);

impl Config {
    /// Reads `SESCTL_OLD_KEY`, `SESCTL_VERIFY`, `SESCTL_VERIFY_TIMEOUT`, `SESCTL_SMTP_HOST`,
    /// `SESCTL_SMTP_PORT` and `SESCTL_CA_FILE`. An empty variable is unset (CloudFormation passes
    /// empty strings for parameters left blank). A bad value is one line naming the variable.
    fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let var = |name: &str| get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let old_key = match var("SESCTL_OLD_KEY").as_deref() {
            None | Some("keep") => OldKeyAction::Keep,
            Some("deactivate") => OldKeyAction::Deactivate,
            Some("delete") => OldKeyAction::Delete,
            Some(other) => {
                return Err(format!(
                    "SESCTL_OLD_KEY={other:?} is not one of keep, deactivate, delete"
                ))
            }
        };
        let timeout = match var("SESCTL_VERIFY_TIMEOUT") {
            None => 60,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=MAX_VERIFY_TIMEOUT).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "SESCTL_VERIFY_TIMEOUT={v:?} is not a whole number of seconds from 1 to {MAX_VERIFY_TIMEOUT}"
                    ))
                }
            },
        };
        let port = match var("SESCTL_SMTP_PORT") {
            None => None,
            Some(v) => match v.parse::<u16>() {
                Ok(p) if p > 0 => Some(p),
                _ => return Err(format!("SESCTL_SMTP_PORT={v:?} is not a port number (1-65535)")),
            },
        };
        let host = var("SESCTL_SMTP_HOST");
        let ca_file = var("SESCTL_CA_FILE").map(PathBuf::from);
        let endpoint = EndpointSettings {
            host,
            port,
            implicit_tls: false,
            ca_file,
            timeout: LOGIN_TIMEOUT,
        };
        let verification = match var("SESCTL_VERIFY").as_deref() {
            None | Some("smtp") => {
                // Prove the endpoint settings now (host syntax, CA file), not at the first testSecret.
                sesctl_core::smtp::Endpoint::new(&endpoint, "us-east-1").map_err(|e| match e {
                    sesctl_core::smtp::EndpointError::BadHost(_) => format!("SESCTL_SMTP_HOST {e}"),
                    sesctl_core::smtp::EndpointError::CaFile { .. } => format!("SESCTL_CA_FILE {e}"),
                    other => other.to_string(),
                })?;
                Verification::Smtp {
                    endpoint,
                    deadline: Duration::from_secs(timeout),
                }
            }
            Some("none") => Verification::KeyCheck,
            Some(other) => return Err(format!("SESCTL_VERIFY={other:?} is not one of smtp, none")),
        };
        Ok(Config {
            settings: Settings {
                old_key,
                verification,
            },
        })
    }
}

/// The region a secret lives in: its ARN's, or the function's own.
fn secret_region(secret_id: &str, own: &str) -> String {
    match secret_id.strip_prefix("arn:") {
        Some(rest) => rest
            .split(':')
            .nth(2)
            .filter(|r| !r.is_empty())
            .unwrap_or(own)
            .to_string(),
        None => own.to_string(),
    }
}

/// One JSON line on stdout for a step: what Lambda's JSON log format keeps as it is.
fn log_step(line: serde_json::Value) {
    println!("{line}");
}

async fn handle(
    aws: &Aws,
    region: &str,
    config: &Result<Config, String>,
    event: LambdaEvent<RotationEvent>,
) -> Result<StepReport, Diagnostic> {
    let event = event.payload;
    let fail = |error_type: &str, message: String| {
        log_step(serde_json::json!({
            "step": event.step,
            "secret": event.secret_id,
            "token": event.token,
            "outcome": "failed",
            "error": message,
        }));
        Diagnostic {
            error_type: error_type.to_string(),
            error_message: message,
        }
    };
    let config = match config {
        Ok(c) => c,
        Err(line) => return Err(fail("ConfigurationError", line.clone())),
    };
    let Some(step) = Step::parse(&event.step) else {
        return Err(fail(
            "InvalidStep",
            format!(
                "Step {:?} is not one of createSecret, setSecret, testSecret, finishSecret",
                event.step
            ),
        ));
    };
    let secrets = aws.secrets(&secret_region(&event.secret_id, region));
    let iam = aws.iam();
    let notice: sesctl_core::smtp::Notice = {
        let (step, secret, token) = (event.step.clone(), event.secret_id.clone(), event.token.clone());
        Arc::new(move |line: &str| {
            log_step(serde_json::json!({
                "step": step, "secret": secret, "token": token, "outcome": "waiting", "message": line,
            }))
        })
    };
    let request = StepRequest {
        step,
        secret_id: &event.secret_id,
        token: &event.token,
        rotation_token: event.rotation_token.as_deref(),
    };
    let result = rotation::run_step(
        &iam,
        &secrets,
        request,
        &config.settings,
        Some(notice),
        &Origin::SecretsManager,
    )
    .await;
    match result {
        Ok(report) => {
            let mut line = serde_json::to_value(&report).unwrap_or_default();
            line["secret"] = serde_json::Value::String(event.secret_id.clone());
            log_step(line);
            Ok(report)
        }
        Err(e) => Err(fail(error_type(&e), e.to_string())),
    }
}

fn error_type(e: &RotationError) -> &'static str {
    match e {
        RotationError::NoSecret { .. } => "SecretNotFound",
        RotationError::NotPending { .. } => "NotPending",
        RotationError::Format { .. } => "SecretFormat",
        RotationError::NoRoom { .. } => "NoRoomForKey",
        RotationError::PendingKeyUnusable { .. } => "PendingKeyUnusable",
        RotationError::Endpoint(_) => "ConfigurationError",
        RotationError::LoginFailed { .. } => "LoginFailed",
        RotationError::CreateKey { .. }
        | RotationError::NotStored { .. }
        | RotationError::PromoteFailed { .. }
        | RotationError::PromoteUnknown { .. }
        | RotationError::RetireFailed { .. }
        | RotationError::Aws { .. } => "AwsError",
    }
}

/// Logs on stderr at `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else info; at trace the SDK's HTTP
/// layers stay capped (their bodies hold secret values).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let directives = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string())
        .to_lowercase();
    let mut filter = EnvFilter::builder()
        .with_default_directive(tracing::level_filters::LevelFilter::INFO.into())
        .parse_lossy(&directives);
    if directives.contains("trace") {
        for cap in sesctl_core::secret::SDK_LOG_CAPS {
            if let Ok(d) = cap.parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .with_writer(std::io::stderr)
        .try_init();
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sesctl_core::secret::redact_panics();
    sesctl_core::secret::disable_core_dumps();
    init_logging();
    let config = Config::from_env(|name| std::env::var(name).ok());
    if let Err(line) = &config {
        tracing::error!("{line}");
    }
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".to_string());
    let aws = Aws::load(&AwsOptions {
        profile: None,
        region: Some(region.clone()),
        endpoint_url: None,
        max_attempts: None,
        attempt_timeout: Duration::from_secs(20),
    })
    .await;
    let (aws, region, config) = (&aws, region.as_str(), &config);
    lambda_runtime::run(service_fn(move |event| handle(aws, region, config, event))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_keep_the_old_key_and_log_in_for_60_seconds() {
        let c = env(&[]).unwrap();
        assert_eq!(c.settings.old_key, OldKeyAction::Keep);
        match c.settings.verification {
            Verification::Smtp { deadline, endpoint } => {
                assert_eq!(deadline, Duration::from_secs(60));
                assert!(endpoint.host.is_none() && endpoint.port.is_none());
            }
            Verification::KeyCheck => panic!("smtp is the default"),
        }
    }

    #[test]
    fn empty_variables_are_unset() {
        let c = env(&[
            ("SESCTL_OLD_KEY", ""),
            ("SESCTL_SMTP_HOST", " "),
            ("SESCTL_SMTP_PORT", ""),
        ])
        .unwrap();
        assert_eq!(c.settings.old_key, OldKeyAction::Keep);
    }

    #[test]
    fn each_bad_setting_is_one_line_naming_it() {
        for (var, value) in [
            ("SESCTL_OLD_KEY", "remove"),
            ("SESCTL_VERIFY", "imap"),
            ("SESCTL_VERIFY_TIMEOUT", "0"),
            ("SESCTL_VERIFY_TIMEOUT", "ten"),
            ("SESCTL_SMTP_PORT", "70000"),
            ("SESCTL_SMTP_HOST", "bad host"),
            ("SESCTL_CA_FILE", "/nonexistent/ca.pem"),
        ] {
            let err = env(&[(var, value)]).unwrap_err();
            assert!(err.starts_with(var), "{var}={value}: {err}");
            assert!(!err.contains('\n'));
        }
        assert!(matches!(
            env(&[("SESCTL_VERIFY", "none"), ("SESCTL_OLD_KEY", "delete")])
                .unwrap()
                .settings,
            Settings {
                old_key: OldKeyAction::Delete,
                verification: Verification::KeyCheck
            }
        ));
    }

    #[test]
    fn a_secret_arn_decides_the_region() {
        assert_eq!(
            secret_region(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:smtp-AbCdEf",
                "us-east-1"
            ),
            "eu-west-1"
        );
        assert_eq!(secret_region("smtp/app", "us-east-1"), "us-east-1");
    }
}
