"""The TCP/IP stack's state (GSM TCPIP Application Note, seed 003): two contexts (§7,
AT+QIFGCNT), each with its Figure 3/4 state, its six connection indexes and its listener.

The state machine is the spec's (``state_machines`` in specs/quectel_gsm.yaml, Figures 3
and 4 as data): :meth:`Context.fire` looks the next state up there and raises
:class:`IllegalStackTransition` for an event the figure does not draw from the current
state. Which figure applies follows AT+QIMUX (``settings`` of each machine).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field

from atconform.protocol.commands import settings_hold
from atconform.spec.models import Family, StateMachine

INDEXES = range(6)           # §3.3 L255: "The index of profile is 0~5"
MAX_SEND = 1460              # §3.1 L164: "The maximum length of the data is 1460"


class IllegalStackTransition(RuntimeError):
    """An event the context's figure has no arrow for from its state (an emulator bug)."""


@dataclass
class Connection:
    """One TCP or UDP connection at index ``index`` (0-5). ``role`` "client" (AT+QIOPEN)
    or "server" (accepted by the listener). Counters are bytes since it opened."""

    index: int
    protocol: str                         # "TCP" or "UDP"
    remote_ip: str
    remote_port: int
    role: str = "client"
    sock: socket.socket | None = None
    state: str = "CONNECTING"             # +QISTATE <conn_state>: CONNECTING, CONNECTED, CLOSING
    sent: int = 0
    received: int = 0
    lost: int = 0                         # bytes "sent" into a dead (half-open) link
    rx: bytearray = field(default_factory=bytearray)                       # QINDI / transparent hold
    datagrams: list[bytes] = field(default_factory=list)                  # UDP held for AT+QIRD
    qirdi_pending: bool = False           # +QIRDI said, buffer not yet read empty
    transparent: bool = False
    half_open: bool = False


@dataclass
class Listener:
    """AT+QISERVER's listening socket: ``protocol`` TCP/UDP, ``max_clients`` (§3.4 L279)."""

    protocol: str
    max_clients: int
    sock: socket.socket | None = None
    port: int = 0
    udp_clients: dict[tuple[str, int], int] = field(default_factory=dict)   # address -> index


@dataclass
class Context:
    """A GPRS context (§7.1: "two GPRS PDP contexts at the same time"): ``cid`` 0/1, its
    APN (AT+QICSGP), local address once active, DNS servers (AT+QIDNSCFG; none: the ones
    negotiated at activation, §8.2 L771), the stack state, connections and listener."""

    cid: int
    machine_of: "callable"
    apn: str = ""
    bearer: int = 1
    active: bool = False
    ip: str = ""
    dns: tuple[str, str] = ("", "")
    state: str = "IP INITIAL"
    conns: dict[int, Connection] = field(default_factory=dict)
    listener: Listener | None = None

    # -- the 27.007 view (general.py's PdpContext) ----------------------------------
    @property
    def pdp_type(self) -> str:
        return "IP"

    @property
    def defined(self) -> bool:
        return True

    # -- Figures 3-4 --------------------------------------------------------------
    def machine(self) -> StateMachine:
        return self.machine_of()

    def fire(self, event: str) -> str:
        """Move to the state the figure gives for ``event``; returns it. Raises
        IllegalStackTransition when the current state has no such arrow."""
        nxt = self.machine().next(self.state, event)
        if nxt is None:
            raise IllegalStackTransition(f"context {self.cid}: {event!r} is not allowed in {self.state!r} "
                                         f"({self.machine().name} connection figure)")
        self.state = nxt
        return nxt

    def may(self, event: str) -> bool:
        return self.machine().next(self.state, event) is not None

    def allowed(self, command: str) -> bool:
        """The figure's reading of which states accept ``command`` (spec ``allows``)."""
        return self.machine().allowed(command, self.state)

    # -- connections --------------------------------------------------------------
    def free_indexes(self) -> list[int]:
        return [i for i in INDEXES if i not in self.conns]

    def capacity_left(self) -> int:
        """Connections that may still open: six indexes, a listener takes one (reading of
        the capacity conflict, spec notes (2): n + m <= 5 with a server)."""
        return len(INDEXES) - len(self.conns) - (1 if self.listener is not None else 0)

    def client(self) -> Connection | None:
        return next((c for c in self.conns.values() if c.role == "client"), None)

    def served(self) -> Connection | None:
        return next((c for c in self.conns.values() if c.role == "server"), None)


def machine_for(family: Family, settings: dict) -> StateMachine:
    """The figure in force under ``settings`` (AT+QIMUX: Figure 3 or 4)."""
    for m in family.state_machines:
        if settings_hold(m.settings, settings):
            return m
    raise LookupError(f"no state machine for settings {settings}")
