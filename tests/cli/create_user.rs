//! `sesctl create-user` against real services on loopback.
