#!/usr/bin/env bash
# Generates the git benchmark repositories, deterministically (same SEED, same repositories):
#   OUT/files-100k    one commit of 100,000 files in 1,000 directories, checked out
#   OUT/commits-50k   50,000 commits, each changing 1-3 of 2,000 files, with planted secrets
#                     (GitHub tokens with valid checksums, AWS key ids), some later removed
#   OUT/index-1m      one commit of 1,000,000 files (10,000 directories), not checked out: the
#                     index alone is what `hush staged` reads (only with INDEX_1M=1: ~1 minute)
# Both are written with `git fast-import`, so generation takes seconds, not hours.
# Usage: benches/gen-repos.sh [OUT_DIR]   (default: target/bench-repos; SEED=42, COMMITS=50000)
# ONLY=commits (or ONLY=files) generates that one repository alone: the history scaling table
# (results-git.md) runs COMMITS=10000, 50000 and 200000 with ONLY=commits into separate OUT_DIRs.
set -euo pipefail

OUT=${1:-target/bench-repos}
SEED=${SEED:-42}
COMMITS=${COMMITS:-50000}
FILES=${FILES:-100000}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

generate() { # generate KIND: writes a fast-import stream on stdout
    python3 - "$1" "$SEED" "$COMMITS" "$FILES" <<'PY'
import random, sys, zlib

kind, seed, commits, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
out = sys.stdout.buffer
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WORDS = ("alpha beta gamma delta value count index buffer result config request handler "
         "session cache client server parse render update status record stream").split()

def b62(n, width):
    s = ""
    while n:
        s, n = B62[n % 62] + s, n // 62
    return s.rjust(width, "0")

def github_token():
    body = "".join(rng.choice(B62) for _ in range(30))
    return "ghp_" + body + b62(zlib.crc32(body.encode()), 6)

def aws_key():
    return "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))

def code_line():
    w = rng.sample(WORDS, 3)
    return f"    {w[0]}_{w[1]} = compute_{w[2]}({rng.randrange(1000)})\n"

def data(text):
    raw = text.encode()
    out.write(b"data %d\n" % len(raw))
    out.write(raw)
    out.write(b"\n")

def commit(n, when, author, message, changes):
    out.write(b"commit refs/heads/main\n")
    out.write(f"author {author} {when} +0000\n".encode())
    out.write(f"committer {author} {when} +0000\n".encode())
    data(message)
    for path, text in changes:
        if text is None:
            out.write(f"D {path}\n".encode())
        else:
            out.write(f"M 100644 inline {path}\n".encode())
            data(text)

AUTHORS = [f"Dev {i} <dev{i}@example.com>" for i in range(20)]
START = 1_500_000_000

if kind == "index":
    # 1,000,000 paths sharing 100 small blobs: the index and the trees are what is measured.
    for b in range(100):
        out.write(b"blob\nmark :%d\n" % (b + 1))
        data(f"# shared content {b}\nvalue = {b}\n")
    out.write(b"commit refs/heads/main\n")
    out.write(f"author {AUTHORS[0]} {START} +0000\ncommitter {AUTHORS[0]} {START} +0000\n".encode())
    data("Generated index\n")
    for i in range(files):
        out.write(f"M 100644 :{i % 100 + 1} d{i // 1000:03d}/s{i // 100 % 10}/f{i % 100:02d}.txt\n".encode())
elif kind == "files":
    changes = []
    per_dir = 100
    for i in range(files):
        d = i // per_dir
        path = f"src/m{d // 10:03d}/p{d % 10}/file{i % per_dir:03d}.py"
        body = f"# {path}\ndef f{i}():\n" + "".join(code_line() for _ in range(8))
        changes.append((path, body))
    commit(1, START, AUTHORS[0], "Generated tree\n", changes)
else:
    pool = [f"pkg{d:02d}/mod{i:03d}.py" for d in range(40) for i in range(50)]
    state = {}
    planted = []
    for n in range(commits):
        when = START + n * 600
        author = AUTHORS[rng.randrange(len(AUTHORS))]
        changes = []
        for path in rng.sample(pool, rng.randint(1, 3)):
            lines = state.get(path) or [f"# {path}\n"] + [code_line() for _ in range(20)]
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(1, len(lines) + 1)
                if len(lines) > 40 and rng.random() < 0.5:
                    del lines[min(at, len(lines) - 1)]
                else:
                    lines.insert(at, code_line())
            state[path] = lines
            changes.append((path, "".join(lines)))
        if n % 500 == 250:
            path = rng.choice(pool)
            lines = state.get(path) or [f"# {path}\n"]
            secret = github_token() if rng.random() < 0.5 else aws_key()
            lines.insert(1, f'API_KEY = "{secret}"\n')
            state[path] = lines
            planted.append(path)
            changes = [c for c in changes if c[0] != path] + [(path, "".join(lines))]
        elif n % 500 == 400 and planted and rng.random() < 0.5:
            path = planted.pop()
            lines = [l for l in state[path] if not l.startswith("API_KEY")]
            state[path] = lines
            changes = [c for c in changes if c[0] != path] + [(path, "".join(lines))]
        commit(n + 1, when, author, f"Change {n + 1}\n", changes)
PY
}

make_repo() { # make_repo NAME KIND [FILES]
    local dir="$OUT/$1"
    rm -rf "$dir"
    git init -q --initial-branch=main "$dir"
    FILES=${3:-$FILES} generate "$2" | git -C "$dir" fast-import --quiet
}

ONLY=${ONLY:-}
repos=""
if [ "$ONLY" != commits ]; then
    echo "gen-repos: files-100k ($FILES files) ..." >&2
    make_repo files-100k files
    git -C "$OUT/files-100k" checkout -q -f main
    git -C "$OUT/files-100k" config user.name bench
    git -C "$OUT/files-100k" config user.email bench@example.com
    repos="files-100k"
fi

if [ "$ONLY" != files ]; then
    echo "gen-repos: commits-50k ($COMMITS commits) ..." >&2
    make_repo commits-50k commits
    git -C "$OUT/commits-50k" checkout -q -f main
    # As a real clone would be: one pack with deltas, and a commit-graph.
    git -C "$OUT/commits-50k" gc -q
    git -C "$OUT/commits-50k" commit-graph write --reachable
    repos="$repos commits-50k"
fi

if [ "${INDEX_1M:-0}" = 1 ]; then
    echo "gen-repos: index-1m (1,000,000 index entries) ..." >&2
    make_repo index-1m index 1000000
    git -C "$OUT/index-1m" read-tree main
    repos="$repos index-1m"
fi

for repo in $repos; do
    printf 'gen-repos: %s: %s files at HEAD, %s commits, %s\n' "$repo" \
        "$(git -C "$OUT/$repo" ls-files | wc -l)" \
        "$(git -C "$OUT/$repo" rev-list --count HEAD)" \
        "$(du -sh "$OUT/$repo/.git" | cut -f1) in .git" >&2
done
