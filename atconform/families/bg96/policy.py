"""The host side of BG96 Figure 1 ("Flow Chart of Using TCP/IP AT Commands", BG96 TCP/IP
AT Commands Manual chapter 1.1) as a sans-I/O state machine.

The policy never touches a port or a clock. It is a generator that yields
:class:`Action` objects (send a command line, wait for a URC, sleep, cut or restore
power, find the port again) and receives an :class:`Outcome` for each, stamped with the
time the driver observed it. Every number comes from the spec's ``flow_chart:`` section
(:class:`Numbers`); the policy holds none of its own. Each decision is appended to
``trace`` as (time, observation, action), which the flow-chart suite asserts on and the
report attaches.

:class:`~atconform.policy.driver.Driver` runs the policy against a channel and a power
switch on any clock: real time for a lab modem, virtual time for the emulator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generator

from atconform.families.bg96.session import qiopen_error, qiopen_for
from atconform.policy.backoff import BackoffRule
from atconform.policy.driver import (  # noqa: F401  (re-exported: the policy's vocabulary)
    Action, Command, Decision, Driver, Flow, GaveUp, Outcome, PowerOff, PowerOn, Reopen, Sleep,
    WaitUrc, drive,
)
from atconform.spec.models import Family


# -- numbers ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Numbers:
    """Figure 1's numbers, in seconds or counts, each read from the spec rule of that name."""

    command_response_timeout: float
    cpin_ready_within: float
    creg_registered_within: float
    ps_registration_poll: float
    qiact_timeout: float
    qideact_timeout: float
    qideact_failures_before_reboot: int
    qiopen_urc_timeout: float
    qiopen_failures_before_reactivation: int
    qiclose_timeout: float
    ack_poll_interval: float
    ack_poll_count: int
    power_off_min: float
    backoff: BackoffRule

    @classmethod
    def from_spec(cls, family: Family) -> "Numbers":
        """Raises KeyError naming the missing rule when the spec lacks one."""
        kw = {}
        for name, typ in cls.__annotations__.items():
            if name == "backoff":
                continue
            kw[name] = (int if typ == "int" else float)(family.rule(name).value)
        return cls(backoff=BackoffRule.from_spec(family), **kw)


class _Reboot(Exception):
    """Internal: unwind to the top of the flow and reboot (note 2, note 3)."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class _PortLost(Exception):
    """Internal: the port vanished (spontaneous reboot): find it again, start over."""




# -- the policy --------------------------------------------------------------------------
@dataclass
class Target:
    """What the flow brings up: context ``cid`` with ``apn``, and a socket
    ``AT+QIOPEN=<cid>,<connect_id>,"<service>","<host>",<port>,0,<access_mode>``."""
    host: str
    port: int
    cid: int = 1
    connect_id: int = 0
    service: str = "TCP"
    access_mode: int = 0
    apn: str = "internet"
    username: str = ""
    password: str = ""


class FlowChartPolicy:
    """Figure 1 as a state machine. ``numbers`` from the spec; ``poll_interval`` (s) is
    how often the status queries (AT+CPIN?, AT+CREG?, AT+CGREG?/AT+CEREG?) repeat, which
    the figure leaves open; ``max_reboots`` bounds an unattended run."""

    def __init__(self, numbers: Numbers, target: Target | None = None, *, poll_interval: float = 1.0,
                 max_reboots: int = 12, max_open_cycles: int = 20):
        self.n = numbers
        self.target = target
        self.poll_interval = poll_interval
        self.max_reboots = max_reboots
        self.max_open_cycles = max_open_cycles
        self.trace: list[Decision] = []
        self.reboots = 0                 # consecutive reboots for failed commands (note 3)
        self.total_reboots = 0
        self.t = 0.0                     # time of the latest outcome
        self._obs = "start"

    # -- trace ---------------------------------------------------------------------------
    def decide(self, action: str) -> None:
        self.trace.append(Decision(round(self.t, 3), self._obs, action))

    def _do(self, action: Action, label: str) -> Flow:
        self.decide(label)
        out = yield action
        self.t = out.t
        if out.port_lost:
            self._obs = f"{label}: port lost"
            raise _PortLost()
        return out

    def cmd(self, line: str, timeout: float | None = None, data: bytes | None = None) -> Flow:
        """Send one line (note 1: wait for its final result code; reboot if none in
        the command's time). Returns the outcome; raises _Reboot on no response."""
        timeout = self.n.command_response_timeout if timeout is None else timeout
        out = yield from self._do(Command(line, timeout, data), line)
        if out.final is None:
            self._obs = f"{line}: no response in {timeout:g}s"
            raise _Reboot(self._obs)
        self._obs = f"{line}: {'; '.join(out.info + (out.final,))}"
        return out

    # -- top level -----------------------------------------------------------------------
    def run(self) -> Flow:
        """From power-on to an open socket (``+QIOPEN: <connectID>,0``). Returns the
        connectID. Raises GaveUp after ``max_reboots`` reboots."""
        yield from self._now("start")
        while True:
            try:
                yield from self.bring_up()
                self.reboots = 0          # the chain of failed-command reboots is broken
                return self.target.connect_id
            except _Reboot as r:
                yield from self.reboot(r.why)
            except _PortLost:
                yield from self.find_port()

    def maintain(self, payload: bytes) -> Flow:
        """TCP connection maintenance and detection: send ``payload``, then query
        AT+QISEND=<connectID>,0 every ack_poll_interval s, ack_poll_count times; still
        unacknowledged: AT+QICLOSE, then AT+QIOPEN. Returns True when acknowledged,
        False when the connection was re-established instead."""
        try:
            return (yield from self._maintain(payload))
        except _Reboot as r:
            yield from self.reboot(r.why)
            yield from self.run()
            return False
        except _PortLost:
            yield from self.find_port()
            yield from self.run()
            return False

    def _now(self, observation: str) -> Flow:
        """Pick up the driver's time at the start of a flow (time passes between flows)."""
        out = yield Sleep(0)
        self.t = out.t
        self._obs = observation

    def _maintain(self, payload: bytes) -> Flow:
        cnid = self.target.connect_id
        yield from self._now("maintenance")
        out = yield from self.cmd(f"AT+QISEND={cnid},{len(payload)}", data=payload)
        if out.final != "SEND OK":
            # reading: the figure has no branch for a failed send; a socket that takes no
            # data is "abnormal" as much as one whose data is never acknowledged
            yield from self.close_socket()
            yield from self.open_socket()
            return False
        for _ in range(self.n.ack_poll_count):
            yield from self._do(Sleep(self.n.ack_poll_interval), f"wait {self.n.ack_poll_interval:g}s")
            out = yield from self.cmd(f"AT+QISEND={cnid},0")
            unacked = _value(out, "unackedbytes")
            if unacked == 0:
                return True
        # "the TCP connection may be abnormal. Execute AT+QICLOSE ... then AT+QIOPEN"
        yield from self.close_socket()
        yield from self.open_socket()
        return False

    # -- steps of the figure ---------------------------------------------------------
    def bring_up(self) -> Flow:
        yield from self.cmd("AT")
        yield from self.poll("AT+CPIN?", self.n.cpin_ready_within,
                             lambda o: _value(o, "code") == "READY", reboot=True)
        yield from self.poll("AT+CREG?", self.n.creg_registered_within,
                             lambda o: _value(o, "stat") in (1, 5), reboot=True)
        # "Go to next step no matter whether it is registered on PS domain service or not"
        yield from self.poll("AT+CGREG?", self.n.ps_registration_poll,
                             lambda o: _value(o, "stat") in (1, 5),
                             reboot=False, also="AT+CEREG?")
        t = self.target
        out = yield from self.cmd(f'AT+QICSGP={t.cid},1,"{t.apn}","{t.username}","{t.password}",0')
        if out.final != "OK":
            raise _Reboot(self._obs)
        yield from self.activate()
        yield from self.open_socket()

    def poll(self, line: str, within: float, good: Callable[[Outcome], bool], *, reboot: bool,
             also: str | None = None) -> Flow:
        """Query ``line`` (and ``also``) every poll_interval s until ``good``; after
        ``within`` s reboot (or, with reboot False, go on)."""
        start = self.t
        deadline = start + within
        while True:
            out = yield from self.cmd(line)
            if good(out):
                return True
            if also is not None:
                out2 = yield from self.cmd(also)
                if good(out2):
                    return True
            if self.t >= deadline:
                if reboot:
                    self._obs = f"{line}: not ready after {within:g}s"
                    raise _Reboot(self._obs)
                self._obs = f"{line}: not registered after {within:g}s, going on"
                return False
            wait = min(self.poll_interval, deadline - self.t)
            yield from self._do(Sleep(wait), f"wait {wait:g}s")

    def activate(self) -> Flow:
        """AT+QIACT: no response in qiact_timeout s -> reboot; failure -> deactivate
        (up to qideact_failures_before_reboot times) and activate again."""
        cid = self.target.cid
        for _ in range(self.max_open_cycles):
            out = yield from self.cmd(f"AT+QIACT={cid}", self.n.qiact_timeout)
            if out.final == "OK":
                yield from self.cmd("AT+QIACT?")
                return
            yield from self.deactivate()
        raise GaveUp(f"AT+QIACT={cid} failed {self.max_open_cycles} times")

    def deactivate(self) -> Flow:
        cid = self.target.cid
        for _ in range(self.n.qideact_failures_before_reboot):
            out = yield from self.cmd(f"AT+QIDEACT={cid}", self.n.qideact_timeout)
            if out.final == "OK":
                return
        self._obs = f"AT+QIDEACT={cid}: failed {self.n.qideact_failures_before_reboot} times in a row"
        raise _Reboot(self._obs)

    def open_socket(self) -> Flow:
        """AT+QIOPEN until "+QIOPEN: <connectID>,0"; no URC in qiopen_urc_timeout s ->
        AT+QICLOSE; qiopen_failures_before_reactivation failures in a row -> deactivate,
        activate, open again."""
        t = self.target
        failures = 0
        for _ in range(self.max_open_cycles):
            line = f'AT+QIOPEN={t.cid},{t.connect_id},"{t.service}","{t.host}",{t.port},0,{t.access_mode}'
            out = yield from self.cmd(line, self.n.qiopen_urc_timeout)
            if t.access_mode == 2:
                if out.final == "CONNECT":
                    return
            elif out.final == "OK":
                prefix = f"+QIOPEN: {t.connect_id},"
                u = yield from self._do(WaitUrc(prefix, self.n.qiopen_urc_timeout, qiopen_for(t.connect_id)),
                                        f"wait {prefix}")
                if u.urc is None:
                    self._obs = f"no {prefix} URC in {self.n.qiopen_urc_timeout:g}s"
                    yield from self.close_socket()
                elif qiopen_error(u.urc) == 0:
                    self._obs = u.urc
                    self.decide("connected")
                    return
                else:
                    self._obs = u.urc
                    yield from self.close_socket()
            failures += 1
            if failures >= self.n.qiopen_failures_before_reactivation:
                self._obs = f"AT+QIOPEN failed {failures} times in a row"
                failures = 0
                yield from self.deactivate()
                yield from self.activate()
        raise GaveUp(f"AT+QIOPEN failed {self.max_open_cycles} times")

    def close_socket(self) -> Flow:
        yield from self.cmd(f"AT+QICLOSE={self.target.connect_id}", self.n.qiclose_timeout)

    # -- reboot and back-off ---------------------------------------------------------
    def reboot(self, why: str) -> Flow:
        """Note 3's back-off, then "Power off: Send AT+QPOWD command, and then cut off
        power after 12s or more", then power on."""
        self.reboots += 1
        self.total_reboots += 1
        if self.total_reboots > self.max_reboots:
            raise GaveUp(f"{self.max_reboots} reboots: {why}")
        self._obs = why
        delay = self.n.backoff.delay(self.reboots)
        if delay:
            yield from self._do(Sleep(delay), f"reboot #{self.reboots}: back off {delay:g}s")
        yield from self.power_cycle(f"reboot #{self.reboots}")

    def power_cycle(self, label: str = "power cycle") -> Flow:
        """"Recommended Power on/off": AT+QPOWD, power cut power_off_min s after it, power
        restored, port found again. Raises GaveUp when the port does not come back."""
        # QPOWD may go unanswered (a hung modem): power is cut at QPOWD + power_off_min anyway
        yield from self._now(self._obs)   # also a flow of its own (a lab's power cycle)
        start = self.t
        self.decide(f"{label}: AT+QPOWD")
        out = yield Command("AT+QPOWD", self.n.power_off_min)
        self.t = out.t
        left = start + self.n.power_off_min - self.t
        if left > 0:
            out = yield Sleep(left)
            self.t = out.t
        self._obs = f"{self.n.power_off_min:g}s since AT+QPOWD"
        yield from self._do(PowerOff(), "power off")
        self._obs = "power is off"
        yield from self._do(PowerOn(), "power on")
        self._obs = "power is on"
        yield from self.find_port()

    def find_port(self) -> Flow:
        out = yield from self._do(Reopen(self.n.command_response_timeout), "find port")
        if not out.ok:
            raise GaveUp(f"the port did not come back in {self.n.command_response_timeout:g}s")
        self._obs = "port open"


def _value(out: Outcome, name: str):
    """Parameter ``name`` of the first information line that has it, or None."""
    return next((f[name] for f in out.fields if name in f), None)




def lab_power_cycle(channel, family: Family, power, locate) -> None:
    """Reboot a lab BG96 the way Figure 1 recommends: AT+QPOWD, power cut
    ``power_off_min`` s later, power restored, the port found again. Raises Inconclusive
    when the port does not come back within the flow chart's command response time."""
    from atconform.verdicts import Inconclusive
    driver = Driver(channel, power, locate)
    try:
        driver.run(FlowChartPolicy(Numbers.from_spec(family)).power_cycle())
    except GaveUp as e:
        raise Inconclusive(f"after the power cycle: {e}") from None
