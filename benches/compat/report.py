"""Turns the compat run's results into a Markdown table and an exit code.

Usage: report.py DIR MODES SDKS TIMEOUT. DIR holds, per case `<mode>.<sdk>`: `.json` (the driver's
result, absent when it was killed), `.audit.jsonl` (hush's audit log for that case alone) and
`.status` (what the shell saw: `ran <exit code>`, `timeout`, or `skipped: <why>`); in the `direct`
control, `.stub.jsonl` (one line per request the stub answered) instead of the audit log.
Exit 0 when every `ca` row and every probe row meets its target, 1 otherwise; `no-ca` SDK rows
and the `direct` control are reported only.
"""

import json
import os
import sys
from collections import Counter

# Where each SDK sends by default; any subdomain counts. The probes' host is not telemetry.
VENDOR_DOMAINS = {
    "sentry": ["sentry.io"],
    "segment": ["segment.io", "segment.com", "segmentapis.com"],
    "mixpanel": ["mixpanel.com"],
    "amplitude": ["amplitude.com"],
    "posthog": ["posthog.com"],
    "requests": ["example.com"],
    "curl": ["example.com"],
}
PROBES = {"requests", "curl"}
# Decisions that did not let the client's bytes go on toward the vendor. Everything else (tunnel,
# forward, upgrade, and error: a tunnel or forward that hush allowed but that could not reach the
# vendor inside the namespace) counts as a vendor connection. `intercept` is the CONNECT record of
# an intercepted tunnel: the requests inside it have records of their own; `closed` is a
# connection that ended before any request, so nothing was sent.
NOT_THROUGH = {"telemetry-blocked", "denied", "dlp-blocked", "intercept", "closed"}
FLUSH_TARGET_S = 1.0
# Some SDKs cannot flush or exit in a second even against a server that answers success at once
# (segment batches for 0.5 s and polls its queue for 0.5 s more; amplitude's exit hook waits out
# a 10 s flush interval). When the direct control ran, the limit is the SDK's own time there plus
# this slack, so that the row judges what hush adds, not the SDK's design.
CONTROL_SLACK_S = 0.5
HEADER = (
    "| mode | SDK (version) | exception | flush s | SDK warnings | vendor connections"
    " | blocked records | verdict |"
)
LEGEND = """\
- `direct`: the control. No proxy; the SDK is pointed at a loopback stub that answers success, so
  the row is the SDK's own floor for flush and exit time (reported only). Where that floor is over
  1 s, the other modes may take the floor + 0.5 s.
- flush s: seconds in the SDK's send calls plus flush()/shutdown() (mixpanel's default Consumer
  sends inside track()). SDK warnings: log records at WARNING or above, from any logger.
- Vendor connections: audit records for the vendor's hosts whose decision let the bytes go on
  (tunnel, forward, upgrade, or an error after one of those: nothing resolves in the namespace).
  Blocked records: its `telemetry-blocked` records.
- Targets. `ca`: no exception, flush < 1 s, exit hooks done in < 1 s, zero vendor connections,
  blocked records > 0. `no-ca`: zero vendor connections (the rest is reported only). Probes
  (requests, curl): hush logged the request."""


def vendor_host(sdk, host):
    host = (host or "").lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in VENDOR_DOMAINS.get(sdk, []))


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_audit(path):
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    records.append({"decision": "unparsable-line"})
    except OSError:
        pass
    return records


def cell(text):
    return str(text).replace("|", "\\|")


def case(directory, mode, sdk, timeout):
    base = os.path.join(directory, f"{mode}.{sdk}")
    try:
        with open(base + ".status", encoding="utf-8") as f:
            status = f.read().strip()
    except OSError:
        status = "not run"
    result = read_json(base + ".json")
    audit = read_audit(base + ".audit.jsonl")
    stub = read_audit(base + ".stub.jsonl")
    try:
        with open(base + ".server-rc", encoding="utf-8") as f:
            server_rc = f.read().strip()
    except OSError:
        server_rc = "0"
    mine = [r for r in audit if vendor_host(sdk, r.get("host"))]
    through = [r for r in mine if r.get("decision") not in NOT_THROUGH]
    blocked = [r for r in mine if r.get("decision") == "telemetry-blocked"]
    return {
        "mode": mode,
        "sdk": sdk,
        "status": status,
        "result": result,
        "audit": audit,
        "stub": len(stub),
        "server_rc": server_rc,
        "vendor": len(through),
        "blocked": len(blocked),
        "timeout": timeout,
    }


def limit(control, key):
    """The time limit for `key` (flush or exit): 1 s, or the control's own time plus slack."""
    if control is None:
        return FLUSH_TARGET_S, ""
    floor = control["send_s"] + control["flush_s"] if key == "flush" else control["exit_s"] or 0
    if floor + CONTROL_SLACK_S <= FLUSH_TARGET_S:
        return FLUSH_TARGET_S, ""
    return floor + CONTROL_SLACK_S, f" (direct: {floor:.1f} s)"


def judge(row, control):
    """(cells, meets_target) for one row; `control` is the SDK's direct result, if it ran."""
    mode, sdk, status, result = row["mode"], row["sdk"], row["status"], row["result"]
    name = f"{sdk} ({result['version']})" if result else sdk
    if status.startswith("skipped"):
        return [mode, name, "", "", "", "", "", status], mode == "direct"
    if result is None:
        why = (
            f"timeout: killed after {row['timeout']} s"
            if status == "timeout"
            else f"no result ({status})"
        )
        flush = f"> {row['timeout']}" if status == "timeout" else ""
        return [mode, name, why, flush, "?", row["vendor"], row["blocked"], f"FAIL: {why}"], False
    flush_s = result["send_s"] + result["flush_s"]
    killed_in = result["killed_in"] if status == "timeout" else None
    failure = result["exception"]
    if killed_in:
        failure = f"killed after {row['timeout']} s in {killed_in}" + (
            f"; first: {failure}" if failure else ""
        )
    flush = f"{flush_s:.2f}" + (" (killed)" if killed_in in ("send", "flush") else "")
    cells = [mode, name, failure or "none", flush, result["warnings"]]
    if mode == "direct":
        return cells + ["–", "–", f"control: the stub answered {row['stub']} request(s)"], True
    if sdk in PROBES:
        seen = row["vendor"] + row["blocked"]
        ok = seen > 0
        verdict = (
            f"through hush ({result['note'] or 'no note'})" if ok else "FAIL: hush saw no request"
        )
        return cells + ["–", "–", verdict], ok
    cells += [row["vendor"], row["blocked"]]
    problems = []
    if killed_in:
        problems.append("timeout")
    if result["exception"]:
        problems.append("exception")
    flush_limit, flush_floor = limit(control, "flush")
    if flush_s >= flush_limit:
        problems.append(f"flush {flush_s:.1f} s{flush_floor}")
    # An SDK whose exit hooks block (retrying at interpreter exit) hangs the application as surely
    # as a slow flush does.
    exit_limit, exit_floor = limit(control, "exit")
    if (result["exit_s"] or 0) >= exit_limit:
        problems.append(f"exit hooks {result['exit_s']:.1f} s{exit_floor}")
    if row["vendor"]:
        problems.append(f"{row['vendor']} vendor connection(s)")
    if not row["blocked"]:
        problems.append("nothing blocked")
    if mode == "ca":
        if problems:
            return cells + ["FAIL: " + ", ".join(problems)], False
        # Say so only where the absolute target was missed and the control excused it.
        floors = []
        if flush_s >= FLUSH_TARGET_S:
            floors.append(f"flush{flush_floor}")
        if (result["exit_s"] or 0) >= FLUSH_TARGET_S:
            floors.append(f"exit{exit_floor}")
        verdict = "ok" + (f", at the SDK's floor: {', '.join(floors)}" if floors else "")
        return cells + [verdict], True
    verdict = "ok: no vendor connection" if not row["vendor"] else "LEAK: vendor connection"
    others = [p for p in problems if "vendor" not in p]
    if others:
        verdict += " (report only: " + ", ".join(others) + ")"
    return cells + [verdict], True


def details(row):
    """One line per case: what hush logged, grouped, and the SDK's own first complaint."""
    groups = Counter()
    # Connections without a request carry no host; the script's own port probe is one of them.
    bare = sum(1 for r in row["audit"] if not r.get("host"))
    for r in (r for r in row["audit"] if r.get("host")):
        path = "" if r.get("method") == "CONNECT" else (r.get("path") or "")
        groups[
            (
                r.get("method", ""),
                f"{r.get('host', '')}:{r.get('port', '')}{path}",
                r.get("decision", ""),
                r.get("status", ""),
            )
        ] += 1
    logged = "; ".join(f"{m} {hp} {d} {s} ×{n}" for (m, hp, d, s), n in sorted(groups.items()))
    if bare:
        logged += f"{'; ' if logged else ''}no request (hostless) ×{bare}"
    parts = [f"audit: {logged or 'nothing'}"] if row["mode"] != "direct" else []
    result = row["result"]
    if result:
        if result["exception"]:
            parts.append(
                f"exception ×{result['exceptions']}: {result['exception']}: "
                f"{result['exception_message']}"
            )
        if result["first_warning"]:
            parts.append(f"first warning: {result['first_warning']}")
        if result["note"]:
            parts.append(f"note: {result['note']}")
        if result["exit_s"] is not None and result["exit_s"] >= 0.5:
            parts.append(f"exit hooks {result['exit_s']:.1f} s")
    if row["server_rc"] != "0":
        # hush drains and exits 0 on SIGTERM (CONTRACT.md); anything else is worth a look.
        parts.append(f"server exit status {row['server_rc']} after SIGTERM")
    if not parts:
        return None
    return f"- {row['mode']} / {row['sdk']}: " + " | ".join(cell(p) for p in parts)


def main():
    directory, modes, sdks, timeout = (
        sys.argv[1],
        sys.argv[2].split(","),
        sys.argv[3].split(","),
        sys.argv[4],
    )
    rows = [case(directory, m, s, timeout) for m in modes for s in sdks]
    controls = {
        row["sdk"]: row["result"]
        for row in rows
        if row["mode"] == "direct" and row["result"] and row["status"] == "ran 0"
    }
    print(HEADER)
    print("|" + " --- |" * HEADER.count(" | ") + " --- |")
    all_ok = True
    for row in rows:
        cells, ok = judge(row, controls.get(row["sdk"]))
        all_ok &= ok
        print("| " + " | ".join(cell(c) for c in cells) + " |")
    print()
    print(LEGEND)
    print()
    lines = [details(row) for row in rows if not row["status"].startswith("skipped")]
    if any(lines):
        print("Per case: hush's audit records, grouped; the SDK's first complaint.")
        print()
        print("\n".join(line for line in lines if line))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
