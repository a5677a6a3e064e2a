//! Colour: audit severities and verify's OK/FAILED are coloured only on a terminal. Piped output,
//! `NO_COLOR` and `--color never` carry no escape codes at all, on stdout or stderr; `--color always`
//! colours even a pipe (which is what shows the other cases are not colourless by accident).

use crate::support::smtp::{Mode, SmtpServer};
use crate::support::{legacy, prefix, Moto, Run, Sesctl};

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
