//! `sesctl setup` against real services on loopback.
