//! `sesctl delete-user`.

use super::Context;
use crate::error::Outcome;

pub async fn exec(ctx: &Context, args: crate::cli::DeleteUserArgs) -> anyhow::Result<Outcome> {
    let _ = (ctx, args);
    Err(anyhow::anyhow!("`delete-user` is not implemented yet"))
}
