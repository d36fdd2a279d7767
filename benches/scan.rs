//! Engine throughput on corpora generated here (deterministic): source-like text with a realistic
//! density of keywords and a few planted secrets, and the worst case of keyword hits on every line
//! with no secret to find.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hush::rules::RuleSet;
use hush::scan::Scanner;

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

fn bench(c: &mut Criterion) {
    let scanner = Scanner::new(&RuleSet::defaults().expect("rules")).expect("scanner");
    let mut group = c.benchmark_group("scan");
    for (name, data) in [
        ("source-like", corpus(16 << 20, 25, true)),
        ("keyword-every-line", corpus(16 << 20, 1, false)),
    ] {
        // Compile the regexes the corpus needs before timing.
        scanner.scan(&data);
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(name, |b| b.iter(|| scanner.scan(&data)));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
