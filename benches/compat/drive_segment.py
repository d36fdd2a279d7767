"""segment-analytics-python at its default host (api.segment.io): three events, flush, shutdown."""

from harness import DIRECT_URL, Run

run = Run("segment", "segment-analytics-python")

from segment import analytics  # after Run: its exit hook must run last


def setup():
    analytics.write_key = "hushcompatwritekey"
    if DIRECT_URL:
        analytics.host = DIRECT_URL


def send():
    for n in range(3):
        analytics.track("hush-compat-user", "compat_event", {"n": n})


def flush():
    analytics.flush()
    analytics.shutdown()


run.phase("setup", setup)
run.phase("send", send)
run.phase("flush", flush)
