//! An operator's request to stop (Ctrl-C, SIGTERM), as the workflows see it.
//!
//! A front end that handles signals calls [`request`] on the first one; workflows call [`check`] at
//! the points where they would start a new step that changes something, and treat an interruption
//! like a failure of that step: they undo what the run did (or say exactly what is left). A call in
//! flight is never abandoned half-way, because its answer decides what there is to undo. Front ends
//! that never call [`request`] (the rotation function) see no interruption.

use std::fmt;
use std::sync::atomic::{AtomicI32, Ordering};

static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Records that the operator asked to stop, with the signal's number (2 for SIGINT, 15 for SIGTERM).
pub fn request(signal: i32) {
    SIGNAL.store(signal, Ordering::SeqCst);
}

/// The signal that asked this run to stop, if one did.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The interruption, as an error a workflow returns from [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl Interrupted {
    pub fn signal_name(self) -> &'static str {
        match self.0 {
            2 => "SIGINT",
            15 => "SIGTERM",
            1 => "SIGHUP",
            _ => "a signal",
        }
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interrupted ({})", self.signal_name())
    }
}

impl std::error::Error for Interrupted {}

/// `Err` once the operator asked to stop: call before starting a step that changes something.
pub fn check() -> Result<(), Interrupted> {
    match requested() {
        None => Ok(()),
        Some(s) => Err(Interrupted(s)),
    }
}
