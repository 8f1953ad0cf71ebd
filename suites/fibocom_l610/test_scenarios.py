"""Fibocom L610 behaviours (seed 004) with real bytes over real sockets: TCP client and
listener, UDP with AT+MIPPUSH to an address, the accumulating buffer's watermark and
timeout pushes (checked at the peer with the clock's times), output chunked per
AT+MIPDSETS, XOFF/XON under a slow peer, every AT+GTSET="IPRFMT" form, HEX-mode sends,
online data mode with +++ and +MIPDATA, ping statistics, DNS, NTP, keep-alive on the wire.

The seed has no worked examples: every expectation is read from its syntax and parameter
tables, with the line cited. Runs on a real module too, with peers from the IXIT; the
tests that need a peer the suite controls (a slow reader, a client, a silent server)
run wherever the module can reach this machine.
"""
from __future__ import annotations

import socket
import struct
import time

import pytest

from atconform.families.fibocom_l610.session import UNANSWERED
from atconform.protocol.engine import parse_info
from atconform.verdicts import Deviation, Inconclusive

SRC = "004_24f336921c6ede6b.txt"
pytestmark = pytest.mark.family("fibocom_l610")
SID = 1


def purpose(pid: str, section: str, title: str, command: str):
    return pytest.mark.purpose(f"FIBOCOM_L610/SCENARIO/{pid}", title=title, family="fibocom_l610",
                               command=command, form="scenario", section=section, source=f"{SRC} §{section}",
                               kind="scenario")


# ------------------------------------------------------------------------------ helpers
def ok(modem, line: str, **kw):
    """``line`` under test: a conforming answer that ends with OK (and its follow lines)."""
    r = modem.answered(line, **kw)
    modem.check(r, expect_success=True)
    return r


def info(r, i: int = 0) -> dict:
    return parse_info(r, i)


def tcp_open(modem, peer, sid: int = SID, proto: int = 0):
    return modem.open(sid, proto, peer.host, peer.port, strict=True)


def mipsend(modem, sid: int, data: bytes) -> dict:
    """AT+MIPSEND=<id>,"<hex>" (§1.1.6): the +MIPSEND fields."""
    r = ok(modem, f'AT+MIPSEND={sid},"{data.hex().upper()}"')
    return info(r)


def peer_bytes(peer, index: int) -> bytes:
    received = getattr(peer, "received", None)
    if received is None or len(received) <= index:
        return b""
    return bytes(received[index])


def wait_peer(modem, peer, index: int, n: int, timeout: float = 10.0) -> float | None:
    """Clock time at which connection ``index`` of our peer holds ``n`` bytes (None: not
    within ``timeout``). The peer notifies the run's clock as bytes arrive."""
    clock = modem.ch.clock
    if clock.wait_until(lambda: len(peer_bytes(peer, index)) >= n, timeout):
        return clock.now()
    return None


def own_peer(peers, name: str):
    peer = peers[name]
    if getattr(peer, "received", None) is None:
        raise Inconclusive(f"the {name} peer is the lab's: its bytes cannot be inspected")
    return peer


def rtcp_chunks(modem, sid: int, want: int, timeout: float = 10.0) -> list[tuple[int, bytes, float]]:
    """+MIPRTCP (IPRFMT 0) lines of socket ``sid`` until ``want`` bytes came: (left, data,
    clock time of arrival) each."""
    out, got = [], 0
    clock = modem.ch.clock
    deadline = clock.now() + timeout
    head = f"+MIPRTCP: {sid},"
    while got < want:
        u = modem.ch.wait_urc(lambda u: u.urc is not None and u.urc.name == "miprtcp" and u.text.startswith(head),
                              max(0.0, deadline - clock.now()))
        if u is None:
            raise Deviation(f"{got} of {want} bytes came back as +MIPRTCP within {timeout:g} s")
        _, left, data = u.text.split(": ", 1)[1].split(",")
        out.append((int(left), bytes.fromhex(data), clock.now()))
        got += len(out[-1][1])
    return out


@pytest.fixture
def link(modem):
    """The AT+MIPCALL link up, no socket open, IPRFMT 0; all closed again afterwards."""
    modem.step_context_active()
    for sid in modem.open_sockets():
        modem.close(sid)
    yield modem
    if modem.ch.engine.framer.data_mode:
        modem.escape_data_mode()
    for sid in modem.open_sockets():
        modem.at(f"AT+MIPCLOSE={sid},1")     # a peer that went away may have closed it already
    modem.expect_ok('AT+GTSET="IPRFMT",0')
    modem.expect_ok('AT+GTSET="SENDTIME",12')


class Listener:
    """A TCP server of the test's own on loopback (a slow peer, a peer that talks first).
    ``rcvbuf``: its receive buffer in bytes (small: a slow peer fills it soon)."""

    def __init__(self, rcvbuf: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self, modem, timeout: float = 5.0) -> socket.socket:
        """The module's connection (the kernel completed it; accepted without waiting)."""
        self.sock.setblocking(False)
        clock = modem.ch.clock
        deadline = clock.now() + timeout
        while True:
            try:
                self.conn, _ = self.sock.accept()
                self.conn.setblocking(False)
                return self.conn
            except BlockingIOError:
                if clock.now() > deadline:
                    raise Deviation("the module never connected to the test's listener")
                clock.sleep(0.01)

    def read_available(self) -> bytes:
        out = bytearray()
        while True:
            try:
                d = self.conn.recv(65536)
            except BlockingIOError:
                return bytes(out)
            if not d:
                return bytes(out)
            out += d

    def close(self) -> None:
        for s in (self.conn, self.sock):
            if s is not None:
                s.close()


@pytest.fixture
def listener():
    made: list[Listener] = []

    def make(**kw) -> Listener:
        made.append(Listener(**kw))
        return made[-1]

    yield make
    for lst in made:
        lst.close()


# ------------------------------------------------------------------ §1.1.2-1.1.3, 1.1.6-7
@purpose("1.1.2/tcp-client", "1.1.2", "TCP client: MIPOPEN, MIPSEND, MIPPUSH, +MIPRTCP back, MIPCLOSE", "AT+MIPOPEN")
def test_tcp_client(link, peers, echo_conn_index):
    modem = link
    echo = own_peer(peers, "tcp_echo")
    data = b"hello, L610 \x00\x01\xff"
    tcp_open(modem, echo)
    v = mipsend(modem, SID, data)
    if (v["status"], v["freesize"]) != (0, 2048 - len(data)):
        raise Deviation(f"+MIPSEND: {v}: expected status 0, <freesize> {2048 - len(data)} (2048 minus the buffered bytes, L474)")
    r = ok(modem, f"AT+MIPPUSH={SID}")
    if info(r) != {"socket_id": SID, "status": 0, "accumulated_sent_length": len(data)}:
        raise Deviation(f"{r.lines}: expected +MIPPUSH: {SID},0,{len(data)}")
    if wait_peer(modem, echo, echo_conn_index, len(data)) is None or peer_bytes(echo, echo_conn_index) != data:
        raise Deviation(f"the peer got {peer_bytes(echo, echo_conn_index)!r}, the host sent {data!r}")
    back = b"".join(d for _, d, _ in rtcp_chunks(modem, SID, len(data)))
    if back != data:
        raise Deviation(f"+MIPRTCP carried {back!r}, the peer echoed {data!r}")
    r = ok(modem, f"AT+MIPCLOSE={SID}")          # mode 0: waits for the peer's FIN (L307)
    if not r.after or not r.after[0].text.endswith(",0"):
        raise Deviation(f"AT+MIPCLOSE={SID}: {[a.text for a in r.after]}, expected close type 0 (closed correctly)")


@purpose("1.1.2/tcp-listener", "1.1.2", "<remote_port> 0 listens; +MIPOPEN carries the client's address when it connects", "AT+MIPOPEN")
def test_tcp_listener(link, listener_client, seed):
    modem = link
    port = 30000 + seed % 20000
    ok(modem, f'AT+MIPOPEN={SID},{port},"0.0.0.0",0,0')
    ip4 = parse_info(modem.expect_ok("AT+MIPCALL?")).get("local_ip")
    client = listener_client(ip4, port)
    u = modem.expect_urc("mipopen-listen", 5, "no +MIPOPEN line when the client connected (L230)")
    v = u.urc and parse_info_urc(u)
    cport = client.getsockname()[1]
    if v != {"socket_id": SID, "state": 1, "remote_ip": "127.0.0.1", "remote_port": cport}:
        raise Deviation(f"{u.text!r}: expected +MIPOPEN: {SID},1,127.0.0.1,{cport} (the client)")
    client.sendall(b"from the client")
    back = b"".join(d for _, d, _ in rtcp_chunks(modem, SID, 15))
    if back != b"from the client":
        raise Deviation(f"+MIPRTCP carried {back!r}")
    mipsend(modem, SID, b"to the client")
    ok(modem, f"AT+MIPPUSH={SID}")
    client.settimeout(0)
    got = b""
    clock = modem.ch.clock
    deadline = clock.now() + 5
    while len(got) < 13 and clock.now() < deadline:
        try:
            got += client.recv(100)
        except BlockingIOError:
            clock.sleep(0.01)
    if got != b"to the client":
        raise Deviation(f"the client got {got!r}")


def parse_info_urc(u) -> dict:
    from atconform.protocol.commands import template_for
    return template_for(u.urc, u.urc.template).parse(u.text).values


@purpose("1.1.7/udp-push-to-address", "1.1.7", "UDP: AT+MIPPUSH with <destination_ip>,<destination_port> sends there; +MIPRUDP back", "AT+MIPPUSH")
def test_udp_push_to_address(link, peers):
    modem = link
    udp = peers["udp_echo"]
    # opened toward a port nobody listens on: only the MIPPUSH address can bring an echo
    modem.open(SID, 1, "127.0.0.1", 9, strict=True)
    mipsend(modem, SID, b"datagram")
    r = ok(modem, f'AT+MIPPUSH={SID},"{udp.host}",{udp.port}')
    if info(r).get("status") != 0:
        raise Deviation(f"{r.lines}")
    u = modem.expect_urc("miprudp", 5, "no +MIPRUDP: the datagram did not go to the MIPPUSH address (L528-530)")
    v = parse_info_urc(u)
    if (v["source_ip"], v["source_port"], v["socket_id"], bytes.fromhex(v["data"])) != (udp.host, udp.port, SID, b"datagram"):
        raise Deviation(f"{u.text!r}: expected the echo of 'datagram' from {udp.host}:{udp.port}")
    # the address is the target from now on (L530: "the last target")
    mipsend(modem, SID, b"again")
    ok(modem, f"AT+MIPPUSH={SID}")
    u = modem.expect_urc("miprudp", 5, "no +MIPRUDP: a MIPPUSH without address did not go to the last target (L530)")
    if bytes.fromhex(parse_info_urc(u)["data"]) != b"again":
        raise Deviation(f"{u.text!r}")


# ------------------------------------------------------------------------ §1.1.4 pushes
@purpose("1.1.4/watermark-push", "1.1.4", "the buffer is pushed when it reaches the MIPSETS watermark, whole watermarks at a time", "AT+MIPSETS")
def test_watermark_push(link, peers, echo_conn_index, payload):
    modem = link
    echo = own_peer(peers, "tcp_echo")
    tcp_open(modem, echo)
    r = ok(modem, f"AT+MIPSETS={SID},100,0")
    if info(r).get("status") != 0:
        raise Deviation(f"AT+MIPSETS={SID},100,0: {r.lines}")
    first = payload(60)
    mipsend(modem, SID, first)
    if wait_peer(modem, echo, echo_conn_index, 1, timeout=2) is not None:
        raise Deviation(f"60 bytes under a 100-byte watermark reached the peer: {len(peer_bytes(echo, echo_conn_index))} bytes")
    second = payload(160)
    v = mipsend(modem, SID, second)         # 220 buffered: two watermarks (200) go, 20 stay
    if v["freesize"] != 2048 - 20:
        raise Deviation(f"+MIPSEND after 220 bytes: <freesize> {v['freesize']}, expected {2048 - 20} "
                        "(two 100-byte watermarks pushed, 20 bytes left, L327-329)")
    if wait_peer(modem, echo, echo_conn_index, 200) is None or peer_bytes(echo, echo_conn_index) != (first + second)[:200]:
        raise Deviation(f"the peer got {len(peer_bytes(echo, echo_conn_index))} bytes, expected the first 200")
    if wait_peer(modem, echo, echo_conn_index, 201, timeout=2) is not None:
        raise Deviation("the 20 bytes under the watermark were pushed with no timeout set")
    r = ok(modem, f"AT+MIPPUSH={SID}")
    if info(r) != {"socket_id": SID, "status": 0, "accumulated_sent_length": 220}:
        raise Deviation(f"{r.lines}: expected +MIPPUSH: {SID},0,220")
    r = ok(modem, f"AT+MIPPUSH={SID}")
    if info(r) != {"socket_id": SID, "status": 2}:
        raise Deviation(f"{r.lines}: an empty buffer: expected +MIPPUSH: {SID},2 (L539)")


@purpose("1.1.4/timeout-push", "1.1.4", "the MIPSETS timeout starts with data, restarts with new data and again after an automatic push", "AT+MIPSETS")
def test_timeout_push(link, peers, echo_conn_index):
    modem = link
    echo = own_peer(peers, "tcp_echo")
    clock = modem.ch.clock
    tcp_open(modem, echo)
    ok(modem, f"AT+MIPSETS={SID},100,500")
    t0 = clock.now()
    mipsend(modem, SID, b"a" * 10)
    clock.sleep(0.3)
    t1 = clock.now()
    mipsend(modem, SID, b"b" * 10)              # restarts the 500 ms (L329)
    at = wait_peer(modem, echo, echo_conn_index, 20, timeout=5)
    if at is None:
        raise Deviation("the buffered 20 bytes never reached the peer with a 500 ms timeout")
    if at < t1 + 0.5 - 1e-6:
        raise Deviation(f"the 20 bytes were pushed {at - t0:.3f} s after the first data, {at - t1:.3f} s after the "
                        "second: new data did not restart the 500 ms timeout (L329)")
    if at > t1 + 0.5 + 0.2:
        raise Deviation(f"the push came {at - t1:.3f} s after the last data, the timeout is 500 ms")
    # data left after an automatic push starts the countdown again (L329)
    t2 = clock.now()
    mipsend(modem, SID, b"c" * 150)             # 100 go at once, 50 wait 500 ms
    at100 = wait_peer(modem, echo, echo_conn_index, 120, timeout=2)
    at150 = wait_peer(modem, echo, echo_conn_index, 170, timeout=5)
    if at100 is None or at100 - t2 > 0.2:
        raise Deviation("the watermark's 100 bytes were not pushed at once")
    if at150 is None or not (t2 + 0.5 - 1e-6 <= at150 <= t2 + 0.7):
        raise Deviation(f"the 50 bytes left after the automatic push came at "
                        f"{'never' if at150 is None else f'{at150 - t2:.3f} s'}, expected 0.5 s (L329)")
    if peer_bytes(echo, echo_conn_index) != b"a" * 10 + b"b" * 10 + b"c" * 150:
        raise Deviation("the peer's bytes differ from those sent")


# ---------------------------------------------------------------- §1.1.5 output to host
@purpose("1.1.5/dsets-chunks", "1.1.5", "+MIPRTCP chunks of at most the MIPDSETS size, <time span> apart, <left> exact", "AT+MIPDSETS")
def test_dsets_chunks(link, listener, payload):
    modem = link
    lst = listener()
    modem.open(SID, 0, "127.0.0.1", lst.port, strict=True)
    conn = lst.accept(modem)
    r = ok(modem, f"AT+MIPDSETS={SID},100,200")
    if info(r).get("result") != 0:
        raise Deviation(f"{r.lines}")
    data = payload(350)
    conn.sendall(data)
    chunks = rtcp_chunks(modem, SID, 350)
    sizes = [len(d) for _, d, _ in chunks]
    if b"".join(d for _, d, _ in chunks) != data:
        raise Deviation("the chunks do not carry the peer's bytes in order")
    if max(sizes) > 100:
        raise Deviation(f"chunk sizes {sizes}: larger than the MIPDSETS <size> 100 (L389)")
    total = 350
    for left, d, _ in chunks:
        total -= len(d)
        if left != total:
            raise Deviation(f"chunk sizes {sizes}, <left> {[c[0] for c in chunks]}: after {350 - total} bytes "
                            f"<left> is {left}, {total} bytes were still to come (L622)")
    # arrival times at the DTE: exact on the virtual clock; on a real port a chunk read late
    # shortens the next gap, so the span of all of them is what must hold
    gaps = [round(b[2] - a[2], 3) for a, b in zip(chunks, chunks[1:])]
    slack = 0.0 if modem.ch.clock.virtual else 0.05
    if chunks[-1][2] - chunks[0][2] < 0.2 * len(gaps) - slack - 1e-6 or any(g < 0.2 - 2 * slack - 1e-6 for g in gaps):
        raise Deviation(f"chunks {gaps} s apart, the <time span> is 200 ms (L389)")


# ----------------------------------------------------------------- §1.1.19-20 XOFF/XON
@purpose("1.1.19/xoff-xon", "1.1.19", "+MIPXOFF under a slow peer, MIPSEND status 1 meanwhile, +MIPXON when it drains", "AT+MIPSEND")
def test_xoff_xon_slow_peer(link, listener, payload):
    modem = link
    lst = listener(rcvbuf=4096)
    modem.open(SID, 0, "127.0.0.1", lst.port, strict=True)
    lst.accept(modem)
    sent = bytearray()
    chunk = payload(1023)
    for _ in range(4000):
        v = mipsend(modem, SID, chunk)
        if v["status"] != 0:
            raise Deviation(f"+MIPSEND status {v['status']} before any +MIPXOFF")
        sent += chunk
        ok(modem, f"AT+MIPPUSH={SID}")
        if modem.ch.wait_urc("mipxoff", 0) is not None:
            break
    else:
        raise Deviation(f"{len(sent)} bytes pushed to a peer that reads nothing and no +MIPXOFF (L1105)")
    v = mipsend(modem, SID, b"refused")
    if v["status"] != 1:
        raise Deviation(f"+MIPSEND after +MIPXOFF: status {v['status']}, expected 1 (L472)")
    r = ok(modem, f"AT+MIPPUSH={SID}")
    if info(r).get("status") not in (1, 2):
        raise Deviation(f"AT+MIPPUSH after +MIPXOFF: {r.lines}, expected status 1 (flowed off, L537)")
    got = bytearray()
    clock = modem.ch.clock
    deadline = clock.now() + 30
    while modem.ch.wait_urc("mipxon", 0) is None:
        got += lst.read_available()
        if clock.now() > deadline:
            raise Deviation(f"the peer read {len(got)} of {len(sent)} bytes and no +MIPXON came (L1127)")
        clock.sleep(0.01)
    v = mipsend(modem, SID, b"after")
    if v["status"] != 0:
        raise Deviation(f"+MIPSEND after +MIPXON: status {v['status']}")
    while len(got) < len(sent) and clock.now() < deadline:
        got += lst.read_available()
        clock.sleep(0.01)
    if bytes(got[:len(sent)]) != bytes(sent):
        raise Deviation(f"the slow peer got {len(got)} bytes, {len(sent)} were taken with status 0, "
                        "or they differ (the refused ones must not be among them)")


# ---------------------------------------------------------------------- §1.2.4 IPRFMT
@purpose("1.2.4/iprfmt", "1.2.4", "received data in every AT+GTSET=\"IPRFMT\" form: 0 hex, 1 raw, 2 raw with header, 5 AT+MIPREAD", "AT+GTSET")
def test_every_iprfmt(link, listener):
    modem = link
    lst = listener()
    modem.open(SID, 0, "127.0.0.1", lst.port, strict=True)
    conn = lst.accept(modem)
    clock = modem.ch.clock
    # 0: hex, with <left>
    conn.sendall(b"zero")
    if b"".join(d for _, d, _ in rtcp_chunks(modem, SID, 4)) != b"zero":
        raise Deviation("IPRFMT 0: the data did not come as hex +MIPRTCP")
    # 2: "<CR><LF>+MIPRTCP: <id>,<len>," then the raw bytes, CR LF inside them kept
    modem.expect_ok('AT+GTSET="IPRFMT",2')
    raw = b"two\r\nOK\r\n+MIPRTCP: 9,9,\x00\xff"
    conn.sendall(raw)
    u = modem.expect_urc("miprtcp-raw", 5, "IPRFMT 2: no '+MIPRTCP: <id>,<len>,<data>' (L1470-1471)")
    if u.payload != raw or parse_info_urc(u)["data_len"] != len(raw):
        raise Deviation(f"IPRFMT 2: {u.text!r} carried {u.payload!r}, the peer sent {raw!r}")
    # 1: the bytes alone, no header, no CR LF (L1466)
    modem.expect_ok('AT+GTSET="IPRFMT",1')
    conn.sendall(b"one-raw")
    got = modem.ch.read_data(7, 5)
    if got != b"one-raw":
        raise Deviation(f"IPRFMT 1: the host read {got!r}, the peer sent b'one-raw' with no header")
    # 5: kept for AT+MIPREAD (L1229-1245)
    modem.expect_ok('AT+GTSET="IPRFMT",5')
    conn.sendall(b"five-read")
    deadline = clock.now() + 5
    while True:
        r = ok(modem, "AT+MIPREAD?")
        if r.info and info(r).get("actual_data_len") == 9:
            break
        if clock.now() > deadline:
            raise Deviation(f"AT+MIPREAD? {r.lines}: 9 bytes never reported unread")
        clock.sleep(0.05)
    r = ok(modem, f"AT+MIPREAD={SID},5")
    if r.lines != [f"+MIPDATA: {SID},5"] or r.info[0].payload != b"five-":
        raise Deviation(f"AT+MIPREAD={SID},5: {r.lines} {r.info[0].payload if r.info else None!r}")
    r = ok(modem, f"AT+MIPREAD={SID},100")
    if r.info[0].payload != b"read":
        raise Deviation(f"AT+MIPREAD={SID},100: {r.info[0].payload!r}, expected the 4 bytes left")
    r = ok(modem, f"AT+MIPREAD={SID},100")
    if r.lines != [f"+MIPREAD: {SID},0"]:
        raise Deviation(f"AT+MIPREAD on an empty buffer: {r.lines}, expected +MIPREAD: {SID},0")
    if modem.ch.drain_urcs():
        raise Deviation("read mode (IPRFMT 5) sent an indication the seed does not give")


# ---------------------------------------------------------------------- §1.2.1-1.2.3 HEX
def hex_send(modem, line: str, data: bytes, *, ctrl_z: bool = False, timeout: float | None = None):
    kw = {"timeout": timeout} if timeout else {}
    r = modem.answered(line, data=data.hex().upper().encode(), ctrl_z=ctrl_z, **kw)
    modem.check(r, expect_success=True)
    if not r.prompt:
        raise Deviation(f"{line}: no '>' prompt (L1298)")
    return r


@purpose("1.2/hex-mode", "1.2.1", "HEX-mode sends ended by Ctrl-Z, by the SENDTIME timer and by <data_len> (extra bytes lost)", "AT+MIPSEND")
def test_hex_mode_sends(link, peers, echo_conn_index):
    modem = link
    echo = own_peer(peers, "tcp_echo")
    clock = modem.ch.clock
    tcp_open(modem, echo)
    r = hex_send(modem, f"AT+MIPSEND={SID}", b"ctrl-z", ctrl_z=True)
    if r.lines != [f"+MIPPUSH: {SID},0", f"+MIPSEND: {SID},0,2048"]:
        raise Deviation(f"§1.2.1: {r.lines}, expected +MIPPUSH: {SID},0 and +MIPSEND: {SID},0,2048 (pushed at once)")
    if wait_peer(modem, echo, echo_conn_index, 6) is None:
        raise Deviation("§1.2.1: the data did not reach the peer")
    modem.expect_ok('AT+GTSET="SENDTIME",2')
    t0 = clock.now()
    hex_send(modem, f"AT+MIPSEND={SID}", b"timer", timeout=5)
    took = clock.now() - t0
    if not 2 - 1e-6 <= took <= 3:
        raise Deviation(f"§1.2.2: the input ended after {took:.3f} s, SENDTIME is 2 s (L1345)")
    r = hex_send(modem, f"AT+MIPSEND={SID},4", b"len4EXTRA")
    if wait_peer(modem, echo, echo_conn_index, 6 + 5 + 4) is None:
        raise Deviation("§1.2.3: the data did not reach the peer")
    if wait_peer(modem, echo, echo_conn_index, 6 + 5 + 5, timeout=1) is not None:
        raise Deviation("§1.2.3: bytes after <data_len> reached the peer; they must be lost (L1398)")
    if peer_bytes(echo, echo_conn_index) != b"ctrl-z" + b"timer" + b"len4":
        raise Deviation(f"the peer got {peer_bytes(echo, echo_conn_index)!r}")
    modem.responsive()


# -------------------------------------------------------------------- §1.1.18, 1.1.24 ODM
@purpose("1.1.18/odm-pseudo-command", "1.1.18", "online data mode: raw data both ways, +++ to pseudo-command mode, +MIPDATA, ATO delivers", "AT+MIPODM")
def test_odm_pseudo_command_mode(link, listener):
    modem = link
    lst = listener()
    r = ok(modem, f'AT+MIPODM=2,,"127.0.0.1",{lst.port},0')
    if not modem.ch.engine.framer.data_mode:
        raise Deviation(f"AT+MIPODM: {[a.text for a in r.after]}: not in online data mode after +MIPODM: 2,1")
    conn = lst.accept(modem)
    clock = modem.ch.clock
    modem.ch.write(b"raw up")
    deadline = clock.now() + 5
    got = b""
    while got != b"raw up" and clock.now() < deadline:
        clock.sleep(0.02)
        got += lst.read_available()
    if got != b"raw up":
        raise Deviation(f"the peer got {got!r} in online data mode")
    conn.sendall(b"raw down")
    if modem.ch.read_data(8, 5) != b"raw down":
        raise Deviation("the peer's bytes did not reach the host raw")
    modem.escape_data_mode()                     # +++: pseudo-command mode (L1272)
    conn.sendall(b"held")
    u = modem.expect_urc("mipdata", 5, "no +MIPDATA for data in pseudo-command mode (L1272)")
    if parse_info_urc(u) != {"socket_id": 2, "length": 4}:
        raise Deviation(f"{u.text!r}: expected +MIPDATA: 2,4")
    r = modem.answered("ATO")
    if r.final.kind != "connect":
        raise Deviation(f"ATO: {r.final.text}, expected CONNECT")
    if modem.ch.read_data(4, 5) != b"held":
        raise Deviation("ATO did not deliver the data held in pseudo-command mode at once (L1272)")
    modem.escape_data_mode()
    ok(modem, "AT+MIPCLOSE=2,1")


# ---------------------------------------------------------------- §1.1.14-15 ping
@purpose("1.1.14/ping-statistics", "1.1.14", "+MPING per reply, +MPINGSTAT statistics, AverageRTT truncated, only with replies", "AT+MPING")
def test_ping_statistics(link):
    modem = link
    ok(modem, 'AT+MPING=1,"127.0.0.1",3,32,64,0,2000')
    rtts = []
    for _ in range(3):
        u = modem.expect_urc("mping", 10, "fewer than 3 +MPING lines for 3 answered requests")
        v = parse_info_urc(u)
        if (v["destination_ip"], v["type"], v["code"]) != ("127.0.0.1", 0, 0) or "rtt" not in v:
            raise Deviation(f"{u.text!r}: expected an echo reply (type 0, code 0) with its RTT")
        rtts.append(v["rtt"])
    u = modem.expect_urc("mpingstat", 10, "no +MPINGSTAT after the ping")
    want = {"status": 0, "destination_ip": "127.0.0.1", "sent_messages": 3, "received_messages": 3,
            "average_rtt": sum(rtts) // 3}
    if parse_info_urc(u) != want:
        raise Deviation(f"{u.text!r}: expected {want} (AverageRTT the integral part of {sum(rtts)}/3, L898)")
    ok(modem, f'AT+MPING=1,"{UNANSWERED}",2,32,64,0,500')
    for _ in range(2):
        u = modem.expect_urc("mpingstat", 5, "no +MPINGSTAT: 1 for an unanswered request (L875)")
        if u.text != "+MPINGSTAT: 1":
            raise Deviation(f"{u.text!r}: expected +MPINGSTAT: 1")
    u = modem.expect_urc("mpingstat", 5, "no summary")
    if u.text != f"+MPINGSTAT: 0,{UNANSWERED},2,0":
        raise Deviation(f"{u.text!r}: expected +MPINGSTAT: 0,{UNANSWERED},2,0 (no AverageRTT without a reply, L898)")


# ------------------------------------------------------------- §1.1.16, 1.1.21 DNS
@purpose("1.1.21/dns", "1.1.21", "AT+MIPDNS through socket 7's DNS servers; AT+MSDNS clearing rules", "AT+MIPDNS")
def test_dns_and_msdns(link, peers):
    modem = link
    dns = peers["dns"]
    r = ok(modem, f'AT+MIPDNS="{dns.name}"')
    if r.lines != [f"+MIPDNS: {dns.name},{dns.address}"]:
        raise Deviation(f"{r.lines}: expected +MIPDNS: {dns.name},{dns.address}")
    server = getattr(peers.get("dns_server"), "queries", None)
    # socket 7's servers are the ones asked (L945): a server that never answers fails it
    ok(modem, 'AT+MSDNS=7,"192.0.2.53","192.0.2.54"')
    r = modem.answered(f'AT+MIPDNS="{dns.name}"')
    if r.ok:
        raise Deviation(f"AT+MIPDNS answered {r.lines} with socket 7's DNS servers unreachable: not asked (L945)")
    ok(modem, 'AT+MSDNS=7,"127.0.0.1"')           # the primary only: the secondary stays (L947)
    rows = {parse_info(r0, i)["socket_id"]: parse_info(r0, i) for r0 in [ok(modem, "AT+MSDNS?")] for i in range(7)}
    if (rows[7]["primary_dns_server_ip"], rows[7]["secondary_dns_server_ip"]) != ("127.0.0.1", "192.0.2.54"):
        raise Deviation(f"after AT+MSDNS=7,\"127.0.0.1\": {rows[7]}: giving one server must keep the other (L947)")
    ok(modem, "AT+MSDNS=7")                         # the id alone clears (L947)
    r = ok(modem, "AT+MSDNS?")
    if len(r.info) != 7:
        raise Deviation(f"AT+MSDNS? printed {len(r.info)} lines, exactly 7 (L914-930)")
    row7 = parse_info(r, 6)
    if (row7["primary_dns_server_ip"], row7["secondary_dns_server_ip"]) != ("0.0.0.0", "0.0.0.0"):
        raise Deviation(f"after AT+MSDNS=7: {row7}: the socket id alone must clear both (L947)")
    del server


# --------------------------------------------------------------------- §1.1.22 NTP
@purpose("1.1.22/ntp", "1.1.22", "AT+MIPNTP sets the local time from the server: +MIPNTP: 1, AT+CCLK? follows", "AT+MIPNTP")
def test_ntp_sets_clock(link, peers):
    modem = link
    ntp = peers["ntp"]
    r = ok(modem, f'AT+MIPNTP="{ntp.host}",{ntp.port}')
    if [a.text for a in r.after] != ["+MIPNTP: 1"]:
        raise Deviation(f"{[a.text for a in r.after]}: expected +MIPNTP: 1")
    cclk = ok(modem, "AT+CCLK?").lines[0]
    year = int(cclk.split('"')[1][:2])
    if year != time.gmtime().tm_year % 100:
        raise Deviation(f"{cclk}: the clock was not set from the NTP server (year {year})")
    r = ok(modem, "AT+MIPNTP?")
    if info(r) != {"remote_ip": ntp.host, "remote_port": ntp.port}:
        raise Deviation(f"AT+MIPNTP? {r.lines}: expected the server just used")


# -------------------------------------------------------------- §1.1.13 keep-alive
def _segs_in(sock: socket.socket) -> int:
    """Linux struct tcp_info: tcpi_segs_in, every segment the socket received (a keep-alive
    probe carries no data, so only this counter sees it)."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    if len(raw) < 144:
        raise Inconclusive("this kernel's tcp_info has no tcpi_segs_in (Linux 4.2+)")
    return struct.unpack_from("I", raw, 140)[0]


@purpose("1.1.13/keepalive-on-wire", "1.1.13", "AT+MIPKEEPCONF=1 sends TCP keep-alive probes on an idle connection", "AT+MIPKEEPCONF")
def test_keepalive_seen_on_the_wire(link, listener):
    """Wall time: TCP keep-alive runs on the kernel's timers. The peer counts the segments
    it receives (tcpi_segs_in): on a connection idle after its handshake only probes add
    to it."""
    modem = link
    ok(modem, "AT+MIPKEEPCONF=1,1,1,3")
    try:
        lst = listener()
        modem.open(SID, 0, "127.0.0.1", lst.port, strict=True)
        conn = lst.accept(modem)
        before = _segs_in(conn)
        time.sleep(2.6)
        if _segs_in(conn) - before < 1:
            raise Deviation("no keep-alive probe reached the peer in 2.6 s on an idle connection "
                            "(<keepidle> 1 s, <keepintvl> 1 s, L762-786)")
    finally:
        modem.expect_ok("AT+MIPKEEPCONF=0")


# ------------------------------------------------------------------ §2.3 error tables
@purpose("2.3/tcpip-error-table", "2.3", "TCP/IP refusals under AT+CMEE=1/2 carry a §2.3 code as +CME ERROR (reading), looked up in that table", "AT+CMEE")
def test_tcpip_errors_come_from_their_table(link):
    """How the 2000-series reaches the host is not in the seed; the spec's reading is
    "+CME ERROR: <err>". The checker looks the code up in the tables that result carries
    only (the CMS table's numbers overlap the CME table's)."""
    modem = link
    modem.expect_ok("AT+CMEE=1")
    try:
        r = modem.answered("AT+MIPCLOSE=6")          # no socket 6 is open
        modem.check(r)
        if r.final.kind != "cme_error" or r.final.code is None or not 2000 <= r.final.code <= 2033:
            raise Deviation(f"AT+MIPCLOSE=6 (not open) under AT+CMEE=1: {r.final.text!r}, expected "
                            "+CME ERROR: <one of §2.3's 2000-2033>")
        modem.expect_ok("AT+CMEE=2")
        r = modem.answered("AT+MIPCLOSE=6")
        modem.check(r)                                # the verbose text is looked up the same way
        if r.final.kind != "cme_error":
            raise Deviation(f"AT+MIPCLOSE=6 under AT+CMEE=2: {r.final.text!r}")
    finally:
        modem.expect_ok("AT+CMEE=0")


@purpose("1.1.18/odm-pseudo-command-disabled", "1.1.18", "<pseudo-command mode> 1: +++ is data; the connection's end leaves data mode with NO CARRIER", "AT+MIPODM")
def test_odm_without_pseudo_command_mode(link, listener):
    """L1094: 1 disables pseudo-command mode, so +++ with its guard times is sent on as data.
    Reading (spec notes): a connection that ends in data mode leaves it with NO CARRIER,
    then "+MIPSTAT: <id>,1"."""
    modem = link
    lst = listener()
    ok(modem, f'AT+MIPODM=3,,"127.0.0.1",{lst.port},0,1')
    conn = lst.accept(modem)
    clock = modem.ch.clock
    guard = modem.family.framing.escape_guard_time
    clock.sleep(guard * 1.1)
    modem.ch.write(b"+++")
    clock.sleep(guard * 1.1)
    got = b""
    deadline = clock.now() + 5
    while got != b"+++" and clock.now() < deadline:
        got += lst.read_available()
        clock.sleep(0.02)
    if got != b"+++":
        raise Deviation(f"with pseudo-command mode disabled the peer got {got!r}, expected the +++ as data (L1094)")
    if not modem.ch.engine.framer.data_mode:
        raise Deviation("the module left online data mode on +++ with pseudo-command mode disabled")
    conn.close()
    final = modem.ch.wait_final(5)
    if final is None or final.kind != "no_carrier":
        raise Deviation(f"the peer closed in data mode: {final.text if final else 'nothing'}, expected NO CARRIER")
    u = modem.expect_urc("mipstat", 5, "no +MIPSTAT after NO CARRIER")
    if u.text != "+MIPSTAT: 3,1":
        raise Deviation(f"{u.text!r}: expected +MIPSTAT: 3,1")
    modem.responsive()


@purpose("1.1.14/ping-abort", "1.1.14", "AT+MPING=0 aborts a running ping: status 2, no status 0 (L888); with none running, ERROR (L802)", "AT+MPING")
def test_ping_abort(link):
    modem = link
    ok(modem, f'AT+MPING=1,"{UNANSWERED}",10,32,64,0,5000')
    r = ok(modem, "AT+MPING=0")
    u = modem.expect_urc("mpingstat", 5, "no +MPINGSTAT after AT+MPING=0")
    if not u.text.startswith("+MPINGSTAT: 2"):
        raise Deviation(f"{u.text!r}: an aborted ping reports status 2, never 0 (L888)")
    if modem.ch.wait_urc("mpingstat", 6) is not None:
        raise Deviation("another +MPINGSTAT after the abort")
    r = modem.answered("AT+MPING=0")
    if r.final.kind not in ("error", "cme_error"):
        raise Deviation(f"AT+MPING=0 with no ping running: {r.final.text}, expected ERROR (L802)")


@purpose("1.1.1/link-release-closes-sockets", "1.1.1", "AT+MIPCALL=0 releases the link: its sockets report +MIPSTAT, then +MIPCALL: 0", "AT+MIPCALL")
def test_link_release_closes_sockets(link, peers):
    modem = link
    echo = peers["tcp_echo"]
    tcp_open(modem, echo, sid=4)
    r = ok(modem, "AT+MIPCALL=0")
    if [a.text for a in r.after] != ["+MIPCALL: 0"]:
        raise Deviation(f"AT+MIPCALL=0: {[a.text for a in r.after]}, expected +MIPCALL: 0 (L113)")
    stat = [u.text for u in modem.ch.drain_urcs() if u.urc is not None and u.urc.name == "mipstat"]
    if stat != ["+MIPSTAT: 4,1"]:
        raise Deviation(f"the open socket 4 reported {stat} when the link went, expected +MIPSTAT: 4,1")
    r = ok(modem, "AT+MIPCALL?")
    if info(r).get("status") != 0 or modem.open_sockets():
        raise Deviation(f"after AT+MIPCALL=0: {r.lines}, sockets {modem.open_sockets()}")
    r = modem.answered(f'AT+MIPOPEN=1,,"{echo.host}",{echo.port},0')
    if r.final.kind not in ("error", "cme_error"):
        raise Deviation(f"AT+MIPOPEN with the link down: {r.final.text}, expected ERROR")
