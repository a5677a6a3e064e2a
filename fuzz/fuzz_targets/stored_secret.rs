//! The secret string `rotate` and `verify` read back from Secrets Manager (anyone with write access to
//! the secret controls it): `workflows::rotate::parse_stored` and `workflows::verify::StoredCredential::
//! parse`. Neither may panic; what they accept names a user and a key (rotate) or carries a user name
//! and password (verify); their errors never quote the value (it holds a password).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesctl::secret::Secret;
use sesctl::workflows::rotate::parse_stored;
use sesctl::workflows::verify::StoredCredential;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let value = Secret::new(text.to_string());
    // The input leaks if the message quotes it while a message about other input does not (the
    // input may be the message's own words).
    let quotes = |message: &str, other: &str| {
        let t = text.trim();
        t.len() >= 24 && message.contains(t) && !other.contains(t)
    };
    let other_rotate = format!(
        "{:#}",
        parse_stored("smtp/fuzz", "AWSCURRENT", "v1", &Secret::new("[".into())).unwrap_err()
    );
    let other_verify = match StoredCredential::parse(&Secret::new("[".into()), "smtp/fuzz") {
        Ok(_) => unreachable!("[ is not a credential"),
        Err(e) => format!("{e:#}"),
    };
    match parse_stored("smtp/fuzz", "AWSCURRENT", "v1", &value) {
        Ok(stored) => {
            assert!(!stored.iam_user_name.is_empty());
            assert!(!stored.access_key_id.is_empty());
            assert!(stored.region.as_deref() != Some(""));
        }
        Err(err) => {
            let message = format!("{err:#}");
            assert!(!quotes(&message, &other_rotate), "the message quotes the value: {message}");
        }
    }
    match StoredCredential::parse(&value, "smtp/fuzz") {
        Ok(stored) => {
            assert!(stored.host.as_deref() != Some(""));
            assert!(stored.region.as_deref() != Some(""));
        }
        Err(err) => {
            let message = format!("{err:#}");
            assert!(!quotes(&message, &other_verify), "the message quotes the value: {message}");
        }
    }
});
