//! `sesctl::input::parse_secret`: whatever arrives on stdin as a secret access key or SMTP password.
//! It must never panic; a value it accepts is non-empty, at most 4096 bytes, UTF-8 and free of
//! whitespace and control characters; a value it refuses is a usage error (exit 2) whose message
//! does not quote the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

fuzz_target!(|data: &[u8]| {
    match sesctl::input::parse_secret(Zeroizing::new(data.to_vec()), "secret access key") {
        Ok(secret) => {
            let value = secret.expose();
            assert!(!value.is_empty() && value.len() <= 4096);
            assert!(!value.chars().any(|c| c.is_ascii_whitespace() || c.is_ascii_control()));
            let trimmed = data
                .strip_suffix(b"\r\n")
                .or_else(|| data.strip_suffix(b"\n"))
                .unwrap_or(data);
            assert_eq!(value.as_bytes(), trimmed);
        }
        Err(err) => {
            assert_eq!(sesctl::error::exit_code_for(&err), 2);
            let message = err.to_string();
            let text = String::from_utf8_lossy(data);
            let text = text.trim();
            // Long enough not to be one of the message's own words.
            if text.len() >= 24 {
                assert!(!message.contains(text), "the message quotes the input: {message}");
            }
        }
    }
});
