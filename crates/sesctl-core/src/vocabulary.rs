//! The names sesctl's work is made of, in one place: what the SES console and the developer guide
//! fix (the sending group and policy, the console's tag), sesctl's own tags, Secrets Manager's
//! staging labels, and IAM's page size. Workflows name these constants rather than spelling the
//! strings; the older paths (`setup::GROUP`, `secrets::STAGE_CURRENT`, ...) re-export them.
//!
//! The pre-September-2024 SMTP user is recognised by its shape, not a date: the console then gave each
//! user the inline policy [`POLICY`] and tagged it [`CONSOLE_TAG_KEY`]=[`CONSOLE_TAG_VALUE`]; since
//! then it adds the user to [`GROUP`], whose policy [`POLICY`] grants `ses:SendRawEmail`.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// The group the SES console puts SMTP users in (since September 2024).
pub const GROUP: &str = "AWSSESSendingGroupDoNotRename";
/// The policy that grants sending: attached to [`GROUP`] (managed, or the console's inline group
/// policy), and the inline user policy of pre-2024 users.
pub const POLICY: &str = "AmazonSesSendingAccess";
/// The description of the managed policy sesctl creates.
pub const POLICY_DESCRIPTION: &str = "Allows ses:SendRawEmail for SES SMTP credentials (created by sesctl)";

/// The tag the SES console put on the users it created before September 2024: key and value.
pub const CONSOLE_TAG_KEY: &str = "InvokedBy";
pub const CONSOLE_TAG_VALUE: &str = "SESConsole";
/// [`CONSOLE_TAG_KEY`] and [`CONSOLE_TAG_VALUE`] as a pair.
pub const CONSOLE_TAG: (&str, &str) = (CONSOLE_TAG_KEY, CONSOLE_TAG_VALUE);

/// The prefix of sesctl's own tags; an operator's tag may not use it.
pub const SESCTL_TAG_PREFIX: &str = "sesctl:";
/// Tag on the secret naming the IAM user whose key it holds.
pub const TAG_IAM_USER: &str = "sesctl:iam-user-name";
/// Tag on the secret naming the SES region the password was derived for.
pub const TAG_REGION: &str = "sesctl:region";
/// Tag put on the user at iam:CreateUser, with a value unique to the run. When CreateUser's answer is
/// lost (the call took effect, the SDK's retry then sees EntityAlreadyExists, or every attempt's
/// answer is lost), this tag tells the run's own user from one someone else created meanwhile, so it
/// is neither left behind nor taken over.
pub const TAG_CREATE_RUN: &str = "sesctl:create-run";
/// Tags the operator may give: IAM allows 50 per user and [`TAG_CREATE_RUN`] takes one.
pub const MAX_USER_TAGS: usize = 49;

/// Secrets Manager's staging labels.
pub const STAGE_CURRENT: &str = "AWSCURRENT";
pub const STAGE_PENDING: &str = "AWSPENDING";
pub const STAGE_PREVIOUS: &str = "AWSPREVIOUS";

/// The v2 SMTP password cutoff: SES stopped accepting v2 passwords in 2021, and access keys created
/// before this date only ever had a v2 password (a key from before it is audit's `legacy-v2-key`).
pub fn legacy_cutoff() -> DateTime<Utc> {
    Utc.from_utc_datetime(
        &NaiveDate::from_ymd_opt(2019, 1, 10)
            .expect("a valid date")
            .and_hms_opt(0, 0, 0)
            .expect("a valid time"),
    )
}

/// IAM's largest page (`MaxItems`) for the reads sesctl pages through.
pub const IAM_PAGE_SIZE: i32 = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sesctls_tags_carry_its_prefix_and_the_console_tag_is_the_pair() {
        for tag in [TAG_IAM_USER, TAG_REGION, TAG_CREATE_RUN] {
            assert!(tag.starts_with(SESCTL_TAG_PREFIX), "{tag}");
        }
        assert_eq!(CONSOLE_TAG, ("InvokedBy", "SESConsole"));
        assert!(
            POLICY_DESCRIPTION.len() <= 1000,
            "IAM's limit for a policy description"
        );
    }
}
