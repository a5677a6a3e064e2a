//! The secret string `rotate` and `verify` read back from Secrets Manager (anyone with write access to
//! the secret controls it): `workflows::rotate::read_stored` and `workflows::verify::read_credential`,
//! both on the credential codec. Neither may panic; what they accept names a user and a key (rotate) or
//! carries a user name and password (verify); their errors never quote the value (it holds a password).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesctl::secret::Secret;
use sesctl::workflows::rotate::read_stored;
use sesctl::workflows::verify::read_credential;

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
        read_stored("smtp/fuzz", "AWSCURRENT", "v1", &Secret::new("[".into()), "u").unwrap_err()
    );
    let other_verify = match read_credential(&Secret::new("[".into()), "smtp/fuzz") {
        Ok(_) => unreachable!("[ is not a credential"),
        Err(e) => format!("{e:#}"),
    };
    match read_stored("smtp/fuzz", "AWSCURRENT", "v1", &value, "u") {
        Ok((stored, _)) => {
            assert!(!stored.iam_user_name.is_empty());
            assert!(!stored.access_key_id.is_empty());
            assert!(stored.region.as_deref() != Some(""));
        }
        Err(err) => {
            let message = format!("{err:#}");
            assert!(
                !quotes(&message, &other_rotate),
                "the message quotes the value: {message}"
            );
        }
    }
    match read_credential(&value, "smtp/fuzz") {
        Ok(stored) => {
            assert!(stored.host.as_deref() != Some(""));
            assert!(stored.region.as_deref() != Some(""));
        }
        Err(err) => {
            let message = format!("{err:#}");
            assert!(
                !quotes(&message, &other_verify),
                "the message quotes the value: {message}"
            );
        }
    }
});
