//! `sesctl::input::parse_secret`: whatever arrives on stdin as a secret access key or SMTP password.
//! It must never panic; a value it accepts is non-empty, at most 4096 bytes, UTF-8 and free of
//! whitespace and control characters; a value it refuses is a usage error (exit 2) whose message
//! depends on nothing of the input but its length, where its first whitespace or control byte is and
//! whether it is UTF-8: the same input with every printable ASCII byte replaced by `x` gets exactly
//! the same message. (A first version checked that the message does not contain the input; the
//! fuzzer promptly fed it the message's own words.)
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
            let masked: Vec<u8> = data
                .iter()
                .map(|&b| if (0x21..=0x7e).contains(&b) { b'x' } else { b })
                .collect();
            let again = sesctl::input::parse_secret(Zeroizing::new(masked), "secret access key")
                .expect_err("the masked input is refused too");
            assert_eq!(err.to_string(), again.to_string(), "the message depends on the value");
        }
    }
});
