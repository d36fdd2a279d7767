//! `Proxy-Authorization` checking for `--allow-remote`: `Bearer TOKEN`, or `Basic` with the token
//! as the password (any user name). Compared in constant time over SHA-256 digests, so neither the
//! content nor the length of the token leaks through timing.

use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use base64::Engine as _;
use sha2::{Digest, Sha256};

pub struct Token {
    digest: [u8; 32],
}

impl Token {
    pub fn new(token: &str) -> Token {
        Token {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether a `Proxy-Authorization` header value carries the token.
    pub fn accepts(&self, header: &[u8]) -> bool {
        let Some((scheme, rest)) = split_scheme(header) else {
            return false;
        };
        if scheme.eq_ignore_ascii_case(b"bearer") {
            self.matches(rest)
        } else if scheme.eq_ignore_ascii_case(b"basic") {
            let Ok(decoded) = STANDARD_PAD_INDIFFERENT.decode(rest) else {
                return false;
            };
            let password = match decoded.iter().position(|&b| b == b':') {
                Some(i) => &decoded[i + 1..],
                None => &decoded[..],
            };
            self.matches(password)
        } else {
            false
        }
    }

    fn matches(&self, candidate: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate).into();
        // Fold every byte difference so the time taken does not depend on where they differ.
        digest
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

fn split_scheme(header: &[u8]) -> Option<(&[u8], &[u8])> {
    let header = header.trim_ascii();
    let space = header.iter().position(|&b| b == b' ')?;
    Some((&header[..space], header[space + 1..].trim_ascii()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bearer_and_basic() {
        let t = Token::new("s3cret");
        assert!(t.accepts(b"Bearer s3cret"));
        assert!(t.accepts(b"bearer  s3cret "));
        assert!(t.accepts(b"Basic dXNlcjpzM2NyZXQ="));
        assert!(t.accepts(b"Basic OnMzY3JldA=="), ":s3cret, empty user");
        assert!(!t.accepts(b"Bearer s3cre"));
        assert!(!t.accepts(b"Bearer s3cret2"));
        assert!(!t.accepts(b"Basic dXNlcjp3cm9uZw=="));
        assert!(!t.accepts(b"Digest s3cret"));
        assert!(!t.accepts(b"s3cret"));
        assert!(!t.accepts(b""));
    }
}
