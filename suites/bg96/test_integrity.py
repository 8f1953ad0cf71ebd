"""Data integrity under load (issue 3 item 8): a 1 MiB random payload through the AT
port in every data access mode, host -> modem -> TCP echo peer -> modem -> host, with no
byte lost, duplicated or reordered at the peer or back at the host."""
from __future__ import annotations


import pytest

from atconform.protocol.engine import parse_info
from atconform.verdicts import Deviation
from suites.bg96.test_scenarios import peer_got, purpose, qiopen

pytestmark = pytest.mark.family("bg96")
SIZE = 1 << 20
CHUNK = 1460            # §2.1.7 maximum <send_length>


def _payload(payload) -> bytes:
    return payload(SIZE)


STALL = 5.0            # seconds without a new byte back: the rest is not coming


def _until_complete(modem, back: bytearray, step) -> None:
    """Call ``step()`` until SIZE bytes are back or none arrived for STALL seconds (on the
    link's clock: ``step`` waits through it)."""
    clock = modem.ch.clock
    last, seen = clock.now(), len(back)
    while len(back) < SIZE and clock.now() - last < STALL:
        step()
        if len(back) != seen:
            last, seen = clock.now(), len(back)


def _send_in_chunks(modem, data: bytes, after_each) -> None:
    """AT+QISEND=0,<n> in 1460-byte chunks, each ending with SEND OK; ``after_each(k)``
    runs after chunk k so receiving overlaps sending."""
    for k, i in enumerate(range(0, len(data), CHUNK)):
        chunk = data[i:i + CHUNK]
        r = modem.at(f"AT+QISEND=0,{len(chunk)}", data=chunk)
        if r.final.text != "SEND OK":
            raise Deviation(f"AT+QISEND=0,{len(chunk)} at offset {i}: {r.final.text}")
        after_each(k)


def _check_both_ends(echo, conn_index: int, data: bytes, back: bytearray, how: str) -> None:
    """The peer got ``data`` and the host got all of it back, in order."""
    peer_got(echo, conn_index, data, timeout=30)
    if bytes(back) != data:
        raise Deviation(f"{how} " + _first_difference(data, bytes(back)))


def _first_difference(a: bytes, b: bytes) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"{len(b)} of {len(a)} bytes, first difference at offset {n}"


@purpose("1.2/integrity-buffer", "1.2", "1 MiB through buffer access mode, both directions, byte for byte", "AT+QISEND")
def test_one_mebibyte_buffer_access(modem, peers, echo_conn_index, payload):
    echo = peers["tcp_echo"]
    data = _payload(payload)
    qiopen(modem, 0, "TCP", echo.host, echo.port, 0, 0)
    back = bytearray()

    def read_some() -> None:
        while True:
            r = modem.at("AT+QIRD=0,1500")
            n = parse_info(r)["read_actual_length"]
            if n == 0:
                return
            back.extend(r.info[0].payload or b"")

    _send_in_chunks(modem, data, lambda k: read_some() if k % 16 == 15 else None)
    def step() -> None:
        read_some()
        if len(back) < SIZE:
            modem.ch.wait_urc(lambda u: u.text == '+QIURC: "recv",0', 0.5)

    _until_complete(modem, back, step)
    _check_both_ends(echo, echo_conn_index, data, back, "read back")
    v = parse_info(modem.at("AT+QISEND=0,0"))
    if v["total_send_length"] != SIZE or v["ackedbytes"] + v["unackedbytes"] != SIZE:
        raise Deviation(f"AT+QISEND=0,0 after 1 MiB: {v}")
    v = parse_info(modem.at("AT+QIRD=0,0"))
    if (v["total_receive_length"], v["have_read_length"], v["unread_length"]) != (SIZE, SIZE, 0):
        raise Deviation(f"AT+QIRD=0,0 after 1 MiB: {v}")
    modem.at("AT+QICLOSE=0")


@purpose("1.2/integrity-push", "1.2", "1 MiB through direct push mode, both directions, byte for byte", "AT+QISEND")
def test_one_mebibyte_direct_push(modem, peers, echo_conn_index, payload):
    echo = peers["tcp_echo"]
    data = _payload(payload)
    qiopen(modem, 0, "TCP", echo.host, echo.port, 0, 1)
    back = bytearray()

    def collect(timeout: float) -> None:
        u = modem.ch.wait_urc(lambda x: x.urc is not None and x.urc.name == "recv-push", timeout)
        while u is not None:
            back.extend(u.payload or b"")
            u = modem.ch.wait_urc(lambda x: x.urc is not None and x.urc.name == "recv-push", 0)

    # the URC queue holds every URC, also those that came during a command
    _send_in_chunks(modem, data, lambda k: collect(0))
    _until_complete(modem, back, lambda: collect(0.5))
    _check_both_ends(echo, echo_conn_index, data, back, "pushed back")
    modem.at("AT+QICLOSE=0")


@purpose("1.2/integrity-transparent", "1.2", "1 MiB through transparent access mode, both directions, byte for byte", "AT+QIOPEN")
def test_one_mebibyte_transparent(modem, peers, echo_conn_index, payload):
    echo = peers["tcp_echo"]
    data = _payload(payload)
    qiopen(modem, 0, "TCP", echo.host, echo.port, 0, 2)
    back = bytearray()
    for i in range(0, SIZE, 4096):
        modem.ch.write(data[i:i + 4096])
        back.extend(modem.ch.read_data(SIZE, 0))
    _until_complete(modem, back, lambda: back.extend(modem.ch.read_data(SIZE - len(back), 0.5)))
    _check_both_ends(echo, echo_conn_index, data, back, "echoed back")
    modem.escape_data_mode()
    modem.at("AT+QICLOSE=0")
