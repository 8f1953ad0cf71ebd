"""Quectel GSM flows of the GSM TCPIP Application Note (seed 003, chapters 3-8) with real
bytes over real sockets: each test follows one section's example and checks the bytes the
peer received, the bytes read back, the AT+QISACK counters against those bytes, and the
stack states of Figures 3-4. Runs on a real module too, with peers from the IXIT.
"""
from __future__ import annotations

import socket

import pytest

from atconform.families.quectel_gsm.session import qisack
from atconform.protocol.engine import parse_info
from atconform.verdicts import Deviation, Inconclusive

SRC = "003_fb4b48c054b40738.txt"
WELCOME = b"Welcome to use Quectel module."          # the note's 30 bytes (L163, L170)


def purpose(pid: str, section: str, title: str, command: str):
    return pytest.mark.purpose(f"QUECTEL_GSM/SCENARIO/{pid}", title=title, family="quectel_gsm", command=command,
                               form="scenario", section=section, source=f"{SRC} §{section}", kind="scenario")


pytestmark = pytest.mark.family("quectel_gsm")
SETTINGS_OFF = ["AT+QIHEAD=0", "AT+QISHOWRA=0", "AT+QISHOWLA=0", "AT+QISHOWPT=0", "AT+QINDI=0", "AT+QISRVC=1",
                "AT+QIAUTOS=0", "AT+QIDNSIP=0", "AT+QITCFG=3,2,512,1"]


@pytest.fixture
def gsm(modem):
    """The module in a known state before and after: command mode, context 0 in the
    foreground, IP INITIAL, every setting at its default (spec settings)."""
    def reset():
        if modem.ch.engine.framer.data_mode:
            try:
                modem.escape_data_mode()
            except Deviation:
                if modem.power_cycle_fn is None:
                    raise
                modem.step_power_cycle()      # a module that broke data mode: start afresh
        modem.expect_ok("ATE0")               # echo off, and the framer's belief of it right again
        for cid in (1, 0):
            modem.expect_ok(f"AT+QIFGCNT={cid}")
            modem.step("setting:mux=0", {})
            modem.step("setting:mode=0", {})
            if modem.stack_state() != "IP INITIAL":
                modem.deactivate()
        for line in SETTINGS_OFF:
            modem.expect_ok(line)

    reset()
    yield modem
    reset()


# ----------------------------------------------------------------------------- helpers
def ok(modem, line, **kw):
    r = modem.at(line, **kw)
    modem.check(r, expect_success=True)
    return r


def expect_state(modem, want: str, after: str) -> None:
    got = modem.stack_state()
    if got != want:
        raise Deviation(f"after {after} the stack is {got!r}, Figure 3/4 says {want!r}")


def peer_got(peer, index: int, want: bytes, timeout: float = 10.0) -> None:
    """The bytes our peer received on its ``index``-th connection (a lab peer is
    checked through the echo instead)."""
    received = getattr(peer, "received", None)
    if received is None:
        return
    if peer.clock.wait_until(lambda: len(received) > index and bytes(received[index]) == want, timeout):
        return
    got = bytes(received[index]) if len(received) > index else b""
    raise Deviation(f"the peer received {got!r}, the host sent {want!r}")


def collect(modem, names: tuple[str, ...], want: int, timeout: float = 10.0) -> list:
    """URCs named ``names`` until their data (payload, or the text of raw data) adds up
    to ``want`` bytes; an AT now and then flushes raw data that has no line end."""
    clock = modem.ch.clock
    deadline = clock.now() + timeout
    got = []
    while sum(len(u.payload if u.payload is not None else u.text.encode("latin-1")) for u in got) < want:
        u = modem.ch.wait_urc(lambda u: u.urc is not None and u.urc.name in names, 0.2)
        if u is not None:
            got.append(u)
            continue
        if clock.now() > deadline:
            break
        modem.at("AT", timeout=5)
    return got


def data_of(urcs) -> bytes:
    return b"".join(u.payload if u.payload is not None else u.text.encode("latin-1") for u in urcs)


def acked(modem, index: int | None, total: int, udp: bool = False) -> tuple[int, int, int]:
    """AT+QISACK until nothing is unacknowledged (loopback acks at once; 10 s bound)."""
    clock = modem.ch.clock
    deadline = clock.now() + 10
    while True:
        sent, ack, nack = qisack(modem, index)
        if sent != total:
            raise Deviation(f"+QISACK: {sent}, {ack}, {nack}: <sent> is {sent}, {total} bytes were sent")
        if sent != ack + nack:
            raise Deviation(f"+QISACK: {sent}, {ack}, {nack}: sent != acked + unacked (L171)")
        if udp:
            if ack != 0:
                raise Deviation(f"+QISACK: {sent}, {ack}, {nack}: UDP acked must be 0 (L508)")
            return sent, ack, nack
        if nack == 0 or clock.now() > deadline:
            return sent, ack, nack
        clock.sleep(0.05)


def recv_exactly(sock: socket.socket, n: int, clock, timeout: float = 10.0) -> bytes:
    """Read ``n`` bytes from a test client without blocking the run's clock."""
    sock.setblocking(False)
    buf = bytearray()

    def more() -> bool:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return False
        if not chunk:
            return True
        buf.extend(chunk)
        return len(buf) >= n

    deadline = clock.now() + timeout
    while len(buf) < n and not more() and clock.now() < deadline:
        clock.sleep(0.01)
    return bytes(buf)


def lport(modem) -> tuple[int, int]:
    r = ok(modem, "AT+QILPORT?")
    v = {k: val for i in range(len(r.info)) for k, val in parse_info(r, i).items()}
    return v["tcp_port"], v["udp_port"]


def local_ip(modem) -> str:
    r = modem.at("AT+QILOCIP")
    if not r.info:
        raise Inconclusive(f"AT+QILOCIP: {r.final.text if r.final else None}")
    return r.lines[0]


# ----------------------------------------------------------------------------- §3.1
@purpose("3.1/single-tcp-client", "3.1", "Single TCP client: configure, register, activate, open, send 30 bytes, "
         "QISACK, receive them back raw, close, deactivate; Figure 3 states on the way", "AT+QIOPEN")
def test_single_tcp_client(gsm, peers, echo_conn_index):
    peer = peers["tcp_echo"]
    for line in ("AT+QIFGCNT=0", f'AT+QICSGP=1,"{gsm.ixit.apn or "CMNET"}"', "AT+QIMUX=0", "AT+QIMODE=0",
                 "AT+QIDNSIP=0"):                                        # §3 L134-144
        ok(gsm, line)
    for line, want in (("AT+QIREGAPP", "IP START"), ("AT+QIACT", "IP GPRSACT")):
        ok(gsm, line)
        expect_state(gsm, want, line)
    local_ip(gsm)
    expect_state(gsm, "IP STATUS", "AT+QILOCIP")
    r = gsm.open(0, "TCP", peer.host, peer.port, strict=True)
    if [a.text for a in r.after] != ["CONNECT OK"]:
        raise Deviation(f"AT+QIOPEN: after OK {[a.text for a in r.after]}, expected CONNECT OK (L158)")
    expect_state(gsm, "CONNECT OK", "CONNECT OK")
    r = gsm.at("AT+QISEND", data=WELCOME, ctrl_z=True)                  # L161-166
    if r.final.text != "SEND OK" or not r.prompt:
        raise Deviation(f"AT+QISEND: prompt {r.prompt}, {r.final.text}; expected '> ' then SEND OK")
    peer_got(peer, echo_conn_index, WELCOME)
    acked(gsm, None, 30)
    got = data_of(collect(gsm, ("raw data",), 30))                       # L172: no header
    if got != WELCOME:
        raise Deviation(f"received {got!r} back, the peer echoed {WELCOME!r}")
    ok(gsm, "AT+QICLOSE")                                                # L174-176
    expect_state(gsm, "IP CLOSE", "AT+QICLOSE")
    ok(gsm, "AT+QIDEACT")
    expect_state(gsm, "IP INITIAL", "AT+QIDEACT")


@purpose("3.1/single-udp-client", "3.1", "Single UDP client: the datagram reaches the peer and comes back; "
         "QISACK's acked stays 0 for UDP (L508)", "AT+QIOPEN")
def test_single_udp_client(gsm, peers):
    peer = peers["udp_echo"]
    gsm.open(0, "UDP", peer.host, peer.port, strict=True)
    gsm.send(0, b"udp datagram")
    got = data_of(collect(gsm, ("raw data",), 12))
    if got != b"udp datagram":
        raise Deviation(f"received {got!r} back, sent b'udp datagram'")
    acked(gsm, None, 12, udp=True)
    gsm.close(0)


# ----------------------------------------------------------------------------- §3.2
@purpose("3.2/single-server", "3.2", "Single connection server: QISERVER then SERVER OK once, QILPORT, a client "
         "reported by REMOTE IP, a client connection beside it, QISRVC selects the side for QISEND and "
         "QICLOSE (first the client, then the listener)", "AT+QISERVER")
def test_single_server(gsm, peers, listener_client, echo_conn_index):
    peer = peers["tcp_echo"]
    r = ok(gsm, "AT+QISERVER")
    if [a.text for a in r.after] != ["SERVER OK"]:
        raise Deviation(f"AT+QISERVER: after OK {[a.text for a in r.after]}, expected SERVER OK (L185)")
    ip = local_ip(gsm)
    tcp_port, _ = lport(gsm)
    client = listener_client(ip, tcp_port)
    u = gsm.expect_urc("remote ip", 10, "no REMOTE IP: after a client connected (L194)")
    if u.text != f"REMOTE IP: {client.getsockname()[0]}":
        raise Deviation(f"{u.text!r}: expected 'REMOTE IP: {client.getsockname()[0]}' (L194)")
    gsm.open(0, "TCP", peer.host, peer.port, strict=True)                # L196: a client beside it
    ok(gsm, "AT+QISRVC=2")
    gsm.send(0, b"to the client")
    if recv_exactly(client, 13, gsm.ch.clock) != b"to the client":
        raise Deviation("the remote client did not get the 13 bytes sent with AT+QISRVC=2")
    ok(gsm, "AT+QISRVC=1")
    gsm.send(0, WELCOME)
    peer_got(peer, echo_conn_index, WELCOME)
    ok(gsm, "AT+QISRVC=2")
    ok(gsm, "AT+QICLOSE")                                                 # L233-236: the client first
    if recv_exactly(client, 1, gsm.ch.clock, 5) != b"":
        raise Deviation("the remote client's connection stayed open after the first AT+QICLOSE")
    ok(gsm, "AT+QICLOSE")                                                 # then the listener
    r = ok(gsm, "AT+QISSTAT")
    if r.after and "LISTEN" in r.after[0].text:
        raise Deviation("still listening after the second AT+QICLOSE (L236)")
    ok(gsm, "AT+QISRVC=1")
    ok(gsm, "AT+QICLOSE")


# ----------------------------------------------------------------------------- §3.3
@purpose("3.3/multiple-clients", "3.3", "QIMUX=1: two connections by index; '<i>, CONNECT OK', QISEND=<i>, "
         "+RECEIVE: <i>, <len> with exactly the echoed bytes, QISACK=<i>, '<i>, CLOSE OK'", "AT+QIOPEN")
def test_multiple_clients(gsm, peers, echo_conn_index):
    peer = peers["tcp_echo"]
    gsm.step("setting:mux=1", {})
    for i in (0, 1):
        r = gsm.open(i, "TCP", peer.host, peer.port, strict=True)
        if [a.text for a in r.after] != [f"{i}, CONNECT OK"]:
            raise Deviation(f"AT+QIOPEN={i}: after OK {[a.text for a in r.after]}, expected '{i}, CONNECT OK' (L255)")
    expect_state(gsm, "IP PROCESSING", "AT+QIOPEN")
    r = gsm.at("AT+QISEND=0", data=WELCOME, ctrl_z=True)                  # L257
    if r.final.text != "SEND OK":
        raise Deviation(f"AT+QISEND=0: {r.final.text}")
    gsm.send(1, b"second")
    peer_got(peer, echo_conn_index, WELCOME)
    peer_got(peer, echo_conn_index + 1, b"second")
    got = {}
    for u in collect(gsm, ("receive",), 36):
        v = u.urc and parse_receive(u.text)
        if v[1] != len(u.payload):
            raise Deviation(f"{u.text!r} announced {v[1]} bytes, {len(u.payload)} followed")
        got[v[0]] = got.get(v[0], b"") + u.payload
    if got != {0: WELCOME, 1: b"second"}:
        raise Deviation(f"+RECEIVE data {got}, the peer echoed {WELCOME!r} on 0 and b'second' on 1 (L268)")
    acked(gsm, 0, 30)
    acked(gsm, 1, 6)
    for i in (0, 1):
        r = gsm.at(f"AT+QICLOSE={i}")
        gsm.check(r, expect_success=True)                                # '<i>, CLOSE OK' (§5.4 L551)
    expect_state(gsm, "IP STATUS", "closing the last connection")


def parse_receive(text: str) -> tuple[int, int]:
    idx, _, n = text.partition(": ")[2].partition(", ")
    return int(idx), int(n)


# ----------------------------------------------------------------------------- §3.4
@purpose("3.4/multiple-server-max-clients", "3.4", "QISERVER=0,3: three clients get '<i>, REMOTE IP', the fourth "
         "is refused; a client connection at index 3 beside them; data both ways by index; a bare QICLOSE "
         "closes the listener", "AT+QISERVER")
def test_multiple_server_max_clients(gsm, peers, listener_client, echo_conn_index):
    peer = peers["tcp_echo"]
    gsm.step("setting:mux=1", {})
    r = ok(gsm, "AT+QISERVER=0,3")
    if [a.text for a in r.after] != ["SERVER OK"]:
        raise Deviation(f"AT+QISERVER=0,3: after OK {[a.text for a in r.after]}")
    ip = local_ip(gsm)
    tcp_port, _ = lport(gsm)
    clients, reported = [], []
    for _ in range(3):
        clients.append(listener_client(ip, tcp_port))
        u = gsm.expect_urc("remote ip", 10, "no '<i>, REMOTE IP:' for a client within the maximum (L292)")
        reported.append(int(u.text.split(",")[0]))
    if sorted(reported) != [0, 1, 2]:
        raise Deviation(f"clients reported at indexes {reported}, expected 0, 1, 2 (the lowest free)")
    extra = listener_client(ip, tcp_port)
    if gsm.ch.wait_urc("remote ip", 2) is not None:
        raise Deviation("a fourth client was accepted by AT+QISERVER=0,3 (L279: no more after 3)")
    if recv_exactly(extra, 1, gsm.ch.clock, 3) != b"":
        raise Deviation("the fourth client's connection was not refused")
    gsm.open(3, "TCP", peer.host, peer.port, strict=True)                  # L294-297
    gsm.send(0, b"to client 0")
    if recv_exactly(clients[reported.index(0)], 11, gsm.ch.clock) != b"to client 0":
        raise Deviation("client 0 did not get the bytes of AT+QISEND=0")
    clients[reported.index(1)].sendall(b"from client 1")
    u = gsm.expect_urc("receive", 10, "no +RECEIVE: for the data client 1 sent")
    if u.text != "+RECEIVE: 1, 13" or u.payload != b"from client 1":
        raise Deviation(f"{u.text!r} {u.payload!r}: expected '+RECEIVE: 1, 13' and the 13 bytes")
    gsm.send(3, b"to the server")
    peer_got(peer, echo_conn_index, b"to the server")
    gsm.check(gsm.at("AT+QICLOSE=0"), expect_success=True)
    r = ok(gsm, "AT+QICLOSE")                                              # L333: the listener
    if r.final.index is not None:
        raise Deviation(f"AT+QICLOSE (the listener) answered {r.final.text!r} with an index")
    r = ok(gsm, "AT+QISSTAT")
    if r.after and "LISTEN" in r.after[0].text:
        raise Deviation("still listening after the bare AT+QICLOSE (L333)")


# ----------------------------------------------------------------------------- §4
@purpose("4.1/transparent-client", "4.1", "Transparent client: CONNECT and data mode, bytes both ways unchanged, "
         "+++ only with 500 ms of silence around it (L369), ATO returns with CONNECT, QISACK counts the "
         "data-mode bytes", "AT+QIOPEN")
def test_transparent_client(gsm, peers, echo_conn_index):
    peer = peers["tcp_echo"]
    gsm.step("setting:mode=1", {})
    ok(gsm, "AT+QITCFG=3,2,512,1")                                          # L353
    r = gsm.open(0, "TCP", peer.host, peer.port, strict=True)
    if [a.text for a in r.after] != ["CONNECT"] or not gsm.ch.engine.framer.data_mode:
        raise Deviation(f"AT+QIOPEN in transparent mode: {[a.text for a in r.after]}, expected CONNECT and data mode")
    clock = gsm.ch.clock
    clock.sleep(0.6)
    gsm.ch.write(b"abc")
    gsm.ch.write(b"+++")                          # no 500 ms of silence before the first '+': data (L369)
    clock.sleep(0.6)
    gsm.ch.write(b"+++")
    gsm.ch.write(b"d")                            # a character right after the last '+': data too
    back = gsm.ch.read_data(10, 10)
    if back != b"abc++++++d":
        raise Deviation(f"'+++' without its guard times came back as {back!r}, expected all of it as data "
                        "(L369: 500 ms before the first '+' and after the last)")
    peer_got(peer, echo_conn_index, b"abc++++++d")
    gsm.escape_data_mode()                                                  # L382: OK
    r = gsm.at("ATO")                                                       # L386-389
    if r.final.text != "CONNECT" or not gsm.ch.engine.framer.data_mode:
        raise Deviation(f"ATO: {r.final.text}, expected CONNECT and data mode")
    gsm.ch.write(WELCOME)
    if gsm.ch.read_data(30, 10) != WELCOME:
        raise Deviation("the 30 bytes did not come back unchanged in data mode")
    gsm.escape_data_mode()
    acked(gsm, None, 40)
    ok(gsm, "AT+QICLOSE")
    ok(gsm, "AT+QIDEACT")


@purpose("4.2/transparent-server", "4.2", "Transparent server: REMOTE IP then CONNECT, data both ways; the client's "
         "close ends data mode with CLOSED (L370)", "AT+QISERVER")
def test_transparent_server_and_close_in_data_mode(gsm, listener_client):
    gsm.step("setting:mode=1", {})
    r = ok(gsm, "AT+QISERVER")
    if [a.text for a in r.after] != ["SERVER OK"]:
        raise Deviation(f"AT+QISERVER: {[a.text for a in r.after]}")
    ip = local_ip(gsm)
    tcp_port, _ = lport(gsm)
    client = listener_client(ip, tcp_port)
    gsm.expect_urc("remote ip", 10, "no REMOTE IP: (L416)")
    gsm.expect_urc("connect", 10, "no CONNECT after REMOTE IP in transparent mode (L418, L444)")
    clock = gsm.ch.clock
    client.sendall(b"hello module")
    if gsm.ch.read_data(12, 10) != b"hello module":
        raise Deviation("the client's bytes did not reach the host in data mode")
    gsm.ch.write(b"hello client")
    if recv_exactly(client, 12, clock) != b"hello client":
        raise Deviation("the host's bytes did not reach the client in data mode")
    client.close()
    u = gsm.expect_urc("closed", 10, "no CLOSED when the client closed in data mode (L370)")
    if gsm.ch.engine.framer.data_mode:
        raise Deviation(f"{u.text!r} came but the module stayed in data mode")
    if not gsm.at("AT").ok:
        raise Deviation("AT after CLOSED in data mode got no OK: the module did not return to command mode (L370)")


# ----------------------------------------------------------------------------- §5.2
@purpose("5.2/send-ways", "5.2.2.2", "Fixed length counts <Ctrl-Z> as data (L484), ESC cancels before sending "
         "(L470, L484), data beyond 1460 bytes is omitted (L164)", "AT+QISEND")
def test_send_ways(gsm, peers, echo_conn_index):
    peer = peers["tcp_echo"]
    gsm.open(0, "TCP", peer.host, peer.port, strict=True)
    r = gsm.at("AT+QISEND=5", data=b"ab\x1acd")
    if r.final.text != "SEND OK":
        raise Deviation(f"AT+QISEND=5 with Ctrl-Z inside: {r.final.text}")
    r = gsm.at("AT+QISEND=10", data=b"xyz", escape=True)
    if r.final.text in ("SEND OK", "SEND FAIL"):
        raise Deviation(f"ESC after 3 of 10 bytes: {r.final.text}, the send should be cancelled")
    big = bytes(range(32, 127)) * 16                                   # 1520 bytes, no Ctrl-Z/ESC
    r = gsm.at("AT+QISEND", data=big, ctrl_z=True)
    if r.final.text != "SEND OK":
        raise Deviation(f"AT+QISEND with 1520 bytes: {r.final.text}")
    peer_got(peer, echo_conn_index, b"ab\x1acd" + big[:1460])
    acked(gsm, None, 5 + 1460)


@purpose("5.2.2.3/timed-sending", "5.2.2.3", "AT+QIAUTOS=1,<t>: the data goes when the timer ends, without Ctrl-Z; "
         "with no data SEND FAIL (L496)", "AT+QIAUTOS")
def test_timed_sending(gsm, peers, echo_conn_index):
    peer = peers["tcp_echo"]
    gsm.open(0, "TCP", peer.host, peer.port, strict=True)
    ok(gsm, "AT+QIAUTOS=1,2")
    t0 = gsm.ch.clock.now()
    r = gsm.at("AT+QISEND", data=b"timed", timeout=10)
    if r.final.text != "SEND OK" or gsm.ch.clock.now() - t0 < 1.9:
        raise Deviation(f"timed AT+QISEND: {r.final.text} after {gsm.ch.clock.now() - t0:.2f} s, "
                        "expected SEND OK when the 2 s timer ends (L494)")
    r = gsm.at("AT+QISEND", data=b"", timeout=10)
    if r.final.text != "SEND FAIL":
        raise Deviation(f"timed AT+QISEND with no data: {r.final.text}, expected SEND FAIL (L496)")
    peer_got(peer, echo_conn_index, b"timed")


# ----------------------------------------------------------------------------- §5.3
@purpose("5.3.1/receive-headers", "5.3.1", "QISHOWRA, QISHOWLA, QIHEAD and QISHOWPT: RECV FROM:<ip>:<port>, "
         "TO:<ip>, then IPD<len>TCP: glued to exactly the data (L523-534)", "AT+QIHEAD")
def test_receive_headers(gsm, peers):
    peer = peers["tcp_echo"]
    for line in ("AT+QISHOWRA=1", "AT+QISHOWLA=1", "AT+QIHEAD=1"):
        ok(gsm, line)
    gsm.open(0, "TCP", peer.host, peer.port, strict=True)
    ip = local_ip(gsm)
    gsm.send(0, b"12345")
    u = gsm.expect_urc("recv from", 10, "no RECV FROM: line with QISHOWRA=1 (L523)")
    if u.text != f"RECV FROM:{peer.host}:{peer.port}":
        raise Deviation(f"{u.text!r}: expected 'RECV FROM:{peer.host}:{peer.port}'")
    u = gsm.expect_urc("to", 10, "no TO: line with QISHOWLA=1 (L526)")
    if u.text != f"TO:{ip}":
        raise Deviation(f"{u.text!r}: expected 'TO:{ip}'")
    u = gsm.expect_urc("ipd", 10, "no IPD<len>: header with QIHEAD=1 (L530)")
    if u.text != "IPD5:" or u.payload != b"12345":
        raise Deviation(f"{u.text!r}{u.payload!r}: expected 'IPD5:12345'")
    ok(gsm, "AT+QISHOWPT=1")
    gsm.send(0, WELCOME)
    u = gsm.expect_urc("ipd-protocol", 10, "no IPD<len>TCP: header with QISHOWPT=1 (L534)")
    if u.text != "IPD30TCP:" or u.payload != WELCOME:
        raise Deviation(f"{u.text!r}{u.payload!r}: expected 'IPD30TCP:' and the 30 bytes (L534)")


@purpose("5.3.2/qindi-qird", "5.3.2", "AT+QINDI=1: +QIRDI:<id>,<sc>,<sid> once, AT+QIRD returns exactly the "
         "bytes, in <len> pieces, until empty (L540-545)", "AT+QIRD")
def test_qindi_qird(gsm, peers):
    peer = peers["tcp_echo"]
    ok(gsm, "AT+QINDI=1")
    gsm.open(0, "TCP", peer.host, peer.port, strict=True)
    data = b"1234567890abcdefghijklmnopqrstuvwxyz"                          # L540, 36 bytes
    gsm.send(0, data)
    u = gsm.expect_urc("qirdi", 10, "no +QIRDI: with QINDI=1 (L540)")
    if u.text != "+QIRDI:0,1,0":
        raise Deviation(f"{u.text!r}: expected '+QIRDI:0,1,0' (context 0, client, index 0)")
    got = b""
    clock = gsm.ch.clock
    deadline = clock.now() + 10
    while len(got) < len(data) and clock.now() < deadline:
        r = ok(gsm, "AT+QIRD=0,1,0,10")
        for line in r.info:
            v = parse_info(r) if r.info else {}
            if len(line.payload or b"") != v.get("length"):
                raise Deviation(f"{line.text!r} announced {v.get('length')} bytes, {len(line.payload or b'')} followed")
            if v.get("length", 0) > 10:
                raise Deviation(f"{line.text!r}: more than <len> 10")
            got += line.payload or b""
    if got != data:
        raise Deviation(f"AT+QIRD returned {got!r}, the peer echoed {data!r}")
    r = ok(gsm, "AT+QIRD=0,1,0,10")
    if r.info:
        raise Deviation(f"AT+QIRD after the buffer was read empty returned {r.lines}")


# ----------------------------------------------------------------------------- §5.6
@purpose("5.6.2/qistate-lines", "5.6.2", "AT+QISTATE: STATE then one +QISTATE line per index 0-5, a used index "
         "with its protocol, address and port (L623)", "AT+QISTATE")
def test_qistate_lines(gsm, peers):
    peer = peers["tcp_echo"]
    gsm.step("setting:mux=1", {})
    r = ok(gsm, "AT+QISTATE")
    if [a.text for a in r.after] != ["STATE: IP INITIAL"] + [f'+QISTATE: {i},"","",,"INITIAL"' for i in range(6)]:
        raise Deviation(f"AT+QISTATE in IP INITIAL: {[a.text for a in r.after]} (L623)")
    gsm.open(2, "UDP", peer.host, peer.port, strict=True)
    r = ok(gsm, "AT+QISTATE")
    want = f'+QISTATE: 2,"UDP","{peer.host}",{peer.port},"CONNECTED"'
    if len(r.after) != 7 or r.after[3].text != want:
        raise Deviation(f"AT+QISTATE with index 2 open: {[a.text for a in r.after]}, expected {want!r} at index 2")


# ----------------------------------------------------------------------------- §3, §7, §8
@purpose("3/qilocip-no-final", "3", "AT+QILOCIP answers the address alone, no final result code (L149-151)",
         "AT+QILOCIP")
def test_qilocip_has_no_final_result_code(gsm):
    gsm.step("stack:IP GPRSACT", {})
    mark = gsm.ch.transcript.mark()
    r = gsm.at("AT+QILOCIP")
    gsm.check(r, expect_success=True)
    gsm.ch.clock.sleep(0.5)                     # anything the module adds has come by now
    rx = b"".join(e.data for e in gsm.ch.transcript.entries(mark) if e.direction == "rx")
    if b"OK" in rx or b"ERROR" in rx:
        raise Deviation(f"AT+QILOCIP printed a result code with the address: {rx!r} (L149-151: none)")


@purpose("7.2/two-contexts", "7.2", "Two contexts: a TCP client on context 0 (QIMUX=0), a listening server on "
         "context 1 (QIMUX=1) with its own address; each keeps its settings", "AT+QIFGCNT")
def test_two_contexts(gsm, peers, listener_client, echo_conn_index):
    peer = peers["tcp_echo"]
    ok(gsm, "AT+QIFGCNT=0")
    gsm.open(0, "TCP", peer.host, peer.port, strict=True)                  # L708-715
    ip0 = local_ip(gsm)
    ok(gsm, "AT+QIFGCNT=1")
    gsm.step("setting:mux=1", {})
    r = ok(gsm, "AT+QISERVER=0,3")                                          # L732-734
    if [a.text for a in r.after] != ["SERVER OK"]:
        raise Deviation(f"AT+QISERVER=0,3 on context 1: {[a.text for a in r.after]}")
    ip1 = local_ip(gsm)
    if ip0 == ip1:
        raise Deviation(f"both contexts report {ip0} (L718, L738: each its own address)")
    tcp_port, _ = lport(gsm)
    listener_client(ip1, tcp_port)
    u = gsm.expect_urc("remote ip", 10, "no '0, REMOTE IP:' on context 1 (L740)")
    if not u.text.startswith("0, REMOTE IP: "):
        raise Deviation(f"{u.text!r}: expected '0, REMOTE IP: ...' (QIMUX=1 on context 1)")
    ok(gsm, "AT+QIFGCNT=0")
    gsm.send(0, b"context 0")
    peer_got(peer, echo_conn_index, b"context 0")
    expect_state(gsm, "CONNECT OK", "the work on context 1")


@purpose("8.1/domain-name", "8.1", "AT+QIDNSIP=1: AT+QIOPEN with a domain name connects through the context's DNS "
         "(L754-757)", "AT+QIDNSIP")
def test_open_by_domain_name(gsm, peers, echo_conn_index):
    dns, peer = peers["dns"], peers["tcp_echo"]
    if dns.name is None or dns.address != peer.host:
        raise Inconclusive("the IXIT's DNS peer does not name the TCP echo peer")
    ok(gsm, "AT+QIDNSIP=1")
    ok(gsm, "AT+QIREGAPP")
    ok(gsm, "AT+QIACT")
    ok(gsm, f'AT+QIDNSCFG="{dns.host}"')
    r = gsm.open(0, "TCP", dns.name, peer.port, strict=True)
    if [a.text for a in r.after] != ["CONNECT OK"]:
        raise Deviation(f"AT+QIOPEN by name: {[a.text for a in r.after]}")
    gsm.send(0, b"by name")
    peer_got(peer, echo_conn_index, b"by name")


@purpose("8.2/qidnsgip", "8.2", "AT+QIDNSCFG then AT+QIDNSGIP: OK, then the addresses the configured DNS server "
         "gives (L767-770)", "AT+QIDNSGIP")
def test_qidnsgip(gsm, peers):
    dns = peers["dns"]
    if dns.name is None:
        raise Inconclusive("no DNS name in the IXIT")
    gsm.step("stack:IP STATUS", {})
    ok(gsm, f'AT+QIDNSCFG="{dns.host}","{dns.host}"')
    r = ok(gsm, f'AT+QIDNSGIP="{dns.name}"')
    gsm.settle()
    addrs = [a.text for a in r.after]
    if dns.address is not None and addrs != [dns.address]:
        raise Deviation(f"AT+QIDNSGIP={dns.name!r}: {addrs}, the DNS server says {dns.address}")
    server = peers.get("dns_server")
    if server is not None and dns.name.lower() not in server.queries:
        raise Deviation(f"the configured DNS server was never asked for {dns.name} (§8.2: the context's DNS)")
