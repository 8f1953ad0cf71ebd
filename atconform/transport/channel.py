"""A pyserial channel to a modem (or the emulator's pty), with a background reader.

Thin I/O shell around :class:`atconform.protocol.engine.AtEngine`: writes command
lines, feeds every byte read to the engine, and waits (bounded, by the spec's maximum
response time) for the final result code. URCs go to a queue and to listeners (the
session-wide URC monitor). Every byte lands in the current :class:`Transcript`.
"""
from __future__ import annotations

import collections
import select
import termios
import threading
from dataclasses import dataclass
from typing import Callable

import serial

from atconform.clock import RealClock
from atconform.protocol.engine import AtEngine, Response, Transaction
from atconform.protocol.framer import Data, Echo, Event, Final, Follow, FreeText, Intermediate, Unparseable, UrcLine
from atconform.spec.models import Family
from atconform.transport.transcript import Transcript


class ChannelError(Exception):
    pass


class PortLost(ChannelError):
    """The port failed (read or write error, hang-up) while something waited on it: the
    harness lost the modem, verdict error."""


class NoFinalResult(ChannelError):
    """No final result code within the allowed time. ``response`` holds what did come.
    Raised by the line under test it is a deviation (verdict fail)."""

    verdict_in_call = "fail"

    def __init__(self, response: Response, timeout: float):
        super().__init__(f"{response.line}: no final result code within {timeout:g} s "
                         f"(got {[i.text for i in response.info]})")
        self.response = response
        self.timeout = timeout


@dataclass(frozen=True)
class LateFinal:
    """The final result code of a command that had timed out (:class:`NoFinalResult`)
    arrived: ``response`` is that command's, complete now, ``response.late`` its maximum
    time. Handed to the problem listeners (``text``, ``reason``) like an unparseable line:
    a deviation of that command, never the next command's answer."""

    text: str
    reason: str
    response: Response


class Channel:
    """DTE side of one AT link.

    A command that times out stays the link's *late* transaction: whatever the DCE sends
    while no other command is pending (its information text, its final result code) is
    its, and so is what comes after the next command line but before that line's echo
    while echo is on (ATE1; the DCE answers in order). With echo off the bytes cannot
    tell a late final from the next command's, so a late transaction ends when the next
    command is written. A late final is reported (:class:`LateFinal` to the problem
    listeners, ``late_responses``) and never given to the next command.

    ``url`` is a device path (``/dev/ttyUSB2``, the emulator's ``/dev/pts/N``) or any
    pyserial URL (``loop://``, ``socket://host:port``). Times are seconds.
    """

    def __init__(self, family: Family, url: str, *, baud: int = 115200, clock=None,
                 transcript: Transcript | None = None):
        self.family = family
        self.url = url
        self.baud = baud
        self.clock = clock or RealClock()
        self.transcript = transcript or Transcript(self.clock)
        self.engine = AtEngine(family)
        self._cond = self.clock.cond   # one lock for this link's state and the clock's waits
        self._tx_key = f"{url}>dce"     # bytes in flight, counted for the virtual clock
        self._rx_key = f"{url}>dte"
        self._events: collections.deque[Event] = collections.deque()
        self._urcs: collections.deque[UrcLine] = collections.deque()
        self._data = bytearray()
        self._listeners: list[Callable[[UrcLine], None]] = []
        self._problem_listeners: list[Callable[[Unparseable], None]] = []
        self._serial: serial.SerialBase | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._busy = threading.Lock()   # one command at a time (Figure 1 note 1)
        self.port_error: BaseException | None = None   # the port failed (read or write)
        self.last_rx = 0.0
        self._current: Transaction | None = None      # the command being waited for
        self._current_echoed = False
        self._late: tuple[Transaction, float] | None = None   # timed out, final not yet seen
        self.late_responses: list[Response] = []
        # the last command while more of its repeating follow lines may come (Variant.follow)
        self._following: Transaction | None = None

    # -- life cycle -----------------------------------------------------------------
    def open(self) -> "Channel":
        """Open the port. Raises serial.SerialException when it is not there."""
        kw = dict(baudrate=self.baud, timeout=0.05, exclusive=None)
        try:
            self._serial = serial.serial_for_url(self.url, write_timeout=10, **kw)
        except NotImplementedError:
            # pyserial's rfc2217:// (a lab's ser2net) has no write timeout: its writes go
            # to a TCP socket, which does not block on a stalled DCE as a tty can
            self._serial = serial.serial_for_url(self.url, **kw)
        # pyserial flushes the input on open: bytes counted in flight to us are gone
        self.clock.clear_flight(self.url + ">dte")
        self.clock.listen(self._rx_key)
        self._stop.clear()
        self.port_error = None
        self._reader = threading.Thread(target=self._read_loop, name=f"at-reader {self.url}", daemon=True)
        self._reader.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._reader and self._reader is not threading.current_thread():
            self._reader.join(2)
        if self._serial:
            try:
                self._serial.close()
            except Exception:   # the device may be gone already (power off, USB unplug)
                pass
        self._serial = None
        self.clock.unlisten(self._rx_key)
        self.clock.clear_flight(self.url + ">")

    @property
    def is_open(self) -> bool:
        """The port is open and its reader has not failed."""
        return self._serial is not None and self.port_error is None

    def reopen(self, locate: Callable[[], str | None], timeout: float, interval: float = 1.0) -> bool:
        """Reopen after the port went away (power cycle, USB re-enumeration).

        ``locate`` returns the device path to try now (a stable path, the match of a
        udev-style pattern, the emulator's new pty) or None when there is none yet. Polls
        every ``interval`` seconds for at most ``timeout`` seconds; True once open."""
        self.close()
        deadline = self.clock.now() + timeout
        while True:
            path = locate()
            if path:
                self.url = path
                self._tx_key, self._rx_key = f"{path}>dce", f"{path}>dte"
                self.engine = AtEngine(self.family)   # the modem rebooted: no sockets, no data mode
                self._late = None
                try:
                    self.open()
                    return True
                except (serial.SerialException, OSError):
                    self._serial = None
            if self.clock.now() + interval > deadline:
                return False
            self.clock.sleep(interval)

    def __enter__(self) -> "Channel":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_loop(self) -> None:
        ser = self._serial
        clock = self.clock
        # On the virtual clock the reader is a party: it blocks in select() on the port
        # so the clock knows when it idles. Real time keeps pyserial's own read timeout.
        fd = ser.fileno() if clock.virtual and hasattr(ser, "fileno") else None
        if fd is not None:
            clock.attach(f"reader {self.url}")
        try:
            while not self._stop.is_set():
                if fd is not None:
                    with clock.io_blocked(fds=lambda: ([fd], [])):
                        ready, _, _ = select.select([fd], [], [], 0.05)
                    if not ready:
                        continue
                    data = ser.read(ser.in_waiting or 1)
                    if not data:
                        raise serial.SerialException("port hung up")
                else:
                    data = ser.read(max(1, ser.in_waiting or 1))
                if not data:
                    continue
                self.transcript.record("rx", data)
                with self._cond:
                    self.last_rx = self.clock.now()
                    self._dispatch(data)
                    clock.notify()
                    clock.received(self._rx_key, len(data))
        except Exception as e:  # port vanished (USB re-enumeration) or closed under us
            # (_dispatch never raises: what ends this loop is the port, not the bytes)
            if not self._stop.is_set():
                with self._cond:
                    self.port_error = e
                    clock.notify()
        finally:
            if fd is not None:
                clock.detach()

    def _dispatch(self, data: bytes) -> None:
        """Feed ``data`` to the engine and hand out its events (under ``_cond``).

        Bad DCE output must cost one finding, never the link: the framer reports it as
        :class:`Unparseable`; should the engine or a listener raise all the same (a bug of
        ours), that becomes an Unparseable event too and the unframed bytes are dropped,
        so the same bytes cannot raise again. Only I/O errors mark the port failed."""
        try:
            events = self.engine.feed(data)
        except Exception as e:
            self.engine.framer.reset_input()
            shown = data[:80].decode("latin-1")
            events = [Unparseable(shown, f"the AT engine raised {type(e).__name__}: {e}")]
        for ev in events:
            if isinstance(ev, UrcLine):
                self._urcs.append(ev)
                self._notify(self._listeners, ev)
            elif isinstance(ev, (Unparseable, FreeText)):
                if isinstance(ev, FreeText):
                    self.transcript.record("note", f"unsolicited text: {ev.text}".encode("latin-1", "replace"))
                self._notify(self._problem_listeners, ev)
            if isinstance(ev, Follow) and self._current is None and self._following is not None:
                self._following.response.after.append(ev)   # more of the last command's lines
                continue
            if isinstance(ev, Data):
                self._data += ev.data
            elif not isinstance(ev, UrcLine) and self._to_late(ev):
                continue
            else:
                self._events.append(ev)

    def _to_late(self, ev: Event) -> bool:
        """Give ``ev`` to the late transaction when it is that command's (see the class
        docstring); report the late final. Under ``_cond``."""
        if self._late is None:
            return False
        if self._current is not None:
            if isinstance(ev, Echo) and ev.text == self._current.response.line:
                self._current_echoed = True
            if self._current_echoed or not getattr(self.engine.framer, "echo", None):
                return False
        t, timeout = self._late
        if t.add(ev, self.clock.now()):
            self._late = None
            r = t.response
            r.late = timeout
            self.late_responses.append(r)
            self._notify(self._problem_listeners, LateFinal(
                r.final.text, f"final result code of {r.line!r} came {r.elapsed:.3g} s after it was sent, "
                f"after its maximum response time {timeout:g} s", r))
        return True

    def _notify(self, listeners, ev) -> None:
        for fn in list(listeners):
            try:
                fn(ev)
            except Exception as e:   # a listener's bug is a finding of the running test
                if listeners is self._problem_listeners:
                    continue
                self._notify(self._problem_listeners, Unparseable(
                    getattr(ev, "text", "")[:200], f"URC listener raised {type(e).__name__}: {e}"))

    # -- listeners ------------------------------------------------------------------
    def add_urc_listener(self, fn: Callable[[UrcLine], None]) -> None:
        self._listeners.append(fn)

    def add_problem_listener(self, fn: Callable[[Unparseable], None]) -> None:
        """``fn(event)`` for every :class:`Unparseable` line, on the reader thread."""
        self._problem_listeners.append(fn)

    def remove_urc_listener(self, fn: Callable[[UrcLine], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    # -- writing --------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Write raw bytes (payload after ``>``, transparent-mode data)."""
        if self._serial is None:
            raise ChannelError("channel is not open")
        self.transcript.record("tx", data)
        self.clock.sent(self._tx_key, len(data))
        try:
            self._serial.write(data)
            self._serial.flush()
        # termios.error: tcdrain() in pyserial's flush on a tty that hung up
        except (serial.SerialException, OSError, termios.error) as e:
            self.clock.received(self._tx_key, len(data))
            if not isinstance(e, serial.SerialTimeoutException):   # a slow DCE is not a gone port
                with self._cond:   # the port is gone whichever direction noticed first
                    self.port_error = self.port_error or e
                    self.clock.notify()
            raise ChannelError(f"port {self.url} failed: {e}") from e

    def command(self, line: str, *, timeout: float | None = None, data: bytes | None = None,
                ctrl_z: bool = False, escape: bool = False, prompt: bool = False) -> Response:
        """Send ``line`` and return its :class:`Response` once the final result code arrives.

        ``timeout`` defaults to the spec's maximum response time for the command (family
        default, 60 s for BG96, for unknown lines). ``data`` is written after the ``>``
        prompt, followed by Ctrl-Z when ``ctrl_z``, or ESC when ``escape`` (cancel).
        ``prompt`` marks ``line`` a data command, spec entry or not (a lab's own command,
        AT+QSSLSEND): its ``>`` is a prompt, not text. ``data`` is also written after an
        intermediate CONNECT (an AT+QFUPL-style upload, :class:`Intermediate`).
        Raises NoFinalResult when no final result arrives in time; ChannelError when the
        port failed. URCs that arrive meanwhile are listed in ``Response.urcs`` for the
        record and stay in the URC queue (:meth:`wait_urc`), the one place to consume them.
        """
        with self._busy:
            payload, match = self.engine.command(line, prompt=prompt)
            if match is not None:
                for p in match.command.parameters:
                    if p.secret and isinstance(match.values.get(p.name), str):
                        self.transcript.secret(match.values[p.name])
            if timeout is None:
                timeout = (self.family.max_response_time(match.command, match.variant)
                           if match is not None else self.family.timing.default_max_response_time)
            t = Transaction(line, match, self.clock.now())
            self._following = None
            with self._cond:
                self._events.clear()
                self._current, self._current_echoed = t, False
            try:
                self.write(payload)
                return self._await(t, timeout, data, ctrl_z, escape)
            finally:
                with self._cond:
                    self._current = None
                    if self._late is not None and self._late[0] is not t and not getattr(self.engine.framer, "echo", None):
                        self._late = None   # echo off: nothing tells its final from this one's

    def _await(self, t: Transaction, timeout: float, data: bytes | None, ctrl_z: bool, escape: bool) -> Response:
        deadline = t.response.sent_at + timeout
        prompt_handled = False
        while True:
            ev = self._next_event(deadline)
            if ev is None:
                if t.response.final is not None and t.follow_within is not None:
                    # the final came; a line that should follow it did not (Variant.follow)
                    t.response.after_missing = (f"no line followed {t.response.final.text!r} within "
                                                f"{t.follow_within:g} s (the command's follow lines)")
                    return t.response
                with self._cond:
                    self._late = (t, timeout)   # its final may still come: it is this command's
                raise NoFinalResult(t.response, timeout)
            if t.add(ev, self.clock.now()):
                if getattr(self.engine.framer, "following", False):
                    with self._cond:
                        self._following = t     # more of a repeating follow line may come
                return t.response
            if isinstance(ev, (Final, Follow)) and t.follow_within is not None:
                deadline = self.clock.now() + t.follow_within
            if (t.response.prompt or (data and t.response.intermediate)) and not prompt_handled:
                    prompt_handled = True
                    tail = b""
                    if escape:
                        tail = self.family.framing.escape.encode()
                    elif ctrl_z:
                        tail = self.family.framing.ctrl_z.encode()
                    self.write((data or b"") + tail)

    def _check_port(self) -> None:
        """Raise PortLost when the port failed: a wait must not outlast its modem."""
        if self.port_error is not None:
            raise PortLost(f"port {self.url} failed: {self.port_error}")

    def _next_event(self, deadline: float) -> Event | None:
        with self._cond:
            while not self._events:
                self._check_port()
                left = deadline - self.clock.now()
                if left <= 0:
                    return None
                self.clock.wait(self._cond, left)
            return self._events.popleft()

    def wait_final(self, timeout: float) -> Final | None:
        """Wait for a final result outside a command (NO CARRIER, OK after +++)."""
        deadline = self.clock.now() + timeout
        while True:
            ev = self._next_event(deadline)
            if ev is None or isinstance(ev, Final):
                return ev

    # -- URCs -----------------------------------------------------------------------
    def wait_urc(self, name: str | Callable[[UrcLine], bool], timeout: float) -> UrcLine | None:
        """First queued or arriving URC named ``name`` (spec name, e.g. ``qiopen``) or
        satisfying a predicate; removes it from the queue. None on timeout. Raises
        PortLost as soon as the port fails (a queued match is still returned first)."""
        pred = name if callable(name) else (lambda u: u.urc is not None and u.urc.name == name)
        found: list[UrcLine] = []

        def take() -> bool:
            if self.port_error is not None and not any(pred(u) for u in self._urcs):
                return True       # stop waiting; raised below
            for u in self._urcs:
                if pred(u):
                    self._urcs.remove(u)
                    found.append(u)
                    return True
            return False

        self.clock.wait_until(take, timeout)
        if not found:
            with self._cond:
                self._check_port()
        return found[0] if found else None

    def drain_urcs(self) -> list[UrcLine]:
        with self._cond:
            out = list(self._urcs)
            self._urcs.clear()
            return out

    def read_data(self, n: int, timeout: float) -> bytes:
        """Up to ``n`` bytes of transparent-mode data, waiting at most ``timeout`` s.
        Raises PortLost when the port fails before ``n`` bytes came."""
        with self._cond:
            self.clock.wait_until(lambda: len(self._data) >= n or self.port_error is not None, timeout)
            if len(self._data) < n:
                self._check_port()
            out = bytes(self._data[:n])
            del self._data[:n]
            return out
