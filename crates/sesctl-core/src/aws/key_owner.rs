//! Finding the IAM user an access key belongs to (for `verify`'s diagnosis of a rejected login).

use super::error::{found, AwsError};
use super::iam::Iam;

impl Iam {
    /// iam:GetAccessKeyLastUsed: the name of the user that owns `key_id`. `None` when IAM says no
    /// such key exists in this account.
    pub async fn access_key_owner(&self, key_id: &str) -> Result<Option<String>, AwsError> {
        match found(
            "iam:GetAccessKeyLastUsed",
            self.sdk()
                .get_access_key_last_used()
                .access_key_id(key_id)
                .send()
                .await,
        )? {
            Some(out) => Ok(out.user_name().map(str::to_string).filter(|u| !u.is_empty())),
            None => Ok(None),
        }
    }
}
