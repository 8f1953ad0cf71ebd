"""PDP contexts (manual §2.1.1-2.1.3: AT+QICSGP, AT+QIACT, AT+QIDEACT; §2.2.5 the
network's "pdpdeact")."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from atconform.protocol.commands import Match

from .errors import Err

CONTEXT_IDS = range(1, 17)       # §2.1.1 <contextID> 1-16
MAX_ACTIVE_CONTEXTS = 3          # §2.1.2 "supports three PDP contexts activated simultaneously"
PDP_TYPES = {1: "IP", 2: "IPV6", 3: "IPV4V6"}   # AT+QICSGP <context_type> -> AT+CGDCONT <PDP_type>


@dataclass
class Context:
    """A PDP context (§2.1.1-2.1.3): its AT+QICSGP configuration, whether it is active,
    and its DNS servers (§2.1.13, dotted IPv4 text; ``""`` for none)."""

    cid: int
    context_type: int = 1            # 1 IPv4, 2 IPv6
    apn: str = ""
    username: str = ""
    password: str = ""
    authentication: int = 0          # 0 none, 1 PAP, 2 CHAP, 3 PAP or CHAP
    active: bool = False
    dns: tuple[str, str] = ("", "")  # primary, secondary
    defined: bool = False            # configured (AT+QICSGP, AT+CGDCONT); context 1 is at boot
    pdp_type: str = "IP"             # AT+CGDCONT <PDP_type> (27.007 §10.1.1)

    @property
    def ip(self) -> str:
        # each context gets its own loopback address, so sockets of different contexts
        # are really bound apart
        return f"127.0.0.{self.cid}"


@dataclass
class Contexts:
    """The module's 16 contexts, by <contextID>. ``contexts[cid]`` raises KeyError
    outside 1-16 (the spec's range keeps those lines from reaching a handler)."""

    by_cid: dict[int, Context] = field(default_factory=lambda: {cid: Context(cid, defined=cid == 1) for cid in CONTEXT_IDS})

    def __getitem__(self, cid: int) -> Context:
        return self.by_cid[cid]

    def __iter__(self) -> Iterator[Context]:
        return iter(self.by_cid.values())

    def active_count(self) -> int:
        return sum(c.active for c in self)


class ContextCommands:
    """AT+QICSGP, AT+QIACT, AT+QIDEACT and the network's deactivation, on ``self.contexts``
    (a mixin of :class:`~.modem.Bg96`)."""

    contexts: Contexts

    def cmd_QICSGP_write(self, m: Match) -> None:
        v, ctx = m.values, self.contexts[m.values["contextID"]]
        if m.variant.name == "query":
            self.info(f'+QICSGP: {ctx.context_type},"{ctx.apn}","{ctx.username}","{ctx.password}",{ctx.authentication}')
        else:
            ctx.context_type = v["context_type"]
            ctx.apn = v["APN"]
            ctx.username = v.get("username", "")
            ctx.password = v.get("password", "")
            ctx.authentication = v.get("authentication", 0)
            ctx.defined = True
            ctx.pdp_type = PDP_TYPES.get(ctx.context_type, "IP")
        self.succeed()

    def cmd_QIACT_read(self, m: Match) -> None:
        for ctx in self.contexts:
            if ctx.active and not self.defect("context-not-listed"):
                self.info(f'+QIACT: {ctx.cid},1,{1 if ctx.context_type != 2 else 2},"{ctx.ip}"')
        self.succeed()

    def cmd_QIACT_write(self, m: Match) -> None:
        ctx = self.contexts[m.values["contextID"]]
        # reading: activating an active context, or a fourth one, fails with 561
        if ctx.active or self.contexts.active_count() >= MAX_ACTIVE_CONTEXTS:
            self.fail(Err.OPEN_PDP_CONTEXT_FAILED)
            return
        # activation attaches to the packet domain first (27.007 §10.1.10); with RF off
        # (AT+CFUN=0/4) or deregistered (AT+COPS=2) there is no network: 561
        if not self.attach():
            self.fail(Err.OPEN_PDP_CONTEXT_FAILED)
            return
        self._activate(ctx)
        self.succeed()

    def _activate(self, ctx: Context) -> None:
        ctx.active = True
        ctx.defined = True
        if not any(ctx.dns):
            # the network hands out DNS servers on activation; here: the emulator's own
            ctx.dns = (self.dns_host, self.dns_host)

    def cmd_QIDEACT_write(self, m: Match) -> None:
        self._deactivate(self.contexts[m.values["contextID"]])
        self.succeed()

    def _deactivate(self, ctx: Context) -> None:
        # §2.1.3: "deactivate the specific context and close all TCP/IP connections"
        for s in self.sockets.of_context(ctx.cid):
            self._drop_socket(s)
        ctx.active = False

    def network_deactivate(self, cid: int) -> None:
        """The network drops context ``cid`` (1-16; §2.2.5): its sockets go to Closing,
        ``+QIURC: "pdpdeact",<cid>`` to the DTE. Nothing happens when it is not active.
        Raises KeyError for a cid outside 1-16."""
        ctx = self.contexts[cid]
        if not ctx.active:
            return
        for s in self.sockets.of_context(cid):
            self._socket_error_close(s)
        ctx.active = False
        if not self.defect("no-pdpdeact-urc"):
            self.urc(f'+QIURC: "pdpdeact",{cid}')

    # ---- PDP hooks of atconform.emulator.general (AT+CGACT, +CGATT, +CGDCONT, +CGPADDR)
    def pdp_contexts(self) -> Iterator[Context]:
        return iter(self.contexts)

    def pdp_activate(self, cid: int) -> bool:
        ctx = self.contexts[cid]
        if ctx.active:
            return True
        if self.contexts.active_count() >= MAX_ACTIVE_CONTEXTS:
            return False
        self._activate(ctx)
        return True

    def pdp_deactivate(self, cid: int) -> None:
        self._deactivate(self.contexts[cid])

    def pdp_define(self, cid: int, pdp_type: str | None, apn: str = "") -> None:
        ctx = self.contexts[cid]
        if pdp_type is None:                 # AT+CGDCONT=<cid>: undefined (27.007 §10.1.1)
            self.contexts.by_cid[cid] = Context(cid)
            return
        ctx.defined, ctx.pdp_type, ctx.apn = True, pdp_type, apn
        ctx.context_type = {"IPV6": 2, "IPV4V6": 3}.get(pdp_type, 1)

    def _require_active(self, cid: int) -> bool:
        """False, after ERROR with <err> 561, when context ``cid`` is not active."""
        if not self.contexts[cid].active:
            self.fail(Err.OPEN_PDP_CONTEXT_FAILED)   # reading: the context must be activated first (§2.1.11-2.1.14)
            return False
        return True
