//! Why a login failed, in an operator's words: pure, from the failure and what is known about the
//! credential (its password's version, its region, the access key's state in IAM when IAM could be
//! read). No I/O here; `workflows::verify` gathers the facts.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Endpoint, FailureKind, LoginFailure, Stage, TlsMode};
use crate::regions::{STARTTLS_PORTS, TLS_PORTS};
use crate::secret::Secret;
use crate::smtp_password::{password_version, PasswordVersion};

/// A new access key usually reaches the SES SMTP endpoint within a few minutes; younger than this,
/// "not propagated yet" is the likeliest reason for a rejection.
const PROPAGATION_WINDOW_SECS: i64 = 15 * 60;

/// What IAM says about the access key (the SMTP user name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyState {
    /// IAM was not consulted.
    NotChecked,
    /// IAM could not be read (no credentials, no permission, unreachable); the reason.
    Unreadable {
        reason: String,
    },
    /// No access key with this id exists in the account.
    Missing,
    /// The IAM user named by the credential does not exist.
    UserMissing {
        user: String,
    },
    Inactive {
        user: String,
    },
    Active {
        user: String,
        created: DateTime<Utc>,
    },
}

/// What is known about the credential that failed.
#[derive(Debug, Clone)]
pub struct Facts {
    pub username: String,
    pub password_version: PasswordVersion,
    /// The region the password was derived for, when known (a stored secret's `region`).
    pub credential_region: Option<String>,
    /// The SES region whose endpoint was used: the host's region for an `email-smtp` host, else the
    /// region the endpoint was built for.
    pub endpoint_region: String,
    /// Whether the host is a known SES host (a custom `--smtp-host` says nothing about regions).
    pub ses_host: bool,
    pub tls: TlsMode,
    pub port: u16,
    pub key: KeyState,
}

impl Facts {
    /// The facts any caller has: the user name, the password's shape and the endpoint.
    pub fn new(username: &str, password: &Secret, endpoint: &Endpoint) -> Facts {
        let host_region = endpoint.host_region();
        Facts {
            username: username.to_string(),
            password_version: password_version(password),
            credential_region: None,
            ses_host: host_region.is_some(),
            endpoint_region: host_region.unwrap_or_else(|| endpoint.region.clone()),
            tls: endpoint.tls,
            port: endpoint.port,
            key: KeyState::NotChecked,
        }
    }
}

/// The SES region of an `email-smtp[-fips].REGION.amazonaws.com` host.
pub fn region_of_host(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let rest = host
        .strip_prefix("email-smtp-fips.")
        .or_else(|| host.strip_prefix("email-smtp."))?;
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))?;
    crate::regions::looks_like_region(region).then(|| region.to_string())
}

/// Whether `host` is an Amazon SES SMTP endpoint: `email-smtp[-fips].REGION.amazonaws.com(.cn)`, or
/// an interface VPC endpoint for it (`vpce-….email-smtp.REGION.vpce.amazonaws.com`). Only such hosts
/// are sent a password that a secret names; any other must be named by the operator.
pub fn is_ses_smtp_host(host: &str) -> bool {
    if region_of_host(host).is_some() {
        return true;
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let Some(rest) = host.strip_suffix(".vpce.amazonaws.com") else {
        return false;
    };
    let mut labels = rest.split('.');
    matches!(
        (labels.next(), labels.next(), labels.next(), labels.next()),
        (Some(v), Some("email-smtp"), Some(region), None)
            if v.starts_with("vpce-") && crate::regions::looks_like_region(region)
    )
}

/// Advice for a failed login, most likely cause first. Never empty.
pub fn diagnose(failure: &LoginFailure, facts: &Facts, now: DateTime<Utc>) -> Vec<String> {
    let mut out = Vec::new();
    match failure.kind {
        FailureKind::Rejected => rejected(facts, now, &mut out),
        FailureKind::Throttled => out.push(
            "the endpoint is limiting login attempts (454 / too many login attempts): wait a few minutes \
             before trying again; every failed attempt in the meantime extends the wait"
                .to_string(),
        ),
        FailureKind::Temporary => out.push(format!(
            "the server reported a temporary failure ({}): try again in a few minutes",
            failure
                .reply_code
                .map_or_else(|| "4xx".to_string(), |c| c.to_string())
        )),
        FailureKind::ServerError => out.push(format!(
            "the server refused the session at {} before any login was attempted: check --smtp-host \
             and --port point at an SES SMTP endpoint",
            failure.stage
        )),
        FailureKind::NoStarttls => out.push(format!(
            "the server on port {} does not offer STARTTLS, so the credential was not sent (it would have \
             crossed the network unencrypted); SES offers STARTTLS on ports {} and implicit TLS on {} \
             (--tls); something between here and the endpoint may be stripping STARTTLS",
            facts.port,
            list(&STARTTLS_PORTS),
            list(&TLS_PORTS)
        )),
        FailureKind::NoAuthMechanism => out.push(
            "the server offers no AUTH PLAIN or LOGIN after TLS: it is not an SES SMTP endpoint, or a \
             proxy in between changes the session; check --smtp-host and --port"
                .to_string(),
        ),
        FailureKind::Certificate => out.push(
            "the server's certificate is not trusted: if the endpoint (or a TLS-inspecting proxy) uses a \
             private certificate authority, pass its certificate with --ca-file PEM; otherwise check that \
             --smtp-host is the real SES endpoint"
                .to_string(),
        ),
        FailureKind::Tls => {
            out.push("the TLS session could not be set up (endpoint or network problem)".to_string());
            match facts.tls {
                TlsMode::Tls => out.push(format!(
                    "implicit TLS was used on port {}: if this port expects STARTTLS ({}), drop --tls",
                    facts.port,
                    list(&STARTTLS_PORTS)
                )),
                TlsMode::Starttls => out.push(format!(
                    "STARTTLS was used on port {}: if this port uses implicit TLS ({}), add --tls",
                    facts.port,
                    list(&TLS_PORTS)
                )),
            }
        }
        FailureKind::Dns => {
            // An SES host that does not resolve most often means SES has no SMTP endpoint there: SES
            // offers SMTP in fewer regions than its API.
            if facts.ses_host {
                let region = &facts.endpoint_region;
                let table = if crate::regions::lookup(region).is_some() {
                    "it is in sesctl's table of SMTP regions, so check DNS on this network first"
                } else {
                    "it is not in sesctl's table of SMTP regions (`sesctl regions`)"
                };
                out.push(format!(
                    "{} does not resolve: region {region} may have no SES SMTP endpoint ({table}); SES \
                     offers SMTP in fewer regions than its API, so send from a region that has one",
                    failure.host
                ));
            }
            out.push(
                "the host name did not resolve: check --smtp-host or --region, and DNS on this network \
                 (a VPC endpoint needs its private DNS name)"
                    .to_string(),
            );
        }
        FailureKind::Connect => out.push(format!(
            "the connection failed (endpoint or network): check --smtp-host and --port, and that outbound \
             port {} is allowed; EC2 restricts outbound port 25, so use 587 or 2587 there",
            facts.port
        )),
        FailureKind::Timeout => {
            out.push(format!(
                "no answer in time while {}: a firewall may be dropping the traffic, or the endpoint is \
                 overloaded; raise --timeout or check the network",
                failure.stage
            ));
            if failure.stage == Stage::Greeting && facts.tls == TlsMode::Starttls {
                out.push(format!(
                    "a server that says nothing after connecting may expect implicit TLS: on ports {} \
                     add --tls",
                    list(&TLS_PORTS)
                ));
            }
        }
        FailureKind::Protocol => out.push(
            "the session broke off: the endpoint closed the connection or does not speak SMTP on this \
             port; check --smtp-host, --port and --tls"
                .to_string(),
        ),
    }
    out
}

fn rejected(facts: &Facts, now: DateTime<Utc>, out: &mut Vec<String>) {
    let mut specific = false;
    if facts.username.starts_with("ASIA") {
        specific = true;
        out.push(format!(
            "the user name {} is a temporary access key id (ASIA...): temporary credentials (with a session \
             token) can never log in to SES SMTP; use an IAM user's long-term key (`sesctl create-user`)",
            facts.username
        ));
    } else if !facts.username.starts_with("AKIA") {
        out.push(format!(
            "the user name should be the IAM access key id (AKIA...), not '{}'",
            facts.username
        ));
    }
    match facts.password_version {
        PasswordVersion::V2 => {
            specific = true;
            out.push(
                "this is a legacy v2 SMTP password (version byte 0x02), which SES no longer accepts: derive \
                 the current one from the key's secret with `sesctl derive --region REGION`, or issue a new \
                 credential with `sesctl rotate`"
                    .to_string(),
            );
        }
        PasswordVersion::Unknown => {
            specific = true;
            out.push(
                "this is not an SES SMTP password (44 base64 characters starting with 'B'): was the secret \
                 access key given instead? The SMTP password is derived from it with `sesctl derive`"
                    .to_string(),
            );
        }
        PasswordVersion::V4 => {}
    }
    match &facts.key {
        KeyState::NotChecked => {}
        KeyState::Unreadable { reason } => out.push(format!(
            "IAM could not be read to check the access key ({reason}); the checks below are the likely \
             causes"
        )),
        KeyState::Missing => {
            specific = true;
            out.push(format!(
                "access key {} does not exist in this account's IAM: it was deleted (or belongs to another \
                 account); issue a new credential with `sesctl rotate` or `sesctl create-user`",
                facts.username
            ));
        }
        KeyState::UserMissing { user } => {
            specific = true;
            out.push(format!(
                "the IAM user {user} named by the credential no longer exists, so neither does its key"
            ));
        }
        KeyState::Inactive { user } => {
            specific = true;
            out.push(format!(
                "access key {} of user {user} is inactive in IAM: reactivate it (aws iam update-access-key \
                 --status Active) or issue a new credential with `sesctl rotate {user}`",
                facts.username
            ));
        }
        KeyState::Active { user, created } => {
            let age = (now - *created).num_seconds();
            if age < PROPAGATION_WINDOW_SECS {
                specific = true;
                out.push(format!(
                    "access key {} of user {user} was created {} ago: a new key takes a few minutes to reach \
                     SES; try again shortly (create-user and rotate with --verify wait for this)",
                    facts.username,
                    human_age(age)
                ));
            }
        }
    }
    match &facts.credential_region {
        Some(derived) if facts.ses_host && *derived != facts.endpoint_region => {
            specific = true;
            out.push(format!(
                "the password was derived for {derived} but the endpoint is {}'s: an SMTP password works \
                 only in the region it was derived for; use the {derived} endpoint or derive the password \
                 for {}",
                facts.endpoint_region, facts.endpoint_region
            ));
        }
        Some(_) => {}
        None if facts.password_version == PasswordVersion::V4 => out.push(format!(
            "an SMTP password works only in the region it was derived for: check it was derived for {} \
             (`sesctl derive --region {}`)",
            facts.endpoint_region, facts.endpoint_region
        )),
        None => {}
    }
    if !specific {
        out.push(
            "the password does not match the access key: re-derive it from the key's secret with `sesctl \
             derive`, or issue a new credential with `sesctl rotate`"
                .to_string(),
        );
    }
}

fn human_age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{} s", s.max(0)),
        s => format!("{} min", s / 60),
    }
}

fn list(ports: &[u16]) -> String {
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ses_smtp_hosts_are_recognised_and_others_are_not() {
        for host in [
            "email-smtp.eu-west-1.amazonaws.com",
            "email-smtp-fips.us-east-1.amazonaws.com",
            "EMAIL-SMTP.us-east-1.amazonaws.com.",
            "vpce-0a1b2c3d4e5f-abcdefgh.email-smtp.eu-west-1.vpce.amazonaws.com",
        ] {
            assert!(is_ses_smtp_host(host), "{host}");
        }
        for host in [
            "127.0.0.1",
            "smtp.example.com",
            "email-smtp.eu-west-1.amazonaws.com.evil.example",
            "email-smtp.eu-west-1.example.com",
            "evil.email-smtp.eu-west-1.vpce.amazonaws.com",
        ] {
            assert!(!is_ses_smtp_host(host), "{host}");
        }
    }

    fn failure(kind: FailureKind) -> LoginFailure {
        LoginFailure {
            host: "email-smtp.eu-west-1.amazonaws.com".into(),
            port: 587,
            stage: Stage::Auth,
            kind,
            reply_code: Some(535),
            reply_text: Some("Authentication Credentials Invalid".into()),
            detail: "the server answered 535".into(),
            attempts: 1,
            elapsed_secs: 0,
        }
    }

    fn facts() -> Facts {
        Facts {
            username: "AKIAIOSFODNN7EXAMPLE".into(),
            password_version: PasswordVersion::V4,
            credential_region: Some("eu-west-1".into()),
            endpoint_region: "eu-west-1".into(),
            ses_host: true,
            tls: TlsMode::Starttls,
            port: 587,
            key: KeyState::NotChecked,
        }
    }

    fn joined(f: &Facts) -> String {
        diagnose(&failure(FailureKind::Rejected), f, Utc::now()).join("\n")
    }

    #[test]
    fn region_of_host_reads_ses_hosts_only() {
        assert_eq!(
            region_of_host("email-smtp.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of_host("email-smtp-fips.us-gov-west-1.amazonaws.com.").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(region_of_host("127.0.0.1"), None);
        assert_eq!(region_of_host("email-smtp.example.com"), None);
    }

    #[test]
    fn a_password_for_another_region_is_named() {
        let mut f = facts();
        f.credential_region = Some("us-east-1".into());
        let d = joined(&f);
        assert!(
            d.contains("derived for us-east-1 but the endpoint is eu-west-1's"),
            "{d}"
        );
        assert!(!d.contains("does not match the access key"), "{d}");
    }

    #[test]
    fn an_unknown_derivation_region_gets_the_rule() {
        let mut f = facts();
        f.credential_region = None;
        assert!(joined(&f)
            .contains("works only in the region it was derived for: check it was derived for eu-west-1"));
    }

    #[test]
    fn key_states_are_named() {
        let mut f = facts();
        f.key = KeyState::Inactive { user: "app".into() };
        assert!(joined(&f).contains("is inactive in IAM"));
        f.key = KeyState::Missing;
        assert!(joined(&f).contains("does not exist in this account's IAM"));
        f.key = KeyState::Active {
            user: "app".into(),
            created: Utc::now() - chrono::Duration::seconds(30),
        };
        assert!(joined(&f).contains("take") && joined(&f).contains("a few minutes to reach SES"));
        f.key = KeyState::Active {
            user: "app".into(),
            created: Utc::now() - chrono::Duration::days(30),
        };
        assert!(joined(&f).contains("does not match the access key"));
    }

    #[test]
    fn legacy_and_foreign_passwords_are_named() {
        let mut f = facts();
        f.password_version = PasswordVersion::V2;
        assert!(joined(&f).contains("legacy v2 SMTP password"));
        f.password_version = PasswordVersion::Unknown;
        assert!(joined(&f).contains("not an SES SMTP password"));
    }

    #[test]
    fn temporary_keys_are_named() {
        let mut f = facts();
        f.username = "ASIAIOSFODNN7EXAMPLE".into();
        assert!(joined(&f).contains("temporary credentials"));
    }

    #[test]
    fn an_ses_host_that_does_not_resolve_may_be_a_region_without_smtp() {
        let mut f = facts();
        f.endpoint_region = "ap-south-2".into();
        let mut dns = failure(FailureKind::Dns);
        dns.host = "email-smtp.ap-south-2.amazonaws.com".into();
        let d = diagnose(&dns, &f, Utc::now()).join("\n");
        assert!(
            d.contains("email-smtp.ap-south-2.amazonaws.com does not resolve: region ap-south-2 may have no SES SMTP endpoint"),
            "{d}"
        );
        assert!(d.contains("not in sesctl's table"), "{d}");
        f.endpoint_region = "eu-west-1".into();
        dns.host = "email-smtp.eu-west-1.amazonaws.com".into();
        let d = diagnose(&dns, &f, Utc::now()).join("\n");
        assert!(d.contains("check DNS on this network first"), "{d}");
        // A custom host says nothing about regions.
        f.ses_host = false;
        let d = diagnose(&dns, &f, Utc::now()).join("\n");
        assert!(!d.contains("may have no SES SMTP endpoint"), "{d}");
    }

    #[test]
    fn every_kind_has_advice() {
        for kind in [
            FailureKind::Throttled,
            FailureKind::Temporary,
            FailureKind::ServerError,
            FailureKind::NoStarttls,
            FailureKind::NoAuthMechanism,
            FailureKind::Certificate,
            FailureKind::Tls,
            FailureKind::Dns,
            FailureKind::Connect,
            FailureKind::Timeout,
            FailureKind::Protocol,
        ] {
            assert!(!diagnose(&failure(kind), &facts(), Utc::now()).is_empty());
        }
    }
}
