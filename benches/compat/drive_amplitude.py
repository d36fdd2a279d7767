"""amplitude-analytics at its default host (api2.amplitude.com): three events, flush, shutdown."""

from harness import DIRECT_URL, Run

run = Run("amplitude", "amplitude-analytics")

from amplitude import Amplitude, BaseEvent, Config  # after Run: its exit hook must run last

client = None


def setup():
    global client
    config = Config(server_url=f"{DIRECT_URL}/2/httpapi") if DIRECT_URL else None
    client = Amplitude("hushcompatapikey", configuration=config)


def send():
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


run.phase("setup", setup)
run.phase("send", send)
run.phase("flush", flush)
