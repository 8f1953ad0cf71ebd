"""Sans-I/O replay of a recording: DTE bytes and times in, DCE bytes and when out.

The :class:`Player` holds one recording (:mod:`atconform.replay.recording`) and plays
the DCE's side of it::

    p = Player(recording)                 # starts in the prologue
    div = p.receive(b"AT\\r", now=0.0)     # DTE bytes at time now (seconds, any clock)
    p.next_due()                          # when DCE bytes are due (None: wait for the DTE)
    p.take(now)                           # the DCE bytes due by now, in recorded order

Rules:

* DTE bytes must be the recorded ``tx`` bytes, in any chunking. They are redacted
  (:mod:`atconform.redact`) before the comparison, since the recording is; a recorded
  ``***`` stands for a secret this process may not know and matches any run of one or
  more bytes up to the byte that follows it in the recording (not past a CR).
* Recorded ``rx`` bytes are released once every ``tx`` byte before them has come, due at
  the same offset from the end of that ``tx`` as in the recording (the recording's
  relative timing); ``rx`` bytes still pending when the DTE starts its next recorded
  ``tx`` are due at once, so the order of the recording is kept.
* Anything else is a :class:`Divergence` (what was expected, what came): from then on
  the player sends nothing until the next boundary (:meth:`begin`, :meth:`resume`).

Segments: the prologue, then one per test. With ``sequential=True`` the player moves
from one segment to the next by itself (a modem on a port cannot be told where a test
starts), leaving out the tests ``skip`` names (by default those recorded as emulator
only, which a run against a port skips); otherwise the caller names each test's start
(:meth:`begin`) and end (:meth:`finish`).
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Callable

from atconform import redact
from atconform.replay.recording import PROLOGUE, Recording, Segment

MASK = redact.MASK.encode()
CR = 0x0D
MAX_SHOWN = 256     # bytes of a divergent input kept for the message


def _shown(data: bytes) -> str:
    """Bytes as text for a message: printable ASCII as is, CR/LF/SUB/ESC named, others hex."""
    names = {0x0D: "<CR>", 0x0A: "<LF>", 0x1A: "<SUB>", 0x1B: "<ESC>"}
    return "".join(names.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"<{b:02X}>") for b in data)


@dataclass
class Divergence:
    """The DTE sent what the recording does not have at this point.

    ``segment``: the test's nodeid (or ``"prologue"``); ``purpose``: its purpose id;
    ``at``: the caller's time (s); ``expected``: the recorded DTE bytes of the exchange
    where it happened (the whole ``tx`` entry; empty when the recording has no more DTE
    bytes there); ``offset``: index in ``expected`` of the first byte that differs;
    ``received``: what came for that entry, through the first differing byte and on to
    the end of its line (CR) or :data:`MAX_SHOWN` bytes, redacted. ``missing``: nothing
    came where the recording has more (:meth:`Player.finish`)."""

    segment: str
    purpose: str | None
    at: float
    expected: bytes
    offset: int
    received: bytearray = field(default_factory=bytearray)
    missing: bool = False

    @property
    def complete(self) -> bool:
        """``received`` holds its whole line (a CR past the differing byte) or all it keeps."""
        return self.missing or CR in self.received[self.offset:] or len(self.received) >= MAX_SHOWN

    def _more(self, data: bytes) -> None:
        if not self.complete:
            self.received += data
            cr = self.received.find(b"\r", self.offset)
            del self.received[cr + 1 if cr >= 0 else MAX_SHOWN:]
            self.received[:] = redact.redact_bytes(bytes(self.received))

    def __str__(self) -> str:
        where = f"{self.purpose} ({self.segment})" if self.purpose else self.segment
        exp = f"'{_shown(self.expected)}'" if self.expected else "nothing more"
        if self.missing:
            return (f"replay divergence in {where}: the recording has the DTE send {exp}"
                    + (f" (from byte {self.offset})" if self.offset else "") + ", nothing came")
        return (f"replay divergence in {where}: expected {exp}, got '{_shown(bytes(self.received))}'"
                f" (differs at byte {self.offset})")


def _secret_prefix(buf: bytes) -> int:
    """Length of the longest tail of ``buf`` that is a proper prefix of a registered
    secret (UTF-8 or Latin-1): bytes to hold back until the secret is whole."""
    best = 0
    for s in redact.secrets():
        for enc in ("utf-8", "latin-1"):
            try:
                b = s.encode(enc)
            except UnicodeEncodeError:
                continue
            for k in range(min(len(b) - 1, len(buf)), best, -1):
                if buf.endswith(b[:k]):
                    best = k
                    break
    return best


class Player:
    """The DCE side of one :class:`~atconform.replay.recording.Recording`; see the module
    docstring. Not thread-safe: one caller (an event loop) drives it. Times are seconds on
    the caller's clock; ``start``: the time playing starts."""

    def __init__(self, recording: Recording, *, sequential: bool = True, start: float = 0.0,
                 skip: Callable[[Segment], bool] = lambda s: s.emulator_only):
        self.recording = recording
        self.sequential = sequential
        self._order = [recording.prologue] + [s for s in recording.tests if not skip(s)]
        self._k = 0                               # index in _order (sequential)
        self._seg: Segment | None = recording.prologue
        self._name = PROLOGUE
        self._i = 0                               # next entry of the segment
        self._off = 0                             # bytes of a tx entry matched so far
        self._shown = bytearray()                 # those bytes as a message shows them
        self._wild: int | None = None             # bytes taken by a recorded *** so far
        self._raw = bytearray()                   # DTE bytes held: maybe a secret's start
        self._anchor = (recording.prologue.t_before, start)   # (recorded t, caller's t)
        self._queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self._tx_started = False
        self.divergence: Divergence | None = None    # the current one, until a boundary
        self.divergences: list[Divergence] = []
        self._release(start)

    # -- output ---------------------------------------------------------------------------
    def next_due(self) -> float | None:
        """When the next DCE bytes are due (caller's seconds), None when none are released."""
        return self._queue[0][0] if self._queue else None

    def take(self, now: float) -> bytes:
        """The DCE bytes due by ``now``, in recorded order (empty when none)."""
        out = bytearray()
        while self._queue and self._queue[0][0] <= now:
            out += self._queue.popleft()[1]
        return bytes(out)

    @property
    def segment(self) -> str:
        """The segment playing: a nodeid, ``"prologue"``, or the unrecorded test begun."""
        return self._name

    @property
    def finished(self) -> bool:
        """Sequential: every segment played and every DCE byte taken."""
        return (not self._queue and self._seg is not None and self._i >= len(self._seg.entries)
                and self._k >= len(self._order) - 1)

    # -- boundaries -----------------------------------------------------------------------
    def begin(self, name: str, now: float) -> Divergence | None:
        """The test ``name`` (its nodeid, or ``"prologue"``) starts now: play its segment.
        Returns the previous segment's :meth:`finish` divergence, if any. A test the
        recording does not have plays nothing: its first DTE byte is a divergence. The
        segment playing begins again, unchecked (a harness that syncs again after a
        divergence in the prologue)."""
        div = None if name == self._name else self.finish(now)
        self._queue = collections.deque((min(t, now), b) for t, b in self._queue)   # the earlier test's
        self._enter(self.recording.segment(name), name, now)
        return div

    def finish(self, now: float) -> Divergence | None:
        """The current test ends now: a Divergence (``missing``) when the recording has
        DTE bytes of it that did not come; None when complete or already diverged."""
        if self.divergence is not None or self._seg is None:
            return None
        self._release(now)
        if self._i >= len(self._seg.entries):
            return None
        e = self._seg.entries[self._i]
        return self._diverge(e.data, self._off, now, missing=True)

    def resume(self, now: float) -> None:
        """After a divergence (the port hung up): go on at the next segment (sequential)."""
        self._queue.clear()
        if self._k + 1 < len(self._order):
            self._k += 1
            self._enter(self._order[self._k], self._order[self._k].name, now)
        else:
            self._enter(None, "end of the recording", now)

    def _enter(self, seg: Segment | None, name: str, now: float) -> None:
        self._seg, self._name = seg, name
        self._i = self._off = 0
        self._shown.clear()
        self._wild = None
        self._raw.clear()
        self._tx_started = False
        self.divergence = None
        if seg is not None:
            self._anchor = (seg.t_before, now)
            self._release(now)

    # -- input ----------------------------------------------------------------------------
    def receive(self, data: bytes, now: float) -> Divergence | None:
        """DTE bytes that came at ``now``. Returns the Divergence they start, if any (also
        kept in :attr:`divergence` and :attr:`divergences`); bytes after a divergence only
        complete its ``received``."""
        if not data:
            return None
        if self.divergence is not None:
            self.divergence._more(data)
            return None
        self._raw += data
        hold = _secret_prefix(bytes(self._raw))
        if hold and not self._secret_expected():
            hold = 0        # the recording has no secret here: compare the bytes as they are
        body = bytes(self._raw[:len(self._raw) - hold])
        del self._raw[:len(self._raw) - hold]
        return self._match(redact.redact_bytes(body), now)

    def _secret_expected(self) -> bool:
        # may the held bytes meet a recorded ***? (in this tx entry: near enough)
        e = self._tx_entry()
        return e is not None and (self._wild is not None or MASK in e.data[self._off:])

    def _tx_entry(self):
        if self._seg is None or self._i >= len(self._seg.entries):
            return None
        e = self._seg.entries[self._i]
        return e if e.direction == "tx" else None

    def _match(self, x: bytes, now: float) -> Divergence | None:
        while x:
            self._release(now)
            e = self._tx_entry()
            if e is None:
                return self._diverge(b"", 0, now, got=x)
            if not self._tx_started:
                # the DTE goes on: what the DCE said before this in the recording is due now
                self._queue = collections.deque((min(t, now), b) for t, b in self._queue)
                self._tx_started = True
            exp = e.data[self._off:]
            if exp.startswith(MASK) and len(exp) > len(MASK):
                x = self._wildcard(x, exp[len(MASK)], e, now)
                if x is None:
                    return self.divergence
                continue
            cut = exp.find(MASK, 1)
            part = exp if cut < 0 else exp[:cut]
            n = 0
            while n < len(x) and n < len(part) and x[n] == part[n]:
                n += 1
            if n < len(x) and n < len(part):
                return self._diverge(e.data, self._off + n, now, got=x[:n + 1], rest=x[n + 1:])
            self._off += n
            self._shown += x[:n]
            x = x[n:]
            if self._off == len(e.data):
                self._tx_done(e, now)
        return None

    def _wildcard(self, x: bytes, term: int, e, now: float) -> bytes | None:
        """Inside a recorded ***: take bytes up to ``term`` (the recorded byte after it).
        Returns the bytes left, or None on a divergence (an empty secret, a CR first)."""
        taken = self._wild or 0
        for j, b in enumerate(x):
            if b == term and taken + j > 0:
                self._wild = None
                self._off += len(MASK)
                self._shown += MASK
                return x[j:]
            if b == term or b == CR:
                self._diverge(e.data, self._off, now, got=MASK if taken + j else b"", rest=x[j:])
                return None
        self._wild = taken + len(x)
        return b""

    def _tx_done(self, e, now: float) -> None:
        self._anchor = (e.t, now)
        self._i += 1
        self._off = 0
        self._shown.clear()
        self._tx_started = False
        self._release(now)

    def _release(self, now: float) -> None:
        """Queue the rx entries up to the next tx, at their recorded offsets from the anchor;
        sequential: on into the next segments when this one is played."""
        while self._seg is not None and self.divergence is None:
            entries = self._seg.entries
            while self._i < len(entries) and entries[self._i].direction == "rx":
                e = entries[self._i]
                due = self._anchor[1] + max(0.0, e.t - self._anchor[0])
                if self._queue:
                    due = max(due, self._queue[-1][0])      # recorded order first
                self._queue.append((due, e.data))
                self._i += 1
            if self._i < len(entries) or not self.sequential or self._k + 1 >= len(self._order):
                return
            self._k += 1
            self._seg, self._name = self._order[self._k], self._order[self._k].name
            self._i = self._off = 0

    def _diverge(self, expected: bytes, offset: int, now: float, *, got: bytes = b"", rest: bytes = b"",
                 missing: bool = False) -> Divergence:
        # received: the entry as matched so far (as recorded, *** for a secret), then got
        # (ending with the differing byte at ``offset``), then what followed
        seg = self._seg
        d = Divergence(self._name, seg.purpose if seg is not None else None, now, bytes(expected), offset,
                       missing=missing)
        d.received += bytes(self._shown) + got
        d._more(rest + bytes(self._raw))
        d.received[:] = redact.redact_bytes(bytes(d.received))
        self._raw.clear()
        self.divergence = d
        self.divergences.append(d)
        return d
