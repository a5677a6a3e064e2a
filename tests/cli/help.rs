//! Help as a new user meets it: `sesctl --help` and every subcommand's `--help` give each flag a
//! one-line description and show examples; the shell completions and the man page, generated from the
//! same clap definitions, cover every subcommand.

use clap::CommandFactory;
use sesctl::cli::Cli;

use crate::support::Sesctl;

/// The subcommands as clap defines them (the ones the binary accepts).
fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect()
}

#[test]
fn every_flag_has_a_one_line_help() {
    let cli = Cli::command();
    let mut gaps = Vec::new();
    let mut commands = vec![(String::new(), cli.clone())];
    commands.extend(
        cli.get_subcommands()
            .map(|c| (c.get_name().to_string(), c.clone())),
    );
    for (name, cmd) in &commands {
        let name = if name.is_empty() {
            "sesctl".to_string()
        } else {
            format!("sesctl {name}")
        };
        match cmd.get_about().map(|a| a.to_string()) {
            Some(about) if !about.trim().is_empty() && !about.contains('\n') => {}
            other => gaps.push(format!("{name}: no one-line about ({other:?})")),
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_hide_set() || id == "help" || id == "version" {
                continue;
            }
            match arg.get_help().map(|h| h.to_string()) {
                Some(help) if !help.trim().is_empty() && !help.contains('\n') => {}
                other => gaps.push(format!("{name} {id}: no one-line help ({other:?})")),
            }
        }
    }
    assert!(
        gaps.is_empty(),
        "arguments without a one-line help:\n{}",
        gaps.join("\n")
    );
}

#[test]
fn every_help_page_shows_examples_and_every_flag() {
    let mut pages: Vec<Vec<String>> = vec![vec![]];
    pages.extend(subcommands().into_iter().map(|s| vec![s]));
    let cli = Cli::command();
    for page in pages {
        let run = Sesctl::offline().args(&page).args(["--help"]).run();
        let name = format!("sesctl {} --help", page.join(" "));
        run.assert_ok();
        assert!(run.stderr.is_empty(), "{name} wrote to stderr: {}", run.stderr);
        let text = &run.stdout;
        let examples = text
            .split_once("\nExamples:\n")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("{name} has no `Examples:` section:\n{text}"));
        let prefix = format!("  sesctl {}", page.join(" "));
        assert!(
            examples.lines().any(|l| l.starts_with(prefix.trim_end())),
            "{name}: no example starts with `{}`:\n{examples}",
            prefix.trim()
        );
        let cmd = match page.first() {
            Some(sub) => cli.find_subcommand(sub).unwrap().clone(),
            None => cli.clone(),
        };
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let shown = match (arg.get_long(), arg.get_short()) {
                (Some(long), _) => format!("--{long}"),
                (None, Some(short)) => format!("-{short}"),
                (None, None) => arg
                    .get_value_names()
                    .and_then(|v| v.first().map(|s| s.to_string()))
                    .unwrap_or_else(|| arg.get_id().as_str().to_uppercase()),
            };
            assert!(text.contains(&shown), "{name} does not show {shown}:\n{text}");
        }
    }
}

#[test]
fn completions_cover_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = Sesctl::offline().args(["completions", shell]).run();
        run.assert_ok();
        assert!(
            run.stdout.len() > 500,
            "the {shell} completion script is (nearly) empty: {:?}",
            run.stdout
        );
        for sub in subcommands() {
            assert!(
                run.stdout.contains(&sub),
                "the {shell} completion script does not mention `{sub}`"
            );
        }
        // Fish spells a long flag `-l secret-name`; the others `--secret-name`.
        for flag in ["secret-name", "dry-run", "old-key"] {
            assert!(
                run.stdout.contains(flag),
                "the {shell} completion script does not complete {flag}"
            );
        }
    }
    let run = Sesctl::offline().args(["completions", "tcsh"]).run();
    run.assert_code(2);
}

#[test]
fn the_man_page_names_every_subcommand() {
    let run = Sesctl::offline().args(["man"]).run();
    run.assert_ok();
    let roff = &run.stdout;
    assert!(roff.contains(".TH sesctl 1"), "not a man page:\n{roff}");
    assert!(roff.contains(".SH NAME") && roff.contains(".SH SYNOPSIS") && roff.contains(".SH OPTIONS"));
    // roff escapes the hyphen: create-user is written create\-user.
    for sub in subcommands() {
        let escaped = sub.replace('-', "\\-");
        assert!(roff.contains(&escaped), "the man page does not name `{sub}`");
    }
    assert!(
        roff.contains(env!("CARGO_PKG_VERSION")),
        "the man page names the version"
    );
}

#[test]
fn version_names_the_commit() {
    let run = Sesctl::offline().args(["--version"]).run();
    run.assert_ok();
    let line = run.stdout.trim();
    assert!(
        line.starts_with(&format!("sesctl {} (commit ", env!("CARGO_PKG_VERSION"))) && line.ends_with(')'),
        "{line}"
    );
}

#[test]
fn each_command_has_its_own_man_page_with_the_global_options() {
    for name in ["create-user", "rotate", "audit", "verify"] {
        let run = Sesctl::offline().args(["man", name]).run();
        run.assert_ok();
        assert!(
            run.stdout.contains(&format!(".TH sesctl-{name} 1")),
            "{name}: {}",
            &run.stdout[..200]
        );
        assert!(
            run.stdout.contains("\\-\\-endpoint\\-url"),
            "{name}: the global options are listed"
        );
    }
    let run = Sesctl::offline().args(["man", "no-such-command"]).run();
    run.assert_code(2);
    assert!(run.stderr.contains("create-user"), "{}", run.stderr);
}

#[test]
fn csv_output_is_refused_where_it_does_not_apply() {
    for cmd in [&["regions"][..], &["setup"], &["derive", "--region", "us-east-1"]] {
        let run = Sesctl::offline().args(cmd).args(["-o", "csv"]).stdin("x").run();
        run.assert_code(2);
        assert!(
            run.stderr.contains("-o csv is for `audit` and `list`"),
            "{}",
            run.stderr
        );
        assert_eq!(run.stdout, "");
    }
}
