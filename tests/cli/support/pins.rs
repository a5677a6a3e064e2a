//! The `-o json` documents of every command as docs/json.md describes them, and the checker that
//! pins a run's stdout to one of them (exactly one JSON document whose keys and value types match,
//! recursively).

use serde_json::Value;

use super::Run;

// ---- shapes ----

/// A JSON value as docs/json.md describes it.
#[derive(Debug, Clone)]
pub enum Shape {
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
pub struct Field {
    name: &'static str,
    /// false: the key may be left out (absent when empty or none).
    always: bool,
    shape: Shape,
}

use Shape::{Bool, Date, Int, Str};

pub fn req(name: &'static str, shape: Shape) -> Field {
    Field {
        name,
        always: true,
        shape,
    }
}

pub fn opt(name: &'static str, shape: Shape) -> Field {
    Field {
        name,
        always: false,
        shape,
    }
}

pub fn obj(fields: Vec<Field>) -> Shape {
    Shape::Object(fields)
}

pub fn arr(shape: Shape) -> Shape {
    Shape::Array(Box::new(shape))
}

pub fn null_or(shape: Shape) -> Shape {
    Shape::Nullable(Box::new(shape))
}

pub fn one_of(values: &'static [&'static str]) -> Shape {
    Shape::OneOf(values)
}

pub fn kind_name(v: &Value) -> &'static str {
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

pub fn check_fields(
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

pub fn check(v: &Value, shape: &Shape, path: &str, errors: &mut Vec<String>) {
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
pub fn pinned(command: &str, run: &Run, shape: &Shape) -> Value {
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
pub fn exercised(command: &str, doc: &Value, pointer: &str) {
    let v = doc.pointer(pointer);
    let empty =
        matches!(v, None | Some(Value::Null)) || v.and_then(Value::as_array).is_some_and(Vec::is_empty);
    assert!(
        !empty,
        "`{command}`: the scenario should produce {pointer}, but it is missing or empty:\n{doc:#}"
    );
}

// ---- the documented shapes (docs/json.md) ----

pub fn plan() -> Shape {
    obj(vec![
        req(
            "command",
            one_of(&["setup", "create-user", "rotate", "rotate --finish", "delete-user"]),
        ),
        req("calls", arr(planned_call())),
        opt("notes", arr(Str)),
    ])
}

pub fn planned_call() -> Shape {
    obj(vec![req("action", Str), req("target", Str)])
}

pub fn derive_item() -> Shape {
    obj(vec![
        req("region", Str),
        req("smtp_host", Str),
        opt("smtp_username", Str),
        req("smtp_password", Str),
    ])
}

pub fn region_item() -> Shape {
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

pub fn setup_report() -> Shape {
    obj(vec![
        req("group", Str),
        req("policy", Str),
        req("form", one_of(&["managed", "inline"])),
        req("policy_arn", null_or(Str)),
        req("changes", arr(Str)),
    ])
}

pub fn credential() -> Shape {
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

pub fn delivered() -> Shape {
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

pub fn login_ok() -> Shape {
    obj(vec![
        req("host", Str),
        req("port", Int),
        req("tls", one_of(&["starttls", "tls"])),
        req("tls_version", Str),
        req("mechanism", one_of(&["PLAIN", "LOGIN"])),
        req("attempts", Int),
    ])
}

pub fn create_user_report() -> Shape {
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

pub const KEY_OUTCOMES: &[&str] = &["deactivated", "deleted", "kept", "already_inactive"];

/// The rotate report: with a secret (`secret_*` and version fields always there) or with `--csv`
/// (`delivered_to` instead).
pub fn rotate_report(in_secret: bool) -> Shape {
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

pub fn finish_report() -> Shape {
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

pub fn migration_report() -> Shape {
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

/// `migrate-inline-policy --all --accounts`: the single-account document with `account_id` on every
/// user, and `accounts` (each account's status, error, and the setup calls made in it) in place of
/// the top-level `setup`.
pub fn migration_accounts_report() -> Shape {
    let Shape::Object(fields) = migration_report() else {
        unreachable!("the migration report is an object")
    };
    let mut fields: Vec<Field> = fields.into_iter().filter(|f| f.name != "setup").collect();
    for f in fields.iter_mut().filter(|f| f.name == "users") {
        let Shape::Array(user) = &mut f.shape else {
            unreachable!("users is an array")
        };
        let Shape::Object(user_fields) = user.as_mut() else {
            unreachable!("a user is an object")
        };
        user_fields.insert(0, req("account_id", Str));
    }
    fields.insert(
        1,
        req(
            "accounts",
            arr(obj(vec![
                req("account_id", Str),
                req("status", one_of(&["ok", "failed"])),
                opt("error", Str),
                req("setup", arr(planned_call())),
            ])),
        ),
    );
    obj(fields)
}

pub fn key_source() -> Shape {
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
pub fn smtp_user(with_findings: bool, accounts: bool) -> Shape {
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
pub fn setup_accounts_report() -> Shape {
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
pub fn accounts_array() -> Shape {
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
pub fn audit_report(accounts: bool) -> Shape {
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
pub fn list_report(accounts: bool) -> Shape {
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

pub fn delete_report() -> Shape {
    obj(vec![
        req("user_name", Str),
        req("deleted", Bool),
        req("done", arr(planned_call())),
        opt("secret", Str),
        opt("notes", arr(Str)),
    ])
}

pub fn verify_report() -> Shape {
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
