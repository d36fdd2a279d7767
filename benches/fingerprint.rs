//! What a fingerprint and an allow-entry check cost per finding: one Argon2id derivation at the
//! parameters hush uses (uncached, as for every distinct secret), a cached repeat (the same
//! secret met again, e.g. in each later version of a file in `history`), and hush 0.1's
//! unsalted SHA-256, the cost an attacker paid per guess before.

use criterion::{criterion_group, criterion_main, Criterion};
use hush::scan::fingerprint::{self, argon2id, Entry, PARAMS};

fn derivation(c: &mut Criterion) {
    let mut group = c.benchmark_group("fingerprint");
    let mut counter = 0u64;
    group.bench_function("argon2id (one distinct finding)", |b| {
        b.iter(|| {
            counter += 1;
            argon2id(&counter.to_le_bytes(), &[7; 16], PARAMS)
        })
    });
    group.bench_function("fingerprint, cached repeat", |b| {
        b.iter(|| fingerprint::fingerprint("generic-password", "src/db.py", b"Summer2024!"))
    });
    let entry = Entry::new("generic-password", b"Summer2024!").expect("random source");
    group.bench_function("entry check, cached repeat", |b| {
        b.iter(|| entry.matches("generic-password", b"Summer2024!"))
    });
    group.bench_function("hush 0.1 legacy sha-256 (per guess before)", |b| {
        b.iter(|| fingerprint::legacy_fingerprint("generic-password", b"src/db.py", b"Summer2024!"))
    });
    group.finish();
}

criterion_group!(benches, derivation);
criterion_main!(benches);
