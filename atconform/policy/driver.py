"""Running a host policy: the actions a sans-I/O policy yields, the outcomes it gets
back, and the :class:`Driver` that carries them out on a channel, a power switch and the
channel's clock (real time for a lab modem, virtual time for the emulator).

A policy is a generator: it yields an :class:`Action` and receives the :class:`Outcome`,
stamped with the time the driver observed it. Nothing here names a family.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generator

from atconform.families.base import PowerSwitch
from atconform.protocol.engine import parse_info


# -- actions and outcomes --------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """Send ``line``; wait at most ``timeout`` s for its final result code. ``data`` is
    written after the ``>`` prompt (AT+QISEND)."""
    line: str
    timeout: float
    data: bytes | None = None


@dataclass(frozen=True)
class WaitUrc:
    """Wait at most ``timeout`` s for a URC whose text starts with ``prefix`` (or, when
    given, for which ``match(urc_line)`` is true; ``prefix`` then labels it)."""
    prefix: str
    timeout: float
    match: Callable[[object], bool] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class PowerOff:
    pass


@dataclass(frozen=True)
class PowerOn:
    pass


@dataclass(frozen=True)
class Reopen:
    """Find the port again (it may come back under another path) within ``timeout`` s."""
    timeout: float


Action = Command | WaitUrc | Sleep | PowerOff | PowerOn | Reopen


@dataclass(frozen=True)
class Outcome:
    """What the driver saw, at time ``t`` (seconds on its clock).

    For :class:`Command`: ``final`` is the final result code text, None when none came in
    time; ``info`` the information text lines and ``fields`` their values by parameter
    name, parsed by the spec's response templates ({} for a line none matches). For
    :class:`WaitUrc`: ``urc`` the URC text
    or None. ``port_lost``: the port went away under the action (power loss, USB
    re-enumeration). For :class:`Reopen`: ``ok``."""
    t: float
    final: str | None = None
    info: tuple[str, ...] = ()
    fields: tuple[dict, ...] = ()
    urc: str | None = None
    port_lost: bool = False
    ok: bool = True


@dataclass(frozen=True)
class Decision:
    """One line of the decision trace: at time ``t`` (s), having observed ``observation``,
    the policy chose ``action``."""
    t: float
    observation: str
    action: str

    def __str__(self) -> str:
        return f"{self.t:8.1f}  {self.observation}  ->  {self.action}"


class GaveUp(Exception):
    """The policy stopped: ``max_reboots`` reached, or a step it cannot recover from."""


Flow = Generator[Action, Outcome, object]


# -- the driver ------------------------------------------------------------------------
def drive(flow: Flow, execute: Callable[[Action], Outcome]):
    """Feed ``flow`` the outcome of each action it yields, by ``execute``, to its end;
    returns the flow's value (exceptions such as GaveUp pass through)."""
    try:
        action = next(flow)
        while True:
            action = flow.send(execute(action))
    except StopIteration as stop:
        return stop.value


def _parsed(r) -> tuple[dict, ...]:
    """Each information line's values by the spec's templates ({} when none matches)."""
    out = []
    for i in range(len(r.info)):
        try:
            out.append(parse_info(r, i))
        except ValueError:
            out.append({})
    return tuple(out)


class Driver:
    """Runs a policy flow on a channel, a power switch and the channel's clock.

    ``locate`` returns the port's current path (or None) after power-up: the emulator's
    new pty, or the IXIT's stable path / udev-style pattern on a lab bench."""

    def __init__(self, channel, power: PowerSwitch, locate: Callable[[], str | None]):
        self.ch = channel
        self.clock = channel.clock
        self.power = power
        self.locate = locate

    def run(self, flow: Flow):
        """Drive ``flow`` to its end and return its value."""
        return drive(flow, self.execute)

    def execute(self, a: Action) -> Outcome:
        from atconform.transport.channel import ChannelError, NoFinalResult
        clock = self.clock
        if isinstance(a, Command):
            if not self.ch.is_open:
                return Outcome(clock.now(), port_lost=True)
            try:
                r = self.ch.command(a.line, timeout=a.timeout, data=a.data)
            except NoFinalResult as e:
                return Outcome(clock.now(), final=None, info=tuple(e.response.lines))
            except ChannelError:
                return Outcome(clock.now(), port_lost=True)
            return Outcome(clock.now(), final=r.final.text, info=tuple(r.lines), fields=_parsed(r))
        if isinstance(a, WaitUrc):
            try:
                u = self.ch.wait_urc(a.match or (lambda u: u.text.startswith(a.prefix)), a.timeout)
            except ChannelError:
                return Outcome(clock.now(), port_lost=True)
            return Outcome(clock.now(), urc=u.text if u else None)
        if isinstance(a, Sleep):
            clock.sleep(a.seconds)
            return Outcome(clock.now())
        if isinstance(a, PowerOff):
            self.power.off()
            return Outcome(clock.now())
        if isinstance(a, PowerOn):
            self.power.on()
            return Outcome(clock.now())
        if isinstance(a, Reopen):
            ok = self.ch.reopen(self.locate, a.timeout)
            return Outcome(clock.now(), ok=ok)
        raise TypeError(f"unknown action {a!r}")
