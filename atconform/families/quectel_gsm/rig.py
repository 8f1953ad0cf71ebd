"""A Quectel GSM link built the way the fixtures build one, on a clock of choice: the
emulator, the channel, the session and local peers (TCP and UDP echo, DNS) on one
:class:`~atconform.clock.VirtualClock` (default) or on real time. For self-tests, the
chapter 6 policy runs and the bench."""
from __future__ import annotations

from atconform.clock import RealClock, VirtualClock
from atconform.emulator import Emulator
from atconform.emulator.dce import Defects
from atconform.emulator.faults import FaultPlan
from atconform.families import get
from atconform.ixit import Ixit, Peer
from atconform.peers import DnsServer, TcpEcho, UdpEcho, shared_loop
from atconform.protocol.engine import check_urc
from atconform.session import Resolver
from atconform.spec import load_family
from atconform.transport.channel import Channel
from atconform.verdicts import Deviation, Inconclusive

MODEL = "quectel_gsm"
DNS_NAME = "peer.atconform.test"


class GsmRig:
    """Emulator + channel + :class:`~.session.GsmSession` + peers, started and synced.
    ``defects``: behaviour defect names to plant; ``faults``: a fault plan (dict or
    :class:`FaultPlan`). ``peers``: name -> peer as the suites' ``peers`` fixture gives."""

    def __init__(self, virtual: bool = True, defects: list[str] | None = None, faults=None):
        self.family = load_family(MODEL)
        self.clock = VirtualClock() if virtual else RealClock()
        self.clock.attach("harness")
        self.loop = shared_loop(self.clock, "gsm-rig-peers")
        self.echo = TcpEcho(loop=self.loop).start()
        self.udp = UdpEcho(loop=self.loop).start()
        self.dns = DnsServer({DNS_NAME: ["127.0.0.1"]}, loop=self.loop).start()
        plan = FaultPlan.model_validate(faults) if isinstance(faults, dict) else faults
        self.emulator = Emulator(MODEL, clock=self.clock, defects=Defects(behaviour=defects or []),
                                 dns_port=self.dns.port, faults=plan).start()
        self.channel = Channel(self.family, self.emulator.path, clock=self.clock).open()
        self.peers = {"tcp_echo": self.echo, "udp_echo": self.udp,
                      "dns": Peer(host=self.dns.host, port=self.dns.port, name=DNS_NAME, address="127.0.0.1")}
        ixit = Ixit()
        self.modem = get(MODEL).session_class()(self.channel, self.family, ixit, Resolver(ixit, self.peers),
                                                power_cycle=self.emulator.power_cycle)
        self.urc_problems: list[str] = []
        self.channel.add_urc_listener(lambda u: self.urc_problems.extend(check_urc(self.family, u)))
        self.channel.add_problem_listener(
            lambda ev: self.urc_problems.append(f"unparseable line from the DCE {ev.text!r}: {ev.reason}"))
        self.modem.sync()

    def take_urc_problems(self) -> list[str]:
        """Every URC that broke the spec and every line the framer could not read since the
        last call (what the suites' DCE output monitor reports)."""
        out, self.urc_problems = self.urc_problems, []
        return out

    def verdict(self, fn, *args) -> tuple[str, str]:
        """Run ``fn(*args)``: ("pass", ""), ("fail", why) or ("inconclusive", why)."""
        try:
            fn(*args)
        except Deviation as e:
            return "fail", str(e)
        except Inconclusive as e:
            return "inconclusive", str(e)
        finally:
            if self.channel.engine.framer.data_mode:
                try:
                    self.modem.escape_data_mode()
                except Exception:
                    pass
            self.modem.settle()
        return "pass", ""

    def close(self) -> None:
        try:
            self.channel.close()
        finally:
            self.emulator.stop()
            for p in (self.echo, self.udp, self.dns):
                p.stop()
            self.loop.stop()
            self.clock.detach()

    def __enter__(self) -> "GsmRig":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
