//! Copies of a new credential in sesctl's memory, through the built binary on Linux: a rotation is
//! held at a point after its new SMTP password was derived and stored, and the writable memory of the
//! running process (/proc/PID/maps and /proc/PID/mem; the test is its parent, so it may read them) is
//! searched for the new password and the new key's secret access key.
//!
//! A copy is found by the value's tail (all but its first 16 bytes), so a freed block whose first
//! bytes the allocator overwrote with its own links still counts; a copy whose start is intact too is
//! `whole`. What follows the value tells whose copy it is: `\"` ends a password inside the
//! JSON-escaped `SecretString` of a PutSecretValue request body (the AWS SDK's serializer), `"` one
//! inside the secret string itself, and anything else a password on its own. The counts each test
//! allows are the ones docs/architecture.md ("Secrets in memory") lists; SESCTL_TEST_MEMORY_SHOW=1
//! prints every copy with what surrounds it.
#![cfg(target_os = "linux")]

use std::net::TcpListener;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{self, moto, prefix, FaultProxy, Sesctl};

const REGION: &str = "eu-west-1";

/// The bytes of a value that survive the allocator's links at the start of a freed block.
const HEAD: usize = 16;

/// How a copy is held, judged from what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Inside a JSON-escaped secret string: a PutSecretValue request body, as the SDK serializes it.
    RequestBody,
    /// Inside the secret string (sesctl's JSON).
    SecretString,
    /// Inside the CreateAccessKey answer (`<SecretAccessKey>…</SecretAccessKey>`).
    KeyAnswer,
    /// On its own.
    Bare,
}

/// One copy of a value in the process's memory.
#[derive(Debug)]
struct Copy {
    form: Form,
    /// Its first bytes are there too (a freed block has lost them to the allocator's links).
    whole: bool,
    address: u64,
    region: String,
    context: String,
}

/// The writable memory of process `pid`, region by region: (description, start address, bytes).
fn writable_memory(pid: u32) -> Vec<(String, u64, Vec<u8>)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut regions = Vec::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (range, perms) = (fields[0], fields[1]);
        let name = fields.get(5).copied().unwrap_or("[anon]");
        if !perms.contains('w') || name == "[vvar]" || name == "[vsyscall]" {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut data = vec![0u8; (end - start) as usize];
        let mut read = 0;
        while read < data.len() {
            match mem.read_at(&mut data[read..], start + read as u64) {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
        data.truncate(read);
        regions.push((format!("{range} {perms} {name}"), start, data));
    }
    regions
}

/// Every copy of `value` in `memory`.
fn copies(memory: &[(String, u64, Vec<u8>)], value: &str) -> Vec<Copy> {
    let value = value.as_bytes();
    let (head, tail) = value.split_at(HEAD);
    let mut found = Vec::new();
    for (region, start, data) in memory {
        let mut at = 0;
        while let Some(i) = data[at..].windows(tail.len()).position(|w| w == tail) {
            let pos = at + i;
            at = pos + tail.len();
            let after = &data[at..(at + 18).min(data.len())];
            let form = if after.starts_with(b"\\\"") {
                Form::RequestBody
            } else if after.starts_with(b"\"") {
                Form::SecretString
            } else if after.starts_with(b"</SecretAccessKey>") {
                Form::KeyAnswer
            } else {
                Form::Bare
            };
            let context: String = data[pos.saturating_sub(160)..(at + 80).min(data.len())]
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            found.push(Copy {
                form,
                whole: pos >= HEAD && &data[pos - HEAD..pos] == head,
                address: start + pos as u64,
                region: region.clone(),
                context,
            });
        }
    }
    found
}

fn count(copies: &[Copy], form: Form, whole: bool) -> usize {
    copies
        .iter()
        .filter(|c| c.form == form && c.whole == whole)
        .count()
}

fn describe(what: &str, copies: &[Copy]) -> String {
    let mut s = format!("{what}: {} copies\n", copies.len());
    for c in copies {
        s.push_str(&format!(
            "  {:?}{} at {:#x} in {}\n",
            c.form,
            if c.whole {
                ""
            } else {
                " (start overwritten: freed)"
            },
            c.address,
            c.region
        ));
        if std::env::var_os("SESCTL_TEST_MEMORY_SHOW").is_some() {
            s.push_str(&format!("    {}\n", c.context));
        }
    }
    s
}

/// The new key moto handed out (id, secret access key), from the proxy's recorded CreateAccessKey
/// answer.
fn recorded_key(proxy: &FaultProxy) -> (String, String) {
    let entries = proxy.log_entries();
    let answer = entries
        .iter()
        .filter_map(|e| e["response"].as_str())
        .find(|r| r.contains("<SecretAccessKey>"))
        .expect("a recorded CreateAccessKey answer");
    let field = |name: &str| {
        let start = answer.find(&format!("<{name}>")).unwrap() + name.len() + 2;
        let end = answer[start..].find('<').unwrap() + start;
        answer[start..end].to_string()
    };
    (field("AccessKeyId"), field("SecretAccessKey"))
}

/// A user with its credential in a secret, made by `sesctl create-user`; returns (user, secret).
fn user_with_secret(test: &str) -> (String, String) {
    let p = prefix(test);
    let (user, secret) = (format!("{p}-user"), format!("smtp/{p}"));
    Sesctl::at(&moto().url)
        .args(["create-user", &user, "--region", REGION, "--secret-name", &secret])
        .run()
        .assert_ok();
    (user, secret)
}

/// Without `--verify`, once the new credential is stored and promoted (held at the UpdateAccessKey
/// that retires the old key), sesctl holds no copy of the new password or key: what is left is the
/// SDK's: at most two freed buffers of the PutSecretValue request serializer (the escaped secret
/// string and the request body), the request's input (the secret string, until its block is reused)
/// and the CreateAccessKey answer in the connection's read buffer.
#[test]
fn once_a_rotation_stored_its_credential_only_the_sdks_copies_are_left() {
    let proxy = FaultProxy::start(moto());
    let (user, secret) = user_with_secret("memrotate");
    proxy.set_rules(json!([
        {"action": "CreateAccessKey", "fault": "record"},
        {"action": "UpdateAccessKey", "fault": "delay", "seconds": 10},
    ]));
    let child = Sesctl::at(&proxy.url)
        .args(["rotate", &user, "--region", REGION, "--secret-name", &secret])
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !proxy.actions().iter().any(|a| a == "UpdateAccessKey") {
        assert!(
            Instant::now() < deadline,
            "the rotation never reached UpdateAccessKey"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let memory = writable_memory(child.id());
    let actions = proxy.actions();
    assert_eq!(
        actions.last().map(String::as_str),
        Some("UpdateAccessKey"),
        "the rotation went on while its memory was read: {actions:?}"
    );
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (_, key) = recorded_key(&proxy);
    let password = support::v4_password(&key, REGION);
    assert!(
        current_value(&secret).contains(&password),
        "the new password is not the one stored"
    );
    let passwords = copies(&memory, &password);
    let keys = copies(&memory, &key);
    let found = format!(
        "{}{}",
        describe("new SMTP password", &passwords),
        describe("new secret access key", &keys)
    );
    // sesctl's own copies (the derived password, the secret string, the key's secret) are gone. One
    // secret string may be left: the SDK's copy of PutSecretValue's input, freed unzeroized once the
    // request is serialized, until the allocator reuses its block (giving that one allocation a
    // larger block moves it out of this search: it is the SDK's, not sesctl's zeroized buffer).
    assert_eq!(
        count(&passwords, Form::Bare, true) + count(&passwords, Form::Bare, false),
        0,
        "a copy of the password on its own:\n{found}"
    );
    assert!(
        passwords.iter().filter(|c| c.form == Form::SecretString).count() <= 1,
        "more secret strings than the SDK's PutSecretValue input:\n{found}"
    );
    assert!(
        keys.iter().all(|c| c.form == Form::KeyAnswer),
        "a copy of the key's secret outside the CreateAccessKey answer:\n{found}"
    );
    // The SDK's: at most the two serializer buffers (and the input above) and the one answer.
    assert!(
        passwords
            .iter()
            .filter(|c| c.form != Form::SecretString)
            .all(|c| c.form == Form::RequestBody)
            && passwords.iter().filter(|c| c.form == Form::RequestBody).count() <= 2,
        "more copies of the password than the SDK's:\n{found}"
    );
    assert!(
        keys.len() <= 1,
        "more copies of the key than the SDK's one:\n{found}"
    );
    if std::env::var_os("SESCTL_TEST_MEMORY_SHOW").is_some() {
        eprintln!("{found}");
    }
}

/// With `--verify`, while the login waits for the server's greeting, sesctl holds the new password
/// twice, both alive and zeroized when dropped (the pending secret string and the password read from
/// it), and no freed copy: the document the password was read from is wiped before it is dropped.
#[test]
fn while_verify_logs_in_the_only_copies_of_the_new_password_are_live_ones() {
    let proxy = FaultProxy::start(moto());
    let (user, secret) = user_with_secret("memverify");
    proxy.set_rules(json!([{"action": "CreateAccessKey", "fault": "record"}]));
    // An SMTP server that accepts the connection and never greets: the login waits there.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port().to_string();
    let mut child = Sesctl::at(&proxy.url)
        .args(["rotate", &user, "--region", REGION, "--secret-name", &secret])
        .args(["--verify", "--smtp-host", "127.0.0.1", "--port", &port])
        .spawn();
    server.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let connection = loop {
        match server.accept() {
            Ok((connection, _)) => break connection,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait().unwrap() {
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "sesctl ended ({status}) before its login connected:\n{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                assert!(Instant::now() < deadline, "the login never connected");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    // The connection is made: sesctl is reading the greeting.
    std::thread::sleep(Duration::from_millis(200));
    let memory = writable_memory(child.id());
    child.kill().unwrap();
    let _ = child.wait();
    drop(connection);

    let (_, key) = recorded_key(&proxy);
    let password = support::v4_password(&key, REGION);
    let passwords = copies(&memory, &password);
    let keys = copies(&memory, &key);
    let found = format!(
        "{}{}",
        describe("new SMTP password", &passwords),
        describe("new secret access key", &keys)
    );
    if std::env::var_os("SESCTL_TEST_MEMORY_SHOW").is_some() {
        eprintln!("{found}");
    }
    // Alive: the password testSecret read from the pending version (finding it shows the search sees
    // sesctl's live values); the secret string it was read from is dropped before the login starts,
    // so at most the SDK's copies of it are left.
    let strings = count(&passwords, Form::SecretString, true);
    assert!(strings <= 2, "{found}");
    assert_eq!(count(&passwords, Form::Bare, true), 1, "{found}");
    // Freed: no password on its own (the parsed document's copy is zeroized).
    assert_eq!(count(&passwords, Form::Bare, false), 0, "{found}");
    assert!(
        keys.iter().all(|c| c.form == Form::KeyAnswer) && keys.len() <= 1,
        "{found}"
    );
}

/// The value of the version of `secret` staged AWSCURRENT, read back from moto.
fn current_value(secret: &str) -> String {
    let client = support::secretsmanager(&moto().url, REGION);
    let described = support::block_on(client.describe_secret().secret_id(secret).send()).unwrap();
    let version = described
        .version_ids_to_stages()
        .and_then(|m| m.iter().find(|(_, s)| s.iter().any(|s| s == "AWSCURRENT")))
        .map(|(v, _)| v.clone())
        .expect("an AWSCURRENT version");
    let out = support::block_on(
        client
            .get_secret_value()
            .secret_id(secret)
            .version_id(version)
            .send(),
    )
    .unwrap();
    out.secret_string().unwrap_or_default().to_string()
}
