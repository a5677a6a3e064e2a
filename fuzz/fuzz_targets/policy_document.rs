//! Policy documents as IAM returns them (URL-encoded JSON, written by anyone with IAM access):
//! `aws::iam::decode_policy_document`, then `policy::parse`, `policy::allows` and
//! `policy::differences_from_sending_policy`; and `policy::action_matches` on a pattern and an action
//! taken from the same input (first line: pattern, second: action). None may panic, and each must
//! finish in linear-ish time on a 4 KB input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesctl::policy;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let document = sesctl::aws::iam::decode_policy_document(raw);
    let parsed = policy::parse(&document).is_some();
    let allowed = policy::allows(&document, policy::SEND_RAW_EMAIL);
    let differences = policy::differences_from_sending_policy(&document);
    if !parsed {
        assert!(!allowed);
        assert_eq!(differences.len(), 1);
    }
    if differences.is_empty() {
        // Exactly the console's policy: it must allow sending.
        assert!(allowed, "{document}");
    }
    if let Some((pattern, action)) = raw.split_once('\n') {
        let matched = policy::action_matches(pattern, action);
        if !pattern.contains(['*', '?']) {
            assert_eq!(matched, pattern.eq_ignore_ascii_case(action));
        }
        if pattern == "*" {
            assert!(matched);
        }
    }
});
