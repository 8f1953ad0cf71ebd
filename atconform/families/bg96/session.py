"""The BG96 under test: precondition steps, the check after an error, and the socket
service (BG96 TCP/IP AT Commands Manual, seed 002).

"Open a socket and wait for its URC" lives here once (:meth:`Bg96Session.open`); the
scenario suites, the case generator and the Figure 1 policy (through :func:`qiopen_for`
and :func:`qiopen_error`) use it.
"""
from __future__ import annotations

from atconform.protocol.engine import parse_info
from atconform.session import ModemSession
from atconform.verdicts import Deviation, Inconclusive

QIOPEN_URC_TIME = 150.0     # Figure 1: "+QIOPEN: <connectID>,<err>" within 150 s


def qiopen_for(cnid: int):
    """Predicate: the ``+QIOPEN: <cnid>,<err>`` URC (§2.1.4) of socket ``cnid``."""
    head = f"+QIOPEN: {cnid},"
    return lambda u: u.urc is not None and u.urc.name == "qiopen" and u.text.startswith(head)


def qiopen_error(text: str) -> int | None:
    """``<err>`` of a ``+QIOPEN: <id>,<err>`` line (0: opened), None if malformed."""
    tail = text.rpartition(",")[2].strip()
    return int(tail) if tail.isascii() and tail.isdigit() and len(tail) < 6 else None


class Bg96Session(ModemSession):
    """:class:`ModemSession` with BG96's steps (``context_active:<cid>``,
    ``socket_open:<id>`` ...) and :class:`~atconform.families.base.SocketService`."""

    # -- the check after ERROR: §2.1.17 / §3.9 ------------------------------------------
    def check_error_reported(self, cmd, line: str) -> None:
        if not cmd.tcpip:
            return
        err = self.answered("AT+QIGETERROR")
        if not err.info or not err.info[0].text.startswith("+QIGETERROR: 552"):
            raise Deviation(f"after {line} got ERROR, AT+QIGETERROR says {err.lines}, "
                            "expected 552 (Invalid parameters, §3.9)")

    def urc_wait_limit(self, cmd, variant, values: dict) -> float:
        limit = super().urc_wait_limit(cmd, variant, values)
        if "timeout" in values and "pingnum" in values:   # §2.1.11 QPING: each ping waits <timeout> s
            limit = max(limit, values["timeout"] * values["pingnum"] + 5)
        return limit

    def urc_of(self, name: str, values: dict):
        if name == "qiopen" and "connectID" in values:
            return qiopen_for(values["connectID"])
        return super().urc_of(name, values)

    # -- contexts: §2.1.2 - §2.1.3 --------------------------------------------------------
    def active_contexts(self) -> set[int]:
        r = self.expect_ok("AT+QIACT?")
        out = set()
        for i, _ in enumerate(r.info):
            v = parse_info(r, i)
            if v.get("context_state") == 1:
                out.add(v["contextID"])
        return out

    def step_context_active(self, cid: int) -> None:
        active = self.active_contexts()
        if cid in active:
            return
        # at most three contexts at once (§2.1.2): make room, keeping the lab's own
        for other in sorted(active - {self.ixit.context_id}, reverse=True)[:max(0, len(active) - 2)]:
            self.expect_ok(f"AT+QIDEACT={other}")
        ix = self.ixit
        self.expect_ok(f'AT+QICSGP={cid},1,"{ix.apn}","{ix.username}","{ix.password.get_secret_value()}",0')
        self.expect_ok(f"AT+QIACT={cid}", f"activate context {cid}")

    def step_context_inactive(self, cid: int) -> None:
        if cid in self.active_contexts():
            self.expect_ok(f"AT+QIDEACT={cid}")
        active = self.active_contexts()
        if len(active) >= 3:
            for other in sorted(active - {self.ixit.context_id}):
                self.expect_ok(f"AT+QIDEACT={other}")

    # -- sockets: §2.1.4 - §2.1.8 ---------------------------------------------------------
    def step_socket_closed(self, cnid: int) -> None:
        self.expect_ok(f"AT+QICLOSE={cnid}")

    step_close = step_socket_closed

    def step_socket_open(self, cnid: int) -> None:
        peer = self.resolver.lookup("peer.tcp_echo")
        self.open(cnid, "TCP", peer.host, peer.port)

    def step_udp_service_open(self, cnid: int) -> None:
        self.open(cnid, "UDP SERVICE", "127.0.0.1", 0, local_port=self.ixit.udp_service_port + cnid)

    def open(self, cnid: int, service: str, host: str, port: int, *, local_port: int = 0,
             mode: int = 0, cid: int | None = None, strict: bool = False) -> None:
        """AT+QIOPEN and its outcome (§2.1.4): ``+QIOPEN: <cnid>,0`` within 150 s, or
        CONNECT in transparent mode (``mode`` 2). A precondition step by default: a
        socket that cannot be opened is Inconclusive. ``strict`` (the line under test):
        an answer that breaks §2.1.4 is a Deviation; a refusal is still Inconclusive."""
        cid = cid or self.ixit.context_id
        self.step_context_active(cid)
        self.step_socket_closed(cnid)
        line = f'AT+QIOPEN={cid},{cnid},"{service}","{host}",{port},{local_port},{mode}'
        if not strict:
            r = self.expect_ok(line) if mode != 2 else self.at(line)
        else:
            r = self.answered(line)
            self.check(r)
        if mode == 2:
            if r.final.kind != "connect":
                raise (Deviation if strict else Inconclusive)(
                    f"{line}: expected CONNECT (§3.3.1), got {r.final.text}")
            return
        if not r.ok:
            raise Deviation(f"{line}: expected OK then +QIOPEN (§3.2.1), got {r.final.text}")
        urc = self.ch.wait_urc(qiopen_for(cnid), QIOPEN_URC_TIME)
        if urc is None:
            raise (Deviation if strict else Inconclusive)(
                f"no +QIOPEN: {cnid},<err> within {QIOPEN_URC_TIME:g} s")
        if qiopen_error(urc.text) != 0:
            raise Inconclusive(f"socket {cnid} did not open: {urc.text}")

    def open_socket(self, cnid: int, service: str, host: str, rport: int, lport: int, mode: int,
                    cid: int | None = None) -> None:
        """:meth:`open` with positional ports (the steps' older spelling)."""
        self.open(cnid, service, host, rport, local_port=lport, mode=mode, cid=cid)

    def send(self, cnid: int, data: bytes) -> None:
        """AT+QISEND=<cnid>,<len> then the bytes (§2.1.7); Deviation unless SEND OK."""
        r = self.answered(f"AT+QISEND={cnid},{len(data)}", data=data)
        if r.final.text != "SEND OK":
            raise Deviation(f"AT+QISEND={cnid},{len(data)}: {r.final.text}, expected SEND OK")

    def read(self, cnid: int, n: int) -> bytes:
        """AT+QIRD=<cnid>,<n> (§2.1.8, buffer access mode): the payload read, b'' if none."""
        r = self.answered(f"AT+QIRD={cnid},{n}")
        self.check(r)
        return b"".join(i.payload or b"" for i in r.info)

    def close(self, cnid: int) -> None:
        self.step_socket_closed(cnid)

    def state(self, cnid: int) -> str | None:
        """``<socket_state>`` of AT+QISTATE=1,<cnid> (§2.1.6) as a number string, or None."""
        r = self.expect_ok(f"AT+QISTATE=1,{cnid}")
        return str(parse_info(r, 0).get("socket_state")) if r.info else None
