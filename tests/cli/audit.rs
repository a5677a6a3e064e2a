//! `sesctl audit` against real services on loopback.
