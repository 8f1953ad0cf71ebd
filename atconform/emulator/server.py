"""Emulator assembly: loop thread + family module + front end (pty or TCP).

In-process control (``Emulator.call``) is for emulator-only fixtures: power cycling,
network events, planted defects. Nothing in the suites uses it when ``--port`` is given.
"""
from __future__ import annotations

import socket
from typing import Any, Callable

from atconform.emulator.dce import Defects
from atconform.emulator.pty import PtyPort
from atconform.emulator.runtime import Loop
from atconform.spec import load_family

EMULATED_MODELS = ("bg96",)


class Emulator:
    """One emulated modem. ``path`` is the pty slave (``/dev/pts/N``) for pyserial, or
    ``url`` ``socket://host:port`` with ``tcp=(host, port)``."""

    def __init__(self, model: str = "bg96", *, defects: Defects | None = None, dns_port: int = 53,
                 tcp: tuple[str, int] | None = None, clock=None):
        if model not in EMULATED_MODELS:
            raise ValueError(f"no emulator for model {model!r} yet; emulated: {', '.join(EMULATED_MODELS)}")
        self.model = model
        self.family = load_family(model)
        self.loop = Loop(clock)
        self._tcp_client: socket.socket | None = None
        self._listener: socket.socket | None = None
        if tcp is None:
            self.port = PtyPort(self.loop, self._input)
            self.path = self.port.path
            self.url = self.path
            out = self.port.write
        else:
            self.port = None
            self._listener = socket.create_server(tcp)
            self._listener.setblocking(False)
            host, port = self._listener.getsockname()[:2]
            self.path = f"{host}:{port}"
            self.url = f"socket://{host}:{port}"
            self.loop.add_reader(self._listener, self._accept)
            out = self._tcp_write
        from atconform.emulator.bg96 import Bg96
        self.modem = Bg96(self.family, self.loop, out, defects, dns_port=dns_port)

    def _input(self, data: bytes) -> None:
        self.modem.receive(data)

    # TCP front end: one DTE connection at a time stands for the serial line
    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except BlockingIOError:
            return
        if self._tcp_client is not None:
            self.loop.forget(self._tcp_client)
            self._tcp_client.close()
        conn.setblocking(True)
        self._tcp_client = conn
        self.loop.add_reader(conn, self._tcp_readable)

    def _tcp_readable(self) -> None:
        try:
            data = self._tcp_client.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.loop.forget(self._tcp_client)
            self._tcp_client.close()
            self._tcp_client = None
            return
        self.modem.receive(data)

    def _tcp_write(self, data: bytes) -> None:
        if self._tcp_client is not None:
            try:
                self._tcp_client.sendall(data)
            except OSError:
                pass

    # -- control ----------------------------------------------------------------------
    def start(self) -> "Emulator":
        self.loop.start_thread()
        return self

    def serve_forever(self) -> None:
        self.loop.run_forever()

    def call(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(modem)`` on the emulator thread; emulator-only fixtures use this."""
        return self.loop.call(lambda: fn(self.modem))

    def power_cycle(self) -> None:
        """Power off and on again: all state reset, ``RDY`` sent."""
        def cycle(m):
            m.power_off()
            if self.port is not None:
                self.port.discard_output()
            m.power_on()
        self.call(cycle)

    def stop(self) -> None:
        self.loop.stop()
        if self.port is not None:
            self.port.close()
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
