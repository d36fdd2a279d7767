"""sentry-sdk at its default SaaS ingest host: one exception and one message, then flush and close."""

from harness import DIRECT_HOST, Run

run = Run("sentry", "sentry-sdk")

import sentry_sdk  # imported after Run so that Run's exit hook runs last

# A DSN of the shape sentry.io hands out (organisation ingest host, US region); the key is made up.
DSN = f"https://hushcompatpublickey@{DIRECT_HOST or 'o1.ingest.us.sentry.io'}/1"


def setup():
    sentry_sdk.init(dsn=DSN, traces_sample_rate=0)


def send():
    try:
        raise ValueError("hush compat: a captured exception")
    except ValueError:
        sentry_sdk.capture_exception()
    sentry_sdk.capture_message("hush compat: a captured message")


def flush():
    sentry_sdk.flush(timeout=5)
    sentry_sdk.get_client().close(timeout=5)


run.phase("setup", setup)
run.phase("send", send)
run.phase("flush", flush)
