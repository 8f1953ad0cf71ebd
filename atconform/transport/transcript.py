"""Per-test transcript: every byte in both directions, timestamped, secrets redacted."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from atconform import redact


@dataclass(frozen=True)
class Entry:
    t: float          # seconds since the transcript started
    direction: str    # "tx" (DTE -> DCE) or "rx" (DCE -> DTE)
    data: bytes


def _printable(data: bytes) -> str:
    out = []
    for b in data:
        if b == 0x0D:
            out.append("<CR>")
        elif b == 0x0A:
            out.append("<LF>\n")
        elif b == 0x1A:
            out.append("<SUB>")
        elif b == 0x1B:
            out.append("<ESC>")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"<{b:02X}>")
    return "".join(out)


class Transcript:
    """Thread-safe byte log. ``secret(s)`` registers a string (an APN password) with the
    process-wide :mod:`atconform.redact` registry: it is replaced by ``***`` whenever the
    transcript is rendered, and in every other output; raw bytes never leave it."""

    def __init__(self, clock=None) -> None:
        # timestamps from the link's clock: virtual seconds on the emulator's virtual clock
        self._now = clock.now if clock is not None else time.monotonic
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._t0 = self._now()
        self.wall_start = time.time()

    def record(self, direction: str, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            self._entries.append(Entry(self._now() - self._t0, direction, bytes(data)))

    def secret(self, value: str) -> None:
        redact.register(value)

    def mark(self) -> int:
        with self._lock:
            return len(self._entries)

    def entries(self, since: int = 0) -> list[Entry]:
        with self._lock:
            return list(self._entries[since:])

    def _redact(self, data: bytes) -> bytes:
        return redact.redact_bytes(data)

    def runs(self, since: int = 0, until: int | None = None) -> list[Entry]:
        """Entries ``since`` to ``until`` (indexes from :meth:`mark`) with adjacent entries
        of one direction less than 0.05 s apart merged (``t`` of the first), and secrets
        redacted: merged first, so a secret split across reads is still redacted. What
        :meth:`render` prints and what ``--record`` keeps."""
        merged: list[list] = []
        with self._lock:
            entries = self._entries[since:until]
        for e in entries:
            if merged and merged[-1][1] == e.direction and e.t - merged[-1][2] < 0.05:
                merged[-1][3] += e.data
                merged[-1][2] = e.t
            else:
                merged.append([e.t, e.direction, e.t, bytearray(e.data)])
        return [Entry(t, d, self._redact(bytes(data))) for t, d, _, data in merged]

    def render(self, since: int = 0) -> str:
        """Text form, one chunk per line group: ``+0.012 tx  AT+QIACT=1<CR>``
        (:meth:`runs`: merged, redacted)."""
        lines = []
        for e in self.runs(since):
            text = _printable(e.data).rstrip("\n")
            pad = "\n" + " " * 14
            lines.append(f"{e.t:+10.3f} {e.direction}  " + text.replace("\n", pad))
        return "\n".join(lines) + ("\n" if lines else "")
