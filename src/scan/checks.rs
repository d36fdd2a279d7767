//! The checks a regex match must pass before it is a finding: entropy, offline checksums and the
//! shared placeholder stop-list.

use crate::rules::Checksum;

/// Shannon entropy in bits per byte.
pub fn entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Validates a token's built-in checksum offline. GitHub's and npm's tokens are `prefix_` + 30
/// base62 characters + the CRC32 of those 30, base62-encoded and zero-padded to 6 characters.
pub fn verify_checksum(kind: Checksum, token: &[u8]) -> bool {
    match kind {
        Checksum::Github | Checksum::Npm => {
            let Some(underscore) = token.iter().position(|&b| b == b'_') else {
                return false;
            };
            let rest = &token[underscore + 1..];
            if rest.len() != 36 {
                return false;
            }
            let (body, check) = rest.split_at(30);
            decode_base62(check) == Some(crc32fast::hash(body))
        }
    }
}

fn decode_base62(digits: &[u8]) -> Option<u32> {
    let mut value: u64 = 0;
    for &d in digits {
        let digit = BASE62.iter().position(|&c| c == d)? as u64;
        value = value * 62 + digit;
    }
    u32::try_from(value).ok()
}

/// Words that mark a value as a placeholder, a reference or documentation, not a credential.
const PLACEHOLDER_WORDS: [&[u8]; 17] = [
    b"example",
    b"placeholder",
    b"changeme",
    b"change_me",
    b"dummy",
    b"redacted",
    b"xxxx",
    b"****",
    b"your_",
    b"your-",
    b"yourkey",
    b"<",
    b">",
    b"${",
    b"{{",
    b"$(",
    b"...",
];

/// Whether `secret` is a placeholder: a stop-word (case-insensitive) or too few distinct bytes.
pub fn is_placeholder(secret: &[u8]) -> bool {
    let mut seen = [false; 256];
    let mut distinct = 0;
    for &b in secret {
        if !seen[b as usize] {
            seen[b as usize] = true;
            distinct += 1;
        }
    }
    if distinct < 4 {
        return true;
    }
    let lower = secret.to_ascii_lowercase();
    PLACEHOLDER_WORDS
        .iter()
        .any(|word| memchr::memmem::find(&lower, word).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_uniform_and_constant_input() {
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!((entropy(b"0123456789abcdef") - 4.0).abs() < 1e-9);
    }

    #[test]
    fn github_checksum_accepts_valid_and_rejects_altered_tokens() {
        // Generated with the published construction (CRC32 of the 30-char body, base62, 6 chars).
        let valid = b"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";
        assert!(verify_checksum(Checksum::Github, valid));
        let mut altered = valid.to_vec();
        altered[10] = b'Q';
        assert!(!verify_checksum(Checksum::Github, &altered));
        assert!(!verify_checksum(Checksum::Github, b"ghp_short"));
        assert!(!verify_checksum(
            Checksum::Npm,
            b"npm_no-underscore-free-chars-here!!!!!!!"
        ));
    }

    #[test]
    fn placeholders_are_recognised() {
        for p in [
            &b"AKIAIOSFODNN7EXAMPLE"[..],
            b"${API_TOKEN}",
            b"<your-key>",
            b"xxxxxxxxxxxxxxxx",
            b"{{ secrets.TOKEN }}",
            b"aaaaaaaaaaaa",
            b"ababababab",
            b"sk_live_...",
        ] {
            assert!(is_placeholder(p), "{}", String::from_utf8_lossy(p));
        }
        assert!(!is_placeholder(b"f3K9xQ2mZ7vL1pR8sT4w"));
    }
}
