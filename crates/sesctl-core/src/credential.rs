//! The stored SMTP credential: reading the shapes sesctl meets in Secrets Manager, and writing the
//! credential in the shapes its consumers read.
//!
//! Read: sesctl's own JSON (`{"username", "password", "host", "port", "region", "iam_user_name",
//! "access_key_id"}`), other tools' JSON (`{"username", "password"}` as the pepperize CDK construct
//! writes it, `{"SMTP_USERNAME", "SMTP_PASSWORD"}`), and the plain string `AKID:password` (the
//! aws-samples rotation function). A port may be a number or a string of digits. Errors say which
//! shape was seen and what is missing, never a value.
//!
//! Written ([`ExportFormat`]): environment variables, an `smtp://` URL with RFC 3986 userinfo
//! encoding, Postfix's `sasl_passwd` line, JSON, and the console's CSV.

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::secret::Secret;

/// Which shape a stored value had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// sesctl's JSON.
    Sesctl,
    /// `{"username", "password"}` without sesctl's fields (the pepperize CDK construct).
    UsernamePassword,
    /// `{"SMTP_USERNAME", "SMTP_PASSWORD"}`.
    SmtpVariables,
    /// The plain string `AKID:password` (the aws-samples rotation function).
    KeyColonPassword,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shape::Sesctl => "sesctl's JSON",
            Shape::UsernamePassword => "JSON {\"username\", \"password\"}",
            Shape::SmtpVariables => "JSON {\"SMTP_USERNAME\", \"SMTP_PASSWORD\"}",
            Shape::KeyColonPassword => "the plain string AKID:password",
        })
    }
}

/// A stored SMTP credential, whatever its shape.
pub struct StoredCredential {
    pub shape: Shape,
    /// The SMTP user name: the access key id.
    pub username: String,
    pub password: Secret,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// The SES region the password was derived for, when the value says so.
    pub region: Option<String>,
    pub iam_user_name: Option<String>,
}

/// Why a value is not a credential: what was seen (never the value itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

fn text_field(doc: &serde_json::Map<String, serde_json::Value>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| doc.get(*n).and_then(serde_json::Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The fields of a stored value that may hold a password.
const PASSWORD_FIELDS: [&str; 2] = ["password", "SMTP_PASSWORD"];

/// A parsed stored value whose password fields are zeroized when it is dropped: the password is
/// moved out of it, never copied, and no other copy is freed unwiped with the document.
struct Document(serde_json::Map<String, serde_json::Value>);

impl Document {
    /// Moves the password field `name` out (no copy), when it is a non-empty string.
    fn take_password(&mut self, name: &str) -> Option<Secret> {
        match self.0.remove(name) {
            Some(serde_json::Value::String(p)) if !p.is_empty() => Some(Secret::new(p)),
            Some(serde_json::Value::String(mut p)) => {
                zeroize::Zeroize::zeroize(&mut p);
                None
            }
            _ => None,
        }
    }
}

impl Drop for Document {
    fn drop(&mut self) {
        for field in PASSWORD_FIELDS {
            if let Some(serde_json::Value::String(p)) = self.0.get_mut(field) {
                zeroize::Zeroize::zeroize(p);
            }
        }
    }
}

/// The IAM user a stored value names in `iam_user_name` (sesctl's JSON), whatever else it holds or
/// lacks; `None` for any other value. Only that field is read: the password is never copied.
pub fn named_user(value: &Secret) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        iam_user_name: Option<String>,
    }
    serde_json::from_str::<Named>(value.expose())
        .ok()?
        .iam_user_name
        .filter(|u| !u.is_empty())
}

impl StoredCredential {
    /// Reads a stored value in any of the shapes in the module doc.
    pub fn parse(value: &Secret) -> Result<StoredCredential, FormatError> {
        let text = value.expose();
        let mut document = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(doc)) => Document(doc),
            Ok(serde_json::Value::String(mut s)) => {
                // A quoted string may be a credential too: wiped like the password fields.
                zeroize::Zeroize::zeroize(&mut s);
                return Err(FormatError("it is JSON but not an object".into()));
            }
            Ok(_) => return Err(FormatError("it is JSON but not an object".into())),
            Err(_) => return Self::parse_colon(text),
        };
        let doc = &document.0;
        let (shape, username, password) =
            if doc.contains_key("SMTP_USERNAME") || doc.contains_key("SMTP_PASSWORD") {
                (
                    Shape::SmtpVariables,
                    text_field(doc, &["SMTP_USERNAME"]),
                    "SMTP_PASSWORD",
                )
            } else {
                let shape = if doc.contains_key("iam_user_name") || doc.contains_key("access_key_id") {
                    Shape::Sesctl
                } else {
                    Shape::UsernamePassword
                };
                (shape, text_field(doc, &["username", "access_key_id"]), "password")
            };
        let username = username.ok_or_else(|| FormatError(format!("{shape}, but without the user name")))?;
        let password = document
            .take_password(password)
            .ok_or_else(|| FormatError(format!("{shape}, but without the password")))?;
        let doc = &document.0;
        let port = match doc.get("port").or_else(|| doc.get("SMTP_PORT")) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => Some(
                n.as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p > 0)
                    .ok_or_else(|| FormatError("its port is not a port number".into()))?,
            ),
            Some(serde_json::Value::String(s)) => Some(
                s.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| FormatError("its port is not a port number".into()))?,
            ),
            Some(_) => return Err(FormatError("its port is not a port number".into())),
        };
        Ok(StoredCredential {
            shape,
            username,
            password,
            host: text_field(doc, &["host", "SMTP_HOST"]),
            port,
            region: text_field(doc, &["region"]),
            iam_user_name: text_field(doc, &["iam_user_name"]),
        })
    }

    fn parse_colon(text: &str) -> Result<StoredCredential, FormatError> {
        let looks_like_key = |k: &str| {
            k.len() >= 16
                && k.len() <= 128
                && (k.starts_with("AKIA") || k.starts_with("ASIA"))
                && k.chars().all(|c| c.is_ascii_alphanumeric())
        };
        match text.split_once(':') {
            Some((key, password)) if looks_like_key(key) && !password.is_empty() => Ok(StoredCredential {
                shape: Shape::KeyColonPassword,
                username: key.to_string(),
                password: Secret::new(password.to_string()),
                host: None,
                port: None,
                region: None,
                iam_user_name: None,
            }),
            _ => Err(FormatError(
                "it is neither JSON nor the plain string AKID:password".into(),
            )),
        }
    }
}

/// What a new version of a stored credential holds.
pub struct NextValue<'a> {
    pub access_key_id: &'a str,
    pub password: &'a Secret,
    pub region: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub iam_user_name: &'a str,
}

/// The value of the next version of a stored credential: for a JSON object, every field of the
/// current value is kept (what its consumers read: `username`/`password`, `SMTP_USERNAME`/
/// `SMTP_PASSWORD`, fields of their own), the key and password are replaced, and sesctl's fields are
/// set; the plain string `AKID:password` stays a plain string, since its consumers split it.
/// `None` when the current value is neither.
pub fn next_value(current: &Secret, next: &NextValue<'_>) -> Option<Secret> {
    use zeroize::Zeroize;
    let text = current.expose();
    let mut doc = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(doc)) => doc,
        Ok(_) => return None,
        Err(_) => {
            return StoredCredential::parse_colon(text)
                .ok()
                .map(|_| Secret::new(format!("{}:{}", next.access_key_id, next.password.expose())))
        }
    };
    for field in ["password", "SMTP_PASSWORD"] {
        if let Some(serde_json::Value::String(mut old)) = doc.remove(field) {
            old.zeroize();
            if field == "SMTP_PASSWORD" {
                doc.insert(field.into(), next.password.expose().into());
            }
        }
    }
    if doc.contains_key("SMTP_USERNAME") {
        doc.insert("SMTP_USERNAME".into(), next.access_key_id.into());
    }
    doc.insert("username".into(), next.access_key_id.into());
    doc.insert("password".into(), next.password.expose().into());
    doc.insert("host".into(), next.host.into());
    doc.insert("port".into(), next.port.into());
    doc.insert("region".into(), next.region.into());
    doc.insert("iam_user_name".into(), next.iam_user_name.into());
    doc.insert("access_key_id".into(), next.access_key_id.into());
    let text = crate::secret::json_secret(&doc);
    for field in ["password", "SMTP_PASSWORD"] {
        if let Some(serde_json::Value::String(mut p)) = doc.remove(field) {
            p.zeroize();
        }
    }
    text
}

/// The shapes `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `SMTP_HOST=…`, `SMTP_PORT=…`, `SMTP_USERNAME=…`, `SMTP_PASSWORD=…` lines.
    Env,
    /// `smtp://USER:PASS@HOST:PORT`, user and password percent-encoded as RFC 3986 userinfo.
    Dsn,
    /// Postfix's `sasl_passwd` line: `[HOST]:PORT USER:PASS`.
    Postfix,
    /// `{"host", "port", "username", "password", "region"}`.
    Json,
    /// The console's CSV (IAM User Name, Smtp Username, Smtp Password).
    Csv,
}

/// Everything userinfo may not hold unencoded: all but RFC 3986's unreserved characters (so `+`,
/// `/`, `:`, `@` and `=` are always encoded).
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The endpoint and credential to export.
pub struct Export<'a> {
    pub host: &'a str,
    pub port: u16,
    pub username: &'a str,
    pub password: &'a Secret,
    pub region: Option<&'a str>,
    pub iam_user_name: Option<&'a str>,
}

impl Export<'_> {
    /// The credential in `format`, ending with a newline. Zeroized when dropped.
    pub fn render(&self, format: ExportFormat) -> Zeroizing<String> {
        let pw = self.password.expose();
        let text = match format {
            ExportFormat::Env => format!(
                "SMTP_HOST={}\nSMTP_PORT={}\nSMTP_USERNAME={}\nSMTP_PASSWORD={}\n",
                self.host, self.port, self.username, pw
            ),
            ExportFormat::Dsn => format!(
                "smtp://{}:{}@{}:{}\n",
                utf8_percent_encode(self.username, USERINFO),
                utf8_percent_encode(pw, USERINFO),
                self.host,
                self.port
            ),
            ExportFormat::Postfix => format!("[{}]:{} {}:{}\n", self.host, self.port, self.username, pw),
            ExportFormat::Json => {
                #[derive(Serialize)]
                struct Doc<'a> {
                    host: &'a str,
                    port: u16,
                    username: &'a str,
                    password: &'a str,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    region: Option<&'a str>,
                }
                let doc = Doc {
                    host: self.host,
                    port: self.port,
                    username: self.username,
                    password: pw,
                    region: self.region,
                };
                // Serializing strings and a number cannot fail.
                let mut s = serde_json::to_string_pretty(&doc).expect("the export serializes");
                s.push('\n');
                s
            }
            ExportFormat::Csv => {
                let mut w = csv::Writer::from_writer(Vec::new());
                w.write_record(crate::workflows::deliver::CSV_HEADER)
                    .expect("write to memory");
                w.write_record([self.iam_user_name.unwrap_or(""), self.username, pw])
                    .expect("write to memory");
                let bytes = Zeroizing::new(w.into_inner().expect("flush to memory"));
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        Zeroizing::new(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<StoredCredential, FormatError> {
        StoredCredential::parse(&Secret::new(s.to_string()))
    }

    #[test]
    fn the_named_user_is_read_from_any_value_that_names_one() {
        let named = |v: &str| named_user(&Secret::new(v.to_string()));
        assert_eq!(named(r#"{"iam_user_name":"mailer"}"#).as_deref(), Some("mailer"));
        assert_eq!(
            named(r#"{"iam_user_name":"mailer","password":"p","username":"AKIA1"}"#).as_deref(),
            Some("mailer")
        );
        assert_eq!(named(r#"{"iam_user_name":""}"#), None);
        assert_eq!(named(r#"{"username":"AKIA1","password":"p"}"#), None);
        assert_eq!(named("AKIAIOSFODNN7EXAMPLE:p"), None);
    }

    #[test]
    fn every_shape_is_read() {
        let c = parse(r#"{"username":"AKIAX","password":"p","host":"h","port":587,"region":"eu-west-1","iam_user_name":"u","access_key_id":"AKIAX"}"#).unwrap();
        assert_eq!(
            (c.shape, c.username.as_str(), c.port),
            (Shape::Sesctl, "AKIAX", Some(587))
        );
        let c = parse(r#"{"username":"AKIAX","password":"p"}"#).unwrap();
        assert_eq!(c.shape, Shape::UsernamePassword);
        let c = parse(r#"{"SMTP_USERNAME":"AKIAX","SMTP_PASSWORD":"p","SMTP_PORT":"2587"}"#).unwrap();
        assert_eq!((c.shape, c.port), (Shape::SmtpVariables, Some(2587)));
        let c = parse("AKIAIOSFODNN7EXAMPLE:BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9").unwrap();
        assert_eq!(
            (c.shape, c.username.as_str()),
            (Shape::KeyColonPassword, "AKIAIOSFODNN7EXAMPLE")
        );
        assert_eq!(
            c.password.expose(),
            "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9"
        );
        let c = parse(r#"{"username":"AKIAX","password":"p","port":"465"}"#).unwrap();
        assert_eq!(c.port, Some(465));
    }

    #[test]
    fn errors_say_what_was_seen_and_never_the_value() {
        for (value, says) in [
            ("hunter2-secret", "neither JSON"),
            (r#"["hunter2-secret"]"#, "not an object"),
            (r#"{"username":"AKIAX"}"#, "without the password"),
            (r#"{"password":"hunter2-secret"}"#, "without the user name"),
            (
                r#"{"username":"AKIAX","password":"hunter2-secret","port":"x"}"#,
                "port",
            ),
        ] {
            let e = parse(value).err().unwrap().to_string();
            assert!(e.contains(says), "{value}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn the_next_value_keeps_what_consumers_read() {
        let next = NextValue {
            access_key_id: "AKIANEW",
            password: &Secret::new("new-pass".into()),
            region: "eu-west-1",
            host: "email-smtp.eu-west-1.amazonaws.com",
            port: 587,
            iam_user_name: "mailer",
        };
        let v = next_value(
            &Secret::new(r#"{"SMTP_USERNAME":"AKIAOLD","SMTP_PASSWORD":"old-pass","team":"x"}"#.into()),
            &next,
        )
        .unwrap();
        let doc: serde_json::Value = serde_json::from_str(v.expose()).unwrap();
        assert_eq!(
            (doc["SMTP_USERNAME"].as_str(), doc["SMTP_PASSWORD"].as_str()),
            (Some("AKIANEW"), Some("new-pass"))
        );
        assert_eq!(
            (
                doc["username"].as_str(),
                doc["iam_user_name"].as_str(),
                doc["team"].as_str()
            ),
            (Some("AKIANEW"), Some("mailer"), Some("x"))
        );
        assert!(!v.expose().contains("old-pass"));
        let v = next_value(&Secret::new("AKIAIOSFODNN7EXAMPLE:old-pass".into()), &next).unwrap();
        assert_eq!(v.expose(), "AKIANEW:new-pass");
        assert!(next_value(&Secret::new("garbage".into()), &next).is_none());
    }

    #[test]
    fn exports_encode_what_their_consumers_need() {
        let password = Secret::new("ab+c/d=e:f@g".to_string());
        let e = Export {
            host: "email-smtp.eu-west-1.amazonaws.com",
            port: 587,
            username: "AKIAEXAMPLE",
            password: &password,
            region: Some("eu-west-1"),
            iam_user_name: Some("mailer"),
        };
        assert_eq!(
            e.render(ExportFormat::Dsn).as_str(),
            "smtp://AKIAEXAMPLE:ab%2Bc%2Fd%3De%3Af%40g@email-smtp.eu-west-1.amazonaws.com:587\n"
        );
        assert_eq!(
            e.render(ExportFormat::Postfix).as_str(),
            "[email-smtp.eu-west-1.amazonaws.com]:587 AKIAEXAMPLE:ab+c/d=e:f@g\n"
        );
        assert!(e
            .render(ExportFormat::Env)
            .contains("SMTP_PASSWORD=ab+c/d=e:f@g\n"));
        let csv = e.render(ExportFormat::Csv);
        assert!(csv.starts_with("IAM User Name,Smtp Username,Smtp Password\nmailer,AKIAEXAMPLE,"));
        let json: serde_json::Value = serde_json::from_str(&e.render(ExportFormat::Json)).unwrap();
        assert_eq!(json["password"], "ab+c/d=e:f@g");
        assert_eq!(json["port"], 587);
    }
}
