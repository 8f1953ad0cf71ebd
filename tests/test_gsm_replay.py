"""The GSM TCPIP Application Note's examples (seed 003), replayed against the emulator line
for line: each command's answer (information text, final result code, the lines that follow
it) must match the note's, with only addresses, ports and counts differing.

Normalised as tests/test_chapter3_replay.py does for BG96: typographic quotes are plain,
the ", " between arguments is dropped, the lost <Ctrl-Z>/<ESC> are restored, a result code
run into the next command ("OK AT+QIACT") is split, "CONNECT" and "OK" printed on two lines
are CONNECT OK (spec notes), no echo (ATE0). Addresses and ports of the examples are the
lab's ({ip}, {port}); counts that depend on the network ({n}, e.g. AT+QISACK's acked) are
masked. Where the note contradicts itself the spec's reading is replayed (AT+QICLOSE=<i>:
"<i>, CLOSE OK", §5.4 L551). Comments give each block's lines and the note's own values."""
from __future__ import annotations

import re
import socket

import pytest

from atconform.families.quectel_gsm.rig import DNS_NAME, GsmRig

MASKS = {"{ip}": r"\d+\.\d+\.\d+\.\d+", "{port}": r"\d+", "{n}": r"\d+"}
WELCOME = b"Welcome to use Quectel module."


def pattern(line: str) -> re.Pattern:
    out = re.escape(line)
    for k, v in MASKS.items():
        out = out.replace(re.escape(k), v)
    return re.compile(out)


class Replay:
    """Send a command, compare every line of its answer with the note's."""

    def __init__(self, rig: GsmRig):
        self.rig = rig
        self.ch = rig.channel
        self.echo = rig.echo
        self.exchanges = 0
        self.clients: list[socket.socket] = []

    def cmd(self, line: str, *expected: str, data: bytes | None = None, ctrl_z: bool = False, timeout=None):
        kw = {"timeout": timeout} if timeout else {}
        r = self.ch.command(line, data=data, ctrl_z=ctrl_z, **kw)
        got = [*(i.text for i in r.info)]
        if r.final.result is not None and r.final.result.text not in ("<reply>", "<other reply>"):
            got.append(r.final.text)
        got += [a.text for a in r.after]
        self.exchanges += 1
        assert len(got) == len(expected), f"{line}: got {got}, the note {list(expected)}"
        for g, e in zip(got, expected):
            assert pattern(e).fullmatch(g), f"{line}: got {g!r}, the note {e!r}"
        return r

    def urc(self, expected: str, timeout: float = 10):
        p = pattern(expected)
        u = self.ch.wait_urc(lambda x: p.fullmatch(x.text) is not None, timeout)
        assert u is not None, f"no {expected!r}; queued: {[x.text for x in self.ch.drain_urcs()]}"
        return u

    def raw(self, want: bytes, timeout: float = 10) -> None:
        """Received data with no header (L172, L229): flushed by an AT, compared."""
        got = b""
        clock = self.ch.clock
        deadline = clock.now() + timeout
        while len(got) < len(want) and clock.now() < deadline:
            self.ch.command("AT")
            for u in self.ch.drain_urcs():
                if u.urc is not None and u.urc.name == "raw data":
                    got += u.text.encode("latin-1")
        assert got == want, f"received {got!r}, the note {want!r}"

    @property
    def tcp(self) -> str:
        return f'"TCP","{self.echo.host}",{self.echo.port}'

    def line(self, template: str) -> str:
        """A command line of the note with the lab's peers: {tcp}, {echo_port}, {dns_host}."""
        return template.format(tcp=self.tcp, echo_port=self.echo.port, dns_host=self.rig.dns.host)


@pytest.fixture
def replay():
    rig = GsmRig()
    r = Replay(rig)
    yield r
    for c in r.clients:
        c.close()
    rig.close()
    assert not rig.emulator.modem.handler_errors


# -- the steps of an example: each a function of the Replay ----------------------------------

def cmd(line: str, *expected: str, **kw):
    """Send the command line (``{tcp}`` etc. filled in), compare its answer with the note's."""
    return lambda r: r.cmd(r.line(line), *expected, **kw)


def send(line: str, data: bytes = WELCOME, ctrl_z: bool = True):
    return cmd(line, "SEND OK", data=data, ctrl_z=ctrl_z)


def urc(expected: str, payload: bytes | None = None):
    def step(r: Replay) -> None:
        u = r.urc(expected)
        if payload is not None:
            assert u.payload == payload
    return step


def raw(want: bytes):
    return lambda r: r.raw(want)


def sleep(seconds: float):
    return lambda r: r.ch.clock.sleep(seconds)


def configure(mux: int = 0, mode: int = 0, dnsip: int = 0):
    """§3 L134-144 / §4 L345-357: the configuration before a connection."""
    return [cmd("AT+QIFGCNT=0", "OK"), cmd('AT+QICSGP=1,"CMNET"', "OK"), cmd(f"AT+QIMUX={mux}", "OK"),
            cmd(f"AT+QIMODE={mode}", "OK"), *([cmd("AT+QITCFG=3,2,512,1", "OK")] if mode else []),
            cmd(f"AT+QIDNSIP={dnsip}", "OK")]


# §3 L145-151: register, activate, local address (no OK)
ACTIVATE = [cmd("AT+QIREGAPP", "OK"), cmd("AT+QIACT", "OK"), cmd("AT+QILOCIP", "{ip}")]   # "10.180.217.206"


def listen(remote_ip: str):
    """The note's server blocks: the local address and port (QILOCIP, QILPORT?), a client
    connects from the network, the module reports it (``remote_ip``)."""
    def step(r: Replay) -> None:
        ip = r.cmd("AT+QILOCIP", "{ip}").lines[0]
        port = int(r.cmd("AT+QILPORT?", "TCP: {port}", "UDP: {port}", "OK").lines[0].split(": ")[1])
        r.clients.append(socket.create_connection((ip, port)))
        r.urc(remote_ip)
    return step


def qird_payload(data: bytes):
    """§5.3.2: AT+QIRD gives the data with its header (L545)."""
    def step(r: Replay) -> None:
        q = r.cmd("AT+QIRD=0,1,0,1024", "+QIRD:{ip}:{port},TCP,36", "OK")     # "116.228.146.250:7070"
        assert q.info[0].payload == data
    return step


ALPHABET = b"1234567890abcdefghijklmnopqrstuvwxyz"
EXAMPLES = {
    "3_configuration_and_activation": [*configure(), *ACTIVATE],                          # L134-151
    "3_1_single_client": [                                                                 # L153-178
        *configure(), *ACTIVATE,
        cmd("AT+QIOPEN={tcp}", "OK", "CONNECT OK"),                      # "124.79.167.121",7007
        send("AT+QISEND"), cmd("AT+QISACK", "+QISACK: 30, {n}, {n}", "OK"),               # 30, 20, 10
        raw(WELCOME),                                                                      # L172
        cmd("AT+QICLOSE", "CLOSE OK"), cmd("AT+QIDEACT", "DEACT OK")],
    "3_2_single_server": [                                                                 # L183-244
        *configure(), cmd("AT+QISERVER", "OK", "SERVER OK"),
        listen("REMOTE IP: {ip}"),                                       # "10.79.142.227", 2020, 3030
        cmd("AT+QIOPEN={tcp}", "OK", "CONNECT OK"),
        cmd("AT+QISRVC=2", "OK"), send("AT+QISEND"), cmd("AT+QISACK", "+QISACK: 30, {n}, {n}", "OK"),
        cmd("AT+QISRVC=1", "OK"), send("AT+QISEND"), cmd("AT+QISACK", "+QISACK: 30, {n}, {n}", "OK"),
        raw(WELCOME),                                                                      # L229
        cmd("AT+QISRVC=2", "OK"), cmd("AT+QICLOSE", "CLOSE OK"),         # the client
        cmd("AT+QICLOSE", "CLOSE OK"),                                   # the listener
        cmd("AT+QISRVC=1", "OK"), cmd("AT+QICLOSE", "CLOSE OK"), cmd("AT+QIDEACT", "DEACT OK")],
    "3_3_multiple_clients": [                                                              # L254-277
        *configure(mux=1), cmd("AT+QIOPEN=0,{tcp}", "OK", "0, CONNECT OK"),
        send("AT+QISEND=0"), cmd("AT+QISACK=0", "+QISACK: 30, {n}, {n}", "OK"),
        urc("+RECEIVE: 0, 30", WELCOME),                                                   # L268
        cmd("AT+QICLOSE=0", "0, CLOSE OK"),                              # L275 "CLOSE OK": §5.4 reading
        cmd("AT+QIDEACT", "DEACT OK")],
    "3_4_multiple_server": [                                                               # L278-341
        *configure(mux=1), cmd("AT+QISERVER=0,3", "OK", "SERVER OK"),
        listen("0, REMOTE IP: {ip}"),                                                      # L292
        cmd("AT+QIOPEN=3,{tcp}", "OK", "3, CONNECT OK"),                                   # L295-296
        cmd("AT+QISRVC=2", "OK"), send("AT+QISEND=0"), cmd("AT+QISACK=0", "+QISACK: 30, {n}, {n}", "OK"),
        cmd("AT+QISRVC=1", "OK"), send("AT+QISEND=3"), cmd("AT+QISACK=3", "+QISACK: 30, {n}, {n}", "OK"),
        urc("+RECEIVE: 3, 30", WELCOME),                                 # L327 prints index 0: the echo is on 3
        cmd("AT+QISRVC=2", "OK"), cmd("AT+QICLOSE=0", "0, CLOSE OK"),
        cmd("AT+QICLOSE", "CLOSE OK"),                                   # the listener (L333)
        cmd("AT+QISRVC=1", "OK"), cmd("AT+QICLOSE=3", "3, CLOSE OK"), cmd("AT+QIDEACT", "DEACT OK")],
    "5_2_send_ways_and_5_2_2_qisack": [                                                    # L452-517
        *configure(), cmd("AT+QIOPEN={tcp}", "OK", "CONNECT OK"),
        send("AT+QISEND"),                                                                 # §5.2.2.1
        send("AT+QISEND=30", ctrl_z=False),                                                # §5.2.2.2 L472
        cmd("AT+QIAUTOS=1,10", "OK"),                                                      # §5.2.2.3 L486
        send("AT+QISEND", ctrl_z=False),                                                   # after the 10 s timer
        cmd("AT+QISEND", "SEND FAIL", data=b""),                                           # L496
        cmd("AT+QISACK", "+QISACK: 90, {n}, {n}", "OK"),                                   # §5.2.2 L508-512
        cmd("AT+QIAUTOS=0", "OK")],
    "5_2_multiple_send_ways": [                                          # L459-469, L478-483, L498-505
        *configure(mux=1), cmd("AT+QIOPEN=0,{tcp}", "OK", "0, CONNECT OK"),
        send("AT+QISEND=0"), send("AT+QISEND=0,30", ctrl_z=False),
        cmd("AT+QISACK=0", "+QISACK: 60, {n}, {n}", "OK")],                                # L513-517
    "5_3_1_headers": [                                                                     # L523-535
        cmd("AT+QISHOWRA=1", "OK"), cmd("AT+QISHOWLA=1", "OK"), cmd("AT+QIHEAD=1", "OK"),
        cmd("AT+QISHOWPT=1", "OK"), cmd("AT+QIOPEN={tcp}", "OK", "CONNECT OK"),
        send("AT+QISEND=30", ctrl_z=False),
        urc("RECV FROM:{ip}:{port}"), urc("TO:{ip}"), urc("IPD30TCP:", WELCOME)],           # L534
    "5_3_2_qindi_qird": [                                                                  # L540-545
        cmd("AT+QINDI=1", "OK"), cmd("AT+QIOPEN={tcp}", "OK", "CONNECT OK"),
        send("AT+QISEND=36", ALPHABET, ctrl_z=False), urc("+QIRDI:0,1,0"), qird_payload(ALPHABET),
        cmd("AT+QIRD=0,1,0,1024", "OK")],                                # read until empty (L545)
    "5_4_close_and_5_5_deact": [                                                           # L546-559
        cmd("AT+QIOPEN={tcp}", "OK", "CONNECT OK"),
        cmd("AT+QICLOSE", "CLOSE OK"),                                                     # L548
        cmd("AT+QIDEACT", "DEACT OK"), *configure(mux=1),
        cmd("AT+QIOPEN=0,{tcp}", "OK", "0, CONNECT OK"),
        cmd("AT+QICLOSE=0", "0, CLOSE OK"),                                                # L551
        cmd("AT+QIDEACT", "DEACT OK")],                                                    # L558
    "5_6_2_query_status": [                                                                # L622-624
        cmd("AT+QISTAT", "OK", "STATE: IP INITIAL"),                                       # L622
        *configure(mux=1),
        cmd("AT+QISTATE", "OK", "STATE: IP INITIAL", *[f'+QISTATE: {i},"","",,"INITIAL"' for i in range(6)]),  # L623
        cmd("AT+QISERVER=0,3", "OK", "SERVER OK"),
        cmd("AT+QISSTAT", "OK", "S: LISTENNING")],                                         # L624
    "6_1_maintenance_and_6_2_detection": [                                                 # L630-680
        cmd("AT+QIOPEN={tcp}", "OK", "CONNECT OK"),
        cmd("AT+QISTAT", "OK", "STATE: CONNECT OK"),                                       # L632
        sleep(480),                                                      # "such as 8 minutes"
        cmd("AT+QISACK", "+QISACK: 0, 0, 0", "OK"),                                        # L638
        send("AT+QISEND", b"TCP detect"), sleep(30),                                       # L645
        cmd("AT+QISACK", "+QISACK: 10, 10, 0", "OK"),                                      # L652
        send("AT+QISEND", b"TCP detect"), sleep(5),                                        # L669
        cmd("AT+QISACK", "+QISACK: 20, 20, 0", "OK")],                                     # L677
    "7_2_two_contexts": [                                                                  # L693-741
        *configure(), cmd("AT+QIOPEN={tcp}", "OK", "CONNECT OK"),                # L708-714
        cmd("AT+QILOCIP", "{ip}"),                                       # "10.79.141.224"
        cmd("AT+QIFGCNT=1", "OK"), cmd('AT+QICSGP=1,"CMNET"', "OK"), cmd("AT+QIMUX=1", "OK"),
        cmd("AT+QIMODE=0", "OK"), cmd("AT+QISERVER=0,3", "OK", "SERVER OK"),              # L732-734
        listen("0, REMOTE IP: {ip}")],                                   # "10.79.140.214", L740
    "8_1_domain_name": [                                                                   # L746-758
        *configure(dnsip=1),
        cmd(f'AT+QIOPEN="TCP","{DNS_NAME}",{{echo_port}}', "OK", "CONNECT OK")],   # "www.quectel.com", 80
    "8_2_qidnsgip": [                                                                      # L759-774
        cmd("AT+QIFGCNT=0", "OK"), cmd('AT+QICSGP=1,"CMNET"', "OK"), *ACTIVATE,            # "10.79.69.228"
        cmd('AT+QIDNSCFG="{dns_host}","{dns_host}"', "OK"),           # "211.136.18.171","211.136.112.50"
        cmd(f'AT+QIDNSGIP="{DNS_NAME}"', "OK", "{ip}"),                  # "www.google.com": 3 addresses
        cmd("AT+QIDEACT", "DEACT OK"),
        cmd(f'AT+QIDNSGIP="{DNS_NAME}"', "OK", "{ip}")],                 # L772-774: activates by itself
}


@pytest.mark.parametrize("example", EXAMPLES)
def test_note_example(replay, example):
    """One example of the note, command by command."""
    for step in EXAMPLES[example]:
        step(replay)


def test_4_1_transparent_client(replay):                              # L345-401
    r = replay
    for step in [*configure(mode=1), *ACTIVATE, cmd("AT+QIOPEN={tcp}", "OK", "CONNECT")]:    # L377
        step(r)
    r.ch.clock.sleep(0.6)
    r.ch.write(WELCOME)
    assert r.ch.read_data(30, 10) == WELCOME
    from atconform.families.quectel_gsm.session import GsmSession
    GsmSession.escape_data_mode(r.rig.modem)                          # "+++" -> OK (L382)
    r.cmd("ATO", "CONNECT")                                           # L386-389
    r.rig.modem.escape_data_mode()
    r.cmd("AT+QISACK", "+QISACK: 30, {n}, {n}", "OK")
    r.cmd("AT+QICLOSE", "CLOSE OK")
    r.cmd("AT+QIDEACT", "DEACT OK")


def test_4_2_transparent_server(replay):                              # L403-439
    r = replay
    for step in [*configure(mode=1), cmd("AT+QISERVER", "OK", "SERVER OK"), listen("REMOTE IP: {ip}"),   # L416
                 urc("CONNECT")]:                                     # L418
        step(r)
    r.clients[0].sendall(WELCOME)
    assert r.ch.read_data(30, 10) == WELCOME
    r.rig.modem.escape_data_mode()
    r.cmd("ATO", "CONNECT")
    r.rig.modem.escape_data_mode()
    r.cmd("AT+QISACK", "+QISACK: 0, 0, 0", "OK")
    r.cmd("AT+QICLOSE", "CLOSE OK")                                   # the listener: no client side chosen
    r.cmd("AT+QIDEACT", "DEACT OK")


def test_6_3_exception_handling(replay):                               # L681-686
    r = replay
    for step in [*configure(mode=1), cmd("AT+QIOPEN={tcp}", "OK", "CONNECT")]:
        step(r)
    r.ch.clock.sleep(0.6)
    r.ch.write(b"\r\nCLOSED\r\n")                                      # the server sends it: data
    r.urc("CLOSED")
    r.ch.clock.sleep(0.6)
    r.ch.write(b"+++")
    f = r.ch.wait_final(2)
    assert f is not None and f.text == "OK"                            # L684: it was data
    r.cmd("AT+QIDEACT", "DEACT OK")                                    # L684-686
