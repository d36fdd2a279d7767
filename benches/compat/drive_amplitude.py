"""amplitude-analytics at its default host (api2.amplitude.com): three events, flush, shutdown."""

from harness import Run

run = Run("amplitude", "amplitude-analytics")

from amplitude import Amplitude, BaseEvent  # after Run: its exit hook must run last

client = None


def send():
    global client
    client = Amplitude("hushcompatapikey")
    for n in range(3):
        client.track(
            BaseEvent(
                event_type="compat_event",
                user_id="hush-compat-user",
                event_properties={"n": n},
            )
        )


def flush():
    if client is not None:
        client.flush()
        client.shutdown()


run.phase("send", send)
run.phase("flush", flush)
