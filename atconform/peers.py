"""Network peers on loopback for the default run: TCP echo, UDP echo, NTP and DNS.

Every peer runs on a reactor :class:`~atconform.emulator.runtime.Loop` on a clock: a
:class:`~atconform.clock.RealClock` by default, or the run's
:class:`~atconform.clock.VirtualClock` with the built-in emulator. The loop is a party
of that clock and its sockets are watched descriptors, so virtual time cannot jump while
a datagram or a segment waits to be read or answered (the ``socketserver`` threads these
peers used to be were invisible to the clock). Several peers may share one loop
(``loop=``). NTP packets via ntplib and DNS messages via dnslib. Each peer records what
it received so scenario tests can compare the bytes the peer got with the bytes the host
sent.

DNS choice: a real DNS server on loopback (dnslib) rather than the system resolver with
a hosts map, because the emulated AT+QIDNSGIP then sends real queries to the address
configured with AT+QIDNSCFG, as a modem does, and the answer's TTL is real.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Callable

import dnslib
import ntplib

from atconform.clock import Clock, RealClock
from atconform.emulator.runtime import Loop

HIGH_WATER = 1 << 20        # echo bytes queued for a slow reader before the peer stops reading


class _Peer:
    """A peer on a reactor loop. ``clock``: the loop's clock (default real time);
    ``loop``: share a loop another peer runs (its clock is used, this peer never stops
    it)."""

    def __init__(self, clock: Clock | None = None, loop: Loop | None = None):
        self.loop = loop if loop is not None else Loop(clock or RealClock())
        self.clock = self.loop.clock
        self._own_loop = loop is None
        self._socks: list[socket.socket] = []
        self._sock: socket.socket | None = None

    def _register(self) -> None:
        """On the loop thread: start watching the peer's socket(s)."""
        raise NotImplementedError

    def _notify(self) -> None:
        """What the peer received changed: wake whoever waits on the clock for it."""
        with self.clock.cond:
            self.clock.notify()

    def start(self) -> "_Peer":
        if self._own_loop:
            self.loop.start_thread(type(self).__name__)
        elif self.loop.thread is None:
            raise RuntimeError("a shared loop must be started before its peers")
        self.loop.call(self._register)
        return self

    def stop(self) -> None:
        def shut() -> None:
            for s in list(self._socks):
                self.loop.forget(s)
                s.close()
            self._socks.clear()
        try:
            if self.loop.thread is not None and self.loop.thread.is_alive():
                self.loop.call(shut)
            else:
                shut()
        finally:
            if self._own_loop:
                self.loop.stop()

    @property
    def host(self) -> str:
        return self._sock.getsockname()[0]

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]


class TcpEcho(_Peer):
    """Echoes every byte back on each connection. ``received`` keeps all bytes per
    connection, in order of connection. Non-blocking both ways: what the other end does
    not read yet is queued (up to ``HIGH_WATER`` bytes, then the peer stops reading), so
    the loop never blocks outside the clock."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None,
                 loop: Loop | None = None):
        super().__init__(clock, loop)
        self.received: list[bytearray] = []
        self.lock = threading.Lock()
        self._sock = socket.create_server((host, port))
        self._sock.setblocking(False)
        self._socks.append(self._sock)

    def _register(self) -> None:
        self.loop.add_reader(self._sock, self._accept)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, OSError):
                return
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = bytearray()
            with self.lock:
                self.received.append(buf)
            self._socks.append(conn)
            _EchoConn(self, conn, buf).watch()

    def _close(self, conn: socket.socket) -> None:
        self.loop.forget(conn)
        if conn in self._socks:
            self._socks.remove(conn)
        conn.close()


class _EchoConn:
    """One accepted connection of :class:`TcpEcho` (loop thread only)."""

    def __init__(self, peer: TcpEcho, conn: socket.socket, buf: bytearray):
        self.peer, self.conn, self.buf = peer, conn, buf
        self.out = bytearray()
        self.eof = False

    def watch(self) -> None:
        loop = self.peer.loop
        loop.forget(self.conn)
        if not self.eof and len(self.out) < HIGH_WATER:
            loop.add_reader(self.conn, self._readable)
        if self.out:
            loop.add_writer(self.conn, self._writable)

    def _readable(self) -> None:
        try:
            data = self.conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.eof = True
            if not self.out:
                self.peer._close(self.conn)
                return
        else:
            with self.peer.lock:
                self.buf += data
            self.out += data
            self._flush()
            self.peer._notify()
        if self.conn.fileno() != -1:
            self.watch()

    def _writable(self) -> None:
        self._flush()
        if self.conn.fileno() == -1:
            return
        if self.eof and not self.out:
            self.peer._close(self.conn)
            return
        self.watch()

    def _flush(self) -> None:
        while self.out:
            try:
                n = self.conn.send(self.out)
            except BlockingIOError:
                return
            except OSError:
                self.out.clear()
                self.eof = True
                return
            del self.out[:n]


class _UdpPeer(_Peer):
    """A UDP peer: ``answer(data, addr)`` gives the reply datagram, or None."""

    def __init__(self, host: str, port: int, clock: Clock | None, loop: Loop | None):
        super().__init__(clock, loop)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.setblocking(False)
        self._socks.append(self._sock)

    def _register(self) -> None:
        self.loop.add_reader(self._sock, self._readable)

    def _readable(self) -> None:
        while True:
            try:
                data, addr = self._sock.recvfrom(65536)
            except (BlockingIOError, OSError):
                return
            reply = self.answer(data, addr)
            if reply is not None:
                try:
                    self._sock.sendto(reply, addr)
                except OSError:
                    pass
            self._notify()

    answer: Callable[[bytes, tuple[str, int]], bytes | None]


class UdpEcho(_UdpPeer):
    """Echoes each datagram to its sender; ``received`` lists (data, (ip, port))."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock: Clock | None = None,
                 loop: Loop | None = None):
        super().__init__(host, port, clock, loop)
        self.received: list[tuple[bytes, tuple[str, int]]] = []

    def answer(self, data: bytes, addr: tuple[str, int]) -> bytes:
        self.received.append((data, addr))
        return data


class NtpServer(_UdpPeer):
    """Answers NTP client requests (mode 3) with server mode 4 at stratum 1. ``offset``
    seconds are added to the host's wall clock (the time of day an NTP server gives is
    the world's, also on a virtual run), so a test can tell synced time from local."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, offset: float = 0.0, *,
                 clock: Clock | None = None, loop: Loop | None = None):
        super().__init__(host, port, clock, loop)
        self.offset = offset
        self.requests = 0

    def answer(self, data: bytes, addr: tuple[str, int]) -> bytes | None:
        req = ntplib.NTPPacket()
        try:
            req.from_data(data)
        except ntplib.NTPException:
            return None
        self.requests += 1
        now = ntplib.system_to_ntp_time(time.time() + self.offset)
        resp = ntplib.NTPPacket(version=req.version, mode=4, tx_timestamp=now)
        resp.stratum = 1
        resp.ref_id = int.from_bytes(b"LOCL", "big")
        resp.orig_timestamp = req.tx_timestamp
        resp.recv_timestamp = now
        resp.ref_timestamp = now
        return resp.to_data()


class DnsServer(_UdpPeer):
    """Authoritative for ``names`` (name -> list of IPv4 addresses); NXDOMAIN otherwise."""

    def __init__(self, names: dict[str, list[str]], host: str = "127.0.0.1", port: int = 0, ttl: int = 300, *,
                 clock: Clock | None = None, loop: Loop | None = None):
        super().__init__(host, port, clock, loop)
        self.names = {k.rstrip(".").lower(): v for k, v in names.items()}
        self.ttl = ttl
        self.queries: list[str] = []

    def answer(self, data: bytes, addr: tuple[str, int]) -> bytes | None:
        try:
            q = dnslib.DNSRecord.parse(data)
        except dnslib.DNSError:
            return None
        name = str(q.q.qname).rstrip(".").lower()
        self.queries.append(name)
        r = q.reply()
        addrs = self.names.get(name)
        if addrs is None:
            r.header.rcode = dnslib.RCODE.NXDOMAIN
        else:
            for a in addrs:
                r.add_answer(dnslib.RR(q.q.qname, dnslib.QTYPE.A, rdata=dnslib.A(a), ttl=self.ttl))
        return r.pack()


class ReactorTcpEcho(TcpEcho):
    """:class:`TcpEcho` on ``clock`` given first (the Figure 1 bench's spelling)."""

    def __init__(self, clock, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port, clock=clock)


def shared_loop(clock: Clock, name: str = "peers") -> Loop:
    """A started reactor loop on ``clock`` for several peers (``loop=``); stop it after
    them with ``loop.stop()``."""
    loop = Loop(clock)
    loop.start_thread(name)
    return loop
