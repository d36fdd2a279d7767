"""posthog at its default host (us.i.posthog.com): three events, flush, shutdown."""

from harness import DIRECT_URL, Run

run = Run("posthog", "posthog")

from posthog import Posthog  # after Run: its exit hook must run last

client = None


def setup():
    global client
    client = Posthog("phc_hushcompatprojectkey", host=DIRECT_URL)


def send():
    for n in range(3):
        client.capture("compat_event", distinct_id="hush-compat-user", properties={"n": n})


def flush():
    if client is not None:
        client.flush()
        client.shutdown()


run.phase("setup", setup)
run.phase("send", send)
run.phase("flush", flush)
