//! The fault matrix: every AWS step of `setup`, `create-user` (to Secrets Manager), `rotate`
//! (`--secret-name`) and `migrate-inline-policy` is failed in turn through the fault proxy in front
//! of moto, with each kind of fault (a 500, throttling on every attempt, a dropped connection, no
//! answer within `--api-timeout`, an answer lost after the call took effect, and an answer lost once).
//! sesctl runs with `--max-attempts 2 --api-timeout 2`.
//!
//! After each run: the exit code and the message name the failed step; IAM and Secrets Manager, read
//! back with the raw SDK clients, hold nothing orphaned (only what the message says is left); no key
//! whose secret was never delivered survives; then a run without faults (the same command, or the one
//! the message gives) reaches the intended state, checked against the secret access keys moto handed
//! out. docs/reliability.md is the table of these outcomes.
//!
//! Each (command, fault) pair is one test; its steps run concurrently, each with its own proxy and
//! name prefix on the shared moto (setup, whose group is account-wide, gets a moto of its own and runs
//! its steps one after another on a fresh account).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use serde_json::json;

use crate::support::matrix::Expect::{Done, Fails, Warns};
use crate::support::matrix::{Command, Step, SETUP};
use crate::support::state::{self, ensure_setup, recorded_keys, smtp_password, Fault};
use crate::support::{moto, prefix, FaultProxy, Moto};

/// One cell of the matrix: fail `step` with `fault`, check the run and what it left, re-run clean.
fn case(command: Command, step: &Step, fault: Fault, moto: &Moto) {
    let proxy = FaultProxy::start(moto);
    let p = prefix(&format!("fm{}", step.proxy_action()));
    let s = command.fixture(&moto.url, &p);
    proxy.set_rules(json!([
        fault.rule(step.proxy_action(), step.matches, step.skip),
        state::record_keys()
    ]));
    let run = state::sesctl(&proxy, &command.args(&s));
    let out = run.all_output();
    for (_, secret) in recorded_keys(&proxy) {
        assert!(
            !out.contains(&secret) && !out.contains(&smtp_password(&secret)),
            "a secret leaked:\n{out}"
        );
    }
    match step.expect(fault) {
        Fails => {
            run.assert_code(1);
            assert!(
                out.contains(step.action),
                "the message names {}:\n{out}",
                step.action
            );
            command.check_left(&moto.url, &s, step, fault, &run);
            proxy.set_rules(json!([state::record_keys()]));
            state::sesctl(&proxy, &command.rerun_args(&s, step, &run)).assert_ok();
        }
        Done => {
            run.assert_ok();
        }
        Warns => {
            run.assert_ok();
            assert!(
                out.contains("warning") && out.contains(step.action),
                "a warning names {}:\n{out}",
                step.action
            );
        }
    }
    command.check_done(&moto.url, &s, &proxy);
}

/// Runs one column (a command with one fault) over every step; reports every failing cell at once.
fn column(command: Command, fault: Fault) {
    let failures = Mutex::new(Vec::new());
    let run_cell = |step: &Step, moto: &Moto| {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| case(command, step, fault, moto))) {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.lock().unwrap().push(format!(
                "{} × {} {} × {}: {msg}",
                command.name(),
                step.action,
                step.which,
                fault.label()
            ));
        }
    };
    if command == Command::Setup {
        // The group is account-wide: a fresh account for each step, one after another.
        let moto = Moto::dedicated();
        for step in command.steps() {
            moto.reset();
            run_cell(step, &moto);
        }
    } else {
        let moto = moto();
        ensure_setup(&moto.url);
        std::thread::scope(|scope| {
            for chunk in command.steps().chunks(5) {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|step| scope.spawn(|| run_cell(step, moto)))
                    .collect();
                for h in handles {
                    h.join().unwrap();
                }
            }
        });
    }
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failing cell(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

macro_rules! columns {
    ($($name:ident: $command:ident, $fault:ident;)*) => {
        $(
            #[test]
            fn $name() {
                column(Command::$command, Fault::$fault);
            }
        )*
    };
}

columns! {
    setup_500: Setup, Error;
    setup_throttled: Setup, Throttle;
    setup_dropped: Setup, Drop;
    setup_timeout: Setup, Hang;
    setup_answer_lost: Setup, Lost;
    setup_answer_lost_once: Setup, LostOnce;
    create_user_500: CreateUser, Error;
    create_user_throttled: CreateUser, Throttle;
    create_user_dropped: CreateUser, Drop;
    create_user_timeout: CreateUser, Hang;
    create_user_answer_lost: CreateUser, Lost;
    create_user_answer_lost_once: CreateUser, LostOnce;
    rotate_500: Rotate, Error;
    rotate_throttled: Rotate, Throttle;
    rotate_dropped: Rotate, Drop;
    rotate_timeout: Rotate, Hang;
    rotate_answer_lost: Rotate, Lost;
    rotate_answer_lost_once: Rotate, LostOnce;
    migrate_500: Migrate, Error;
    migrate_throttled: Migrate, Throttle;
    migrate_dropped: Migrate, Drop;
    migrate_timeout: Migrate, Hang;
    migrate_answer_lost: Migrate, Lost;
    migrate_answer_lost_once: Migrate, LostOnce;
}

#[test]
fn the_matrix_covers_every_step_each_command_makes() {
    // Each table names every action its command calls in a clean run (read from the proxy log), so a
    // new call cannot slip in untested.
    let moto = moto();
    ensure_setup(&moto.url);
    for command in [Command::CreateUser, Command::Rotate, Command::Migrate] {
        let proxy = FaultProxy::start(moto);
        let s = command.fixture(&moto.url, &prefix("fmcover"));
        state::sesctl(&proxy, &command.args(&s)).assert_ok();
        let mut made: Vec<String> = proxy.actions();
        made.sort();
        made.dedup();
        for action in made {
            assert!(
                command.steps().iter().any(|st| st.proxy_action() == action),
                "{} calls {action}, which the matrix does not fail",
                command.name()
            );
        }
    }
    let fresh = Moto::dedicated();
    let proxy = FaultProxy::start(&fresh);
    state::sesctl(&proxy, &["setup".to_string()]).assert_ok();
    let mut made = proxy.actions();
    made.dedup();
    for action in made {
        assert!(
            SETUP.iter().any(|st| st.proxy_action() == action),
            "setup calls {action}"
        );
    }
}
