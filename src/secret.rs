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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string());
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    }
}
