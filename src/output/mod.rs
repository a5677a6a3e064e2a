//! What reaches the terminal: the result on stdout (text, JSON or CSV), and logs, progress and status
//! lines on stderr only, so `-o json` output is always one clean JSON document.
//!
//! The core's reports are plain data; the renderings that need more than a `Display` of their own
//! (tables, colour, CSV) are here: [`audit`] and [`list`].

pub mod audit;
pub mod create_user;
pub mod credential;
pub mod delete_user;
pub mod list;
pub mod migrate;
pub mod plan;
pub mod rotate;
pub mod setup;
pub mod verify;

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde::Serialize;
use tracing_subscriber::EnvFilter;

use crate::cli::{ColorChoice, GlobalArgs, OutputFormat};

/// Sets up tracing on stderr. `-q` shows errors only, the default warnings, `-v` sesctl's info and
/// debug, `-vv` the SDK's debug too, `-vvv` trace. `RUST_LOG` replaces the level choice. The SDK's HTTP
/// layers are capped at debug whatever is asked, because at trace they print request and response
/// bodies, and those carry secrets (CreateAccessKey, CreateSecret, PutSecretValue).
pub fn init_logging(global: &GlobalArgs) {
    let base = match (global.quiet, global.verbose) {
        (q, _) if q > 0 => "error".to_string(),
        // aws_config warns (with a debug dump) when a region source such as IMDS is unreachable,
        // which is normal off EC2; those show from -vv on.
        (_, 0) => "warn,aws_config=error".to_string(),
        (_, 1) => "warn,aws_config=error,sesctl=debug,sesctl_core=debug".to_string(),
        (_, 2) => "debug".to_string(),
        _ => "trace".to_string(),
    };
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(base);
    let caps = sesctl_core::secret::SDK_LOG_CAPS;
    let mut filter = EnvFilter::builder()
        .with_default_directive(tracing::level_filters::LevelFilter::WARN.into())
        .parse_lossy(&directives);
    // Only trace is capped: adding these at lower levels would raise targets the user kept quiet.
    if directives.contains("trace") {
        for cap in caps {
            if let Ok(d) = cap.parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    let ansi = use_color(global.color, std::io::stderr().is_terminal());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(global.verbose >= 2)
        .without_time()
        .try_init();
}

/// Whether to colour output: never with NO_COLOR or `--color never`, always with `--color always`,
/// otherwise only on a terminal.
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Never => false,
        ColorChoice::Always => true,
        ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// The output format, as the AWS CLI picks it: `-o` first, then `AWS_DEFAULT_OUTPUT`, then the
/// profile's `output`, else text. Of the AWS CLI's other formats, `yaml` and `yaml-stream` give JSON
/// (a JSON document is a YAML document, so YAML readers take it) and `table` gives text (the format
/// for people); any other value is refused (exit 2), as the AWS CLI refuses it.
pub fn choose_format(
    flag: Option<OutputFormat>,
    env: Option<&str>,
    profile: Option<(&str, &str)>,
) -> anyhow::Result<OutputFormat> {
    if let Some(format) = flag {
        return Ok(format);
    }
    let (source, value) = match (env.map(str::trim).filter(|v| !v.is_empty()), profile) {
        (Some(v), _) => ("AWS_DEFAULT_OUTPUT".to_string(), v),
        (None, Some((profile, v))) if !v.trim().is_empty() => {
            (format!("the output setting of profile {profile}"), v.trim())
        }
        _ => return Ok(OutputFormat::Text),
    };
    match value {
        "text" | "table" => Ok(OutputFormat::Text),
        "json" | "yaml" | "yaml-stream" => Ok(OutputFormat::Json),
        other => Err(crate::error::usage(format!(
            "{source} is '{other}', which is not an output format (the AWS CLI takes json, text, table, \
             yaml or yaml-stream); set one of those, or pass -o text or -o json"
        ))),
    }
}

/// Owns stdout (the result) and the status lines on stderr.
#[derive(Debug, Clone)]
pub struct Printer {
    pub format: OutputFormat,
    quiet: bool,
    pub color: bool,
    pub stderr_is_terminal: bool,
}

impl Printer {
    pub fn new(global: &GlobalArgs) -> Self {
        let stderr_is_terminal = std::io::stderr().is_terminal();
        Printer {
            format: global.output,
            quiet: global.quiet > 0,
            color: use_color(global.color, std::io::stdout().is_terminal()),
            stderr_is_terminal,
        }
    }

    /// Prints a command's result: JSON for `-o json`, its `Display` otherwise.
    pub fn result<T: Serialize + Display>(&self, value: &T) -> anyhow::Result<()> {
        match self.format {
            OutputFormat::Json => self.json(value),
            _ => self.text(value),
        }
    }

    /// Prints one pretty JSON document and a newline.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }

    /// Prints text as it is.
    pub fn text<T: Display + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        write!(out, "{value}")?;
        out.flush()?;
        Ok(())
    }

    /// A status line on stderr for people (not shown with -q).
    pub fn status(&self, message: impl Display) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    /// A warning on stderr (not shown with -q).
    pub fn warn(&self, message: impl Display) {
        if !self.quiet {
            eprintln!("sesctl: warning: {message}");
        }
    }

    /// Whether a progress bar may be drawn: stderr is a terminal, not quiet, not JSON.
    pub fn show_progress(&self) -> bool {
        self.stderr_is_terminal && !self.quiet && self.format != OutputFormat::Json
    }

    /// A progress bar on stderr when someone watches ([`Printer::show_progress`]), hidden otherwise.
    pub fn progress_bar(&self) -> Bar {
        if !self.show_progress() {
            return Bar(indicatif::ProgressBar::hidden());
        }
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} {pos}/{len} [{elapsed}]")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        Bar(bar)
    }
}

pub use sesctl_core::text::table;

/// Text lines of reports are kept to this width.
pub const LINE_WIDTH: usize = 120;

/// Shortens `s` to `max` characters, marking the cut with `…`.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Breaks `text` into lines of at most `width` characters after `indent`, at spaces where possible.
pub fn wrap(text: &str, indent: &str, width: usize) -> String {
    let room = width.saturating_sub(indent.chars().count()).max(10);
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > room {
            if !line.is_empty() {
                out.push_str(&format!("{indent}{line}\n"));
                line.clear();
            }
            let head: String = word.chars().take(room).collect();
            out.push_str(&format!("{indent}{head}\n"));
            word = word.chars().skip(room).collect();
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            out.push_str(&format!("{indent}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{line}\n"));
    }
    out
}

/// A colour for a word that carries a verdict (a severity, OK or FAILED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Red,
    Yellow,
    Green,
    Cyan,
}

/// `text` in `paint` when `on` (see [`use_color`]), as it is otherwise. Only whole words are painted,
/// and the escape codes add no visible width, so padding is applied to `text` before painting.
pub fn paint(text: &str, paint: Paint, on: bool) -> String {
    if !on {
        return text.to_string();
    }
    let code = match paint {
        Paint::Red => "1;31",
        Paint::Yellow => "33",
        Paint::Green => "1;32",
        Paint::Cyan => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// A terminal progress bar (indicatif) as the core's [`crate::workflows::Progress`] hook.
pub struct Bar(pub indicatif::ProgressBar);

impl crate::workflows::Progress for Bar {
    fn stage(&self, message: &str) {
        self.0.set_message(message.to_string());
    }
    fn total(&self, items: u64) {
        self.0.set_length(items);
    }
    fn advance(&self) {
        self.0.inc(1);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// The heading of one account's part of an `--accounts` text report.
pub fn account_heading(account_id: &str) -> String {
    format!("== account {account_id} ==")
}

/// The line after the accounts of an `--accounts` text report.
pub fn accounts_line(accounts: usize, failed: usize) -> String {
    format!(
        "{accounts} account(s): {} ok, {failed} failed.",
        accounts - failed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_rules() {
        assert!(!use_color(ColorChoice::Never, true));
        assert!(use_color(ColorChoice::Always, false));
        assert!(!use_color(ColorChoice::Auto, false));
    }

    #[test]
    fn format_follows_the_aws_cli() {
        use OutputFormat::*;
        assert_eq!(choose_format(None, None, None).unwrap(), Text);
        assert_eq!(choose_format(None, Some("json"), None).unwrap(), Json);
        assert_eq!(choose_format(Some(Text), Some("json"), None).unwrap(), Text);
        assert_eq!(choose_format(Some(Csv), Some("bogus"), None).unwrap(), Csv);
        assert_eq!(choose_format(None, None, Some(("p", "json"))).unwrap(), Json);
        assert_eq!(
            choose_format(None, Some("text"), Some(("p", "json"))).unwrap(),
            Text
        );
        assert_eq!(choose_format(None, Some("yaml"), None).unwrap(), Json);
        assert_eq!(choose_format(None, Some("yaml-stream"), None).unwrap(), Json);
        assert_eq!(choose_format(None, Some("table"), None).unwrap(), Text);
        assert_eq!(choose_format(None, Some(""), Some(("p", "json"))).unwrap(), Json);
        let err = choose_format(None, Some("xml"), None).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), 2);
        assert!(err.to_string().contains("AWS_DEFAULT_OUTPUT is 'xml'"), "{err}");
        let err = choose_format(None, None, Some(("ops", "JSON"))).unwrap_err();
        assert!(err.to_string().contains("profile ops"), "{err}");
    }

    #[test]
    fn wrap_keeps_lines_short() {
        let w = wrap(&"word ".repeat(60), "    ", 40);
        assert!(w.lines().all(|l| l.chars().count() <= 40), "{w}");
        let w = wrap(&"x".repeat(100), "  ", 30);
        assert!(w.lines().all(|l| l.chars().count() <= 30), "{w}");
    }

    #[test]
    fn clip_marks_the_cut() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcdef", 4), "abc…");
    }

    #[test]
    fn paint_only_when_on() {
        assert_eq!(paint("error", Paint::Red, false), "error");
        assert_eq!(paint("error", Paint::Red, true), "\x1b[1;31merror\x1b[0m");
    }
}
