//! A real SMTP server on loopback (tests/support/smtp_server.py, built on aiosmtpd) for `verify`:
//! STARTTLS or implicit TLS with a certificate generated at start-up, AUTH over TLS accepting exactly
//! one credential, and misbehaving modes (no STARTTLS, silent, throttling, rejecting the first logins).

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{free_port, python, repo_root, Guarded};

/// How the server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Starttls,
    Tls,
    NoStarttls,
    Silent,
    Throttle,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Starttls => "starttls",
            Mode::Tls => "tls",
            Mode::NoStarttls => "no-starttls",
            Mode::Silent => "silent",
            Mode::Throttle => "throttle",
        }
    }
}

/// A running SMTP server; stopped when dropped.
pub struct SmtpServer {
    pub port: u16,
    /// The server's self-signed certificate, to pass as --ca-file.
    pub ca_file: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _process: Guarded,
}

impl SmtpServer {
    /// A server accepting exactly `username` / `password`.
    pub fn start(mode: Mode, username: &str, password: &str) -> SmtpServer {
        Self::start_rejecting(mode, username, password, 0)
    }

    /// As [`start`](Self::start), but the first `reject_first` logins are refused with 535 even
    /// with the right credential (a key that has not reached SES yet).
    pub fn start_rejecting(mode: Mode, username: &str, password: &str, reject_first: u32) -> SmtpServer {
        Self::launch(mode, username, password, reject_first, &[])
    }

    /// A server that checks logins as SES does: any active access key of the moto server at
    /// `iam_url`, with its v4 password for `region` (read from moto's state). The first
    /// `reject_first` good logins are still refused, as while a new key propagates.
    pub fn start_iam(mode: Mode, iam_url: &str, region: &str, reject_first: u32) -> SmtpServer {
        Self::launch(
            mode,
            "-",
            "-",
            reject_first,
            &["--iam-url", iam_url, "--iam-region", region],
        )
    }

    fn launch(mode: Mode, username: &str, password: &str, reject_first: u32, extra: &[&str]) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("server-cert.pem");
        let log = dir.path().join("commands.log");
        std::fs::write(&log, "").unwrap();
        let port = free_port();
        let script = repo_root().join("tests/support/smtp_server.py");
        let (port_s, reject_s) = (port.to_string(), reject_first.to_string());
        let process = Guarded::start(
            &python(),
            &[
                script.to_str().unwrap(),
                "--port",
                &port_s,
                "--mode",
                mode.arg(),
                "--cert-out",
                ca_file.to_str().unwrap(),
                "--log",
                log.to_str().unwrap(),
                "--username",
                username,
                "--password-env",
                "SESCTL_TEST_SMTP_PASSWORD",
                "--reject-first",
                &reject_s,
            ]
            .into_iter()
            .chain(extra.iter().copied())
            .collect::<Vec<_>>(),
            &[("SESCTL_TEST_SMTP_PASSWORD", password)],
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if ca_file.exists() && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP test server did not start on port {port} (is `pip install aiosmtpd` done?)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer {
            port,
            ca_file,
            log,
            _dir: dir,
            _process: process,
        }
    }

    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    pub fn ca_arg(&self) -> &str {
        self.ca_file.to_str().unwrap()
    }

    /// The commands received so far, in order: (verb, whether the connection was encrypted).
    pub fn commands(&self) -> Vec<(String, bool)> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(verb, enc)| (verb.to_string(), enc == "tls"))
            .collect()
    }

    pub fn verbs(&self) -> Vec<String> {
        self.commands().into_iter().map(|(v, _)| v).collect()
    }
}
