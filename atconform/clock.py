"""Clocks. Everything that waits asks a clock: :class:`RealClock` for a real modem,
:class:`VirtualClock` for the emulator, so a 150 s QIACT timeout or a one-hour reboot
back-off (BG96 Figure 1) costs no wall time.

Both clocks offer the same interface. Code that waits holds ``clock.cond`` while it
looks at shared state and calls ``clock.wait(clock.cond, timeout)``; code that changes
that state does so under ``clock.cond`` and calls ``clock.notify()``. Threads that block
in I/O (the channel's reader, the emulator's selector loop) wrap the blocking call in
``clock.io_blocked(...)``, and every byte written to a pipe-like link between two parties
is counted with ``clock.sent(key, n)`` / ``clock.received(key, n)``.

The virtual clock jumps to the earliest deadline only when every attached party is
blocked, no counted byte is in flight and no watched file descriptor is ready: the
autojump of trio's ``MockClock``, across threads. Computation therefore takes no virtual
time, and the virtual times at which things happen depend only on the deadlines, never on
machine load.
"""
from __future__ import annotations

import abc
import contextlib
import select
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator


class Clock(abc.ABC):
    """The complete clock interface, in the manner of ``trio.abc.Clock``: every wait in
    the transport, the emulator loop, the peers and the policies goes through one.
    Seconds throughout. ``virtual`` says whether time jumps (no wall time passes)."""

    cond: threading.Condition
    virtual: bool = False

    # -- time ---------------------------------------------------------------------------
    @abc.abstractmethod
    def now(self) -> float:
        """Current time in seconds (monotonic; an arbitrary origin)."""

    @abc.abstractmethod
    def sleep(self, seconds: float) -> None:
        """Block the calling party for ``seconds``."""

    @abc.abstractmethod
    def wait(self, cond: threading.Condition, timeout: float | None) -> bool:
        """Wait on ``cond`` (held by the caller) for at most ``timeout`` seconds; False
        on timeout."""

    @abc.abstractmethod
    def notify(self) -> None:
        """Wake the waiters on ``cond`` (call with ``cond`` held)."""

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` (evaluated under ``cond``) is true or ``timeout``
        seconds pass; returns its last value."""
        deadline = self.now() + timeout
        with self.cond:
            while not predicate():
                left = deadline - self.now()
                if left <= 0:
                    return False
                self.wait(self.cond, left)
            return True

    # -- parties and I/O (what a virtual clock needs to know before it jumps) -------------
    @abc.abstractmethod
    def attach(self, name: str = "") -> None:
        """The calling thread becomes a party: time waits for it to block."""

    @abc.abstractmethod
    def detach(self) -> None:
        """The calling thread is no longer a party."""

    @abc.abstractmethod
    def io_blocked(self, *, deadline: float | None = None, wake: Callable[[], None] | None = None,
                   fds: Callable[[], tuple[list, list]] | None = None):
        """Context manager around a blocking I/O call of a party: idle until ``deadline``
        (None: no deadline of its own); ``wake()`` interrupts the call; ``fds()`` gives
        the (read, write) descriptors whose readiness means work is pending."""

    @abc.abstractmethod
    def sent(self, key: str, n: int) -> None:
        """``n`` bytes were written into link ``key`` and are in flight."""

    @abc.abstractmethod
    def received(self, key: str, n: int) -> None:
        """``n`` bytes of link ``key`` were taken by its reader."""

    @abc.abstractmethod
    def clear_flight(self, key: str) -> None:
        """Bytes in flight on links starting with ``key`` are gone (flushed, closed)."""

    @abc.abstractmethod
    def listen(self, key: str) -> None:
        """Someone reads link ``key``: its bytes in flight hold time still."""

    @abc.abstractmethod
    def unlisten(self, key: str) -> None:
        """Nobody reads link ``key`` any more."""


class RealClock(Clock):
    """Monotonic wall time, in seconds."""

    virtual = False

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.RLock())

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, cond: threading.Condition, timeout: float | None) -> bool:
        """Wait on ``cond`` (held by the caller) for at most ``timeout`` seconds."""
        return cond.wait(timeout)

    def notify(self) -> None:
        """Wake waiters on ``cond`` (call with ``cond`` held)."""
        self.cond.notify_all()

    # the virtual clock's bookkeeping is free on real time
    def attach(self, name: str = "") -> None:
        pass

    def detach(self) -> None:
        pass

    @contextlib.contextmanager
    def io_blocked(self, *, deadline: float | None = None, wake: Callable[[], None] | None = None,
                   fds: Callable[[], tuple[list, list]] | None = None) -> Iterator[None]:
        yield

    def sent(self, key: str, n: int) -> None:
        pass

    def received(self, key: str, n: int) -> None:
        pass

    def clear_flight(self, key: str) -> None:
        pass

    def listen(self, key: str) -> None:
        pass

    def unlisten(self, key: str) -> None:
        pass


@dataclass(eq=False)
class _Party:
    name: str
    blocked: bool = False
    deadline: float | None = None
    wake: Callable[[], None] | None = None          # I/O parties: interrupt their select()
    fds: Callable[[], tuple[list, list]] | None = None   # (readable-interest, writable-interest)
    waiting_on_cond: bool = False
    temporary: bool = False


@dataclass
class Jump:
    """One advance of virtual time (kept for the self-tests and the bench)."""
    frm: float
    to: float
    by: str


class VirtualClock(Clock):
    """Virtual seconds that advance only when every attached party is idle.

    ``start`` is the initial virtual time. ``real_guard`` (wall seconds) bounds each
    blocking wait so a lost wake-up costs latency, never a hang. Parties are threads:
    call :meth:`attach` on each thread that takes part (the harness thread, the
    channel's reader, each reactor loop); a thread that waits without being attached is
    attached for the duration of that wait.
    """

    virtual = True

    def __init__(self, start: float = 0.0, real_guard: float = 0.25):
        self._now = float(start)
        self.real_guard = real_guard
        self.cond = threading.Condition(threading.RLock())
        self._parties: dict[int, _Party] = {}
        self._flight: dict[str, int] = {}
        self._listening: set[str] = set()
        self.jumps: list[Jump] = []

    # -- time -----------------------------------------------------------------------
    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.wait_until(lambda: False, max(0.0, seconds))

    # -- parties --------------------------------------------------------------------
    def attach(self, name: str = "") -> None:
        """Make the calling thread a party: virtual time stands still while it runs."""
        with self.cond:
            self._parties[threading.get_ident()] = _Party(name or threading.current_thread().name)

    def detach(self) -> None:
        with self.cond:
            self._parties.pop(threading.get_ident(), None)
            self._maybe_advance()

    def _me(self) -> _Party:
        p = self._parties.get(threading.get_ident())
        if p is None:
            p = _Party(threading.current_thread().name, temporary=True)
            self._parties[threading.get_ident()] = p
        return p

    def _release(self, p: _Party) -> None:
        p.blocked = False
        p.deadline = None
        p.waiting_on_cond = False
        if p.temporary:
            self._parties.pop(threading.get_ident(), None)

    # -- waiting ---------------------------------------------------------------------
    def wait(self, cond: threading.Condition, timeout: float | None) -> bool:
        """One blocking wait on ``cond`` (which must be this clock's ``cond``, held by the
        caller) for at most ``timeout`` virtual seconds. Like ``Condition.wait`` it may
        return early; callers re-check their state and the time."""
        if cond is not self.cond:
            raise ValueError("wait on the clock's own condition (clock.cond)")
        if timeout is not None and timeout <= 0:
            return False
        p = self._me()
        p.blocked, p.waiting_on_cond = True, True
        p.deadline = None if timeout is None else self._now + max(0.0, timeout)
        try:
            self._maybe_advance()
            if p.blocked:
                cond.wait(self.real_guard)
            return True
        finally:
            self._release(p)

    def notify(self) -> None:
        """State under ``cond`` changed: every waiter on it counts as running until it
        has looked again, so no jump can slip in between (call with ``cond`` held)."""
        for p in self._parties.values():
            if p.waiting_on_cond:
                p.blocked = False
        self.cond.notify_all()

    @contextlib.contextmanager
    def io_blocked(self, *, deadline: float | None = None, wake: Callable[[], None] | None = None,
                   fds: Callable[[], tuple[list, list]] | None = None) -> Iterator[None]:
        """The calling party blocks in I/O (``select``) for the body's duration.

        ``deadline``: virtual time it wants to be woken at (its next timer), or None.
        ``wake``: called (under the clock's lock) when time jumps to that deadline; it
        must make the blocking call return (write to a self-pipe). ``fds``: returns the
        file objects it waits to read and to write, probed before any jump."""
        with self.cond:
            p = self._me()
            p.blocked, p.deadline, p.wake, p.fds = True, deadline, wake, fds
            self._maybe_advance()
        try:
            yield
        finally:
            with self.cond:
                p.wake = p.fds = None
                self._release(p)

    # -- bytes in flight between parties ----------------------------------------------
    def sent(self, key: str, n: int) -> None:
        """``n`` bytes were (or are about to be) written into link ``key``."""
        if n:
            with self.cond:
                self._flight[key] = self._flight.get(key, 0) + n

    def received(self, key: str, n: int) -> None:
        """``n`` bytes were read out of link ``key`` (or a write fell short by ``n``)."""
        if n:
            with self.cond:
                left = self._flight.get(key, 0) - n
                if left > 0:
                    self._flight[key] = left
                else:
                    self._flight.pop(key, None)
                self._maybe_advance()

    def listen(self, key: str) -> None:
        """A party reads link ``key`` from now on: its bytes in flight hold the clock.
        (Bytes written to a port nobody has open, such as a modem's ``RDY`` on a freshly
        enumerated port, must not stop time for ever.)"""
        with self.cond:
            self._listening.add(key)

    def unlisten(self, key: str) -> None:
        with self.cond:
            self._listening.discard(key)
            self._flight.pop(key, None)
            self._maybe_advance()

    def clear_flight(self, key: str) -> None:
        """Link ``key`` is gone (port closed): what was in flight is lost."""
        with self.cond:
            self._flight = {k: v for k, v in self._flight.items() if not k.startswith(key)}
            self._maybe_advance()

    # -- the jump ---------------------------------------------------------------------
    def _fds_ready(self) -> bool:
        rd, wr = [], []
        for p in self._parties.values():
            if p.fds is not None:
                r, w = p.fds()
                rd += r
                wr += w
        if not rd and not wr:
            return False
        try:
            r, w, _ = select.select(rd, wr, [], 0)
        except (OSError, ValueError):
            # an fd closed under us: probe one by one and skip the dead ones
            r, w = [], []
            for fd in rd:
                with contextlib.suppress(OSError, ValueError):
                    r += select.select([fd], [], [], 0)[0]
            for fd in wr:
                with contextlib.suppress(OSError, ValueError):
                    w += select.select([], [fd], [], 0)[1]
        return bool(r or w)

    def _maybe_advance(self) -> None:
        """Called under ``cond`` whenever a party blocks: jump if everyone is idle."""
        if not self._parties or any(k in self._listening for k in self._flight):
            return
        if any(not p.blocked for p in self._parties.values()):
            return
        deadlines = [p.deadline for p in self._parties.values() if p.deadline is not None]
        if not deadlines:
            return
        target = min(deadlines)
        if self._fds_ready():
            return
        if target > self._now:
            who = next(p.name for p in self._parties.values() if p.deadline == target)
            self.jumps.append(Jump(self._now, target, who))
            self._now = target
        for p in self._parties.values():
            if p.deadline is not None and p.deadline <= self._now:
                p.blocked = False
                if p.wake is not None:
                    p.wake()
        self.cond.notify_all()
