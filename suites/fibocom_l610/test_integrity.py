"""Data integrity under load (issue 12): a 1 MiB random payload host -> module -> TCP echo
peer -> module -> host through the MIP buffer path (AT+MIPSEND hex chunks and watermark
pushes out, +MIPRTCP hex lines back) and through online data mode (raw both ways), with
no byte lost, duplicated or reordered at the peer or back at the host."""
from __future__ import annotations


import pytest

from atconform.protocol.engine import parse_info
from atconform.verdicts import Deviation
from suites.fibocom_l610.test_scenarios import link, own_peer, purpose, wait_peer  # noqa: F401  (link: fixture)

pytestmark = pytest.mark.family("fibocom_l610")
SIZE = 1 << 20
CHUNK = 1023            # bytes per AT+MIPSEND: "smaller than 1024 characters" (L327)
SID = 1


def _first_difference(a: bytes, b: bytes) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"{len(b)} of {len(a)} bytes, first difference at offset {n}"


def _take_rtcp(modem, back: bytearray) -> None:
    """Every +MIPRTCP line of SID queued so far, its hex data appended to ``back``."""
    for u in modem.ch.drain_urcs():
        if u.urc is not None and u.urc.name == "miprtcp" and u.text.startswith(f"+MIPRTCP: {SID},"):
            back += bytes.fromhex(u.text.rsplit(",", 1)[1])
        elif u.urc is not None and u.urc.name in ("mipxoff", "mipxon"):
            continue
        else:
            raise Deviation(f"unexpected line during the transfer: {u.text!r}")


@purpose("1.1.6/integrity-buffer", "1.1.6", "1 MiB through the accumulating buffer and +MIPRTCP, both directions, byte for byte", "AT+MIPSEND")
def test_one_mebibyte_buffer_path(link, peers, echo_conn_index, payload):
    modem = link
    echo = own_peer(peers, "tcp_echo")
    data = payload(SIZE)
    modem.open(SID, 0, echo.host, echo.port, strict=True)
    modem.expect_ok(f"AT+MIPSETS={SID},2046,100")   # two chunks per push; the rest after 100 ms
    back = bytearray()
    clock = modem.ch.clock
    i = 0
    while i < SIZE:
        part = data[i:i + CHUNK]
        r = modem.at(f'AT+MIPSEND={SID},"{part.hex().upper()}"')
        v = parse_info(r) if r.ok and r.info else {}
        if v.get("status") == 1:            # flowed off (+MIPXOFF): wait for +MIPXON
            if modem.ch.wait_urc("mipxon", 30) is None:
                raise Deviation(f"flowed off at offset {i} and no +MIPXON within 30 s")
            continue
        if v.get("status") != 0:
            raise Deviation(f"AT+MIPSEND at offset {i}: {r.lines} {r.final.text if r.final else None}")
        i += len(part)
        if i % (64 * CHUNK) == 0:
            _take_rtcp(modem, back)
    modem.expect_ok(f"AT+MIPPUSH={SID}")
    last, seen = clock.now(), len(back)
    while len(back) < SIZE and clock.now() - last < 5:
        clock.sleep(0.05)
        _take_rtcp(modem, back)
        if len(back) != seen:
            last, seen = clock.now(), len(back)
    if wait_peer(modem, echo, echo_conn_index, SIZE, timeout=30) is None or bytes(echo.received[echo_conn_index]) != data:
        raise Deviation("the peer: " + _first_difference(data, bytes(echo.received[echo_conn_index])))
    if bytes(back) != data:
        raise Deviation("back at the host: " + _first_difference(data, bytes(back)))


@purpose("1.1.18/integrity-odm", "1.1.18", "1 MiB through online data mode, both directions, byte for byte", "AT+MIPODM")
def test_one_mebibyte_online_data_mode(link, peers, echo_conn_index, payload):
    modem = link
    echo = own_peer(peers, "tcp_echo")
    data = payload(SIZE)
    # +++ stays an escape (<pseudo-command mode> 0): only with 1 s of silence around it
    r = modem.answered(f'AT+MIPODM=2,,"{echo.host}",{echo.port},0')
    modem.check(r, expect_success=True)
    if not modem.ch.engine.framer.data_mode:
        raise Deviation(f"AT+MIPODM: not in online data mode after {[a.text for a in r.after]}")
    back = bytearray()
    step = 16384
    for i in range(0, SIZE, step):
        modem.ch.write(data[i:i + step])
        back += modem.ch.read_data(SIZE, 0)
    clock = modem.ch.clock
    last, seen = clock.now(), len(back)
    while len(back) < SIZE and clock.now() - last < 5:
        back += modem.ch.read_data(SIZE - len(back), 0.2)
        if len(back) != seen:
            last, seen = clock.now(), len(back)
    if wait_peer(modem, echo, echo_conn_index, SIZE, timeout=30) is None or bytes(echo.received[echo_conn_index]) != data:
        raise Deviation("the peer: " + _first_difference(data, bytes(echo.received[echo_conn_index])))
    if bytes(back) != data:
        raise Deviation("back at the host: " + _first_difference(data, bytes(back)))
