"""A modem under test as the suites see it: a :class:`Channel` plus the steps that
establish preconditions (context active, socket open ...) using AT commands only, so
they work the same on a real modem and on the emulator.

Steps raise :class:`Inconclusive` when a precondition cannot be reached, and
:class:`Deviation` when the modem's answer to a step breaks the spec.
"""
from __future__ import annotations

from typing import Any, Callable

from atconform.ixit import Ixit
from atconform.protocol.engine import Response, check_response
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
    :class:`Response`. A family subclasses this (``FamilyPlugin.session``) with its
    precondition steps (``step_<name>``), its capabilities (a socket service) and the
    hooks below where V.250 defaults do not fit it."""

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

    def settle(self) -> None:
        """End of a test: one command answered, so every URC sent during the test has
        been read (the DCE answers in order). V.250 default: ``AT``."""
        self.at("AT", timeout=5)

    def identity(self) -> dict[str, str]:
        """Firmware identity for the report (V.250 default: ATI and AT+GMR text)."""
        return {"ATI": "\n".join(self.expect_ok("ATI").lines),
                "AT+GMR": "\n".join(self.expect_ok("AT+GMR").lines)}

    def expect_rejected(self, line: str, what: str) -> Response | None:
        """Send a line the spec does not accept (``what`` says why it is malformed);
        Deviation unless it gets ERROR (or ``+CME ERROR``), the family's error report
        (:meth:`check_error_reported`) agrees, and the modem still answers ``AT``."""
        resp = self.answered(line)
        if resp.final.kind not in ("error", "cme_error"):
            if resp.prompt:
                self.ch.write(self.family.framing.escape.encode())   # cancel the data prompt
            raise Deviation(f"{line}: a malformed line ({what}) was accepted with {resp.final.text}")
        match = resp.match or self.ch.engine.match(line)
        if match is not None:
            self.check_error_reported(match.command, line)
        self.responsive()
        return resp

    def check_error_reported(self, cmd, line: str) -> None:
        """After ERROR for a malformed ``line`` of ``cmd``: the family's own error report
        must say "invalid parameter" (default: nothing further to check)."""

    def urc_wait_limit(self, cmd, variant, values: dict) -> float:
        """Seconds to wait for the URC a write announces (default: the spec's maximum
        response time of the command)."""
        return self.family.max_response_time(cmd, variant)

    def urc_of(self, name: str, values: dict):
        """Predicate for the URC ``name`` that answers a write with ``values`` (default:
        any URC of that name)."""
        return lambda u: u.urc is not None and u.urc.name == name

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
