#!/usr/bin/env bash
# Adds 100 commits on top of master in the bare repository $1 (one new file each; commit 50
# also adds a GitHub token with a valid checksum), with git fast-import.
set -euo pipefail
repo=$1
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
python3 - <<'PY' | git --git-dir="$repo" fast-import --quiet
import sys, zlib
B = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
def token(body):
    c = zlib.crc32(body.encode()); s = ""
    for _ in range(6):
        s = B[c % 62] + s; c //= 62
    return "ghp_" + body + s
out = sys.stdout
for i in range(100):
    when = 1_800_000_000 + i * 60
    out.write("commit refs/heads/master\n")
    out.write(f"author Bench <bench@example.com> {when} +0000\n")
    out.write(f"committer Bench <bench@example.com> {when} +0000\n")
    msg = f"bench commit {i}\n"
    out.write(f"data {len(msg)}\n{msg}\n")
    if i == 0:
        out.write("from refs/heads/master^0\n")
    text = f"line {i}\n" * 20
    if i == 50:
        text += f'TOKEN = "{token("Q" + "x7Rb2" * 5 + "mNpq")}"\n'
    out.write(f"M 100644 inline bench/new-{i}.txt\ndata {len(text)}\n{text}\n")
PY
