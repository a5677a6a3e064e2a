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
/// whitespace or control characters inside, one that is not UTF-8 or that is too long is refused, and
/// so is one with a UTF-8 byte-order mark or an invisible or non-ASCII space (no secret sesctl reads
/// has one: editors and copying from web pages add them).
pub fn parse_secret(mut raw: Zeroizing<Vec<u8>>, what: &str) -> anyhow::Result<Secret> {
    if raw.len() > MAX_SECRET_BYTES {
        return Err(usage(format!(
            "the {what} on stdin is longer than {MAX_SECRET_BYTES} bytes; pass the {what} alone"
        )));
    }
    if raw.starts_with(b"\xEF\xBB\xBF") {
        return Err(usage(format!(
            "the {what} starts with a UTF-8 byte-order mark (bytes EF BB BF), which an editor adds when it \
             saves \"UTF-8 with BOM\"; save the file as plain UTF-8 or pipe the {what} alone"
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
    let count = text.chars().count();
    if let Some((i, c, name)) = text
        .chars()
        .enumerate()
        .find_map(|(i, c)| invisible(c).map(|name| (i, c, name)))
    {
        let place = if i + 1 == count {
            format!("ends with {name} (U+{:04X})", c as u32)
        } else {
            format!(
                "contains {name} (U+{:04X}) at character {} of {count}",
                c as u32,
                i + 1
            )
        };
        return Err(usage(format!(
            "the {what} {place}, an invisible character that copying from a web page, a document or a \
             chat adds; give the {what} alone"
        )));
    }
    Ok(Secret::new(text.to_string()))
}

/// The name of a character that looks like nothing (a space other than ASCII's, a zero-width or
/// format character), for the refusal message.
fn invisible(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{00A0}' => "a no-break space",
        '\u{202F}' => "a narrow no-break space",
        '\u{200B}' => "a zero-width space",
        '\u{200C}' => "a zero-width non-joiner",
        '\u{200D}' => "a zero-width joiner",
        '\u{2060}' => "a word joiner",
        '\u{FEFF}' => "a zero-width no-break space (byte-order mark)",
        '\u{00AD}' => "a soft hyphen",
        '\u{180E}' => "a Mongolian vowel separator",
        '\u{3000}' => "an ideographic space",
        '\u{2028}' => "a line separator",
        '\u{2029}' => "a paragraph separator",
        c if c.is_whitespace() && !c.is_ascii() => "a non-ASCII space",
        _ => return None,
    })
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

    #[test]
    fn refuses_a_byte_order_mark_and_invisible_characters_naming_them() {
        let err = parse(b"\xEF\xBB\xBFabc\n").unwrap_err().to_string();
        assert!(err.contains("byte-order mark"), "{err}");
        let err = parse("abc\u{00A0}\n".as_bytes()).unwrap_err().to_string();
        assert!(err.contains("ends with a no-break space (U+00A0)"), "{err}");
        let err = parse("ab\u{200B}c".as_bytes()).unwrap_err().to_string();
        assert!(
            err.contains("a zero-width space (U+200B) at character 3 of 4"),
            "{err}"
        );
        assert!(!err.contains("ab"), "{err}");
        let err = parse("abc\u{2003}".as_bytes()).unwrap_err().to_string();
        assert!(err.contains("a non-ASCII space"), "{err}");
    }
}
