"""Network peers on loopback for the default run: TCP echo, UDP echo, NTP and DNS.

Built on the standard library's ``socketserver`` (threads); NTP packets via ntplib and
DNS messages via dnslib. Each peer records what it received so scenario tests can
compare the bytes the peer got with the bytes the host sent.

DNS choice: a real DNS server on loopback (dnslib) rather than the system resolver with
a hosts map, because the emulated AT+QIDNSGIP then sends real queries to the address
configured with AT+QIDNSCFG, as a modem does, and the answer's TTL is real.
"""
from __future__ import annotations

import socket
import socketserver
import threading
import time

import dnslib
import ntplib


class _Peer:
    server: socketserver.BaseServer

    def start(self) -> "_Peer":
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def host(self) -> str:
        return self.server.server_address[0]

    @property
    def port(self) -> int:
        return self.server.server_address[1]


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class TcpEcho(_Peer):
    """Echoes every byte back on each connection. ``received`` keeps all bytes per
    connection, in order of connection."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.received: list[bytearray] = []
        self.lock = threading.Lock()
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                buf = bytearray()
                with peer.lock:
                    peer.received.append(buf)
                while True:
                    try:
                        data = self.request.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buf += data
                    self.request.sendall(data)

        self.server = _TCPServer((host, port), Handler)


class UdpEcho(_Peer):
    """Echoes each datagram to its sender; ``received`` lists (data, (ip, port))."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.received: list[tuple[bytes, tuple[str, int]]] = []
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                peer.received.append((data, self.client_address))
                sock.sendto(data, self.client_address)

        self.server = socketserver.UDPServer((host, port), Handler)


class NtpServer(_Peer):
    """Answers NTP client requests (mode 3) with server mode 4 at stratum 1. ``offset``
    seconds are added to the host clock, so a test can tell synced time from local."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, offset: float = 0.0):
        self.offset = offset
        self.requests = 0
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                req = ntplib.NTPPacket()
                try:
                    req.from_data(data)
                except ntplib.NTPException:
                    return
                peer.requests += 1
                now = ntplib.system_to_ntp_time(time.time() + peer.offset)
                resp = ntplib.NTPPacket(version=req.version, mode=4, tx_timestamp=now)
                resp.stratum = 1
                resp.ref_id = int.from_bytes(b"LOCL", "big")
                resp.orig_timestamp = req.tx_timestamp
                resp.recv_timestamp = now
                resp.ref_timestamp = now
                sock.sendto(resp.to_data(), self.client_address)

        self.server = socketserver.UDPServer((host, port), Handler)


class DnsServer(_Peer):
    """Authoritative for ``names`` (name -> list of IPv4 addresses); NXDOMAIN otherwise."""

    def __init__(self, names: dict[str, list[str]], host: str = "127.0.0.1", port: int = 0, ttl: int = 300):
        self.names = {k.rstrip(".").lower(): v for k, v in names.items()}
        self.ttl = ttl
        self.queries: list[str] = []
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                try:
                    q = dnslib.DNSRecord.parse(data)
                except dnslib.DNSError:
                    return
                name = str(q.q.qname).rstrip(".").lower()
                peer.queries.append(name)
                r = q.reply()
                addrs = peer.names.get(name)
                if addrs is None:
                    r.header.rcode = dnslib.RCODE.NXDOMAIN
                else:
                    for a in addrs:
                        r.add_answer(dnslib.RR(q.q.qname, dnslib.QTYPE.A, rdata=dnslib.A(a), ttl=peer.ttl))
                sock.sendto(r.pack(), self.client_address)

        self.server = socketserver.UDPServer((host, port), Handler)


class ReactorTcpEcho:
    """TCP echo peer on its own reactor :class:`~atconform.emulator.runtime.Loop`.

    For virtual-clock runs: the loop is a party of the clock, so time cannot jump while
    a segment is being echoed (the ``socketserver`` threads above are invisible to the
    clock). Same ``received``/``host``/``port`` as :class:`TcpEcho`."""

    def __init__(self, clock, host: str = "127.0.0.1", port: int = 0):
        from atconform.emulator.runtime import Loop
        self.loop = Loop(clock)
        self.received: list[bytearray] = []
        self.lock = threading.Lock()
        self._srv = socket.create_server((host, port))
        self._srv.setblocking(False)
        self._conns: list[socket.socket] = []

    @property
    def host(self) -> str:
        return self._srv.getsockname()[0]

    @property
    def port(self) -> int:
        return self._srv.getsockname()[1]

    def start(self) -> "ReactorTcpEcho":
        self.loop.start_thread("echo-peer")
        self.loop.call(lambda: self.loop.add_reader(self._srv, self._accept))
        return self

    def _accept(self) -> None:
        try:
            conn, _ = self._srv.accept()
        except BlockingIOError:
            return
        conn.setblocking(True)   # loopback: an echo of what was just read fits the buffer
        buf = bytearray()
        with self.lock:
            self.received.append(buf)
        self._conns.append(conn)
        self.loop.add_reader(conn, lambda: self._readable(conn, buf))

    def _readable(self, conn: socket.socket, buf: bytearray) -> None:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.loop.forget(conn)
            conn.close()
            return
        with self.lock:
            buf += data
        try:
            conn.sendall(data)
        except OSError:
            pass

    def stop(self) -> None:
        def shut() -> None:
            for c in [self._srv, *self._conns]:
                self.loop.forget(c)
                c.close()
        try:
            self.loop.call(shut)
        finally:
            self.loop.stop()
