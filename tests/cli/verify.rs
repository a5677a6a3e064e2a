//! `sesctl verify` against real services on loopback.
