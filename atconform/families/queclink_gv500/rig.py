"""A GV500 link built the way the fixtures build one, on a clock of choice: the emulator,
the channel and the session on one :class:`~atconform.clock.VirtualClock` (default) or
on real time, plus backend servers on the same clock. For self-tests and the bench:
it shows what the suite costs once the fixtures run the GV500 link on the virtual clock
(its waits for silence and for reconnections are all timers)."""
from __future__ import annotations

import contextlib
from typing import Iterator

from atconform.clock import RealClock, VirtualClock
from atconform.emulator import Emulator
from atconform.emulator.dce import Defects
from atconform.families import get
from atconform.families.queclink_gv500.peers import BackendPeer
from atconform.ixit import Ixit
from atconform.session import Resolver
from atconform.spec import load_family
from atconform.transport.channel import Channel
from atconform.verdicts import Deviation, Inconclusive

MODEL = "queclink_gv500"


class Backends:
    """The primary and backup servers of one scenario (what the suite's fixture gives)."""

    def __init__(self, primary: BackendPeer, backup: BackendPeer):
        self.primary = primary
        self.backup = backup


class Gv500Rig:
    """Emulator + channel + :class:`Gv500Session`, started and synced. ``defects``:
    behaviour defect names to plant; ``ixit``: the lab parameters (default: none)."""

    def __init__(self, virtual: bool = True, defects: list[str] | None = None, ixit: Ixit | None = None):
        self.family = load_family(MODEL)
        self.clock = VirtualClock() if virtual else RealClock()
        self.clock.attach("harness")
        self.emulator = Emulator(MODEL, clock=self.clock, defects=Defects(behaviour=defects or [])).start()
        self.channel = Channel(self.family, self.emulator.path, clock=self.clock).open()
        ixit = ixit or Ixit()
        self.modem = get(MODEL).session_class()(self.channel, self.family, ixit, Resolver(ixit, {}),
                                                power_cycle=self.emulator.power_cycle)
        self.modem.sync()

    @contextlib.contextmanager
    def backends(self) -> Iterator[Backends]:
        """Both servers refusing at first, the emulator's primary pointed at the first."""
        primary, backup = BackendPeer(self.clock, "primary"), BackendPeer(self.clock, "backup")
        self.emulator.call(lambda m: m.configure(primary_host=primary.host, primary_port=primary.port))
        try:
            yield Backends(primary, backup)
        finally:
            self.emulator.call(lambda m: m.configure(primary_host=None, primary_port=0))
            primary.stop()
            backup.stop()

    def verdict(self, fn, *args) -> tuple[str, str]:
        """Run ``fn(*args)``: ("pass", ""), ("fail", why) or ("inconclusive", why)."""
        try:
            fn(*args)
        except Deviation as e:
            return "fail", str(e)
        except Inconclusive as e:
            return "inconclusive", str(e)
        finally:
            self.modem.settle()
        return "pass", ""

    def close(self) -> None:
        try:
            self.channel.close()
        finally:
            self.emulator.stop()
            self.clock.detach()

    def __enter__(self) -> "Gv500Rig":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
