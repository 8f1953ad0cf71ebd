"""The emulated Quectel GSM module (:class:`Gsm`): the AT+QI* TCP/IP stack of the GSM
TCPIP Application Note (seed 003) behind real loopback sockets, on the run's loop and clock.

Parsing and validation come from ``specs/quectel_gsm.yaml`` through :class:`Dce` (the
module settings of ``settings:`` choose the variant a line is read by); the stack states
are the spec's Figures 3-4 (:mod:`.stack`); the 27.007 general commands are
:mod:`atconform.emulator.general`'s. Readings the note leaves open are marked ``# reading:``
and are the spec's notes.
"""
from __future__ import annotations

import fcntl
import socket
import struct
import termios
from dataclasses import dataclass, field

import dnslib

from atconform.emulator.dce import Dce, Defects
from atconform.emulator.faults import FaultPlan
from atconform.emulator.general import GeneralCommands, GeneralState, ModuleConfig, Radio
from atconform.emulator.runtime import Loop, Net
from atconform.protocol.commands import Match, SettingsTracker
from atconform.spec.models import Family

from .defects import BEHAVIOUR_DEFECTS
from .stack import INDEXES, MAX_SEND, Connection, Context, IllegalStackTransition, Listener, machine_for

# the emulated module's identity unless a test gives its own ModuleConfig
GSM_IDENTITY = {"manufacturer": "Quectel", "model": "M95", "revision": "M95FAR02A08"}
CONTEXT_IP = {0: "127.0.0.1", 1: "127.0.0.2"}       # loopback stands for the network's addresses
CTRL_Z, ESC, PLUS = 0x1A, 0x1B, 0x2B
DEACT_TIME = 2.0          # §5.5 L554: "Normally the response time for this command is about 2-5 seconds"
ACT_TIME = 0.3            # reading: AT+QIACT's activation time (the note gives none)
DNS_TIMEOUT = 60.0        # reading: the flow's 60 s (spec timing)
MAX_RECEIVE = 1500        # +RECEIVE/IPD <length> 1-1500 (spec reading)
RX_LIMIT = 1 << 20        # bytes held per connection before the emulator stops reading


def _free_port(kind: int) -> int:
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


@dataclass
class SendInput:
    """AT+QISEND input after ``>`` (§5.2): ``length`` bytes, or up to Ctrl-Z (None); the
    timed-sending timer (AT+QIAUTOS) when one runs."""

    conn: Connection
    length: int | None
    buf: bytearray = field(default_factory=bytearray)
    timer: list | None = None


@dataclass
class DataMode:
    """Transparent mode (§4): the connection in data mode, the +++ detector (L369: 500 ms
    silence before and after, under 20 ms between the '+'), and the AT+QITCFG send buffer."""

    conn: Connection | None = None
    last_rx: float = 0.0
    plus: int = 0
    plus_last: float = 0.0
    plus_timer: list | None = None
    tx: bytearray = field(default_factory=bytearray)
    tx_timer: list | None = None


@dataclass
class Options:
    """Settings that do not select shapes: AT+QITCFG (L353-355), AT+QIAUTOS (L486), AT&D,
    AT+QSCLK, AT+CREG/CGREG <n>."""

    tcfg: tuple[int, int, int, int] = (3, 2, 512, 1)   # resend, wait x100 ms, send size, +++ on
    autos: tuple[int, int] = (0, 10)
    dtr: int = 1
    sclk: int = 0
    reg_n: dict[str, int] = field(default_factory=lambda: {"+CREG": 0, "+CGREG": 0})


class Gsm(GeneralCommands, Dce):
    """The M95-era module. Runs on ``loop``'s thread; ``output`` writes bytes to the DTE.

    State: ``settings`` (:class:`SettingsTracker`, the spec's module settings),
    ``contexts`` (two :class:`~.stack.Context`), ``opts`` (:class:`Options`), ``send``
    (the ``>`` input), ``dm`` (:class:`DataMode`); all fresh at power-on. ``dns_host``/
    ``dns_port``: where names are resolved when the context has no AT+QIDNSCFG servers
    (§8.2 L771: negotiated at activation)."""

    def __init__(self, family: Family, loop: Loop, output, defects: Defects | None = None, *,
                 dns_port: int = 53, dns_host: str = "127.0.0.1", faults: FaultPlan | None = None,
                 power_hook=None, module: ModuleConfig | None = None):
        self.loop = loop
        self.module = module or ModuleConfig(**GSM_IDENTITY, radio=Radio(act=0, act_name="GSM", band="EGSM 900",
                                                                          channel=62))
        self.profile = None
        self.net = Net(loop)
        self.dns_host, self.dns_port = dns_host, dns_port
        # AT+QILPORT? (L191): the module's own ports, kept across boots
        self.local_ports = {"TCP": _free_port(socket.SOCK_STREAM), "UDP": _free_port(socket.SOCK_DGRAM)}
        super().__init__(family, output, loop.clock, defects)
        self.power_hook = power_hook
        self.mode = "off"
        self._fresh_state()
        self.set_faults(faults)
        self.power_on()

    # ------------------------------------------------------------------ state
    def _fresh_state(self) -> None:
        self.settings = SettingsTracker(self.family)
        self.contexts = {cid: Context(cid, (lambda c=cid: machine_for(self.family, {"mux": self.mux(c)})))
                         for cid in (0, 1)}
        self.opts = Options()
        self.send: SendInput | None = None
        self.dm = DataMode()
        self.general = GeneralState()

    def defect(self, name: str) -> bool:
        """Whether planted behaviour defect ``name`` (of BEHAVIOUR_DEFECTS) is on. The
        general commands' own defect names (general.py) are never planted here; this
        package's calls are checked at import (check_defect_calls)."""
        return name in BEHAVIOUR_DEFECTS and name in self.defects.behaviour

    def match_settings(self) -> dict:
        return self.settings.current()

    def get(self, name: str, ctx: Context | None = None):
        return self.settings.get(name, ctx.cid if ctx is not None else None)

    def mux(self, cid: int) -> int:
        return self.settings.get("mux", cid)

    @property
    def fg(self) -> Context:
        """The foreground context (AT+QIFGCNT, §7.1)."""
        return self.contexts[self.settings.get("fgcnt")]

    def _apply(self, m: Match) -> None:
        self.settings.apply(self.settings.changes(m))

    # ------------------------------------------------------------------ power and faults
    @property
    def powered(self) -> bool:
        return self.mode != "off"

    def power_on(self) -> None:
        """Boot: every setting and all state back to defaults (no boot URC: the note shows
        none). The boot counter goes up; this boot's faults are drawn and armed."""
        if self.powered:
            self.power_off()
        self._cancel_fault_timers()
        self._drop_hold()
        self.dead = False
        self.boot_count += 1
        self.boot_time = self.clock.now()
        self.load_profile()
        if self.power_hook is not None and self.boot_count > 1:
            self.power_hook("on")
        self.mode = "command"
        self.busy = False
        self._queued = []
        self.reset_line()
        self._fresh_state()
        if self.fault_state is not None:
            self.fault_state.begin_boot(self.boot_count)
            self._arm_timed_faults()

    def power_off(self, discard: bool = False) -> None:
        self._cancel_fault_timers()
        self._drop_hold()
        for ctx in self.contexts.values():
            self._drop_all(ctx)
        self._leave_data_mode()
        self.mode = "off"
        self.busy = False
        self._queued = []
        self.reset_line()
        if discard and self.power_hook is not None:
            self.power_hook("lost")

    def restart(self, boot_urcs) -> None:
        self.power_off()
        self.loop.call_later(0.3, self.power_on)

    def schedule_power_on(self, delay: float) -> None:
        self.loop.call_later(delay, self.power_on)

    def call_later(self, delay: float, cb):
        return self.loop.call_later(delay, cb)

    def cancel_timer(self, handle) -> None:
        Loop.cancel(handle)

    def _condition(self, kind: str):
        if self.fault_state is None:
            return None
        return self.fault_state.condition(kind, self.clock.now() - self.boot_time)

    def family_timed_fault(self, f) -> None:
        if f.kind == "pdp_deact":
            self.fault_fired(f.kind, "the network deactivates the context: +PDP DEACT")
            self.network_deactivate()
        elif f.kind == "half_open":
            n = 0
            for ctx in self.contexts.values():
                for c in ctx.conns.values():
                    if c.protocol == "TCP" and c.sock is not None:
                        c.half_open = True
                        self.loop.forget(c.sock)       # nothing arrives any more, no FIN either
                        n += 1
            self.fault_fired(f.kind, f"{n} TCP connection(s) dropped by the network without a word")

    def recover_from_handler_error(self) -> None:
        super().recover_from_handler_error()
        self.send = None

    # ------------------------------------------------------------------ helpers
    def _allowed(self, m: Match, ctx: Context | None = None) -> bool:
        """The figure's state accepts the command (spec ``allows``); ERROR otherwise."""
        ctx = ctx or self.fg
        if ctx.allowed(m.command.name):
            return True
        self.error()
        return False

    def _fire(self, ctx: Context, event: str) -> None:
        if ctx.may(event):
            ctx.fire(event)

    def _reply_only(self, text: str) -> None:
        """A reply line with no final result code (AT+QILOCIP, L149-151): the command ends."""
        self.info(text)
        self.busy = False
        self.current = None
        self._run_queued()

    def _activate(self, ctx: Context) -> bool:
        """Register and activate ``ctx`` as AT+QIOPEN/AT+QISERVER/AT+QIDNSGIP do by
        themselves in IP INITIAL/IP START (L145, L771); False when the network refuses."""
        if ctx.active:
            return True
        if not self.registered or not self.general.attached:
            return False
        self._fire(ctx, "+QIREGAPP")
        self._fire(ctx, "+QIACT")
        self._fire(ctx, "activating")
        self._fire(ctx, "activated")
        ctx.active = True
        ctx.ip = CONTEXT_IP[ctx.cid]
        return True

    def _idx_prefix(self, ctx: Context, conn: Connection) -> str:
        return f"{conn.index}, " if self.mux(ctx.cid) else ""

    # ------------------------------------------------------------------ 27.007 hooks
    def pdp_contexts(self):
        return list(self.contexts.values())

    def pdp_activate(self, cid: int) -> bool:
        return self._activate(self.contexts[cid])

    def pdp_deactivate(self, cid: int) -> None:
        ctx = self.contexts[cid]
        self._drop_all(ctx)
        ctx.active, ctx.ip = False, ""
        self._fire(ctx, "+CGATT=0")

    def pdp_define(self, cid: int, pdp_type: str | None, apn: str = "") -> None:
        self.contexts[cid].apn = apn

    def detach(self) -> None:
        # Figures 3-4 (L564, L588): AT+CGATT=0 (and RF off) -> PDP DEACT from any state after IP START
        for ctx in self.contexts.values():
            self.pdp_deactivate(ctx.cid)
        self.general.attached = False

    def network_deactivate(self) -> None:
        """The network drops the context(s) (Figure 2 L126): +PDP DEACT, connections gone,
        PDP DEACT until AT+QIDEACT; in data mode the module leaves it first (L370)."""
        hit = [c for c in self.contexts.values() if c.active]
        if not hit:
            return
        if self.mode == "data":
            self._leave_data_mode()
        for ctx in hit:
            self._drop_all(ctx)
            ctx.active, ctx.ip = False, ""
            self._fire(ctx, "pdp deact")
        self.urc("+PDP DEACT")

    # ------------------------------------------------------------------ basic commands
    def cmd_I_execute(self, m: Match) -> None:
        mod = self.module
        self.info_block([mod.manufacturer, mod.model, f"Revision: {mod.revision}"])
        self.ok()

    def cmd_D_write(self, m: Match) -> None:
        self.opts.dtr = m.values.get("value", 0)
        self.ok()

    def cmd_CPIN_read(self, m: Match) -> None:
        if not self.sim_on:
            self.error(13)
            return
        self.info("+CPIN: READY")
        self.ok()

    def _reg_read(self, m: Match) -> None:
        self.info(f"{m.command.name}: {self.opts.reg_n[m.command.name]},{self.reg_stat()}")
        self.ok()

    def _reg_write(self, m: Match) -> None:
        self.opts.reg_n[m.command.name] = m.values.get("n", 0)
        self.ok()

    cmd_CREG_read = cmd_CGREG_read = _reg_read
    cmd_CREG_write = cmd_CGREG_write = _reg_write

    # ------------------------------------------------------------------ configuration (§3, §4, §7)
    def cmd_QIFGCNT_write(self, m: Match) -> None:
        self._apply(m)
        self.ok()

    def cmd_QICSGP_write(self, m: Match) -> None:
        if not self._allowed(m):
            return
        self.fg.bearer, self.fg.apn = m.values["mode"], m.values["apn"]
        self.ok()

    def cmd_QIMUX_write(self, m: Match) -> None:
        # L245: multiple connections only in non-transparent mode
        if not self._allowed(m) or (m.values["mode"] == 1 and self.get("mode")):
            if self.current is not None:
                self.error()
            return
        self._apply(m)
        self.ok()

    def cmd_QIMODE_write(self, m: Match) -> None:
        if not self._allowed(m) or (m.values["mode"] == 1 and self.get("mux")):
            if self.current is not None:
                self.error()
            return
        self._apply(m)
        self.ok()

    def _setting(self, m: Match) -> None:
        self._apply(m)
        self.ok()

    cmd_QIDNSIP_write = cmd_QISRVC_write = cmd_QIHEAD_write = cmd_QISHOWRA_write = _setting
    cmd_QISHOWLA_write = cmd_QISHOWPT_write = cmd_QINDI_write = _setting

    def cmd_QITCFG_write(self, m: Match) -> None:
        v = m.values
        self.opts.tcfg = (v["resend_times"], v["wait_time"], v["send_size"], v["escape"])
        self.ok()

    def cmd_QIAUTOS_write(self, m: Match) -> None:
        self.opts.autos = (m.values["mode"], m.values.get("time", self.opts.autos[1]))
        self.ok()

    def cmd_QSCLK_write(self, m: Match) -> None:
        self.opts.sclk = m.values["n"]       # reading: a pty has no DTR; the module never sleeps here
        self.ok()

    # ------------------------------------------------------------------ stack (Figures 3-4)
    def cmd_QIREGAPP_execute(self, m: Match) -> None:
        if self._allowed(m):
            self.fg.fire("+QIREGAPP")
            self.ok()

    def cmd_QIACT_execute(self, m: Match) -> None:
        ctx = self.fg
        if not self._allowed(m):
            return
        if not self.registered or not self.general.attached:
            self.error()
            return
        ctx.fire("+QIACT")
        ctx.fire("activating")

        def done() -> None:
            ctx.fire("activated")
            ctx.active, ctx.ip = True, CONTEXT_IP[ctx.cid]
            if self.defect("qiact-wrong-state"):
                ctx.state = "IP START"
            self.ok()

        self.loop.call_later(ACT_TIME, done)

    def cmd_QILOCIP_execute(self, m: Match) -> None:
        ctx = self.fg
        if not self._allowed(m):
            return
        ctx.fire("+QILOCIP")
        if self.defect("qilocip-adds-ok"):
            self.info(ctx.ip)
            self.ok()
            return
        self._reply_only(ctx.ip)

    def cmd_QIDEACT_execute(self, m: Match) -> None:
        ctx = self.fg
        if self.mode == "data":
            self._leave_data_mode()
        self._drop_all(ctx)
        ctx.active, ctx.ip = False, ""

        def done() -> None:
            ctx.fire("+QIDEACT")
            self.final("DEACT OK")

        self.loop.call_later(DEACT_TIME, done)

    def cmd_CFUN_write(self, m: Match) -> None:
        super().cmd_CFUN_write(m)
        if self.general.fun == 1:
            self.general.attached = True     # reading: back on the network, attached again

    def cmd_CGATT_write(self, m: Match) -> None:
        if m.values["state"] == 0:
            self.detach()
            self.ok()
            return
        super().cmd_CGATT_write(m)

    def _ok_then(self, *lines: str) -> None:
        """OK, then the command's follow lines (spec Variant.follow), before any line the
        DTE sent meanwhile is taken."""
        queued, self._queued = self._queued, []
        self.ok()
        for text in lines:
            self.urc(text)
        self._queued = queued + self._queued
        self._run_queued()

    def cmd_QISTAT_execute(self, m: Match) -> None:
        self._ok_then(f"STATE: {self.fg.state}")        # L622: after the OK

    def cmd_QISTATE_execute(self, m: Match) -> None:
        ctx = self.fg
        lines = [f"STATE: {ctx.state}"]
        for i in range(5 if self.defect("qistate-five-lines") else len(INDEXES)):
            c = ctx.conns.get(i)
            if c is None:
                lines.append(f'+QISTATE: {i},"","",,"INITIAL"')        # L623
            else:
                lines.append(f'+QISTATE: {i},"{c.protocol}","{c.remote_ip}",{c.remote_port},"{c.state}"')
        self._ok_then(*lines)

    def cmd_QISSTAT_execute(self, m: Match) -> None:
        self._ok_then("S: LISTENNING" if self.fg.listener is not None else "S: STOP")   # L624 (sic)

    def cmd_QILPORT_read(self, m: Match) -> None:
        self.info(f"TCP: {self.local_ports['TCP']}")
        self.info(f"UDP: {self.local_ports['UDP']}")
        self.ok()

    # ------------------------------------------------------------------ DNS (§8)
    def cmd_QIDNSCFG_write(self, m: Match) -> None:
        v = m.values
        self.fg.dns = (v["primary"], v.get("secondary") or "")
        self.ok()

    def resolve(self, ctx: Context, name: str, done) -> None:
        """``done(addrs)`` on the loop: the A records of ``name`` through the context's DNS
        servers over UDP (never the host's resolver), [] when it does not resolve within
        :data:`DNS_TIMEOUT`. A dotted address is its own answer."""
        if _is_ipv4(name):
            self.loop.call_later(0, lambda: done([name]))
            return
        if self.defect("dns-bypassed"):
            try:
                addrs = [socket.getaddrinfo(name, None, socket.AF_INET)[0][4][0]]
            except OSError:
                addrs = []
            self.loop.call_later(0, lambda: done(addrs))
            return
        servers = [a for a in ctx.dns if a] or [self.dns_host]
        q = dnslib.DNSRecord.question(name, "A")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        timer: list = []

        def finish(addrs: list[str]) -> None:
            self.loop.forget(s)
            Loop.cancel(timer[0] if timer else None)
            s.close()
            done(addrs)

        def readable() -> None:
            try:
                r = dnslib.DNSRecord.parse(s.recv(4096))
            except (OSError, dnslib.DNSError):
                return
            if r.header.id == q.header.id:
                finish([str(a.rdata) for a in r.rr if a.rtype == dnslib.QTYPE.A])

        for server in dict.fromkeys(servers):
            try:
                s.sendto(q.pack(), (server, self.dns_port))
            except OSError:
                continue
        self.loop.add_reader(s, readable)
        timer.append(self.loop.call_later(DNS_TIMEOUT, lambda: finish([])))

    def cmd_QIDNSGIP_write(self, m: Match) -> None:
        ctx = self.fg
        if not self._allowed(m) or not self._activate(ctx):
            if self.current is not None:
                self.error()
            return
        self.ok()

        def done(addrs: list[str]) -> None:
            if not addrs:
                self.urc("ERROR")          # reading: the failure after the OK
            for a in addrs:
                self.urc(a)

        self.resolve(ctx, m.values["domain"], done)

    # ------------------------------------------------------------------ connections (§3, §4)
    def cmd_QIOPEN_write(self, m: Match) -> None:
        ctx, v = self.fg, m.values
        mux = self.mux(ctx.cid)
        if not self._allowed(m):
            return
        if mux:
            idx = v["index"]
            old = ctx.conns.get(idx)
        else:
            idx = 0
            old = ctx.client()
        if old is not None and old.sock is not None:
            self.final("ALREADY CONNECT")       # reading, unverified (spec result codes)
            return
        if old is not None:
            self._drop(ctx, old)                 # a connection the peer closed, not yet AT+QICLOSE'd
        if mux and ctx.capacity_left() <= 0:
            self.error()                         # spec notes (2): six indexes, a listener takes one
            return
        addr = v["address"]
        if not self.get("dnsip", ctx) and not _is_ipv4(addr):
            self.error()                         # reading: AT+QIDNSIP=0 takes addresses only
            return
        if not self._activate(ctx):
            self.error()
            return
        conn = Connection(idx, v["protocol"], addr, v["port"], transparent=bool(self.get("mode", ctx)))
        ctx.conns[idx] = conn
        ctx.fire(f"open {conn.protocol.lower()}")
        self.ok()
        self.resolve(ctx, addr, lambda addrs: self._connect(ctx, conn, addrs))

    def _connect(self, ctx: Context, conn: Connection, addrs: list[str]) -> None:
        if ctx.conns.get(conn.index) is not conn:
            return
        if not addrs:
            self._opened(ctx, conn, None)
            return
        conn.remote_ip = addrs[0]
        if conn.protocol == "TCP":
            self.net.tcp_connect(addrs[0], conn.remote_port, (ctx.ip, 0),
                                 lambda sock, err: self._opened(ctx, conn, sock))
            return
        sock, err = self.net.udp_socket(addrs[0], conn.remote_port, (ctx.ip, 0))
        self._opened(ctx, conn, sock)

    def _opened(self, ctx: Context, conn: Connection, sock) -> None:
        if ctx.conns.get(conn.index) is not conn:
            if sock is not None:
                sock.close()
            return
        prefix = self._idx_prefix(ctx, conn)
        if sock is None:
            del ctx.conns[conn.index]
            self._after_close(ctx, failed=True)
            self.urc(f"{prefix}CONNECT FAIL")      # reading (spec QIOPEN notes)
            return
        conn.sock, conn.state = sock, "CONNECTED"
        self._fire(ctx, "connected")
        self.loop.add_reader(sock, lambda: self._readable(ctx, conn))
        if conn.transparent:
            self.urc("CONNECT")                    # L377: data mode follows
            self._enter_data(conn)
            return
        if self.defect("connect-ok-no-index"):
            prefix = ""
        self.urc(f"{prefix}CONNECT OK")

    def _drop(self, ctx: Context, conn: Connection) -> None:
        """Close ``conn``'s socket and forget it (no report)."""
        if conn.sock is not None and not (conn.role == "server" and conn.protocol == "UDP"):
            # (a UDP server's client shares the listener's socket: that one stays)
            self.loop.forget(conn.sock)
            try:
                if conn.protocol == "TCP":
                    conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.sock.close()
        conn.sock = None
        if ctx.conns.get(conn.index) is conn:
            del ctx.conns[conn.index]
        if self.dm.conn is conn:
            self._leave_data_mode()

    def _drop_listener(self, ctx: Context) -> None:
        lst = ctx.listener
        if lst is None:
            return
        if lst.sock is not None:
            self.loop.forget(lst.sock)
            lst.sock.close()
        ctx.listener = None

    def _drop_all(self, ctx: Context) -> None:
        for c in list(ctx.conns.values()):
            self._drop(ctx, c)
        self._drop_listener(ctx)

    def _after_close(self, ctx: Context, failed: bool = False) -> None:
        """The figure's move once a connection (or the listener) is gone."""
        if self.mux(ctx.cid):
            if not ctx.conns and ctx.listener is None:
                self._fire(ctx, "last closed")
        else:
            self._fire(ctx, "connect failed" if failed else "+QICLOSE")

    def cmd_QICLOSE_execute(self, m: Match) -> None:
        ctx = self.fg
        if self.mux(ctx.cid):
            # L333: with QIMUX=1 a bare AT+QICLOSE closes the listener
            if ctx.listener is None:
                self.error()
                return
            self._drop_listener(ctx)
            self._after_close(ctx)
            self.final("CLOSE OK")
            return
        if self.get("srvc") == 2:
            # L233-236: the client of the server side first, then the listener
            conn = ctx.served()
            if conn is None:
                if ctx.listener is None:
                    self.error()
                    return
                self._drop_listener(ctx)
                self.final("CLOSE OK")
                return
            self._drop(ctx, conn)
            self.final("CLOSE OK")
            return
        conn = ctx.client()
        if conn is None and ctx.served() is not None:
            self._drop(ctx, ctx.served())            # §4.2 L435: the one connection there is
            self.final("CLOSE OK")
            return
        if conn is None:
            self.error()                             # reading: nothing to close
            return
        self._drop(ctx, conn)
        self._after_close(ctx)
        self.final("CLOSE OK")

    def cmd_QICLOSE_write(self, m: Match) -> None:
        ctx, idx = self.fg, m.values["index"]
        conn = ctx.conns.get(idx)
        if conn is None:
            self.error()
            return
        self._drop(ctx, conn)
        self._after_close(ctx)
        self.final("CLOSE OK" if self.defect("close-ok-no-index") else f"{idx}, CLOSE OK")   # §5.4 L551

    # ------------------------------------------------------------------ server (§3.2, §3.4, §4.2)
    def _listen(self, m: Match, protocol: str, max_clients: int) -> None:
        ctx = self.fg
        if not self._allowed(m):
            return
        if ctx.listener is not None or (self.mux(ctx.cid) and ctx.capacity_left() <= 0) or not self._activate(ctx):
            self.error()
            return
        for _ in range(3):
            port = self.local_ports[protocol]
            if protocol == "TCP":
                sock, err = self.net.tcp_listen((ctx.ip, port))
            else:
                sock, err = self.net.udp_socket(None, 0, (ctx.ip, port))
            if sock is not None:
                break
            # a real module owns its port; the emulated one shares the host's port space, where
            # another process may have taken it since boot: an artefact of emulation, not the
            # module's ERROR. Take another free port (AT+QILPORT? reports it from now on).
            self.local_ports[protocol] = _free_port(socket.SOCK_STREAM if protocol == "TCP" else socket.SOCK_DGRAM)
        if sock is None:
            self.error()
            return
        ctx.listener = Listener(protocol, max_clients, sock, port)
        self._fire(ctx, "listen")
        self.loop.add_reader(sock, (lambda: self._accept(ctx)) if protocol == "TCP" else (lambda: self._udp_in(ctx)))
        self._ok_then(*(["SERVER OK"] * (2 if self.defect("second-server-ok") else 1)))

    def cmd_QISERVER_execute(self, m: Match) -> None:
        self._listen(m, "TCP", 5 if self.mux(self.fg.cid) else 1)

    def cmd_QISERVER_write(self, m: Match) -> None:
        v = m.values
        default = 5 if self.mux(self.fg.cid) else 1          # reading: QIMUX=0 serves one client
        self._listen(m, "TCP" if v["type"] == 0 else "UDP", v.get("max", default))

    def _room_for_client(self, ctx: Context) -> int | None:
        """The index a new client gets, or None when the listener is full (§3.4 L279)."""
        lst = ctx.listener
        served = sum(1 for c in ctx.conns.values() if c.role == "server")
        full = served >= lst.max_clients and not self.defect("server-accepts-beyond-max")
        if self.mux(ctx.cid):
            if full or ctx.capacity_left() <= 0:
                return None
            return ctx.free_indexes()[0]
        if full or 1 in ctx.conns:
            return None
        return 1                                   # single mode: the server side's connection

    def _accept(self, ctx: Context) -> None:
        lst = ctx.listener
        if lst is None or lst.sock is None:
            return
        try:
            sock, (ip, port) = lst.sock.accept()
        except BlockingIOError:
            return
        idx = self._room_for_client(ctx)
        if idx is None:
            sock.close()
            return
        sock.setblocking(False)
        conn = Connection(idx, "TCP", ip, port, role="server", sock=sock, state="CONNECTED",
                          transparent=bool(self.get("mode", ctx)))
        ctx.conns[idx] = conn
        self.loop.add_reader(sock, lambda: self._readable(ctx, conn))
        self.urc(f"{self._idx_prefix(ctx, conn)}REMOTE IP: {ip}")        # L194, L292
        if conn.transparent:
            self.urc("CONNECT")                                          # L418, L444
            self._enter_data(conn)

    def _udp_in(self, ctx: Context) -> None:
        lst = ctx.listener
        if lst is None or lst.sock is None:
            return
        try:
            data, addr = lst.sock.recvfrom(65535)
        except OSError:
            return
        idx = lst.udp_clients.get(addr)
        conn = ctx.conns.get(idx) if idx is not None else None
        if conn is None:
            idx = self._room_for_client(ctx)
            if idx is None:
                return
            conn = Connection(idx, "UDP", addr[0], addr[1], role="server", sock=lst.sock, state="CONNECTED",
                              transparent=bool(self.get("mode", ctx)))
            ctx.conns[idx] = conn
            lst.udp_clients[addr] = idx
            # L195: a UDP client is reported with its first packet
            self.urc(f"{self._idx_prefix(ctx, conn)}REMOTE IP: {addr[0]}")
            if conn.transparent:
                self.urc("CONNECT")
                self._enter_data(conn)
        self._deliver(ctx, conn, data)

    # ------------------------------------------------------------------ receiving (§5.3)
    def _readable(self, ctx: Context, conn: Connection) -> None:
        if conn.sock is None or ctx.conns.get(conn.index) is not conn:
            return
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            if conn.protocol == "UDP":
                return          # ICMP port unreachable on a connected UDP socket: not a close
            data = b""
        if not data and conn.protocol == "TCP":
            self._peer_closed(ctx, conn)
            return
        if self.defect("rx-drops-a-byte") and conn.received < 1 << 19 <= conn.received + len(data):
            data = data[:-1]
        conn.received += len(data)
        self._deliver(ctx, conn, data)

    def _peer_closed(self, ctx: Context, conn: Connection) -> None:
        """The peer closed (Figure 2 L121 "Received URC: CLOSED"): CLOSED, the index stays
        used (CLOSING) until AT+QICLOSE; in data mode the module leaves it first (L370)."""
        self.loop.forget(conn.sock)
        conn.sock.close()
        conn.sock, conn.state = None, "CLOSING"
        prefix = self._idx_prefix(ctx, conn)
        if self.dm.conn is conn:
            if self.defect("closed-stays-in-data-mode"):
                return
            self._leave_data_mode()
        if conn.role == "client" and not self.mux(ctx.cid):
            self._fire(ctx, "closed")
        self.urc(f"{prefix}CLOSED")

    def _deliver(self, ctx: Context, conn: Connection, data: bytes) -> None:
        """Data from the peer, as the settings print it (§5.3): straight out in data
        mode, held in transparent command mode (L365), kept for AT+QIRD with +QIRDI
        (QINDI=1, L540), else with the headers of QISHOWRA/QISHOWLA/QIHEAD/QISHOWPT or
        +RECEIVE (QIMUX=1)."""
        if conn.transparent:
            if self.mode == "data" and self.dm.conn is conn:
                self.output(data)
            else:
                conn.rx += data
            return
        if self.get("indi"):
            if conn.protocol == "UDP":
                conn.datagrams.append(data)
            else:
                conn.rx += data
                if len(conn.rx) > RX_LIMIT and conn.sock is not None:
                    self.loop.remove_reader(conn.sock)       # flow control until AT+QIRD
            if not conn.qirdi_pending:
                conn.qirdi_pending = True                    # reading: once until read empty
                self.urc(f"+QIRDI:{ctx.cid},{1 if conn.role == 'client' else 2},{conn.index if self.mux(ctx.cid) else 0}")
            return
        mux = self.mux(ctx.cid)
        for i in range(0, len(data), MAX_RECEIVE):
            part = data[i:i + MAX_RECEIVE]
            if self.get("showra"):
                self.urc(f"RECV FROM:{conn.remote_ip}:{conn.remote_port}")
            if self.get("showla"):
                self.urc(f"TO:{ctx.ip}")
            if mux:
                n = len(part) + (1 if self.defect("receive-wrong-length") else 0)
                self.urc(f"+RECEIVE: {conn.index}, {n}", part)
            elif self.get("head") and not self.defect("ipd-header-missing"):
                pt = conn.protocol if self.get("showpt") and not self.defect("ipd-no-protocol") else ""
                self.output(f"\r\nIPD{len(part)}{pt}:".encode() + part)     # L534, glued
            else:
                self.output(part)                                           # L523: no header

    def cmd_QIRD_write(self, m: Match) -> None:
        v = m.values
        ctx = self.contexts[v["id"]]
        role = "client" if v["sc"] == 1 else "server"
        if self.mux(ctx.cid):
            conn = ctx.conns.get(v["sid"])
            conn = conn if conn is not None and conn.role == role else None
        else:
            conn = ctx.client() if role == "client" else ctx.served()
        if conn is not None:
            left = v["len"]
            while left > 0:
                if conn.protocol == "UDP":
                    if not conn.datagrams or len(conn.datagrams[0]) > left:
                        break
                    part = conn.datagrams.pop(0)
                else:
                    part = bytes(conn.rx[:left])
                    del conn.rx[:len(part)]
                    if not part:
                        break
                left -= len(part)
                shown = part[:-1] if self.defect("qird-drops-a-byte") else part
                self.output(f"\r\n+QIRD:{conn.remote_ip}:{conn.remote_port},{conn.protocol},{len(part)}\r\n".encode()
                            + shown + b"\r\n")
                if conn.protocol == "TCP":
                    break
            if not conn.rx and not conn.datagrams:
                conn.qirdi_pending = False
            if conn.sock is not None and conn.protocol == "TCP" and len(conn.rx) <= RX_LIMIT:
                self.loop.add_reader(conn.sock, lambda: self._readable(ctx, conn))
        self.ok()

    # ------------------------------------------------------------------ sending (§5.2)
    def _target(self, ctx: Context, index: int | None) -> Connection | None:
        """The connection AT+QISEND/AT+QISACK act on: the index with QIMUX=1, else the side
        AT+QISRVC chose (§3.2)."""
        if self.mux(ctx.cid):
            return ctx.conns.get(index)
        # reading (§4.2 L430: AT+QISACK with only the server side open, no AT+QISRVC): the
        # side AT+QISRVC chose, else the one connection there is
        first, other = (ctx.served(), ctx.client()) if self.get("srvc") == 2 else (ctx.client(), ctx.served())
        return first or other

    def _start_send(self, index: int | None, length: int | None) -> None:
        conn = self._target(self.fg, index)
        if conn is None or conn.sock is None or conn.transparent:
            self.error()                 # reading: no connection to send on
            return
        self.send = SendInput(conn, length)
        self.mode = "prompt"
        self.prompt()
        mode, secs = self.opts.autos
        if mode == 1 and not self.defect("autos-ignored"):
            # §5.2.2.3 L490: "After this command, then the preset timer starts"
            self.send.timer = self.loop.call_later(secs, self._autos_expired)

    def cmd_QISEND_execute(self, m: Match) -> None:
        if self.mux(self.fg.cid):
            self.error()
            return
        self._start_send(None, None)

    def cmd_QISEND_write(self, m: Match) -> None:
        v = m.values
        self._start_send(v.get("index"), v.get("length"))

    def prompt_input(self, data: bytes) -> None:
        """Data after ``>``: up to Ctrl-Z (bytes after the 1460th omitted, L164) or the
        fixed length (Ctrl-Z is data then, L484); ESC cancels either (L470, L484)."""
        p = self.send
        for i, b in enumerate(data):
            if b == ESC:
                self._end_send()
                self.error()             # reading: a cancelled send answers ERROR
                self._rest(data[i + 1:])
                return
            if p.length is None:
                if b == CTRL_Z:
                    self._transmit_input()
                    self._rest(data[i + 1:])
                    return
                if len(p.buf) < MAX_SEND or self.defect("send-over-1460-kept"):
                    p.buf.append(b)
            else:
                p.buf.append(b)
                if len(p.buf) == p.length:
                    self._transmit_input()
                    self._rest(data[i + 1:])
                    return

    def _rest(self, data: bytes) -> None:
        if data:
            self.receive(data)

    def _end_send(self) -> SendInput:
        p, self.send = self.send, None
        Loop.cancel(p.timer)
        self.mode = "command"
        return p

    def _autos_expired(self) -> None:
        if self.send is None or self.mode != "prompt":
            return
        self._transmit_input()

    def _transmit_input(self) -> None:
        p = self._end_send()
        if not p.buf:
            self.final("SEND FAIL")      # L496-498: nothing to send when the timer ends
            return
        self._transmit(p.conn, bytes(p.buf))
        self.final("SEND OK")

    def _transmit(self, conn: Connection, data: bytes) -> None:
        if conn.half_open:
            conn.sent += len(data)
            conn.lost += len(data)
            return
        try:
            if conn.role == "server" and conn.protocol == "UDP":
                conn.sock.sendto(data, (conn.remote_ip, conn.remote_port))
            else:
                conn.sock.sendall(data)
        except OSError:
            return
        conn.sent += len(data)

    def _unacked(self, conn: Connection) -> int:
        if conn.protocol == "UDP":
            return conn.sent             # L508: acked always 0; reading: sent = acked + nacked
        if conn.half_open:
            return conn.lost
        if self._condition("silent_peer") is not None:
            self.fault_fired("silent_peer", "AT+QISACK: every sent byte unacknowledged")
            return conn.sent
        if conn.sock is None:
            return 0
        try:
            buf = fcntl.ioctl(conn.sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")   # Linux: bytes not yet acked
            return min(struct.unpack("i", buf)[0], conn.sent)
        except OSError:
            return 0

    def _qisack(self, index: int | None) -> None:
        conn = self._target(self.fg, index)
        if conn is None:
            self.error()
            return
        unacked = self._unacked(conn)
        extra = 1 if self.defect("qisack-off-by-one") else 0
        self.info(f"+QISACK: {conn.sent + extra}, {conn.sent - unacked}, {unacked}")     # L170
        self.ok()

    def cmd_QISACK_execute(self, m: Match) -> None:
        self._qisack(None)

    def cmd_QISACK_write(self, m: Match) -> None:
        self._qisack(m.values["index"])

    # ------------------------------------------------------------------ transparent mode (§4)
    def _enter_data(self, conn: Connection) -> None:
        self.dm = DataMode(conn=conn, last_rx=self.clock.now())
        self.mode = "data"
        if conn.rx:                       # held in command mode (L365): out now
            data = bytes(conn.rx)
            conn.rx.clear()
            self.output(data)

    def _leave_data_mode(self) -> None:
        if self.mode == "data":
            self._flush_tx()
            self.mode = "command"
        Loop.cancel(self.dm.plus_timer)
        Loop.cancel(self.dm.tx_timer)
        self.dm = DataMode()

    def cmd_O_execute(self, m: Match) -> None:
        ctx = self.fg
        conn = next((c for c in ctx.conns.values() if c.transparent and c.sock is not None), None)
        if conn is None or self.defect("ato-no-connect"):
            self.final("NO CARRIER")      # reading (spec O notes)
            return
        self.final("CONNECT")             # L388
        self._enter_data(conn)

    def data_input(self, data: bytes) -> None:
        """Data mode: bytes to the peer through the AT+QITCFG buffer; ``+++`` with 500 ms of
        silence before and after and under 20 ms between the '+' leaves it (L369), when
        AT+QITCFG's last parameter allows (L355)."""
        dm, now = self.dm, self.clock.now()
        guard = self.fr.escape_guard_time
        gap = self.fr.escape_max_gap or guard
        detect = self.opts.tcfg[3] == 1
        sloppy = self.defect("escape-guard-ignored")
        plain = bytearray()
        for b in data:
            if b == PLUS and detect and dm.plus < 3 and (not plain or sloppy) and (
                    (dm.plus == 0 and (now - dm.last_rx >= guard or sloppy))
                    or (dm.plus > 0 and (now - dm.plus_last < gap or sloppy))):
                dm.plus += 1
                dm.plus_last = now
                continue
            if dm.plus:
                plain += b"+" * dm.plus
                dm.plus = 0
                Loop.cancel(dm.plus_timer)
            plain.append(b)
        dm.last_rx = now
        if plain:
            self._queue_tx(bytes(plain))
        if dm.plus == 3:
            Loop.cancel(dm.plus_timer)
            dm.plus_timer = self.loop.call_later(0 if sloppy else guard, self._escape_confirmed)

    def _escape_confirmed(self) -> None:
        if self.mode != "data" or self.dm.plus != 3:
            return
        self._leave_data_mode()
        self.ok()                         # L382

    def _queue_tx(self, data: bytes) -> None:
        dm = self.dm
        _, wait, size, _ = self.opts.tcfg
        dm.tx += data
        while len(dm.tx) >= size:         # L354: at <send_size> bytes at once
            self._send_tx(bytes(dm.tx[:size]))
            del dm.tx[:size]
        Loop.cancel(dm.tx_timer)
        dm.tx_timer = self.loop.call_later(wait / 10, self._flush_tx) if dm.tx else None   # x 100 ms

    def _flush_tx(self) -> None:
        if self.dm.tx:
            self._send_tx(bytes(self.dm.tx))
            self.dm.tx.clear()

    def _send_tx(self, data: bytes) -> None:
        conn = self.dm.conn
        if conn is not None and conn.sock is not None:
            self._transmit(conn, data)


def _is_ipv4(text: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, text)
        return True
    except OSError:
        return False


__all__ = ["Gsm", "GSM_IDENTITY", "IllegalStackTransition"]
