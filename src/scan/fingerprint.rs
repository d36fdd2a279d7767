//! Fingerprints: stable ids for findings that are safe to commit (baselines, `.hushignore`).
//! Derived from the rule, the path and a SHA-256 of the secret, never from the plain secret, so
//! they survive line moves and re-runs but reveal nothing.

use sha2::{Digest, Sha256};

/// `hex(SHA-256(rule_id NUL path NUL SHA-256(secret)))`, truncated to 32 hex digits (128 bits).
pub fn fingerprint(rule_id: &str, path: &str, secret: &[u8]) -> String {
    let secret_hash = Sha256::digest(secret);
    let mut hasher = Sha256::new();
    hasher.update(rule_id.as_bytes());
    hasher.update([0]);
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(secret_hash);
    hex(&hasher.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_sensitive_to_each_input() {
        let base = fingerprint("r", "a.py", b"s3cr3t");
        assert_eq!(base, fingerprint("r", "a.py", b"s3cr3t"));
        assert_eq!(base.len(), 32);
        assert_ne!(base, fingerprint("q", "a.py", b"s3cr3t"));
        assert_ne!(base, fingerprint("r", "b.py", b"s3cr3t"));
        assert_ne!(base, fingerprint("r", "a.py", b"s3cr3T"));
        assert!(!base.contains("s3cr3t"));
    }
}
