"""A network power switch in front of an emulated modem: ``atconform emulate --power-http``.

A lab cuts a modem's power with a relay or a PDU its lab manager drives over the network.
For the emulator that switch is this small HTTP server, speaking the protocol of
labgrid's ``simplerest`` power backend (``labgrid.driver.power.simplerest``), so that
labgrid's own ``NetworkPowerDriver`` switches the emulated modem exactly as it switches a
rack PDU::

    GET /power/0   cut the power      -> 200 "0"
    GET /power/1   restore the power  -> 200 "1"  (a boot: the family's start-up URCs)
    GET /power     the state          -> 200 "1" or "0"

An exporter's ``NetworkPowerPort`` (``model: simplerest``, ``host:
'http://HOST:PORT/power/{value}'``) publishes it. Each switching is written to ``log``
(stderr for ``atconform emulate``) as ``power off`` / ``power on`` with the seconds since
the switch started, so a self-test can see what the lab's power driver did.
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, TextIO


class PowerSwitchServer:
    """Serves ``power`` (anything with ``power_off()``, ``power_on()`` and ``powered``,
    such as :class:`atconform.emulator.Emulator`) on ``(host, port)``; port 0 picks a free
    one (``address`` tells which). Raises OSError when it cannot listen."""

    def __init__(self, power, host: str = "127.0.0.1", port: int = 0, log: TextIO | None = None):
        self.power = power
        self.log = log
        self.events: list[tuple[float, str]] = []   # (seconds since start, "off" | "on")
        self._t0 = time.monotonic()
        self._lock = threading.Lock()           # one switching at a time, as a relay
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):       # noqa: N802 (http.server's naming)
                code, body = outer._handle(self.path)
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt, *args):   # quiet: the switchings are logged instead
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self._httpd.server_address[:2]

    @property
    def url(self) -> str:
        """The ``host`` value for labgrid's ``NetworkPowerPort`` (model ``simplerest``)."""
        host, port = self.address
        return f"http://{host}:{port}/power/{{value}}"

    def _handle(self, path: str) -> tuple[int, str]:
        parts = [p for p in path.split("?", 1)[0].split("/") if p]
        if parts == ["power"]:
            return 200, "1" if self.power.powered else "0"
        if len(parts) == 2 and parts[0] == "power" and parts[1] in ("0", "1"):
            on = parts[1] == "1"
            with self._lock:
                (self.power.power_on if on else self.power.power_off)()
                self._note("on" if on else "off")
            return 200, parts[1]
        return 404, "GET /power, /power/0 or /power/1\n"

    def _note(self, what: str) -> None:
        t = time.monotonic() - self._t0
        self.events.append((t, what))
        if self.log is not None:
            print(f"power {what} +{t:.3f}s", file=self.log, flush=True)

    def start(self) -> "PowerSwitchServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="power-switch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
