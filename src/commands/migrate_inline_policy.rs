//! `sesctl migrate-inline-policy`.

use super::Context;
use crate::error::Outcome;

pub async fn exec(ctx: &Context, args: crate::cli::MigrateArgs) -> anyhow::Result<Outcome> {
    let _ = (ctx, args);
    Err(anyhow::anyhow!("`migrate-inline-policy` is not implemented yet"))
}
