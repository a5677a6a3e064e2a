//! Checks of names and values that IAM and Secrets Manager would refuse (or that moto would wrongly
//! accept), made before any AWS call so bad input exits 2 with nothing changed.

use crate::error::usage;

/// An IAM user name: 1–64 characters of `A-Z a-z 0-9 + = , . @ _ -`.
pub fn user_name(name: &str) -> anyhow::Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if name.is_empty() || name.chars().count() > 64 {
        return Err(usage(format!(
            "IAM user name '{name}' must be 1 to 64 characters long (it has {})",
            name.chars().count()
        )));
    }
    if let Some(c) = name.chars().find(|c| !ok_char(*c)) {
        return Err(usage(format!(
            "IAM user name '{name}' contains '{c}'; IAM allows only letters, digits and + = , . @ _ -"
        )));
    }
    Ok(())
}

/// An IAM path: `/`, or `/` + segments of printable ASCII (not `/` itself in a segment), ending in
/// `/`, at most 512 characters.
pub fn iam_path(path: &str) -> anyhow::Result<()> {
    let bad = || {
        usage(format!(
            "IAM path '{path}' is not valid: it must start and end with '/', use printable ASCII \
             without spaces, and be at most 512 characters (e.g. /smtp/)"
        ))
    };
    if path.is_empty() || path.len() > 512 || !path.starts_with('/') || !path.ends_with('/') {
        return Err(bad());
    }
    if path.contains("//") || !path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)) {
        return Err(bad());
    }
    Ok(())
}

/// One `--tag KEY=VALUE`, checked against IAM's tag rules: key 1–128 characters, value 0–256, both of
/// letters, digits, spaces and `_ . : / = + - @`; keys may not start with `aws:`.
pub fn tag(raw: &str) -> anyhow::Result<(String, String)> {
    let Some((key, value)) = raw.split_once('=') else {
        return Err(usage(format!("--tag '{raw}' must be KEY=VALUE")));
    };
    let ok_char = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
    if key.is_empty() || key.chars().count() > 128 {
        return Err(usage(format!("tag key '{key}' must be 1 to 128 characters")));
    }
    if value.chars().count() > 256 {
        return Err(usage(format!(
            "the value of tag '{key}' is longer than 256 characters"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(usage(format!("tag key '{key}' uses the reserved prefix 'aws:'")));
    }
    if let Some(c) = key.chars().chain(value.chars()).find(|c| !ok_char(*c)) {
        return Err(usage(format!(
            "tag '{raw}' contains '{c}'; IAM tags allow letters, digits, spaces and _ . : / = + - @"
        )));
    }
    Ok((key.to_string(), value.to_string()))
}

/// All `--tag` values: each valid, no key twice (IAM keys are case-insensitive), at most 50.
pub fn tags(raw: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    if raw.len() > 50 {
        return Err(usage(format!(
            "{} tags given; IAM allows at most 50 per user",
            raw.len()
        )));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for r in raw {
        let (k, v) = tag(r)?;
        if out.iter().any(|(seen, _)| seen.eq_ignore_ascii_case(&k)) {
            return Err(usage(format!("tag key '{k}' is given twice")));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// A Secrets Manager secret name (or ARN): 1–512 characters of letters, digits and `/_+=.@-`.
pub fn secret_name(name: &str) -> anyhow::Result<()> {
    if name.starts_with("arn:") {
        return Ok(());
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
    if name.is_empty() || name.len() > 512 {
        return Err(usage(format!("secret name '{name}' must be 1 to 512 characters")));
    }
    if let Some(c) = name.chars().find(|c| !ok_char(*c)) {
        return Err(usage(format!(
            "secret name '{name}' contains '{c}'; Secrets Manager allows letters, digits and / _ + = . @ -"
        )));
    }
    Ok(())
}

/// A KMS key id, alias or ARN: non-empty, no whitespace, at most 2048 characters.
pub fn kms_key_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty() || id.len() > 2048 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(usage(format!(
            "KMS key '{id}' is not a key id, alias (alias/NAME) or ARN"
        )));
    }
    Ok(())
}

/// An endpoint URL: http or https with a host.
pub fn endpoint_url(raw: &str) -> anyhow::Result<()> {
    endpoint_url_in("--endpoint-url", raw)
}

fn endpoint_url_in(source: &str, raw: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(raw).map_err(|e| usage(format!("{source} '{raw}' is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(usage(format!(
            "{source} '{raw}' must be an http:// or https:// URL with a host"
        )));
    }
    Ok(())
}

/// The environment variables that shape how sesctl reaches AWS, checked before the SDK reads them:
/// the SDK reports a malformed endpoint only when a request is made (as a debug dump of that
/// request), and panics on a malformed retry setting.
pub fn aws_environment() -> anyhow::Result<()> {
    let var = |name: &str| -> anyhow::Result<Option<String>> {
        match std::env::var(name) {
            Ok(v) if v.is_empty() => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(usage(format!("{name} is not valid UTF-8"))),
        }
    };
    let ignored = var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")?.is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !ignored {
        for name in [
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_IAM",
            "AWS_ENDPOINT_URL_STS",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        ] {
            if let Some(v) = var(name)? {
                endpoint_url_in(name, &v)?;
            }
        }
    }
    if let Some(v) = var("AWS_MAX_ATTEMPTS")? {
        if !v.parse::<u32>().is_ok_and(|n| (1..=20).contains(&n)) {
            return Err(usage(format!(
                "AWS_MAX_ATTEMPTS '{v}' must be a whole number from 1 to 20"
            )));
        }
    }
    if let Some(v) = var("AWS_RETRY_MODE")? {
        if !["standard", "adaptive"].contains(&v.to_ascii_lowercase().as_str()) {
            return Err(usage(format!(
                "AWS_RETRY_MODE '{v}' must be standard or adaptive"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in [
            "a",
            "ses-smtp-user.20240101-120000",
            "x+y=z,a.b@c_d-e",
            &"a".repeat(64),
        ] {
            assert!(user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "sl/ash", "ü", "semi;colon", &"a".repeat(65)] {
            assert!(user_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths() {
        assert!(iam_path("/").is_ok());
        assert!(iam_path("/smtp/mail/").is_ok());
        for bad in ["", "smtp/", "/smtp", "/a b/", "//", "/ü/"] {
            assert!(iam_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tag_rules() {
        assert_eq!(tag("team=mail ops").unwrap(), ("team".into(), "mail ops".into()));
        assert_eq!(tag("empty=").unwrap(), ("empty".into(), "".into()));
        assert_eq!(tag("k=a=b").unwrap(), ("k".into(), "a=b".into()));
        for bad in [
            "noequals",
            "=v",
            "aws:x=1",
            "k=v;",
            &format!("{}=v", "k".repeat(129)),
        ] {
            assert!(tag(bad).is_err(), "{bad}");
        }
        assert!(tags(&["a=1".into(), "A=2".into()]).is_err());
    }

    #[test]
    fn secret_names() {
        assert!(secret_name("smtp/app-mailer").is_ok());
        assert!(secret_name("arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf").is_ok());
        for bad in ["", "has space", "bad#char"] {
            assert!(secret_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoint_urls() {
        assert!(endpoint_url("http://127.0.0.1:5000").is_ok());
        for bad in ["127.0.0.1:5000", "ftp://x", "not a url"] {
            assert!(endpoint_url(bad).is_err(), "{bad}");
        }
    }
}
