"""The emulated Quectel BG96 (:class:`Bg96`), composed of its parts."""
from __future__ import annotations

from atconform.emulator.dce import Dce, Defects
from atconform.emulator.faults import FaultPlan
from atconform.emulator.general import GeneralCommands, GeneralState, ModuleConfig
from atconform.emulator.runtime import Loop, Net
from atconform.protocol.commands import Match
from atconform.spec.models import Family

from .config import Config, ConfigCommands
from .contexts import ContextCommands, Contexts
from .datapath import DataPath, DataPathCommands
from .defects import BEHAVIOUR_DEFECTS, UnknownDefect
from .lifecycle import ErrorBook, Lifecycle, PowerState
from .service_commands import ServiceCommands, ServiceState
from .sockets import SocketCommands, SocketTable

# the emulated BG96's identity unless a test gives its own ModuleConfig
BG96_IDENTITY = {"manufacturer": "Quectel", "model": "BG96", "revision": "BG96MAR02A07M1G"}
IDENTITY = ("Quectel", "BG96", "Revision: BG96MAR02A07M1G")   # of the default ModuleConfig
REVISION = "BG96MAR02A07M1G"


class Bg96(Lifecycle, ContextCommands, SocketCommands, DataPathCommands, ConfigCommands, ServiceCommands,
           GeneralCommands, Dce):
    """The BG96 module. Runs on ``loop``'s thread; ``output`` writes bytes to the DTE.

    State lives in parts, each replaced with a fresh one at power-on: ``contexts``
    (:class:`Contexts`), ``sockets`` (:class:`SocketTable`), ``data``
    (:class:`DataPath`), ``config`` (:class:`Config`), ``services``
    (:class:`ServiceState`), ``errors`` (:class:`ErrorBook`); ``power``
    (:class:`PowerState`), the fault plan and the AT&W profile outlive boots; ``general``
    (:class:`~atconform.emulator.general.GeneralState`) holds the 27.007 general
    commands' state, ``module`` (:class:`~atconform.emulator.general.ModuleConfig`) the
    identity and radio model (``module=`` at construction). The command handlers
    (``cmd_<KEY>_<form>``, found by :class:`Dce`) come from the mixin of each part.

    ``dns_port``/``dns_host``: where AT+QIDNSGIP asks when the context has no DNS
    servers configured. ``power_hook("lost")`` is called on a power loss (the front end
    drops output the DTE has not taken), ``power_hook("on")`` at power-on before RDY.
    Raises ValueError for a fault plan naming a command the spec lacks.
    """

    def __init__(self, family: Family, loop: Loop, output, defects: Defects | None = None, *,
                 dns_port: int = 53, dns_host: str = "127.0.0.1", faults: FaultPlan | None = None,
                 power_hook=None, module: ModuleConfig | None = None):
        self.loop = loop
        self.module = module or ModuleConfig(**BG96_IDENTITY)
        self.profile = None
        self.dns_host = dns_host
        self.net = Net(loop)
        self.dns_port = dns_port
        super().__init__(family, output, loop.clock, defects)
        self.power_hook = power_hook
        self.fault_plan: FaultPlan | None = None
        self.power = PowerState()
        self._fresh_state()
        self.set_faults(faults)
        self.power_on(announce=False)

    def _fresh_state(self) -> None:
        """Every part's state at its defaults (power-on)."""
        self.contexts = Contexts()
        self.sockets = SocketTable()
        self.data = DataPath()
        self.config = Config()
        self.services = ServiceState()
        self.errors = ErrorBook()
        self.general = GeneralState()

    def defect(self, name: str) -> bool:
        """Whether the planted behaviour defect ``name`` is on: the one hook all planted
        defects go through. Raises :class:`UnknownDefect` for a name not in
        ``BEHAVIOUR_DEFECTS``."""
        if name not in BEHAVIOUR_DEFECTS:
            raise UnknownDefect(f"BG96 emulator: defect {name!r} is not in BEHAVIOUR_DEFECTS")
        return name in self.defects.behaviour

    # -------------------------------------------------------------- basic commands
    def cmd_I_execute(self, m: Match) -> None:
        # V.250 §6.1.3: one information text, its lines separated by S3 S4
        mod = self.module
        self.info_block([mod.manufacturer, mod.model, f"Revision: {mod.revision}"])
        self.ok()

    def cmd_GMR_test(self, m: Match) -> None:
        self.ok()

    def cmd_CPIN_read(self, m: Match) -> None:
        if self._condition("sim_not_ready") is not None:
            # see SimNotReady: 27.007 §9.2.1 code 14, SIM busy (ERROR under AT+CMEE=0)
            self.fault_fired("sim_not_ready", "AT+CPIN? refused: SIM busy (CME 14)")
            self.error(14)
            return
        if not self.sim_on:
            self.error(13)      # AT+CFUN=0: the SIM is off (27.007 §9.2.1 SIM failure)
            return
        self.info("+CPIN: READY")
        self.ok()

    def cmd_CPIN_test(self, m: Match) -> None:
        self.ok()
