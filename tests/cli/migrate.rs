//! `sesctl migrate` against real services on loopback.
