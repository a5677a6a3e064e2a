//! `sesctl verify`.

use super::Context;
use crate::error::Outcome;

pub async fn exec(ctx: &Context, args: crate::cli::VerifyArgs) -> anyhow::Result<Outcome> {
    let _ = (ctx, args);
    Err(anyhow::anyhow!("`verify` is not implemented yet"))
}
