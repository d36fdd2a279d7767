//! The checks a regex match must pass before it is a finding: entropy, offline checksums and the
//! shared placeholder stop-list.

use crate::rules::Checksum;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use base64::Engine as _;

/// Shannon entropy in bits per byte. Percent-escapes count as the byte they stand for: `%20`
/// would otherwise make `pass%20word` look three characters more random than `pass word`.
pub fn entropy(bytes: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| hex_pair(bytes.get(i + 1..i + 3)?))
            .flatten();
        match escaped {
            Some(b) => {
                counts[usize::from(b)] += 1;
                i += 3;
            }
            None => {
                counts[usize::from(bytes[i])] += 1;
                i += 1;
            }
        }
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(pair).ok()?;
    u8::from_str_radix(text, 16).ok()
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
        Checksum::Basic => {
            let Ok(decoded) = STANDARD_PAD_INDIFFERENT.decode(token) else {
                return false;
            };
            let Some(colon) = decoded.iter().position(|&b| b == b':') else {
                return false;
            };
            let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
            !password.is_empty() && password != user && !is_placeholder(password)
        }
        Checksum::Nkey => is_nkey_seed(token),
    }
}

/// NKEY seed prefix bits (`S` in base32) and the key types a seed may be for (nkeys' prefix
/// bytes: operator, server, cluster, account, user, curve).
const NKEY_SEED: u8 = 18 << 3;
const NKEY_TYPES: [u8; 6] = [14 << 3, 13 << 3, 2 << 3, 0, 20 << 3, 23 << 3];

/// A 58-character NKEY seed whose prefix is a seed's and whose CRC-16 holds.
fn is_nkey_seed(token: &[u8]) -> bool {
    let Some(raw) = decode_base32::<36>(token) else {
        return false;
    };
    let kind = (raw[0] & 7) << 5 | (raw[1] & 0xf8) >> 3;
    let (body, check) = raw.split_at(34);
    raw[0] & 0xf8 == NKEY_SEED
        && NKEY_TYPES.contains(&kind)
        && crc16_xmodem(body) == u16::from_le_bytes([check[0], check[1]])
}

/// RFC 4648 base32 (upper case, no padding) of exactly `N` bytes.
fn decode_base32<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != (N * 8).div_ceil(5) {
        return None;
    }
    let mut out = [0u8; N];
    let (mut acc, mut bits, mut at) = (0u32, 0, 0);
    for &c in text {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5 | u32::from(value)) & 0xfff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(at)? = (acc >> bits) as u8;
            at += 1;
        }
    }
    (at == N).then_some(out)
}

/// CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection.
fn crc16_xmodem(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &byte| {
        (0..8).fold(crc ^ u16::from(byte) << 8, |crc, _| match crc & 0x8000 {
            0 => crc << 1,
            _ => crc << 1 ^ 0x1021,
        })
    })
}

fn decode_base62(digits: &[u8]) -> Option<u32> {
    let mut value: u64 = 0;
    for &d in digits {
        let digit = BASE62.iter().position(|&c| c == d)? as u64;
        value = value * 62 + digit;
    }
    u32::try_from(value).ok()
}

/// Words that mark a value as a placeholder, a reference or documentation, not a credential
/// (`/secrets/`: a secret manager's path, such as `projects/1/secrets/db/versions/2`).
const PLACEHOLDER_WORDS: [&[u8]; 18] = [
    b"password",
    b"passwd",
    b"/secrets/",
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
    b"${",
    b"{{",
    b"$(",
    b"...",
];

/// How base64 DER public keys (SubjectPublicKeyInfo) begin: RSA, EC P-256, EC P-384, Ed25519.
/// A public key is published on purpose; whatever name it is assigned to, it is not a secret.
const PUBLIC_KEY_PREFIXES: [&[u8]; 4] = [
    b"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A",
    b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
    b"MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE",
    b"MCowBQYDK2VwAyEA",
];

/// Example credentials printed in specifications and copied into countless docs and tests:
/// public since the day they were written, so never a leak. RFC 6749 (OAuth 2.0: access and
/// refresh token, code, client secret and its Basic header), RFC 5849 (OAuth 1.0 client and
/// token credentials), the signatures of jwt.io's and PyJWT's example tokens, and Stripe's
/// documentation test keys.
const DOCUMENTED_EXAMPLES: [&[u8]; 22] = [
    b"2YotnFZFEjr1zCsicMWpAA",
    b"tGzv3JOkF0XG5Qx2TlKWIA",
    b"SplxlOBeZQQYbYS6WxSbIA",
    b"gX1fBat3bV",
    b"czZCaGRSa3F0MzpnWDFmQmF0M2JW",
    b"dpf43f3p2l4k3l03",
    b"kd94hf93k423kf44",
    b"hh5s93j4hdidpola",
    b"hdhd0244k9j7ao03",
    b"nnch734d00sl2jdk",
    b"pfkkdhi9sl3r4s00",
    b"0685bd9184jfhq22",
    b"ad180jjd733klru7",
    b"9djdj82h48djs9d2",
    b"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    b"4twFt5NiznN84AWoo1d7KO1T_yoc0Z6XOpOVswacPZg",
    b"sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    b"pk_test_TYooMQauvdEDq54NiTphI7jx",
    // WunderGraph Cosmo's demo key and the wg(8) manual's example WireGuard key.
    b"cosmo_669b576aaadc10ee1ae81d9193425705",
    b"yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
    // The Azure Storage emulator's (Azurite's) published account key, and the NT hash of the
    // empty password (what a dump shows for an account without one).
    b"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw",
    b"31d6cfe0d16ae931b73c59d7e0c089c0",
];

/// Whether `secret` is not a credential after all: a stop-word (case-insensitive), too few
/// distinct bytes, a made-up sequence, a public key or a documented example.
pub fn is_placeholder(secret: &[u8]) -> bool {
    if PUBLIC_KEY_PREFIXES.iter().any(|p| secret.starts_with(p))
        || DOCUMENTED_EXAMPLES
            .iter()
            .any(|e| memchr::memmem::find(secret, e).is_some())
    {
        return true;
    }
    let mut seen = [false; 256];
    let mut distinct = 0;
    for &b in secret {
        if !seen[b as usize] {
            seen[b as usize] = true;
            distinct += 1;
        }
    }
    if distinct < 4 || is_sequential(secret) || is_encoded_placeholder(secret) {
        return true;
    }
    let lower = secret.to_ascii_lowercase();
    is_bracketed(secret)
        || PLACEHOLDER_WORDS
            .iter()
            .any(|word| memchr::memmem::find(&lower, word).is_some())
}

/// Whether a value is the base64 of a placeholder: a Kubernetes Secret's `data` holds every
/// value encoded, `changeme` as `Y2hhbmdlbWU=`. Only a single word counts: encoded structure
/// (Upstash's JSON of a user id and a password) is judged as the value it is.
fn is_encoded_placeholder(secret: &[u8]) -> bool {
    if secret.len() < 8 || secret.len() % 4 != 0 {
        return false;
    }
    let Ok(decoded) = STANDARD_PAD_INDIFFERENT.decode(secret) else {
        return false;
    };
    decoded
        .iter()
        .all(|&b| b.is_ascii_graphic() && !b"\":,".contains(&b))
        && is_placeholder(&decoded)
}

/// Whether a value holds a `<slot>` (or the start or end of one): documentation's way of
/// saying "put yours here". A lone `<` or `>` inside a random value (WordPress salts draw from
/// all of printable ASCII) is not one.
fn is_bracketed(secret: &[u8]) -> bool {
    let Some(open) = memchr::memchr(b'<', secret) else {
        return secret.ends_with(b">");
    };
    let slot = &secret[open + 1..];
    open == 0
        || memchr::memchr(b'>', slot).is_some()
        || slot
            .iter()
            .all(|&b| b.is_ascii_alphabetic() || b"_- ".contains(&b))
}

/// Whether a value is mostly runs like `abcd` or `1234` (documentation's made-up keys, such as
/// `AB1C2defGHijkLMNo3PqQRstUvwxyz`), also interleaved ones like `1a2b3c4d-5e6f-7a8b`: a third
/// or more of the pairs one or two bytes apart step by one. Random strings of any alphabet stay
/// far below that.
fn is_sequential(secret: &[u8]) -> bool {
    if secret.len() < 12 {
        return false;
    }
    let steps = |gap: usize| {
        secret
            .iter()
            .zip(&secret[gap..])
            .filter(|&(&a, &b)| {
                let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
                a.is_ascii_alphanumeric()
                    && b == a + 1
                    && (a.is_ascii_digit() == b.is_ascii_digit())
            })
            .count()
    };
    (1..=2).any(|gap| steps(gap) * 3 >= secret.len() - gap)
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
    fn nkey_checksum_accepts_seeds_and_rejects_altered_ones_and_public_keys() {
        assert_eq!(crc16_xmodem(b"123456789"), 0x31c3);
        // Fake seeds made with the published construction (prefix bytes, 32 random, CRC-16).
        let seed = b"SUAPRKJQF3QE3T4I652FH2RTKNXN6VJRA3SIWCGIL6N2JLSNQSQQ2R3ZDE"; // hush:allow (test seed)
        assert!(verify_checksum(Checksum::Nkey, seed));
        assert!(verify_checksum(
            Checksum::Nkey,
            b"SOAKJEPIC5ROYAXPL4NFB3CEL2PP5TTWVNA53W6O7QDJ4EN67ZWKRQKGS4" // hush:allow (test seed)
        ));
        let mut altered = *seed;
        altered[20] = if altered[20] == b'A' { b'B' } else { b'A' };
        assert!(!verify_checksum(Checksum::Nkey, &altered));
        assert!(!verify_checksum(Checksum::Nkey, &seed[..57]));
        assert!(!verify_checksum(Checksum::Nkey, &[b'S'; 58]));
        // A user's public key: 56 characters, no seed prefix.
        assert!(!verify_checksum(
            Checksum::Nkey,
            b"UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"
        ));
    }

    #[test]
    fn github_checksum_accepts_valid_and_rejects_altered_tokens() {
        // Generated with the published construction (CRC32 of the 30-char body, base62, 6 chars).
        let valid = b"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"; // hush:allow (test token)
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
            b"AB1C2defGHijkLMNo3PqQRstUvwxyzaBCDEfghh4ijklMN5opqrStuVWxyzAbCDEfghIJ",
            b"abcd1234defg5678",
            b"generatedwebdavpassword1",
            b"1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
            b"projects/123/secrets/db-password/versions/2",
            b"2YotnFZFEjr1zCsicMWpAA",
            b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzb21lIjoicGF5bG9hZCJ9.4twFt5NiznN84AWoo1d7KO1T_yoc0Z6XOpOVswacPZg",
            b"a1b2c3d4e5f6g7h8",
        ] {
            assert!(is_placeholder(p), "{}", String::from_utf8_lossy(p));
        }
        assert!(is_placeholder(
            b"MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="
        ));
        assert!(is_placeholder(b"sk-<your key here>"));
        assert!(is_placeholder(b"Y2hhbmdlbWU="));
        assert!(!is_placeholder(b"UXo4d04zdktwMkxt"));
        assert!(is_placeholder(b"ghp_<token"));
        assert!(!is_placeholder(b"f3K9xQ2mZ7vL1pR8sT4w"));
        assert!(!is_placeholder(
            b"mbg.5Afe6K[66OLcvN@#brkGZ>RR!{L5}vAF[7Dfds,<LGLEI5x"
        ));
        assert!(!is_placeholder(b"8e03978e-40d5-43e8-bc93-6894a57f9324"));
        assert!(!is_placeholder(
            b"f798ab4899346a88599180fee9e14fa1ada7b6df989425b7c6d2146dd6c815bb"
        ));
    }

    #[test]
    fn basic_credentials_need_a_real_password() {
        let basic = |text: &[u8]| verify_checksum(Checksum::Basic, text);
        // deploy:P#=q#MA2r.OaczBi
        assert!(basic(b"ZGVwbG95OlAjPXEjTUEyci5PYWN6Qmk="));
        for placeholder in [
            &b"dXNlcjpwYXNz"[..],        // user:pass
            b"dXNlcjo=",                 // user:
            b"dGVzdDp0ZXN0",             // test:test
            b"Zm9vOmJhcg==",             // foo:bar
            b"dXNlcm5hbWU6cGFzc3dvcmQ=", // username:password
            b"bm8tY29sb24taGVyZQ==",     // no-colon-here
            b"not base64!",
        ] {
            assert!(
                !basic(placeholder),
                "{}",
                String::from_utf8_lossy(placeholder)
            );
        }
    }

    #[test]
    fn percent_escapes_do_not_inflate_entropy() {
        assert!((entropy(b"pass%20word") - entropy(b"pass word")).abs() < 1e-9);
        assert!(entropy(b"100%") > 0.0);
    }
}
