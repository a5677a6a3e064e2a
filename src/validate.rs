//! Checks of the command line's input (names and values that IAM and Secrets Manager would refuse, or
//! that moto would wrongly accept), made before any AWS call so bad input exits 2 with nothing
//! changed; and the words for the AWS settings the core refuses ([`aws_settings_error`]).

use sesctl_core::aws::conventions::{ConventionsError, ProfileSource};

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
        return secret_arn(name).map(|_| ());
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

/// The parts of a Secrets Manager secret ARN that decide where it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    /// The secret's name with the six-character suffix Secrets Manager adds (`NAME-AbCdEf`).
    pub name: String,
}

/// Checks a secret ARN, `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`, part by part (Secrets
/// Manager would otherwise take a malformed one as a literal name): the partition, the service, a
/// region name, a 12-digit account and a valid secret name.
pub fn secret_arn(arn: &str) -> anyhow::Result<SecretArn> {
    let bad = |why: &str| {
        usage(format!(
            "'{}' is not a secret ARN ({why}); expected arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME",
            crate::error::escape_controls(arn)
        ))
    };
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let [_, partition, service, region, account, kind, name] = parts.as_slice() else {
        return Err(bad("too few parts"));
    };
    if ![
        "aws",
        "aws-cn",
        "aws-us-gov",
        "aws-iso",
        "aws-iso-b",
        "aws-iso-e",
        "aws-iso-f",
        "aws-eusc",
    ]
    .contains(partition)
    {
        return Err(bad("unknown partition"));
    }
    if *service != "secretsmanager" {
        return Err(bad("not a Secrets Manager ARN"));
    }
    if !crate::regions::looks_like_region(region) {
        return Err(bad("no region"));
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad("the account is not 12 digits"));
    }
    if *kind != "secret" {
        return Err(bad("not a secret"));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
    if name.is_empty() || name.len() > 512 || !name.chars().all(ok_char) {
        return Err(bad("the secret name is not one Secrets Manager allows"));
    }
    Ok(SecretArn {
        partition: partition.to_string(),
        region: region.to_string(),
        account: account.to_string(),
        name: name.to_string(),
    })
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

/// A secret access key given to `derive` (`what` names where it came from): it must not be an access
/// key id (20 characters starting AKIA or ASIA: the SMTP user name, pasted instead of the secret), and
/// every character must be one AWS uses in secret access keys (A-Z a-z 0-9 + /). The length is not
/// checked: AWS's keys are 40 characters, but the derivation is defined for any key (published test
/// vectors use shorter ones).
pub fn secret_access_key(value: &str, what: &str) -> anyhow::Result<()> {
    const SHAPE: &str = "a secret access key is 40 characters of A-Z a-z 0-9 + /";
    let count = value.chars().count();
    let key_id_shape = count == 20
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if key_id_shape && (value.starts_with("AKIA") || value.starts_with("ASIA")) {
        let kind = if value.starts_with("ASIA") {
            "a temporary access key id (20 characters starting ASIA)"
        } else {
            "an access key id (20 characters starting AKIA)"
        };
        return Err(usage(format!(
            "the {what} is {kind}, not the secret: the key id is the SMTP user name; {SHAPE}, shown \
             with the key id once, when the key was created"
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    if let Some((i, c)) = value.chars().enumerate().find(|(_, c)| !allowed(*c)) {
        let seen = if c.is_ascii_graphic() {
            format!("'{c}'")
        } else {
            format!("U+{:04X}", c as u32)
        };
        return Err(usage(format!(
            "the {what} contains {seen} at character {} of {count}, which no secret access key has: {SHAPE}",
            i + 1
        )));
    }
    Ok(())
}

/// `--endpoint-url`: http or https with a host.
pub fn endpoint_url(raw: &str) -> anyhow::Result<()> {
    endpoint_url_in("--endpoint-url", raw)
}

/// An endpoint URL read from `source` (a flag, a variable), named in the message.
fn endpoint_url_in(source: &str, raw: &str) -> anyhow::Result<()> {
    sesctl_core::validate::endpoint_url(raw).map_err(|e| usage(format!("{source} {}", with_causes(&e))))
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

/// An AWS setting the core could not use ([`ConventionsError`]), as bad input (exit 2) naming the
/// flag or variable that set it.
pub fn aws_settings_error(err: ConventionsError) -> anyhow::Error {
    let named_by = |source: ProfileSource| match source {
        ProfileSource::Setting => "--profile",
        ProfileSource::Environment => "AWS_PROFILE",
    };
    usage(match &err {
        ConventionsError::ProfileUnreadable {
            profile,
            named_by: source,
            error,
        } => format!(
            "the config profile ({profile}) given by {} could not be read: {error}",
            named_by(*source)
        ),
        ConventionsError::ProfileNotFound {
            profile,
            named_by: source,
            config_file,
            credentials_file,
        } => format!(
            "the config profile ({profile}) could not be found: {} names it, but neither {config_file} \
             ([profile {profile}]) nor {credentials_file} ([{profile}]) has it",
            named_by(*source)
        ),
        // Their words name the variable or file that set them; the cause ends the line.
        ConventionsError::CaBundle { .. } | ConventionsError::EndpointUrl { .. } => with_causes(&err),
    })
}

/// An error's message followed by its causes', joined by `: `.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        out.push_str(&format!(": {c}"));
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_arns_are_checked_part_by_part() {
        let a = secret_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:smtp/app-AbCdEf").unwrap();
        assert_eq!(
            (a.region.as_str(), a.account.as_str()),
            ("eu-west-1", "123456789012")
        );
        let g = secret_arn("arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a-b").unwrap();
        assert_eq!(g.region, "us-gov-west-1");
        for bad in [
            "arn:totally bogus; rm -rf",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:secretsmanager::123456789012:secret:x",
            "arn:aws:secretsmanager:eu-west-1:1234:secret:x",
            "arn:aws:secretsmanager:eu-west-1:123456789012:parameter:x",
            "arn:nope:secretsmanager:eu-west-1:123456789012:secret:x",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bad name",
        ] {
            let e = secret_arn(bad).unwrap_err();
            assert!(crate::error::is_usage(&e), "{bad}");
            assert!(secret_name(bad).is_err(), "{bad}");
        }
    }

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
        assert!(secret_name("arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf").is_ok());
        for bad in ["", "has space", "bad#char"] {
            assert!(secret_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_access_keys() {
        let what = "secret access key";
        assert!(secret_access_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", what).is_ok());
        assert!(secret_access_key("some+secret+key", what).is_ok());
        let err = secret_access_key("AKIAIOSFODNN7EXAMPLE", what)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("access key id (20 characters starting AKIA)"),
            "{err}"
        );
        assert!(!err.contains("IOSFODNN7"), "{err}");
        let err = secret_access_key("ASIAIOSFODNN7EXAMPLE", what)
            .unwrap_err()
            .to_string();
        assert!(err.contains("temporary access key id"), "{err}");
        let err = secret_access_key("\"wJalrXUtnFEMI\"", what)
            .unwrap_err()
            .to_string();
        assert!(err.contains("'\"' at character 1 of 15"), "{err}");
        let err = secret_access_key("abc\u{00FC}", what).unwrap_err().to_string();
        assert!(err.contains("U+00FC at character 4 of 4"), "{err}");
        // 20 characters starting AKIA but with a lower-case letter: not a key id, a (short) secret.
        assert!(secret_access_key("AKIAiOSFODNN7EXAMPLE", what).is_ok());
    }

    #[test]
    fn endpoint_urls() {
        assert!(endpoint_url("http://127.0.0.1:5000").is_ok());
        for bad in ["127.0.0.1:5000", "ftp://x", "not a url"] {
            assert!(endpoint_url(bad).is_err(), "{bad}");
        }
    }
    #[test]
    fn aws_settings_are_bad_input_naming_the_flag_or_variable() {
        let e = aws_settings_error(ConventionsError::ProfileNotFound {
            profile: "ops".into(),
            named_by: ProfileSource::Setting,
            config_file: "~/.aws/config".into(),
            credentials_file: "~/.aws/credentials".into(),
        });
        assert_eq!(crate::error::exit_code_for(&e), 2);
        assert_eq!(
            e.to_string(),
            "the config profile (ops) could not be found: --profile names it, but neither ~/.aws/config \
             ([profile ops]) nor ~/.aws/credentials ([ops]) has it"
        );
        let e = aws_settings_error(ConventionsError::ProfileUnreadable {
            profile: "ops".into(),
            named_by: ProfileSource::Environment,
            error: "bad line".into(),
        });
        assert_eq!(
            e.to_string(),
            "the config profile (ops) given by AWS_PROFILE could not be read: bad line"
        );
        let e = aws_settings_error(ConventionsError::CaBundle {
            setting: "AWS_CA_BUNDLE",
            path: "/nowhere.pem".into(),
            problem: sesctl_core::aws::conventions::CaBundleProblem::Unreadable(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "No such file or directory (os error 2)",
            )),
        });
        assert_eq!(crate::error::exit_code_for(&e), 2);
        assert_eq!(
            e.to_string(),
            "AWS_CA_BUNDLE /nowhere.pem: could not read it: No such file or directory (os error 2)"
        );
        let e = aws_settings_error(ConventionsError::EndpointUrl {
            setting: "the profile's endpoint_url".into(),
            error: sesctl_core::validate::endpoint_url("ftp://x").unwrap_err(),
        });
        assert_eq!(
            e.to_string(),
            "the profile's endpoint_url 'ftp://x' must be an http:// or https:// URL with a host"
        );
    }

    #[test]
    fn endpoint_url_messages_name_the_setting() {
        let e = endpoint_url("not a url").unwrap_err();
        assert_eq!(crate::error::exit_code_for(&e), 2);
        assert_eq!(
            e.to_string(),
            "--endpoint-url 'not a url' is not a URL: relative URL without a base"
        );
    }
}
