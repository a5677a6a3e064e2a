//! `sesctl rotate`.

use super::Context;
use crate::error::Outcome;

pub async fn exec(ctx: &Context, args: crate::cli::RotateArgs) -> anyhow::Result<Outcome> {
    let _ = (ctx, args);
    Err(anyhow::anyhow!("`rotate` is not implemented yet"))
}
