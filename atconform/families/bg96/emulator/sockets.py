"""Socket services (manual §2.1.4-2.1.6, §2.2.1-2.2.4): the socket table, the
<socket_state> machine, and AT+QIOPEN / AT+QICLOSE / AT+QISTATE behind real loopback
sockets.

The state machine follows h11's ``_state.py``: states are an enum, the events that move
a socket are another, and :data:`TRANSITIONS` is the whole table; an event a state has no
entry for raises :class:`IllegalSocketTransition`. Leaving the table (AT+QICLOSE,
AT+QIDEACT, a failed open, power off) is not a state: the socket is gone.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Iterable, Iterator

from atconform.protocol.commands import Match

from .errors import Err

CONNECT_IDS = range(12)          # §2.1.4 <connectID> 0-11


class SocketState(IntEnum):
    """§2.1.6 <socket_state>, the number AT+QISTATE prints."""

    INITIAL = 0        # connection not established
    OPENING = 1        # client connecting, or server trying to listen
    CONNECTED = 2      # client/incoming connection established
    LISTENING = 3      # server listening
    CLOSING = 4        # connection closing (by the peer or the network)


class SocketEvent(Enum):
    """What moves a socket from one <socket_state> to the next."""

    OPEN = "AT+QIOPEN accepted"
    ACCEPTED = "incoming connection accepted by a listener"
    CONNECTED = "connection established"
    LISTENING = "listening"
    PEER_CLOSED = "peer closed the connection"
    CONTEXT_LOST = "the network deactivated the PDP context"


S, E = SocketState, SocketEvent
# state -> event -> next state; nothing else is allowed
TRANSITIONS: dict[SocketState, dict[SocketEvent, SocketState]] = {
    S.INITIAL: {E.OPEN: S.OPENING, E.ACCEPTED: S.CONNECTED},
    S.OPENING: {E.CONNECTED: S.CONNECTED, E.LISTENING: S.LISTENING, E.CONTEXT_LOST: S.CLOSING},
    S.CONNECTED: {E.PEER_CLOSED: S.CLOSING, E.CONTEXT_LOST: S.CLOSING},
    S.LISTENING: {E.CONTEXT_LOST: S.CLOSING},
    S.CLOSING: {E.CONTEXT_LOST: S.CLOSING},
}
del S, E


class IllegalSocketTransition(RuntimeError):
    """An event the socket's current state does not allow (a bug of the emulator)."""

    def __init__(self, connect_id: int, state: SocketState, event: SocketEvent):
        super().__init__(f"connectID {connect_id}: event {event.name} ({event.value}) is not allowed "
                         f"in state {state.name}; allowed: "
                         f"{', '.join(e.name for e in TRANSITIONS[state]) or 'none'}")
        self.connect_id, self.state, self.event = connect_id, state, event


@dataclass
class Socket:
    """A socket service (§2.1.4-2.1.8). Counters are bytes; ports are 0-65535 (0: let
    the OS choose). ``state`` changes only through :meth:`fire`."""

    cid: int
    connect_id: int
    service_type: str                # "TCP", "UDP", "TCP LISTENER", "UDP SERVICE", "TCP INCOMING"
    remote_ip: str
    remote_port: int
    local_port: int
    access_mode: int                 # 0 buffer access, 1 direct push, 2 transparent (§1.2)
    server_id: int = 0
    sock: socket.socket | None = None
    rx: bytearray = field(default_factory=bytearray)                          # buffer access, stream
    datagrams: list[tuple[bytes, str, int]] = field(default_factory=list)     # UDP SERVICE: data, ip, port
    total_sent: int = 0
    total_received: int = 0
    total_read: int = 0
    recv_urc_pending: bool = False   # "recv" reported, buffer not yet read empty
    peer_closed: bool = False
    _state: SocketState = field(default=SocketState.INITIAL, repr=False)

    @property
    def state(self) -> SocketState:
        return self._state

    def fire(self, event: SocketEvent) -> SocketState:
        """Move to the state :data:`TRANSITIONS` gives for ``event``; returns it. Raises
        :class:`IllegalSocketTransition` when the current state has no such entry."""
        nxt = TRANSITIONS[self._state].get(event)
        if nxt is None:
            raise IllegalSocketTransition(self.connect_id, self._state, event)
        self._state = nxt
        return nxt

    @property
    def unread(self) -> int:
        """Bytes received and not yet read (AT+QIRD=<id>,0 <unreadlen>)."""
        return self.total_received - self.total_read

    @property
    def is_udp(self) -> bool:
        return self.service_type.startswith("UDP")


@dataclass
class SocketTable:
    """The open sockets, by <connectID> 0-11."""

    by_id: dict[int, Socket] = field(default_factory=dict)

    def get(self, connect_id: int | None) -> Socket | None:
        return self.by_id.get(connect_id) if connect_id is not None else None

    def __contains__(self, connect_id: int) -> bool:
        return connect_id in self.by_id

    def __iter__(self) -> Iterator[Socket]:
        return iter(self.by_id.values())

    def __len__(self) -> int:
        return len(self.by_id)

    def add(self, s: Socket) -> None:
        self.by_id[s.connect_id] = s

    def remove(self, s: Socket) -> None:
        """Forget ``s`` (nothing when it is gone already)."""
        if self.by_id.get(s.connect_id) is s:
            del self.by_id[s.connect_id]

    def holds(self, s: Socket) -> bool:
        """``s`` is still in the table (not closed, not replaced after a reboot)."""
        return self.by_id.get(s.connect_id) is s

    def of_context(self, cid: int) -> list[Socket]:
        return [s for s in self if s.cid == cid]

    def free_ids(self) -> list[int]:
        return [i for i in CONNECT_IDS if i not in self.by_id]


class SocketCommands:
    """AT+QIOPEN, AT+QICLOSE, AT+QISTATE, accepting incoming connections and closing,
    on ``self.sockets`` (a mixin of :class:`~.modem.Bg96`)."""

    sockets: SocketTable

    def cmd_QIOPEN_write(self, m: Match) -> None:
        v = m.values
        cid, cnid = v["contextID"], v["connectID"]
        mode = v.get("access_mode", 0)
        stype = v["service_type"]
        if cnid in self.sockets and not self.defect("used-connectid-accepted"):
            self.fail(Err.SOCKET_IDENTITY_HAS_BEEN_USED)
            return
        ctx = self.contexts[cid]
        if not ctx.active:
            self.fail(Err.OPEN_PDP_CONTEXT_FAILED)   # reading: no active context -> ERROR, 561
            return
        fault = (self.fault_state.command(("qiopen_urc",), m.command.name, m.command.key, "write", self.boot_count)
                 if self.fault_state is not None else None)
        s = Socket(cid, cnid, stype, v["IP_address"], v["remote_port"], v.get("local_port", 0), mode,
                   server_id=cnid)
        s.fire(SocketEvent.OPEN)
        self.sockets.add(s)
        if mode != 2:
            self.succeed()           # OK now, "+QIOPEN: <connectID>,<err>" when done
        if fault is not None:
            self._qiopen_fault(s, fault.err)
            return
        if stype in ("TCP", "UDP"):
            # a host name goes to the context's DNS servers (service_commands.resolve),
            # never to the host OS resolver; a failed lookup is the open's <err>
            self.resolve(cid, s.remote_ip, lambda err, addrs, ttl: self._connect(s, err, addrs))
            return
        if stype == "TCP LISTENER":
            sock, err = self.net.tcp_listen((ctx.ip, s.local_port))
        else:  # UDP SERVICE
            sock, err = self.net.udp_socket(None, 0, (ctx.ip, s.local_port))
        self.loop.call_later(0, lambda: self._opened(s, sock, err))

    def _connect(self, s: Socket, err: int, addrs: list[str]) -> None:
        """The remote host of ``s`` resolved (``err`` 0, ``addrs``) or not (565/569)."""
        if err or not self.sockets.holds(s):
            self._opened(s, None, err or Err.DNS_PARSE_FAILED)
            return
        ip = self.contexts[s.cid].ip
        if s.service_type == "TCP":
            self.net.tcp_connect(addrs[0], s.remote_port, (ip, s.local_port),
                                 lambda sock, e: self._opened(s, sock, e))
            return
        sock, e = self.net.udp_socket(addrs[0], s.remote_port, (ip, s.local_port))
        self._opened(s, sock, e)

    def _qiopen_fault(self, s: Socket, err: int | None) -> None:
        if err is not None:
            self.fault_fired("qiopen_urc", f"connectID {s.connect_id}: connection fails with <err> {err}")
            self.loop.call_later(0, lambda: self._opened(s, None, err))
            return
        self.fault_fired("qiopen_urc", f"connectID {s.connect_id}: no +QIOPEN URC, socket stays Opening")
        if s.access_mode == 2:
            # no CONNECT and no ERROR ever; the module takes the next line (AT+QICLOSE)
            self.current = None
            self.busy = False

    def _opened(self, s: Socket, sock: socket.socket | None, err: int) -> None:
        """The open of ``s`` ended: ``err`` 0 with ``sock``, or a chapter 4 code."""
        if not self.sockets.holds(s) or s.state is not SocketState.OPENING:
            # closed, rebooted or dropped by the network meanwhile: the late result is lost
            if sock:
                sock.close()
            return
        if err == Err.SOCKET_CONNECT_FAILED and self.defect("connect-failed-wrong-err"):
            err = Err.UNKNOWN_ERROR
        if err:
            self.sockets.remove(s)
            self.errors.last = err
            if s.access_mode == 2:
                self.fail(err)
            else:
                self.urc(f"+QIOPEN: {s.connect_id},{int(err)}")
            return
        s.sock = sock
        s.local_port = sock.getsockname()[1]
        if s.service_type == "TCP LISTENER":
            s.fire(SocketEvent.LISTENING)
            self.loop.add_reader(sock, lambda: self._accept(s))
        else:
            s.fire(SocketEvent.CONNECTED)
            self.loop.add_reader(sock, lambda: self._readable(s))
        if s.access_mode == 2:
            self.errors.clear()
            self._enter_transparent(s)
        else:
            self.urc(f"+QIOPEN: {s.connect_id},0")

    def _accept(self, listener: Socket) -> None:
        if listener.sock is None:
            return
        try:
            conn, (ip, port) = listener.sock.accept()
        except BlockingIOError:
            return
        free = self.sockets.free_ids()
        if not free:
            conn.close()
            if not self.defect("no-incoming-full"):
                self.urc('+QIURC: "incoming full"')       # §2.2.3
            return
        # reading: example §3.5.2 gives the incoming connection connectID 11 with 0 free,
        # so the module takes the highest free connectID
        cnid = free[-1]
        conn.setblocking(False)
        # §2.1.4 item 1: "TCP INCOMING" inherits the listener's <access_mode>
        s = Socket(listener.cid, cnid, "TCP INCOMING", ip, port, listener.local_port, listener.access_mode,
                   server_id=listener.connect_id, sock=conn)
        s.fire(SocketEvent.ACCEPTED)
        self.sockets.add(s)
        self.loop.add_reader(conn, lambda: self._readable(s))
        sid = (listener.connect_id + 1) % len(CONNECT_IDS) if self.defect("incoming-wrong-serverid") \
            else listener.connect_id
        self.urc(f'+QIURC: "incoming",{cnid},{sid},"{ip}",{port}')

    def _peer_closed(self, s: Socket) -> None:
        self.loop.forget(s.sock)
        s.peer_closed = True
        s.fire(SocketEvent.PEER_CLOSED)
        if self._carrying(s):
            # §1.2 note 2: NO CARRIER and back to command mode; QICLOSE still needed
            self._leave_data_mode()
            if not self.defect("no-carrier-missing"):
                self.final("NO CARRIER")
            return
        if not self.defect("no-closed-urc"):
            self.urc(f'+QIURC: "closed",{s.connect_id}')          # §2.2.1

    def _close_os_socket(self, s: Socket) -> None:
        if s.sock is not None:
            self.loop.forget(s.sock)
            try:
                s.sock.close()
            except OSError:
                pass
            s.sock = None

    def _socket_error_close(self, s: Socket) -> None:
        self._close_os_socket(s)
        s.fire(SocketEvent.CONTEXT_LOST)

    def _drop_socket(self, s: Socket) -> None:
        self._close_os_socket(s)
        self.sockets.remove(s)
        if self.data.transparent_id == s.connect_id:
            self.data.transparent_id = None

    def cmd_QICLOSE_write(self, m: Match) -> None:
        s = self.sockets.get(m.values["connectID"])
        if s is not None:
            # reading: closing a listener leaves the "TCP INCOMING" sockets it accepted;
            # each is closed by its own connectID
            if s.sock is not None and s.service_type in ("TCP", "TCP INCOMING") and not s.peer_closed:
                try:
                    s.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._drop_socket(s)
        self.succeed()     # reading: closing a connectID that is not open is OK

    def _state_line(self, s: Socket) -> str:
        server_side = s.service_type in ("TCP LISTENER", "UDP SERVICE")
        ip = self.contexts[s.cid].ip if server_side else s.remote_ip
        rport = 0 if server_side else s.remote_port
        state = s.state
        if state is SocketState.OPENING and self.defect("opening-reported-connected"):
            state = SocketState.CONNECTED
        mode = 0 if self.defect("qistate-wrong-access-mode") else s.access_mode
        return (f'+QISTATE: {s.connect_id},"{s.service_type}","{ip}",{rport},{s.local_port},'
                f'{int(state)},{s.cid},{s.server_id},{mode},"usbmodem"')

    def _list_state(self, sockets: Iterable[Socket]) -> None:
        for s in sorted(sockets, key=lambda s: s.connect_id):
            self.info(self._state_line(s))
        self.succeed()

    def cmd_QISTATE_read(self, m: Match) -> None:
        self._list_state(self.sockets)

    cmd_QISTATE_execute = cmd_QISTATE_read

    def cmd_QISTATE_write(self, m: Match) -> None:
        v = m.values
        if v["query_type"] == 0:
            self._list_state(self.sockets.of_context(v["contextID"]))
        else:
            self._list_state(s for s in self.sockets if s.connect_id == v["connectID"])

    def cmd_QISTATE_test(self, m: Match) -> None:
        self.succeed()
