//! Reading IAM policy documents: does a policy allow an action, and is it exactly the SES console's
//! sending policy? Pure: documents come in as JSON text (already URL-decoded by `aws`).

use serde_json::Value;

/// The sending policy sesctl creates (`policies/ses-sending-access.json`), embedded at build time.
pub const SENDING_POLICY_DOCUMENT: &str = include_str!("../../../policies/ses-sending-access.json");

/// The one action an SMTP credential needs.
pub const SEND_RAW_EMAIL: &str = "ses:SendRawEmail";

/// Values that may be a string or a list of strings (`Action`, `Resource`).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    }
}

/// IAM's action matching: case-insensitive, `*` any run of characters, `?` one character.
///
/// The classic greedy matcher: on a mismatch, go back to the last `*` and let it take one more
/// character. At most O(pattern × action) steps, so a pattern full of stars in some policy of the
/// account cannot stall a run (a backtracking matcher takes exponential time on `***…*x`).
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), action.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(b'?') => {
                pi += 1;
                si += 1;
            }
            Some(c) if c.eq_ignore_ascii_case(&s[si]) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Parses a policy document; `None` if it is not a JSON object.
pub fn parse(document: &str) -> Option<Value> {
    serde_json::from_str::<Value>(document)
        .ok()
        .filter(Value::is_object)
}

/// Whether some Allow statement names `action` (directly or by wildcard) and no Deny statement
/// without conditions takes it away. Resources and conditions of Allow statements are not judged:
/// a sending policy may rightly be limited to some identities.
pub fn allows(document: &str, action: &str) -> bool {
    let Some(doc) = parse(document) else { return false };
    let mut allowed = false;
    for st in statements(&doc) {
        let effect = st.get("Effect").and_then(Value::as_str).unwrap_or_default();
        let names = strings(st.get("Action"))
            .iter()
            .any(|p| action_matches(p, action));
        if effect == "Allow" && names {
            allowed = true;
        }
        if effect == "Deny" && names && st.get("Condition").is_none() {
            return false;
        }
    }
    allowed
}

/// Whether the document is exactly the console's sending policy: one Allow of `ses:SendRawEmail` on
/// `*`, with no conditions and nothing else. Returns the differences otherwise, in words.
pub fn differences_from_sending_policy(document: &str) -> Vec<String> {
    let Some(doc) = parse(document) else {
        return vec!["the document is not a JSON policy".to_string()];
    };
    let mut diffs = Vec::new();
    let sts = statements(&doc);
    if sts.len() != 1 {
        diffs.push(format!("it has {} statements instead of 1", sts.len()));
    }
    for (i, st) in sts.iter().enumerate() {
        let n = i + 1;
        let effect = st.get("Effect").and_then(Value::as_str).unwrap_or_default();
        if effect != "Allow" {
            diffs.push(format!("statement {n} has Effect {effect:?}, not Allow"));
        }
        let actions = strings(st.get("Action"));
        if actions.len() != 1 || !actions[0].eq_ignore_ascii_case(SEND_RAW_EMAIL) {
            diffs.push(format!(
                "statement {n} allows {actions:?}, not only \"ses:SendRawEmail\""
            ));
        }
        if st.get("NotAction").is_some() {
            diffs.push(format!("statement {n} uses NotAction"));
        }
        let resources = strings(st.get("Resource"));
        if resources != ["*"] {
            diffs.push(format!("statement {n} applies to {resources:?}, not \"*\""));
        }
        if st.get("Condition").is_some() {
            diffs.push(format!("statement {n} has a Condition"));
        }
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_policy_is_the_sending_policy() {
        assert!(allows(SENDING_POLICY_DOCUMENT, SEND_RAW_EMAIL));
        assert!(differences_from_sending_policy(SENDING_POLICY_DOCUMENT).is_empty());
        let v = parse(SENDING_POLICY_DOCUMENT).unwrap();
        assert_eq!(v["Version"], "2012-10-17");
        assert_eq!(v["Statement"][0]["Action"], "ses:SendRawEmail");
        assert_eq!(v["Statement"][0]["Resource"], "*");
    }

    #[test]
    fn wildcards_and_lists_allow() {
        for action in ["ses:*", "*", "SES:sendrawemail", "ses:Send*", "ses:SendRawEmai?"] {
            let doc = format!(r#"{{"Statement":{{"Effect":"Allow","Action":"{action}","Resource":"*"}}}}"#);
            assert!(allows(&doc, SEND_RAW_EMAIL), "{action}");
        }
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":["ses:SendEmail","ses:SendRawEmail"],"Resource":"*"}]}"#;
        assert!(allows(doc, SEND_RAW_EMAIL));
        assert!(!differences_from_sending_policy(doc).is_empty());
    }

    #[test]
    fn matching_takes_linear_time_on_patterns_full_of_stars() {
        let pattern = format!("{}x", "*".repeat(5000));
        let started = std::time::Instant::now();
        assert!(!action_matches(&pattern, SEND_RAW_EMAIL));
        assert!(action_matches(&format!("{}l", "*".repeat(5000)), SEND_RAW_EMAIL));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        for (p, s, want) in [
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("?", "", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("*?", "", false),
            ("ses:*Email", "ses:SendRawEmail", true),
            ("ses:*Emai", "ses:SendRawEmail", false),
            ("s?s:*", "SES:x", true),
        ] {
            assert_eq!(action_matches(p, s), want, "{p} {s}");
        }
    }

    #[test]
    fn other_actions_and_denies_do_not_allow() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"*"}]}"#;
        assert!(!allows(doc, SEND_RAW_EMAIL));
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"ses:*","Resource":"*"},{"Effect":"Deny","Action":"ses:SendRawEmail","Resource":"*"}]}"#;
        assert!(!allows(doc, SEND_RAW_EMAIL));
        assert!(!allows("not json", SEND_RAW_EMAIL));
    }

    #[test]
    fn edited_policies_are_described() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"arn:aws:ses:us-east-1:1:identity/x.com","Condition":{"IpAddress":{}}}]}"#;
        let d = differences_from_sending_policy(doc);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].contains("identity/x.com"));
        assert!(d[1].contains("Condition"));
    }
}
