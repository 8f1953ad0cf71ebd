"""Emulator assembly: loop thread + family module + front end (pty or TCP).

In-process control (``Emulator.call``) is for emulator-only fixtures: power cycling,
network events, planted defects, runtime faults. Nothing in the suites uses it when
``--port`` is given.
"""
from __future__ import annotations

import socket
from typing import Any, Callable

from atconform.emulator.dce import Defects
from atconform.emulator.faults import FaultEvent, FaultPlan
from atconform.emulator.pty import PtyPort
from atconform.emulator.runtime import Loop
from atconform import families
from atconform.spec import load_family


def __getattr__(name: str):
    if name == "EMULATED_MODELS":      # computed: the registry is the one list of families
        return families.emulated()
    raise AttributeError(name)


class Emulator:
    """One emulated modem. ``path`` is the pty slave (``/dev/pts/N``) for pyserial, or
    ``url`` ``socket://host:port`` with ``tcp=(host, port)``.

    ``faults``: a :class:`FaultPlan` run from the first boot; ``on_fault`` is called (on
    the emulator thread) with each :class:`FaultEvent`. ``reenumerate`` (pty only): the
    port goes away on every power loss (the DTE's reads fail, as when USB vanishes) and a
    new pty appears at power-on (``path`` updated; the kernel may reuse the number, as a
    USB modem may get /dev/ttyUSB2 again); AT+QPOWD alone leaves the port in place until
    the power is cut."""

    def __init__(self, model: str, *, defects: Defects | None = None, dns_port: int = 53,
                 tcp: tuple[str, int] | None = None, clock=None, faults: FaultPlan | None = None,
                 on_fault: Callable[[FaultEvent], None] | None = None, reenumerate: bool = False,
                 config=None):
        emulated = families.emulated()
        if model not in emulated:
            raise ValueError(f"no emulator for model {model!r} yet; emulated: {', '.join(emulated)}")
        self.model = model
        self.family = load_family(model)
        self.loop = Loop(clock)
        self.reenumerate = reenumerate and tcp is None
        self._tcp_client: socket.socket | None = None
        self._listener: socket.socket | None = None
        if tcp is None:
            self._open_pty()
            out = self._pty_write
        else:
            self.port = None
            self._listener = socket.create_server(tcp)
            self._listener.setblocking(False)
            host, port = self._listener.getsockname()[:2]
            self.path = f"{host}:{port}"
            self.url = f"socket://{host}:{port}"
            self.loop.add_reader(self._listener, self._accept)
            out = self._tcp_write
        dce_class = families.get(model).emulator_class()
        # config: the module's identity and radio (atconform.emulator.general.ModuleConfig)
        extra = {"module": config} if config is not None else {}
        self.modem = dce_class(self.family, self.loop, out, defects, dns_port=dns_port, faults=faults,
                               power_hook=self._power_event, **extra)
        self.modem.on_fault = on_fault     # called on the emulator thread for each FaultEvent

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

    def _open_pty(self) -> None:
        self.port = PtyPort(self.loop, self._input)
        self.path = self.port.path
        self.url = self.path

    def _pty_write(self, data: bytes) -> None:
        self.port.write(data)

    def _power_event(self, event: str) -> None:
        if self.port is None:
            return
        if event == "lost" and not self.port.closed:
            self.port.discard_output()
            if self.reenumerate:
                self.port.close()       # the DTE's port vanishes (USB gone)
        elif event == "on" and self.port.closed:
            self._open_pty()

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

    def _control(self, fn: Callable[[Any], Any]) -> Any:
        # on the loop thread once it runs; directly before (nothing else touches the modem)
        t = self.loop.thread
        if t is None or not t.is_alive():
            return fn(self.modem)
        return self.call(fn)

    # an in-process power switch
    def power_off(self) -> None:
        """Cut the power: no input handled, no output, output not yet taken by the DTE
        lost, sockets dropped, fault timers stopped. Stays off until :meth:`power_on`."""
        self._control(lambda m: m.power_off(discard=True))

    def power_on(self) -> None:
        """Switch on: a boot (state reset, ``RDY``, boot counter + 1). No-op when on."""
        self._control(lambda m: None if m.powered else m.power_on())

    @property
    def powered(self) -> bool:
        """False after :meth:`power_off`, AT+QPOWD, or while a reboot fault has it down."""
        return self.modem.powered

    def power_cycle(self) -> None:
        """Power off and on again: all state reset, ``RDY`` sent."""
        def cycle(m):
            m.power_off(discard=True)
            m.power_on()
        self._control(cycle)

    # runtime faults (atconform.emulator.faults)
    @property
    def faults(self) -> FaultPlan | None:
        return self.modem.fault_plan

    @faults.setter
    def faults(self, plan: FaultPlan | None) -> None:
        self.set_faults(plan)

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Run ``plan`` from now on (fresh seed and counters; None: no faults). Raises
        ValueError when it names a command the model's spec lacks."""
        self._control(lambda m: m.set_faults(plan))

    @property
    def fault_log(self) -> list[FaultEvent]:
        """Every fault firing so far, ``(time, kind, what)`` with the emulator clock's time."""
        return list(self.modem.fault_log)

    def stop(self) -> None:
        self.loop.stop()
        if self.port is not None and not self.port.closed:    # never close its fds twice
            self.port.close()
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
