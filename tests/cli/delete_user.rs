//! `sesctl delete-user` against real services on loopback.
