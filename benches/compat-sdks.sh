#!/usr/bin/env bash
# Real telemetry SDKs behind `hush proxy`, offline: do they keep working, and does anything reach
# the vendor? Each SDK runs at its default endpoint inside a network namespace that has only
# loopback, with the proxy variables pointing at a fresh hush proxy per case, in two modes:
#   ca      a fresh hush CA (`hush ca init`), trusted through a bundle of certifi's roots + the CA;
#   no-ca   no CA: interception off, as for a user who never ran `hush ca init`;
# and a control, reported only:
#   direct  no proxy; the SDK's host is pointed at a loopback stub that answers success
#           (benches/compat/stub.py): the SDK's own floor for flush and exit time.
# Then it reads each case's audit log and prints a Markdown table (benches/compat/report.py).
# Exit 0 when every `ca` row and every probe (requests, curl: a GET that must go through hush)
# meets its target, 1 otherwise, 2 when it cannot run (needs root for `unshare -n`). Installs the pinned SDKs (benches/compat/requirements.txt) into a scratch venv.
#
# Usage: benches/compat-sdks.sh [--modes direct,ca,no-ca] [--sdks sentry,segment,...] [--timeout SECS]
# Environment: HUSH (binary, default target/release/hush), COMPAT_VENV (default
# ${TMPDIR:-/tmp}/hush-compat-venv, reused when its pins match), PYTHON (default python3).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
compat="$root/benches/compat"
all_sdks=sentry,segment,mixpanel,amplitude,posthog,requests,curl
probes=" requests curl " # they test hush itself, so the direct control has nothing to say for them
port=18080 # the namespace is private, so fixed ports cannot collide
stub_port=18443

die() {
    echo "compat-sdks: $*" >&2
    exit 2
}

# Marks every case of a mode as skipped, with the reason; the other modes still run.
skip_mode() {
    local work=$1 mode=$2 sdks=$3 why=$4 sdk
    for sdk in ${sdks//,/ }; do
        echo "skipped: $why" >"$work/$mode.$sdk.status"
    done
}

# Inside the namespace: one case per (mode, SDK), each with its own proxy and audit log.
inside() {
    local work=$1 modes=$2 sdks=$3 timeout=$4
    local venv_py=$5 hush=$6
    local proxy_url="http://127.0.0.1:$port"
    local mode sdk
    : >"$work/empty.toml"
    for mode in ${modes//,/ }; do
        local data="$work/$mode-data" bundle=""
        mkdir -p "$data"
        if [ "$mode" = direct ]; then
            bundle="$work/stub-cert.pem"
            if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
                -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
                -keyout "$work/stub-key.pem" -out "$bundle" >"$work/stub-cert.log" 2>&1; then
                skip_mode "$work" "$mode" "$sdks" "openssl: $(tail -n 1 "$work/stub-cert.log")"
                continue
            fi
        elif [ "$mode" = ca ]; then
            if ! "$hush" ca path --help >/dev/null 2>&1; then
                skip_mode "$work" "$mode" "$sdks" "this hush has no 'ca' command"
                continue
            fi
            local cert=""
            if ! XDG_DATA_HOME="$data" "$hush" ca init >"$work/ca-init.log" 2>&1 ||
                ! cert=$(XDG_DATA_HOME="$data" "$hush" ca path 2>>"$work/ca-init.log"); then
                skip_mode "$work" "$mode" "$sdks" "hush ca: $(tail -n 1 "$work/ca-init.log")"
                continue
            fi
            bundle="$work/ca-bundle.pem"
            # REQUESTS_CA_BUNDLE and SSL_CERT_FILE replace the default roots, so keep certifi's.
            cat "$("$venv_py" -c 'import certifi; print(certifi.where())')" "$cert" >"$bundle"
        fi
        for sdk in ${sdks//,/ }; do
            run_case "$work" "$mode" "$sdk" "$timeout" "$venv_py" "$hush" "$data" "$bundle" "$proxy_url"
        done
    done
}

run_case() {
    local work=$1 mode=$2 sdk=$3 timeout=$4 venv_py=$5 hush=$6 data=$7 bundle=$8 proxy_url=$9
    local base="$work/$mode.$sdk" dir="$work/$mode.$sdk.d" listen=$port
    local -a route=(HTTPS_PROXY="$proxy_url" https_proxy="$proxy_url" HTTP_PROXY="$proxy_url"
        http_proxy="$proxy_url")
    mkdir -p "$dir"
    if [ "$mode" = direct ]; then
        if [[ $probes == *" $sdk "* ]]; then
            echo "skipped: a probe of hush, not of an SDK" >"$base.status"
            return
        fi
        listen=$stub_port
        route=(COMPAT_DIRECT_URL="https://127.0.0.1:$stub_port")
        "$venv_py" "$compat/stub.py" "$stub_port" "$bundle" "$work/stub-key.pem" \
            "$base.stub.jsonl" >"$base.proxy.log" 2>&1 &
    else
        # The proxy runs with a clean environment for what changes its policy: no telemetry
        # opt-in, no extra upstream roots, its own data dir (a CA in the user's home is never used).
        (cd "$dir" && exec env -u ENABLE_TELEMETRY -u DO_NOT_TRACK -u SSL_CERT_FILE \
            -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy -u ALL_PROXY -u all_proxy \
            XDG_DATA_HOME="$data" "$hush" proxy --listen "127.0.0.1:$port" \
            --config "$work/empty.toml" --audit-log "$base.audit.jsonl") >"$base.proxy.log" 2>&1 &
    fi
    local pid=$! up=""
    for _ in $(seq 1 400); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$listen") 2>/dev/null; then
            up=1
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.025
    done
    if [ -z "$up" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        echo "skipped: the server did not start ($(tail -n 1 "$base.proxy.log"))" >"$base.status"
        return
    fi

    local -a trust=()
    if [ -n "$bundle" ]; then
        trust=(REQUESTS_CA_BUNDLE="$bundle" SSL_CERT_FILE="$bundle" CURL_CA_BUNDLE="$bundle")
    fi
    local rc=0
    (cd "$dir" && exec env -u ENABLE_TELEMETRY -u DO_NOT_TRACK -u NO_PROXY -u no_proxy \
        -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy -u ALL_PROXY -u all_proxy \
        -u REQUESTS_CA_BUNDLE -u SSL_CERT_FILE -u CURL_CA_BUNDLE \
        "${route[@]}" "${trust[@]}" PYTHONPATH="$compat" PYTHONDONTWRITEBYTECODE=1 COMPAT_RESULT="$base.json" \
        timeout -k 5 "$timeout" "$venv_py" "$compat/drive_$sdk.py") >"$base.driver.log" 2>&1 || rc=$?
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo timeout >"$base.status"
    else
        echo "ran $rc" >"$base.status"
    fi

    # SIGTERM: hush drains and exits, the stub exits; bounded wait, then KILL.
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    local server_rc=0
    wait "$pid" 2>/dev/null || server_rc=$?
    echo "$server_rc" >"$base.server-rc"
}

if [ "${1:-}" = --inside ]; then
    shift
    inside "$@"
    exit 0
fi

modes=direct,ca,no-ca
sdks=$all_sdks
timeout=60
while [ $# -gt 0 ]; do
    case $1 in
    --modes) modes=${2:?}; shift 2 ;;
    --sdks) sdks=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for mode in ${modes//,/ }; do
    case $mode in direct | ca | no-ca) ;; *) die "unknown mode '$mode' (direct, ca, no-ca)" ;; esac
done
for sdk in ${sdks//,/ }; do
    [ -f "$compat/drive_$sdk.py" ] || die "unknown SDK '$sdk' (one of $all_sdks)"
done
case $timeout in '' | *[!0-9]*) die "--timeout takes whole seconds" ;; esac

[ "$(id -u)" = 0 ] || die "needs root: every case runs in its own network namespace (unshare -n)"
unshare -n true 2>/dev/null || die "unshare -n failed: this system does not allow network namespaces"
hush=${HUSH:-$root/target/release/hush}
[ -x "$hush" ] || die "no hush binary at $hush (cargo build --release, or set HUSH)"
hush=$(cd "$(dirname "$hush")" && pwd)/$(basename "$hush")
command -v curl >/dev/null 2>&1 || die "curl is needed for the curl probe"
command -v openssl >/dev/null 2>&1 || die "openssl is needed for the direct control's certificate"

venv=${COMPAT_VENV:-${TMPDIR:-/tmp}/hush-compat-venv}
pins=$(sha256sum "$compat/requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$venv/.hush-compat-pins" 2>/dev/null)" != "$pins" ]; then
    echo "# installing the pinned SDKs into $venv" >&2
    [ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv" || die "cannot create a venv at $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$compat/requirements.txt" ||
        die "pip install into $venv failed"
    echo "$pins" >"$venv/.hush-compat-pins"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hush-compat.XXXXXX")
echo "# hush: $("$hush" --version 2>/dev/null || echo '?') ($hush); python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'); work dir $work" >&2
unshare -n sh -c 'ip link set lo up && exec bash "$@"' sh "$0" --inside \
    "$work" "$modes" "$sdks" "$timeout" "$venv/bin/python" "$hush" ||
    die "the namespaced run failed (logs in $work)"
rc=0
"$venv/bin/python" "$compat/report.py" "$work" "$modes" "$sdks" "$timeout" || rc=$?
echo "# logs: $work (per case: .audit.jsonl, .driver.log, .proxy.log)" >&2
exit "$rc"
