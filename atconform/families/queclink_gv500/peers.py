"""Backend servers for the GV500 scenarios: TCP listeners the unit connects to, on the
link's clock (a reactor :class:`~atconform.emulator.runtime.Loop`), so a scenario waits
the same way on real and on virtual time.

A :class:`BackendPeer` holds its port from the start. It *refuses* connections (bound,
not listening: the kernel answers RST, a failed connection for the unit) until
:meth:`~BackendPeer.listen`; :meth:`~BackendPeer.drop` closes every connection it
accepted (a disconnection for the unit). Each accepted connection is recorded with its
source port, which is what ``Server Port|Local Port`` sets (seed 000 L119).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass

from atconform.emulator.runtime import Loop


@dataclass
class Connection:
    """One connection the peer accepted: virtual or real clock time (s), the unit's
    source address and port, and whether the unit has closed it."""

    at: float
    source: str
    source_port: int
    closed_by_unit: bool = False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (for a local port the emulator will bind)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class BackendPeer:
    """A backend server at ``host``:``port`` (0: a free port), refusing until
    :meth:`listen`. ``bind`` is the local address to bind (default ``host``)."""

    def __init__(self, clock, name: str, host: str = "127.0.0.1", port: int = 0, bind: str | None = None):
        self.clock = clock
        self.name = name
        self.host = host
        self.bind_host = bind or host
        self.loop = Loop(clock)
        self.connections: list[Connection] = []
        self._conns: list[tuple[socket.socket, Connection]] = []
        self._sock = self._bound(port)
        self.port = self._sock.getsockname()[1]
        self.listening = False
        self.loop.start_thread(f"backend-{name}")

    def _bound(self, port: int) -> socket.socket:
        s = socket.socket(socket.AF_INET6 if ":" in self.bind_host else socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.bind_host, port))
        s.setblocking(False)
        return s

    # -- control (any thread) ---------------------------------------------------------
    def listen(self) -> None:
        """Accept connections from now on."""
        def go() -> None:
            self._sock.listen(8)
            self.listening = True
            self.loop.add_reader(self._sock, self._accept)
        self.loop.call(go)

    def refuse(self) -> None:
        """Refuse new connections (the port stays reserved); accepted ones stay open."""
        def go() -> None:
            self.loop.forget(self._sock)
            self._sock.close()
            self._sock = self._bound(self.port)
            self.listening = False
        self.loop.call(go)

    def drop(self) -> int:
        """Close every open connection (the server ends them); how many were open."""
        def go() -> int:
            n = 0
            for s, c in self._conns:
                self.loop.forget(s)
                s.close()
                n += not c.closed_by_unit
            self._conns = []
            return n
        return self.loop.call(go)

    def open_connections(self) -> list[Connection]:
        return [c for _, c in self._conns if not c.closed_by_unit]

    def wait_connections(self, n: int, timeout: float) -> bool:
        """Block (on the clock) until ``n`` connections have been accepted in all."""
        return self.clock.wait_until(lambda: len(self.connections) >= n, timeout)

    def stop(self) -> None:
        def go() -> None:
            for s, _ in self._conns:
                self.loop.forget(s)
                s.close()
            self._conns = []
            self.loop.forget(self._sock)
            self._sock.close()
        try:
            self.loop.call(go)
        finally:
            self.loop.stop()

    # -- loop thread -------------------------------------------------------------------
    def _accept(self) -> None:
        try:
            s, addr = self._sock.accept()
        except (BlockingIOError, OSError):
            return
        s.setblocking(False)
        c = Connection(self.clock.now(), addr[0], addr[1])
        self._conns.append((s, c))
        self.loop.add_reader(s, lambda: self._readable(s, c))
        with self.clock.cond:
            self.connections.append(c)
            self.clock.notify()

    def _readable(self, s: socket.socket, c: Connection) -> None:
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.loop.forget(s)
            with self.clock.cond:
                c.closed_by_unit = True
                self.clock.notify()
