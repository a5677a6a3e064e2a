//! Colour: audit severities and verify's OK/FAILED are coloured only on a terminal. Piped output,
//! `NO_COLOR` and `--color never` carry no escape codes at all, on stdout or stderr; `--color always`
//! colours even a pipe (which is what shows the other cases are not colourless by accident).

use crate::support::smtp::{Mode, SmtpServer};
use crate::support::{self, block_on, legacy, prefix, Moto, Run, Sesctl};

const ESC: char = '\u{1b}';

#[track_caller]
fn assert_plain(what: &str, run: &Run) {
    assert!(
        !run.stdout.contains(ESC) && !run.stderr.contains(ESC),
        "{what}: escape codes in the output\nstdout: {:?}\nstderr: {:?}",
        run.stdout,
        run.stderr
    );
}

/// How colour is asked for (or not): the environment and the flag. The runner sets NO_COLOR by
/// default, so each case says what it wants.
#[derive(Debug, Clone, Copy)]
enum Ask {
    /// Piped, no NO_COLOR, no flag: auto decides, and a pipe is not a terminal.
    Piped,
    NoColor,
    /// `--color never` with NO_COLOR unset.
    Never,
    /// `--color always` with NO_COLOR unset.
    Always,
}

fn with(ask: Ask, s: Sesctl) -> Sesctl {
    match ask {
        Ask::Piped => s.env_remove("NO_COLOR"),
        Ask::NoColor => s.env("NO_COLOR", "1"),
        Ask::Never => s.env_remove("NO_COLOR").args(["--color", "never"]),
        Ask::Always => s.env_remove("NO_COLOR").args(["--color", "always"]),
    }
}

#[test]
fn no_escape_codes_unless_asked_for() {
    // An account of its own, with a legacy user so the audit has findings of each colour.
    let moto = Moto::dedicated();
    let p = prefix("colour");
    legacy::create_legacy_users(&moto.url, &[format!("{p}-legacy")]);
    let server = SmtpServer::start(Mode::Starttls, "AKIAZZZZCOLOUREXAMPL", "right-password");

    let commands: Vec<(&str, Vec<String>, String)> = vec![
        ("regions", vec!["regions".into()], String::new()),
        (
            "derive",
            vec!["derive".into(), "--region".into(), "us-east-1".into()],
            "secret".into(),
        ),
        ("setup", vec!["setup".into()], String::new()),
        ("setup -vv", vec!["setup".into(), "-vv".into()], String::new()),
        (
            "create-user",
            vec![
                "create-user".into(),
                format!("{p}-app"),
                "--region".into(),
                "us-east-1".into(),
            ],
            String::new(),
        ),
        ("audit", vec!["audit".into()], String::new()),
        ("list", vec!["list".into()], String::new()),
        (
            "an error",
            vec!["delete-user".into(), format!("{p}-nobody"), "--yes".into()],
            String::new(),
        ),
        (
            "a usage error",
            vec!["audit".into(), "--max-key-age".into(), "0".into()],
            String::new(),
        ),
    ];
    let verify = |ask: Ask, password: &str| {
        with(ask, Sesctl::at(&moto.url))
            .args([
                "verify",
                "--username",
                "AKIAZZZZCOLOUREXAMPL",
                "--region",
                "us-east-1",
            ])
            .args([
                "--smtp-host",
                "127.0.0.1",
                "--port",
                &server.port_arg(),
                "--ca-file",
                server.ca_arg(),
            ])
            .stdin(format!("{password}\n"))
            .run()
    };

    for ask in [Ask::Piped, Ask::NoColor, Ask::Never] {
        for (what, args, stdin) in &commands {
            let args: Vec<String> = args
                .iter()
                .map(|a| a.replace("-app", &format!("-app-{ask:?}").to_lowercase()))
                .collect();
            let run = with(ask, Sesctl::at(&moto.url)).args(&args).stdin(stdin).run();
            assert_plain(&format!("{what} ({ask:?})"), &run);
        }
        let ok = verify(ask, "right-password");
        ok.assert_ok();
        assert_plain(&format!("verify OK ({ask:?})"), &ok);
        let failed = verify(ask, "wrong-password");
        failed.assert_code(1);
        assert_plain(&format!("verify FAILED ({ask:?})"), &failed);
    }

    // Asked for explicitly, colour shows even on a pipe: the verdicts and the severities.
    let ok = verify(Ask::Always, "right-password");
    assert!(
        ok.stdout.starts_with("\u{1b}[1;32mOK:\u{1b}[0m "),
        "{:?}",
        ok.stdout
    );
    let failed = verify(Ask::Always, "wrong-password");
    assert!(
        failed.stdout.starts_with("\u{1b}[1;31mFAILED:\u{1b}[0m "),
        "{:?}",
        failed.stdout
    );
    let audit = with(Ask::Always, Sesctl::at(&moto.url)).args(["audit"]).run();
    audit.assert_ok();
    assert!(
        audit.stdout.contains("\u{1b}[33mwarning\u{1b}[0m"),
        "{}",
        audit.stdout
    );
    // JSON is data: never coloured.
    let json = with(Ask::Always, Sesctl::at(&moto.url))
        .args(["audit", "-o", "json"])
        .run();
    json.assert_ok();
    assert!(!json.stdout.contains(ESC), "{}", json.stdout);
}

/// Runs the binary in a pseudo-terminal (stdin, stdout and stderr all a terminal, as for a person at
/// a shell) and returns everything it wrote there.
fn on_a_terminal(moto: &Moto, args: &[&str], envs: &[(&str, &str)]) -> String {
    const PTY: &str = "import os, pty, sys\n\
pid, fd = pty.fork()\n\
if pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n\
out = b''\n\
while True:\n    try:\n        chunk = os.read(fd, 65536)\n    except OSError:\n        break\n    if not chunk:\n        break\n    out += chunk\n\
os.waitpid(pid, 0)\n\
sys.stdout.buffer.write(out)\n";
    let home = support::home_dir();
    let out = std::process::Command::new(support::python())
        .args(["-c", PTY, support::sesctl_bin()])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TERM", "xterm")
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", support::TEST_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", support::TEST_SECRET_ACCESS_KEY)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .envs(envs.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run sesctl in a pseudo-terminal");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `text` holds a colour (SGR) sequence, `ESC [ ... m`. Other terminal controls (a progress
/// bar clearing its line) are not colour.
fn has_colour(text: &str) -> bool {
    text.split(ESC).skip(1).any(|rest| {
        rest.strip_prefix('[').is_some_and(|seq| {
            let end = seq.find(|c: char| !(c.is_ascii_digit() || c == ';'));
            end.is_some_and(|i| seq[i..].starts_with('m'))
        })
    })
}

#[test]
fn on_a_terminal_colour_follows_no_color_and_the_flag() {
    let moto = Moto::dedicated();
    let p = prefix("pty");
    legacy::create_legacy_users(&moto.url, &[format!("{p}-legacy")]);
    let server = SmtpServer::start(Mode::Starttls, "AKIAZZZZCOLOURPTY001", "pty-password");
    let secret = format!("{p}/smtp");
    block_on(
        support::secretsmanager(&moto.url, "us-east-1")
            .create_secret()
            .name(&secret)
            .secret_string(r#"{"username": "AKIAZZZZCOLOURPTY001", "password": "pty-password"}"#)
            .send(),
    )
    .unwrap();
    let port = server.port_arg();
    let verify: Vec<&str> = vec![
        "verify",
        "--secret-name",
        &secret,
        "--region",
        "us-east-1",
        "--smtp-host",
        "127.0.0.1",
        "--port",
        &port,
        "--ca-file",
        server.ca_arg(),
    ];
    let cases: [(&str, Vec<&str>); 4] = [
        ("--help", vec!["--help"]),
        ("a usage error", vec!["audit", "--max-key-age", "0"]),
        ("audit", vec!["audit"]),
        ("verify", verify),
    ];
    for (what, args) in &cases {
        let auto = on_a_terminal(&moto, args, &[]);
        assert!(has_colour(&auto), "{what} on a terminal is coloured: {auto:?}");
        let no_color = on_a_terminal(&moto, args, &[("NO_COLOR", "1")]);
        assert!(!has_colour(&no_color), "{what} with NO_COLOR: {no_color:?}");
        let never: Vec<&str> = args.iter().copied().chain(["--color", "never"]).collect();
        let never = on_a_terminal(&moto, &never, &[]);
        assert!(!has_colour(&never), "{what} with --color never: {never:?}");
        assert!(
            never.contains(|c: char| c.is_alphabetic()),
            "{what} printed something: {never:?}"
        );
    }
    let verify = on_a_terminal(&moto, &cases[3].1, &[]);
    assert!(verify.contains("\u{1b}[1;32mOK:\u{1b}[0m"), "{verify:?}");
}
