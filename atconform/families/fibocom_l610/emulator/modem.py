"""The emulated Fibocom L610 (:class:`L610`), composed of its parts."""
from __future__ import annotations

from atconform.emulator.dce import CME_TEXT, Dce, Defects
from atconform.emulator.faults import FaultPlan
from atconform.emulator.general import GeneralCommands, GeneralState, ModuleConfig, Radio
from atconform.emulator.runtime import Loop, Net
from atconform.protocol.commands import Match
from atconform.spec.models import Family

from .defects import BEHAVIOUR_DEFECTS
from .errors import CARRIER, Err
from .hexmode import HexModeCommands
from .link import Link, LinkCommands
from .odm import Odm, OdmCommands
from .services import ServiceCommands, Services
from .sockets import SOCKET_IDS, KeepConf, SocketCommands, SocketTable, StackConf

L610_MODULE = ModuleConfig(manufacturer="Fibocom", model="L610", revision="16000.1000.00.96.04.13",
                           imei="866123040000007", radio=Radio(act=7, act_name="FDD LTE", band="LTE BAND 3"))

# the settings AT+GTSET keeps over power cycles (Persistent: Yes, 004 L1453)
PERSISTENT_DEFAULTS = {"IPRFMT": 0, "SENDTIME": 12}


class L610(LinkCommands, SocketCommands, HexModeCommands, OdmCommands, ServiceCommands, GeneralCommands, Dce):
    """The L610 module on ``loop``'s thread; ``output`` writes bytes to the DTE.

    State in parts, fresh at power-on: ``link`` (:class:`~.link.Link`, AT+MIPCALL and
    the PDP contexts), ``sockets`` (:class:`~.sockets.SocketTable`), ``odm``
    (:class:`~.odm.Odm`), ``services`` (:class:`~.services.Services`: DNS servers, ping,
    NTP), ``stackconf`` (AT+MIPCONF per socket id), ``keepconf`` (AT+MIPKEEPCONF),
    ``general`` (27.007 general commands). ``persist`` (AT+GTSET's IPRFMT and SENDTIME),
    the AT&W profile and the fault plan outlive power cycles.

    ``dns_host``/``dns_port``: the network's DNS server (the loopback DNS peer);
    ``power_hook("lost"/"on")`` as for the other emulators. Raises ValueError for a fault
    plan naming a command the spec lacks."""

    def __init__(self, family: Family, loop: Loop, output, defects: Defects | None = None, *,
                 dns_port: int = 53, dns_host: str = "127.0.0.1", faults: FaultPlan | None = None,
                 power_hook=None, module: ModuleConfig | None = None):
        self.loop = loop
        self.net = Net(loop)
        self.module = module or L610_MODULE
        self.profile = None
        self.dns_host, self.dns_port = dns_host, dns_port
        self.persist = dict(PERSISTENT_DEFAULTS)
        super().__init__(family, output, loop.clock, defects)
        self.power_hook = power_hook
        self.auto_on = None
        self.mode = "off"
        self._fresh_state()
        self.set_faults(faults)
        self.power_on()

    def _fresh_state(self) -> None:
        self.link = Link()
        self.sockets = SocketTable()
        self.odm = Odm()
        self.services = Services()
        self.stackconf = {sid: StackConf() for sid in SOCKET_IDS}
        self.keepconf = KeepConf()
        self.general = GeneralState()
        self.hexin = None

    def defect(self, name: str) -> bool:
        """Whether the planted behaviour defect ``name`` is on. The package's own calls are
        checked against :data:`~.defects.BEHAVIOUR_DEFECTS` at import; the shared general
        commands also ask for BG96's, which this module never plants (False)."""
        return name in BEHAVIOUR_DEFECTS and name in self.defects.behaviour

    # ------------------------------------------------------------------ results
    def stage_result(self, text: str) -> None:
        """A result code that closes a stage of a two-stage answer (HEX-mode AT+MIPSEND:
        the first OK) without ending the command, framed as a final one."""
        if self.quiet:
            return
        rc = self.family.result_code(text)
        if self.verbose or rc is None or rc.numeric is None:
            self.output(self._eol + text.encode("latin-1") + self._eol)
        else:
            self.output(f"{rc.numeric}".encode() + bytes([self.s3]))

    def fail(self, code: int | None) -> None:
        """ERROR, or under AT+CMEE=1/2 ``+CME ERROR: <err>`` with a §2.3 code (its text
        under AT+CMEE=2)."""
        if code is None or self.cmee == 0:
            self.error()
            return
        carrier = "+CMS ERROR: " if self.defect("wrong-error-table") else CARRIER
        text = self.family.error_entry(CARRIER, int(code))
        self.final(carrier + (str(int(code)) if self.cmee == 1 or text is None else text.text))

    def error(self, cme: int | None = None) -> None:
        if cme is not None and self.cmee == 2:
            entry = self.family.error_entry(CARRIER, cme)
            self.final(f"+CME ERROR: {entry.text if entry else CME_TEXT.get(cme, cme)}")
            return
        super().error(cme)

    def invalid(self, m: Match | None) -> None:
        # a line the spec does not accept: "TCPIP Param wrong" for a TCP/IP command
        self.fail(Err.PARAM_WRONG if m is not None and m.command.tcpip else None)

    def unsupported(self, m: Match) -> None:
        self.error(4)                    # 27.007 "operation not supported"

    # ------------------------------------------------------------------- power
    @property
    def powered(self) -> bool:
        return self.mode != "off"

    def call_later(self, delay: float, cb):
        return self.loop.call_later(delay, cb)

    def cancel_timer(self, handle) -> None:
        Loop.cancel(handle)

    def power_on(self) -> None:
        """Boot: every part fresh, AT&W profile loaded; AT+GTSET settings kept."""
        if self.powered:
            self.power_off()
        Loop.cancel(self.auto_on)
        self.auto_on = None
        self._drop_hold()
        self.dead = False
        self.boot_count += 1
        self.boot_time = self.clock.now()
        self.load_profile()
        if self.power_hook is not None and self.boot_count > 1:
            self.power_hook("on")
        self.mode = "command"
        self.busy = False
        self._queued = []
        self.reset_line()
        self._fresh_state()
        if self.fault_state is not None:
            self.fault_state.begin_boot(self.boot_count)
            self._arm_timed_faults()

    def power_off(self, discard: bool = False) -> None:
        """No input, no output; every socket dropped without a word."""
        Loop.cancel(self.auto_on)
        self.auto_on = None
        self._cancel_fault_timers()
        self._drop_hold()
        for s in list(self.sockets):
            self.drop_socket(s, report=None)
        self.stop_ping()
        Loop.cancel(self.link.timer)
        self.mode = "off"
        self.busy = False
        self._queued = []
        self.reset_line()
        if discard and self.power_hook is not None:
            self.power_hook("lost")

    def schedule_power_on(self, delay: float) -> None:
        self.auto_on = self.loop.call_later(delay, self.power_on)

    def restart(self, boot_urcs) -> None:
        self.power_off()
        self.schedule_power_on(0.3)

    # ---------------------------------------------------------- basic commands
    def cmd_I_execute(self, m: Match) -> None:
        mod = self.module
        self.info_block([mod.manufacturer, mod.model, f"Revision: {mod.revision}"])
        self.ok()

    def cmd_GMR_test(self, m: Match) -> None:
        self.ok()

    def cmd_CPIN_read(self, m: Match) -> None:
        if not self.sim_on:
            self.error(13)
            return
        self.info("+CPIN: READY")
        self.ok()

    def cmd_CPIN_test(self, m: Match) -> None:
        self.ok()
