//! Checks the core itself makes of values it is given: an endpoint URL read from the AWS config file
//! ([`crate::aws::conventions`]). The errors are data with a message that names no front end's
//! setting; the caller says where the value came from. The checks of a front end's own input (user
//! names, tags, secret names, ...) belong to that front end.

use std::fmt;

/// A value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidInput {
    /// An endpoint URL that does not parse (the parser's error is the source).
    NotAUrl { raw: String, error: url::ParseError },
    /// A URL that is not http:// or https:// with a host.
    NotAnHttpUrl { raw: String },
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidInput::NotAUrl { raw, .. } => write!(f, "'{raw}' is not a URL"),
            InvalidInput::NotAnHttpUrl { raw } => {
                write!(f, "'{raw}' must be an http:// or https:// URL with a host")
            }
        }
    }
}

impl std::error::Error for InvalidInput {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InvalidInput::NotAUrl { error, .. } => Some(error),
            InvalidInput::NotAnHttpUrl { .. } => None,
        }
    }
}

/// An endpoint URL: http or https with a host.
pub fn endpoint_url(raw: &str) -> Result<(), InvalidInput> {
    let parsed = url::Url::parse(raw).map_err(|error| InvalidInput::NotAUrl {
        raw: raw.to_string(),
        error,
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(InvalidInput::NotAnHttpUrl { raw: raw.to_string() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls() {
        assert!(endpoint_url("http://127.0.0.1:5000").is_ok());
        assert!(endpoint_url("https://iam.amazonaws.com").is_ok());
        for bad in ["127.0.0.1:5000", "ftp://x", "not a url"] {
            assert!(endpoint_url(bad).is_err(), "{bad}");
        }
        let e = endpoint_url("not a url").unwrap_err();
        assert_eq!(e.to_string(), "'not a url' is not a URL");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            endpoint_url("ftp://x").unwrap_err().to_string(),
            "'ftp://x' must be an http:// or https:// URL with a host"
        );
    }
}
