"""The Quectel GSM module under test: precondition steps and the socket service, with AT
commands only (GSM TCPIP Application Note, seed 003), so they work the same on a real
module and on the emulator.

Steps (the spec's casegen vocabulary): ``setting:<name>=<value>`` (a module setting of the
spec, e.g. ``setting:mux=1``; AT+QIMUX/AT+QIMODE need IP INITIAL, so the stack is
deactivated first when it must be), ``stack:<state>`` (the foreground context brought to
IP INITIAL, IP START, IP GPRSACT or IP STATUS along Figure 3/4), ``connected[:<index>]``
(a fresh TCP connection to the lab's echo peer), ``closed[:<index>]``, ``not_listening``.
"""
from __future__ import annotations

from atconform.protocol.engine import Response, parse_info
from atconform.session import ModemSession
from atconform.verdicts import Deviation, Inconclusive

PATH = ["IP INITIAL", "IP START", "IP GPRSACT", "IP STATUS"]      # Figure 3/4, by command
STEP_COMMAND = {"IP START": "AT+QIREGAPP", "IP GPRSACT": "AT+QIACT", "IP STATUS": "AT+QILOCIP"}


class GsmSession(ModemSession):
    """:class:`ModemSession` with the GSM stack's steps and
    :class:`~atconform.families.base.SocketService` (AT+QIOPEN ... CONNECT OK)."""

    # -- settings and state ---------------------------------------------------------
    def setting(self, name: str):
        """The value of module setting ``name`` as this link has set it (the engine's
        record of what the DTE sent)."""
        return self.ch.engine.settings.get(name)

    def stack_state(self) -> str:
        """``STATE: <state>`` of AT+QISTAT (§5.6.2 L622), the line after its OK."""
        r = self.expect_ok("AT+QISTAT")
        if not r.after:
            raise Inconclusive(f"AT+QISTAT: no STATE line after OK ({r.after_missing})")
        return r.after[0].text.partition("STATE: ")[2]

    def step(self, spec: str, values: dict) -> None:
        text = spec.format(**values) if "{" in spec else spec
        name, _, arg = text.partition(":")
        if name == "setting":
            key, _, value = arg.partition("=")
            self.step_setting(key, int(value) if value.lstrip("-").isdigit() else value)
        elif name == "stack":
            self.step_stack(arg)
        else:
            super().step(spec, values)

    def step_setting(self, name: str, value) -> None:
        """Put module setting ``name`` to ``value`` with its command. A command the
        figures allow in IP INITIAL only (spec ``allows``) gets AT+QIDEACT first; AT+QIMODE=1
        needs AT+QIMUX=0 and AT+QIMUX=1 needs AT+QIMODE=0 (L245)."""
        if self.setting(name) == value:
            return
        s = self.family.setting(name)
        if name == "mux" and value == 1 and self.setting("mode") != 0:
            self.step_setting("mode", 0)
        if name == "mode" and value == 1 and self.setting("mux") != 0:
            self.step_setting("mux", 0)
        if any(s.command in m.allows and m.allows[s.command] == ["IP INITIAL"] for m in self.family.state_machines):
            self.step_stack("IP INITIAL")
        self.expect_ok(f"AT{s.command}={value}", f"step setting:{name}={value}")

    def step_stack(self, target: str) -> None:
        """Bring the foreground context to ``target``, one of :data:`PATH`, with AT+QIDEACT
        and the commands of Figure 3/4. Inconclusive when a step is refused."""
        if target not in PATH:
            raise KeyError(f"stack state {target!r} is not one a step reaches ({PATH})")
        state = self.stack_state()
        if state == target:
            return
        if state not in PATH or PATH.index(state) > PATH.index(target):
            self.deactivate()
            state = "IP INITIAL"
        for nxt in PATH[PATH.index(state) + 1:PATH.index(target) + 1]:
            line = STEP_COMMAND[nxt]
            r = self.at(line)
            if not (r.ok or (line == "AT+QILOCIP" and r.info)):
                raise Inconclusive(f"step stack:{target}: {line} got {r.final.text if r.final else None}")

    def deactivate(self) -> Response:
        """AT+QIDEACT (§5.5): DEACT OK within 150 s; Inconclusive otherwise."""
        r = self.at("AT+QIDEACT")
        if r.final is None or r.final.text != "DEACT OK":
            raise Inconclusive(f"AT+QIDEACT got {r.final.text if r.final else None}")
        return r

    # -- connections ----------------------------------------------------------------
    def step_connected(self, index: int | None = None) -> None:
        """A fresh TCP connection to the echo peer (index ``index`` with QIMUX=1)."""
        peer = self.resolver.lookup("peer.tcp_echo")
        self.close(index if index is not None else 0, quiet=True)
        self.open(index if index is not None else 0, "TCP", peer.host, peer.port)

    def step_closed(self, index: int | None = None) -> None:
        if self.ch.engine.framer.data_mode:
            self.escape_data_mode()
        self.close(index if index is not None else 0, quiet=True)

    def step_not_listening(self) -> None:
        """No listener: AT+QIDEACT when AT+QISSTAT says LISTENNING (§5.6.2 L624)."""
        if self.ch.engine.framer.data_mode:
            self.escape_data_mode()
        r = self.at("AT+QISSTAT")
        if r.after and "LISTEN" in r.after[0].text:
            self.deactivate()

    def open(self, cnid: int, service: str, host: str, port: int, *, local_port: int = 0,
             mode: int = 0, strict: bool = False) -> Response:
        """AT+QIOPEN and its report (§3.1, §3.3): OK then ``[<i>, ]CONNECT OK`` (or CONNECT
        in transparent mode, §4.1) within the follow line's time. A precondition step by
        default (Inconclusive when it does not connect); ``strict``: the line under test,
        an answer that breaks the spec is a Deviation."""
        mux = self.setting("mux")
        line = f'AT+QIOPEN={cnid},"{service}","{host}",{port}' if mux else f'AT+QIOPEN="{service}","{host}",{port}'
        r = self.answered(line)
        if strict:
            self.check(r, expect_success=True)
        if not r.ok:
            raise Inconclusive(f"{line}: got {r.final.text}")
        if not r.after:
            raise (Deviation if strict else Inconclusive)(f"{line}: no connection report ({r.after_missing})")
        report = r.after[0].text
        if "FAIL" in report:
            raise Inconclusive(f"{line}: {report}")
        return r

    def send(self, cnid: int, data: bytes) -> None:
        """AT+QISEND=[<i>,]<length> and the bytes (§5.2.2.2); Deviation unless SEND OK."""
        line = f"AT+QISEND={cnid},{len(data)}" if self.setting("mux") else f"AT+QISEND={len(data)}"
        r = self.answered(line, data=data)
        if r.final.text != "SEND OK":
            raise Deviation(f"{line}: {r.final.text}, expected SEND OK")

    def read(self, cnid: int, n: int) -> bytes:
        """AT+QIRD=<id>,1,<cnid>,<n> (§5.3.2, with AT+QINDI=1): the data read, b'' if none."""
        r = self.answered(f"AT+QIRD={self.setting('fgcnt')},1,{cnid},{n}")
        self.check(r)
        return b"".join(i.payload or b"" for i in r.info)

    def close(self, cnid: int, quiet: bool = False) -> None:
        """AT+QICLOSE[=<cnid>] (§5.4). ``quiet``: nothing open is fine (a cleanup)."""
        line = f"AT+QICLOSE={cnid}" if self.setting("mux") else "AT+QICLOSE"
        r = self.at(line)
        if not quiet and (r.final is None or r.final.result is None or r.final.result.text != "CLOSE OK"):
            raise Deviation(f"{line}: {r.final.text if r.final else None}, expected CLOSE OK")

    def state(self, cnid: int) -> str | None:
        """The connection's <conn_state> of AT+QISTATE (QIMUX=1), else the stack's state."""
        if not self.setting("mux"):
            return self.stack_state()
        r = self.expect_ok("AT+QISTATE")
        for a in r.after[1:]:
            if a.text.startswith(f"+QISTATE: {cnid},"):
                return a.text.rsplit(",", 1)[1].strip('"')
        return None

    def step_power_cycle(self) -> None:
        self.ch.engine.reset_settings()
        super().step_power_cycle()


def qisack(modem: GsmSession, index: int | None = None) -> tuple[int, int, int]:
    """``+QISACK: <sent>, <acked>, <nacked>`` of AT+QISACK[=<index>] (§5.2.2, L170)."""
    line = f"AT+QISACK={index}" if index is not None else "AT+QISACK"
    r = modem.answered(line)
    modem.check(r, expect_success=True)
    v = parse_info(r)
    return v["sent"], v["acked"], v["nacked"]
