//! Workflows: each is a plan (a plain value listing the API calls it will make, printed by `--dry-run`)
//! and an executor that carries it out and walks back what it did when a later step fails.
//! Workflows see sesctl's own types only; the SDK stays inside `aws`.

pub mod audit;
pub mod create_user;
pub mod delete_user;
pub mod deliver;
pub mod migrate;
pub mod rotate;
pub mod setup;
pub mod verify;

use std::fmt;

use serde::Serialize;

/// One API call a workflow will make (or made), with what it acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedCall {
    /// The action in IAM policy form, e.g. `iam:CreateUser`.
    pub action: String,
    /// What it acts on, e.g. `user ses-smtp-user.20241001-101500`.
    pub target: String,
}

impl PlannedCall {
    pub fn new(action: &str, target: impl Into<String>) -> Self {
        PlannedCall {
            action: action.to_string(),
            target: target.into(),
        }
    }
}

/// What a command would do: the calls that change things, in order, and notes for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub command: String,
    pub calls: Vec<PlannedCall>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Plan {
    pub fn new(command: &str) -> Self {
        Plan {
            command: command.to_string(),
            ..Plan::default()
        }
    }

    pub fn call(&mut self, action: &str, target: impl Into<String>) {
        self.calls.push(PlannedCall::new(action, target));
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Plan for `sesctl {}` (dry run: nothing is changed):",
            self.command
        )?;
        if self.calls.is_empty() {
            writeln!(f, "  nothing to change")?;
        }
        let width = self.calls.iter().map(|c| c.action.len()).max().unwrap_or(0);
        for (i, c) in self.calls.iter().enumerate() {
            writeln!(f, "  {:>2}. {:<width$}  {}", i + 1, c.action, c.target)?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}

/// How a long workflow reports its progress to whoever runs it (a progress bar on a terminal, nothing
/// in a function). Every method has a default that does nothing.
pub trait Progress: Sync {
    /// A new stage begins (e.g. "reading access keys").
    fn stage(&self, _message: &str) {}
    /// The number of items the current stage will go through.
    fn total(&self, _items: u64) {}
    /// One more item is done.
    fn advance(&self) {}
    /// The workflow is done with progress reports.
    fn finish(&self) {}
}

/// Progress nobody watches.
pub struct NoProgress;

impl Progress for NoProgress {}
