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

use std::time::Duration;

use serde::Serialize;

use crate::smtp::TlsMode;

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

/// What a command would do: the calls that change things, in order, and notes for the operator. It is
/// data; a front end renders it (the CLI's text and JSON forms are its `output::plan`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The command the plan is for, e.g. `create-user`.
    pub command: String,
    pub calls: Vec<PlannedCall>,
    pub notes: Vec<PlanNote>,
}

/// A note beside a plan's calls. Most are remarks the workflow words in full; a note about a choice the
/// operator made is data, which the front end words in terms of its own options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanNote {
    /// A remark in full; it names no front end's options.
    Text(String),
    /// The new credential is tried with an SMTP login at `host:port` before it is delivered, retried
    /// for up to `deadline` while the new key propagates; no mail is sent.
    VerifyLogin {
        host: String,
        port: u16,
        tls: TlsMode,
        deadline: Duration,
    },
    /// Rollback is off: if a step fails, what the run created is kept, and the failure lists it.
    NoRollback,
    /// The operator asked to delete an inactive key, but a resumed rotation needs no room.
    DeleteInactiveNotNeeded,
    /// The old key stays active after the rotation; a later run retires every key the secret's
    /// AWSCURRENT does not hold.
    RetireLater {
        key: String,
        user: String,
        secret: String,
    },
}

impl PlanNote {
    /// The words of a [`PlanNote::Text`]; `None` for a note the front end words.
    pub fn text(&self) -> Option<&str> {
        match self {
            PlanNote::Text(t) => Some(t),
            PlanNote::VerifyLogin { .. }
            | PlanNote::NoRollback
            | PlanNote::DeleteInactiveNotNeeded
            | PlanNote::RetireLater { .. } => None,
        }
    }
}

impl From<String> for PlanNote {
    fn from(text: String) -> Self {
        PlanNote::Text(text)
    }
}

impl From<&str> for PlanNote {
    fn from(text: &str) -> Self {
        PlanNote::Text(text.to_string())
    }
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

    /// Adds a note: a remark in full (a `String` or `&str`) or a [`PlanNote`].
    pub fn note(&mut self, note: impl Into<PlanNote>) {
        self.notes.push(note.into());
    }
}

/// What a run changed, in the order it changed it (a call whose answer was lost counts as made, since
/// it may have taken effect): what rollback walks back. Each changing workflow has its own entries
/// (its `Done`).
#[derive(Debug, Clone)]
pub struct Ledger<D>(Vec<D>);

impl<D> Default for Ledger<D> {
    fn default() -> Self {
        Ledger(Vec::new())
    }
}

impl<D> Ledger<D> {
    pub fn record(&mut self, done: D) {
        self.0.push(done);
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[D] {
        &self.0
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
