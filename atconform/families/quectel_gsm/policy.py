"""Chapter 6 of the GSM TCPIP Application Note (seed 003) as a sans-I/O host policy: TCP
connection maintenance (§6.1), detection (§6.2) and exception handling (§6.3).

The policy is a generator of actions (:mod:`atconform.policy.driver`) and keeps a decision
trace (time, what it saw, what it chose). Every number comes from the spec's
``flow_chart:`` rules (:class:`Rules`), each quoting the note; nothing here is a literal
time. :class:`GsmDriver` adds the two actions the note's procedures need on top of the
generic driver: a data command ended with Ctrl-Z, and ``+++`` with its guard times.
"""
from __future__ import annotations

from dataclasses import dataclass

from atconform.policy.driver import (
    Command, Decision, Driver, Flow, Outcome, PowerOff, PowerOn, Sleep, WaitUrc, _parsed,
)
from atconform.spec.models import Family


@dataclass(frozen=True)
class Rules:
    """Chapter 6's numbers (seconds, bytes, counts) as the spec's flow_chart gives them."""

    keepalive_idle: float
    probe_data: int
    probe_ack_wait: float
    detect_first_wait: float
    detect_interval: float
    detect_tries: int
    qideact_host_timeout: float
    escape_guard: float

    @classmethod
    def from_spec(cls, family: Family) -> "Rules":
        r = family.rule
        return cls(float(r("keepalive_idle").value), int(r("probe_data").value), float(r("probe_ack_wait").value),
                   float(r("detect_first_wait").value), float(r("detect_interval").value),
                   int(r("detect_tries").value), float(r("qideact_host_timeout").value),
                   float(r("escape_guard").value))


@dataclass(frozen=True)
class SendData:
    """``line`` (AT+QISEND), then ``data`` and Ctrl-Z after ``>``; final within ``timeout`` s."""
    line: str
    data: bytes
    timeout: float


@dataclass(frozen=True)
class Escape:
    """``+++`` after ``guard`` s of silence; an OK within ``guard`` + ``timeout`` s or none."""
    guard: float
    timeout: float


PROBE = b"TCP detect"        # §6.1 L645: the small packet of the example


class Chapter6:
    """The host's procedures for one TCP connection (``index`` with QIMUX=1, else None)
    to ``host``:``port``. ``trace``: the :class:`Decision` list."""

    def __init__(self, rules: Rules, host: str, port: int, index: int | None = None):
        self.rules = rules
        self.host, self.port, self.index = host, port, index
        self.trace: list[Decision] = []

    def note(self, t: float, observation: str, action: str) -> None:
        self.trace.append(Decision(t, observation, action))

    def trace_text(self) -> str:
        return "\n".join(str(d) for d in self.trace)

    # -- commands --------------------------------------------------------------------
    @property
    def _sack(self) -> str:
        return f"AT+QISACK={self.index}" if self.index is not None else "AT+QISACK"

    def _unacked(self, out: Outcome) -> int | None:
        f = out.fields[0] if out.fields else {}
        return f.get("nacked")

    def sack(self) -> Flow:
        out = yield Command(self._sack, 60)
        return out, self._unacked(out)

    # -- §6.1 --------------------------------------------------------------------------
    def keepalive(self) -> Flow:
        """§6.1: after ``keepalive_idle`` s without data, AT+QISACK; data still unacked means
        the connection is abnormal (re-establish); otherwise a small packet, and
        ``probe_ack_wait`` s later AT+QISACK again. Returns "alive" or "reestablished"."""
        r = self.rules
        out = yield Sleep(r.keepalive_idle)
        self.note(out.t, f"no data for {r.keepalive_idle:g} s (L635 'such as 8 minutes')", self._sack)
        out, unacked = yield from self.sack()
        if unacked is None:
            self.note(out.t, f"{self._sack}: {out.final}", "re-establish")
            return (yield from self.reestablish())
        if unacked:
            self.note(out.t, f"{unacked} bytes unacknowledged (L637 'MUST be abnormal')", "re-establish")
            return (yield from self.reestablish())
        self.note(out.t, "nothing unacknowledged", f"send a {r.probe_data}-byte probe (L644)")
        yield from self.probe()
        out = yield Sleep(r.probe_ack_wait)
        self.note(out.t, f"waited {r.probe_ack_wait:g} s (L649)", self._sack)
        out, unacked = yield from self.sack()
        if unacked == 0:
            self.note(out.t, "the probe is acknowledged (L653)", "keep the connection")
            return "alive"
        self.note(out.t, f"{unacked} bytes of the probe unacknowledged", "re-establish")
        return (yield from self.reestablish())

    def probe(self) -> Flow:
        data = (PROBE * (self.rules.probe_data // len(PROBE) + 1))[:self.rules.probe_data]
        line = f"AT+QISEND={self.index},{len(data)}" if self.index is not None else "AT+QISEND"
        out = yield SendData(line, data, 60)
        return out

    # -- §6.2 / §6.1 second method --------------------------------------------------------
    def detect(self) -> Flow:
        """§6.1 L655 / §6.2: a probe, AT+QISACK after ``detect_first_wait`` s, then every
        ``detect_interval`` s, at most ``detect_tries`` times; still unacked: abnormal,
        re-establish. Returns "alive" or "reestablished"."""
        r = self.rules
        out = yield from self.probe()
        self.note(out.t, f"probe sent: {out.final}", f"wait {r.detect_first_wait:g} s (L655)")
        out = yield Sleep(r.detect_first_wait)
        for n in range(1, r.detect_tries + 1):
            out, unacked = yield from self.sack()
            if unacked == 0:
                self.note(out.t, f"try {n}: the probe is acknowledged", "stop checking: the connection is OK")
                return "alive"
            if n == r.detect_tries:
                self.note(out.t, f"try {n} of {r.detect_tries}: {unacked} bytes still unacknowledged (L655)",
                          "re-establish")
                return (yield from self.reestablish())
            self.note(out.t, f"try {n}: {unacked} bytes unacknowledged", f"wait {r.detect_interval:g} s (L655)")
            out = yield Sleep(r.detect_interval)
        return None

    def reestablish(self) -> Flow:
        """AT+QICLOSE then AT+QIOPEN (Figure 2 'Reopen connection'); returns "reestablished"
        or "failed"."""
        close = f"AT+QICLOSE={self.index}" if self.index is not None else "AT+QICLOSE"
        yield Command(close, 60)
        head = f"{self.index}," if self.index is not None else ""
        out = yield Command(f'AT+QIOPEN={head}"TCP","{self.host}",{self.port}', 60)
        ok = out.final == "OK" and any(a.endswith("CONNECT OK") for a in getattr(out, "after", ()))
        self.note(out.t, f"AT+QIOPEN: {out.final} {list(getattr(out, 'after', ()))}",
                  "connection re-established" if ok else "gave up")
        return "reestablished" if ok else "failed"

    # -- §6.3 ------------------------------------------------------------------------------
    def exception(self, seen: str) -> Flow:
        """§6.3: CLOSED or +PDP DEACT seen in data mode may be data. ``+++``: OK means it was
        data (back to data mode with ATO); no OK means the module was already in command
        mode, the event was real: AT+QIDEACT within ``qideact_host_timeout`` s, else
        EMERG_OFF (power off and on, L558). Returns "data", "deactivated" or "restarted"."""
        r = self.rules
        out = yield Escape(r.escape_guard, r.escape_guard + 1)
        if out.final == "OK":
            self.note(out.t, f"{seen!r} then OK after +++ (L684: it was data from the server)", "ATO")
            out = yield Command("ATO", 60)
            return "data"
        self.note(out.t, f"{seen!r} and no OK after +++ (L684: already in command mode)",
                  f"AT+QIDEACT, {r.qideact_host_timeout:g} s at most (L685)")
        out = yield Command("AT+QIDEACT", r.qideact_host_timeout)
        if out.final == "DEACT OK":
            self.note(out.t, "DEACT OK", "re-establish the session (L684)")
            return "deactivated"
        self.note(out.t, f"no DEACT OK within {r.qideact_host_timeout:g} s", "restart by EMERG_OFF (L558)")
        yield PowerOff()
        out = yield PowerOn()
        return "restarted"

    def watch(self, timeout: float) -> Flow:
        """Wait up to ``timeout`` s for CLOSED or +PDP DEACT (a URC, or the same bytes the
        framer took for one in data mode), then run :meth:`exception`."""
        out = yield WaitUrc("CLOSED", timeout, match=lambda u: u.urc is not None and u.urc.name in ("closed", "pdp deact"))
        if out.urc is None:
            self.note(out.t, f"nothing in {timeout:g} s", "carry on")
            return "quiet"
        self.note(out.t, f"{out.urc!r} in data mode", "+++ to tell data from a real event (L681)")
        return (yield from self.exception(out.urc))


@dataclass(frozen=True)
class FollowOutcome(Outcome):
    """An :class:`Outcome` with the lines that followed the final (``after``)."""
    after: tuple[str, ...] = ()


class GsmDriver(Driver):
    """The generic driver plus :class:`SendData`, :class:`Escape`, and the follow lines
    of a command's answer (``FollowOutcome.after``)."""

    def execute(self, a) -> Outcome:
        from atconform.transport.channel import ChannelError, NoFinalResult
        clock = self.clock
        if isinstance(a, SendData):
            try:
                r = self.ch.command(a.line, timeout=a.timeout, data=a.data, ctrl_z=True)
            except NoFinalResult:
                return Outcome(clock.now(), final=None)
            return Outcome(clock.now(), final=r.final.text)
        if isinstance(a, Escape):
            clock.sleep(a.guard * 1.1)
            if self.ch.engine.framer.data_mode:
                self.ch.engine.framer.escape_written()
            self.ch.write(b"+++")
            f = self.ch.wait_final(a.timeout)
            return Outcome(clock.now(), final=f.text if f else None)
        if isinstance(a, Command):
            try:
                r = self.ch.command(a.line, timeout=a.timeout)
            except NoFinalResult as e:
                return FollowOutcome(clock.now(), final=None, info=tuple(e.response.lines))
            except ChannelError:
                return FollowOutcome(clock.now(), port_lost=True)
            return FollowOutcome(clock.now(), final=r.final.text, info=tuple(r.lines), fields=_parsed(r),
                                 after=tuple(x.text for x in r.after))
        return super().execute(a)
