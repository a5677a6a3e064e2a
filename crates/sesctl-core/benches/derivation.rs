//! Benchmarks of the SMTP password derivation and of its floor: one SHA-256 compression.
//!
//! The v4 derivation is five HMAC-SHA256 computations over short messages; each HMAC costs four
//! compressions (inner key block, inner message block, outer key block, outer message block), so 20
//! compressions is the floor any implementation pays. docs/benchmarks.md records the ratio.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sesctl_core::secret::Secret;
use sesctl_core::smtp_password::{smtp_password_v4, smtp_password_v4_bytes};

fn derivation(c: &mut Criterion) {
    let secret = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string());
    c.bench_function("smtp_password_v4 (raw 33 bytes)", |b| {
        b.iter(|| smtp_password_v4_bytes(black_box(secret.expose()), black_box("us-east-1")))
    });
    c.bench_function("smtp_password_v4 (base64 Secret)", |b| {
        b.iter(|| smtp_password_v4(black_box(&secret), black_box("us-east-1")))
    });
}

fn sha256_block(c: &mut Criterion) {
    use sha2::digest::generic_array::GenericArray;
    let block = GenericArray::clone_from_slice(&[0x5au8; 64]);
    let mut state: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ];
    c.bench_function("sha256 compression (one 64-byte block)", |b| {
        b.iter(|| {
            sha2::compress256(black_box(&mut state), std::slice::from_ref(black_box(&block)));
        })
    });
}

criterion_group!(benches, derivation, sha256_block);
criterion_main!(benches);
