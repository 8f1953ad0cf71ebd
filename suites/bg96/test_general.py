"""BG96 general commands (3GPP TS 27.007) and V.250 line handling as host libraries use
them: the reset and its boot URCs, attach state agreeing with the TCP/IP contexts, the
clock following AT+QNTP, and a ``>`` command line ended with CR LF. Runs on a real
modem too (the reset needs the module to come back by itself)."""
from __future__ import annotations

import calendar
import time

import pytest

from atconform.protocol.engine import parse_info
from atconform.verdicts import Deviation, Inconclusive

pytestmark = pytest.mark.family("bg96")
CID = 1
BOOT_URCS = ["RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "APP RDY"]


def purpose(pid: str, document: str, section: str, title: str, command: str):
    return pytest.mark.purpose(f"BG96/SCENARIO/{pid}", title=title, family="bg96", command=command,
                               form="scenario", section=section, source=f"{document} §{section}", kind="scenario")


def ok(modem, line, **kw):
    r = modem.at(line, **kw)
    modem.check(r)
    if not r.ok:
        raise Deviation(f"{line}: got {r.final.text}")
    return r


@purpose("8.2/cfun-reset", "3GPP TS 27.007", "8.2",
         "AT+CFUN=1,1 answers OK, reboots and reports RDY ... APP RDY; the module then answers", "AT+CFUN")
def test_cfun_reset_reports_boot_urcs(modem):
    ok(modem, "AT+CFUN=1,1")
    for text in BOOT_URCS:
        modem.expect_urc(lambda u, t=text: u.text == t, 30, f"after AT+CFUN=1,1 no {text!r} within 30 s")
    # the reboot restored the defaults: the session's settings again
    for line in ("ATE0", "ATV1", "AT+CMEE=0"):
        ok(modem, line)
    if parse_info(ok(modem, "AT+CFUN?"))["fun"] != 1:
        raise Deviation("AT+CFUN? after the reset is not 1")


def _active_by_qiact(modem) -> set[int]:
    r = ok(modem, "AT+QIACT?")
    return {parse_info(r, i)["contextID"] for i in range(len(r.info))
            if parse_info(r, i).get("context_state") == 1}


def _active_by_cgact(modem) -> set[int]:
    r = ok(modem, "AT+CGACT?")
    return {parse_info(r, i)["cid"] for i in range(len(r.info)) if parse_info(r, i)["state"] == 1}


@purpose("10.1.9/cgatt-follows-qiact", "3GPP TS 27.007", "10.1.9",
         "AT+CGATT?/AT+CGACT? agree with AT+QIACT?; AT+CGATT=0 deactivates the contexts", "AT+CGATT")
def test_cgatt_and_cgact_follow_qiact(modem):
    modem.step_context_active(CID)
    if parse_info(ok(modem, "AT+CGATT?"))["state"] != 1:
        raise Deviation(f"AT+QIACT? lists context {CID} active, AT+CGATT? says detached")
    if CID not in _active_by_cgact(modem):
        raise Deviation(f"AT+QIACT? lists context {CID} active, AT+CGACT? does not")
    try:
        ok(modem, "AT+CGATT=0")
        if _active_by_qiact(modem):
            raise Deviation(f"after AT+CGATT=0 AT+QIACT? still lists {sorted(_active_by_qiact(modem))}")
        if parse_info(ok(modem, "AT+CGATT?"))["state"] != 0:
            raise Deviation("after AT+CGATT=0 AT+CGATT? is not 0")
    finally:
        modem.at("AT+CGATT=1")
    ok(modem, f"AT+CGACT=1,{CID}")
    if CID not in _active_by_qiact(modem):
        raise Deviation(f"AT+CGACT=1,{CID} activated a context AT+QIACT? does not list")


def _utc(text: str, year_fmt: str) -> float:
    """UTC seconds of "<date>,<time>±zz" (zone in quarters of an hour)."""
    date, rest = text.split(",", 1)
    sign = -1 if "-" in rest[8:] else 1
    clock, tz = rest[:8], rest[9:11]
    local = calendar.timegm(time.strptime(f"{date},{clock}", f"{year_fmt}/%m/%d,%H:%M:%S"))
    return local - sign * int(tz) * 900


@purpose("8.15/cclk-follows-qntp", "3GPP TS 27.007", "8.15",
         "after AT+QNTP (autosettime 1) AT+CCLK? and AT+QLTS read the time the server gave", "AT+CCLK")
def test_cclk_follows_qntp(modem, peers):
    modem.step_context_active(CID)
    ntp = peers["ntp"]
    ok(modem, f'AT+QNTP={CID},"{ntp.host}",{ntp.port},1')
    u = modem.expect_urc("qntp", 125, "no +QNTP result within 125 s")
    if not u.text.startswith("+QNTP: 0,"):
        raise Inconclusive(f"NTP failed: {u.text}")
    synced = _utc(u.text.split(",", 1)[1].strip('"'), "%Y")
    r = ok(modem, "AT+CCLK?")
    cclk = _utc(parse_info(r)["time"], "%y")
    if abs(cclk - synced) > 10:
        raise Deviation(f"AT+CCLK? reads {r.lines[0]!r}, AT+QNTP set {u.text!r}")
    r = ok(modem, "AT+QLTS=1")
    qlts = _utc(parse_info(r)["time"].rsplit(",", 1)[0], "%Y")
    if abs(qlts - synced) > 10:
        raise Deviation(f"AT+QLTS=1 reads {r.lines[0]!r}, AT+QNTP set {u.text!r}")


def _rx_since(modem, mark: int) -> bytes:
    return b"".join(e.data for e in modem.ch.transcript.entries(mark) if e.direction == "rx")


def _expected_prompt_seen(request) -> None:
    """The '>' of a line written raw reaches the output monitor as output no command
    asked for; it was asked for here. Other problems stay a Deviation."""
    from fixtures.modem import LINK
    link = request.node.stash.get(LINK, None)
    if link is None:
        return
    others = [p for p in link.take_urc_problems() if "'> '" not in p and "'>'" not in p]
    if others:
        raise Deviation("DCE output monitor: " + "; ".join(others))


@purpose("5.2.1/lf-after-cr", "ITU-T V.250", "5.2.1",
         "'AT+QISEND=<id>,1' ended with CR LF, the byte written after '>': the peer gets that byte",
         "AT+QISEND")
def test_crlf_line_then_data_after_prompt(modem, peers, echo_conn_index, request):
    echo = peers["tcp_echo"]
    modem.open(0, "TCP", echo.host, echo.port, cid=CID)
    try:
        clock = modem.ch.clock
        mark = modem.ch.transcript.mark()
        modem.ch.write(b"AT+QISEND=0,1\r\n")           # as host libraries write it
        # woken by the reader when bytes arrive (not polled): the byte follows the '>' at
        # once, at the same (virtual) time on every run, so a recording replays exactly
        if not clock.wait_until(lambda: b">" in _rx_since(modem, mark), 10):
            raise Deviation("no '>' within 10 s after AT+QISEND=0,1<CR><LF>")
        modem.ch.write(b"X")
        final = modem.ch.wait_final(10)
        _expected_prompt_seen(request)
        if final is None or final.text != "SEND OK":
            raise Deviation(f"after the byte: {final.text if final else 'no final result'}, expected SEND OK")
        received = getattr(echo, "received", None)
        if received is not None:
            if not echo.clock.wait_until(lambda: len(received) > echo_conn_index
                                         and bytes(received[echo_conn_index]) != b"", 10):
                raise Deviation("the peer received nothing")
            got = bytes(received[echo_conn_index])
            if got != b"X":
                raise Deviation(f"the peer received {got!r}, the host wrote b'X' after '>'")
        sent = parse_info(ok(modem, "AT+QISEND=0,0"))["total_send_length"]
        if sent != 1:
            raise Deviation(f"<total_send_length> {sent}, one byte was sent")
    finally:
        modem.at("AT+QICLOSE=0")
