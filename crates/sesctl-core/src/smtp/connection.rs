//! One login exchange. lettre's `AsyncSmtpConnection` speaks SMTP over a stream sesctl owns
//! ([`SharedStream`]), so that STARTTLS can switch that stream to a rustls session sesctl set up, and
//! the negotiated TLS version is known. AUTH is written only once the stream is a TLS session.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::commands::{Auth, Ehlo, Starttls};
use lettre::transport::smtp::extension::{ClientId, Extension, ServerInfo};
use lettre::transport::smtp::Error as SmtpError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{Endpoint, FailureKind, LoginFailure, LoginOk, Stage, TlsMode};
use crate::secret::Secret;

/// Logs in once within `limit`.
pub(super) async fn login(
    endpoint: &Endpoint,
    username: &str,
    password: &Secret,
    limit: Duration,
) -> Result<LoginOk, LoginFailure> {
    let stage = Mutex::new(Stage::Resolve);
    match tokio::time::timeout(limit, exchange(endpoint, username, password, &stage)).await {
        Ok(result) => result,
        Err(_) => {
            let at = *stage.lock().unwrap_or_else(|e| e.into_inner());
            Err(LoginFailure::new(
                endpoint,
                at,
                FailureKind::Timeout,
                format!("no answer within {} s", limit.as_secs()),
            ))
        }
    }
}

async fn exchange(
    endpoint: &Endpoint,
    username: &str,
    password: &Secret,
    stage: &Mutex<Stage>,
) -> Result<LoginOk, LoginFailure> {
    let set = |s: Stage| *stage.lock().unwrap_or_else(|e| e.into_inner()) = s;
    let fail = |s: Stage, kind: FailureKind, detail: String| LoginFailure::new(endpoint, s, kind, detail);

    set(Stage::Resolve);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| {
            fail(
                Stage::Resolve,
                FailureKind::Dns,
                format!("could not resolve {}: {e}", endpoint.host),
            )
        })?
        .collect();
    if addrs.is_empty() {
        return Err(fail(
            Stage::Resolve,
            FailureKind::Dns,
            format!("{} has no address", endpoint.host),
        ));
    }

    set(Stage::Connect);
    let mut last_error = None;
    let mut tcp = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                tcp = Some((s, *addr));
                break;
            }
            Err(e) => last_error = Some((addr, e)),
        }
    }
    let (tcp, peer) = tcp.ok_or_else(|| {
        let (addr, e) = last_error.expect("at least one address was tried");
        fail(
            Stage::Connect,
            FailureKind::Connect,
            format!("could not connect to {addr}: {e}"),
        )
    })?;
    tracing::debug!("connected to {peer} ({})", endpoint.tls);

    let connector = TlsConnector::from(endpoint.tls_config.clone());
    let hello = ClientId::default();
    let link = SharedStream::new(peer);

    let (mut conn, server_info, tls_version) = match endpoint.tls {
        TlsMode::Tls => {
            set(Stage::TlsHandshake);
            let tls = connector
                .connect(endpoint.server_name.clone(), tcp)
                .await
                .map_err(|e| tls_failure(endpoint, e))?;
            let version = tls.get_ref().1.protocol_version();
            link.put(Link::Tls(Box::new(tls)));
            set(Stage::Greeting);
            let conn = AsyncSmtpConnection::connect_with_transport(Box::new(link.clone()), &hello)
                .await
                .map_err(|e| reply_failure(endpoint, Stage::Greeting, e))?;
            let info = conn.server_info().clone();
            (conn, info, version)
        }
        TlsMode::Starttls => {
            link.put(Link::Plain(tcp));
            set(Stage::Greeting);
            let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(link.clone()), &hello)
                .await
                .map_err(|e| reply_failure(endpoint, Stage::Greeting, e))?;
            if !conn.server_info().supports_feature(Extension::StartTls) {
                conn.abort().await;
                return Err(fail(
                    Stage::Starttls,
                    FailureKind::NoStarttls,
                    "the server does not offer STARTTLS; the credential was not sent over an \
                     unencrypted connection"
                        .to_string(),
                ));
            }
            set(Stage::Starttls);
            conn.command(Starttls)
                .await
                .map_err(|e| reply_failure(endpoint, Stage::Starttls, e))?;
            set(Stage::TlsHandshake);
            let plain = match link.take() {
                Link::Plain(s) => s,
                _ => {
                    return Err(fail(
                        Stage::TlsHandshake,
                        FailureKind::Protocol,
                        "the connection broke before the TLS handshake".to_string(),
                    ))
                }
            };
            let tls = connector
                .connect(endpoint.server_name.clone(), plain)
                .await
                .map_err(|e| tls_failure(endpoint, e))?;
            let version = tls.get_ref().1.protocol_version();
            link.put(Link::Tls(Box::new(tls)));
            // RFC 3207: everything learnt before TLS is discarded; ask again over TLS.
            set(Stage::Ehlo);
            let reply = conn
                .command(Ehlo::new(hello.clone()))
                .await
                .map_err(|e| reply_failure(endpoint, Stage::Ehlo, e))?;
            let info =
                ServerInfo::from_response(&reply).map_err(|e| reply_failure(endpoint, Stage::Ehlo, e))?;
            (conn, info, version)
        }
    };

    if !link.is_tls() {
        // Unreachable by construction; kept so that no change above can ever send AUTH in clear.
        return Err(fail(
            Stage::Auth,
            FailureKind::NoStarttls,
            "the connection is not encrypted; the credential was not sent".to_string(),
        ));
    }
    let mechanism = server_info
        .get_auth_mechanism(DEFAULT_MECHANISMS)
        .ok_or_else(|| {
            fail(
                Stage::Auth,
                FailureKind::NoAuthMechanism,
                "the server offers neither AUTH PLAIN nor AUTH LOGIN over TLS".to_string(),
            )
        })?;

    set(Stage::Auth);
    tracing::debug!("AUTH {mechanism} as {username} (password not shown)");
    let outcome = authenticate(endpoint, &mut conn, mechanism, username, password).await;
    // QUIT either way; a server that has already hung up changes nothing.
    let _ = conn.quit().await;
    outcome?;

    Ok(LoginOk {
        host: endpoint.host.clone(),
        port: endpoint.port,
        tls: endpoint.tls,
        tls_version: tls_version
            .map(version_name)
            .unwrap_or_else(|| "unknown".to_string()),
        mechanism: mechanism.to_string(),
        attempts: 1,
    })
}

/// AUTH with `mechanism`, answering the server's challenges (LOGIN asks for the user, then the
/// password).
async fn authenticate(
    endpoint: &Endpoint,
    conn: &mut AsyncSmtpConnection,
    mechanism: Mechanism,
    username: &str,
    password: &Secret,
) -> Result<(), LoginFailure> {
    let failed = |e: SmtpError| reply_failure(endpoint, Stage::Auth, e);
    let credentials = Credentials::new(username.to_string(), password.expose().to_string());
    let command = Auth::new(mechanism, credentials.clone(), None).map_err(failed)?;
    let mut reply = conn.command(command).await.map_err(failed)?;
    let mut challenges = 0;
    while reply.has_code(334) && challenges < 3 {
        challenges += 1;
        let answer = Auth::new_from_response(mechanism, credentials.clone(), &reply).map_err(failed)?;
        reply = conn.command(answer).await.map_err(failed)?;
    }
    if reply.has_code(334) {
        // RFC 4954: "*" cancels the exchange.
        let _ = conn.command("*\r\n").await;
        return Err(LoginFailure::new(
            endpoint,
            Stage::Auth,
            FailureKind::Protocol,
            format!("the server kept sending AUTH {mechanism} challenges"),
        ));
    }
    Ok(())
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    }
}

/// A failed TLS handshake: a certificate problem, or anything else.
fn tls_failure(endpoint: &Endpoint, err: io::Error) -> LoginFailure {
    let rustls_error = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned();
    let (kind, detail) = match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert)) => (
            FailureKind::Certificate,
            format!(
                "the server's TLS certificate was not accepted: {}",
                certificate_reason(&cert)
            ),
        ),
        Some(e) => (FailureKind::Tls, format!("TLS handshake failed: {e}")),
        None if err.kind() == io::ErrorKind::UnexpectedEof => (
            FailureKind::Tls,
            "the server closed the connection during the TLS handshake".to_string(),
        ),
        None => (FailureKind::Tls, format!("TLS handshake failed: {err}")),
    };
    LoginFailure::new(endpoint, Stage::TlsHandshake, kind, detail)
}

fn certificate_reason(err: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match err {
        C::UnknownIssuer => {
            "it is not signed by a trusted certificate authority (unknown issuer)".to_string()
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is not valid for this host name".to_string()
        }
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_string(),
        C::Revoked => "it has been revoked".to_string(),
        other => rustls::Error::InvalidCertificate(other.clone()).to_string(),
    }
}

/// A failure reported by lettre: a reply from the server, or a broken connection.
fn reply_failure(endpoint: &Endpoint, stage: Stage, err: SmtpError) -> LoginFailure {
    use std::error::Error as _;
    let text = err.source().map(|s| s.to_string()).unwrap_or_default();
    if let Some(code) = err.status() {
        let code: u16 = code.to_string().parse().unwrap_or(0);
        let lower = text.to_ascii_lowercase();
        let kind = if code == 454 || lower.contains("too many") || lower.contains("throttl") {
            FailureKind::Throttled
        } else if (400..500).contains(&code) {
            FailureKind::Temporary
        } else if stage == Stage::Auth {
            FailureKind::Rejected
        } else {
            FailureKind::ServerError
        };
        let mut failure = LoginFailure::new(
            endpoint,
            stage,
            kind,
            format!("the server answered {code} {text}"),
        );
        failure.reply_code = Some(code);
        failure.reply_text = Some(text);
        return failure;
    }
    if err.is_timeout() {
        return LoginFailure::new(endpoint, stage, FailureKind::Timeout, format!("{err}"));
    }
    let detail = if text.contains("incomplete response") {
        "the server closed the connection".to_string()
    } else {
        format!("{err}")
    };
    LoginFailure::new(endpoint, stage, FailureKind::Protocol, detail)
}

/// The connection under lettre: plain TCP until STARTTLS, then a rustls session over the same
/// socket. Shared so that sesctl can perform the TLS upgrade itself between two SMTP commands.
#[derive(Clone)]
struct SharedStream {
    link: Arc<Mutex<Link>>,
    peer: SocketAddr,
}

enum Link {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Between taking the socket out for the handshake and putting the TLS session back.
    Detached,
}

impl SharedStream {
    fn new(peer: SocketAddr) -> Self {
        SharedStream {
            link: Arc::new(Mutex::new(Link::Detached)),
            peer,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn put(&self, link: Link) {
        *self.lock() = link;
    }

    fn take(&self) -> Link {
        std::mem::replace(&mut *self.lock(), Link::Detached)
    }

    fn is_tls(&self) -> bool {
        matches!(*self.lock(), Link::Tls(_))
    }
}

impl std::fmt::Debug for SharedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match *self.lock() {
            Link::Plain(_) => "plain",
            Link::Tls(_) => "tls",
            Link::Detached => "detached",
        };
        write!(f, "SharedStream({}, {state})", self.peer)
    }
}

fn detached() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the connection is being upgraded to TLS",
    )
}

impl AsyncRead for SharedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut *self.lock() {
            Link::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Link::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Link::Detached => Poll::Ready(Err(detached())),
        }
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match &mut *self.lock() {
            Link::Plain(s) => Pin::new(s).poll_write(cx, data),
            Link::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
            Link::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self.lock() {
            Link::Plain(s) => Pin::new(s).poll_flush(cx),
            Link::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Link::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self.lock() {
            Link::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Link::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Link::Detached => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncTokioStream for SharedStream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}
