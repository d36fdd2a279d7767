"""curl, one plain GET to a host that is not telemetry: proves traffic goes through hush.

curl reads the same proxy variables; inside the namespace hush answers the CONNECT itself (502).
"""

import subprocess

from harness import Run

version = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False)
run = Run("curl", version=(version.stdout.split() or ["?", "?"])[1])


def send():
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "--max-time",
            "20",
            "-w",
            "%{http_connect} %{http_code}",
            "https://example.com/",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    connect, _, code = done.stdout.partition(" ")
    run.note(f"CONNECT answered {connect}, HTTP {code}")
    if done.returncode != 0:
        raise RuntimeError(f"curl exit {done.returncode}: {done.stderr.strip()}")


run.phase("send", send)
