//! `sesctl setup`: idempotently make the sending group ready.

use super::Context;
use crate::error::Outcome;
use crate::workflows::setup;

pub async fn exec(ctx: &Context) -> anyhow::Result<Outcome> {
    let aws = ctx.aws().await?;
    let iam = aws.iam();
    let state = async {
        let caller = aws.caller().await?;
        setup::inspect(&iam, &caller).await
    }
    .await
    .map_err(|e| {
        if e.downcast_ref::<crate::aws::AwsError>().is_some() {
            e.context("reading the sending group failed, so nothing was changed")
        } else {
            e
        }
    })?;
    if ctx.global.dry_run {
        ctx.printer.result(&state.plan())?;
        return Ok(Outcome::Done);
    }
    let report = setup::apply(&iam, &state).await?;
    ctx.printer.result(&report)?;
    Ok(Outcome::Done)
}
