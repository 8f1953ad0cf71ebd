"""Network services of the MIP set (seed 004): DNS servers per socket (AT+MSDNS,
AT+MSV6DNS, §1.1.16-17), name resolution (AT+MIPDNS §1.1.21 and every command that takes
a host name), ping (AT+MPING/+MPINGSTAT §1.1.14-15) and NTP (AT+MIPNTP §1.1.22).

Names are resolved over UDP through the socket's servers (socket 7's for ping, DNS and NTP,
L945), else the network's (the emulator's ``dns_host``), never the host OS resolver.
Ping uses real ICMP echo requests (a raw socket: the emulator runs as root or with
net.ipv4.ping_group_range); the RTT is wall time in ms, truncated.
"""
from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Callable

import dnslib
import ntplib

from atconform.emulator.runtime import Loop
from atconform.families.bg96.services import _checksum   # the RFC 1071 checksum, one copy
from atconform.protocol.commands import Match

from .errors import Err

DNS_SOCKETS = range(1, 8)
SERVICE_SOCKET = 7                 # "dedicated to +MPING, +MIPDNS, +MIPNTP" (L945)
DNS_TIMEOUT = 0.9                  # s: AT+MIPDNS is "Sync Mode Yes, < 1s" (L1165)
NTP_TIMEOUT = 10.0
NTP_DEFAULT = ("0.0.0.0", 123)     # AT+MIPNTP? before any request (reading)


def _ip_literal(name: str) -> int | None:
    """4 or 6 for an IPv4/IPv6 literal, None for a name."""
    for fam, v in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        try:
            socket.inet_pton(fam, name)
            return v
        except OSError:
            continue
    return None


@dataclass
class Ping:
    """The one ping request that may run (L800): target, counts, RTTs (ms), timers."""

    ip: str
    count: int
    size: int
    timeout: float
    sent: int = 0
    rtts: list[int] = field(default_factory=list)
    seq: int = 0
    t0: float = 0.0
    timer: list | None = None
    sock: socket.socket | None = None
    ident: int = field(default_factory=lambda: int.from_bytes(os.urandom(2), "big"))


@dataclass
class Services:
    """DNS servers per socket (IPv4 and IPv6; reset at power cycle, kept over link
    down, L906), the running ping and its last parameters, the last NTP server."""

    dns4: dict[int, list[str]] = field(default_factory=lambda: {i: ["", ""] for i in DNS_SOCKETS})
    dns6: dict[int, list[str]] = field(default_factory=lambda: {i: ["", ""] for i in DNS_SOCKETS})
    ping: Ping | None = None
    ping_params: tuple[int, int, int, int, int] = (4, 32, 64, 0, 4000)
    ntp: tuple[str, int] = NTP_DEFAULT


class ServiceCommands:
    """AT+MSDNS, AT+MSV6DNS, AT+MIPDNS, AT+MPING, AT+MIPNTP (a mixin of :class:`~.modem.L610`)."""

    services: Services

    # ------------------------------------------------------------ DNS §1.1.16-1.1.17
    def _dns_read(self, name: str, table: dict[int, list[str]], none: str) -> None:
        for sid in DNS_SOCKETS:
            p, s = table[sid]
            self.info(f'{name}: {sid},"{p or none}","{s or none}"')
        self.ok()

    def _dns_write(self, table: dict[int, list[str]], v: dict) -> None:
        """L947: the socket id alone clears both servers; a server given is set, the
        other kept."""
        entry = table[v["socket_id"]]
        p, s = v.get("primary_dns_server_ip"), v.get("secondary_dns_server_ip")
        if p is None and s is None:
            if not self.defect("msdns-id-only-keeps"):
                entry[:] = ["", ""]
        else:
            entry[0] = p if p is not None else entry[0]
            entry[1] = s if s is not None else entry[1]
        self.ok()

    def cmd_MSDNS_read(self, m: Match) -> None:
        self._dns_read("+MSDNS", self.services.dns4, "0.0.0.0")

    def cmd_MSDNS_write(self, m: Match) -> None:
        self._dns_write(self.services.dns4, m.values)

    def cmd_MSV6DNS_read(self, m: Match) -> None:
        self._dns_read("+MSV6DNS", self.services.dns6, "::")

    def cmd_MSV6DNS_write(self, m: Match) -> None:
        self._dns_write(self.services.dns6, m.values)

    def resolve(self, sid: int, name: str, version: int, done: Callable[[list[str]], None],
                qtypes: tuple[str, ...] | None = None, timeout: float = 60.0) -> None:
        """Addresses of ``name`` (IPv``version``) through socket ``sid``'s servers, else
        the network's; ``done(addrs)`` on the loop, [] when there is none (NXDOMAIN, no
        answer within ``timeout`` s). A literal is its own answer."""
        if _ip_literal(name):
            self.loop.call_later(0, lambda: done([name]))
            return
        servers = [a for a in self.services.dns4[sid] if a] or [self.dns_host]
        dns_lookup(self.loop, name, qtypes or (("AAAA",) if version == 6 else ("A",)), servers, self.dns_port,
                   done, timeout)

    def cmd_MIPDNS_write(self, m: Match) -> None:
        """"+MIPDNS: <domain>,<ip>" per address, then OK (L1151-1156); a name that does not
        resolve in time: ERROR (2002, "TCPIP dns convert to ip fail")."""
        if not self.need_link():
            return
        v = m.values
        name, kind = v["domain_name"], v.get("address_type", 0)
        qtypes = {0: ("A",), 1: ("AAAA",), 2: ("A", "AAAA")}[kind]

        def done(addrs: list[str]) -> None:
            if not addrs:
                self.fail(Err.DNS_FAIL)
                return
            for a in addrs:
                self.info(f"+MIPDNS: {name},{a}")
            self.ok()

        self.resolve(SERVICE_SOCKET, name, 4, done, qtypes, DNS_TIMEOUT)

    # ---------------------------------------------------------- ping §1.1.14-1.1.15
    def cmd_MPING_read(self, m: Match) -> None:
        self.info("+MPING: " + ",".join(map(str, self.services.ping_params)))
        self.ok()

    def cmd_MPING_write(self, m: Match) -> None:
        v = m.values
        sv = self.services
        if v["mode"] == 0:
            if sv.ping is None:
                self.fail(Err.INVALID_OPERATION)     # L802: no ping to abort
                return
            self.ok()
            self._ping_end(2)                        # aborted: no status 0 (L888)
            return
        if not self.need_link():
            return
        if sv.ping is not None:
            self.fail(Err.PING_ERROR)                # L800: one ping at a time
            return
        count, size, ttl, tos, timeout = (v.get(k, d) for k, d in zip(
            ("count", "size", "ttl", "tos", "timeout"), (4, 32, 64, 0, 4000)))
        sv.ping_params = (count, size, ttl, tos, timeout)
        self.ok()
        version = 6 if v["mode"] == 2 else 4

        def resolved(addrs: list[str]) -> None:
            if not addrs:
                self.urc("+MPINGSTAT: 2")            # reading: an unknown host ends the request
                return
            sv.ping = Ping(addrs[0], count, size, timeout / 1000)
            sock = _icmp_socket(version)
            sv.ping.sock = sock
            if sock is not None:
                try:
                    if version == 4:
                        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
                        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
                    else:
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
                except OSError:
                    pass
                self.loop.add_reader(sock, lambda: self._ping_readable(sock))
            self._ping_next()

        self.resolve(SERVICE_SOCKET, v["destination"], version, resolved)

    def _ping_next(self) -> None:
        p = self.services.ping
        if p is None:
            return
        if p.sent >= p.count:
            self._ping_end(0)
            return
        p.seq = (p.seq + 1) & 0xFFFF
        p.sent += 1
        p.t0 = time.monotonic()
        p.timer = self.loop.call_later(p.timeout, self._ping_lost)
        v6 = ":" in p.ip
        hdr_type = 128 if v6 else 8
        payload = (b"atconform-mping-" * (p.size // 16 + 1))[:p.size]
        body = struct.pack("!BBHHH", hdr_type, 0, 0, p.ident, p.seq) + payload
        if not v6:
            body = body[:2] + struct.pack("!H", _checksum(body)) + body[4:]
        try:
            p.sock.sendto(body, (p.ip, 0))
        except (OSError, AttributeError):
            pass                                      # unreachable: the reply never comes

    def _ping_readable(self, sock: socket.socket) -> None:
        try:
            data, (src, *_) = sock.recvfrom(4096)   # read even when no ping is ours any more
        except OSError:
            return
        p = self.services.ping
        if p is None or p.sock is not sock:
            return
        v6 = ":" in p.ip
        if not v6 and p.sock.type == socket.SOCK_RAW:
            data = data[(data[0] & 0x0F) * 4:]
        if len(data) < 8:
            return
        typ, code = data[0], data[1]
        if typ in (8, 128):
            return                                    # our own request (loopback raw socket)
        if typ in (0, 129):
            ident, seq = struct.unpack("!HH", data[4:8])
        else:
            # an ICMP error quotes the request's IP header and first 8 bytes (RFC 792)
            inner = data[8:]
            inner = inner[(inner[0] & 0x0F) * 4:] if inner and not v6 else inner[40:]
            if len(inner) < 8 or inner[0] not in (8, 128):
                return
            ident, seq = struct.unpack("!HH", inner[4:8])
        if seq != p.seq or ident != p.ident or (typ in (0, 129) and src != p.ip):
            return                                    # another request's answer (a raw socket sees all)
        Loop.cancel(p.timer)
        if typ in (0, 129):
            rtt = int((time.monotonic() - p.t0) * 1000)
            p.rtts.append(rtt)
            self.urc(f"+MPING: {src},{0 if not v6 else typ},{code},{rtt}")
        else:
            self.urc(f"+MPING: {src},{typ},{code}")     # an ICMP error: no RTT (L848)
        self.loop.call_later(0, self._ping_next)

    def _ping_lost(self) -> None:
        """No reply within <TimeOUT>: "+MPINGSTAT: 1" and the next request (reading)."""
        self.urc("+MPINGSTAT: 1")
        self._ping_next()

    def stop_ping(self) -> None:
        """Forget a running ping without a word (power loss): its timer and socket go."""
        p, self.services.ping = self.services.ping, None
        if p is not None:
            Loop.cancel(p.timer)
            if p.sock is not None:
                self.loop.forget(p.sock)
                p.sock.close()

    def _ping_end(self, status: int) -> None:
        """The summary (L873-898): <AverageRTT> only when a reply came, its integral part."""
        p, self.services.ping = self.services.ping, None
        if p is None:
            return
        Loop.cancel(p.timer)
        if p.sock is not None:
            self.loop.forget(p.sock)
            p.sock.close()
        recv = len(p.rtts)
        line = f"+MPINGSTAT: {status},{p.ip},{p.sent},{recv}"
        if recv:
            line += f",{sum(p.rtts) // recv}"
        elif self.defect("ping-average-without-reply"):
            line += ",0"
        self.urc(line)

    # ------------------------------------------------------------------ NTP §1.1.22
    def cmd_MIPNTP_read(self, m: Match) -> None:
        ip, port = self.services.ntp
        self.info(f'+MIPNTP: "{ip}",{port}')
        self.ok()

    def cmd_MIPNTP_write(self, m: Match) -> None:
        """OK, then "+MIPNTP: 1" once the local time (AT+CCLK) is set from the server, or
        "+MIPNTP: 0" (L1189-1194)."""
        if not self.need_link():
            return
        v = m.values
        self.services.ntp = (v["remote_ip"], v["remote_port"])
        self.ok()

        def result(ok: bool) -> None:
            self.urc(f"+MIPNTP: {1 if ok else 0}")

        def resolved(addrs: list[str]) -> None:
            if not addrs:
                result(False)
                return
            ntp_query(self.loop, addrs[0], v["remote_port"], lambda t: (t is not None and self._set_utc(t),
                                                                         result(t is not None)))

        self.resolve(SERVICE_SOCKET, v["remote_ip"], 6 if v.get("address_type") == 1 else 4, resolved)

    def _set_utc(self, utc: float) -> None:
        self.general.rtc.set(utc, 0, self.clock.now())
        self.general.rtc.synced = True


def _icmp_socket(version: int) -> socket.socket | None:
    fam, proto = (socket.AF_INET6, socket.IPPROTO_ICMPV6) if version == 6 else (socket.AF_INET, socket.IPPROTO_ICMP)
    for kind in (socket.SOCK_RAW, socket.SOCK_DGRAM):
        try:
            s = socket.socket(fam, kind, proto)
            s.setblocking(False)
            return s
        except OSError:
            continue
    return None


def dns_lookup(loop: Loop, name: str, qtypes: tuple[str, ...], servers: list[str], port: int,
               done: Callable[[list[str]], None], timeout: float) -> None:
    """Addresses of ``name`` for each record type of ``qtypes`` ("A", "AAAA"), asked over
    UDP of every server at once; ``done(addrs)`` once every type has its answer (or the
    ``timeout`` s passed: what came so far)."""
    queries = [(dnslib.DNSRecord.question(name, q), q) for q in qtypes]
    answers: dict[str, list[str]] = {}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    state: dict = {}

    def finish() -> None:
        loop.forget(s)
        Loop.cancel(state.get("timer"))
        s.close()
        done([a for q in qtypes for a in answers.get(q, [])])

    def readable() -> None:
        try:
            r = dnslib.DNSRecord.parse(s.recv(4096))
        except (OSError, dnslib.DNSError):
            return
        for q, qt in queries:
            if r.header.id == q.header.id and qt not in answers:
                answers[qt] = [str(a.rdata) for a in r.rr if dnslib.QTYPE[a.rtype] == qt]
        if len(answers) == len(queries):
            finish()

    for q, _ in queries:
        for server in dict.fromkeys(servers):
            try:
                s.sendto(q.pack(), (server, port))
            except OSError:
                continue
    loop.add_reader(s, readable)
    state["timer"] = loop.call_later(timeout, finish)


def ntp_query(loop: Loop, ip: str, port: int, done: Callable[[float | None], None]) -> None:
    """One NTP (RFC 5905, client mode 3) exchange; ``done(server transmit time, UTC s)``,
    None when no answer comes within :data:`NTP_TIMEOUT` s."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setblocking(False)
    state: dict = {}

    def finish(t: float | None) -> None:
        loop.forget(s)
        Loop.cancel(state.get("timer"))
        s.close()
        done(t)

    def readable() -> None:
        try:
            pkt = ntplib.NTPPacket()
            pkt.from_data(s.recv(1024))
        except (OSError, ntplib.NTPException):
            return
        finish(ntplib.ntp_to_system_time(pkt.tx_timestamp))

    try:
        req = ntplib.NTPPacket(mode=3, version=4, tx_timestamp=ntplib.system_to_ntp_time(time.time()))
        s.sendto(req.to_data(), (ip, port))
    except OSError:
        loop.call_later(0, lambda: finish(None))
        return
    loop.add_reader(s, readable)
    state["timer"] = loop.call_later(NTP_TIMEOUT, lambda: finish(None))
