"""The wireless link (seed 004 §1.1.1, AT+MIPCALL) and the PDP contexts behind it, which
the shared 27.007 commands (AT+CGDCONT/CGACT/CGATT/CGPADDR) see too.

The MIP set has one link: AT+MIPCALL activates a context (``<cid>``, or 1 with an
``<APN>``) and the module gets a local address; every socket runs on it. Times are on the
DCE's clock, in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from atconform.protocol.commands import Match

LOCAL_IP = "127.0.0.1"            # the address the network gives: loopback, where the peers are
LOCAL_IPV6 = "::1"
CIDS = range(1, 17)
ACTIVATE_TIME = 0.5               # s until "+MIPCALL: <ip>" (L124: up to 30 s)
DEACTIVATE_TIME = 0.2             # s until "+MIPCALL: 0"

STATUS_DISCONNECTED, STATUS_CONNECTED, STATUS_BUSY = 0, 1, 2


@dataclass
class Context:
    """A PDP context (27.007 §10.1.1): defined by AT+CGDCONT, active while the link runs on it."""

    cid: int
    pdp_type: str = "IP"
    apn: str = ""
    defined: bool = False
    active: bool = False

    @property
    def ip(self) -> str:
        return LOCAL_IP if self.active else "0.0.0.0"


def _contexts() -> dict[int, Context]:
    out = {c: Context(c) for c in CIDS}
    out[1].defined = True          # context 1 is defined at boot (its APN: the network's default)
    return out


@dataclass
class Link:
    """AT+MIPCALL state: <status> 0 disconnected, 1 connected, 2 busy (§1.1.1.4); the
    context it runs on; the addresses it got (IPv4, IPv6 by <operation>)."""

    contexts: dict[int, Context] = field(default_factory=_contexts)
    status: int = STATUS_DISCONNECTED
    cid: int | None = None
    operation: int = 0
    timer: list | None = None

    @property
    def up(self) -> bool:
        return self.status == STATUS_CONNECTED

    def addresses(self) -> tuple[str | None, str | None]:
        """(IPv4, IPv6) of the link by <operation>: 1 IPv4, 2 IPv6, 3 both."""
        if not self.up:
            return None, None
        return (LOCAL_IP if self.operation in (1, 3) else None,
                LOCAL_IPV6 if self.operation in (2, 3) else None)


class LinkCommands:
    """AT+MIPCALL and the PDP hooks of :class:`~atconform.emulator.general.GeneralCommands`
    (a mixin of :class:`~.modem.L610`)."""

    link: Link

    # -- PDP hooks of the general commands ---------------------------------------------
    def pdp_contexts(self):
        return self.link.contexts.values()

    def pdp_activate(self, cid: int) -> bool:
        if not self.link.contexts[cid].defined or not self.registered:
            return False
        if not self.link.up:
            self._link_up(cid, 1)
        return self.link.cid == cid

    def pdp_deactivate(self, cid: int) -> None:
        if self.link.cid == cid and self.link.status != STATUS_DISCONNECTED:
            self._link_down(announce=True)

    def pdp_define(self, cid: int, pdp_type: str | None, apn: str = "") -> None:
        ctx = self.link.contexts[cid]
        ctx.defined = pdp_type is not None
        ctx.pdp_type, ctx.apn = pdp_type or "IP", apn

    # -- AT+MIPCALL §1.1.1 --------------------------------------------------------------
    def cmd_MIPCALL_read(self, m: Match) -> None:
        ip4, ip6 = self.link.addresses()
        addrs = [a for a in (ip4, ip6) if a]
        self.info("+MIPCALL: " + ",".join([str(self.link.status), *addrs]))
        self.ok()

    def cmd_MIPCALL_write(self, m: Match) -> None:
        """OK at once, "+MIPCALL: <ip>[,<ipv6>]" or "+MIPCALL: 0" after (L106-113). While
        an activation or deactivation runs (status 2) the command has no abort (L123):
        ERROR (reading)."""
        v = m.values
        if self.link.status == STATUS_BUSY:
            self.fail(None)
            return
        op = v["operation"]
        self.ok()
        if op == 0:
            self.link.status = STATUS_BUSY if self.link.up else STATUS_DISCONNECTED
            self.link.timer = self.loop.call_later(DEACTIVATE_TIME, lambda: self._link_down(announce=True))
            return
        if self.link.up:
            self._announce_link()          # reading: already up, the addresses again
            return
        cid = v.get("cid", 1)
        ctx = self.link.contexts[cid]
        if not ctx.defined or not self.registered:
            self.loop.call_later(ACTIVATE_TIME, lambda: self._mipcall_line("+MIPCALL: 0"))
            return
        if "apn" in v:
            ctx.apn = v["apn"]
        self.link.status = STATUS_BUSY
        self.link.timer = self.loop.call_later(ACTIVATE_TIME, lambda: self._link_up(cid, op, announce=True))

    def _mipcall_line(self, text: str) -> None:
        if not self.defect("mipcall-line-missing"):
            self.urc(text)

    def _announce_link(self) -> None:
        ip4, ip6 = self.link.addresses()
        self._mipcall_line("+MIPCALL: " + ",".join(a for a in (ip4, ip6) if a))

    def _link_up(self, cid: int, operation: int, announce: bool = False) -> None:
        link = self.link
        link.status, link.cid, link.operation, link.timer = STATUS_CONNECTED, cid, operation, None
        link.contexts[cid].active = True
        self.general.attached = True
        if announce:
            self._announce_link()

    def _link_down(self, announce: bool) -> None:
        """The link is released: every socket goes (with its +MIPSTAT), then "+MIPCALL: 0"."""
        link = self.link
        self.cancel_timer(link.timer)
        link.timer = None
        for s in list(self.sockets):
            self.drop_socket(s, report=1)
        if link.cid is not None:
            link.contexts[link.cid].active = False
        if self.defect("mipconf-lost-on-link-down"):
            self.stackconf = {sid: type(c)() for sid, c in self.stackconf.items()}
        link.status, link.cid, link.operation = STATUS_DISCONNECTED, None, 0
        if announce:
            self._mipcall_line("+MIPCALL: 0")

    def need_link(self) -> bool:
        """True when the link is up; else ERROR (2031, "TCPIP mipcall not active") and False."""
        if self.link.up:
            return True
        from .errors import Err
        self.fail(Err.MIPCALL_NOT_ACTIVE)
        return False
