#!/usr/bin/env bash
# Runs benches/proxy.rs with tinyproxy beside hush in the same run, so every figure is measured
# against the same direct baseline: tunnel throughput, CONNECT set-up, idle-tunnel memory.
# Installs nothing: without tinyproxy on PATH it says so and measures hush alone.
# Usage: benches/compare-proxy.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."

peer_args=()
if command -v tinyproxy >/dev/null 2>&1; then
    work=$(mktemp -d)
    # A port in the dynamic range; tried until tinyproxy binds one.
    for _ in 1 2 3 4 5; do
        port=$((40000 + RANDOM % 20000))
        cat >"$work/tinyproxy.conf" <<EOF
Port $port
Listen 127.0.0.1
Timeout 600
MaxClients 12000
LogLevel Critical
LogFile "$work/tinyproxy.log"
PidFile "$work/tinyproxy.pid"
EOF
        tinyproxy -d -c "$work/tinyproxy.conf" &
        pid=$!
        trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
        # Wait for the port with a bounded number of tries; never a blind sleep.
        for _ in $(seq 1 100); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                break
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.02
        done
        if kill -0 "$pid" 2>/dev/null; then
            peer_args=(--peer "tinyproxy=127.0.0.1:$port,$pid")
            echo "# tinyproxy $(tinyproxy -v 2>&1 | awk '{print $2}') on 127.0.0.1:$port (pid $pid)"
            break
        fi
    done
    [ ${#peer_args[@]} -gt 0 ] || echo "# tinyproxy did not start; measuring hush alone" >&2
else
    echo "# tinyproxy not installed (e.g. apt-get install tinyproxy); measuring hush alone" >&2
fi

cargo bench --locked --bench proxy -- "${peer_args[@]}" "$@"
