//! Every command's `-o json` document pinned to docs/json.md: the built binary runs against moto (and
//! the SMTP test server for `verify`), and the output must be exactly one JSON document on stdout
//! whose keys and value types match, recursively, the shapes below. The shapes are written by hand
//! from docs/json.md: when one of these tests fails, either the code broke the documented contract
//! or the contract changed and docs/json.md (and these shapes) must say so.

use serde_json::Value;

use crate::support::smtp::{Mode, SmtpServer};
use crate::support::{legacy, moto, prefix, Moto, Run, Sesctl};

const REGION: &str = "eu-west-1";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPINSKEY12";

// ---- shapes ----

/// A JSON value as docs/json.md describes it.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    Str,
    Int,
    Bool,
    /// An RFC 3339 date in a string.
    Date,
    /// A string from a documented set.
    OneOf(&'static [&'static str]),
    /// The value, or null.
    Nullable(Box<Shape>),
    Array(Box<Shape>),
    Object(Vec<Field>),
    /// An object tagged by a field (serde's internally tagged enums): tag value → the other fields.
    Tagged(&'static str, Vec<(&'static str, Vec<Field>)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    name: &'static str,
    /// false: the key may be left out (absent when empty or none).
    always: bool,
    shape: Shape,
}

use Shape::{Bool, Date, Int, Str};

fn req(name: &'static str, shape: Shape) -> Field {
    Field {
        name,
        always: true,
        shape,
    }
}

fn opt(name: &'static str, shape: Shape) -> Field {
    Field {
        name,
        always: false,
        shape,
    }
}

fn obj(fields: Vec<Field>) -> Shape {
    Shape::Object(fields)
}

fn arr(shape: Shape) -> Shape {
    Shape::Array(Box::new(shape))
}

fn null_or(shape: Shape) -> Shape {
    Shape::Nullable(Box::new(shape))
}

fn one_of(values: &'static [&'static str]) -> Shape {
    Shape::OneOf(values)
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_fields(
    map: &serde_json::Map<String, Value>,
    fields: &[Field],
    skip: Option<&str>,
    path: &str,
    errors: &mut Vec<String>,
) {
    for f in fields {
        match map.get(f.name) {
            Some(v) => check(v, &f.shape, &format!("{path}.{}", f.name), errors),
            None if f.always => errors.push(format!(
                "{path}.{}: missing (documented as always present)",
                f.name
            )),
            None => {}
        }
    }
    for key in map.keys() {
        if Some(key.as_str()) != skip && !fields.iter().any(|f| f.name == key) {
            errors.push(format!("{path}.{key}: not documented in docs/json.md"));
        }
    }
}

fn check(v: &Value, shape: &Shape, path: &str, errors: &mut Vec<String>) {
    let mut wrong = |want: &str| errors.push(format!("{path}: expected {want}, found {} {v}", kind_name(v)));
    match shape {
        Shape::Str if !v.is_string() => wrong("a string"),
        Shape::Int if !(v.is_i64() || v.is_u64()) => wrong("an integer"),
        Shape::Bool if !v.is_boolean() => wrong("a boolean"),
        Shape::Date => match v.as_str() {
            Some(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {}
            _ => wrong("an RFC 3339 date string"),
        },
        Shape::OneOf(values) => match v.as_str() {
            Some(s) if values.contains(&s) => {}
            _ => wrong(&format!("one of {values:?}")),
        },
        Shape::Nullable(_) if v.is_null() => {}
        Shape::Nullable(inner) => check(v, inner, path, errors),
        Shape::Array(inner) => match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check(item, inner, &format!("{path}[{i}]"), errors);
                }
            }
            None => wrong("an array"),
        },
        Shape::Object(fields) => match v.as_object() {
            Some(map) => check_fields(map, fields, None, path, errors),
            None => wrong("an object"),
        },
        Shape::Tagged(tag, variants) => {
            let Some(map) = v.as_object() else {
                return wrong("an object");
            };
            let names: Vec<&str> = variants.iter().map(|(n, _)| *n).collect();
            match map.get(*tag).and_then(Value::as_str) {
                Some(t) => match variants.iter().find(|(n, _)| *n == t) {
                    Some((_, fields)) => check_fields(map, fields, Some(tag), path, errors),
                    None => errors.push(format!("{path}.{tag}: {t:?} is not one of {names:?}")),
                },
                None => errors.push(format!(
                    "{path}.{tag}: missing or not a string (one of {names:?})"
                )),
            }
        }
        _ => {}
    }
}

/// Checks that stdout is exactly one JSON document (nothing before or after it but the final
/// newline), and that it has `shape`. Returns the document.
#[track_caller]
pub(crate) fn pinned(command: &str, run: &Run, shape: &Shape) -> Value {
    let mut documents = serde_json::Deserializer::from_str(&run.stdout).into_iter::<Value>();
    let first = match documents.next() {
        Some(Ok(v)) => v,
        other => panic!(
            "`{command}`: stdout does not start with a JSON document ({other:?})\nstdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        ),
    };
    let rest = &run.stdout[documents.byte_offset()..];
    assert!(
        rest == "\n",
        "`{command}`: stdout holds more than one JSON document and its newline; after the document: {rest:?}\nstderr:\n{}",
        run.stderr
    );
    let mut errors = Vec::new();
    check(&first, shape, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "`{command}`: the JSON output differs from docs/json.md:\n  {}\ndocument:\n{}",
        errors.join("\n  "),
        serde_json::to_string_pretty(&first).unwrap()
    );
    first
}

/// A key that the run must have produced (an optional field the scenario exercises), so a shape
/// check over an absent key or an empty array cannot pass by saying nothing.
#[track_caller]
pub(crate) fn exercised(command: &str, doc: &Value, pointer: &str) {
    let v = doc.pointer(pointer);
    let empty =
        matches!(v, None | Some(Value::Null)) || v.and_then(Value::as_array).is_some_and(Vec::is_empty);
    assert!(
        !empty,
        "`{command}`: the scenario should produce {pointer}, but it is missing or empty:\n{doc:#}"
    );
}

// ---- the documented shapes (docs/json.md) ----

fn plan() -> Shape {
    obj(vec![
        req(
            "command",
            one_of(&["setup", "create-user", "rotate", "rotate --finish", "delete-user"]),
        ),
        req("calls", arr(planned_call())),
        opt("notes", arr(Str)),
    ])
}

fn planned_call() -> Shape {
    obj(vec![req("action", Str), req("target", Str)])
}

fn derive_item() -> Shape {
    obj(vec![
        req("region", Str),
        req("smtp_host", Str),
        opt("smtp_username", Str),
        req("smtp_password", Str),
    ])
}

fn region_item() -> Shape {
    obj(vec![
        req("region", Str),
        req("name", Str),
        req("smtp_host", Str),
        req("fips_smtp_host", null_or(Str)),
        req("starttls_ports", arr(Int)),
        req("tls_ports", arr(Int)),
        req("source", Str),
        req("checked", Str),
    ])
}

fn setup_report() -> Shape {
    obj(vec![
        req("group", Str),
        req("policy", Str),
        req("form", one_of(&["managed", "inline"])),
        req("policy_arn", null_or(Str)),
        req("changes", arr(Str)),
    ])
}

fn credential() -> Shape {
    obj(vec![
        req("user_name", Str),
        req("access_key_id", Str),
        req("smtp_username", Str),
        req("smtp_password", Str),
        req("region", Str),
        req("smtp_host", Str),
        req("smtp_port", Int),
    ])
}

fn delivered() -> Shape {
    Shape::Tagged(
        "kind",
        vec![
            (
                "secrets_manager",
                vec![req("secret_name", Str), req("secret_arn", Str)],
            ),
            ("csv_file", vec![req("path", Str)]),
        ],
    )
}

fn login_ok() -> Shape {
    obj(vec![
        req("host", Str),
        req("port", Int),
        req("tls", one_of(&["starttls", "tls"])),
        req("tls_version", Str),
        req("mechanism", one_of(&["PLAIN", "LOGIN"])),
        req("attempts", Int),
    ])
}

fn create_user_report() -> Shape {
    obj(vec![
        req("user_name", Str),
        req("user_arn", Str),
        req("group", Str),
        req("access_key_id", Str),
        req("smtp_username", Str),
        req("region", Str),
        req("smtp_host", Str),
        req("smtp_port", Int),
        req("delivered", delivered()),
        req("setup", setup_report()),
        opt("verified", login_ok()),
        opt("warnings", arr(Str)),
    ])
}

const KEY_OUTCOMES: &[&str] = &["deactivated", "deleted", "kept", "already_inactive"];

/// The rotate report: with a secret (`secret_*` and version fields always there) or with `--csv`
/// (`delivered_to` instead).
fn rotate_report(in_secret: bool) -> Shape {
    let mut fields = vec![
        req("user_name", Str),
        req("region", Str),
        req("smtp_host", Str),
        req("access_key_id", Str),
        req("resumed", Bool),
    ];
    if in_secret {
        fields.extend([
            req("secret_name", Str),
            req("secret_arn", Str),
            req("version_id", Str),
            req("previous_version_id", Str),
        ]);
    } else {
        fields.push(req("delivered_to", delivered()));
    }
    fields.extend([
        opt("deleted_inactive_key", Str),
        opt("cleared_pending_version", Str),
        opt("old_access_key_id", Str),
        opt("old_key", one_of(KEY_OUTCOMES)),
        opt("warnings", arr(Str)),
    ]);
    obj(fields)
}

fn finish_report() -> Shape {
    obj(vec![
        req("user_name", Str),
        req("secret_name", Str),
        req("current_access_key_id", Str),
        req(
            "retired",
            arr(obj(vec![
                req("access_key_id", Str),
                req("created", Date),
                req(
                    "last_used",
                    obj(vec![
                        req("date", null_or(Date)),
                        req("service", null_or(Str)),
                        req("region", null_or(Str)),
                    ]),
                ),
                req("outcome", one_of(KEY_OUTCOMES)),
            ])),
        ),
        opt("already_inactive", arr(Str)),
        opt("warnings", arr(Str)),
    ])
}

fn migration_report() -> Shape {
    obj(vec![
        req("dry_run", Bool),
        req("setup", arr(planned_call())),
        req(
            "users",
            arr(obj(vec![
                req("user", Str),
                req(
                    "status",
                    one_of(&[
                        "migrated",
                        "finished",
                        "already_migrated",
                        "needs_decision",
                        "skipped",
                        "not_found",
                        "failed",
                        "would_migrate",
                    ]),
                ),
                req("steps_done", arr(Str)),
                req("error", null_or(Str)),
                opt("note", Str),
                opt("differences", arr(Str)),
            ])),
        ),
        req(
            "totals",
            obj(vec![
                req("users", Int),
                req("migrated", Int),
                req("finished", Int),
                req("already_migrated", Int),
                req("needs_decision", Int),
                req("skipped", Int),
                req("not_found", Int),
                req("failed", Int),
                opt("would_migrate", Int),
            ]),
        ),
    ])
}

fn key_source() -> Shape {
    Shape::Tagged(
        "kind",
        vec![
            (
                "credential_report",
                vec![
                    req("generated", null_or(Date)),
                    req("stale", Bool),
                    req("key_ids", Bool),
                    req("users_not_in_report", Int),
                    opt("note", Str),
                ],
            ),
            ("per_user", vec![req("reason", Str)]),
        ],
    )
}

/// An SMTP user of `audit` (with findings) or `list` (without); with `--accounts` (`accounts`) it and
/// its findings carry `account_id`, which single-account documents leave out.
fn smtp_user(with_findings: bool, accounts: bool) -> Shape {
    let mut fields = if accounts {
        vec![req("account_id", Str)]
    } else {
        Vec::new()
    };
    fields.extend([
        req("user_name", Str),
        req("arn", Str),
        req("created", Date),
        req(
            "reasons",
            arr(Shape::Tagged(
                "reason",
                vec![
                    ("sending_group", vec![]),
                    ("inline_sending_policy", vec![]),
                    ("console_tag", vec![]),
                    ("inline_policy", vec![req("policy", Str)]),
                    ("attached_policy", vec![req("policy", Str)]),
                    ("created_by_sesctl", vec![]),
                ],
            )),
        ),
        req("sending_permission", Bool),
        req(
            "keys",
            arr(obj(vec![
                // Null in `audit` without --key-ids (the credential report has no key ids).
                if with_findings {
                    req("access_key_id", null_or(Str))
                } else {
                    req("access_key_id", Str)
                },
                req("slot", Int),
                req("status", one_of(&["Active", "Inactive"])),
                req("created", Date),
                req("last_used", null_or(Date)),
                req("last_used_service", null_or(Str)),
                req("last_used_region", null_or(Str)),
            ])),
        ),
        opt("error", Str),
    ]);
    if with_findings {
        let mut finding = if accounts {
            vec![req("account_id", Str)]
        } else {
            Vec::new()
        };
        finding.extend([
            req(
                "id",
                one_of(&[
                    "legacy-v2-key",
                    "no-sending-permission",
                    "inline-policy",
                    "key-too-old",
                    "two-active-keys",
                    "key-unused",
                    "key-never-used",
                    "inactive-key",
                    "console-tag",
                ]),
            ),
            req("severity", one_of(&["error", "warning", "info"])),
            req("user_name", Str),
            req("access_key_id", null_or(Str)),
            req("key_slot", null_or(Int)),
            req("message", Str),
            req("fix", Str),
        ]);
        fields.push(req("findings", arr(obj(finding))));
    }
    obj(fields)
}

/// `setup --accounts`: each account's plan (`--dry-run`) or report, or why it failed.
pub(crate) fn setup_accounts_report() -> Shape {
    obj(vec![req(
        "accounts",
        arr(obj(vec![
            req("account_id", Str),
            req("status", one_of(&["ok", "failed"])),
            opt("error", Str),
            opt("plan", plan()),
            opt("setup", setup_report()),
        ])),
    )])
}

/// With `--accounts`: how each account went (`error` when failed; `users_scanned` and `key_source`
/// when read).
fn accounts_array() -> Shape {
    arr(obj(vec![
        req("account_id", Str),
        req("status", one_of(&["ok", "failed"])),
        opt("error", Str),
        opt("users_scanned", Int),
        opt("key_source", key_source()),
    ]))
}

/// `audit -o json`; with `--accounts` (`accounts`) the `accounts` array replaces the top-level
/// `key_source`.
pub(crate) fn audit_report(accounts: bool) -> Shape {
    let mut fields = vec![
        req("schema_version", Int),
        req("generated_at", Date),
        req(
            "settings",
            obj(vec![req("max_key_age_days", Int), req("unused_days", Int)]),
        ),
        req("users_scanned", Int),
    ];
    fields.push(if accounts {
        req("accounts", accounts_array())
    } else {
        req("key_source", key_source())
    });
    fields.extend([
        req(
            "summary",
            obj(vec![
                req("smtp_users", Int),
                req("errors", Int),
                req("warnings", Int),
                req("info", Int),
                req("unreadable_users", Int),
            ]),
        ),
        req("users", arr(smtp_user(true, accounts))),
    ]);
    obj(fields)
}

/// `list -o json`, as [`audit_report`].
pub(crate) fn list_report(accounts: bool) -> Shape {
    obj(vec![
        req("schema_version", Int),
        req("generated_at", Date),
        req("users_scanned", Int),
        if accounts {
            req("accounts", accounts_array())
        } else {
            req("key_source", key_source())
        },
        req("users", arr(smtp_user(false, accounts))),
    ])
}

fn delete_report() -> Shape {
    obj(vec![
        req("user_name", Str),
        req("deleted", Bool),
        req("done", arr(planned_call())),
        opt("secret", Str),
        opt("notes", arr(Str)),
    ])
}

fn verify_report() -> Shape {
    obj(vec![
        req("ok", Bool),
        req("username", Str),
        req("host", Str),
        req("port", Int),
        req("tls", one_of(&["starttls", "tls"])),
        opt("tls_version", Str),
        opt("mechanism", one_of(&["PLAIN", "LOGIN"])),
        opt(
            "failure",
            obj(vec![
                req("host", Str),
                req("port", Int),
                req(
                    "stage",
                    one_of(&[
                        "resolve",
                        "connect",
                        "tls_handshake",
                        "greeting",
                        "ehlo",
                        "starttls",
                        "auth",
                    ]),
                ),
                req(
                    "kind",
                    one_of(&[
                        "rejected",
                        "throttled",
                        "temporary",
                        "server_error",
                        "no_starttls",
                        "no_auth_mechanism",
                        "certificate",
                        "tls",
                        "dns",
                        "connect",
                        "timeout",
                        "protocol",
                    ]),
                ),
                req("reply_code", null_or(Int)),
                req("reply_text", null_or(Str)),
                req("detail", Str),
                req("attempts", Int),
                req("elapsed_secs", Int),
            ]),
        ),
        opt("diagnosis", arr(Str)),
        opt(
            "key",
            Shape::Tagged(
                "state",
                vec![
                    ("missing", vec![]),
                    ("user_missing", vec![req("user", Str)]),
                    ("inactive", vec![req("user", Str)]),
                    ("active", vec![req("user", Str), req("created", Date)]),
                    ("unreadable", vec![req("reason", Str)]),
                ],
            ),
        ),
    ])
}

// ---- helpers ----

fn json_run(url: &str, args: &[&str]) -> Run {
    Sesctl::at(url).args(args).args(["-o", "json"]).run()
}

/// Creates `user` with its credential in secret `secret` (in REGION).
fn user_with_secret(url: &str, user: &str, secret: &str) {
    Sesctl::at(url)
        .args(["create-user", user, "--region", REGION, "--secret-name", secret])
        .run()
        .assert_ok();
}

// ---- the pins ----

#[test]
fn derive_and_regions() {
    let run = Sesctl::offline()
        .args([
            "derive",
            "--region",
            "us-east-1",
            "--region",
            REGION,
            "-o",
            "json",
        ])
        .stdin(SECRET_KEY)
        .run();
    run.assert_ok();
    let doc = pinned("derive -o json", &run, &arr(derive_item()));
    assert_eq!(doc.as_array().map(Vec::len), Some(2));

    let run = Sesctl::at(&moto().url)
        .args(["derive", "--from-credentials", "--region", REGION, "-o", "json"])
        .run();
    run.assert_ok();
    let doc = pinned("derive --from-credentials -o json", &run, &arr(derive_item()));
    exercised("derive --from-credentials", &doc, "/0/smtp_username");

    let run = Sesctl::offline().args(["regions", "-o", "json"]).run();
    run.assert_ok();
    let doc = pinned("regions -o json", &run, &arr(region_item()));
    exercised("regions", &doc, "/0/starttls_ports");
    assert!(
        doc.as_array()
            .unwrap()
            .iter()
            .any(|r| r["fips_smtp_host"].is_string()),
        "some region has a FIPS host"
    );
}

#[test]
fn setup() {
    let url = &moto().url;
    let run = json_run(url, &["setup", "--dry-run"]);
    run.assert_ok();
    pinned("setup --dry-run -o json", &run, &plan());
    let run = json_run(url, &["setup"]);
    run.assert_ok();
    pinned("setup -o json", &run, &setup_report());
}

#[test]
fn create_user() {
    let url = &moto().url;
    let p = prefix("pincreate");
    let user = format!("{p}-plan");
    let run = json_run(
        url,
        &[
            "create-user",
            &user,
            "--region",
            REGION,
            "--tag",
            "team=mail",
            "--secret-name",
            &format!("{p}/plan"),
            "--dry-run",
        ],
    );
    run.assert_ok();
    let doc = pinned("create-user --dry-run -o json", &run, &plan());
    exercised("create-user --dry-run", &doc, "/calls/0/action");
    exercised("create-user --dry-run", &doc, "/notes");

    // No secret sink: the credential itself is the output; the summary goes to stderr.
    let run = json_run(url, &["create-user", &format!("{p}-stdout"), "--region", REGION]);
    run.assert_ok();
    pinned("create-user -o json", &run, &credential());
    assert!(
        run.stderr.contains("Created IAM user"),
        "the summary goes to stderr: {}",
        run.stderr
    );

    let secret = format!("{p}/smtp");
    let run = json_run(
        url,
        &[
            "create-user",
            &format!("{p}-secret"),
            "--region",
            REGION,
            "--secret-name",
            &secret,
        ],
    );
    run.assert_ok();
    let doc = pinned("create-user --secret-name -o json", &run, &create_user_report());
    assert_eq!(doc["delivered"]["kind"], "secrets_manager");

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("c.csv");
    let run = json_run(
        url,
        &[
            "create-user",
            &format!("{p}-csv"),
            "--region",
            REGION,
            "--csv",
            csv.to_str().unwrap(),
        ],
    );
    run.assert_ok();
    let doc = pinned("create-user --csv -o json", &run, &create_user_report());
    assert_eq!(doc["delivered"]["kind"], "csv_file");
}

#[test]
fn rotate() {
    let url = &moto().url;
    let p = prefix("pinrotate");
    let (user, secret) = (format!("{p}-user"), format!("{p}/smtp"));
    user_with_secret(url, &user, &secret);

    let run = json_run(
        url,
        &[
            "rotate",
            &user,
            "--secret-name",
            &secret,
            "--region",
            REGION,
            "--dry-run",
        ],
    );
    run.assert_ok();
    let doc = pinned("rotate --dry-run -o json", &run, &plan());
    exercised("rotate --dry-run", &doc, "/calls");

    let run = json_run(
        url,
        &[
            "rotate",
            &user,
            "--secret-name",
            &secret,
            "--region",
            REGION,
            "--old-key",
            "keep",
        ],
    );
    run.assert_ok();
    let doc = pinned("rotate --secret-name -o json", &run, &rotate_report(true));
    exercised("rotate --secret-name", &doc, "/old_access_key_id");
    exercised("rotate --secret-name", &doc, "/old_key");

    let finish = [
        "rotate",
        &user,
        "--secret-name",
        &secret,
        "--region",
        REGION,
        "--finish",
    ];
    let run = json_run(url, &[&finish[..], &["--dry-run"]].concat());
    run.assert_ok();
    let doc = pinned("rotate --finish --dry-run -o json", &run, &plan());
    assert_eq!(doc["command"], "rotate --finish");
    let run = json_run(url, &finish);
    run.assert_ok();
    let doc = pinned("rotate --finish -o json", &run, &finish_report());
    exercised("rotate --finish", &doc, "/retired/0/last_used");

    // Without a secret: the new credential on stdout, the report as text on stderr.
    let plain = format!("{p}-plain");
    Sesctl::at(url)
        .args(["create-user", &plain, "--region", REGION])
        .run()
        .assert_ok();
    let run = json_run(url, &["rotate", &plain, "--region", REGION]);
    run.assert_ok();
    pinned("rotate (no secret) -o json", &run, &credential());
    assert!(
        run.stderr.contains("Rotated the SMTP credential"),
        "{}",
        run.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("r.csv");
    let run = json_run(
        url,
        &[
            "rotate",
            &plain,
            "--region",
            REGION,
            "--csv",
            csv.to_str().unwrap(),
            "--delete-inactive",
            "--old-key",
            "delete",
        ],
    );
    run.assert_ok();
    let doc = pinned("rotate --csv -o json", &run, &rotate_report(false));
    assert_eq!(doc["delivered_to"]["kind"], "csv_file");
    assert_eq!(doc["old_key"], "deleted");
    exercised("rotate --csv --delete-inactive", &doc, "/deleted_inactive_key");
}

#[test]
fn migrate_inline_policy() {
    let url = &moto().url;
    let p = prefix("pinmigrate");
    let users = vec![format!("{p}-a"), format!("{p}-b")];
    legacy::create_legacy_users(url, &users);

    let run = json_run(url, &["migrate-inline-policy", &users[0], &users[1], "--dry-run"]);
    run.assert_ok();
    let doc = pinned(
        "migrate-inline-policy --dry-run -o json",
        &run,
        &migration_report(),
    );
    assert_eq!(doc["dry_run"], true);
    exercised("migrate-inline-policy --dry-run", &doc, "/users/0/steps_done");
    exercised("migrate-inline-policy --dry-run", &doc, "/totals/would_migrate");

    // A name that does not exist fails (exit 1) and the report still comes out, with its error.
    let missing = format!("{p}-missing");
    let run = json_run(url, &["migrate-inline-policy", &users[0], &users[1], &missing]);
    run.assert_code(1);
    let doc = pinned("migrate-inline-policy -o json", &run, &migration_report());
    assert_eq!(doc["dry_run"], false);
    assert_eq!(doc["totals"]["migrated"], 2, "{doc:#}");
    assert!(doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["status"] == "not_found" && u["error"].is_string()));
}

#[test]
fn delete_user() {
    let url = &moto().url;
    let p = prefix("pindelete");
    let (user, secret) = (format!("{p}-user"), format!("{p}/smtp"));
    user_with_secret(url, &user, &secret);
    let args = [
        "delete-user",
        &user,
        "--secret-name",
        &secret,
        "--region",
        REGION,
        "--yes",
    ];

    let run = json_run(url, &[&args[..], &["--dry-run"]].concat());
    run.assert_ok();
    let doc = pinned("delete-user --dry-run -o json", &run, &plan());
    exercised("delete-user --dry-run", &doc, "/calls");

    let run = json_run(url, &args);
    run.assert_ok();
    let doc = pinned("delete-user -o json", &run, &delete_report());
    exercised("delete-user", &doc, "/done/0/action");
    exercised("delete-user", &doc, "/secret");
}

#[test]
fn verify() {
    const USER: &str = "AKIAZZZZPINSEXAMPLE1";
    let password = sesctl::smtp_password::smtp_password_v4(
        &sesctl::secret::Secret::new(SECRET_KEY.to_string()),
        "us-east-1",
    )
    .expose()
    .to_string();
    let server = SmtpServer::start(Mode::Starttls, USER, &password);
    let login = |pw: &str| {
        Sesctl::at(&moto().url)
            .args(["verify", "--username", USER, "--region", "us-east-1"])
            .args(["--smtp-host", "127.0.0.1", "--port", &server.port_arg()])
            .args(["--ca-file", server.ca_arg(), "-o", "json"])
            .stdin(format!("{pw}\n"))
            .run()
    };

    let run = login(&password);
    run.assert_ok();
    let doc = pinned("verify -o json (accepted)", &run, &verify_report());
    assert_eq!(doc["ok"], true);
    exercised("verify (accepted)", &doc, "/tls_version");

    let wrong = sesctl::smtp_password::smtp_password_v4(
        &sesctl::secret::Secret::new("another-secret-key-entirely-0123456789".to_string()),
        "us-east-1",
    )
    .expose()
    .to_string();
    let run = login(&wrong);
    run.assert_code(1);
    let doc = pinned("verify -o json (rejected)", &run, &verify_report());
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["failure"]["kind"], "rejected");
    exercised("verify (rejected)", &doc, "/failure/reply_code");
    exercised("verify (rejected)", &doc, "/diagnosis");
    exercised("verify (rejected)", &doc, "/key/state");
}

/// `audit`, `list` and `create-user --verify` in an account of their own: audits read every user, and
/// the SMTP server that checks logins as SES does reads moto's whole state.
#[test]
fn audit_list_and_create_user_verify() {
    let moto = Moto::dedicated();
    let url = &moto.url;
    let p = prefix("pinaudit");
    legacy::create_legacy_users(url, &[format!("{p}-legacy")]);

    let server = SmtpServer::start_iam(Mode::Starttls, url, REGION, 0);
    let run = json_run(
        url,
        &[
            "create-user",
            &format!("{p}-app"),
            "--region",
            REGION,
            "--secret-name",
            &format!("{p}/smtp"),
            "--verify",
            "--smtp-host",
            "127.0.0.1",
            "--port",
            &server.port_arg(),
            "--ca-file",
            server.ca_arg(),
        ],
    );
    run.assert_ok();
    let doc = pinned("create-user --verify -o json", &run, &create_user_report());
    exercised("create-user --verify", &doc, "/verified/tls_version");
    exercised("create-user --verify", &doc, "/setup/changes");

    let run = json_run(url, &["audit"]);
    run.assert_ok();
    let doc = pinned("audit -o json", &run, &audit_report(false));
    assert_eq!(doc["schema_version"], 3);
    assert_eq!(doc["summary"]["smtp_users"], 2, "{doc:#}");
    exercised("audit", &doc, "/users/0/findings/0/id");
    exercised("audit", &doc, "/users/0/reasons/0/reason");
    let with_keys = doc["users"]
        .as_array()
        .unwrap()
        .iter()
        .position(|u| u["keys"].as_array().is_some_and(|k| !k.is_empty()))
        .expect("a user with a key");
    exercised("audit", &doc, &format!("/users/{with_keys}/keys/0/status"));
    let run = json_run(url, &["audit", "--key-ids"]);
    run.assert_ok();
    let doc = pinned("audit --key-ids -o json", &run, &audit_report(false));
    exercised(
        "audit --key-ids",
        &doc,
        &format!("/users/{with_keys}/keys/0/access_key_id"),
    );

    let run = json_run(url, &["list"]);
    run.assert_ok();
    let doc = pinned("list -o json", &run, &list_report(false));
    assert_eq!(doc["users"].as_array().map(Vec::len), Some(2));
}

// ---- the checker itself ----

#[test]
fn the_checker_names_the_differing_path() {
    let shape = obj(vec![
        req("a", Int),
        opt("b", arr(obj(vec![req("c", one_of(&["x", "y"]))]))),
        req("d", null_or(Date)),
    ]);
    let mut errors = Vec::new();
    check(
        &serde_json::json!({"a": "1", "b": [{"c": "x"}, {"c": "z", "e": 1}], "d": null}),
        &shape,
        "$",
        &mut errors,
    );
    assert_eq!(
        errors,
        [
            "$.a: expected an integer, found string \"1\"",
            "$.b[1].c: expected one of [\"x\", \"y\"], found string \"z\"",
            "$.b[1].e: not documented in docs/json.md",
        ]
    );
    let mut errors = Vec::new();
    check(&serde_json::json!({"b": []}), &shape, "$", &mut errors);
    assert_eq!(
        errors,
        [
            "$.a: missing (documented as always present)",
            "$.d: missing (documented as always present)"
        ]
    );
    let run = Run {
        code: 0,
        stdout: "{}\n{}\n".into(),
        stderr: String::new(),
    };
    let two = std::panic::catch_unwind(|| pinned("two documents", &run, &obj(vec![])));
    assert!(two.is_err(), "two documents on stdout must fail");
}
