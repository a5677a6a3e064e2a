//! The SES SMTP password derivation: pure, offline, no I/O and no AWS types.
//!
//! v4 (current): `k = HMAC-SHA256("AWS4" + secret, "11111111")`, then HMAC successively with the region,
//! `"ses"`, `"aws4_request"` and `"SendRawEmail"`; the password is `base64(0x04 || k)`.
//! v2 (before 2019-01-10) is `base64(0x02 || HMAC-SHA256(secret, "SendRawEmail"))`: never issued by
//! sesctl, only recognised so that `audit` and `verify` can name it.
//!
//! Neighbours: [`crate::secret`] holds the inputs and outputs; `regions` decides which regions are valid.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

const DATE: &[u8] = b"11111111";
const SERVICE: &[u8] = b"ses";
const TERMINAL: &[u8] = b"aws4_request";
const MESSAGE: &[u8] = b"SendRawEmail";
const VERSION_V4: u8 = 0x04;
const VERSION_V2: u8 = 0x02;

fn hmac(key: &[u8], msg: &[u8]) -> Zeroizing<[u8; 32]> {
    // new_from_slice accepts keys of any length for HMAC, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg);
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// The raw 33 bytes of a v4 SMTP password (version byte, then the signing key).
pub fn smtp_password_v4_bytes(secret_access_key: &str, region: &str) -> Zeroizing<[u8; 33]> {
    let mut key = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
    key.extend_from_slice(b"AWS4");
    key.extend_from_slice(secret_access_key.as_bytes());
    let k = hmac(&key, DATE);
    let k = hmac(&*k, region.as_bytes());
    let k = hmac(&*k, SERVICE);
    let k = hmac(&*k, TERMINAL);
    let k = hmac(&*k, MESSAGE);
    let mut out = Zeroizing::new([0u8; 33]);
    out[0] = VERSION_V4;
    out[1..].copy_from_slice(&*k);
    out
}

/// The v4 SMTP password for `region`, derived from a secret access key.
pub fn smtp_password_v4(secret_access_key: &Secret, region: &str) -> Secret {
    let raw = smtp_password_v4_bytes(secret_access_key.expose(), region);
    Secret::new(STANDARD.encode(&raw[..]))
}

/// The legacy v2 SMTP password. Only for recognising old passwords in tests and diagnostics.
pub fn smtp_password_v2(secret_access_key: &Secret) -> Secret {
    let k = hmac(secret_access_key.expose().as_bytes(), MESSAGE);
    let mut raw = Zeroizing::new([0u8; 33]);
    raw[0] = VERSION_V2;
    raw[1..].copy_from_slice(&*k);
    Secret::new(STANDARD.encode(&raw[..]))
}

/// What kind of SMTP password a string is, judged from its shape alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordVersion {
    /// Version byte 0x04: the current SigV4-style password, valid for one region.
    V4,
    /// Version byte 0x02: the legacy password, rejected by SES since 2021.
    V2,
    /// Not a password SES issues: wrong length, not base64, or an unknown version byte.
    Unknown,
}

/// Recognises a password's version: 44 base64 characters decoding to 33 bytes whose first byte is the
/// version (so a v4 password starts with `B`, a v2 password with `A`).
pub fn password_version(password: &Secret) -> PasswordVersion {
    let mut buf = [0u8; 40];
    let version = match STANDARD.decode_slice(password.expose().as_bytes(), &mut buf) {
        Ok(33) => match buf[0] {
            VERSION_V4 => PasswordVersion::V4,
            VERSION_V2 => PasswordVersion::V2,
            _ => PasswordVersion::Unknown,
        },
        _ => PasswordVersion::Unknown,
    };
    buf.zeroize();
    version
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/vectors/smtp_password.json"
        );
        let text = std::fs::read_to_string(path).expect("the vectors in tests/vectors are readable");
        serde_json::from_str(&text).expect("the vectors are JSON")
    }

    #[test]
    fn v4_matches_every_shared_vector() {
        let v = vectors();
        let cases = v["v4"].as_array().unwrap();
        assert!(cases.len() >= 7);
        for case in cases {
            let secret = Secret::new(case["secret"].as_str().unwrap().to_string());
            let region = case["region"].as_str().unwrap();
            let got = smtp_password_v4(&secret, region);
            assert_eq!(
                got.expose(),
                case["password"].as_str().unwrap(),
                "vector from {}",
                case["source"]
            );
            assert_eq!(password_version(&got), PasswordVersion::V4);
            assert!(got.expose().starts_with('B'));
        }
    }

    #[test]
    fn v2_matches_every_shared_vector_and_is_recognised() {
        let v = vectors();
        let cases = v["v2"].as_array().unwrap();
        assert!(cases.len() >= 3);
        for case in cases {
            let secret = Secret::new(case["secret"].as_str().unwrap().to_string());
            let expected = Secret::new(case["password"].as_str().unwrap().to_string());
            assert_eq!(
                smtp_password_v2(&secret),
                expected,
                "vector from {}",
                case["source"]
            );
            assert_eq!(password_version(&expected), PasswordVersion::V2);
            assert!(expected.expose().starts_with('A'));
        }
    }

    #[test]
    fn unknown_shapes_are_not_mistaken_for_passwords() {
        for s in [
            "",
            "hello",
            "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ",
            "!!!!",
            "AAAA",
        ] {
            assert_eq!(
                password_version(&Secret::new(s.to_string())),
                PasswordVersion::Unknown,
                "{s:?}"
            );
        }
        // 33 bytes with an unknown version byte.
        let raw = [0x07u8; 33];
        let s = Secret::new(STANDARD.encode(raw));
        assert_eq!(password_version(&s), PasswordVersion::Unknown);
    }

    #[test]
    fn region_changes_the_password() {
        let s = Secret::new("some+secret+key".to_string());
        assert_ne!(
            smtp_password_v4(&s, "us-east-1"),
            smtp_password_v4(&s, "us-east-2")
        );
    }
}
