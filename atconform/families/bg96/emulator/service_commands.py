"""AT commands of the network services (manual §2.1.11 ping, §2.1.12 NTP, §2.1.13-2.1.14
DNS); the protocol work is in :mod:`atconform.families.bg96.services`, imported when
first used (it pulls in dnslib and ntplib)."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Callable

from atconform.protocol.commands import Match
from atconform.families.bg96.emulator.errors import Err

NTP_PORT = 123


@dataclass
class ServiceState:
    """The NTP query in progress, as AT+QNTP? reports it: (server, port), or None."""

    ntp_busy: tuple[str, int] | None = None


class ServiceCommands:
    """AT+QIDNSCFG, AT+QIDNSGIP, AT+QPING, AT+QNTP on ``self.services`` (a mixin of
    :class:`~.modem.Bg96`). Each needs its context active (else ERROR, 561); results
    come as URCs."""

    services: ServiceState

    def _accept_service(self, cid: int) -> bool:
        """OK and True when context ``cid`` is active, else ERROR (561) and False; the
        result follows as a URC."""
        if not self._require_active(cid):
            return False
        self.succeed()
        return True

    def resolve(self, cid: int, name: str, done: Callable[[int, list[str], int], None]) -> None:
        """Resolve host ``name`` for context ``cid`` as the module does for AT+QIOPEN,
        AT+QPING, AT+QNTP and AT+QIDNSGIP: over UDP through the context's DNS servers
        (AT+QIDNSCFG, §2.1.13; the emulator's ``dns_host``:``dns_port`` when none is set),
        never the host OS resolver. ``done(err, addrs, ttl)`` on the loop: err 0, 565
        (no such name) or 569 (no answer within §2.1.14's 60 s). IP literals need no
        lookup."""
        from atconform.families.bg96.services import dns_query, is_ip_literal

        if self.defect("dns-bypassed") and not is_ip_literal(name):
            try:    # the planted defect: the host OS resolver, the context's DNS never asked
                addr = socket.getaddrinfo(name, None, socket.AF_INET)[0][4][0]
            except OSError:
                self.loop.call_later(0, lambda: done(Err.DNS_PARSE_FAILED, [], 0))
                return
            self.loop.call_later(0, lambda: done(0, [addr], 0))
            return
        ctx = self.contexts[cid]
        servers = [a for a in ctx.dns if a] or [self.dns_host]
        dns_query(self.loop, name, servers, self.dns_port, done)

    def cmd_QIDNSCFG_write(self, m: Match) -> None:
        v = m.values
        ctx = self.contexts[v["contextID"]]
        if not self._require_active(ctx.cid):
            return
        if m.variant.name == "query":
            self.info(f'+QIDNSCFG: {ctx.cid},"{ctx.dns[0]}","{ctx.dns[1]}"')
        else:
            ctx.dns = (v["pridnsaddr"], v.get("secdnsaddr", ctx.dns[1]))
        self.succeed()

    def cmd_QIDNSGIP_write(self, m: Match) -> None:
        v = m.values
        ctx = self.contexts[v["contextID"]]
        if not self._accept_service(ctx.cid):
            return
        self.resolve(ctx.cid, v["hostname"], self._dns_result)

    def _dns_result(self, err: int, addrs: list[str], ttl: int) -> None:
        if err:
            self.urc(f'+QIURC: "dnsgip",{int(err)},0,0')
            return
        if self.defect("dns-wrong-address"):
            addrs = ["10.255.255.1" for _ in addrs]
        self.urc(f'+QIURC: "dnsgip",0,{len(addrs)},{ttl}')
        for a in addrs:
            self.urc(f'+QIURC: "dnsgip","{a}"')

    def cmd_QPING_write(self, m: Match) -> None:
        from atconform.families.bg96.services import ping

        v = m.values
        if not self._accept_service(v["contextID"]):
            return
        out = self.urc
        if self.defect("ping-summary-inconsistent"):
            def out(text: str) -> None:
                parts = text.split(",")
                if len(parts) == 7:          # the summary: <lost> is the fourth field
                    parts[3] = str(int(parts[3]) + 1)
                self.urc(",".join(parts))

        def resolved(err: int, addrs: list[str], ttl: int) -> None:
            if err:
                out(f"+QPING: {int(err)}")      # §2.1.11: <result> is the chapter 4 code
                return
            ping(self.loop, addrs[0], v.get("timeout", 4), v.get("pingnum", 4), out)

        self.resolve(v["contextID"], v["host"], resolved)

    def cmd_QNTP_write(self, m: Match) -> None:
        from atconform.families.bg96.services import ntp_query

        v = m.values
        if not self._accept_service(v["contextID"]):
            return
        state = self.services
        state.ntp_busy = (v["server"], v.get("port", NTP_PORT))

        def done(err: int, text: str) -> None:
            state.ntp_busy = None
            if text and self.defect("ntp-time-skewed"):
                text = text[:11] + f"{(int(text[11:13]) + 1) % 24:02d}" + text[13:]
            if text and v.get("autosettime", 1) and not self.defect("cclk-ignores-qntp"):
                self.set_network_time(text)     # <autosettime> 1: AT+CCLK?/AT+QLTS read it
            self.urc(f'+QNTP: {int(err)},"{text}"' if not err else f"+QNTP: {int(err)}")

        def resolved(err: int, addrs: list[str], ttl: int) -> None:
            if err:
                done(err, "")
                return
            ntp_query(self.loop, addrs[0], v.get("port", NTP_PORT), done)

        self.resolve(v["contextID"], v["server"], resolved)

    def cmd_QNTP_read(self, m: Match) -> None:
        busy = self.services.ntp_busy
        if busy:
            self.info(f'+QNTP: "{busy[0]}",{busy[1]}')
        self.succeed()
