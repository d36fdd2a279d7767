#!/usr/bin/env bash
# Real telemetry SDKs against hush's local answers, over plain http:// (no CA needed): each SDK
# is pointed at its vendor's host through http_proxy/HTTP_PROXY and must finish without an
# exception, a logged error or a retry, in under a second. Runs inside a network namespace that
# has only loopback (`unshare -n`, needs root), so nothing can reach a vendor whatever happens.
# Installs nothing: SDKs missing from the venv are skipped with a message. To prepare one:
#   python3 -m venv /tmp/answers-venv && /tmp/answers-venv/bin/pip install sentry-sdk \
#     segment-analytics-python mixpanel amplitude-analytics posthog bugsnag applicationinsights
# Usage: benches/telemetry-answers.sh   Env: HUSH (default target/debug/hush), SDK_PYTHON
# (default /tmp/answers-venv/bin/python).
# Prints one row per SDK: result, requests hush answered (each counted once: a retry shows as
# more than expected), wall time of send + flush, and the log lines at WARNING or above.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HUSH=${HUSH:-$ROOT/target/debug/hush}
PY=${SDK_PYTHON:-/tmp/answers-venv/bin/python}
[ -x "$HUSH" ] || { echo "no hush at $HUSH: run 'cargo build' first" >&2; exit 2; }
[ -x "$PY" ] || { echo "no python at $PY: see the header for preparing a venv" >&2; exit 2; }
command -v unshare >/dev/null || { echo "unshare not found" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/sdks.py" <<'PY'
import io, json, logging, sys, time, warnings

warnings.simplefilter("ignore", DeprecationWarning)

log = io.StringIO()
logging.basicConfig(stream=log, level=logging.WARNING)
start = None

def mark():
    """Starts the clock once the SDK is imported: import time is not the proxy's."""
    global start
    start = time.monotonic()

def sentry():
    import sentry_sdk
    mark()
    sentry_sdk.init(dsn="http://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/1")
    sentry_sdk.capture_message("hush compat")
    sentry_sdk.flush(timeout=5)
    return "sentry", 1

def segment():
    import segment.analytics as analytics
    mark()
    analytics.write_key = "compat-key"
    analytics.host = "http://api.segment.io"
    analytics.sync_mode = True
    analytics.track("user", "compat")
    analytics.flush()
    return "segment", 1

def mixpanel():
    from mixpanel import Mixpanel, Consumer
    mark()
    mp = Mixpanel("compat-token", consumer=Consumer(events_url="http://api.mixpanel.com/track",
                                                     people_url="http://api.mixpanel.com/engage"))
    mp.track("user", "compat")  # raises MixpanelException unless the answer is {"status": 1}
    mp.people_set("user", {"a": 1})
    return "mixpanel", 2

def amplitude():
    from amplitude import Amplitude, BaseEvent, Config
    mark()
    codes = []  # the callback runs once per event sent, with the status the SDK read
    def callback(event, code, message=None):
        codes.append((code, message))
    client = Amplitude("compat-key", Config(server_url="http://api2.amplitude.com/2/httpapi",
                                            callback=callback))
    client.track(BaseEvent(event_type="compat", user_id="user"))
    client.flush()
    client.shutdown()
    if [c for c, _ in codes] != [200]:
        raise RuntimeError(f"amplitude callback: {codes}")
    return "amplitude", 1

def posthog():
    from posthog import Posthog
    mark()
    ph = Posthog("phc_compat", host="http://us.i.posthog.com", max_retries=0)
    ph.capture("compat", distinct_id="user")
    flag = ph.get_feature_flag("some-flag", "user")  # /flags: "no flags", not an error
    if flag is not None:
        raise RuntimeError(f"flag {flag!r}")
    ph.flush()
    ph.shutdown()
    return "posthog", 2

def bugsnag():
    import bugsnag
    mark()
    bugsnag.configure(api_key="0123456789abcdef0123456789abcdef", asynchronous=False,
                      endpoint="http://notify.bugsnag.com", auto_capture_sessions=False)
    bugsnag.notify(Exception("hush compat"))
    return "bugsnag", 1

def applicationinsights():
    from applicationinsights import TelemetryClient, channel
    mark()
    sender = channel.SynchronousSender("http://dc.services.visualstudio.com/v2/track")
    tc = TelemetryClient("00000000-0000-0000-0000-000000000000",
                         channel.TelemetryChannel(None, channel.SynchronousQueue(sender)))
    tc.track_event("compat")
    tc.flush()
    if tc.channel.queue._queue.qsize():
        raise RuntimeError("events left in the queue (the send failed)")
    return "microsoft-application-insights", 1

name = sys.argv[1]
try:
    vendor, expected = globals()[name]()
    result = "ok"
except ModuleNotFoundError as e:
    print(json.dumps({"skip": str(e)}))
    sys.exit(0)
except Exception as e:  # the point is to report any of them
    vendor, expected, result = name, None, f"{type(e).__name__}: {e}"
elapsed = time.monotonic() - (start or time.monotonic())
warnings = [l for l in log.getvalue().splitlines() if l.strip()]
print(json.dumps({"vendor": vendor, "expected": expected, "result": result,
                  "seconds": round(elapsed, 3), "warnings": warnings}))
PY

cat >"$WORK/run.sh" <<'SH'
set -eu
ip link set lo up
"$HUSH" proxy --listen 127.0.0.1:0 --config /dev/null --audit-log "$WORK/audit.log" \
    2>"$WORK/proxy.err" &
proxy=$!
trap 'kill $proxy 2>/dev/null || true' EXIT
addr=""
for _ in $(seq 1 200); do
    addr=$(sed -n 's/^hush proxy: listening on //p' "$WORK/proxy.err")
    [ -n "$addr" ] && break
    sleep 0.02
done
[ -n "$addr" ] || { echo "proxy did not start" >&2; exit 2; }
export http_proxy="http://$addr" HTTP_PROXY="http://$addr" NO_PROXY="" no_proxy=""
unset https_proxy HTTPS_PROXY ALL_PROXY all_proxy ENABLE_TELEMETRY DO_NOT_TRACK
printf '%-32s %-6s %9s %8s %s\n' sdk result answered seconds warnings
for sdk in sentry segment mixpanel amplitude posthog bugsnag applicationinsights; do
    : >"$WORK/audit.log"
    out=$("$PY" "$WORK/sdks.py" "$sdk")
    case "$out" in *'"skip"'*) echo "# $sdk: not installed, skipped"; continue;; esac
    "$PY" - "$out" "$WORK/audit.log" <<'PY'
import json, sys
row = json.loads(sys.argv[1])
records = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
answered = sum(1 for r in records if r.get("vendor") == row["vendor"])
other = [r for r in records if r.get("decision") != "telemetry-blocked"]
ok = (row["result"] == "ok" and not row["warnings"] and not other
      and answered == row["expected"] and row["seconds"] < 1)
print(f'{row["vendor"]:<32} {"pass" if ok else "FAIL":<6} {answered:>4} of {row["expected"]!s:<2} '
      f'{row["seconds"]:>8} {len(row["warnings"])}'
      + ("" if ok else f'  {row["result"]} {row["warnings"][:2]} {[r.get("decision") for r in other]}'))
PY
done
SH
HUSH=$HUSH PY=$PY WORK=$WORK unshare -n sh "$WORK/run.sh"
