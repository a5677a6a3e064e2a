//! Reading secrets from outside: piped stdin or a hidden prompt on a terminal, never argv.

use std::io::{IsTerminal, Read};

use zeroize::Zeroizing;

use crate::error::usage;
use crate::secret::Secret;

/// More than this on stdin is not a secret access key or an SMTP password.
const MAX_SECRET_BYTES: usize = 4096;

/// Reads one secret: from stdin when it is piped, else from a hidden prompt on the terminal.
/// `what` names it in messages ("secret access key", "SMTP password"); the value never appears in one.
pub fn read_secret(what: &str) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let entered = rpassword::prompt_password(format!("{what} (input hidden): "))
            .map_err(|e| anyhow::anyhow!("could not read the {what} from the terminal: {e}"))?;
        parse_secret(entered.into_bytes().into(), what)
    } else {
        let mut buf = Zeroizing::new(Vec::with_capacity(64));
        stdin
            .lock()
            .take(MAX_SECRET_BYTES as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| anyhow::anyhow!("could not read the {what} from stdin: {e}"))?;
        parse_secret(buf, what)
    }
}

/// Checks and trims raw input: one trailing newline (LF or CRLF) is removed; an empty value, one with
/// whitespace or control characters inside, one that is not UTF-8 or that is too long is refused.
pub fn parse_secret(mut raw: Zeroizing<Vec<u8>>, what: &str) -> anyhow::Result<Secret> {
    if raw.len() > MAX_SECRET_BYTES {
        return Err(usage(format!(
            "the {what} on stdin is longer than {MAX_SECRET_BYTES} bytes; pass the {what} alone"
        )));
    }
    if raw.ends_with(b"\r\n") {
        let n = raw.len() - 2;
        raw.truncate(n);
    } else if raw.ends_with(b"\n") {
        let n = raw.len() - 1;
        raw.truncate(n);
    }
    if raw.is_empty() {
        return Err(usage(format!(
            "no {what} given: pipe it on stdin (for example `printf '%s' \"$VALUE\" | sesctl ...`) \
             or run on a terminal to be prompted"
        )));
    }
    if let Some(pos) = raw
        .iter()
        .position(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(usage(format!(
            "the {what} contains whitespace or a control character (at byte {} of {}); give the {what} \
             alone, optionally followed by one newline",
            pos + 1,
            raw.len()
        )));
    }
    let text = std::str::from_utf8(&raw).map_err(|_| usage(format!("the {what} is not valid UTF-8")))?;
    Ok(Secret::new(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> anyhow::Result<Secret> {
        parse_secret(Zeroizing::new(s.to_vec()), "secret access key")
    }

    #[test]
    fn trims_exactly_one_newline() {
        assert_eq!(parse(b"abc\n").unwrap().expose(), "abc");
        assert_eq!(parse(b"abc\r\n").unwrap().expose(), "abc");
        assert_eq!(parse(b"abc").unwrap().expose(), "abc");
        assert!(parse(b"abc\n\n").is_err());
    }

    #[test]
    fn refuses_bad_input_without_echoing_it() {
        for bad in [&b""[..], b"\n", b"ab c", b"ab\tc", b"a\x00b", b"\xff\xfe"] {
            let err = parse(bad).unwrap_err();
            assert_eq!(crate::error::exit_code_for(&err), 2);
        }
        let err = parse(b"topsecret value").unwrap_err().to_string();
        assert!(!err.contains("topsecret"));
        assert!(parse(&vec![b'a'; MAX_SECRET_BYTES + 1]).is_err());
    }
}
