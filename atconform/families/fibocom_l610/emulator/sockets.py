"""Sockets of the MIP set (seed 004 §1.1.2-1.1.13, §1.1.19-1.1.23) behind real loopback
sockets: the table of sockets 1-6, the 2048-byte accumulating buffer with its watermark
and timeout pushes, the protocol stack's queue with XOFF/XON flow control, the output to
the host chunked by AT+MIPDSETS in every AT+GTSET="IPRFMT" form, read mode (AT+MIPREAD),
and the TCP stack settings (AT+MIPCONF, AT+MIPKEEPCONF) applied to the OS sockets.

Sizes are bytes, times seconds on the DCE's clock (the manual's ms values are converted
where they are read). Readings the seed leaves open are marked ``# reading:``.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field

from atconform.emulator.runtime import Loop
from atconform.protocol.commands import Match

from .errors import Err
from .link import LOCAL_IP, LOCAL_IPV6

SOCKET_IDS = range(1, 7)
BUFFER_SIZE = 2048             # the accumulating buffer; <freesize> counts from it (L474)
XOFF_UPPER = 16384             # bytes pushed and not yet taken by the OS socket: +MIPXOFF (L1105)
RX_LIMIT = 1 << 18             # bytes received and not yet given to the host before reading stops
TCP_PROTOCOLS, UDP_PROTOCOLS, SSL_PROTOCOLS = (0, 60), (1, 61), (2, 62)
IPV6_PROTOCOLS = (60, 61, 62)


@dataclass
class StackConf:
    """AT+MIPCONF values of one socket id (§1.1.12): kept until power cycle (L665);
    times in units of 100 ms as the command writes them."""

    retr_num: int = 5
    min_to: int = 5
    max_to: int = 600
    max_close_delay: int = 75
    is_nack_ind_req: int = 0

    def as_line(self, sid: int) -> str:
        return f"+MIPCONF: {sid},{self.retr_num},{self.min_to},{self.max_to},{self.max_close_delay},{self.is_nack_ind_req}"


@dataclass
class KeepConf:
    """AT+MIPKEEPCONF (§1.1.13): <mode>, and <keepidle>/<keepintvl> s, <keepcnt>."""

    mode: int = 0
    keepidle: int = 7200
    keepintvl: int = 65
    keepcnt: int = 9


@dataclass
class Socket:
    """One MIP socket. ``acc``: the accumulating buffer (AT+MIPSEND data not yet pushed);
    ``stack``: pushed data the OS socket has not taken yet (its length decides XOFF);
    ``rx``: received bytes (TCP) not yet given to the host, ``datagrams`` the same for
    UDP, as (data, source ip, source port)."""

    sid: int
    protocol: int
    remote_ip: str
    remote_port: int
    source_port: int
    odm: bool = False
    pseudo_command: int = 0
    sock: socket.socket | None = None
    listener: socket.socket | None = None
    active: bool = False
    acc: bytearray = field(default_factory=bytearray)
    watermark: int = BUFFER_SIZE
    timeout_ms: int = 0
    push_timer: list | None = None
    dsets_size: int = BUFFER_SIZE
    time_span_ms: int = 0
    stack: bytearray = field(default_factory=bytearray)
    xoff: bool = False
    pushed_total: int = 0          # <accumulated_sent_length>
    to_os: int = 0                 # bytes the OS socket took
    rx: bytearray = field(default_factory=bytearray)
    datagrams: list[tuple[bytes, str, int]] = field(default_factory=list)
    rx_timer: list | None = None
    udp_target: tuple[str, int] | None = None
    closing: bool = False
    listen_mode: bool = False       # opened with <remote_port> 0 (L244)

    @property
    def udp(self) -> bool:
        return self.protocol in UDP_PROTOCOLS

    @property
    def unread(self) -> int:
        return len(self.rx) + sum(len(d) for d, _, _ in self.datagrams)

    @property
    def free(self) -> int:
        return BUFFER_SIZE - len(self.acc)


@dataclass
class SocketTable:
    by_id: dict[int, Socket] = field(default_factory=dict)

    def __iter__(self):
        return iter(list(self.by_id.values()))

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, sid: int | None) -> Socket | None:
        return self.by_id.get(sid) if sid is not None else None

    def active(self) -> list[Socket]:
        """The sockets the read forms list as ACTIVE: every one AT+MIPOPEN/AT+MIPODM took
        (a listener waiting for its client too, reading), by id."""
        return sorted(self.by_id.values(), key=lambda s: s.sid)

    def holds(self, s: Socket) -> bool:
        return self.by_id.get(s.sid) is s


class SocketCommands:
    """AT+MIPOPEN/MIPCLOSE/MIPSETS/MIPDSETS/MIPSEND (basic)/MIPPUSH/MIPFLUSH/MIPCONF/
    MIPKEEPCONF/MIPREAD/GTSET and the data both ways (a mixin of :class:`~.modem.L610`)."""

    sockets: SocketTable

    # ------------------------------------------------------------------ helpers
    def _list_line(self, name: str, ids: list[int]) -> None:
        """A read form's "+NAME: <id>[,<id>...]", "+NAME: 0" when there is none."""
        self.info(f"{name}: " + (",".join(map(str, ids)) if ids else "0"))
        self.ok()

    def _open_socket(self, sid: int) -> Socket | None:
        """The active socket ``sid``; else ERROR (2024) and None."""
        s = self.sockets.get(sid)
        if s is None or not s.active:
            self.fail(Err.SOCKET_NOT_OPENED)
            return None
        return s

    @property
    def iprfmt(self) -> int:
        return self.persist["IPRFMT"]

    # ------------------------------------------------------------- open §1.1.2
    def cmd_MIPOPEN_read(self, m: Match) -> None:
        self._list_line("+MIPOPEN", [i for i in SOCKET_IDS if i not in self.sockets.by_id])

    def cmd_MIPOPEN_write(self, m: Match) -> None:
        s = self._new_socket(m)
        if s is None:
            return
        self.ok()
        self._connect(s, lambda ok: self._opened(s, ok))

    def _new_socket(self, m: Match, odm: bool = False) -> Socket | None:
        """The socket an AT+MIPOPEN/AT+MIPODM line asks for, in the table; ERROR and None
        when the link is down (2031), the id is in use (2017) or the protocol is SSL
        (2005: the emulator has no TLS)."""
        v = m.values
        if not self.need_link():
            return None
        if v["socket_id"] in self.sockets.by_id:
            self.fail(Err.SOCKET_USED)
            return None
        if v["protocol"] in SSL_PROTOCOLS:
            self.fail(Err.PROTOCOL_ERROR)       # reading: no TLS peer on loopback
            return None
        s = Socket(v["socket_id"], v["protocol"], v["remote_ip"], v["remote_port"], v.get("source_port") or 0,
                   odm=odm, pseudo_command=v.get("pseudo_command_mode", 0))
        self.sockets.by_id[s.sid] = s
        return s

    def _bind_addr(self, s: Socket) -> tuple[str, int]:
        return (LOCAL_IPV6 if s.protocol in IPV6_PROTOCOLS else LOCAL_IP, s.source_port)

    def _connect(self, s: Socket, done) -> None:
        """Open ``s`` on the OS: resolve its remote host through the socket's DNS servers
        (AT+MSDNS), then connect (TCP), listen (TCP, <remote_port> 0, L244) or bind (UDP);
        ``done(True)`` once it can carry data, ``done(False)`` on failure. A listener's
        ``done`` comes when a client has connected."""
        def resolved(addrs: list[str]) -> None:
            if not self.sockets.holds(s):
                return
            if not addrs:
                done(False)
                return
            ip = addrs[0]
            if s.udp:
                self._udp_open(s, ip, done)
            elif s.remote_port == 0:
                self._listen(s, done)
            else:
                self.net.tcp_connect(ip, s.remote_port, self._bind_addr(s), lambda sock, err: self._tcp_done(s, sock, done))

        self.resolve(s.sid, s.remote_ip, 6 if s.protocol in IPV6_PROTOCOLS else 4, resolved)

    def _tcp_done(self, s: Socket, sock, done) -> None:
        if sock is None or not self.sockets.holds(s):
            if sock is not None:
                sock.close()
            done(False)
            return
        s.sock = sock
        self._tcp_options(s)
        done(True)

    def _udp_open(self, s: Socket, ip: str, done) -> None:
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        try:
            sock = socket.socket(fam, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind((LOCAL_IPV6 if fam == socket.AF_INET6 else LOCAL_IP, s.source_port))
        except OSError:
            done(False)
            return
        s.sock = sock
        s.udp_target = (ip, s.remote_port) if s.remote_port else None
        self.loop.call_later(0, lambda: done(True))

    def _listen(self, s: Socket, done) -> None:
        lst, err = self.net.tcp_listen(self._bind_addr(s))
        if lst is None:
            self.loop.call_later(0, lambda: done(False))
            return
        s.listener = lst
        s.listen_mode = True

        def accept() -> None:
            try:
                conn, (ip, port, *_) = lst.accept()
            except OSError:
                return
            self.loop.forget(lst)
            lst.close()
            s.listener = None
            conn.setblocking(False)
            s.sock = conn
            s.remote_ip, s.remote_port = ip, port
            self._tcp_options(s)
            done(True)

        self.loop.add_reader(lst, accept)

    def _opened(self, s: Socket, ok: bool) -> None:
        """The outcome of AT+MIPOPEN after its OK: "+MIPOPEN: <id>,1" (listen mode: with the
        client's address and port, L230), or "+MIPSTAT: <id>,1" and the socket is gone (L179)."""
        if not ok:
            self.drop_socket(s, report=1)
            return
        s.active = True
        if s.listen_mode:
            self.urc(f"+MIPOPEN: {s.sid},1,{s.remote_ip},{s.remote_port}")
        else:
            self.urc(f"+MIPOPEN: {s.sid},1")
        self._watch(s)

    def _watch(self, s: Socket) -> None:
        if s.sock is not None:
            self.loop.add_reader(s.sock, lambda: self._readable(s))

    def _tcp_options(self, s: Socket) -> None:
        """AT+MIPCONF and AT+MIPKEEPCONF on the OS socket, where Linux has them:
        TCP_USER_TIMEOUT = <retr_num> x <max_TO> (the longest the stack retransmits),
        SO_KEEPALIVE with TCP_KEEPIDLE/KEEPINTVL/KEEPCNT."""
        sock = s.sock
        if sock is None or s.udp:
            return
        conf = self.stackconf[s.sid]
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, conf.retr_num * conf.max_to * 100)
        except OSError:
            pass
        self._keepalive(s)

    def _keepalive(self, s: Socket) -> None:
        k = self.keepconf
        if s.sock is None or s.udp or self.defect("keepalive-ignored"):
            return
        try:
            s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, k.mode)
            if k.mode:
                s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, k.keepidle)
                s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, k.keepintvl)
                s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, k.keepcnt)
        except OSError:
            pass

    # ------------------------------------------------------------ close §1.1.3
    def cmd_MIPCLOSE_read(self, m: Match) -> None:
        self._list_line("+MIPCLOSE", [s.sid for s in self.sockets.active()])

    def cmd_MIPCLOSE_write(self, m: Match) -> None:
        """OK, then "+MIPCLOSE: <id>[,<acked>],<close_type>" (L276-280): mode 0 waits for
        the peer's FIN, mode 2 for 2MSL, each at most <max_close_delay>; mode 1 at once.
        The accumulating buffer is lost (L272)."""
        s = self.sockets.get(m.values["socket_id"])
        if s is None:
            self.fail(Err.SOCKET_NOT_OPENED)
            return
        mode = m.values.get("mode", 0)
        self.ok()
        s.closing = True
        s.acc.clear()
        Loop.cancel(s.push_timer)
        delay = self.stackconf[s.sid].max_close_delay / 10
        if s.udp or s.sock is None or mode == 1:
            self.loop.call_later(0, lambda: self._closed(s, 0))
            return
        if mode == 2:
            self.loop.call_later(delay, lambda: self._closed(s, 0))
            return
        try:
            s.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.loop.call_later(0, lambda: self._closed(s, 2))
            return
        timer = self.loop.call_later(delay, lambda: self._closed(s, 1))
        s.rx_timer, s.closing = timer, True

    def _closed(self, s: Socket, close_type: int) -> None:
        if not self.sockets.holds(s):
            return
        acked = self._acked(s)
        self.drop_socket(s, report=None)
        extra = f",{acked}" if acked is not None else ""
        self.urc(f"+MIPCLOSE: {s.sid}{extra},{close_type}")

    def _acked(self, s: Socket) -> int | None:
        """<number_of_acknowledged_bytes> when the socket's <is_nack_ind_req> asks for it
        (TCP only, reading): bytes the OS took minus those it still holds unacknowledged."""
        if s.udp or not self.stackconf[s.sid].is_nack_ind_req:
            return None
        return s.to_os - self._outq(s)

    @staticmethod
    def _outq(s: Socket) -> int:
        import fcntl
        import struct
        import termios
        if s.sock is None:
            return 0
        try:
            return struct.unpack("i", fcntl.ioctl(s.sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        except OSError:
            return 0

    def drop_socket(self, s: Socket, report: int | None) -> None:
        """Forget ``s``: its OS socket closed, its timers stopped; ``report`` a +MIPSTAT
        <status> to send (L633), None for none."""
        if not self.sockets.holds(s):
            return
        acked = self._acked(s) if report is not None else None
        for h in (s.push_timer, s.rx_timer):
            Loop.cancel(h)
        for so in (s.sock, s.listener):
            if so is not None:
                self.loop.forget(so)
                so.close()
        s.sock = s.listener = None
        del self.sockets.by_id[s.sid]
        if s.odm:
            self.odm_gone(s)
        if report is not None:
            self.urc(f"+MIPSTAT: {s.sid},{report}" + (f",{acked}" if acked is not None else ""))

    # ----------------------------------------------------- buffer settings §1.1.4-5
    def cmd_MIPSETS_read(self, m: Match) -> None:
        act = self.sockets.active()
        for s in act:
            self.info(f"+MIPSETS: {s.sid},{s.watermark},{s.timeout_ms}")
        if not act:
            self.info("+MIPSETS: 0")
        self.ok()

    def cmd_MIPSETS_write(self, m: Match) -> None:
        s = self._open_socket(m.values["socket_id"])
        if s is None:
            return
        if s.acc and not self.defect("mipsets-accepted-with-data"):
            self.info("+MIPSETS: 3")        # L335: rejected while the buffer holds data
            self.ok()
            return
        s.watermark, s.timeout_ms = m.values["size"], m.values.get("timeout", 0)
        self.info("+MIPSETS: 0")
        self.ok()

    def cmd_MIPDSETS_read(self, m: Match) -> None:
        act = self.sockets.active()
        for s in act:
            self.info(f"+MIPDSETS: {s.sid},{s.dsets_size},{s.time_span_ms}")
        if not act:
            self.info("+MIPDSETS: 0")
        self.ok()

    def cmd_MIPDSETS_write(self, m: Match) -> None:
        s = self._open_socket(m.values["socket_id"])
        if s is None:
            return
        s.dsets_size, s.time_span_ms = m.values["size"], m.values.get("time_span", 0)
        self.info("+MIPDSETS: 0")
        self.ok()

    # ------------------------------------------------------ send §1.1.6-1.1.8
    def freesize(self, s: Socket) -> int:
        return s.free + (1 if self.defect("freesize-off-by-one") else 0)

    def cmd_MIPSEND_read(self, m: Match) -> None:
        act = self.sockets.active()
        for s in act:
            self.info(f"+MIPSEND: {s.sid},{self.freesize(s)}")
        if not act:
            self.info("+MIPSEND: 0")
        self.ok()

    def cmd_MIPSEND_write(self, m: Match) -> None:
        if m.variant.name != "default":
            self.hex_prompt(m)              # §1.2: the HEX-mode variants
            return
        s = self._open_socket(m.values["socket_id"])
        if s is None:
            return
        data = bytes.fromhex(m.values["data"])
        if s.xoff:
            # L472: "1 MIPXOFF received before, send failed": nothing is stored
            self.info(f"+MIPSEND: {s.sid},1,{self.freesize(s)}")
            self.ok()
            return
        if len(data) > s.free:
            self.fail(Err.SEND_DATA_TOO_LONG)      # reading: what does not fit is refused
            return
        self.store(s, data)
        self.info(f"+MIPSEND: {s.sid},0,{self.freesize(s)}")
        self.ok()

    def store(self, s: Socket, data: bytes) -> None:
        """``data`` into the accumulating buffer (§1.1.4, L327-329): pushed in whole
        watermarks once it reaches the MIPSETS <size>; the <timeout> countdown starts with
        arriving data, restarts with new data and again for data left after a push."""
        s.acc += data
        self._auto_push(s)
        if s.timeout_ms and s.acc:
            if s.push_timer is None or not self.defect("timeout-not-restarted"):
                Loop.cancel(s.push_timer)
                s.push_timer = self.loop.call_later(s.timeout_ms / 1000, lambda: self._timeout_push(s))

    def _auto_push(self, s: Socket) -> None:
        if s.xoff or self.defect("no-watermark-push") or len(s.acc) < s.watermark:
            return
        n = len(s.acc) // s.watermark * s.watermark
        self.push(s, bytes(s.acc[:n]))
        del s.acc[:n]
        Loop.cancel(s.push_timer)
        s.push_timer = None
        if s.acc and s.timeout_ms:        # L329: data left after an automatic push
            s.push_timer = self.loop.call_later(s.timeout_ms / 1000, lambda: self._timeout_push(s))

    def _timeout_push(self, s: Socket) -> None:
        s.push_timer = None
        if not self.sockets.holds(s) or not s.acc or s.xoff:
            return                       # flowed off: pushed at +MIPXON
        data = bytes(s.acc)
        s.acc.clear()
        self.push(s, data)

    def push(self, s: Socket, data: bytes, to: tuple[str, int] | None = None) -> None:
        """``data`` into the protocol stack: a datagram to ``to`` or the socket's target
        (UDP), or the stack's queue toward the peer (TCP), whose length past
        :data:`XOFF_UPPER` flows the socket off (+MIPXOFF, L1105)."""
        s.pushed_total += len(data)
        if s.udp:
            target = to or s.udp_target
            if target is not None and s.sock is not None:
                try:
                    s.sock.sendto(data, target)
                    s.to_os += len(data)
                except OSError:
                    pass
            return
        s.stack += data
        self._drain(s)
        if len(s.stack) >= XOFF_UPPER and not s.xoff:
            s.xoff = True
            self.urc(f"+MIPXOFF: {s.sid}")

    def _drain(self, s: Socket) -> None:
        """Hand the stack's queue to the OS socket as it takes it; once empty after
        +MIPXOFF, +MIPXON (L1127) and the pushes that waited."""
        if s.sock is None or not self.sockets.holds(s):
            return
        while s.stack:
            try:
                n = s.sock.send(s.stack[:65536])
            except BlockingIOError:
                break
            except OSError:
                s.stack.clear()
                break
            s.to_os += n
            del s.stack[:n]
        if s.stack:
            self.loop.add_writer(s.sock, lambda: self._drain(s))
            return
        self.loop.remove_writer(s.sock)
        if s.xoff:
            s.xoff = False
            if not self.defect("xon-never-sent"):
                self.urc(f"+MIPXON: {s.sid}")
            self._auto_push(s)

    def cmd_MIPPUSH_read(self, m: Match) -> None:
        self._list_line("+MIPPUSH", [s.sid for s in self.sockets.active()])

    def cmd_MIPPUSH_write(self, m: Match) -> None:
        """"+MIPPUSH: <id>,<status>[,<accumulated_sent_length>]" (L485): 0 pushed, 1
        flowed off, 2 no data; <destination_ip>/<destination_port> address a UDP
        datagram and become its target (L528-530), a TCP socket ignores them."""
        v = m.values
        s = self._open_socket(v["socket_id"])
        if s is None:
            return
        if s.xoff:
            self.info(f"+MIPPUSH: {s.sid},1")
        elif not s.acc:
            self.info(f"+MIPPUSH: {s.sid},2")
        else:
            if s.udp and "destination_ip" in v:
                s.udp_target = (v["destination_ip"], v["destination_port"])
            data = bytes(s.acc)
            s.acc.clear()
            Loop.cancel(s.push_timer)
            s.push_timer = None
            self.push(s, data)
            self.info(f"+MIPPUSH: {s.sid},0,{s.pushed_total}")
        self.ok()

    def cmd_MIPFLUSH_read(self, m: Match) -> None:
        self._list_line("+MIPFLUSH", [s.sid for s in self.sockets.active()])

    def cmd_MIPFLUSH_write(self, m: Match) -> None:
        s = self._open_socket(m.values["socket_id"])
        if s is None:
            return
        s.acc.clear()
        Loop.cancel(s.push_timer)
        s.push_timer = None
        self.info(f"+MIPFLUSH: {s.sid}")
        self.ok()

    # ---------------------------------------------------- receive §1.1.9-10, 1.2.4
    def _readable(self, s: Socket) -> None:
        if s.sock is None or not self.sockets.holds(s):
            return
        try:
            if s.udp:
                data, (ip, port, *_) = s.sock.recvfrom(65535)
            else:
                data, ip, port = s.sock.recv(65536), s.remote_ip, s.remote_port
        except BlockingIOError:
            return
        except OSError:
            if s.udp:
                return        # ICMP port unreachable on a UDP socket: not a close
            data = b""
        if not data and not s.udp:
            self._peer_closed(s)
            return
        if s.odm:
            self.odm_received(s, data)
            return
        if s.udp:
            s.datagrams.append((data, ip, port))
        else:
            s.rx += data
        if s.unread > RX_LIMIT:
            self.loop.remove_reader(s.sock)        # stop reading until the host took some
        self.deliver(s)

    def _peer_closed(self, s: Socket) -> None:
        """The peer closed: an AT+MIPCLOSE in mode 0 got its FIN; otherwise the data still
        buffered goes out and "+MIPSTAT: <id>,1" says the connection broke (reading)."""
        if s.closing:
            Loop.cancel(s.rx_timer)
            self._closed(s, 0)
            return
        self.loop.remove_reader(s.sock)
        if s.odm:
            self.odm_peer_closed(s)
            return
        s.closing = True
        self._finish_when_delivered(s)

    def _finish_when_delivered(self, s: Socket) -> None:
        if s.unread and self.iprfmt != 5:
            self.loop.call_later(0.05, lambda: self._finish_when_delivered(s))
            return
        self.drop_socket(s, report=1)

    def deliver(self, s: Socket) -> None:
        """Received data to the host in chunks of at most the AT+MIPDSETS <size>, <time
        span> ms apart (L389), in the AT+GTSET="IPRFMT" form (L1460-1475); kept for
        AT+MIPREAD in read mode (5)."""
        if self.iprfmt == 5 or s.rx_timer is not None and not s.closing:
            return
        while s.unread and self.sockets.holds(s):
            self._one_chunk(s)
            if s.time_span_ms and s.unread:
                def later() -> None:
                    s.rx_timer = None
                    self.deliver(s)
                s.rx_timer = self.loop.call_later(s.time_span_ms / 1000, later)
                break
        if s.sock is not None and s.unread <= RX_LIMIT and not s.closing:
            self.loop.add_reader(s.sock, lambda: self._readable(s))

    def _one_chunk(self, s: Socket) -> None:
        fmt = self.iprfmt
        if s.udp:
            data, ip, port = s.datagrams[0]
            chunk = data[:s.dsets_size]
            if len(chunk) < len(data):
                s.datagrams[0] = (data[len(chunk):], ip, port)
            else:
                s.datagrams.pop(0)
            head = f"+MIPRUDP: {ip},{port},{s.sid},"
        else:
            chunk = bytes(s.rx[:s.dsets_size])
            del s.rx[:len(chunk)]
            head = f"+MIPRTCP: {s.sid},"
        left = s.unread + (len(chunk) if self.defect("left-wrong") else 0)
        if fmt == 0:
            self.urc(f"{head}{left},{chunk.hex().upper()}")
        elif fmt == 2:
            if self.defect("iprfmt2-encoded"):
                chunk = chunk.hex().upper().encode()[:len(chunk)]
            self.output(f"\r\n{head}{len(chunk)},".encode() + chunk)
        else:
            self.output(chunk)          # 1: the data only, no header, no CR LF (L1466)

    # ------------------------------------------------------------- read mode §1.1.23
    def cmd_MIPREAD_read(self, m: Match) -> None:
        for s in sorted(self.sockets, key=lambda s: s.sid):
            if s.unread:
                self.info(f"+MIPREAD: {s.sid},{s.unread}")
        self.ok()

    def cmd_MIPREAD_write(self, m: Match) -> None:
        """"+MIPDATA: <id>,<n>", the n bytes, OK; or "+MIPREAD: <id>,0", OK (L1233-1245).
        Read mode only (L1229): ERROR under any other IPRFMT."""
        v = m.values
        s = self.sockets.get(v["socket_id"])
        if self.iprfmt != 5:
            self.fail(Err.INVALID_OPERATION)
            return
        if s is None:
            self.fail(Err.SOCKET_NOT_OPENED)
            return
        n = min(v["read_data_len"], s.unread)
        if not n:
            self.info(f"+MIPREAD: {s.sid},0")
            self.ok()
            return
        if s.udp:
            data = b""
            while len(data) < n:
                d, ip, port = s.datagrams.pop(0)
                take = d[:n - len(data)]
                if len(take) < len(d):
                    s.datagrams.insert(0, (d[len(take):], ip, port))
                data += take
        else:
            data = bytes(s.rx[:n])
            del s.rx[:n]
        self.info(f"+MIPDATA: {s.sid},{n}", data + b"\r\n")
        self.ok()
        if s.sock is not None and s.unread <= RX_LIMIT and not s.closing:
            self.loop.add_reader(s.sock, lambda: self._readable(s))

    # --------------------------------------------------------------- §1.2.4 GTSET
    def cmd_GTSET_write(self, m: Match) -> None:
        v = m.values
        if v["future"] == "IPRFMT":
            self.persist["IPRFMT"] = v["iprfmt"]
            self.ok()
            for s in self.sockets:        # data held for read mode goes out in the new form
                self.deliver(s)
            return
        self.persist["SENDTIME"] = v["sendtime"]
        self.ok()

    # --------------------------------------------------------- TCP stack §1.1.12-13
    def cmd_MIPCONF_read(self, m: Match) -> None:
        for sid in SOCKET_IDS:
            self.info(self.stackconf[sid].as_line(sid))
        self.ok()

    def cmd_MIPCONF_write(self, m: Match) -> None:
        if not self.need_link():          # L669: "must used under MIPCALL is enabled"
            return
        v = m.values
        conf = self.stackconf[v["socket_id"]]
        for k in ("retr_num", "min_to", "max_to", "max_close_delay", "is_nack_ind_req"):
            if k in v:
                setattr(conf, k, v[k])
        self.ok()

    def cmd_MIPKEEPCONF_read(self, m: Match) -> None:
        k = self.keepconf
        self.info(f"+MIPKEEPCONF: {k.mode},{k.keepidle},{k.keepintvl},{k.keepcnt}" if k.mode
                  else "+MIPKEEPCONF: 0")
        self.ok()

    def cmd_MIPKEEPCONF_write(self, m: Match) -> None:
        v = m.values
        k = self.keepconf
        k.mode = v["mode"]
        for name in ("keepidle", "keepintvl", "keepcnt"):
            if name in v:
                setattr(k, name, v[name])
        self.ok()
        for s in self.sockets:             # "Effect Immediately: Yes" (L760)
            self._keepalive(s)
