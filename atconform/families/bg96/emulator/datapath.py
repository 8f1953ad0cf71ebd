"""The data paths (manual §1.2): buffer access (AT+QIRD, ``"recv"`` URC once per
emptied buffer), direct push (``+QIURC: "recv",<id>,<len>`` with the data), transparent
mode (CONNECT, ``+++`` escape, ATO); and sending after the ``>`` prompt (AT+QISEND,
AT+QISENDEX, AT+QISDE echo).
"""
from __future__ import annotations

import fcntl
import struct
import termios
from dataclasses import dataclass, field

from atconform.emulator.runtime import Loop
from atconform.protocol.commands import Match

from .errors import Err
from .sockets import Socket, SocketState

MAX_SEND = 1460                  # bytes per AT+QISEND (§2.1.7)
MAX_PUSH = 1500                  # bytes per direct-push URC, as one AT+QIRD reads at most (§2.1.8)
RX_BUFFER_LIMIT = 1 << 20        # bytes buffered per socket before the emulator stops reading
CTRL_Z, ESC, PLUS = 0x1A, 0x1B, 0x2B


@dataclass
class Prompt:
    """AT+QISEND input after ``>`` (§2.1.7): ``length`` bytes (None: up to Ctrl-Z, at
    most :data:`MAX_SEND`), typed as hex digits when ``hex`` (two characters a byte);
    ``to`` is the UDP SERVICE destination (ip, port)."""

    socket: Socket
    length: int | None
    hex: bool
    to: tuple[str, int] | None = None
    buf: bytearray = field(default_factory=bytearray)

    @property
    def width(self) -> int:
        """Characters typed per payload byte."""
        return 2 if self.hex else 1

    def feed(self, data: bytes, esc_sends: bool) -> tuple[int, str | None]:
        """Take input up to its end; returns (bytes of ``data`` used, action): action
        None (more to come), "send", "cancel" (ESC; "send" when ``esc_sends``) or
        "overflow" (over :data:`MAX_SEND` before Ctrl-Z)."""
        for i, b in enumerate(data):
            if self.length is None:
                if b in (CTRL_Z, ESC):
                    return i + 1, ("send" if b == CTRL_Z or esc_sends else "cancel")
                self.buf.append(b)
                if len(self.buf) > MAX_SEND * self.width:
                    return i + 1, "overflow"
            else:
                self.buf.append(b)
                if len(self.buf) == self.length * self.width:
                    return i + 1, "send"
        return len(data), None


@dataclass
class EscapeGuard:
    """``+++`` detection in transparent mode (§1.2 item 3-4): three '+' typed within
    the guard time of each other, with the guard time of silence before (times in
    seconds on the DCE's clock). The '+'s are held back until they prove to be data."""

    last_rx: float
    plus: int = 0
    plus_start: float = 0.0
    timer: list | None = None        # Loop handle of the silence-after check
    pending: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes, now: float, guard: float, detect: bool = True) -> tuple[bytes, bool]:
        """The bytes of ``data`` that are payload, and whether it ended with a third '+'
        (then the caller checks the silence after). All bytes of one read arrive at the
        same instant; only a '+' needs the guard rule."""
        plain = bytearray()
        third = False
        for b in data:
            if b == PLUS and detect and self.plus < 3 and not plain and (
                    (self.plus == 0 and now - self.last_rx >= guard)
                    or (self.plus > 0 and now - self.plus_start <= guard)):
                if self.plus == 0:
                    self.plus_start = now
                self.plus += 1
                self.pending.append(b)
                third = self.plus == 3
                continue
            if self.pending:
                plain += self.pending
                self.pending.clear()
                self.plus = 0
                third = False
                Loop.cancel(self.timer)
                self.timer = None
            plain.append(b)
        self.last_rx = now
        return bytes(plain), third


@dataclass
class DataPath:
    """Data-path state: the ``>`` prompt being typed, the socket in transparent mode
    and its escape detection and send buffer (flushed at <transpktsize> bytes or after
    <transwaittm>), and the last socket that left transparent mode (for ATO)."""

    prompt: Prompt | None = None
    socket: Socket | None = None                 # the socket of the current data mode
    transparent_id: int | None = None            # last socket that left transparent mode
    escape: EscapeGuard | None = None
    tx_buf: bytearray = field(default_factory=bytearray)
    tx_timer: list | None = None


class DataPathCommands:
    """AT+QISEND/QISENDEX/QIRD/QISWTMD/ATO, ``>`` input, transparent mode and data
    arriving on sockets, on ``self.data`` (a mixin of :class:`~.modem.Bg96`)."""

    data: DataPath

    @property
    def _prompt(self) -> dict | None:
        # read-only view for atconform.families.bg96.fuzz (EmulatorRig._state), until it reads
        # ``data.prompt``
        p = self.data.prompt
        return None if p is None else {"length": p.length, "hex": p.hex, "buf": p.buf}

    def _carrying(self, s: Socket) -> bool:
        """``s`` is the socket of the current transparent (data) mode."""
        return self.mode == "data" and self.data.socket is s

    # ------------------------------------------------------------------ sending
    def _unacked(self, s: Socket) -> int:
        if s.is_udp:
            return 0

        def hit(f) -> bool:
            return f.connect_ids is None or s.connect_id in f.connect_ids

        if self._condition("no_ack", hit) is not None:
            self.fault_fired("no_ack", f"connectID {s.connect_id}: all {s.total_sent} sent bytes unacked")
            return s.total_sent
        if s.sock is None:
            return 0
        try:
            # Linux TIOCOUTQ (SIOCOUTQ) on a TCP socket: bytes not yet acknowledged
            buf = fcntl.ioctl(s.sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
            return min(struct.unpack("i", buf)[0], s.total_sent)
        except OSError:
            return 0

    def _sendable(self, s: Socket | None, udp_service: bool = False) -> bool:
        """False, after ERROR (572, or 567 for no socket), unless ``s`` can take data
        from AT+QISEND/AT+QISENDEX (§2.1.7): connected, not transparent, not a listener,
        and UDP SERVICE exactly when ``udp_service``."""
        if (s is None or s.state is not SocketState.CONNECTED or s.access_mode == 2
                or (s.service_type == "UDP SERVICE") != udp_service or s.service_type == "TCP LISTENER"):
            self.fail(Err.OPERATION_NOT_ALLOWED if s is not None else Err.SOCKET_HAS_BEEN_CLOSED)
            return False
        return True

    def cmd_QISEND_write(self, m: Match) -> None:
        v = m.values
        s = self.sockets.get(v["connectID"])
        if m.variant.name == "query":
            if s is None:
                self.fail(Err.OPERATION_NOT_ALLOWED)
                return
            unacked = self._unacked(s)
            extra = 1 if self.defect("qisend-total-off-by-one") else 0
            self.info(f"+QISEND: {s.total_sent + extra},{s.total_sent - unacked + extra},{unacked}")
            self.succeed()
            return
        udp_service = m.variant.name == "udp-service"
        if not self._sendable(s, udp_service):
            return
        self.data.prompt = Prompt(s, v.get("send_length"), self.config.qicfg.send_hex,
                                  (v.get("remoteIP"), v.get("remote_port")) if udp_service else None)
        self.mode = "prompt"
        self.prompt()

    def s4_ends_line(self) -> bool:
        # the LF after "AT+QISEND=...\r" is part of the command line (V.250 §5.2.1)
        return not self.defect("lf-taken-as-data")

    def prompt_input(self, data: bytes) -> None:
        """Payload after ">" (§2.1.7): a fixed length, or up to Ctrl-Z (send) / ESC
        (cancel: ERROR, <err> 571; over 1460 bytes: ERROR, 552). With AT+QISDE=1 the
        payload is echoed before the result code. Input after the payload is taken as
        command lines."""
        p = self.data.prompt
        end, action = p.feed(data, esc_sends=self.defect("esc-sends"))
        if self.config.qisde and self.echo and not self.defect("qisde-no-echo"):
            # the Ctrl-Z that ends an unsized payload is not echoed
            self.output(data[:end] if action != "send" or p.length is not None else data[:end - 1])
        if action == "send":
            self._finish_send(bytes(p.buf))
        elif action is not None:
            self.mode = "command"
            self.data.prompt = None
            # reading: ESC cancels with ERROR, <err> 571 Cancel send; overflow: 552
            self.fail(Err.CANCEL_SEND if action == "cancel" else Err.INVALID_PARAMETERS)
        if end < len(data) and action is not None:
            self.receive(data[end:])

    def _finish_send(self, payload: bytes) -> None:
        p, self.data.prompt = self.data.prompt, None
        self.mode = "command"
        if p.hex:
            try:
                payload = bytes.fromhex(payload.decode("latin-1"))
            except ValueError:
                self.fail(Err.INVALID_PARAMETERS)
                return
        self._transmit(p.socket, payload, p.to)

    def _transmit(self, s: Socket, payload: bytes, to: tuple[str, int] | None = None) -> None:
        try:
            if to is not None:
                s.sock.sendto(payload, to)
            else:
                s.sock.sendall(payload)
        except BlockingIOError:
            self.final("SEND FAIL")    # §2.1.7: "SEND FAIL indicates the sending buffer is full"
            return
        except OSError:
            self.fail(Err.SOCKET_WRITE_FAILED)
            return
        s.total_sent += len(payload)
        self.succeed("SEND OK")

    def cmd_QISENDEX_write(self, m: Match) -> None:
        s = self.sockets.get(m.values["connectID"])
        if self._sendable(s):        # not UDP SERVICE: AT+QISENDEX names no destination
            self._transmit(s, bytes.fromhex(m.values["hex_string"]))

    # ------------------------------------------------------------------ reading
    def _body(self, data: bytes, hexmode: bool) -> bytes:
        return data.hex().upper().encode() if hexmode else data

    def cmd_QIRD_write(self, m: Match) -> None:
        v = m.values
        s = self.sockets.get(v["connectID"])
        if s is None or s.service_type == "TCP LISTENER":
            self.fail(Err.OPERATION_NOT_ALLOWED if s is not None else Err.SOCKET_HAS_BEEN_CLOSED)
            return
        if m.variant.name == "query":
            less = 1 if self.defect("qird-counter-wrong") and s.total_read else 0
            self.info(f"+QIRD: {s.total_received},{s.total_read - less},{s.unread + less}")
            self.succeed()
            return
        if s.access_mode != 0:
            self.fail(Err.OPERATION_NOT_ALLOWED)
            return
        cfg = self.config.qicfg
        hexmode = cfg.recv_hex and not self.defect("hex-receive-ignored")
        sep = "," if cfg.viewmode else "\r\n"
        if s.service_type == "UDP SERVICE":
            if not s.datagrams:
                self.info("+QIRD: 0")
            else:
                data, ip, port = s.datagrams.pop(0)
                port += 1 if self.defect("udp-qird-wrong-port") else 0
                s.total_read += len(data)
                self.output(f'\r\n+QIRD: {len(data)},"{ip}",{port}{sep}'.encode() + self._body(data, hexmode) + b"\r\n")
            if not s.datagrams:
                s.recv_urc_pending = False
            self.succeed()
            return
        n = min(v.get("read_length", MAX_PUSH), len(s.rx))
        if n == 0:
            self.info("+QIRD: 0")
        else:
            data = bytes(s.rx[:n])
            del s.rx[:n]
            s.total_read += n
            self.output(f"\r\n+QIRD: {n}{sep}".encode() + self._body(data, hexmode) + b"\r\n")
            if s.sock is not None and not s.peer_closed and len(s.rx) <= RX_BUFFER_LIMIT:
                self.loop.add_reader(s.sock, lambda: self._readable(s))
        if not s.rx:
            s.recv_urc_pending = False
        self.succeed()

    def _readable(self, s: Socket) -> None:
        """Data (or the peer's close) on ``s``'s OS socket: to the DTE in transparent
        mode, as push URCs in direct push mode, else into the buffer with one "recv"."""
        if s.sock is None or not self.sockets.holds(s):
            return
        try:
            if s.service_type == "UDP SERVICE":
                data, (ip, port) = s.sock.recvfrom(65535)
            else:
                data = s.sock.recv(65536)
                ip, port = s.remote_ip, s.remote_port
        except BlockingIOError:
            return
        except OSError:
            data = b""
            if s.is_udp:
                return   # ICMP port unreachable on a connected UDP socket: not a close
        if not data and not s.is_udp:
            self._peer_closed(s)
            return
        if s.service_type == "UDP" and self.defect("udp-client-drops-datagrams"):
            return
        if self.defect("rx-drops-a-byte") and s.total_received < 1 << 19 <= s.total_received + len(data):
            data = data[:-1]
        s.total_received += len(data)
        if s.access_mode == 2 and self._carrying(s):
            self.output(data)
            s.total_read += len(data)
            return
        if s.access_mode == 1:
            self._push(s, data, ip, port)
            return
        if s.service_type == "UDP SERVICE":
            s.datagrams.append((data, ip, port))
        else:
            s.rx += data
        if len(s.rx) > RX_BUFFER_LIMIT:
            self.loop.remove_reader(s.sock)   # flow control: stop reading until QIRD
        if not s.recv_urc_pending or self.defect("recv-urc-repeated"):
            # §1.2 note 1: one URC until the buffer has been read empty
            s.recv_urc_pending = True
            if self.config.qicfg.recvind and not self.defect("recvind-ignored"):
                self.urc(f'+QIURC: "recv",{s.connect_id},{len(data)}')
            else:
                self.urc(f'+QIURC: "recv",{s.connect_id}')

    def _push(self, s: Socket, data: bytes, ip: str, port: int) -> None:
        # direct push (§2.2.2): the data goes out with the URC, counted as read
        s.total_read += len(data)
        if self.defect("push-drops-first-byte"):
            data = data[1:]
        hexmode = self.config.qicfg.recv_hex
        # one URC per at most MAX_PUSH bytes: <currentrecvlength> is 1-1500 (spec)
        for i in range(0, len(data), MAX_PUSH):
            part = data[i:i + MAX_PUSH]
            if s.service_type == "UDP SERVICE":
                self.urc(f'+QIURC: "recv",{s.connect_id},{len(part)},"{ip}",{port}', self._body(part, hexmode))
            else:
                self.urc(f'+QIURC: "recv",{s.connect_id},{len(part)}', self._body(part, hexmode))

    # ------------------------------------------------------------- access modes
    def cmd_QISWTMD_write(self, m: Match) -> None:
        s = self.sockets.get(m.values["connectID"])
        mode = m.values["access_mode"]
        if s is None or s.service_type == "TCP LISTENER" or (mode == 2 and s.state is not SocketState.CONNECTED):
            self.fail(Err.OPERATION_NOT_ALLOWED if s is not None else Err.SOCKET_HAS_BEEN_CLOSED)
            return
        s.access_mode = mode
        if mode == 2:
            self._enter_transparent(s)
            return
        self.succeed()

    def cmd_O_execute(self, m: Match) -> None:
        s = self.sockets.get(self.data.transparent_id)
        if s is None or s.state is not SocketState.CONNECTED or self.defect("ato-no-carrier"):
            self.final("NO CARRIER")   # §1.2 item 5.2
            return
        self._enter_transparent(s)

    def _enter_transparent(self, s: Socket) -> None:
        s.access_mode = 2
        d = self.data
        d.transparent_id = s.connect_id
        d.socket = s
        self.errors.clear()
        self.final("CONNECT")
        self.mode = "data"
        d.escape = EscapeGuard(last_rx=self.clock.now())
        d.tx_buf = bytearray()
        d.tx_timer = None
        if s.rx:                     # buffered data goes out first
            data = bytes(s.rx)
            s.rx.clear()
            s.total_read += len(data)
            self.output(data)
        if s.sock is not None:
            self.loop.add_reader(s.sock, lambda: self._readable(s))

    def data_input(self, data: bytes) -> None:
        """Transparent mode (§1.2 item 3-4): bytes go to the socket; "+++" with 1 s of
        silence before and after, typed within 1 s, switches back to command mode."""
        esc = self.data.escape
        guard = self.fr.escape_guard_time
        plain, third = esc.feed(data, self.clock.now(), guard, detect=not self.defect("escape-ignored"))
        if third:
            esc.timer = self.loop.call_later(guard, self._escape_confirmed)
        if plain:
            self._queue_tx(plain)

    def _queue_tx(self, data: bytes) -> None:
        # §2.1.15: send when <transpktsize> bytes are waiting or after <transwaittm> x 100 ms
        d, cfg = self.data, self.config.qicfg
        d.tx_buf += data
        size = 1 if self.defect("transwaittm-ignored") else cfg.transpktsize
        while len(d.tx_buf) >= size:
            self._send_transparent(bytes(d.tx_buf[:size]))
            del d.tx_buf[:size]
        Loop.cancel(d.tx_timer)
        d.tx_timer = None
        if d.tx_buf:
            d.tx_timer = self.loop.call_later(cfg.transwaittm / 10, self._flush_tx)

    def _flush_tx(self) -> None:
        if self.data.tx_buf:
            self._send_transparent(bytes(self.data.tx_buf))
            self.data.tx_buf.clear()

    def _send_transparent(self, data: bytes) -> None:
        s = self.data.socket
        if s is None or s.sock is None:
            return
        try:
            s.sock.sendall(data)
            s.total_sent += len(data)
        except OSError:
            pass

    def _escape_confirmed(self) -> None:
        if self.mode != "data" or self.data.escape is None or self.data.escape.plus != 3:
            return
        self._flush_tx()
        self._leave_data_mode()
        # §1.2 item 3: after OK the connection is in buffer access mode
        s = self.sockets.get(self.data.transparent_id)
        if s is not None:
            s.access_mode = 0
        self.ok()

    def _leave_data_mode(self) -> None:
        self.mode = "command"
        Loop.cancel(self.data.tx_timer)
        self.data.socket = None
