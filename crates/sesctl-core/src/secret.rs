//! The one type that holds a secret value in sesctl: a secret access key or an SMTP password.
//!
//! It zeroizes its memory on drop and prints `[redacted]` through `Debug` and `Display`, so a secret
//! cannot reach a log line or an error message by accident. The only way to read the value is
//! [`Secret::expose`], which the few sinks that must see it (the derivation, the CSV/JSON result, the
//! Secrets Manager secret string, the SMTP login) call by name.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A secret string, zeroized on drop and redacted when formatted.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value. The `String` is moved in, so no unzeroized copy stays behind.
    pub fn new(value: String) -> Self {
        Secret(SecretString::from(value))
    }

    /// The secret value. Call only where the value must leave the program (a sink) or be derived from.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Length in bytes, for validation messages that must not show the value.
    pub fn len(&self) -> usize {
        self.expose().len()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        // Constant-time is not needed here: comparisons are between values the program already holds.
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

/// Serializes the real value: used only by the deliberate result sinks (JSON result, secret string).
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

/// Forbids core dumps for the rest of the process (RLIMIT_CORE = 0), so a crash never writes a secret
/// held in memory to disk. Best effort: where the OS refuses, nothing else changes.
pub fn disable_core_dumps() {
    #[cfg(unix)]
    {
        let limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit only reads the struct we pass; failure is reported by the return value.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &limit);
        }
    }
}

/// Replaces the panic printer so that a panic never prints a runtime value: a message that is a fixed
/// string from the source is shown, a formatted one (which could hold an exposed secret) is withheld.
/// The location is always shown, and with `RUST_BACKTRACE` set the backtrace (function names only).
pub fn redact_panics() {
    std::panic::set_hook(Box::new(|info| {
        let mut report = panic_report(info.payload(), info.location());
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            report.push_str(&format!("\n{}", std::backtrace::Backtrace::force_capture()));
        }
        eprintln!("{report}");
    }));
}

/// The line [`redact_panics`] prints for a panic.
pub fn panic_report(
    payload: &(dyn std::any::Any + Send),
    location: Option<&std::panic::Location<'_>>,
) -> String {
    let place = location
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    match payload.downcast_ref::<&'static str>() {
        Some(message) => format!("sesctl: internal error{place}: {message}; please report this bug"),
        None => format!(
            "sesctl: internal error{place} (its message is not shown, as it may hold a secret value); \
             please report this bug"
        ),
    }
}

/// Serializes a value that holds a secret into a [`Secret`] without leaving copies behind: the JSON
/// is written into one buffer sized up front (a growing buffer would leave freed, unzeroed copies of
/// its first part on the heap), and a serialization that needs more room starts again in a larger
/// one, zeroizing the first.
pub fn json_secret<T: serde::Serialize>(value: &T) -> Option<Secret> {
    use zeroize::Zeroize;
    let mut capacity = 1024;
    loop {
        let mut buf: Vec<u8> = Vec::with_capacity(capacity);
        let written = {
            let mut w = FixedWriter(&mut buf);
            serde_json::to_writer(&mut w, value)
        };
        match written {
            Ok(()) => return String::from_utf8(buf).ok().map(Secret::new),
            Err(_) if capacity < (1 << 20) && buf.len() == buf.capacity() => {
                buf.zeroize();
                capacity *= 4;
            }
            Err(_) => {
                buf.zeroize();
                return None;
            }
        }
    }
}

/// A writer that never grows its buffer: a write past its capacity fails.
struct FixedWriter<'a>(&'a mut Vec<u8>);

impl std::io::Write for FixedWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = self.0.capacity() - self.0.len();
        if bytes.len() > room {
            self.0.extend_from_slice(&bytes[..room]);
            return Err(std::io::Error::other("buffer full"));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Log directives that cap the SDK's HTTP layers (and the TLS and SMTP libraries) at debug or info:
/// at trace they print request and response bodies, which hold secret values. Every front end adds
/// them whenever its log filter asks for trace.
pub const SDK_LOG_CAPS: &[&str] = &[
    "aws_smithy_runtime=debug",
    "aws_smithy_runtime_api=debug",
    "aws_smithy_http_client=debug",
    "aws_smithy_http=debug",
    "aws_smithy_types=debug",
    "aws_sigv4=debug",
    "aws_runtime=debug",
    "aws_config=debug",
    "aws_sdk_iam=debug",
    "aws_sdk_secretsmanager=debug",
    "aws_sdk_sts=debug",
    "aws_sdk_sso=debug",
    "aws_sdk_ssooidc=debug",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "rustls=info",
    "lettre=info",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_secrets_are_written_in_one_buffer() {
        let small = json_secret(&serde_json::json!({"password": "p"})).unwrap();
        assert_eq!(small.expose(), r#"{"password":"p"}"#);
        let long = "x".repeat(5000);
        let big = json_secret(&serde_json::json!({"password": long})).unwrap();
        assert!(big.expose().len() > 5000);
    }

    #[test]
    fn a_panic_report_shows_fixed_messages_and_withholds_formatted_ones() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string());
        let nothing = || std::hint::black_box(None::<u8>);
        let formatted = std::panic::catch_unwind(|| -> u8 {
            nothing().unwrap_or_else(|| panic!("could not store {}", secret.expose()))
        })
        .unwrap_err();
        let report = panic_report(&*formatted, None);
        assert!(!report.contains(secret.expose()), "{report}");
        assert!(report.contains("not shown"), "{report}");
        #[allow(clippy::expect_fun_call)]
        let expected = std::panic::catch_unwind(|| -> u8 { nothing().expect(secret.expose()) }).unwrap_err();
        assert!(!panic_report(&*expected, None).contains(secret.expose()));
        let fixed = std::panic::catch_unwind(|| -> u8 { panic!("an invariant broke") }).unwrap_err();
        assert_eq!(
            panic_report(&*fixed, None),
            "sesctl: internal error: an invariant broke; please report this bug"
        );
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string());
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    }
}
