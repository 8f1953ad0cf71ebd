"""The emulated unit's connection to its backend servers (seed 000 L3, L111-129).

The unit keeps one TCP connection to a backend server: the primary (AT@BSS, not in the
seeds: the emulator's configuration) or the backup (AT@BSS2). Readings:

* it tries the primary first; when that attempt fails it tries the backup (L3: the backup
  backs up the primary), and when both fail it waits ``retry_interval`` and starts over;
* a unit with no primary server configured makes no connection at all;
* the backup's port field ``Server Port|Local Port`` makes the connection's local (source)
  port Local Port; a bare ``Server Port`` lets the system pick one (L115-119);
* after a disconnection from the primary it tries the primary first again;
* mode 0, long-term (L123-125): after a disconnection from the backup it reconnects to the
  backup, and tries the primary only when that fails ("until the connection clearly cannot
  be continued");
* mode 1, short-term (L127-129): after each disconnection from the backup it tries the
  primary first, and the backup only if that fails;
* a change by AT@BSS2 takes effect at the next attempt; a live connection is kept.

Sandbox: the emulator connects to loopback addresses only. Any other address (a domain
name, 192.168.1.12 of the examples) fails at once, as an unreachable server would, so no
test purpose reaches beyond the machine. Runs on the emulator's loop thread; times are
seconds of the loop's clock.
"""
from __future__ import annotations

import errno
import ipaddress
import socket
from typing import TYPE_CHECKING, NamedTuple

from atconform.emulator.runtime import Loop

if TYPE_CHECKING:
    from atconform.families.queclink_gv500.emulator import Gv500

PRIMARY, BACKUP = "primary", "backup"


class Target(NamedTuple):
    host: str
    port: int
    local_port: int          # 0: any


class Event(NamedTuple):
    """One step of the connection's life, for self-tests and the emulator's log."""

    time: float
    what: str                # attempt | connected | failed | disconnected | waiting
    server: str              # primary | backup | ""
    detail: str


def loopback(host: str) -> str | None:
    """``host`` as a loopback address the sandbox may connect to, or None."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        return host if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return None


class BackendLink:
    """The unit's TCP connection; ``unit`` gives the configuration, the backup settings
    and the planted defects."""

    def __init__(self, loop: Loop, unit: "Gv500"):
        self.loop = loop
        self.unit = unit
        self.log: list[Event] = []
        self.state = "off"                  # off | idle | connecting | connected | waiting
        self.server = ""                    # who we are connected (or connecting) to
        self.sock: socket.socket | None = None
        self._pending: socket.socket | None = None
        self._timer = None
        self._timeout = None

    # -- life cycle ----------------------------------------------------------------
    def start(self) -> None:
        """Power on: first attempt at once (primary first)."""
        self.state = "idle"
        self._schedule(0.0, [PRIMARY, BACKUP])

    def stop(self) -> None:
        """Power off: connections dropped, no further attempt."""
        self._cancel()
        self._drop_pending()
        if self.sock is not None:
            self._close(self.sock)
            self.sock = None
        self.state = "off"
        self.server = ""

    def poke(self) -> None:
        """The configuration changed: an idle link (nothing configured) tries again."""
        if self.state == "idle":
            self._schedule(0.0, [PRIMARY, BACKUP])

    def _note(self, what: str, server: str = "", detail: str = "") -> None:
        self.log.append(Event(self.loop.clock.now(), what, server, detail))

    # -- targets ---------------------------------------------------------------------
    def target(self, which: str) -> Target | None:
        cfg = self.unit.config
        if which == PRIMARY:
            if not cfg.primary_host or not cfg.primary_port:
                return None
            return Target(cfg.primary_host, cfg.primary_port, 0)
        ip, port, _ = self.unit.backup
        if not ip:
            return None
        server, _, local = port.partition("|")
        lport = int(local) if local and not self.unit.defect("local-port-ignored") else 0
        return Target(ip, int(server), lport)

    def order_after_disconnect(self, which: str) -> list[str]:
        """Which servers to try, in order, after losing the connection to ``which``."""
        if which == PRIMARY:
            return [PRIMARY, BACKUP]
        mode = self.unit.backup[2]
        if self.unit.defect("mode1-stays-on-backup"):
            mode = 0
        elif self.unit.defect("mode0-returns-to-primary"):
            mode = 1
        return [BACKUP, PRIMARY] if mode == 0 else [PRIMARY, BACKUP]

    # -- attempts --------------------------------------------------------------------
    def _schedule(self, delay: float, order: list[str]) -> None:
        self._cancel()
        self._timer = self.loop.call_later(delay, lambda: self._try(list(order)))

    def _cancel(self) -> None:
        Loop.cancel(self._timer)
        Loop.cancel(self._timeout)
        self._timer = self._timeout = None

    def _try(self, order: list[str]) -> None:
        self._timer = None
        if self.state in ("off", "connected"):
            return
        if self.unit.config.primary_host is None or not self.unit.config.primary_port:
            self.state = "idle"           # no primary server: the unit is not in service
            self.server = ""
            return
        if self.unit.defect("backup-never-tried"):
            order = [w for w in order if w != BACKUP]
        while order:
            which = order.pop(0)
            t = self.target(which)
            if t is not None:
                self._connect(which, t, order)
                return
        self.state = "waiting"
        self.server = ""
        self._note("waiting", "", f"every server failed: next attempt in {self.unit.config.retry_interval:g} s")
        self._schedule(self.unit.config.retry_interval, [PRIMARY, BACKUP])

    def _connect(self, which: str, t: Target, rest: list[str]) -> None:
        self.state = "connecting"
        self.server = which
        self._note("attempt", which, f"{t.host}:{t.port} from local port {t.local_port or 'any'}")
        host = loopback(t.host)
        if host is None:
            self._failed(which, rest, f"{t.host} is outside the emulator's sandbox (loopback only)")
            return
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            if t.local_port:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", t.local_port))
            err = s.connect_ex((host, t.port))
        except OSError as e:
            s.close()
            self._failed(which, rest, f"local port {t.local_port}: {e.strerror}")
            return
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self._failed(which, rest, errno.errorcode.get(err, str(err)))
            return
        self._pending = s

        def writable() -> None:
            self.loop.forget(s)
            Loop.cancel(self._timeout)
            self._pending = None
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e:
                s.close()
                self._failed(which, rest, errno.errorcode.get(e, str(e)))
            else:
                self._connected(which, s)

        def timeout() -> None:
            self._drop_pending()
            self._failed(which, rest, f"not connected within {self.unit.config.connect_timeout:g} s")

        self.loop.add_writer(s, writable)
        self._timeout = self.loop.call_later(self.unit.config.connect_timeout, timeout)

    def _drop_pending(self) -> None:
        if self._pending is not None:
            self._close(self._pending)
            self._pending = None

    def _close(self, s: socket.socket) -> None:
        self.loop.forget(s)
        try:
            s.close()
        except OSError:
            pass

    def _failed(self, which: str, rest: list[str], why: str) -> None:
        self._note("failed", which, why)
        if self.state == "off":
            return
        # the next server of this round, without delay (L3, L127-129)
        self._schedule(0.0, rest) if rest else self._try([])

    def _connected(self, which: str, s: socket.socket) -> None:
        self.sock = s
        self.state = "connected"
        self.server = which
        local = s.getsockname()[1]
        self._note("connected", which, f"local port {local}")
        self.loop.add_reader(s, lambda: self._readable(which, s))

    def _readable(self, which: str, s: socket.socket) -> None:
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if data:
            return          # what a server sends is not part of AT@BSS2: read and dropped
        self._close(s)
        self.sock = None
        self.state = "waiting"
        self._note("disconnected", which, "the server closed the connection")
        self._schedule(self.unit.config.reconnect_delay, self.order_after_disconnect(which))
