//! `sesctl audit`.

use super::Context;
use crate::error::Outcome;

pub async fn exec(ctx: &Context, args: crate::cli::AuditArgs) -> anyhow::Result<Outcome> {
    let _ = (ctx, args);
    Err(anyhow::anyhow!("`audit` is not implemented yet"))
}
