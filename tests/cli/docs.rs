//! The documentation as a new user meets it: every `sesctl` command line shown in README.md and
//! docs/*.md is accepted by the command-line parser (so the docs cannot drift from the flags), and
//! the README's main-job command (`scripts/demo.sh`) runs end to end against its own moto server.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use sesctl::cli::Cli;

use crate::support;

fn markdown_files() -> Vec<PathBuf> {
    let root = support::repo_root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// Splits a shell command line into words (single and double quotes, backslash escapes), stopping at
/// the first unquoted `|`, `>`, `<`, `;`, `&` or `#`.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            '|' | '>' | '<' | ';' | '&' | '#' if !in_word || c != '#' => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Every `sesctl ...` invocation in the shell code blocks of a Markdown file, with its line number.
fn invocations(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut in_block = false;
    let mut shell_block = false;
    let mut continued = String::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            in_block = !in_block;
            shell_block = in_block && matches!(lang.trim(), "sh" | "bash" | "shell" | "console" | "text");
            continue;
        }
        if !shell_block {
            continue;
        }
        // Text blocks show sessions: only their `$ sesctl` prompt lines are commands.
        let line = match trimmed.strip_prefix("$ ") {
            Some(rest) => rest,
            None if trimmed.starts_with("sesctl: ") => continue,
            None => trimmed,
        };
        let joined = format!("{continued}{line}");
        if let Some(stripped) = joined.strip_suffix('\\') {
            continued = format!("{stripped} ");
            continue;
        }
        continued.clear();
        // The sesctl part of a pipeline (`printf ... | sesctl derive ...`).
        for segment in joined.split(['|', ';']).map(str::trim) {
            let segment = segment.trim_start_matches("&& ").trim();
            if segment.starts_with("sesctl ") {
                out.push((n + 1, segment.to_string()));
            }
        }
    }
    out
}

#[test]
fn every_documented_command_line_parses() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in markdown_files() {
        for (line, command) in invocations(&file) {
            let words = shell_words(&command);
            checked += 1;
            let parsed = Cli::try_parse_from(&words)
                .map(|_| ())
                .or_else(|e| match e.kind() {
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => Ok(()),
                    _ => Err(e),
                });
            if let Err(e) = parsed {
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                failures.push(format!("{}:{line}: `{command}`: {first}", file.display()));
            }
        }
    }
    assert!(checked >= 25, "only {checked} documented command lines found");
    assert!(
        failures.is_empty(),
        "documented commands that do not parse:\n{}",
        failures.join("\n")
    );
}

#[test]
fn shell_words_split_like_a_shell() {
    assert_eq!(
        shell_words(r#"sesctl derive --region "eu west" 'a b' c\ d > out"#),
        ["sesctl", "derive", "--region", "eu west", "a b", "c d"]
    );
    assert_eq!(
        shell_words("sesctl audit -o json | jq ."),
        ["sesctl", "audit", "-o", "json"]
    );
}

#[test]
fn the_readme_main_job_runs_end_to_end() {
    let out = Command::new("bash")
        .arg(support::repo_root().join("scripts/demo.sh"))
        .env("SESCTL_BIN", support::sesctl_bin())
        .env("PYTHON", support::python())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/demo.sh failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for expected in [
        "Group AWSSESSendingGroupDoNotRename is ready",
        "IAM User Name,Smtp Username,Smtp Password",
        "Rotated the SMTP credential of app-mailer",
        "Deleted IAM user reports-mailer",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("panicked") && !stderr.contains("panicked"));
}
