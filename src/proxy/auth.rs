//! `Proxy-Authorization` checking for `--allow-remote`: `Bearer TOKEN`, or `Basic` with the token
//! as the password (any user name). Compared in constant time over SHA-256 digests, so neither the
//! content nor the length of the token leaks through timing.

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
            let Some(decoded) = base64_decode(rest) else {
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

/// Standard base64 with optional padding; `None` on anything malformed.
fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let input = input
        .strip_suffix(b"==")
        .or_else(|| input.strip_suffix(b"="))
        .unwrap_or(input);
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // Six leftover bits cannot come from whole bytes.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode(b"dXNlcjpzM2NyZXQ=").unwrap(), b"user:s3cret");
        assert_eq!(base64_decode(b"YQ==").unwrap(), b"a");
        assert_eq!(base64_decode(b"YWI").unwrap(), b"ab");
        assert!(base64_decode(b"Y").is_none());
        assert!(base64_decode(b"a b").is_none());
    }

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
