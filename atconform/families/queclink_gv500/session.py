"""The GV500 under test, as the suites see it: AT@BSS2 lines over the delimited framer.

Where V.250 modems answer ``AT``, a Queclink unit answers only ``AT@...$`` commands with
its password; so the query ``AT@BSS2?<password>,,<seq>$`` (seed 000 L8) is this family's
sync, settle and "still responsive" step. Bad input gets no reply at all (issue 9 §2);
what the suite expects instead follows the spec's ICS declarations, which the IXIT can
override for a lab's unit (``ics:`` name -> value):

* ``bad_input_reply``: ``silent`` (default) or ``nack``;
* ``reply_time``: T, seconds a reply may take and silence is waited for (default: the
  spec's timing);
* ``count_step``, ``unit_id``, ``abandon``, ``reconnect_time``, ``hold_time``.

The device password is the IXIT's ``device_password`` (a secret: redacted in every
output), else the spec's default ``gv500cna`` (seed 000 L51).
"""
from __future__ import annotations

from typing import Any

from atconform.protocol.engine import REPLY, Response, check_response, parse_info
from atconform.session import ModemSession, Resolver
from atconform.transport.channel import NoFinalResult
from atconform.verdicts import Deviation, Inconclusive

COMMAND = "BSS2"
# the body fields a write sets and a query reports (seed 000 L63-81)
BODY = ("ip", "port", "mode")


class Gv500Resolver(Resolver):
    """``{ixit.device_password}`` falls back to the spec's default password."""

    def __init__(self, base: Resolver, default_password: str):
        super().__init__(base.ixit, base.peers)
        self.default_password = default_password

    def lookup(self, key: str) -> Any:
        if key == "ixit.device_password":
            pw = self.ixit.device_password
            return pw.get_secret_value() if pw is not None and pw.get_secret_value() else self.default_password
        return super().lookup(key)


class Gv500Session(ModemSession):
    """A Queclink GV500 (or its emulator) on a serial line."""

    def __init__(self, channel, family, ixit, resolver, power_cycle=None):
        self.cmd = family.command(COMMAND)
        super().__init__(channel, family, ixit,
                         Gv500Resolver(resolver, str(self.cmd.param("password").default)),
                         power_cycle=power_cycle)
        self._seq = 0x0C37            # the example's (L8); each query takes the next one
        self.unit_id: str | None = None
        self.last_write: dict[str, Any] | None = None

    # -- declarations -------------------------------------------------------------------
    def ics(self, name: str) -> Any:
        """The ICS value ``name``: the IXIT's ``ics`` entry, else the spec's declaration.
        Raises Inconclusive when the IXIT gives a value outside the declared choices."""
        try:
            return self.family.declared(name, getattr(self.ixit, "ics", None))
        except ValueError as e:
            raise Inconclusive(str(e)) from None

    @property
    def reply_time(self) -> float:
        """T: seconds a reply may take, and how long silence is waited for."""
        t = self.ics("reply_time")
        return float(t) if t is not None else self.family.max_response_time(self.cmd)

    @property
    def password(self) -> str:
        return self.resolver.lookup("ixit.device_password")

    def next_seq(self) -> str:
        self._seq = (self._seq + 1) & 0xFFFF
        return f"{self._seq:04X}"

    # -- commands -------------------------------------------------------------------------
    def at(self, line: str, **kw) -> Response:
        kw.setdefault("timeout", self.reply_time)
        resp = self.ch.command(line, **kw)
        m = resp.match
        if m is not None and m.ok and m.form.kind.value == "write" and resp.final is not None \
                and resp.final.result is REPLY:
            self.last_write = {k: m.values.get(k) for k in BODY}
        return resp

    def answered(self, line: str, **kw) -> Response:
        """Send ``line``; Deviation when no reply comes within T."""
        try:
            return self.at(line, **kw)
        except NoFinalResult as e:
            raise Deviation(f"{line}: no reply within {e.timeout:g} s (the spec's timing; ICS reply_time)") from None

    def check(self, resp: Response, **kw) -> None:
        """The spec's checks (command word, fields typed, ``<seq>`` echoed), and the unit
        id: 15 digits, the same in every reply, the IXIT's when it declares one."""
        problems = check_response(self.family, resp, **kw)
        if not problems and resp.info and resp.final is not None and resp.final.result is REPLY:
            uid = parse_info(resp).get("imei")
            want = self.ics("unit_id") or self.unit_id
            if want is not None and uid != want:
                problems.append(f"{resp.line}: unit id {uid} in the reply, "
                                f"{'the IXIT declares' if self.ics('unit_id') else 'earlier replies carried'} {want}")
            self.unit_id = self.unit_id or uid
        if problems:
            raise Deviation("; ".join(problems))

    def query(self, what: str = "AT@BSS2?") -> dict[str, Any]:
        """Send a valid query; its reply's typed fields. Deviation when there is none or
        it breaks the spec."""
        line = f"{self.family.framing.prefix}{COMMAND}?{self.password},,{self.next_seq()}"
        resp = self.answered(line)
        self.check(resp, expect_success=True)
        return parse_info(resp)

    def write(self, ip: str, port: str, mode: int) -> dict[str, Any]:
        """AT@BSS2=<password>,,,<ip>,<port>,<mode>,,,<seq>; the +ACK's fields. Deviation
        when it is not acknowledged as the spec says."""
        line = f"{self.family.framing.prefix}{COMMAND}={self.password},,,{ip},{port},{mode},,,{self.next_seq()}"
        resp = self.answered(line)
        self.check(resp, expect_success=True)
        return parse_info(resp)

    # -- the generic session hooks ----------------------------------------------------
    def sync(self, attempts: int = 3) -> None:
        """The unit answers a query with the IXIT's password (Inconclusive otherwise)."""
        for _ in range(attempts):
            try:
                resp = self.at(f"{self.family.framing.prefix}{COMMAND}?{self.password},,{self.next_seq()}")
            except NoFinalResult:
                continue
            if resp.final is not None and resp.final.result is REPLY:
                return
        raise Inconclusive("the unit does not answer AT@BSS2? with the device password "
                           "(IXIT device_password, default gv500cna)")

    def settle(self) -> None:
        """End of a test: a query answered, so every reply of the test has been read."""
        try:
            self.at(f"{self.family.framing.prefix}{COMMAND}?{self.password},,{self.next_seq()}")
        except NoFinalResult:
            pass

    def identity(self) -> dict[str, str]:
        """The unit id and reply fields 3-7 of a query, for the report (recorded as the
        reply gives them: checking them is the purposes' job)."""
        resp = self.at(f"{self.family.framing.prefix}{COMMAND}?{self.password},,{self.next_seq()}")
        f = resp.info[0].text.split(",") if resp.info else []
        return {"unit id": f[1] if len(f) > 1 else "", "reply fields 3-7": ",".join(f[2:7])}

    def responsive(self) -> None:
        self.query()

    def stored(self) -> dict[str, Any]:
        """ip, port, mode as a query reports them."""
        v = self.query()
        return {k: v.get(k, "" if k == "ip" else None) for k in BODY}

    def expect_rejected(self, line: str, what: str = "", *, terminated: bool = True) -> Response | None:
        """Send a line the unit must refuse (``what`` says why). Under ICS
        ``bad_input_reply: silent``: no reply within T; ``nack``: one reply that is
        neither +ACK nor +QRY. Then a valid query must still answer with the old values.
        ``terminated`` False: the line goes without its ``$``, then the ICS ``abandon``
        bytes (a unit cannot refuse a line before it ends: silence in both modes).
        Deviation on any other outcome."""
        bad = _body_values(line)
        old = self.stored()
        if bad and all(str(old[k]) == str(bad.get(k)) for k in BODY):
            # the refused line would not change anything: make the old values differ
            self.write(*_other_than(bad))
            old = self.stored()
        t = self.reply_time
        nack = self.ics("bad_input_reply") == "nack"
        resp = None
        if terminated:
            try:
                resp = self.at(line, timeout=t)
            except NoFinalResult as e:
                if e.response.info or e.response.unparseable:
                    raise Deviation(f"{line}: a refused line ({what}) got "
                                    f"{[i.text for i in e.response.info] + [u.text for u in e.response.unparseable]}") from None
                if nack:
                    raise Deviation(f"{line}: no reply within {t:g} s to a refused line ({what}); "
                                    "the IXIT declares the unit NACKs bad input (ics.bad_input_reply: nack)") from None
            else:
                if not nack or resp.final.result is REPLY:
                    raise Deviation(f"{line}: a refused line ({what}) was answered {resp.final.text!r}; "
                                    + ("expected a NACK (ics.bad_input_reply: nack)" if nack else
                                       f"expected no reply within {t:g} s (ics.bad_input_reply: silent)"))
        else:
            self.ch.drain_urcs()
            self.ch.write(line.encode("latin-1"))
            got = self.ch.wait_urc(lambda u: True, t)
            self.ch.write(str(self.ics("abandon") or "").encode("latin-1"))
            if got is not None:
                raise Deviation(f"{line}: answered {got.text!r} although its "
                                f"{self.family.framing.terminator!r} tail never came")
        now = self.stored()
        if now != old:
            raise Deviation(f"{line}: after the refused line ({what}) the query reports "
                            f"{_show(now)}, before it {_show(old)}")
        return resp

    # -- steps ----------------------------------------------------------------------------
    def step_query_shows_write(self) -> None:
        """After an acknowledged write: the query reports the written values (L9)."""
        if self.last_write is None:
            return
        want = {k: ("" if v is None and k == "ip" else v) for k, v in self.last_write.items()}
        got = self.stored()
        if {k: str(v) for k, v in got.items()} != {k: str(v) for k, v in want.items()}:
            raise Deviation(f"the query after an acknowledged write reports {_show(got)}, "
                            f"the write set {_show(want)}")


def _body_values(line: str) -> dict[str, str] | None:
    """ip, port, mode of a (possibly malformed) write line, by position; None for a query."""
    head, eq, args = line.partition("=")
    if not eq or "?" in head:
        return None
    f = args.split(",")
    if len(f) < 6:
        return None
    return {"ip": f[3], "port": f[4], "mode": f[5]}


def _other_than(bad: dict[str, str]) -> tuple[str, str, int]:
    """Valid body values that differ from ``bad`` in every field."""
    ip = "10.0.0.1" if bad.get("ip") != "10.0.0.1" else "10.0.0.2"
    port = "30059" if bad.get("port") != "30059" else "30060"
    mode = 1 if str(bad.get("mode")) != "1" else 0
    return ip, port, mode


def _show(v: dict) -> str:
    return ",".join(f"{k}={v.get(k)!r}" for k in BODY)
