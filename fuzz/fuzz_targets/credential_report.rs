//! The IAM credential report `audit` and `list` download (CSV, columns found by name):
//! `aws::credential_report::parse`. It must never panic; each parsed row names its user and holds at
//! most the report's two key slots.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rows) = sesctl::aws::credential_report::parse(data) {
        for (name, row) in &rows {
            assert_eq!(name, &row.user);
            assert!(!name.is_empty() && name != "<root_account>");
            assert!(row.keys.len() <= 2);
        }
    }
});
