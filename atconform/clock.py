"""Clocks. Everything that waits asks a clock, so the emulator can later run on virtual
time (issue 4) while a real modem runs on :class:`RealClock`."""
from __future__ import annotations

import threading
import time


class RealClock:
    """Monotonic wall time, in seconds."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, cond: threading.Condition, timeout: float | None) -> bool:
        """Wait on ``cond`` (held by the caller) for at most ``timeout`` seconds."""
        return cond.wait(timeout)
