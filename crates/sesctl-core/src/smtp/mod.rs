//! SMTP login checks against the SES SMTP endpoint: connect, TLS (STARTTLS or implicit), EHLO, AUTH,
//! QUIT. No mail is ever sent, and the credential is never written to a connection that is not yet
//! encrypted: a server that does not offer STARTTLS is refused before AUTH.
//!
//! [`login`] makes one attempt (`sesctl verify`); [`wait_for_login`] retries while a new access key
//! propagates from IAM to SES (`create-user --verify`, `rotate --verify`). A failure is a
//! [`LoginFailure`] (the stage, the server's reply, the cause), which [`diagnosis`] turns into advice.
//!
//! lettre speaks SMTP (replies, EHLO capabilities, AUTH PLAIN/LOGIN encoding); the TLS session is
//! sesctl's own (tokio-rustls, in `connection`), so that the negotiated TLS version can be reported
//! and the trust roots are exactly the system roots plus `--ca-file`.
//!
//! Neighbours: [`crate::secret`] holds the password; `commands::verify` and the create-user/rotate
//! workflows call in; nothing here touches AWS.

mod connection;
pub mod diagnosis;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use serde::Serialize;

use crate::regions::{DEFAULT_PORT, TLS_PORTS};
use crate::secret::Secret;

/// How the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connect, then `STARTTLS` (SES on 587, 2587 and 25).
    Starttls,
    /// TLS from the first byte (SES on 465 and 2465).
    Tls,
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::Starttls => "STARTTLS",
            TlsMode::Tls => "implicit TLS",
        })
    }
}

/// Where and how to log in: built once from [`EndpointSettings`] and the credential's region, then reused
/// for every attempt.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// The SES region the credential is for (`--region`, or the secret's region).
    pub region: String,
    /// Bound on one whole login exchange (connect to QUIT).
    pub timeout: Duration,
    /// The CA file trusted besides the system roots, if any.
    pub ca_file: Option<PathBuf>,
    server_name: ServerName<'static>,
    tls_config: Arc<rustls::ClientConfig>,
    notice: Option<Notice>,
}

/// A hook that receives the one-line notices of a login that waits (see [`wait_for_login`]); the CLI
/// prints them on stderr, the rotation function logs them.
pub type Notice = Arc<dyn Fn(&str) + Send + Sync>;

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("region", &self.region)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Where to log in, as plain values (the CLI's `--smtp-host`, `--port`, `--tls`, `--ca-file`,
/// `--timeout`; the rotation function's environment).
#[derive(Debug, Clone, Default)]
pub struct EndpointSettings {
    /// The host; `None` is the region's `email-smtp` host.
    pub host: Option<String>,
    /// The port; `None` is 587 (465 with `implicit_tls`).
    pub port: Option<u16>,
    /// TLS from the first byte (also implied by ports 465 and 2465).
    pub implicit_tls: bool,
    /// A PEM file of CA certificates trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Bound on one whole login exchange (connect to QUIT).
    pub timeout: Duration,
}

/// Why an endpoint cannot be built; found before any connection. Front ends name their own setting
/// (`--smtp-host`, `SESCTL_SMTP_HOST`, …) when they render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    /// The host is empty, too long, or not a host name or IP address.
    BadHost(String),
    /// The CA file cannot be used; `problem` says why.
    CaFile { path: PathBuf, problem: String },
    /// The TLS library refused its configuration.
    Tls(String),
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::BadHost(host) => write!(f, "'{host}' is not a host name or IP address"),
            EndpointError::CaFile { path, problem } => write!(f, "{}: {problem}", path.display()),
            EndpointError::Tls(e) => write!(f, "could not set up TLS: {e}"),
        }
    }
}

impl std::error::Error for EndpointError {}

impl Endpoint {
    /// The endpoint for a credential of `region`: the settings' host or the region's `email-smtp`
    /// host, the port or 587 (465 with implicit TLS), implicit TLS when asked for or on 465/2465,
    /// STARTTLS otherwise.
    pub fn new(settings: &EndpointSettings, region: &str) -> Result<Endpoint, EndpointError> {
        let host = match &settings.host {
            Some(h) => h.trim().to_string(),
            None => crate::regions::smtp_host(region),
        };
        if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EndpointError::BadHost(host));
        }
        let port = settings.port.unwrap_or(if settings.implicit_tls {
            TLS_PORTS[0]
        } else {
            DEFAULT_PORT
        });
        let tls = if settings.implicit_tls || TLS_PORTS.contains(&port) {
            TlsMode::Tls
        } else {
            TlsMode::Starttls
        };
        let server_name =
            ServerName::try_from(host.clone()).map_err(|_| EndpointError::BadHost(host.clone()))?;
        let tls_config = tls_config(settings.ca_file.as_deref())?;
        Ok(Endpoint {
            host,
            port,
            tls,
            region: region.to_string(),
            timeout: settings.timeout,
            ca_file: settings.ca_file.clone(),
            server_name,
            tls_config,
            notice: None,
        })
    }

    /// Sends the notices of [`wait_for_login`] to `notice`.
    pub fn with_notice(mut self, notice: Notice) -> Endpoint {
        self.notice = Some(notice);
        self
    }

    /// Where this endpoint announces waiting, if anywhere.
    pub fn notice(&self) -> Option<Notice> {
        self.notice.clone()
    }

    /// The SES region whose endpoint the host is, when it is an `email-smtp` host.
    pub fn host_region(&self) -> Option<String> {
        diagnosis::region_of_host(&self.host)
    }
}

/// The system roots plus the certificates of `ca_file`.
fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, EndpointError> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped, as every TLS client does; a private CA comes in
    // through the CA file.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let bad = |problem: String| EndpointError::CaFile {
            path: path.to_path_buf(),
            problem,
        };
        let pem = std::fs::read(path).map_err(|e| bad(format!("could not read it: {e}")))?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| bad(format!("not a valid PEM file: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("a certificate is not usable as a CA: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad(
                "no PEM certificate (-----BEGIN CERTIFICATE-----) found in it".to_string(),
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EndpointError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A successful login.
#[derive(Debug, Clone, Serialize)]
pub struct LoginOk {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// The negotiated TLS version, as rustls reports it (`TLSv1.3`, `TLSv1.2`).
    pub tls_version: String,
    /// The AUTH mechanism used (`PLAIN` or `LOGIN`).
    pub mechanism: String,
    /// Login attempts made (more than 1 only when [`wait_for_login`] retried).
    pub attempts: u32,
}

/// How far the exchange got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Resolve,
    Connect,
    TlsHandshake,
    Greeting,
    Ehlo,
    Starttls,
    Auth,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Resolve => "resolving the host name",
            Stage::Connect => "connecting",
            Stage::TlsHandshake => "the TLS handshake",
            Stage::Greeting => "waiting for the server greeting",
            Stage::Ehlo => "EHLO",
            Stage::Starttls => "STARTTLS",
            Stage::Auth => "AUTH",
        })
    }
}

/// What kind of failure a login had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// AUTH answered with a permanent error (SES: `535 Authentication Credentials Invalid`).
    Rejected,
    /// `454` or "too many login attempts": the server is limiting logins.
    Throttled,
    /// Another temporary (4xx) reply.
    Temporary,
    /// A permanent (5xx) reply outside AUTH.
    ServerError,
    /// The server does not offer STARTTLS, so the credential was not sent.
    NoStarttls,
    /// The server offers neither AUTH PLAIN nor AUTH LOGIN over TLS.
    NoAuthMechanism,
    /// The server's certificate was not accepted.
    Certificate,
    /// Another TLS failure.
    Tls,
    /// The host name did not resolve.
    Dns,
    /// The TCP connection failed (refused, unreachable).
    Connect,
    /// No answer within `--timeout`.
    Timeout,
    /// The server closed the connection or answered something that is not SMTP.
    Protocol,
}

/// A failed login: where it stopped, the server's reply if there was one, and the cause.
#[derive(Debug, Clone, Serialize)]
pub struct LoginFailure {
    pub host: String,
    pub port: u16,
    pub stage: Stage,
    pub kind: FailureKind,
    /// The server's reply code (`535`), when the failure is a reply.
    pub reply_code: Option<u16>,
    /// The server's reply text, when the failure is a reply.
    pub reply_text: Option<String>,
    /// The cause in words (the reply, or the network/TLS error).
    pub detail: String,
    /// Login attempts made (more than 1 only when [`wait_for_login`] retried).
    pub attempts: u32,
    /// Seconds spent, over all attempts.
    pub elapsed_secs: u64,
}

impl fmt::Display for LoginFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SMTP login to {}:{} failed at {}: {}",
            self.host, self.port, self.stage, self.detail
        )?;
        if self.attempts > 1 {
            write!(
                f,
                " (after {} attempts over {} s)",
                self.attempts, self.elapsed_secs
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for LoginFailure {}

impl LoginFailure {
    fn new(endpoint: &Endpoint, stage: Stage, kind: FailureKind, detail: impl Into<String>) -> Self {
        LoginFailure {
            host: endpoint.host.clone(),
            port: endpoint.port,
            stage,
            kind,
            reply_code: None,
            reply_text: None,
            detail: detail.into(),
            attempts: 1,
            elapsed_secs: 0,
        }
    }

    /// Removes the password from anything the server said back, in case it echoes the credential.
    fn scrub(mut self, password: &Secret) -> Self {
        let scrub = |s: &mut String| {
            if !password.is_empty() && s.contains(password.expose()) {
                *s = s.replace(password.expose(), "[redacted]");
            }
        };
        scrub(&mut self.detail);
        if let Some(t) = self.reply_text.as_mut() {
            scrub(t);
        }
        self
    }
}

/// Logs in once: connect, TLS, EHLO, AUTH, QUIT, all within `endpoint.timeout`.
pub async fn login(endpoint: &Endpoint, username: &str, password: &Secret) -> Result<LoginOk, LoginFailure> {
    let started = Instant::now();
    connection::login(endpoint, username, password, endpoint.timeout)
        .await
        .map_err(|f| {
            let mut f = f.scrub(password);
            f.elapsed_secs = started.elapsed().as_secs();
            f
        })
}

/// First pause between login attempts while a new key propagates; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// Logs in with a credential that was just created, retrying while the new access key propagates
/// from IAM to SES, until it works or `deadline` has passed.
///
/// For `create-user --verify` and `rotate --verify`:
///
/// ```ignore
/// let endpoint = smtp::Endpoint::new(&settings, &region)?;   // bad settings: found before any connection
/// let ok = smtp::wait_for_login(&key.id, &password, &endpoint, Duration::from_secs(args.verify_timeout))
///     .await?;                                                      // LoginFailure: roll back
/// ```
///
/// - `username` is the SMTP user name (the access key id); `password` the derived SMTP password.
/// - Only a rejected AUTH (a permanent reply such as SES's `535`) is retried, with backoff from 2 s
///   doubling to 15 s: that is what a key that has not reached SES yet looks like. Every other
///   failure (TLS, DNS, connection, timeout, `454` throttling, no STARTTLS) returns at once, since
///   waiting would not fix it.
/// - Each attempt is bounded by `endpoint.timeout`; a new attempt starts only before `deadline`.
/// - While it waits it says so through the endpoint's notice hook (one line when the first attempt
///   is rejected), never showing the password.
/// - The error is the last attempt's [`LoginFailure`], with `attempts` and `elapsed_secs` set; pass
///   it to [`diagnosis::diagnose`] for advice.
pub async fn wait_for_login(
    username: &str,
    password: &Secret,
    endpoint: &Endpoint,
    deadline: Duration,
) -> Result<LoginOk, LoginFailure> {
    let started = Instant::now();
    let until = started + deadline;
    let mut pause = FIRST_BACKOFF;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match connection::login(endpoint, username, password, endpoint.timeout).await {
            Ok(mut ok) => {
                ok.attempts = attempts;
                if attempts > 1 {
                    tracing::info!(
                        "SMTP login accepted after {attempts} attempts ({} s)",
                        started.elapsed().as_secs()
                    );
                }
                return Ok(ok);
            }
            Err(failure) => {
                let now = Instant::now();
                // An operator's interruption ends the wait: the caller undoes what it made.
                let interrupted = crate::interrupt::requested().is_some();
                if failure.kind != FailureKind::Rejected || now >= until || interrupted {
                    let mut failure = failure.scrub(password);
                    failure.attempts = attempts;
                    failure.elapsed_secs = started.elapsed().as_secs();
                    return Err(failure);
                }
                if attempts == 1 {
                    let line = format!(
                        "the SMTP endpoint rejected the new credential ({}); waiting up to {} s \
                         for the new access key to reach SES (IAM propagation usually takes a few minutes)",
                        failure
                            .reply_code
                            .map_or_else(|| "rejected".to_string(), |c| c.to_string()),
                        until.saturating_duration_since(now).as_secs()
                    );
                    match &endpoint.notice {
                        Some(notice) => notice(&line),
                        None => tracing::info!("{line}"),
                    }
                } else {
                    tracing::info!("SMTP login attempt {attempts} rejected; retrying");
                }
                tokio::time::sleep(pause.min(until - now)).await;
                pause = (pause * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// `--verify` for a credential sesctl just made (`create-user`, `rotate`): waits for the login to
/// succeed (see [`wait_for_login`]) and, when it does not, returns an error that says what the
/// server answered, after how many attempts, and the diagnosis. The password never appears in it.
pub async fn verify_new_credential(
    username: &str,
    password: &Secret,
    endpoint: &Endpoint,
    deadline: Duration,
) -> anyhow::Result<LoginOk> {
    match wait_for_login(username, password, endpoint, deadline).await {
        Ok(ok) => Ok(ok),
        Err(failure) => {
            let mut facts = diagnosis::Facts::new(username, password, endpoint);
            facts.credential_region = Some(endpoint.region.clone());
            let advice = diagnosis::diagnose(&failure, &facts, chrono::Utc::now());
            Err(anyhow::anyhow!(
                "{failure} (after {} attempt{} in {} s); {}",
                failure.attempts,
                if failure.attempts == 1 { "" } else { "s" },
                failure.elapsed_secs,
                advice.join("; ")
            ))
        }
    }
}
