"""Data integrity under load: 1 MiB through the GSM stack (seed 003) in every data path that
frames its data, host -> module -> TCP echo peer -> module -> host, with no byte lost,
duplicated or reordered at the peer or back at the host: IPD headers (§5.3.1), +RECEIVE
with QIMUX=1 (§3.3), +QIRDI and AT+QIRD (§5.3.2), and transparent mode (§4).

Data with no header (the default, §5.3.1 L523) is not in this list: it has no length and
no line end, so a DTE cannot tell where a run of it ends (spec notes, URC "raw data").
In fixed-length input ESC still cancels (L484), so the payload has no 0x1B.
"""
from __future__ import annotations


import pytest

from atconform.verdicts import Deviation
from suites.quectel_gsm.test_scenarios import gsm, peer_got, purpose  # noqa: F401  (fixture)

pytestmark = pytest.mark.family("quectel_gsm")
SIZE = 1 << 20
CHUNK = 1460            # §3.1 L164: the most one AT+QISEND takes
STALL = 5.0             # seconds without a new byte back: the rest is not coming


def _payload(payload) -> bytes:
    return payload(SIZE).replace(b"\x1b", b"\x1c")


def _first_difference(a: bytes, b: bytes) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"{len(b)} of {len(a)} bytes, first difference at offset {n}"


def _send_all(modem, data: bytes, line, after_each) -> None:
    for i in range(0, len(data), CHUNK):
        chunk = data[i:i + CHUNK]
        r = modem.at(line(len(chunk)), data=chunk)
        if r.final.text != "SEND OK":
            raise Deviation(f"{line(len(chunk))} at offset {i}: {r.final.text}")
        after_each()


def _drain(modem, names: tuple[str, ...], back: bytearray) -> None:
    for u in modem.ch.drain_urcs():
        if u.urc is not None and u.urc.name in names:
            back += u.payload or b""


def _until_complete(modem, back: bytearray, step) -> None:
    clock = modem.ch.clock
    last, seen = clock.now(), len(back)
    while len(back) < SIZE and clock.now() - last < STALL:
        step()
        if len(back) != seen:
            last, seen = clock.now(), len(back)
        else:
            clock.sleep(0.05)


def _check(peer, index: int, data: bytes, back: bytearray, how: str) -> None:
    peer_got(peer, index, data, timeout=30)
    if bytes(back) != data:
        raise Deviation(f"{how}: " + _first_difference(data, bytes(back)))


@purpose("5.3.1/integrity-ipd", "5.3.1", "1 MiB out in 1460-byte AT+QISEND and back in IPD<len>TCP: blocks, "
         "byte for byte", "AT+QISEND")
def test_one_mebibyte_ipd_headers(gsm, peers, echo_conn_index, payload):
    peer = peers["tcp_echo"]
    gsm.expect_ok("AT+QIHEAD=1")
    gsm.expect_ok("AT+QISHOWPT=1")
    gsm.open(0, "TCP", peer.host, peer.port, strict=True)
    data, back = _payload(payload), bytearray()
    names = ("ipd-protocol",)
    _send_all(gsm, data, lambda n: f"AT+QISEND={n}", lambda: _drain(gsm, names, back))
    _until_complete(gsm, back, lambda: (gsm.at("AT"), _drain(gsm, names, back)))
    _check(peer, echo_conn_index, data, back, "IPD blocks")


@purpose("3.3/integrity-receive", "3.3", "1 MiB with QIMUX=1: AT+QISEND=0,<n> out, +RECEIVE: 0, <len> back, "
         "byte for byte", "AT+QISEND")
def test_one_mebibyte_multiplexed(gsm, peers, echo_conn_index, payload):
    peer = peers["tcp_echo"]
    gsm.step("setting:mux=1", {})
    gsm.open(0, "TCP", peer.host, peer.port, strict=True)
    data, back = _payload(payload), bytearray()
    names = ("receive",)
    _send_all(gsm, data, lambda n: f"AT+QISEND=0,{n}", lambda: _drain(gsm, names, back))
    _until_complete(gsm, back, lambda: (gsm.at("AT"), _drain(gsm, names, back)))
    _check(peer, echo_conn_index, data, back, "+RECEIVE blocks")


@purpose("5.3.2/integrity-qird", "5.3.2", "1 MiB with AT+QINDI=1: read back with AT+QIRD=0,1,0,1500 until "
         "empty, byte for byte", "AT+QIRD")
def test_one_mebibyte_qird(gsm, peers, echo_conn_index, payload):
    peer = peers["tcp_echo"]
    gsm.expect_ok("AT+QINDI=1")
    gsm.open(0, "TCP", peer.host, peer.port, strict=True)
    data, back = _payload(payload), bytearray()

    def read() -> None:
        r = gsm.at("AT+QIRD=0,1,0,1500")
        gsm.check(r)
        for line in r.info:
            back.extend(line.payload or b"")

    _send_all(gsm, data, lambda n: f"AT+QISEND={n}", read)
    _until_complete(gsm, back, read)
    _check(peer, echo_conn_index, data, back, "AT+QIRD")


@purpose("4/integrity-transparent", "4", "1 MiB both ways in transparent data mode, byte for byte", "AT+QIOPEN")
def test_one_mebibyte_transparent(gsm, peers, echo_conn_index, payload):
    peer = peers["tcp_echo"]
    gsm.step("setting:mode=1", {})
    gsm.open(0, "TCP", peer.host, peer.port, strict=True)
    data, back = _payload(payload), bytearray()
    clock = gsm.ch.clock
    clock.sleep(0.6)
    step = 8192
    for i in range(0, SIZE, step):
        gsm.ch.write(data[i:i + step])
        back += gsm.ch.read_data(len(data[i:i + step]), 10)
    if len(back) < SIZE:
        back += gsm.ch.read_data(SIZE - len(back), STALL)
    gsm.escape_data_mode()
    _check(peer, echo_conn_index, data, back, "transparent mode")
