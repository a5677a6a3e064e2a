//! A `--dry-run` plan as the CLI shows it: the core's [`Plan`] with its notes worded in terms of the
//! command line, as text or as the `-o json` document.

use std::fmt::{self, Write as _};

use serde::{Serialize, Serializer};

use crate::workflows::{Plan, PlanNote, PlannedCall};

/// A note in the CLI's words: a remark as the core wrote it, a choice the operator made by the flag
/// that made it.
pub fn note(note: &PlanNote) -> String {
    match note {
        PlanNote::Text(text) => text.clone(),
        PlanNote::VerifyLogin {
            host,
            port,
            tls,
            deadline,
        } => format!(
            "--verify: SMTP login at {host}:{port} ({tls}) before delivery, retried for up to {} s while the \
             key propagates; no mail is sent",
            deadline.as_secs()
        ),
        PlanNote::NoRollback => {
            "--no-rollback: if a step fails, what was created is kept and listed".to_string()
        }
        PlanNote::DeleteInactiveNotNeeded => {
            "--delete-inactive is not needed: the interrupted rotation's key is reused".to_string()
        }
        PlanNote::RetireLater { key, user, secret } => format!(
            "old key {key} stays active; retire it later with `sesctl rotate {user} --secret-name {secret} \
             --finish`"
        ),
    }
}

/// The text of a plan: the command, its calls numbered in order (or that there is nothing to change),
/// then its notes.
pub fn render(plan: &Plan) -> String {
    let mut out = format!(
        "Plan for `sesctl {}` (dry run: nothing is changed):\n",
        plan.command
    );
    if plan.calls.is_empty() {
        out.push_str("  nothing to change\n");
    }
    let width = plan.calls.iter().map(|c| c.action.len()).max().unwrap_or(0);
    for (i, c) in plan.calls.iter().enumerate() {
        let _ = writeln!(out, "  {:>2}. {:<width$}  {}", i + 1, c.action, c.target);
    }
    for n in &plan.notes {
        let _ = writeln!(out, "  note: {}", note(n));
    }
    out
}

/// The `-o json` document of a plan: its notes as text, left out when there are none.
#[derive(Serialize)]
struct Document<'a> {
    command: &'a str,
    calls: &'a [PlannedCall],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

/// A plan as the printer takes it: [`render`] as text, the document with the notes [`note`] words as
/// JSON.
pub struct PlanText<'a>(pub &'a Plan);

impl fmt::Display for PlanText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(self.0))
    }
}

impl Serialize for PlanText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Document {
            command: &self.0.command,
            calls: &self.0.calls,
            notes: self.0.notes.iter().map(note).collect(),
        }
        .serialize(serializer)
    }
}

/// Serializes a field that may hold a plan as [`PlanText`] does:
/// `#[serde(serialize_with = "crate::output::plan::serialize_option")]`.
pub fn serialize_option<S: Serializer>(plan: &Option<Plan>, serializer: S) -> Result<S::Ok, S::Error> {
    plan.as_ref().map(PlanText).serialize(serializer)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::smtp::TlsMode;

    fn plan() -> Plan {
        let mut plan = Plan::new("create-user");
        plan.call("iam:CreateUser", "user mailer");
        plan.call("iam:AddUserToGroup", "user mailer to group G");
        plan.note("the SMTP password is derived locally");
        plan.note(PlanNote::VerifyLogin {
            host: "email-smtp.eu-west-1.amazonaws.com".into(),
            port: 587,
            tls: TlsMode::Starttls,
            deadline: Duration::from_secs(60),
        });
        plan.note(PlanNote::NoRollback);
        plan
    }

    #[test]
    fn text_numbers_the_calls_and_words_the_notes_by_their_flags() {
        assert_eq!(
            render(&plan()),
            "Plan for `sesctl create-user` (dry run: nothing is changed):\n\
             \x20  1. iam:CreateUser      user mailer\n\
             \x20  2. iam:AddUserToGroup  user mailer to group G\n\
             \x20 note: the SMTP password is derived locally\n\
             \x20 note: --verify: SMTP login at email-smtp.eu-west-1.amazonaws.com:587 (STARTTLS) before \
             delivery, retried for up to 60 s while the key propagates; no mail is sent\n\
             \x20 note: --no-rollback: if a step fails, what was created is kept and listed\n"
        );
        assert_eq!(PlanText(&plan()).to_string(), render(&plan()));
        assert_eq!(
            render(&Plan::new("setup")),
            "Plan for `sesctl setup` (dry run: nothing is changed):\n  nothing to change\n"
        );
    }

    #[test]
    fn json_has_the_notes_as_text_and_leaves_out_none() {
        let v = serde_json::to_value(PlanText(&plan())).unwrap();
        assert_eq!(v["command"], "create-user");
        assert_eq!(v["calls"][1]["action"], "iam:AddUserToGroup");
        assert_eq!(v["calls"][1]["target"], "user mailer to group G");
        assert_eq!(v["notes"][2], note(&PlanNote::NoRollback));
        assert_eq!(
            serde_json::to_string(&PlanText(&Plan::new("setup"))).unwrap(),
            r#"{"command":"setup","calls":[]}"#
        );
    }
}
