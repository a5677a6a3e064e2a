//! sesctl-core: everything sesctl does, without a terminal.
//!
//! The command-line tool (`sesctl`) and the Secrets Manager rotation function are front ends over
//! this library. Nothing here parses a command line, prompts, draws progress or writes to stdout or
//! stderr: workflows take their settings as plain values, report through hooks, and return reports
//! and errors for the front end to render.
//!
//! Layers, each depending only on the ones after it:
//! `workflows` (plans and their execution) and `rotation` (Secrets Manager's four rotation steps) →
//! {`smtp_password` (pure derivation), `aws` (the only SDK user), `smtp` (login checks)} → the
//! leaves `secret`, `regions`, `policy`, `validate`, `text`.

pub mod aws;
pub mod credential;
pub mod interrupt;
pub mod policy;
pub mod regions;
pub mod rotation;
pub mod secret;
pub mod smtp;
pub mod smtp_password;
pub mod text;
pub mod validate;
pub mod vocabulary;
pub mod workflows;
