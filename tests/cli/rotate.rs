//! `sesctl rotate` against real services on loopback.
