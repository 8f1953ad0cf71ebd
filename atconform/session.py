"""A modem under test as the suites see it: a :class:`Channel` plus the steps that
establish preconditions (context active, socket open ...) using AT commands only, so
they work the same on a real modem and on the emulator.

Steps raise :class:`Inconclusive` when a precondition cannot be reached, and
:class:`Deviation` when the modem's answer to a step breaks the spec.
"""
from __future__ import annotations

from typing import Any, Callable

from atconform.ixit import Ixit
from atconform.protocol.engine import Response, check_response, parse_info
from atconform.spec.models import Family
from atconform.transport.channel import Channel, NoFinalResult
from atconform.verdicts import Deviation, Inconclusive


class Resolver:
    """Fills ``{ixit.apn}`` and ``{peer.tcp_echo.port}`` placeholders (IXIT secrets as
    their real values: the text goes on the wire; outputs redact it)."""

    def __init__(self, ixit: Ixit, peers: dict[str, Any]):
        self.ixit = ixit
        self.peers = peers

    def value(self, v: Any) -> Any:
        if not isinstance(v, str) or "{" not in v:
            return v
        whole = v.startswith("{") and v.endswith("}") and v.count("{") == 1
        out = v
        while "{" in out:
            i = out.index("{")
            j = out.index("}", i)
            key = out[i + 1:j]
            got = self.lookup(key)
            if whole:
                return got
            out = out[:i] + str(got) + out[j + 1:]
        return out

    def lookup(self, key: str) -> Any:
        scope, _, rest = key.partition(".")
        if scope == "ixit":
            return getattr(self.ixit.revealed(), rest)
        if scope == "peer":
            name, _, attr = rest.partition(".")
            peer = self.peers.get(name)
            if peer is None:
                raise Inconclusive(f"no {name} peer: name one in the IXIT file")
            if not attr:
                return peer
            val = getattr(peer, attr)
            if val is None:
                raise Inconclusive(f"IXIT peer {name} has no {attr}")
            return val
        raise KeyError(key)

    def values(self, d: dict[str, Any]) -> dict[str, Any]:
        return {k: self.value(v) for k, v in d.items()}


class ModemSession:
    """The modem under test. ``at(line)`` sends one command line and returns the
    :class:`Response`; steps below build preconditions from AT commands."""

    def __init__(self, channel: Channel, family: Family, ixit: Ixit, resolver: Resolver,
                 power_cycle: Callable[[], None] | None = None):
        self.ch = channel
        self.family = family
        self.ixit = ixit
        self.resolver = resolver
        self.power_cycle_fn = power_cycle

    def at(self, line: str, **kw) -> Response:
        return self.ch.command(line, **kw)

    def answered(self, line: str, **kw) -> Response:
        """Send ``line``; Deviation when no final result code comes within ``timeout``
        (default: the spec's maximum response time), a verdict of the line under test."""
        try:
            return self.at(line, **kw)
        except NoFinalResult as e:
            raise Deviation(f"{line}: no final result code within the maximum response time "
                            f"{e.timeout:g} s (got {e.response.lines})") from None

    def expect_urc(self, match, timeout: float, missing: str):
        """The URC ``match`` (spec name or predicate) within ``timeout`` s; Deviation
        with ``missing`` when none comes."""
        u = self.ch.wait_urc(match, timeout)
        if u is None:
            raise Deviation(missing)
        return u

    def expect_ok(self, line: str, what: str = "", **kw) -> Response:
        """Send ``line``; Inconclusive unless it ends with OK (a precondition step)."""
        try:
            r = self.at(line, **kw)
        except NoFinalResult as e:
            raise Inconclusive(f"{what or line}: {e}") from None
        if not r.ok:
            raise Inconclusive(f"{what or line}: got {r.final.text if r.final else None}")
        return r

    def sync(self, attempts: int = 5) -> None:
        """Bring the link to a known state: AT answered, echo off, verbose results."""
        for _ in range(attempts):
            try:
                if self.at("AT", timeout=2).ok:
                    break
            except NoFinalResult:
                continue
        else:
            raise Inconclusive("the modem does not answer AT")
        self.expect_ok("ATE0")
        self.expect_ok("ATV1")
        self.expect_ok("AT+CMEE=0")

    def responsive(self) -> None:
        """AT still gets OK (fail otherwise: the DCE hung after bad input)."""
        try:
            r = self.at("AT", timeout=5)
        except NoFinalResult:
            raise Deviation("the modem stopped answering: AT got no final result code within 5 s") from None
        if not r.ok:
            raise Deviation(f"the modem is not responsive: AT got {r.final.text}")

    # -- steps: "name:arg" strings from the spec's casegen hints -----------------------
    def step(self, spec: str, values: dict[str, Any]) -> None:
        """Run a precondition/cleanup step: ``context_active:{contextID}``, a raw
        ``AT...`` line, ``close:{connectID}``, ``power_cycle``."""
        text = spec.format(**values, ixit=self.ixit.revealed()) if "{" in spec else spec
        text = self.resolver.value(text) if "{" in text else text
        if text.upper().startswith("AT"):
            self.expect_ok(text, f"step {spec}")
            return
        name, _, arg = text.partition(":")
        fn = getattr(self, "step_" + name, None)
        if fn is None:
            raise KeyError(f"unknown step {name!r}")
        fn(*( [int(arg)] if arg else []))

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

    def step_socket_closed(self, cnid: int) -> None:
        self.expect_ok(f"AT+QICLOSE={cnid}")

    step_close = step_socket_closed

    def step_socket_open(self, cnid: int) -> None:
        peer = self.resolver.lookup("peer.tcp_echo")
        self.open_socket(cnid, "TCP", peer.host, peer.port, 0, 0)

    def step_udp_service_open(self, cnid: int) -> None:
        self.open_socket(cnid, "UDP SERVICE", "127.0.0.1", 0, self.ixit.udp_service_port + cnid, 0)

    def open_socket(self, cnid: int, service: str, host: str, rport: int, lport: int, mode: int,
                    cid: int | None = None) -> None:
        cid = cid or self.ixit.context_id
        self.step_context_active(cid)
        self.step_socket_closed(cnid)
        self.expect_ok(f'AT+QIOPEN={cid},{cnid},"{service}","{host}",{rport},{lport},{mode}')
        urc = self.ch.wait_urc(lambda u: u.urc is not None and u.urc.name == "qiopen"
                               and u.text.startswith(f"+QIOPEN: {cnid},"), 150)
        if urc is None:
            raise Inconclusive(f"no +QIOPEN URC for connectID {cnid} within 150 s")
        if urc.text != f"+QIOPEN: {cnid},0":
            raise Inconclusive(f"socket {cnid} did not open: {urc.text}")

    def step_power_cycle(self) -> None:
        if self.power_cycle_fn is None:
            raise Inconclusive("no power control for this modem (IXIT)")
        self.power_cycle_fn()
        self.sync()

    def escape_data_mode(self) -> None:
        """Leave transparent mode with +++ and its guard times (§1.2 item 4)."""
        guard = self.family.framing.escape_guard_time
        self.ch.clock.sleep(guard * 1.1)
        self.ch.engine.framer.escape_written()
        self.ch.write(self.family.framing.escape_sequence.encode())
        final = self.ch.wait_final(guard * 2 + 5)
        if final is None or final.kind != "ok":
            raise Deviation(f"+++ after {guard:g} s of silence got {final.text if final else 'nothing'}, expected OK")

    def check(self, resp: Response, **kw) -> None:
        problems = check_response(self.family, resp, **kw)
        if problems:
            raise Deviation("; ".join(problems))
