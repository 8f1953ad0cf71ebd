"""Network services the emulated modem performs with real packets: DNS (§2.1.14), ping
(§2.1.11) and NTP (§2.1.12). Each is non-blocking on the emulator's loop and reports
with BG96 error codes (chapter 4).

Packet formats come from kept libraries: dnslib for DNS, ntplib for NTP. Ping uses an
ICMP datagram ("ping") socket where the kernel allows it (net.ipv4.ping_group_range),
else a raw ICMP socket (root); where neither is allowed it uses a documented stand-in:
the round trip of a TCP connection attempt to port 7 (echo), whose SYN is answered by
SYN-ACK or RST, so a reachable host still gives a time.
"""
from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass
from typing import Callable

import dnslib
import ntplib

from atconform.emulator.runtime import Loop
from atconform.families.bg96.emulator.errors import Err


@dataclass
class _Pending:
    """A query awaiting its answer: the timeout's Loop handle."""

    timer: list | None = None


@dataclass
class _PingRun:
    """One AT+QPING run: echo requests sent (the last one's sequence number and
    monotonic send time, seconds), the reply timeout's Loop handle, and the TCP socket
    of the port-7 stand-in while one is connecting."""

    seq: int = 0
    sent: int = 0
    timer: list | None = None
    t0: float = 0.0
    tcp: socket.socket | None = None


# §2.1.14: "it will take at most 60 seconds to return the result"; a lookup no server
# answers in that time fails with 569 (operation timeout, chapter 4).
DNS_TIMEOUT = 60.0


def is_ip_literal(name: str) -> bool:
    """``name`` is a dotted IPv4 or an IPv6 address, which needs no lookup."""
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(fam, name)
            return True
        except OSError:
            continue
    return False


def dns_query(loop: Loop, name: str, servers: list[str], port: int,
              done: Callable[[int, list[str], int], None], timeout: float = DNS_TIMEOUT) -> None:
    """Resolve ``name`` (A records) over UDP through ``servers`` (addresses, port ``port``),
    never through the host's resolver; ``done(err, addrs, ttl)`` on the loop with err 0,
    565 (DNS parse failed: NXDOMAIN or no A record, chapter 4) or 569 (operation timeout:
    no server answered within ``timeout`` seconds, §2.1.14's 60 s by default). An IP
    literal is its own answer. The query goes to every distinct server at once (primary
    and secondary of AT+QIDNSCFG); the first answer decides."""
    if is_ip_literal(name):
        loop.call_later(0, lambda: done(0, [name], 0))
        return
    q = dnslib.DNSRecord.question(name, "A")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    state = _Pending()

    def finish(err: int, addrs: list[str], ttl: int) -> None:
        loop.forget(s)
        Loop.cancel(state.timer)
        s.close()
        done(err, addrs, ttl)

    def readable() -> None:
        try:
            data = s.recv(4096)
            r = dnslib.DNSRecord.parse(data)
        except (OSError, dnslib.DNSError):
            return      # an ICMP error or a stray datagram: wait for another server
        if r.header.id != q.header.id:
            return
        addrs = [str(a.rdata) for a in r.rr if a.rtype == dnslib.QTYPE.A]
        if not addrs:
            finish(Err.DNS_PARSE_FAILED, [], 0)
        else:
            finish(0, addrs, min(a.ttl for a in r.rr if a.rtype == dnslib.QTYPE.A))

    sent = 0
    for server in dict.fromkeys(a for a in servers if a and is_ip_literal(a)):
        try:
            s.sendto(q.pack(), (server, port))
            sent += 1
        except OSError:
            continue    # unreachable server: the others (or the timeout) decide
    loop.add_reader(s, readable)
    # no server that takes a datagram: the lookup still ends after the manual's time
    state.timer = loop.call_later(timeout, lambda: finish(Err.OPERATION_TIMEOUT, [], 0))


def _icmp_socket() -> tuple[socket.socket | None, str]:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
        try:
            return socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP), ("dgram" if kind == socket.SOCK_DGRAM else "raw")
        except OSError:
            continue
    return None, "tcp"


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(loop: Loop, ip: str, timeout: int, count: int, urc: Callable[[str], None]) -> None:
    """Ping address ``ip`` (resolved by the caller through the modem's DNS) ``count``
    times, each waiting up to ``timeout`` s, writing the per-reply lines and the summary
    as ``+QPING`` URCs (§2.1.11, example §3.7)."""
    sock, kind = _icmp_socket()
    ident = os.getpid() & 0xFFFF
    times: list[int] = []
    st = _PingRun()
    payload = b"atconform-ping-".ljust(32, b".")

    def summary() -> None:
        if sock:
            loop.forget(sock)
            sock.close()
        rcvd = len(times)
        if rcvd:
            urc(f"+QPING: 0,{st.sent},{rcvd},{st.sent - rcvd},{min(times)},{max(times)},{sum(times) // rcvd}")
        else:
            urc(f"+QPING: {Err.OPERATION_TIMEOUT:d},{st.sent},0,{st.sent},0,0,0")

    def next_ping() -> None:
        if st.sent >= count:
            summary()
            return
        st.seq += 1
        st.sent += 1
        st.t0 = time.monotonic()
        st.timer = loop.call_later(timeout, lost)
        if kind == "tcp":
            tcp_probe()
            return
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, st.seq)
        pkt = struct.pack("!BBHHH", 8, 0, _checksum(hdr + payload), ident, st.seq) + payload
        try:
            sock.sendto(pkt, (ip, 0))
        except OSError:
            pass

    def replied(ttl: int) -> None:
        Loop.cancel(st.timer)
        ms = max(1, int((time.monotonic() - st.t0) * 1000))
        times.append(ms)
        urc(f'+QPING: 0,"{ip}",{len(payload)},{ms},{ttl}')
        loop.call_later(0, next_ping)

    def lost() -> None:
        urc(f"+QPING: {Err.OPERATION_TIMEOUT:d}")
        if st.tcp is not None:
            loop.forget(st.tcp)
            st.tcp.close()
            st.tcp = None
        next_ping()

    def readable() -> None:
        try:
            data, _ = sock.recvfrom(2048)
        except OSError:
            return
        ttl = 64
        if kind == "raw":
            ihl = (data[0] & 0x0F) * 4
            ttl = data[8]
            data = data[ihl:]
        if len(data) < 8 or data[0] != 0:
            return
        seq = struct.unpack("!H", data[6:8])[0]
        if kind == "raw" and struct.unpack("!H", data[4:6])[0] != ident:
            return
        if seq == st.seq:
            replied(ttl)

    def tcp_probe() -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        st.tcp = s
        try:
            s.connect((ip, 7))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            st.tcp = None
            loop.call_later(0, lambda: replied(64))
            return

        def done() -> None:
            loop.forget(s)
            s.close()
            st.tcp = None
            replied(64)

        loop.add_writer(s, done)

    if sock is not None:
        sock.setblocking(False)
        loop.add_reader(sock, readable)
    loop.call_later(0, next_ping)


def ntp_query(loop: Loop, ip: str, port: int, done: Callable[[int, str], None], timeout: float = 10.0) -> None:
    """One NTP (RFC 5905, client mode 3) exchange with address ``ip`` (resolved by the
    caller through the modem's DNS); ``done(err, "YYYY/MM/DD,hh:mm:ss+zz")`` with the
    server's transmit time in UTC (zz = 0 quarter hours), err 569 on timeout."""
    addr = (ip, port)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    req = ntplib.NTPPacket(mode=3, version=4, tx_timestamp=ntplib.system_to_ntp_time(time.time()))
    st = _Pending()

    def finish(err: int, text: str) -> None:
        loop.forget(s)
        Loop.cancel(st.timer)
        s.close()
        done(err, text)

    def readable() -> None:
        try:
            data = s.recv(1024)
            pkt = ntplib.NTPPacket()
            pkt.from_data(data)
        except (OSError, ntplib.NTPException):
            return
        t = ntplib.ntp_to_system_time(pkt.tx_timestamp)
        finish(0, time.strftime("%Y/%m/%d,%H:%M:%S", time.gmtime(t)) + "+00")

    try:
        s.sendto(req.to_data(), addr)
    except OSError:
        loop.call_later(0, lambda: finish(Err.SOCKET_CONNECT_FAILED, ""))
        return
    loop.add_reader(s, readable)
    st.timer = loop.call_later(timeout, lambda: finish(Err.OPERATION_TIMEOUT, ""))
