//! Engine throughput on corpora generated here (deterministic), through the same per-file path
//! every command uses (`Examiner::examine`): source-like text with a realistic density of
//! keywords and a few planted secrets, keyword hits on every line with no secret to find, and
//! the adversarial inputs of issue 11 (findings on every line or packed on one line, a private
//! key's BEGIN line repeated, `password=` repeated, every keyword on one line), which must stay
//! within a tenth of the source-like throughput.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hush::rules::RuleSet;
use hush::scan::{Allowlist, Scanner};
use hush::source::Examiner;

/// A small deterministic generator (xorshift), so runs compare like with like.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const CODE: &[&str] = &[
    "    let value = compute(input, &mut state)?;\n",
    "    for (index, item) in items.iter().enumerate() {\n",
    "        total += item.weight * factor;\n",
    "    }\n",
    "fn parse_header(bytes: &[u8]) -> Result<Header, Error> {\n",
    "    // Keep the buffer small: most requests fit in one read.\n",
    "import os, sys, json\n",
    "def handler(event, context):\n",
    "    return {\"statusCode\": 200, \"body\": json.dumps(result)}\n",
    "const config = require('./config');\n",
    "  \"version\": \"4.17.21\",\n",
    "  \"integrity\": \"sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17LhbZVGedAJv8XZ1tvj5FvSg==\",\n",
    "<div class=\"container\"><span>{{ title }}</span></div>\n",
];

/// Lines that carry keywords but no secret: what ordinary code is full of.
const KEYWORD_LINES: &[&str] = &[
    "    password = os.environ[\"DB_PASSWORD\"]\n",
    "    token = request.headers.get(\"Authorization\")\n",
    "    if secret_key is None: raise ValueError(\"missing secret\")\n",
    "    api_key: str = settings.API_KEY\n",
    "    url = \"https://api.example.com/v1/items\"\n",
    "    max_tokens = 2048\n",
];

fn corpus(size: usize, keyword_every: u64, plant: bool) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(size + 256);
    let token = ["ghp_UU2h7RsOIv020X", "EpWXEhWi955aBVsI0j08yS"].concat();
    let mut line = 0u64;
    while out.len() < size {
        line += 1;
        if plant && line % 20_000 == 0 {
            out.push_str(&format!("GITHUB_TOKEN = \"{token}\"\n"));
        } else if line % keyword_every == 0 {
            out.push_str(rng.pick(KEYWORD_LINES));
        } else {
            out.push_str(rng.pick(CODE));
        }
    }
    out.into_bytes()
}

/// `unit` repeated to `size` bytes.
fn repeated(unit: &str, size: usize) -> Vec<u8> {
    unit.as_bytes().iter().copied().cycle().take(size).collect()
}

/// Every keyword of every rule, space-separated, repeated on one line.
fn all_keywords(rules: &RuleSet, size: usize) -> Vec<u8> {
    let mut keywords: Vec<&str> = rules
        .rules
        .iter()
        .flat_map(|r| r.keywords.iter().map(String::as_str))
        .collect();
    keywords.sort_unstable();
    keywords.dedup();
    repeated(&format!("{} ", keywords.join(" ")), size)
}

/// `text` as UTF-16LE with a byte order mark, as Windows tools write it.
fn utf16le(text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let mut out = vec![0xff, 0xfe];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::defaults().expect("rules");
    let scanner = Scanner::new(&rules).expect("scanner");
    let allow = Allowlist::default();
    let examiner = Examiner {
        scanner: &scanner,
        allow: &allow,
    };
    let aws = ["AKIAZ7VLRD", "Q4HWMFNB5K"].concat();
    const MIB: usize = 1 << 20;
    let mut group = c.benchmark_group("scan");
    for (name, data) in [
        ("source-like", corpus(16 * MIB, 25, true)),
        ("keyword-every-line", corpus(16 * MIB, 1, false)),
        ("utf16le-source-like", utf16le(&corpus(8 * MIB, 25, true))),
        // Issue 11, items 1 and 2: each at most a tenth slower than source-like.
        (
            "aws-key-every-line",
            repeated(&format!("key = {aws}\n"), MIB),
        ),
        ("aws-keys-one-line", repeated(&format!("{aws} "), MIB)),
        (
            "private-key-begin-every-line",
            repeated("-----BEGIN RSA PRIVATE KEY-----\n", MIB),
        ),
        // A multi-line rule whose keyword sits below the block's start (Proc-Type).
        (
            "encrypted-pem-header-every-line",
            repeated(
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n",
                MIB,
            ),
        ),
        ("password-one-line", repeated("password=", MIB)),
        ("all-keywords-one-line", all_keywords(&rules, MIB)),
    ] {
        // Compile the regexes the corpus needs before timing.
        examiner.examine("bench", "bench", Some(&data), None);
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| examiner.examine("bench", "bench", Some(&data), None))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
