"""mixpanel at its default host (api.mixpanel.com): three events through the default Consumer.

The default Consumer sends inside track(), so the send phase is where mixpanel's delivery time is.
"""

from harness import DIRECT_HOST, Run

run = Run("mixpanel", "mixpanel")

from mixpanel import Consumer, Mixpanel  # after Run: its exit hook must run last

mp = None


def setup():
    global mp
    consumer = Consumer(api_host=DIRECT_HOST) if DIRECT_HOST else None
    mp = Mixpanel("hushcompattoken", consumer=consumer)


def send():
    for n in range(3):
        mp.track("hush-compat-user", "compat_event", {"n": n})


run.note("default Consumer: events are sent inside track()")
run.phase("setup", setup)
run.phase("send", send)
