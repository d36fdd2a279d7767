"""Python requests, one plain GET to a host that is not telemetry: proves traffic goes through hush.

Inside the script's network namespace nothing resolves, so hush itself answers (502); the report
checks that hush logged the request.
"""

import re

import requests

from harness import Run

run = Run("requests", "requests")


def send():
    try:
        response = requests.get("https://example.com/", timeout=20)
    except requests.exceptions.ProxyError as exc:
        # The status hush answered the CONNECT with is buried in the exception's text.
        answered = re.search(r"Tunnel connection failed: (\d{3})", str(exc))
        run.note(f"CONNECT answered {answered.group(1) if answered else '?'}")
        raise
    run.note(f"HTTP {response.status_code}")


run.phase("send", send)
