"""A bench for the BG96 Figure 1 policy: a built-in emulator on a :class:`VirtualClock`
with a fault plan, a TCP echo peer on the same clock, a channel, the policy's numbers
from the spec and its driver with in-process power. Used by the flow-chart suite's
fixtures and by self-tests; everything starts at virtual time 0.
"""
from __future__ import annotations

from atconform.clock import VirtualClock
from atconform.emulator import Emulator
from atconform.emulator.faults import FaultPlan
from atconform.peers import ReactorTcpEcho
from atconform.families.bg96.policy import Driver, FlowChartPolicy, Numbers, Target
from atconform.power import EmulatorPower
from atconform.spec import load_family
from atconform.transport.channel import Channel


class FlowBench:
    """Emulator + echo peer + channel on one :class:`VirtualClock`, started at t=0."""

    def __init__(self, faults: list[dict] | None = None, seed: int = 0, *, apn: str = "internet"):
        self.family = load_family("bg96")
        self.clock = VirtualClock()
        self.clock.attach("harness")
        plan = FaultPlan.model_validate({"seed": seed, "faults": faults or []})
        self.emulator = Emulator("bg96", clock=self.clock, faults=plan, reenumerate=True).start()
        self.peer = ReactorTcpEcho(self.clock).start()
        self.channel = Channel(self.family, self.emulator.path, clock=self.clock).open()
        self.numbers = Numbers.from_spec(self.family)
        self.peer_port = self.peer.port
        self.target = Target(self.peer.host, self.peer_port, apn=apn)
        self.driver = Driver(self.channel, EmulatorPower(self.emulator), self.locate)
        self.policies: list[FlowChartPolicy] = []
        self.closed = False

    def locate(self) -> str | None:
        """The emulator's pty: a new /dev/pts/N after each power-up (re-enumeration)."""
        return self.emulator.path if self.emulator.powered else None

    def policy(self, **kw) -> FlowChartPolicy:
        p = FlowChartPolicy(self.numbers, self.target, **kw)
        self.policies.append(p)
        return p

    def run(self, flow):
        return self.driver.run(flow)

    # what the reporting fixture reads from a link
    def take_urc_problems(self) -> list[str]:
        return []

    def trace_text(self) -> str:
        port = str(self.peer_port)
        return "\n".join(str(d).replace(port, "<port>") for p in self.policies for d in p.trace)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.channel.close()
        finally:
            self.emulator.stop()
            self.peer.stop()
            self.clock.detach()
