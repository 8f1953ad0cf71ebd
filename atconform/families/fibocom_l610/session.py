"""The L610 under test: precondition steps, the check after an error, and the socket
service over the MIP set (seed 004 §1.1).

The AT+MIPCALL link stands for "the context" of the generic step vocabulary; sockets are
opened with AT+MIPOPEN and its "+MIPOPEN: <id>,1" line, data goes through the accumulating
buffer (AT+MIPSEND, AT+MIPPUSH) and comes back as +MIPRTCP in the IPRFMT 0 form. Every
step uses AT commands only, so it works on a real module and on the emulator alike.
"""
from __future__ import annotations

from atconform.protocol.engine import Response, parse_info
from atconform.session import ModemSession
from atconform.verdicts import Deviation, Inconclusive

LINK_TIME = 30.0           # L124: "Activating a context can take up to 30 seconds."
CHUNK = 1023               # bytes per AT+MIPSEND: "smaller than 1024 characters" (L327)
# a ping there is never answered: hosts ignore echo requests to a multicast group
# (Linux icmp_echo_ignore_broadcasts), and no router forwards 239.255.255.250 off the link
UNANSWERED = "239.255.255.250"


class L610Session(ModemSession):
    """:class:`ModemSession` with the L610's steps and
    :class:`~atconform.families.base.SocketService` (sizes in bytes, times in seconds)."""

    def sync(self, attempts: int = 5) -> None:
        """V.250 defaults, then the persistent AT+GTSET settings (Persistent: Yes, L1453)
        to the manual's defaults, so a module that kept others from an earlier run is read
        right."""
        super().sync(attempts)
        self.expect_ok('AT+GTSET="IPRFMT",0')
        self.expect_ok('AT+GTSET="SENDTIME",12')

    def identity(self) -> dict[str, str]:
        return {"ATI": "\n".join(self.expect_ok("ATI").lines),
                "AT+CGMR": "\n".join(self.expect_ok("AT+CGMR").lines)}

    def step(self, spec: str, values: dict) -> None:
        # "setting:<NAME>=<value>" (a variant's Family.settings): AT+GTSET sets them all
        if spec.startswith("setting:"):
            name, _, value = spec[len("setting:"):].partition("=")
            self.set_setting(name, int(value) if value.lstrip("-").isdigit() else value)
            return
        super().step(spec, values)

    def set_setting(self, name: str, value) -> None:
        """AT+GTSET=<name>,<value> (§1.2.4)."""
        self.expect_ok(f'AT+GTSET="{name}",{value}', f"setting {name}={value}")

    # -- the link: §1.1.1 --------------------------------------------------------------
    def link_up(self) -> bool:
        r = self.expect_ok("AT+MIPCALL?")
        return bool(r.info) and parse_info(r).get("status") == 1

    def step_context_active(self, *_: int) -> None:
        """The AT+MIPCALL link up: OK, then "+MIPCALL: <ip>" within 30 s (L106, L124)."""
        if self.link_up():
            return
        ix = self.ixit
        line = f'AT+MIPCALL=1,"{ix.apn}","{ix.username}","{ix.password.get_secret_value()}",0'
        r = self.expect_ok(line, "establish the link", timeout=LINK_TIME + 5)
        if not self.link_up():
            raise Inconclusive(f"the link did not come up: {[f.text for f in r.after]}")

    def step_context_inactive(self, *_: int) -> None:
        if self.link_up():
            self.expect_ok("AT+MIPCALL=0", "release the link")

    # -- sockets: §1.1.2-1.1.8 ----------------------------------------------------------
    def open_sockets(self) -> set[int]:
        r = self.expect_ok("AT+MIPCLOSE?")
        ids = {int(x) for line in r.lines for x in line.split(":", 1)[1].split(",") if x.strip().isdigit()}
        return ids - {0}

    def step_socket_closed(self, sid: int) -> None:
        if sid in self.open_sockets():
            self.close(sid)

    step_close = step_socket_closed

    def step_socket_open(self, sid: int) -> None:
        peer = self.resolver.lookup("peer.tcp_echo")
        self.open(sid, "TCP", peer.host, peer.port)

    def open(self, cnid: int, service: str, host: str, port: int, *, local_port: int = 0, mode: int = 0,
             strict: bool = False) -> Response:
        """AT+MIPOPEN=<id>,[<local_port>],"<host>",<port>,<protocol> (``service`` "TCP" or
        "UDP", or a <protocol> number) and its "+MIPOPEN: <id>,1" line (L187). A
        precondition by default (Inconclusive when it cannot be opened); ``strict``: the
        line under test, an answer that breaks §1.1.2 is a Deviation."""
        self.step_context_active()
        self.step_socket_closed(cnid)
        proto = {"TCP": 0, "UDP": 1}.get(service, service)
        line = f'AT+MIPOPEN={cnid},{local_port or ""},"{host}",{port},{proto}'
        r = self.answered(line) if strict else self.expect_ok(line)
        if strict:
            self.check(r, expect_success=True)
        if not r.after or not r.after[0].text.startswith(f"+MIPOPEN: {cnid},1"):
            raise Inconclusive(f"socket {cnid} did not open: {[f.text for f in r.after] or r.after_missing}")
        return r

    def send(self, cnid: int, data: bytes) -> None:
        """The bytes through the accumulating buffer (AT+MIPSEND in chunks of at most
        1023 bytes, L327), then AT+MIPPUSH; Deviation on a status other than 0."""
        for i in range(0, len(data), CHUNK):
            line = f'AT+MIPSEND={cnid},"{data[i:i + CHUNK].hex().upper()}"'
            r = self.answered(line)
            self.check(r, expect_success=True)
            if parse_info(r).get("status") != 0:
                raise Deviation(f"{line}: {r.lines}")
        r = self.answered(f"AT+MIPPUSH={cnid}")
        self.check(r, expect_success=True)

    def read(self, cnid: int, n: int, timeout: float = 10.0) -> bytes:
        """Up to ``n`` bytes of +MIPRTCP data (IPRFMT 0, hex) of socket ``cnid`` that
        arrive within ``timeout`` seconds."""
        out = bytearray()
        head = f"+MIPRTCP: {cnid},"
        deadline = self.ch.clock.now() + timeout
        while len(out) < n:
            left = deadline - self.ch.clock.now()
            u = self.ch.wait_urc(lambda u: u.urc is not None and u.urc.name == "miprtcp" and u.text.startswith(head),
                                 max(0.0, left))
            if u is None:
                break
            out += bytes.fromhex(u.text.rsplit(",", 1)[1])
        return bytes(out)

    def close(self, cnid: int) -> None:
        """AT+MIPCLOSE=<id>,1 (no FIN wait) and its +MIPCLOSE line."""
        self.expect_ok(f"AT+MIPCLOSE={cnid},1", f"close socket {cnid}")

    def state(self, cnid: int) -> str | None:
        """"1" while socket ``cnid`` is active (AT+MIPCLOSE? lists it), else None."""
        return "1" if cnid in self.open_sockets() else None

    def step_data_buffered(self, sid: int) -> None:
        """Bytes waiting in socket ``sid``'s accumulating buffer (below the watermark)."""
        self.expect_ok(f'AT+MIPSEND={sid},"3132333435"')

    # -- ping: §1.1.14 ------------------------------------------------------------------
    def step_ping_idle(self, *_: int) -> None:
        """No ping running: AT+MPING=0 aborts one (ERROR when none runs, L802)."""
        r = self.at("AT+MPING=0")
        if r.ok:
            self.ch.wait_urc("mpingstat", 5)
        self.ch.drain_urcs()

    def step_ping_running(self, *_: int) -> None:
        """A ping that runs for long: 255 requests to a host that never answers."""
        self.step_context_active()
        self.expect_ok(f'AT+MPING=1,"{UNANSWERED}",255,32,64,0,65535', "start a long ping")

    def urc_wait_limit(self, cmd, variant, values: dict) -> float:
        limit = super().urc_wait_limit(cmd, variant, values)
        if cmd.name == "+MPING" and "count" in values:   # each request waits <timeout> ms
            limit = max(limit, values["count"] * values.get("timeout", 4000) / 1000 + 5)
        return limit

    def urc_of(self, name: str, values: dict):
        if name == "mpingstat":     # the summary: status 0 (done) or 2 (aborted), L856
            return lambda u: u.urc is not None and u.urc.name == name and u.text.split(":")[1].strip()[:1] in "02"
        return super().urc_of(name, values)

    # -- online data mode: §1.1.18 -------------------------------------------------------
    def step_odm_open(self, *_: int) -> None:
        """An online-data-mode socket (the highest free id) left in pseudo-command mode
        with +++ (L1272), so commands can follow."""
        self.step_context_active()
        free = sorted(set(range(1, 7)) - self.open_sockets())
        if not free:
            raise Inconclusive("no free socket for AT+MIPODM")
        peer = self.resolver.lookup("peer.tcp_echo")
        r = self.expect_ok(f'AT+MIPODM={free[-1]},,"{peer.host}",{peer.port},0', "open an ODM socket")
        if not self.ch.engine.framer.data_mode:
            raise Inconclusive(f"AT+MIPODM did not enter online data mode: {[f.text for f in r.after]}")
        self.escape_data_mode()

    def step_leave_data_mode(self, *_: int) -> None:
        """Back in command mode (+++ when in data mode), every ODM socket closed."""
        if self.ch.engine.framer.data_mode:
            self.escape_data_mode()
        for sid in self.open_sockets():
            self.close(sid)
