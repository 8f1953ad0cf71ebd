"""BG96 chapter 3 flows with real bytes over real sockets (BG96 TCP/IP AT Commands
Manual, seed 002). Each test follows one example of chapter 3 and checks the bytes the
peer received, the bytes the host read back, the counters of AT+QISEND=<id>,0 and
AT+QIRD=<id>,0 against those bytes, and the QISTATE fields against the parameters
that opened the socket. Runs on a real modem too, with peers from the IXIT.
"""
from __future__ import annotations

import socket
import time

import pytest

from atconform.protocol.engine import parse_info
from atconform.verdicts import Deviation, Inconclusive

SRC = "002_0fb801db6955a51c.txt"


def purpose(pid: str, section: str, title: str, command: str, requires: tuple[str, ...] = ()):
    # requires: ICS features beyond the command (atconform.ics), e.g. transparent access mode
    return pytest.mark.purpose(f"BG96/SCENARIO/{pid}", title=title, family="bg96", command=command,
                               form="scenario", section=section, source=f"{SRC} §{section}", kind="scenario",
                               requires=requires)


TRANSPARENT = ("+QIOPEN.access_mode=2",)


pytestmark = pytest.mark.family("bg96")
CID = 1


def ok(modem, line, **kw):
    r = modem.at(line, **kw)
    modem.check(r)
    if not r.ok and r.final.text not in ("SEND OK", "CONNECT"):
        raise Deviation(f"{line}: got {r.final.text}")
    return r


def send(modem, line: str, data: bytes = b"", **kw):
    """A data command (QISEND/QISENDEX) that must end with SEND OK."""
    r = modem.at(line, data=data, **kw) if data else modem.at(line, **kw)
    if r.final.text != "SEND OK":
        raise Deviation(f"{line}: {r.final.text}, expected SEND OK")
    return r


def qiopen(modem, cnid, service, host, rport, lport=0, mode=0):
    """AT+QIOPEN under test (the session's socket service, strict: a §2.1.4 deviation fails)."""
    modem.open(cnid, service, host, rport, local_port=lport, mode=mode, cid=CID, strict=True)


def qistate(modem, cnid) -> dict:
    r = ok(modem, f"AT+QISTATE=1,{cnid}")
    if len(r.info) != 1:
        raise Deviation(f"AT+QISTATE=1,{cnid} listed {len(r.info)} sockets, expected 1")
    return parse_info(r)


def expect_fields(state: dict, **want):
    bad = {k: (state.get(k), v) for k, v in want.items() if state.get(k) != v}
    if bad:
        raise Deviation("QISTATE fields differ from the opening parameters: " +
                        ", ".join(f"<{k}> is {got!r}, expected {exp!r}" for k, (got, exp) in bad.items()))


def counters(modem, line) -> tuple[int, int, int]:
    r = ok(modem, line)
    v = parse_info(r)
    return tuple(v.values())  # type: ignore[return-value]


def poll_acked(modem, cnid, total) -> tuple[int, int, int]:
    """§1.1 TCP connection maintenance: query AT+QISEND=<id>,0 every 5 s, 24 times,
    until <unackedbytes> is 0 (polled faster here; the rule's 2 minutes still bound it)."""
    clock = modem.ch.clock
    deadline = clock.now() + 120
    while True:
        sent, acked, unacked = counters(modem, f"AT+QISEND={cnid},0")
        if sent != total:
            raise Deviation(f"<total_send_length> is {sent}, {total} bytes were sent")
        if sent != acked + unacked:
            raise Deviation(f"+QISEND: {sent},{acked},{unacked}: sent != acked + unacked")
        if unacked == 0 or clock.now() > deadline:
            return sent, acked, unacked
        clock.sleep(0.05)


def peer_got(peer, index: int, want: bytes, timeout: float = 10.0) -> None:
    """When the peer is ours, the bytes it received; a lab's public peer is checked
    through the echo instead. Waits on the peer's clock (the run's: virtual with the
    built-in emulator), which the peer notifies as bytes arrive."""
    received = getattr(peer, "received", None)
    if received is None:
        return
    if peer.clock.wait_until(lambda: len(received) > index and bytes(received[index]) == want, timeout):
        return
    got = bytes(received[index]) if len(received) > index else b""
    raise Deviation(f"the peer received {got!r}, the host sent {want!r}")


def read_all(modem, cnid, want_len, per_read=1500, timeout=10.0) -> bytes:
    data = b""
    clock = modem.ch.clock
    deadline = clock.now() + timeout
    while len(data) < want_len:
        r = ok(modem, f"AT+QIRD={cnid},{per_read}")
        n = parse_info(r)["read_actual_length"]
        payload = r.info[0].payload or b""
        if len(payload) != n:
            raise Deviation(f"+QIRD: {n} announced, {len(payload)} bytes followed")
        if n > per_read:
            raise Deviation(f"+QIRD: {n} exceeds <read_length> {per_read}")
        data += payload
        if n == 0:
            if clock.now() > deadline:
                break
            modem.ch.wait_urc(lambda u: u.urc is not None and u.urc.name.startswith("recv"), 0.2)
    return data


# ----------------------------------------------------------------------------- 3.1
@purpose("3.1/context", "3.1", "configure, activate, query and deactivate a context", "AT+QIACT")
def test_context_configure_activate_deactivate(modem, ixit):
    ok(modem, f'AT+QICSGP={CID},1,"{ixit.apn}","{ixit.username}","{ixit.password.get_secret_value()}",0')
    r = ok(modem, f"AT+QICSGP={CID}")
    v = parse_info(r)
    if (v["context_type"], v["APN"], v["authentication"]) != (1, ixit.apn, 0):
        raise Deviation(f"AT+QICSGP={CID} reads back {r.lines[0]!r}")
    modem.step_context_inactive(CID)
    ok(modem, f"AT+QIACT={CID}")
    r2 = ok(modem, "AT+QIACT?")
    active = {parse_info(r2, i)["contextID"]: parse_info(r2, i) for i in range(len(r2.info))}
    if CID not in active or active[CID]["context_state"] != 1 or "IP_address" not in active[CID]:
        raise Deviation(f"AT+QIACT? after activation: {r2.lines}")
    ok(modem, f"AT+QIDEACT={CID}")
    r = ok(modem, "AT+QIACT?")
    if any(parse_info(r, i)["contextID"] == CID for i in range(len(r.info))):
        raise Deviation(f"context {CID} still listed after AT+QIDEACT: {r.lines}")


# ----------------------------------------------------------------------------- 3.2
@purpose("3.2/tcp-client-buffer", "3.2", "TCP client in buffer access mode: send three ways, receive, counters, close", "AT+QIOPEN")
def test_tcp_client_buffer_access(modem, peers, echo_conn_index):
    echo = peers["tcp_echo"]
    qiopen(modem, 0, "TCP", echo.host, echo.port, 0, 0)
    expect_fields(qistate(modem, 0), connectID=0, service_type="TCP", IP_address=_ip(echo.host), remote_port=echo.port,
                  socket_state=2, contextID=CID, access_mode=0)
    r = modem.at("AT+QISEND=0", data=b"test1", ctrl_z=True)                 # §3.2.2
    if r.final.text != "SEND OK" or not r.prompt:
        raise Deviation(f"AT+QISEND=0 + test1<Ctrl-Z>: {r.final.text}")
    send(modem, "AT+QISEND=0,4", data=b"test")
    send(modem, 'AT+QISENDEX=0,"3132333435"')
    sent = b"test1test12345"
    s, a, u = poll_acked(modem, 0, len(sent))
    if u != 0:
        raise Deviation(f"+QISEND: {s},{a},{u}: still unacknowledged after 2 minutes")
    peer_got(echo, echo_conn_index, sent)
    modem.expect_urc(lambda x: x.text == '+QIURC: "recv",0', 10, 'no +QIURC: "recv",0 after the peer echoed')   # §3.2.3
    got = read_all(modem, 0, len(sent))
    if got != sent:
        raise Deviation(f"AT+QIRD returned {got!r}, the peer echoed {sent!r}")
    if ok(modem, "AT+QIRD=0,1500").lines != ["+QIRD: 0"]:
        raise Deviation("AT+QIRD on an empty buffer is not +QIRD: 0")
    if counters(modem, "AT+QIRD=0,0") != (len(sent), len(sent), 0):
        raise Deviation(f"AT+QIRD=0,0 counters differ from the {len(sent)} bytes read")
    ok(modem, "AT+QICLOSE=0")                                                  # §3.2.4
    if ok(modem, "AT+QISTATE=1,0").lines:
        raise Deviation("the socket is still listed after AT+QICLOSE")


def _ip(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        return host


@purpose("3.2/partial-read", "2.1.8", "partial AT+QIRD reads with <read_length>; one recv URC until the buffer is empty", "AT+QIRD")
def test_partial_reads_and_single_recv_urc(modem, peers, echo_conn_index, payload):
    echo = peers["tcp_echo"]
    qiopen(modem, 1, "TCP", echo.host, echo.port)
    first, second = payload(500), payload(500)
    recv1 = '+QIURC: "recv",1'
    send(modem, "AT+QISEND=1,500", data=first)
    modem.expect_urc(lambda x: x.text == recv1, 10, f"no {recv1}")
    # a second arrival while the buffer is not empty: no new URC (§1.2 note 1, §2.1.8)
    send(modem, "AT+QISEND=1,500", data=second)
    clock = modem.ch.clock
    deadline = clock.now() + 10
    while counters(modem, "AT+QIRD=1,0")[0] < 1000:
        if clock.now() > deadline:
            raise Deviation("the echoed 1000 bytes were not all received within 10 s")
        clock.sleep(0.02)
    extra = [u.text for u in modem.ch.drain_urcs() if u.text == recv1]
    if extra:
        raise Deviation(f"recv URC repeated before the buffer was read empty (§1.2 note 1): {extra}")
    got = read_all(modem, 1, 1000, per_read=300)
    if got != first + second:
        raise Deviation("bytes read back in 300-byte reads differ from the bytes sent")
    if counters(modem, "AT+QIRD=1,0") != (1000, 1000, 0):
        raise Deviation("AT+QIRD=1,0 counters differ from the 1000 bytes read")
    # read empty: the next arrival is reported again
    send(modem, "AT+QISEND=1,3", data=b"end")
    modem.expect_urc(lambda x: x.text == recv1, 10, f"no {recv1} for data arriving after the buffer was read empty")
    ok(modem, "AT+QICLOSE=1")


# ----------------------------------------------------------------------------- 3.3
@purpose("3.3/tcp-client-transparent", "3.3", "TCP client in transparent access mode: raw bytes both ways, +++ then QICLOSE", "AT+QIOPEN", TRANSPARENT)
def test_tcp_client_transparent(modem, peers, echo_conn_index, payload):
    echo = peers["tcp_echo"]
    qiopen(modem, 0, "TCP", echo.host, echo.port, 0, 2)
    data = b"Test 1\r\nOK\r\n" + payload(200)      # looks like result codes: must pass as data
    modem.ch.write(data)
    got = modem.ch.read_data(len(data), 10)
    if got != data:
        raise Deviation(f"transparent mode echoed {len(got)} bytes differing from the {len(data)} sent")
    peer_got(echo, echo_conn_index, data)
    # §1.2 item 4: a "+++" without the silence before it, or followed by a character
    # within 1 s, is data, not an escape
    for probe in (b"x+++", b"+++y"):
        modem.ch.clock.sleep(modem.family.framing.escape_guard_time * 1.1 if probe.startswith(b"+") else 0)
        modem.ch.write(probe)
        if modem.ch.read_data(len(probe), 10) != probe:
            raise Deviation(f"{probe!r} in transparent mode was not passed on as data")
        data += probe
    peer_got(echo, echo_conn_index, data)
    if not modem.ch.engine.framer.data_mode:
        raise Deviation("a +++ that broke the guard-time rule ended transparent mode")
    modem.escape_data_mode()                          # §1.2 item 4, +++ with guard times
    expect_fields(qistate(modem, 0), access_mode=0, socket_state=2)   # §1.2 item 3: buffer mode after OK
    ok(modem, "AT+QICLOSE=0")


@purpose("1.2/ato-reenters", "1.2", "ATO returns to transparent mode with CONNECT; without one, NO CARRIER", "ATO", TRANSPARENT)
def test_ato_and_qiswtmd_return_to_data_mode(modem, peers):
    echo = peers["tcp_echo"]
    qiopen(modem, 0, "TCP", echo.host, echo.port, 0, 2)
    modem.escape_data_mode()
    r = modem.at("ATO")
    if r.final.kind != "connect":
        raise Deviation(f"ATO after +++ got {r.final.text}, expected CONNECT (§1.2 item 5.2)")
    modem.ch.write(b"again")
    if modem.ch.read_data(5, 10) != b"again":
        raise Deviation("no data after ATO")
    modem.escape_data_mode()
    r = modem.at("AT+QISWTMD=0,2")
    if r.final.kind != "connect":
        raise Deviation(f"AT+QISWTMD=0,2 got {r.final.text}, expected CONNECT (§1.2 item 5.1)")
    modem.escape_data_mode()
    ok(modem, "AT+QICLOSE=0")
    r = modem.at("ATO")
    if r.final.kind != "no_carrier":
        raise Deviation(f"ATO with no transparent connection got {r.final.text}, expected NO CARRIER")


# ----------------------------------------------------------------------------- 3.4
@purpose("3.4/tcp-client-direct-push", "3.4", "TCP client in direct push mode: data arrives in the URC", "AT+QIOPEN")
def test_tcp_client_direct_push(modem, peers, echo_conn_index):
    echo = peers["tcp_echo"]
    qiopen(modem, 0, "TCP", echo.host, echo.port, 0, 1)
    expect_fields(qistate(modem, 0), access_mode=1, socket_state=2, service_type="TCP")
    send(modem, "AT+QISEND=0", data=b"test1", ctrl_z=True)
    send(modem, "AT+QISEND=0,5", data=b"test2")
    s, a, u = poll_acked(modem, 0, 10)
    peer_got(echo, echo_conn_index, b"test1test2")
    got = b""
    deadline = modem.ch.clock.now() + 10
    while len(got) < 10 and modem.ch.clock.now() < deadline:
        urc = modem.ch.wait_urc(lambda x: x.urc is not None and x.urc.name == "recv-push", 1)
        if urc is not None:
            n = parse_info_urc(urc)
            if n != len(urc.payload or b""):
                raise Deviation(f"{urc.text} announced {n} bytes, {len(urc.payload or b'')} followed")
            got += urc.payload
    if got != b"test1test2":
        raise Deviation(f"direct push delivered {got!r}, the peer echoed b'test1test2'")
    ok(modem, "AT+QICLOSE=0")


def parse_info_urc(urc) -> int:
    return int(urc.text.rsplit(",", 1)[1])


# ----------------------------------------------------------------------------- 3.5
@purpose("3.5/tcp-server-buffer", "3.5", "TCP server: listener, incoming connection, receive, close", "AT+QIOPEN")
def test_tcp_server_buffer_access(modem, listener_client, seed):
    port = 2020 + seed % 1000
    qiopen(modem, 1, "TCP LISTENER", "127.0.0.1", 0, port, 0)
    st = qistate(modem, 1)
    expect_fields(st, service_type="TCP LISTENER", local_port=port, socket_state=3, contextID=CID, serverID=1)
    client = listener_client(st["IP_address"], port)
    urc = modem.expect_urc("incoming", 10, 'no +QIURC: "incoming" after a client connected (§3.5.2)')
    parts = urc.text.split(",")
    cnid, server = int(parts[1]), int(parts[2])
    if server != 1:
        raise Deviation(f"{urc.text}: <serverID> {server}, the listener is connectID 1")
    expect_fields(qistate(modem, cnid), service_type="TCP INCOMING", socket_state=2, serverID=1,
                  remote_port=client.getsockname()[1])
    client.sendall(b"test")
    modem.expect_urc(lambda x: x.text == f'+QIURC: "recv",{cnid}', 10, f'no +QIURC: "recv",{cnid} (§3.5.3)')
    got = read_all(modem, cnid, 4)
    if got != b"test":
        raise Deviation(f"AT+QIRD read {got!r}, the client sent b'test'")
    if counters(modem, f"AT+QIRD={cnid},0") != (4, 4, 0):
        raise Deviation("AT+QIRD=<id>,0 counters differ from the 4 bytes received")
    ok(modem, f"AT+QICLOSE={cnid}")
    ok(modem, "AT+QICLOSE=1")


# ----------------------------------------------------------------------------- 3.6
@purpose("3.6/udp-service", "3.6", "UDP service: send to a remote, receive with its address", "AT+QISEND")
def test_udp_service(modem, peers, ixit):
    echo = peers["udp_echo"]
    lport = ixit.udp_service_port + 2
    qiopen(modem, 2, "UDP SERVICE", "127.0.0.1", 0, lport, 0)
    expect_fields(qistate(modem, 2), service_type="UDP SERVICE", local_port=lport, socket_state=2, serverID=2)
    n_before = len(getattr(echo, "received", []))
    r = modem.at(f'AT+QISEND=2,10,"{_ip(echo.host)}",{echo.port}', data=b"1234567890")
    if r.final.text != "SEND OK":
        raise Deviation(f"UDP SERVICE send got {r.final.text}")
    if hasattr(echo, "received"):
        echo.clock.wait_until(lambda: len(echo.received) > n_before, 5)
        if not echo.received[n_before:] or echo.received[n_before][0] != b"1234567890":
            raise Deviation(f"the UDP peer got {echo.received[n_before:]!r}")
    modem.expect_urc(lambda x: x.text == '+QIURC: "recv",2', 10, 'no +QIURC: "recv",2 (§3.6.3)')
    r = ok(modem, "AT+QIRD=2")
    v = parse_info(r)
    if (v.get("read_actual_length"), r.info[0].payload) != (10, b"1234567890"):
        raise Deviation(f"AT+QIRD=2 gave {r.lines} {r.info[0].payload!r}")
    if (v.get("remoteIP"), v.get("remote_port")) != (_ip(echo.host), echo.port):
        raise Deviation(f"AT+QIRD=2 names the remote {v.get('remoteIP')}:{v.get('remote_port')}, the datagram came from {echo.host}:{echo.port}")
    if ok(modem, "AT+QIRD=2").lines != ["+QIRD: 0"]:
        raise Deviation("AT+QIRD=2 on an empty UDP buffer is not +QIRD: 0")
    ok(modem, "AT+QICLOSE=2")


# ----------------------------------------------------------------------------- 3.7, 3.8
@purpose("3.7/ping", "3.7", "ping: per-reply lines and a consistent summary", "AT+QPING")
def test_ping(modem, peers):
    modem.step_context_active(CID)
    host = peers["ping"].host
    ok(modem, f'AT+QPING={CID},"{host}",4,4')
    replies = []
    while True:
        u = modem.expect_urc(lambda x: x.urc is not None and x.urc.name in ("qping", "qping-summary"), 30, "no +QPING summary line within 4 x 4 s + margin")
        if u.urc.name == "qping-summary":
            break
        replies.append(u.text)
    fin, sent, rcvd, lost, mn, mx, avg = (int(x) for x in u.text.split(": ")[1].split(","))
    if fin != 0:
        raise Inconclusive(f"ping failed: {u.text}")
    if sent != rcvd + lost:
        raise Deviation(f"{u.text}: <sent> != <rcvd> + <lost>")
    if not mn <= avg <= mx:
        raise Deviation(f"{u.text}: not <min> <= <avg> <= <max>")
    if len(replies) != sent or sent != 4:
        raise Deviation(f"{len(replies)} reply lines for <sent>={sent}, <pingnum> was 4")


@purpose("3.8/ntp", "3.8", "NTP: +QNTP: 0 with the server's time as YYYY/MM/DD,hh:mm:ss+zz", "AT+QNTP")
def test_ntp(modem, peers):
    modem.step_context_active(CID)
    ntp = peers["ntp"]
    ok(modem, f'AT+QNTP={CID},"{ntp.host}",{ntp.port}')
    u = modem.expect_urc("qntp", 125, "no +QNTP result within 125 s")
    if not u.text.startswith("+QNTP: 0,"):
        raise Inconclusive(f"NTP failed: {u.text}")
    text = u.text.split(",", 1)[1].strip('"')
    t = time.strptime(text[:19], "%Y/%m/%d,%H:%M:%S")
    if hasattr(ntp, "offset"):
        want = time.time() + ntp.offset
        if abs(time.mktime(t) - time.timezone - want) > 5:
            raise Deviation(f"+QNTP time {text} is not the server's time")


@purpose("2.1.14/dns", "2.1.14", "DNS: configure the server, resolve a name, URC lines", "AT+QIDNSGIP")
def test_dns(modem, peers):
    modem.step_context_active(CID)
    dns = peers["dns"]
    ok(modem, f'AT+QIDNSCFG={CID},"{dns.host}","{dns.host}"')
    r = ok(modem, f"AT+QIDNSCFG={CID}")
    if parse_info(r)["pridnsaddr"] != dns.host:
        raise Deviation(f"AT+QIDNSCFG={CID} reads back {r.lines}")
    ok(modem, f'AT+QIDNSGIP={CID},"{dns.name}"')
    u = modem.expect_urc("dnsgip", 60, "no dnsgip URC within 60 s")
    err, count, ttl = (int(x) for x in u.text.split(",")[1:4])
    if err != 0:
        raise Inconclusive(f"DNS failed: {u.text}")
    addrs = []
    for _ in range(count):
        a = modem.expect_urc("dnsgip-addr", 10, f"{u.text} announced {count} addresses, fewer followed")
        addrs.append(a.text.split(",", 1)[1].strip('"'))
    if dns.address and dns.address not in addrs:
        raise Deviation(f"{dns.name} resolved to {addrs}, the DNS server says {dns.address}")


@purpose("2.1.4/qiopen-hostname", "2.1.4", "QIOPEN to a host name: resolved through the context's DNS server "
         "(AT+QIDNSCFG), the connection opens", "AT+QIOPEN")
def test_qiopen_hostname_uses_context_dns(modem, peers):
    dns, echo = peers["dns"], peers["tcp_echo"]
    if dns.address != echo.host:
        raise Inconclusive(f"the IXIT's DNS name {dns.name} is not the TCP echo peer {echo.host}")
    server = peers.get("dns_server")
    asked = len(server.queries) if server else 0
    modem.step_context_active(CID)
    ok(modem, f'AT+QIDNSCFG={CID},"{dns.host}","{dns.host}"')
    modem.step_socket_closed(6)
    ok(modem, f'AT+QIOPEN={CID},6,"TCP","{dns.name}",{echo.port},0,0')
    u = modem.ch.wait_urc(lambda x: x.text.startswith("+QIOPEN: 6,"), 150)
    try:
        if u is None or u.text != "+QIOPEN: 6,0":
            raise Deviation(f"QIOPEN to {dns.name}: {u.text if u else 'no URC in 150 s'}, expected +QIOPEN: 6,0")
        if server is not None and dns.name.lower() not in server.queries[asked:]:
            # the module must ask the context's DNS server, not resolve the name elsewhere
            raise Deviation(f"the DNS server set by AT+QIDNSCFG saw no query for {dns.name}")
    finally:
        modem.at("AT+QICLOSE=6")


@purpose("4/dns-parse-failed-565", "4", "QIOPEN to a name the DNS server does not know: error 565", "AT+QIOPEN")
def test_qiopen_unknown_name_565(modem, peers):
    dns = peers["dns"]
    modem.step_context_active(CID)
    ok(modem, f'AT+QIDNSCFG={CID},"{dns.host}","{dns.host}"')
    modem.step_socket_closed(7)
    ok(modem, f'AT+QIOPEN={CID},7,"TCP","no-such-host.invalid",80,0,0')   # RFC 6761 §6.4: never resolves
    u = modem.ch.wait_urc(lambda x: x.text.startswith("+QIOPEN: 7,"), 150)
    if u is None or u.text != "+QIOPEN: 7,565":
        raise Deviation(f"QIOPEN to an unknown name: {u.text if u else 'no URC'}, expected +QIOPEN: 7,565")


# ----------------------------------------------------------------------------- failures
@purpose("3.9/qigeterror", "3.9", "a QIOPEN without <connectID> gets ERROR, QIGETERROR 552", "AT+QIGETERROR")
def test_qigeterror_after_invalid_qiopen(modem):
    r = modem.at('AT+QIOPEN=1,"TCP","220.180.239.212",8009,0,1')
    if r.final.kind != "error":
        raise Deviation(f"malformed QIOPEN got {r.final.text}")
    r = ok(modem, "AT+QIGETERROR")
    v = parse_info(r)
    if v["err"] != 552 or v["errcode_description"].strip().lower() != "invalid parameters":
        raise Deviation(f"AT+QIGETERROR: {r.lines}, expected 552, invalid parameters")


@purpose("4/connect-failed-566", "4", "QIOPEN to a closed port: +QIOPEN: <id>,566 and its text", "AT+QIOPEN")
def test_qiopen_closed_port_566(modem):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    modem.step_context_active(CID)
    modem.step_socket_closed(4)
    ok(modem, f'AT+QIOPEN={CID},4,"TCP","127.0.0.1",{port},0,0')
    u = modem.ch.wait_urc(lambda x: x.text.startswith("+QIOPEN: 4,"), 150)
    if u is None or u.text != "+QIOPEN: 4,566":
        raise Deviation(f"QIOPEN to a closed port: {u.text if u else 'no URC'}, expected +QIOPEN: 4,566")
    v = parse_info(ok(modem, "AT+QIGETERROR"))
    if v["err"] != 566 or v["errcode_description"].strip().lower() != "socket connect failed":
        raise Deviation(f"AT+QIGETERROR after 566: {v}")
    if ok(modem, "AT+QISTATE=1,4").lines:
        raise Deviation("a socket that failed to open is still listed")


@purpose("4/used-connectid-563", "4", "QIOPEN on a used <connectID>: error 563", "AT+QIOPEN")
def test_used_connectid_563(modem, peers):
    echo = peers["tcp_echo"]
    qiopen(modem, 5, "TCP", echo.host, echo.port)
    r = modem.at(f'AT+QIOPEN={CID},5,"TCP","{echo.host}",{echo.port},0,0')
    if r.final.kind != "error":
        u = modem.ch.wait_urc(lambda x: x.text.startswith("+QIOPEN: 5,"), 10)
        if u is None or u.text != "+QIOPEN: 5,563":
            raise Deviation(f"a used connectID was opened again: {r.final.text} {u.text if u else ''}")
    v = parse_info(ok(modem, "AT+QIGETERROR"))
    if v["err"] != 563 or v["errcode_description"].strip().lower() != "socket identity has been used":
        raise Deviation(f"AT+QIGETERROR after a used connectID: {v}, expected 563, socket identity has been used")
    ok(modem, "AT+QICLOSE=5")


@purpose("2.2.1/peer-closed", "2.2.1", 'peer closes: +QIURC: "closed", state Closing, QICLOSE to Initial', "AT+QICLOSE")
def test_peer_close(modem):
    srv = socket.create_server(("127.0.0.1", 0))
    with srv:
        qiopen(modem, 6, "TCP", "127.0.0.1", srv.getsockname()[1])
        conn, _ = srv.accept()
        conn.close()
        modem.expect_urc(lambda x: x.text == '+QIURC: "closed",6', 10, 'no +QIURC: "closed",6 after the peer closed')
        expect_fields(qistate(modem, 6), socket_state=4)
        ok(modem, "AT+QICLOSE=6")
        if ok(modem, "AT+QISTATE=1,6").lines:
            raise Deviation("the socket is still listed after AT+QICLOSE")


@purpose("2.2.5/pdpdeact", "2.2.5", 'network drops the context: +QIURC: "pdpdeact", QIDEACT resets', "AT+QIDEACT")
@pytest.mark.emulator_only("the network must drop the PDP context on request, which only the emulator can")
def test_pdp_deactivated_by_network(modem, links, peers):
    echo = peers["tcp_echo"]
    qiopen(modem, 7, "TCP", echo.host, echo.port)
    links("bg96").emulator.call(lambda m: m.network_deactivate(CID))
    modem.expect_urc(lambda x: x.text == f'+QIURC: "pdpdeact",{CID}', 10, 'no +QIURC: "pdpdeact" after the network dropped the context')
    ok(modem, f"AT+QIDEACT={CID}")
    if ok(modem, "AT+QISTATE=1,7").lines:
        raise Deviation("sockets survive AT+QIDEACT after pdpdeact")


# ----------------------------------------------------------------------------- payload rules
@purpose("2.1.15/recvind", "2.1.15", 'AT+QICFG="recvind",1: the recv URC carries the length', "AT+QICFG")
def test_recvind_urc_carries_length(modem, peers):
    echo = peers["tcp_echo"]
    ok(modem, 'AT+QICFG="recvind",1')
    try:
        qiopen(modem, 0, "TCP", echo.host, echo.port)
        send(modem, "AT+QISEND=0,7", data=b"recvind")
        u = modem.ch.wait_urc(lambda x: x.text.startswith('+QIURC: "recv",0'), 10)
        if u is None or u.text != '+QIURC: "recv",0,7':
            raise Deviation(f'with recvind=1 got {u.text if u else "no URC"}, expected +QIURC: "recv",0,7')
        if read_all(modem, 0, 7) != b"recvind":
            raise Deviation("AT+QIRD did not return the 7 bytes")
    finally:
        modem.at('AT+QICFG="recvind",0')
        modem.at("AT+QICLOSE=0")


@purpose("2.1.15/dataformat-viewmode", "2.1.15", 'hex "dataformat" for sending and receiving; "viewmode" 1 puts header and data on one line', "AT+QICFG")
def test_hex_dataformat_and_viewmode(modem, peers, echo_conn_index):
    echo = peers["tcp_echo"]
    qiopen(modem, 0, "TCP", echo.host, echo.port)
    ok(modem, 'AT+QICFG="dataformat",1,1')
    try:
        r = modem.at("AT+QISEND=0,3", data=b"414243")          # 3 bytes written as 6 hex digits
        if r.final.text != "SEND OK":
            raise Deviation(f"hex send: {r.final.text}")
        peer_got(echo, echo_conn_index, b"ABC")
        modem.expect_urc(lambda x: x.text == '+QIURC: "recv",0', 10, 'no +QIURC: "recv",0')
        r = ok(modem, "AT+QIRD=0,1500")
        if (r.info[0].text, r.info[0].payload) != ("+QIRD: 3", b"414243"):
            raise Deviation(f"hex receive: {r.info[0].text!r} {r.info[0].payload!r}, expected 414243")
        ok(modem, 'AT+QICFG="dataformat",0,0')
        ok(modem, 'AT+QICFG="viewmode",1')
        send(modem, "AT+QISEND=0,2", data=b"hi")
        modem.expect_urc(lambda x: x.text == '+QIURC: "recv",0', 10, 'no +QIURC: "recv",0')
        r = modem.at("AT+QIRD=0,1500")
        if r.lines != ["+QIRD: 2,hi"] or not r.ok:
            raise Deviation(f'viewmode 1: got {r.lines}, expected header and data on one line "+QIRD: 2,hi"')
    finally:
        modem.at('AT+QICFG="dataformat",0,0')
        modem.at('AT+QICFG="viewmode",0')
        modem.at("AT+QICLOSE=0")


@purpose("2.1.16/qisde", "2.1.16", "AT+QISDE=1 echoes the data written after '>'", "AT+QISDE")
def test_qisde_echoes_send_data(modem, peers):
    echo = peers["tcp_echo"]
    qiopen(modem, 0, "TCP", echo.host, echo.port)
    ok(modem, "AT+QISDE=1")
    ok(modem, "ATE1")
    try:
        mark = modem.ch.transcript.mark()
        send(modem, "AT+QISEND=0,6", data=b"echoed")
        rx = b"".join(e.data for e in modem.ch.transcript.entries(mark) if e.direction == "rx")
        if b"echoed" not in rx:
            raise Deviation("with AT+QISDE=1 the data was not echoed")
        if parse_info(ok(modem, "AT+QISDE?"))["echo"] != 1:
            raise Deviation("AT+QISDE? does not read back 1")
    finally:
        modem.at("ATE0")
        modem.at("AT+QISDE=0")
        modem.at("AT+QICLOSE=0")


@purpose("2.1.7/esc-cancels", "2.1.7", "ESC after '>' cancels the send: nothing reaches the peer", "AT+QISEND")
def test_esc_cancels_send(modem, peers, echo_conn_index):
    echo = peers["tcp_echo"]
    qiopen(modem, 0, "TCP", echo.host, echo.port)
    r = modem.at("AT+QISEND=0", data=b"never", escape=True)
    if r.final.text == "SEND OK":
        raise Deviation("ESC did not cancel the send: SEND OK")
    modem.ch.clock.sleep(0.2)
    if counters(modem, "AT+QISEND=0,0")[0] != 0:
        raise Deviation("cancelled data was counted as sent")
    peer_got(echo, echo_conn_index, b"", timeout=0.5)
    modem.at("AT+QICLOSE=0")


@purpose("2.2.3/incoming-full", "2.2.3", 'no free connectID: +QIURC: "incoming full"', "AT+QIOPEN")
def test_incoming_full(modem, peers, listener_client, seed):
    echo = peers["tcp_echo"]
    port = 3000 + seed % 1000
    qiopen(modem, 0, "TCP LISTENER", "127.0.0.1", 0, port, 0)
    try:
        for cnid in range(1, 12):                          # use every other connectID
            qiopen(modem, cnid, "TCP", echo.host, echo.port)
        listener_client(qistate(modem, 0)["IP_address"], port)
        modem.expect_urc(lambda x: x.text == '+QIURC: "incoming full"', 10, 'all 12 connectIDs in use, a client connected, no +QIURC: "incoming full"')
    finally:
        for cnid in range(12):
            modem.at(f"AT+QICLOSE={cnid}")


@purpose("2.1.4/udp-client", "2.1.4", "UDP client: send, receive the echo, counters", "AT+QIOPEN")
def test_udp_client(modem, peers):
    echo = peers["udp_echo"]
    qiopen(modem, 3, "UDP", _ip(echo.host), echo.port)
    expect_fields(qistate(modem, 3), service_type="UDP", remote_port=echo.port, socket_state=2)
    send(modem, "AT+QISEND=3,5", data=b"udp!!")
    modem.expect_urc(lambda x: x.text == '+QIURC: "recv",3', 10, 'no +QIURC: "recv",3 for the echoed datagram')
    if read_all(modem, 3, 5) != b"udp!!":
        raise Deviation("the echoed datagram differs")
    if counters(modem, "AT+QISEND=3,0")[0] != 5:
        raise Deviation("<total_send_length> is not 5")
    ok(modem, "AT+QICLOSE=3")


@purpose("2.1.15/transpktsize-transwaittm", "2.1.15", "transparent mode sends at <transpktsize> bytes or after <transwaittm> x 100 ms", "AT+QICFG", TRANSPARENT)
def test_transpktsize_and_transwaittm(modem, peers, echo_conn_index):
    echo = peers["tcp_echo"]
    if not hasattr(echo, "received"):
        raise Inconclusive("needs the local TCP echo peer to see when bytes arrive")
    ok(modem, 'AT+QICFG="transpktsize",10')
    ok(modem, 'AT+QICFG="transwaittm",20')            # 2 s
    try:
        qiopen(modem, 0, "TCP", echo.host, echo.port, 0, 2)
        modem.ch.write(b"12345")                      # fewer than <transpktsize>: held for 2 s
        modem.ch.clock.sleep(0.5)
        if len(echo.received) > echo_conn_index and bytes(echo.received[echo_conn_index]):
            raise Deviation("5 bytes (< transpktsize 10) were sent before <transwaittm> 2 s had passed")
        peer_got(echo, echo_conn_index, b"12345", timeout=5)
        modem.ch.write(b"abcdefghij")                 # exactly <transpktsize>: sent at once
        peer_got(echo, echo_conn_index, b"12345abcdefghij", timeout=1.5)
        modem.ch.read_data(15, 5)
        modem.escape_data_mode()
    finally:
        modem.at('AT+QICFG="transpktsize",1024')
        modem.at('AT+QICFG="transwaittm",2')
        modem.at("AT+QICLOSE=0")


@purpose("2.1.6/qistate-opening", "2.1.6", "AT+QISTATE reports Opening (1) while a client connects, and no +QIOPEN until done", "AT+QISTATE")
def test_qistate_opening_state(modem, ixit):
    if ixit.peers.tcp_echo is not None:
        raise Inconclusive("needs a local peer that does not answer SYN; the lab names its own peers")
    # A loopback listener whose accept queue is full drops further SYNs, so a connect to
    # it stays pending: the modem's socket is Opening. (Loopback only: nothing leaves the host.)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(srv.getsockname())
        fillers.append(f)
    time.sleep(0.1)       # the kernel's handshakes (wall time; the emulator is not involved yet)
    try:
        modem.step_context_active(CID)
        modem.step_socket_closed(8)
        ok(modem, f'AT+QIOPEN={CID},8,"TCP","127.0.0.1",{srv.getsockname()[1]},0,0')
        modem.ch.clock.sleep(0.3)
        expect_fields(qistate(modem, 8), socket_state=1, service_type="TCP")
        if modem.ch.wait_urc(lambda x: x.text.startswith("+QIOPEN: 8,"), 0.5) is not None:
            raise Deviation("+QIOPEN reported while the connection was still opening")
        ok(modem, "AT+QICLOSE=8")                       # §2.1.4 item 3: close a socket that does not open
        if ok(modem, "AT+QISTATE=1,8").lines:
            raise Deviation("the socket is still listed after AT+QICLOSE")
    finally:
        for f in fillers:
            f.close()
        srv.close()


@purpose("1.2/no-carrier-peer-close", "1.2", "peer closes during transparent mode: NO CARRIER, then QICLOSE", "AT+QIOPEN", TRANSPARENT)
def test_no_carrier_when_peer_closes_in_data_mode(modem):
    srv = socket.create_server(("127.0.0.1", 0))
    with srv:
        qiopen(modem, 0, "TCP", "127.0.0.1", srv.getsockname()[1], 0, 2)
        conn, _ = srv.accept()
        conn.sendall(b"bye")
        conn.close()
        if modem.ch.read_data(3, 10) != b"bye":
            raise Deviation("data before the close did not arrive")
        final = modem.ch.wait_final(10)
        if final is None or final.kind != "no_carrier":
            raise Deviation(f"peer closed in transparent mode: got {final.text if final else 'nothing'}, expected NO CARRIER (§1.2 note 2)")
        ok(modem, "AT+QICLOSE=0")                      # §1.2 note 2: "AT+QICLOSE should be executed"
