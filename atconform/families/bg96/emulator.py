"""Emulated Quectel BG96: the TCP/IP AT command set of the BG96 TCP/IP AT Commands Manual
(seed 002), behind real loopback sockets.

Parsing and validation come from ``specs/bg96.yaml`` through :class:`Dce`; this module
holds the behaviour a table cannot say: the PDP context and socket state machines
(§2.1.2-2.1.6), the data paths of the three access modes (§1.2), and the services
(ping §2.1.11, NTP §2.1.12, DNS §2.1.13-2.1.14). Method names follow the manual.

Readings the manual leaves open are marked ``# reading:``.

Runtime faults (:mod:`atconform.emulator.faults`) belong to the module, not to its
state: they survive power cycles. Command-line faults are applied by :class:`Dce`; the
SIM, registration, acknowledgement, QIOPEN and timed ones (pdpdeact, dead, reboot) here.
"""
from __future__ import annotations

import fcntl
import socket
import struct
import termios
from dataclasses import dataclass, field

from atconform.emulator.dce import Dce, Defects
from atconform.emulator.faults import FaultPlan, FaultState
from atconform.emulator.runtime import Loop, Net
from atconform.protocol.commands import Match
from atconform.spec.models import Family

IDENTITY = ("Quectel", "BG96", "Revision: BG96MAR02A07M1G")
REVISION = "BG96MAR02A07M1G"
MAX_ACTIVE_CONTEXTS = 3          # §2.1.2 "supports three PDP contexts activated simultaneously"
MAX_SEND = 1460                  # §2.1.7
MAX_PUSH = 1500                  # bytes per direct-push URC, as one AT+QIRD reads at most (§2.1.8)
RX_BUFFER_LIMIT = 1 << 20        # bytes buffered per socket before the emulator stops reading

INITIAL, OPENING, CONNECTED, LISTENING, CLOSING = range(5)   # §2.1.6 <socket_state>

# Planted behaviour defects (self-tests): each breaks one behaviour a scenario checks.
BEHAVIOUR_DEFECTS = {
    "context-not-listed": "AT+QIACT? omits active contexts (§2.1.2)",
    "qisend-total-off-by-one": "AT+QISEND=<id>,0 reports one byte more than sent (§2.1.7)",
    "qird-counter-wrong": "AT+QIRD=<id>,0 reports one byte less read (§2.1.8)",
    "recv-urc-repeated": 'a "recv" URC for every arrival, not once per empty buffer (§1.2 note 1)',
    "escape-ignored": "+++ is passed on as data; no OK (§1.2 item 4)",
    "ato-no-carrier": "ATO answers NO CARRIER even after +++ (§1.2 item 5)",
    "push-drops-first-byte": "direct push URC carries one byte less than received (§2.2.2)",
    "qistate-wrong-access-mode": "AT+QISTATE reports <access_mode> 0 for every socket (§2.1.6)",
    "incoming-wrong-serverid": '+QIURC: "incoming" names the wrong <serverID> (§2.2.4)',
    "udp-qird-wrong-port": "AT+QIRD on UDP SERVICE reports the remote port + 1 (§2.1.8)",
    "ping-summary-inconsistent": "+QPING summary with <lost> one too many (§2.1.11)",
    "ntp-time-skewed": "+QNTP time one hour off the server's (§2.1.12)",
    "dns-wrong-address": "+QIURC: \"dnsgip\" lists a wrong address (§2.1.14)",
    "qigeterror-wrong": "AT+QIGETERROR says 553 after invalid parameters (§3.9)",
    "connect-failed-wrong-err": "a refused connection reports <err> 550, not 566 (chapter 4)",
    "used-connectid-accepted": "QIOPEN on a used <connectID> is accepted (563, chapter 4)",
    "no-closed-urc": 'no +QIURC: "closed" when the peer closes (§2.2.1)',
    "no-pdpdeact-urc": 'no +QIURC: "pdpdeact" when the network drops the context (§2.2.5)',
    "rx-drops-a-byte": "one received byte is lost once a socket has received 512 KiB (§1.2)",
    "recvind-ignored": 'with AT+QICFG="recvind",1 the recv URC still has no length (§2.1.15)',
    "hex-receive-ignored": 'AT+QIRD returns raw bytes although "dataformat" receive is hex (§2.1.15)',
    "qisde-no-echo": "AT+QISDE=1 does not echo the send data (§2.1.16)",
    "esc-sends": "ESC after '>' sends the data instead of cancelling (§2.1.7)",
    "no-incoming-full": 'no +QIURC: "incoming full" when no connectID is free (§2.2.3)',
    "udp-client-drops-datagrams": "a UDP client socket loses every received datagram (§2.1.4)",
    "transwaittm-ignored": "transparent data is sent at once, ignoring transpktsize/transwaittm (§2.1.15)",
    "opening-reported-connected": "AT+QISTATE reports a socket still connecting as Connected (§2.1.6)",
    "no-carrier-missing": "no NO CARRIER when the peer closes during transparent mode (§1.2 note 2)",
}


@dataclass
class Context:
    """A PDP context (§2.1.1-2.1.3)."""

    cid: int
    context_type: int = 1
    apn: str = ""
    username: str = ""
    password: str = ""
    authentication: int = 0
    active: bool = False
    dns: tuple[str, str] = ("", "")

    @property
    def ip(self) -> str:
        # each context gets its own loopback address, so sockets of different contexts
        # are really bound apart
        return f"127.0.0.{self.cid}"


@dataclass
class Socket:
    """A socket service (§2.1.4-2.1.8). Counters are bytes."""

    cid: int
    connect_id: int
    service_type: str
    remote_ip: str
    remote_port: int
    local_port: int
    access_mode: int
    server_id: int = 0
    state: int = INITIAL
    sock: socket.socket | None = None
    rx: bytearray = field(default_factory=bytearray)
    datagrams: list[tuple[bytes, str, int]] = field(default_factory=list)
    total_sent: int = 0
    total_received: int = 0
    total_read: int = 0
    recv_urc_pending: bool = False       # "recv" reported, buffer not yet read empty
    peer_closed: bool = False

    @property
    def unread(self) -> int:
        return self.total_received - self.total_read


class Bg96(Dce):
    """The BG96 module. Runs on ``loop``'s thread; ``output`` writes to the DTE."""

    def __init__(self, family: Family, loop: Loop, output, defects: Defects | None = None, *,
                 dns_port: int = 53, dns_host: str = "127.0.0.1", faults: FaultPlan | None = None,
                 power_hook=None):
        self.loop = loop
        self.dns_host = dns_host
        self.net = Net(loop)
        self.dns_port = dns_port
        super().__init__(family, output, loop.clock, defects)
        # power_hook("lost") on a power loss (the front end drops output the DTE has not
        # taken), power_hook("on") at power-on before RDY
        self.power_hook = power_hook
        self.fault_plan: FaultPlan | None = None
        self._fault_timers: list = []
        self._auto_on = None                    # power-on timer of a spontaneous reboot
        self.sockets: dict[int, Socket] = {}
        self.set_faults(faults)
        self.power_on(announce=False)

    def defect(self, name: str) -> bool:
        return name in self.defects.behaviour

    # ---------------------------------------------------------------------- power
    @property
    def powered(self) -> bool:
        return self.mode != "off"

    def power_on(self, announce: bool = True) -> None:
        """Boot: every setting and all state back to defaults, ``RDY`` to the DTE. The
        boot counter goes up; the faults of this boot are drawn and their timers set."""
        if self.powered and self.sockets:
            self.power_off()
        self.cancel_timer(self._auto_on)
        self._auto_on = None
        self._cancel_fault_timers()
        self._drop_hold()
        self.dead = False
        self.boot_count += 1
        self.boot_time = self.clock.now()
        self.reset_settings()
        if self.power_hook is not None and self.boot_count > 1:
            self.power_hook("on")
        self.mode = "command"
        self.busy = False
        self._queued = []
        self._line.clear()
        self.contexts = {cid: Context(cid) for cid in range(1, 17)}
        self.sockets: dict[int, Socket] = {}
        self.last_error = 0
        self.qicfg = {"transpktsize": 1024, "transwaittm": 2, "dataformat": (0, 0), "viewmode": 0,
                      "recvind": 0, "prefix": None, "tcp/retranscfg": (8, 600)}
        self.qisde = 0   # reading: the manual gives no default for <echo>; 0 is assumed
        self.creg_n = {"+CREG": 0, "+CGREG": 0, "+CEREG": 0}
        self.transparent_id: int | None = None   # last socket that left transparent mode
        self._prompt: dict | None = None
        if self.fault_state is not None:
            self.fault_state.begin_boot(self.boot_count)
            self._arm_timed_faults()
        if announce:
            self.urc("RDY")

    def power_off(self, discard: bool = False) -> None:
        """Power off: sockets dropped, no input taken, no output. ``discard``: power loss,
        output the DTE has not yet taken is lost too (AT+QPOWD's own output is not)."""
        self.cancel_timer(self._auto_on)
        self._auto_on = None
        self._cancel_fault_timers()
        self._drop_hold()
        for s in list(self.sockets.values()):
            self._drop_socket(s)
        self._leave_data_mode()
        self.mode = "off"
        self.busy = False
        self._queued = []
        self._line.clear()
        if discard and self.power_hook is not None:
            self.power_hook("lost")

    # ------------------------------------------------------------------- faults
    def call_later(self, delay: float, cb):
        return self.loop.call_later(delay, cb)

    def cancel_timer(self, handle) -> None:
        Loop.cancel(handle)

    def set_faults(self, plan: FaultPlan | None) -> None:
        """Run ``plan`` from now on (fresh generator and counters; None: no faults).
        Timed faults are armed for the current boot, relative to its power-on; one whose
        time has passed fires at once. Raises ValueError for a command the spec lacks."""
        if plan is not None:
            plan.check(self.family)
        self._cancel_fault_timers()
        self.fault_plan = plan
        self.fault_state = FaultState(plan) if plan is not None else None
        if self.fault_state is not None and self.powered and self.boot_count:
            self.fault_state.begin_boot(self.boot_count)
            self._arm_timed_faults()

    def _arm_timed_faults(self) -> None:
        elapsed = self.clock.now() - self.boot_time
        for f in self.fault_state.on:
            if f.timing == "timed":
                self._fault_timers.append(self.loop.call_later(max(0.0, f.at - elapsed),
                                                               lambda f=f: self._timed_fault(f)))

    def _cancel_fault_timers(self) -> None:
        for h in self._fault_timers:
            Loop.cancel(h)
        self._fault_timers = []

    def _timed_fault(self, f) -> None:
        if not self.powered:
            return
        if f.kind == "pdpdeact":
            was = self.contexts[f.cid].active
            self.fault_fired(f.kind, f"network deactivates context {f.cid}" if was
                             else f"context {f.cid} not active: nothing to deactivate")
            self.network_deactivate(f.cid)
        elif f.kind == "dead":
            self.fault_fired(f.kind, "module hangs: no input taken, no output, until power-cycled")
            self.dead = True
        elif f.kind == "reboot":
            self.fault_fired(f.kind, f"spontaneous reboot: power off, on again after {f.down:g} s")
            self.power_off(discard=True)
            self._auto_on = self.loop.call_later(f.down, self.power_on)

    def _condition(self, kind: str, pred=None):
        if self.fault_state is None:
            return None
        return self.fault_state.condition(kind, self.clock.now() - self.boot_time, pred)

    def fault_error(self, m: Match, cme: int | None) -> None:
        # a TCP/IP command also leaves its <err> for AT+QIGETERROR (§2.1.17)
        if m.command.tcpip:
            self.last_error = cme if cme is not None and self.family.error_text(cme) else 550
        self.error(cme)

    # ---------------------------------------------------------------- error handling
    def recover_from_handler_error(self) -> None:
        super().recover_from_handler_error()
        self._prompt = None
    def invalid(self, m: Match | None) -> None:
        # §3.9: a malformed command gets ERROR and AT+QIGETERROR then says 552
        if m is None or m.command.tcpip:
            self.last_error = 552
        self.error()

    def fail(self, code: int) -> None:
        """ERROR for a TCP/IP command, remembering <err> for AT+QIGETERROR (§2.1.17)."""
        self.last_error = code
        self.error()

    def unsupported(self, m: Match) -> None:
        self.fail(555)

    def succeed(self, text: str = "OK") -> None:
        if self.current is not None and self.current.command.tcpip:
            self.last_error = 0
        self.final(text)

    # -------------------------------------------------------------- basic commands
    def cmd_I_execute(self, m: Match) -> None:
        for line in IDENTITY:
            self.info(line)
        self.ok()

    def cmd_GMR_execute(self, m: Match) -> None:
        self.info(REVISION)
        self.ok()

    def cmd_GMR_test(self, m: Match) -> None:
        self.ok()

    def cmd_CPIN_read(self, m: Match) -> None:
        if self._condition("sim_not_ready") is not None:
            # see SimNotReady: 27.007 §9.2.1 code 14, SIM busy (ERROR under AT+CMEE=0)
            self.fault_fired("sim_not_ready", "AT+CPIN? refused: SIM busy (CME 14)")
            self.error(14)
            return
        self.info("+CPIN: READY")
        self.ok()

    def cmd_CPIN_test(self, m: Match) -> None:
        self.ok()

    def _reg_read(self, m: Match) -> None:
        stat = 1                                                            # registered, home
        if self._condition("registration_searching", lambda f: m.command.name in f.commands) is not None:
            stat = 2                                                        # searching
            self.fault_fired("registration_searching", f"AT{m.command.name}? reports <stat> 2 (searching)")
        self.info(f"{m.command.name}: {self.creg_n[m.command.name]},{stat}")
        self.ok()

    def _reg_write(self, m: Match) -> None:
        self.creg_n[m.command.name] = m.values.get("n", 0)
        self.ok()

    cmd_CREG_read = cmd_CGREG_read = cmd_CEREG_read = _reg_read
    cmd_CREG_write = cmd_CGREG_write = cmd_CEREG_write = _reg_write

    def cmd_QPOWD_execute(self, m: Match) -> None:
        self._power_down()

    def cmd_QPOWD_write(self, m: Match) -> None:
        self._power_down()

    def _power_down(self) -> None:
        self.ok()
        self.urc("POWERED DOWN")
        self.power_off()

    def cmd_O_execute(self, m: Match) -> None:
        s = self.sockets.get(self.transparent_id) if self.transparent_id is not None else None
        if s is None or s.state != CONNECTED or self.defect("ato-no-carrier"):
            self.final("NO CARRIER")   # §1.2 item 5.2
            return
        self._enter_transparent(s)

    # ------------------------------------------------------------- PDP contexts
    def cmd_QICSGP_write(self, m: Match) -> None:
        v, ctx = m.values, self.contexts[m.values["contextID"]]
        if m.variant.name == "query":
            self.info(f'+QICSGP: {ctx.context_type},"{ctx.apn}","{ctx.username}","{ctx.password}",{ctx.authentication}')
        else:
            ctx.context_type = v["context_type"]
            ctx.apn = v["APN"]
            ctx.username = v.get("username", "")
            ctx.password = v.get("password", "")
            ctx.authentication = v.get("authentication", 0)
        self.succeed()

    def cmd_QIACT_read(self, m: Match) -> None:
        for ctx in self.contexts.values():
            if ctx.active and not self.defect("context-not-listed"):
                self.info(f'+QIACT: {ctx.cid},1,{1 if ctx.context_type != 2 else 2},"{ctx.ip}"')
        self.succeed()

    def cmd_QIACT_write(self, m: Match) -> None:
        ctx = self.contexts[m.values["contextID"]]
        active = sum(c.active for c in self.contexts.values())
        # reading: activating an active context, or a fourth one, fails with 561
        if ctx.active or active >= MAX_ACTIVE_CONTEXTS:
            self.fail(561)
            return
        ctx.active = True
        if not any(ctx.dns):
            # the network hands out DNS servers on activation; here: the emulator's own
            ctx.dns = (self.dns_host, self.dns_host)
        self.succeed()

    def cmd_QIDEACT_write(self, m: Match) -> None:
        self._deactivate(self.contexts[m.values["contextID"]])
        self.succeed()

    def _deactivate(self, ctx: Context) -> None:
        # §2.1.3: "deactivate the specific context and close all TCP/IP connections"
        for s in [s for s in self.sockets.values() if s.cid == ctx.cid]:
            self._drop_socket(s)
        ctx.active = False

    def network_deactivate(self, cid: int) -> None:
        """The network drops context ``cid`` (§2.2.5): sockets close, URC to the DTE."""
        ctx = self.contexts[cid]
        if not ctx.active:
            return
        for s in [s for s in self.sockets.values() if s.cid == cid]:
            self._socket_error_close(s)
        ctx.active = False
        if not self.defect("no-pdpdeact-urc"):
            self.urc(f'+QIURC: "pdpdeact",{cid}')

    # ------------------------------------------------------------------ sockets
    def cmd_QIOPEN_write(self, m: Match) -> None:
        v = m.values
        cid, cnid = v["contextID"], v["connectID"]
        mode = v.get("access_mode", 0)
        stype = v["service_type"]
        if cnid in self.sockets and not self.defect("used-connectid-accepted"):
            self.fail(563)           # Socket identity has been used
            return
        ctx = self.contexts[cid]
        if not ctx.active:
            self.fail(561)           # reading: no active context -> ERROR, 561
            return
        fault = (self.fault_state.command(("qiopen_urc",), m.command.name, m.command.key, "write", self.boot_count)
                 if self.fault_state is not None else None)
        s = Socket(cid, cnid, stype, v["IP_address"], v["remote_port"], v.get("local_port", 0), mode,
                   server_id=cnid, state=OPENING)
        self.sockets[cnid] = s
        if mode != 2:
            self.succeed()           # OK now, "+QIOPEN: <connectID>,<err>" when done
        if fault is not None:
            self._qiopen_fault(s, fault.err)
            return
        if stype == "TCP":
            local = (ctx.ip, s.local_port) if s.local_port else (ctx.ip, 0)
            self.net.tcp_connect(s.remote_ip, s.remote_port, local, lambda sock, err: self._opened(s, sock, err))
        elif stype == "UDP":
            sock, err = self.net.udp_socket(s.remote_ip, s.remote_port, (ctx.ip, s.local_port))
            self.loop.call_later(0, lambda: self._opened(s, sock, err))
        elif stype == "TCP LISTENER":
            sock, err = self.net.tcp_listen((ctx.ip, s.local_port))
            self.loop.call_later(0, lambda: self._opened(s, sock, err))
        else:  # UDP SERVICE
            sock, err = self.net.udp_socket(None, 0, (ctx.ip, s.local_port))
            self.loop.call_later(0, lambda: self._opened(s, sock, err))

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
        if self.sockets.get(s.connect_id) is not s:   # closed or rebooted meanwhile
            if sock:
                sock.close()
            return
        if err == 566 and self.defect("connect-failed-wrong-err"):
            err = 550
        if err:
            del self.sockets[s.connect_id]
            self.last_error = err
            if s.access_mode == 2:
                self.fail(err)
            else:
                self.urc(f"+QIOPEN: {s.connect_id},{err}")
            return
        s.sock = sock
        s.local_port = sock.getsockname()[1]
        if s.service_type == "TCP LISTENER":
            s.state = LISTENING
            self.loop.add_reader(sock, lambda: self._accept(s))
        else:
            s.state = CONNECTED
            self.loop.add_reader(sock, lambda: self._readable(s))
        if s.access_mode == 2:
            self.last_error = 0
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
        free = [i for i in range(12) if i not in self.sockets]
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
                   server_id=listener.connect_id, state=CONNECTED, sock=conn)
        self.sockets[cnid] = s
        self.loop.add_reader(conn, lambda: self._readable(s))
        sid = (listener.connect_id + 1) % 12 if self.defect("incoming-wrong-serverid") else listener.connect_id
        self.urc(f'+QIURC: "incoming",{cnid},{sid},"{ip}",{port}')

    def _readable(self, s: Socket) -> None:
        if s.sock is None or self.sockets.get(s.connect_id) is not s:
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
            if s.service_type.startswith("UDP"):
                return   # ICMP port unreachable on a connected UDP socket: not a close
        if not data and not s.service_type.startswith("UDP"):
            self._peer_closed(s)
            return
        if s.service_type == "UDP" and self.defect("udp-client-drops-datagrams"):
            return
        if self.defect("rx-drops-a-byte") and s.total_received < 1 << 19 <= s.total_received + len(data):
            data = data[:-1]
        s.total_received += len(data)
        if s.access_mode == 2 and self.mode == "data" and self._data_socket is s:
            self.output(data)
            s.total_read += len(data)
            return
        if s.access_mode == 1:
            s.total_read += len(data)
            if self.defect("push-drops-first-byte"):
                data = data[1:]
            hexmode = self.qicfg["dataformat"][1]
            # one URC per at most MAX_PUSH bytes: <currentrecvlength> is 1-1500 (spec)
            for i in range(0, len(data), MAX_PUSH):
                part = data[i:i + MAX_PUSH]
                body = part.hex().upper().encode() if hexmode else part
                if s.service_type == "UDP SERVICE":
                    self.urc(f'+QIURC: "recv",{s.connect_id},{len(part)},"{ip}",{port}', body)
                else:
                    self.urc(f'+QIURC: "recv",{s.connect_id},{len(part)}', body)
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
            if self.qicfg["recvind"] and not self.defect("recvind-ignored"):
                self.urc(f'+QIURC: "recv",{s.connect_id},{len(data)}')
            else:
                self.urc(f'+QIURC: "recv",{s.connect_id}')

    def _peer_closed(self, s: Socket) -> None:
        self.loop.forget(s.sock)
        s.peer_closed = True
        s.state = CLOSING
        if self.mode == "data" and self._data_socket is s:
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
        s.state = CLOSING

    def _drop_socket(self, s: Socket) -> None:
        self._close_os_socket(s)
        self.sockets.pop(s.connect_id, None)
        if self.transparent_id == s.connect_id:
            self.transparent_id = None

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
        ip = self.contexts[s.cid].ip if s.service_type in ("TCP LISTENER", "UDP SERVICE") else s.remote_ip
        rport = 0 if s.service_type in ("TCP LISTENER", "UDP SERVICE") else s.remote_port
        return (f'+QISTATE: {s.connect_id},"{s.service_type}","{ip}",{rport},{s.local_port},'
                f'{CONNECTED if s.state == OPENING and self.defect("opening-reported-connected") else s.state},{s.cid},{s.server_id},{0 if self.defect("qistate-wrong-access-mode") else s.access_mode},"usbmodem"')

    def _list_state(self, sockets) -> None:
        for s in sorted(sockets, key=lambda s: s.connect_id):
            self.info(self._state_line(s))
        self.succeed()

    def cmd_QISTATE_read(self, m: Match) -> None:
        self._list_state(self.sockets.values())

    cmd_QISTATE_execute = cmd_QISTATE_read

    def cmd_QISTATE_write(self, m: Match) -> None:
        v = m.values
        if v["query_type"] == 0:
            self._list_state([s for s in self.sockets.values() if s.cid == v["contextID"]])
        else:
            self._list_state([s for s in self.sockets.values() if s.connect_id == v["connectID"]])

    # ------------------------------------------------------------------ sending
    def _unacked(self, s: Socket) -> int:
        if s.service_type.startswith("UDP"):
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

    def cmd_QISEND_write(self, m: Match) -> None:
        v = m.values
        s = self.sockets.get(v["connectID"])
        if m.variant.name == "query":
            if s is None:
                self.fail(572)
                return
            unacked = self._unacked(s)
            extra = 1 if self.defect("qisend-total-off-by-one") else 0
            self.info(f"+QISEND: {s.total_sent + extra},{s.total_sent - unacked + extra},{unacked}")
            self.succeed()
            return
        udp_service = m.variant.name == "udp-service"
        if (s is None or s.state != CONNECTED or s.access_mode == 2
                or (s.service_type == "UDP SERVICE") != udp_service or s.service_type == "TCP LISTENER"):
            self.fail(572 if s is not None else 567)
            return
        self._prompt = {"socket": s, "length": v.get("send_length"), "buf": bytearray(),
                        "to": (v.get("remoteIP"), v.get("remote_port")) if udp_service else None,
                        "hex": bool(self.qicfg["dataformat"][0])}
        self.mode = "prompt"
        self.prompt()

    def prompt_input(self, data: bytes) -> None:
        """Payload after ">" (§2.1.7): a fixed length, or up to Ctrl-Z (send) / ESC
        (cancel). With AT+QISDE=1 the payload is echoed before the result code."""
        p = self._prompt
        buf = p["buf"]
        end, action = len(data), None
        for i, b in enumerate(data):
            if p["length"] is None:
                if b in (0x1A, 0x1B):
                    send = b == 0x1A or self.defect("esc-sends")
                    end, action = i + 1, ("send" if send else "cancel")
                    break
                buf.append(b)
                if len(buf) > MAX_SEND * (2 if p["hex"] else 1):
                    end, action = i + 1, "overflow"
                    break
            else:
                buf.append(b)
                if len(buf) == p["length"] * (2 if p["hex"] else 1):
                    end, action = i + 1, "send"
                    break
        if self.qisde and self.echo and not self.defect("qisde-no-echo"):
            self.output(data[:end] if action != "send" or p["length"] is not None else data[:end - 1])
        if action == "send":
            self._finish_send(bytes(buf))
        elif action is not None:
            self.mode = "command"
            self._prompt = None
            # reading: ESC cancels with ERROR, <err> 571 Cancel send; overflow: 552
            self.fail(571 if action == "cancel" else 552)
        if end < len(data) and action is not None:
            self.receive(data[end:])

    def _finish_send(self, payload: bytes) -> None:
        p, self._prompt = self._prompt, None
        self.mode = "command"
        if p["hex"]:
            try:
                payload = bytes.fromhex(payload.decode("latin-1"))
            except ValueError:
                self.fail(552)
                return
        self._transmit(p["socket"], payload, p["to"])

    def _transmit(self, s: Socket, payload: bytes, to=None) -> None:
        try:
            if to is not None:
                s.sock.sendto(payload, to)
            else:
                s.sock.sendall(payload)
        except BlockingIOError:
            self.final("SEND FAIL")    # §2.1.7: "SEND FAIL indicates the sending buffer is full"
            return
        except OSError:
            self.fail(558)
            return
        s.total_sent += len(payload)
        self.succeed("SEND OK")

    def cmd_QISENDEX_write(self, m: Match) -> None:
        s = self.sockets.get(m.values["connectID"])
        if s is None or s.state != CONNECTED or s.service_type in ("UDP SERVICE", "TCP LISTENER") or s.access_mode == 2:
            self.fail(572 if s is not None else 567)
            return
        self._transmit(s, bytes.fromhex(m.values["hex_string"]))

    # ------------------------------------------------------------------ reading
    def cmd_QIRD_write(self, m: Match) -> None:
        v = m.values
        s = self.sockets.get(v["connectID"])
        if s is None or s.service_type == "TCP LISTENER":
            self.fail(572 if s is not None else 567)
            return
        if m.variant.name == "query":
            less = 1 if self.defect("qird-counter-wrong") and s.total_read else 0
            self.info(f"+QIRD: {s.total_received},{s.total_read - less},{s.unread + less}")
            self.succeed()
            return
        if s.access_mode != 0:
            self.fail(572)
            return
        hexmode = self.qicfg["dataformat"][1] and not self.defect("hex-receive-ignored")
        sep = "," if self.qicfg["viewmode"] else "\r\n"
        if s.service_type == "UDP SERVICE":
            if not s.datagrams:
                self.info("+QIRD: 0")
            else:
                data, ip, port = s.datagrams.pop(0)
                port += 1 if self.defect("udp-qird-wrong-port") else 0
                s.total_read += len(data)
                body = data.hex().upper().encode() if hexmode else data
                self.output(f'\r\n+QIRD: {len(data)},"{ip}",{port}{sep}'.encode() + body + b"\r\n")
            if not s.datagrams:
                s.recv_urc_pending = False
            self.succeed()
            return
        n = min(v.get("read_length", 1500), len(s.rx))
        if n == 0:
            self.info("+QIRD: 0")
        else:
            data = bytes(s.rx[:n])
            del s.rx[:n]
            s.total_read += n
            body = data.hex().upper().encode() if hexmode else data
            self.output(f"\r\n+QIRD: {n}{sep}".encode() + body + b"\r\n")
            if s.sock is not None and not s.peer_closed and len(s.rx) <= RX_BUFFER_LIMIT:
                self.loop.add_reader(s.sock, lambda: self._readable(s))
        if not s.rx:
            s.recv_urc_pending = False
        self.succeed()

    # ------------------------------------------------------------- access modes
    _data_socket: Socket | None = None

    def cmd_QISWTMD_write(self, m: Match) -> None:
        s = self.sockets.get(m.values["connectID"])
        mode = m.values["access_mode"]
        if s is None or s.service_type in ("TCP LISTENER",) or (mode == 2 and s.state != CONNECTED):
            self.fail(572 if s is not None else 567)
            return
        s.access_mode = mode
        if mode == 2:
            self._enter_transparent(s)
            return
        self.succeed()

    def _enter_transparent(self, s: Socket) -> None:
        s.access_mode = 2
        self.transparent_id = s.connect_id
        self._data_socket = s
        self.last_error = 0
        self.final("CONNECT")
        self.mode = "data"
        self._esc = {"last_rx": self.clock.now(), "plus": 0, "plus_start": 0.0, "timer": None, "pending": bytearray()}
        self._tx_buf = bytearray()
        self._tx_timer = None
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
        esc = self._esc
        guard = self.fr.escape_guard_time
        now = self.clock.now()
        plain = bytearray()
        # all bytes of one read arrive at the same instant; only a '+' needs the guard rule
        for b in data:
            if b == 0x2B and not self.defect("escape-ignored") and esc["plus"] < 3 and (
                    (esc["plus"] == 0 and now - esc["last_rx"] >= guard and not plain)
                    or (esc["plus"] > 0 and now - esc["plus_start"] <= guard and not plain)):
                if esc["plus"] == 0:
                    esc["plus_start"] = now
                esc["plus"] += 1
                esc["pending"].append(b)
                if esc["plus"] == 3:
                    esc["timer"] = self.loop.call_later(guard, self._escape_confirmed)
                continue
            if esc["pending"]:
                plain += esc["pending"]
                esc["pending"].clear()
                esc["plus"] = 0
                Loop.cancel(esc["timer"])
                esc["timer"] = None
            plain.append(b)
        if plain:
            self._queue_tx(bytes(plain))
        esc["last_rx"] = now

    def _queue_tx(self, data: bytes) -> None:
        # §2.1.15: send when <transpktsize> bytes are waiting or after <transwaittm> x 100 ms
        self._tx_buf += data
        size = 1 if self.defect("transwaittm-ignored") else self.qicfg["transpktsize"]
        while len(self._tx_buf) >= size:
            self._send_transparent(bytes(self._tx_buf[:size]))
            del self._tx_buf[:size]
        Loop.cancel(self._tx_timer)
        self._tx_timer = None
        if self._tx_buf:
            self._tx_timer = self.loop.call_later(self.qicfg["transwaittm"] / 10, self._flush_tx)

    def _flush_tx(self) -> None:
        if self._tx_buf:
            self._send_transparent(bytes(self._tx_buf))
            self._tx_buf.clear()

    def _send_transparent(self, data: bytes) -> None:
        s = self._data_socket
        if s is None or s.sock is None:
            return
        try:
            s.sock.sendall(data)
            s.total_sent += len(data)
        except OSError:
            pass

    def _escape_confirmed(self) -> None:
        if self.mode != "data" or self._esc["plus"] != 3:
            return
        self._flush_tx()
        self._leave_data_mode()
        # §1.2 item 3: after OK the connection is in buffer access mode
        s = self.sockets.get(self.transparent_id)
        if s is not None:
            s.access_mode = 0
        self.ok()

    def _leave_data_mode(self) -> None:
        self.mode = "command"
        Loop.cancel(getattr(self, "_tx_timer", None))
        self._data_socket = None

    # ------------------------------------------------------------------ config
    def cmd_QICFG_write(self, m: Match) -> None:
        name, v = m.variant.name, m.values
        key = m.variant.syntax.split(",")[0].strip('"')     # the keyword, e.g. tcp/retranscfg
        if name.endswith("-query"):
            cur = self.qicfg[key]
            if key == "prefix":
                if cur is not None:
                    self.info(f'+QICFG: "prefix",{cur[0]},{cur[1]}')
            elif isinstance(cur, tuple):
                self.info(f'+QICFG: "{key}",{cur[0]},{cur[1]}')
            else:
                self.info(f'+QICFG: "{key}",{cur}')
        elif key == "dataformat":
            self.qicfg[key] = (v["send_data_format"], v["recv_data_format"])
        elif key == "viewmode":
            self.qicfg[key] = v["view_mode"]
        elif key == "prefix":
            self.qicfg[key] = (v["ipv6_prefix"], v["prefix_length"])
        elif key == "tcp/retranscfg":
            self.qicfg[key] = (v["max_backoffs"], v["max_rto"])
        else:
            self.qicfg[key] = v[key]
        self.succeed()

    def cmd_QISDE_read(self, m: Match) -> None:
        self.info(f"+QISDE: {self.qisde}")
        self.succeed()

    def cmd_QISDE_write(self, m: Match) -> None:
        self.qisde = m.values["echo"]
        self.succeed()

    def cmd_QIGETERROR_execute(self, m: Match) -> None:
        code = self.last_error
        if code == 552 and self.defect("qigeterror-wrong"):
            code = 553
        text = self.family.error_text(code) or "Unknown error"
        # example §3.9 prints "552, invalid parameters": comma, space, lower case
        self.info(f"+QIGETERROR: {code}, {text.lower()}")
        self.final("OK")

    def cmd_QIGETERROR_test(self, m: Match) -> None:
        self.final("OK")

    def cmd_QISTATE_test(self, m: Match) -> None:
        self.succeed()

    # ------------------------------------------------------------------ services
    def _require_active(self, cid: int) -> bool:
        if not self.contexts[cid].active:
            self.fail(561)       # reading: the context must be activated first (§2.1.11-2.1.14)
            return False
        return True

    def cmd_QIDNSCFG_write(self, m: Match) -> None:
        v = m.values
        ctx = self.contexts[v["contextID"]]
        if not self._require_active(ctx.cid):
            return
        if m.variant.name == "query":
            self.info(f'+QIDNSCFG: {ctx.cid},"{ctx.dns[0]}","{ctx.dns[1]}"')
        else:
            ctx.dns = (v["pridnsaddr"], v.get("secdnsaddr", ctx.dns[1]))
        self.succeed()

    def cmd_QIDNSGIP_write(self, m: Match) -> None:
        from atconform.families.bg96.services import dns_query

        v = m.values
        ctx = self.contexts[v["contextID"]]
        if not self._require_active(ctx.cid):
            return
        self.succeed()
        servers = [a for a in ctx.dns if a] or ["127.0.0.1"]
        dns_query(self.loop, v["hostname"], servers, self.dns_port, self._dns_result)

    def _dns_result(self, err: int, addrs: list[str], ttl: int) -> None:
        if err:
            self.urc(f'+QIURC: "dnsgip",{err},0,0')
            return
        if self.defect("dns-wrong-address"):
            addrs = ["10.255.255.1" for _ in addrs]
        self.urc(f'+QIURC: "dnsgip",0,{len(addrs)},{ttl}')
        for a in addrs:
            self.urc(f'+QIURC: "dnsgip","{a}"')

    def cmd_QPING_write(self, m: Match) -> None:
        from atconform.families.bg96.services import ping

        v = m.values
        if not self._require_active(v["contextID"]):
            return
        self.succeed()
        out = self.urc
        if self.defect("ping-summary-inconsistent"):
            def out(text: str) -> None:
                parts = text.split(",")
                if len(parts) == 7:
                    parts[3] = str(int(parts[3]) + 1)
                self.urc(",".join(parts))
        ping(self.loop, v["host"], v.get("timeout", 4), v.get("pingnum", 4), out)

    def cmd_QNTP_write(self, m: Match) -> None:
        from atconform.families.bg96.services import ntp_query

        v = m.values
        if not self._require_active(v["contextID"]):
            return
        self.succeed()
        self._ntp_busy = (v["server"], v.get("port", 123))

        def done(err: int, text: str) -> None:
            self._ntp_busy = None
            if text and self.defect("ntp-time-skewed"):
                text = text[:11] + f"{(int(text[11:13]) + 1) % 24:02d}" + text[13:]
            self.urc(f'+QNTP: {err},"{text}"' if not err else f"+QNTP: {err}")

        ntp_query(self.loop, v["server"], v.get("port", 123), done)

    _ntp_busy = None

    def cmd_QNTP_read(self, m: Match) -> None:
        if self._ntp_busy:
            self.info(f'+QNTP: "{self._ntp_busy[0]}",{self._ntp_busy[1]}')
        self.succeed()
