//! `sesctl migrate-inline-policy [USER_NAME...] [--all]`: move pre-September-2024 SMTP users from
//! their inline policy onto the sending group. Settings and output here; the work is in
//! [`crate::workflows::migrate`], after one run of [`crate::workflows::setup`].

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Context;
use crate::cli::MigrateArgs;
use crate::error::Outcome;
use crate::workflows::migrate::{self, Assessment, Job, MigrationReport, Step, UserOutcome};
use crate::workflows::setup;

pub async fn exec(ctx: &Context, args: MigrateArgs) -> anyhow::Result<Outcome> {
    let names = user_names(&args.users)?;
    let concurrency = usize::from(args.concurrency);
    let aws = ctx.aws().await?;
    let iam = aws.iam();

    let read = if args.all {
        migrate::read_account(&iam)
            .await
            .context("finding the users to migrate failed; nothing was changed")?
    } else {
        migrate::read_named(&iam, &names, concurrency)
            .await
            .context("reading the users failed; nothing was changed")?
    };

    // Each user either has work (a job) or its outcome is already known.
    let mut outcomes: Vec<Option<UserOutcome>> = Vec::with_capacity(read.states.len());
    let mut jobs: Vec<(usize, Job)> = Vec::new();
    for (i, (name, state)) in read.states.iter().enumerate() {
        let assessment = match state {
            Ok(s) => migrate::assess(s),
            Err(e) => {
                outcomes.push(Some(UserOutcome::unreadable(name, e)));
                continue;
            }
        };
        match assessment {
            Assessment::Migrate { steps, partly, note } => {
                outcomes.push(None);
                jobs.push((
                    i,
                    Job {
                        user: name.clone(),
                        steps,
                        partly,
                        note,
                    },
                ));
            }
            other => outcomes.push(UserOutcome::without_work(name, &other)),
        }
    }

    // Setup runs once, and only when some inline policy is to be deleted: that deletion relies on the
    // group granting ses:SendRawEmail, which `inspect` checks and `apply` ensures.
    let needs_group = jobs
        .iter()
        .any(|(_, j)| j.steps.contains(&Step::DeleteInlinePolicy));
    let setup_state = if needs_group {
        let caller = aws
            .caller()
            .await
            .context("checking the sending group failed; no user was changed")?;
        Some(
            setup::inspect(&iam, &caller)
                .await
                .context("checking the sending group failed; no user was changed")?,
        )
    } else {
        None
    };
    let setup_calls = setup_state.as_ref().map(|s| s.plan().calls).unwrap_or_default();
    let confirming = jobs
        .iter()
        .filter(|(_, j)| j.steps.contains(&Step::ConfirmMembership))
        .count();
    let confirm = migrate::confirmation(confirming, read.group_members);

    if ctx.global.dry_run {
        for (i, job) in &jobs {
            outcomes[*i] = Some(UserOutcome::planned(
                &job.user,
                &job.steps,
                job.note.clone(),
                confirm,
            ));
        }
        return finish(
            ctx,
            MigrationReport::new(true, setup_calls, outcomes.into_iter().flatten().collect()),
        );
    }

    if args.all && !jobs.is_empty() {
        let question = format!(
            "Migrate {} user(s) onto group {} and delete their inline policy {}?",
            jobs.len(),
            setup::GROUP,
            setup::POLICY
        );
        if !ctx.confirm(&question)? {
            ctx.printer.status("Cancelled; nothing was changed.");
            return Ok(Outcome::Failed);
        }
    }

    if let Some(state) = &setup_state {
        setup::apply(&iam, state)
            .await
            .context("making the sending group ready failed; no user was changed")?;
    }

    if !jobs.is_empty() {
        ctx.printer.status(format!(
            "Migrating {} user(s), {} at a time...",
            jobs.len(),
            concurrency
        ));
    }
    let bar = progress_bar(ctx, jobs.len());
    let job_list: Vec<Job> = jobs.iter().map(|(_, j)| j.clone()).collect();
    let done = migrate::migrate_users(&iam, &job_list, concurrency, confirm, |_| bar.inc(1)).await;
    bar.finish_and_clear();
    for ((i, _), outcome) in jobs.iter().zip(done) {
        outcomes[*i] = Some(outcome);
    }
    finish(
        ctx,
        MigrationReport::new(false, setup_calls, outcomes.into_iter().flatten().collect()),
    )
}

/// The named users, checked before any AWS call; a name given twice is migrated once.
fn user_names(raw: &[String]) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(raw.len());
    for name in raw {
        crate::validate::user_name(name)?;
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    Ok(names)
}

fn progress_bar(ctx: &Context, len: usize) -> ProgressBar {
    if !ctx.printer.show_progress() || len == 0 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} users migrated ({eta} left)") {
        bar.set_style(style);
    }
    bar
}

fn finish(ctx: &Context, report: MigrationReport) -> anyhow::Result<Outcome> {
    ctx.printer.result(&report)?;
    Ok(if report.has_failures() {
        Outcome::Failed
    } else {
        Outcome::Done
    })
}
