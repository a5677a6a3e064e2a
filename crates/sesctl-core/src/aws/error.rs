//! One classification of AWS failures for every service: a small [`ErrorKind`] that workflows act on,
//! and a message that names the API action (`iam:CreateUser`), so an operator missing a permission
//! sees exactly which one.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of failure an AWS call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    LimitExceeded,
    AccessDenied,
    Throttled,
    /// Bad input the service refused (a malformed name, a policy document it rejects).
    Invalid,
    /// No response in time.
    Timeout,
    /// The endpoint could not be reached, or the connection broke.
    Network,
    Other,
}

/// A failed AWS call.
#[derive(Debug, Clone)]
pub struct AwsError {
    pub kind: ErrorKind,
    /// The API action in IAM policy form, e.g. `iam:CreateUser`.
    pub action: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, self.kind) {
            (Some(code), ErrorKind::AccessDenied) => write!(
                f,
                "{} was denied ({code}): {}; the caller needs permission for {}",
                self.action, self.message, self.action
            ),
            (None, ErrorKind::AccessDenied) => write!(
                f,
                "{} was denied: {}; the caller needs permission for {}",
                self.action, self.message, self.action
            ),
            (Some(code), _) => write!(f, "{} failed ({code}): {}", self.action, self.message),
            (None, _) => write!(f, "{} failed: {}", self.action, self.message),
        }
    }
}

impl std::error::Error for AwsError {}

fn kind_for_code(code: &str) -> ErrorKind {
    match code {
        "NoSuchEntity" | "ResourceNotFoundException" => ErrorKind::NotFound,
        "EntityAlreadyExists" | "ResourceExistsException" => ErrorKind::AlreadyExists,
        "LimitExceeded" | "LimitExceededException" => ErrorKind::LimitExceeded,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken" => ErrorKind::AccessDenied,
        "Throttling" | "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            ErrorKind::Throttled
        }
        "ValidationError"
        | "InvalidInput"
        | "MalformedPolicyDocument"
        | "InvalidParameterException"
        | "InvalidRequestException"
        | "InvalidParameterValue" => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    }
}

/// The error and its sources on one line.
pub(crate) fn display_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// The `<Message>` of an XML error body the SDK could not parse, on one line and at most 300
/// characters.
fn xml_message(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Message>")? + "<Message>".len();
    let end = start + text[start..].find("</Message>")?;
    let message: String = text[start..end]
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    Some(message.trim().to_string()).filter(|m| !m.is_empty())
}

/// The answer to a read of something that may not exist: `None` when AWS says there is no such entity
/// (`NoSuchEntity`, `ResourceNotFoundException`), every other failure classified.
pub(crate) fn found<T, E>(
    action: &'static str,
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(e) => {
            let e = classify(action, e);
            if e.is(ErrorKind::NotFound) {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// Classifies an SDK failure of `action`.
pub(crate) fn classify<E>(action: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (kind, code, message) = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let status = service.raw().status().as_u16();
            match e.code() {
                Some(code) => (
                    kind_for_code(code),
                    Some(code.to_string()),
                    e.message().unwrap_or("no message").to_string(),
                ),
                None if status == 429 => (ErrorKind::Throttled, None, format!("HTTP {status}")),
                // An AWS API answers 403 only to a request it refuses to authorize; a body the SDK
                // cannot read (an emulator's, a proxy's or a VPC endpoint policy's) is still a denial.
                None if status == 403 => (
                    ErrorKind::AccessDenied,
                    None,
                    match service.raw().body().bytes().and_then(xml_message) {
                        Some(m) => format!("the service answered HTTP 403 Forbidden ({m})"),
                        None => "the service answered HTTP 403 Forbidden".to_string(),
                    },
                ),
                None => (
                    ErrorKind::Other,
                    None,
                    format!("the service answered HTTP {status}"),
                ),
            }
        }
        SdkError::TimeoutError(_) => (ErrorKind::Timeout, None, "no response in time".to_string()),
        SdkError::DispatchFailure(d) if d.is_timeout() => (
            ErrorKind::Timeout,
            None,
            format!("no response in time ({})", display_chain(&err)),
        ),
        SdkError::DispatchFailure(_) => (
            ErrorKind::Network,
            None,
            format!(
                "could not reach the endpoint or the connection broke ({})",
                display_chain(&err)
            ),
        ),
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            let kind = match status {
                429 => ErrorKind::Throttled,
                403 => ErrorKind::AccessDenied,
                _ => ErrorKind::Network,
            };
            (
                kind,
                None,
                format!("the response could not be read (HTTP {status})"),
            )
        }
        _ => (ErrorKind::Other, None, display_chain(&err)),
    };
    AwsError {
        kind,
        action,
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind_for_code("NoSuchEntity"), ErrorKind::NotFound);
        assert_eq!(kind_for_code("ResourceNotFoundException"), ErrorKind::NotFound);
        assert_eq!(kind_for_code("EntityAlreadyExists"), ErrorKind::AlreadyExists);
        assert_eq!(kind_for_code("Throttling"), ErrorKind::Throttled);
        assert_eq!(kind_for_code("AccessDenied"), ErrorKind::AccessDenied);
        assert_eq!(kind_for_code("SomethingNew"), ErrorKind::Other);
    }

    #[test]
    fn the_message_of_an_unparsed_error_body_is_kept_short_and_on_one_line() {
        let body = b"<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: x is not\nauthorized</Message></Error></Errors></ErrorResponse>";
        assert_eq!(xml_message(body).as_deref(), Some("User: x is not authorized"));
        assert_eq!(xml_message(b"<html>Forbidden</html>"), None);
        assert_eq!(xml_message(b"<Message></Message>"), None);
        let long = format!("<Message>{}</Message>", "a".repeat(1000));
        assert_eq!(xml_message(long.as_bytes()).unwrap().len(), 300);
    }

    #[test]
    fn access_denied_names_the_action() {
        let e = AwsError {
            kind: ErrorKind::AccessDenied,
            action: "iam:CreateUser",
            code: Some("AccessDenied".into()),
            message: "User: x is not authorized".into(),
        };
        assert!(e.to_string().contains("needs permission for iam:CreateUser"));
        let unreadable = AwsError {
            code: None,
            message: "the service answered HTTP 403 Forbidden".into(),
            ..e
        };
        assert_eq!(
            unreadable.to_string(),
            "iam:CreateUser was denied: the service answered HTTP 403 Forbidden; the caller needs \
             permission for iam:CreateUser"
        );
    }
}
