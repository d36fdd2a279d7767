"""Shared by the compat drivers: times an SDK's send and flush phases and records what went wrong.

A driver builds a `Run` before it imports its SDK, so that the exit hook registered here runs after
the SDK's own exit hooks (atexit is last-in, first-out) and sees the errors they raise. The result
is one JSON object written to the file named by COMPAT_RESULT. The shell's `timeout` sends SIGTERM
first: the result is then written with the phase that hung, and the process leaves at once.
"""

import atexit
import json
import logging
import os
import signal
import sys
import threading
import time
from importlib import metadata

MAX_TEXT = 160

# Set in the `direct` control mode only: the loopback stub that stands in for the vendor.
DIRECT_URL = os.environ.get("COMPAT_DIRECT_URL")
DIRECT_HOST = DIRECT_URL.split("://", 1)[1] if DIRECT_URL else None


def one_line(text):
    """First line of a message, shortened: enough to recognise the failure, never a dump."""
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= MAX_TEXT else line[: MAX_TEXT - 1] + "…"


class _Counter(logging.Handler):
    """Counts every record at WARNING or above, from any logger, and keeps the first one."""

    def __init__(self, run):
        super().__init__(level=logging.WARNING)
        self.run = run

    def emit(self, record):
        result = self.run.result
        result["warnings"] += 1
        if result["first_warning"] is None:
            result["first_warning"] = one_line(f"{record.name}: {record.getMessage()}")
        # The driver's stderr goes to a log file beside the audit log, for a closer look.
        sys.stderr.write(f"{record.levelname} {record.name}: {record.getMessage()}\n")


class Run:
    def __init__(self, sdk, dist=None, version=None):
        self.result = {
            "sdk": sdk,
            "version": version or (metadata.version(dist) if dist else "?"),
            "exception": None,
            "exception_message": None,
            "exceptions": 0,
            "killed_in": None,
            "setup_s": 0.0,
            "send_s": 0.0,
            "flush_s": 0.0,
            "exit_s": None,
            "warnings": 0,
            "first_warning": None,
            "note": None,
        }
        self.path = os.environ["COMPAT_RESULT"]
        self.finished_at = None
        self.current = None
        atexit.register(self._write)
        signal.signal(signal.SIGTERM, self._terminated)
        root = logging.getLogger()
        root.setLevel(logging.WARNING)
        root.addHandler(_Counter(self))
        threading.excepthook = self._thread_exception
        sys.unraisablehook = self._unraisable

    def failed(self, where, exc):
        self.result["exceptions"] += 1
        if self.result["exception"] is None:
            self.result["exception"] = f"{type(exc).__name__} ({where})"
            self.result["exception_message"] = one_line(exc)

    def _thread_exception(self, args):
        self.failed(f"thread {args.thread.name if args.thread else '?'}", args.exc_value)

    def _unraisable(self, unraisable):
        # Exceptions in atexit callbacks land here: an SDK that loses events at exit shows up.
        self.failed("at exit", unraisable.exc_value)

    def phase(self, name, fn):
        """Runs one phase (`setup`, `send` or `flush`), timing it; an exception is recorded, not
        raised, so that the flush still runs after a failed send and its time is still measured.
        Only send and flush count as the SDK's delivery time: setup builds the client."""
        start = time.monotonic()
        self.current = (name, start)
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - every SDK failure is a finding here
            self.failed(name, exc)
        self.result[f"{name}_s"] += time.monotonic() - start
        self.current = None
        self.finished_at = time.monotonic()

    def _terminated(self, _signum, _frame):
        # Killed by the timeout: count the hung phase's time so far, write, and leave without
        # running the SDK's exit hooks (they would block again).
        if self.current is not None:
            name, start = self.current
            self.result[f"{name}_s"] += time.monotonic() - start
            self.result["killed_in"] = name
            self.finished_at = None  # the exit hooks never ran
        else:
            self.result["killed_in"] = "exit hooks"
        self._write()
        os._exit(124)

    def note(self, text):
        self.result["note"] = one_line(text)

    def _write(self):
        if self.finished_at is not None:
            self.result["exit_s"] = time.monotonic() - self.finished_at
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(self.result, out)
        os.replace(tmp, self.path)
