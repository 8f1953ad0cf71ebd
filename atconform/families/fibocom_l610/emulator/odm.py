"""Online data mode (seed 004 §1.1.18, §1.1.24): AT+MIPODM opens a socket and switches the
link to raw data both ways; ``+++`` (with <pseudo-command mode> 0) enters pseudo-command
mode, where data from the peer is buffered and announced with ``+MIPDATA: <id>,<length>``;
ATO returns to data mode and delivers the buffered data at once (L1272).

From the terminal, data is sent when the socket's buffer (8192 bytes for a 3G/4G module)
is full, else after the 50 ms spooling timeout (L1021); only one socket is in online data
mode at a time (L1021). Readings: "+MIPODM: <id>,1" is the last line before the raw
data (no CONNECT, which the seed never prints); a connection that breaks in data mode
leaves it with NO CARRIER, then "+MIPSTAT: <id>,1"; ATO answers CONNECT (V.250 §6.3.7),
NO CARRIER when there is no online-data-mode socket.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from atconform.emulator.runtime import Loop
from atconform.families.bg96.emulator.datapath import EscapeGuard
from atconform.protocol.commands import Match

from .errors import Err
from .sockets import Socket

ODM_BUFFER = 8192            # bytes: "8192 byte is for 3G/4G module" (L1021)
SPOOL_TIME = 0.05            # s: "50ms is for 3G/4G module" (L1021)


@dataclass
class Odm:
    """The online-data-mode socket, its escape detection, the terminal's data waiting
    for the spooling timeout, and peer data held in pseudo-command mode."""

    socket: Socket | None = None
    pseudo: bool = False                 # in pseudo-command mode (after +++)
    escape: EscapeGuard | None = None
    tx: bytearray = field(default_factory=bytearray)
    spool: list | None = None
    held: bytearray = field(default_factory=bytearray)


class OdmCommands:
    """AT+MIPODM, ATO, ``+++`` and the data of online data mode (a mixin of
    :class:`~.modem.L610`)."""

    odm: Odm

    def cmd_MIPODM_read(self, m: Match) -> None:
        self._list_line("+MIPODM", [i for i in range(1, 7) if i not in self.sockets.by_id])

    def cmd_MIPODM_write(self, m: Match) -> None:
        if self.odm.socket is not None:
            self.fail(Err.SOCKET_NUMBER_LIMITED)     # L1021: one ODM socket at a time
            return
        s = self._new_socket(m, odm=True)
        if s is None:
            return
        self.odm.socket = s
        self.ok()
        self._connect(s, lambda ok: self._odm_opened(s, ok))

    def _odm_opened(self, s: Socket, ok: bool) -> None:
        if not ok:
            self.drop_socket(s, report=1)
            return
        s.active = True
        tail = f",{s.remote_ip},{s.remote_port}" if s.listen_mode else ""
        self.urc(f"+MIPODM: {s.sid},1{tail}")
        self._enter_data(s)
        self._watch(s)

    def _enter_data(self, s: Socket) -> None:
        o = self.odm
        o.pseudo = False
        self.mode = "data"
        o.escape = EscapeGuard(last_rx=self.clock.now())
        if o.held:
            data, o.held = bytes(o.held), bytearray()
            self.output(data)

    def data_input(self, data: bytes) -> None:
        """Raw data from the terminal; "+++" between guard times leaves data mode when
        pseudo-command mode is enabled (<pseudo-command mode> 0, L1092)."""
        o = self.odm
        s = o.socket
        if s is None:
            return
        guard = self.fr.escape_guard_time
        plain, third = o.escape.feed(data, self.clock.now(), guard, detect=s.pseudo_command == 0)
        if third:
            o.escape.timer = self.loop.call_later(guard, self._escape_confirmed)
        if plain:
            o.tx += plain
            if len(o.tx) >= ODM_BUFFER:
                self._spool()
            elif o.spool is None:
                o.spool = self.loop.call_later(SPOOL_TIME, self._spool)

    def _spool(self) -> None:
        o = self.odm
        Loop.cancel(o.spool)
        o.spool = None
        if o.tx and o.socket is not None:
            data, o.tx = bytes(o.tx), bytearray()
            self.push(o.socket, data)

    def _escape_confirmed(self) -> None:
        o = self.odm
        if self.mode != "data" or o.escape is None or o.escape.plus != 3:
            return
        self._spool()
        o.pseudo = True
        self.mode = "command"
        self.ok()

    def cmd_O_execute(self, m: Match) -> None:
        o = self.odm
        if o.socket is None or not o.pseudo:
            self.final("NO CARRIER")
            return
        self.final("CONNECT")
        self._enter_data(o.socket)

    def odm_received(self, s: Socket, data: bytes) -> None:
        """Peer data of the ODM socket: to the terminal in data mode; held and announced
        with +MIPDATA in pseudo-command mode (§1.1.24)."""
        if self.mode == "data" and not self.odm.pseudo:
            self.output(data)
            return
        self.odm.held += data
        if not self.defect("mipdata-missing"):
            self.urc(f"+MIPDATA: {s.sid},{len(data)}")

    def odm_peer_closed(self, s: Socket) -> None:
        if self.mode == "data" and not self.odm.pseudo:
            self.mode = "command"
            self.output(b"\r\nNO CARRIER\r\n")
        self.drop_socket(s, report=1)

    def odm_gone(self, s: Socket) -> None:
        """The ODM socket left the table (closed, link down, power)."""
        o = self.odm
        if o.socket is s:
            Loop.cancel(o.spool)
            if o.escape is not None:
                Loop.cancel(o.escape.timer)
            self.odm = Odm()
            if self.mode == "data":
                self.mode = "command"
