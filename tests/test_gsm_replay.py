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


@pytest.fixture
def replay():
    rig = GsmRig()
    r = Replay(rig)
    yield r
    rig.close()
    assert not rig.emulator.modem.handler_errors


def configure(r: Replay, mux: int = 0, mode: int = 0) -> None:
    """§3 L134-144 / §4 L345-357: the configuration before a connection."""
    r.cmd("AT+QIFGCNT=0", "OK")
    r.cmd('AT+QICSGP=1,"CMNET"', "OK")
    r.cmd(f"AT+QIMUX={mux}", "OK")
    r.cmd(f"AT+QIMODE={mode}", "OK")
    if mode:
        r.cmd("AT+QITCFG=3,2,512,1", "OK")
    r.cmd("AT+QIDNSIP=0", "OK")


def activate(r: Replay) -> None:
    """§3 L145-151: register, activate, local address (no OK)."""
    r.cmd("AT+QIREGAPP", "OK")
    r.cmd("AT+QIACT", "OK")
    r.cmd("AT+QILOCIP", "{ip}")                                     # "10.180.217.206"


def test_3_configuration_and_activation(replay):                      # L134-151
    configure(replay)
    activate(replay)


def test_3_1_single_client(replay):                                   # L153-178
    configure(replay)
    activate(replay)
    replay.cmd(f"AT+QIOPEN={replay.tcp}", "OK", "CONNECT OK")        # "124.79.167.121",7007
    replay.cmd("AT+QISEND", "SEND OK", data=WELCOME, ctrl_z=True)
    replay.cmd("AT+QISACK", "+QISACK: 30, {n}, {n}", "OK")            # 30, 20, 10
    replay.raw(WELCOME)                                              # L172
    replay.cmd("AT+QICLOSE", "CLOSE OK")
    replay.cmd("AT+QIDEACT", "DEACT OK")


def test_3_2_single_server(replay):                                   # L183-244
    r = replay
    configure(r)
    r.cmd("AT+QISERVER", "OK", "SERVER OK")
    ip = r.cmd("AT+QILOCIP", "{ip}").lines[0]                        # "10.79.142.227"
    lines = r.cmd("AT+QILPORT?", "TCP: {port}", "UDP: {port}", "OK").lines   # 2020, 3030
    client = socket.create_connection((ip, int(lines[0].split(": ")[1])))
    r.urc("REMOTE IP: {ip}")                                         # "10.79.141.26"
    r.cmd(f"AT+QIOPEN={r.tcp}", "OK", "CONNECT OK")
    r.cmd("AT+QISRVC=2", "OK")
    r.cmd("AT+QISEND", "SEND OK", data=WELCOME, ctrl_z=True)
    r.cmd("AT+QISACK", "+QISACK: 30, {n}, {n}", "OK")
    r.cmd("AT+QISRVC=1", "OK")
    r.cmd("AT+QISEND", "SEND OK", data=WELCOME, ctrl_z=True)
    r.cmd("AT+QISACK", "+QISACK: 30, {n}, {n}", "OK")
    r.raw(WELCOME)                                                   # L229
    r.cmd("AT+QISRVC=2", "OK")
    r.cmd("AT+QICLOSE", "CLOSE OK")                                  # the client
    r.cmd("AT+QICLOSE", "CLOSE OK")                                  # the listener
    r.cmd("AT+QISRVC=1", "OK")
    r.cmd("AT+QICLOSE", "CLOSE OK")
    r.cmd("AT+QIDEACT", "DEACT OK")
    client.close()


def test_3_3_multiple_clients(replay):                                # L254-277
    r = replay
    configure(r, mux=1)
    r.cmd(f"AT+QIOPEN=0,{r.tcp}", "OK", "0, CONNECT OK")
    r.cmd("AT+QISEND=0", "SEND OK", data=WELCOME, ctrl_z=True)
    r.cmd("AT+QISACK=0", "+QISACK: 30, {n}, {n}", "OK")
    u = r.urc("+RECEIVE: 0, 30")
    assert u.payload == WELCOME                                      # L268
    r.cmd("AT+QICLOSE=0", "0, CLOSE OK")                             # L275 "CLOSE OK": §5.4 reading
    r.cmd("AT+QIDEACT", "DEACT OK")


def test_3_4_multiple_server(replay):                                 # L278-341
    r = replay
    configure(r, mux=1)
    r.cmd("AT+QISERVER=0,3", "OK", "SERVER OK")
    ip = r.cmd("AT+QILOCIP", "{ip}").lines[0]
    port = int(r.cmd("AT+QILPORT?", "TCP: {port}", "UDP: {port}", "OK").lines[0].split(": ")[1])
    client = socket.create_connection((ip, port))
    r.urc("0, REMOTE IP: {ip}")                                      # L292
    r.cmd(f"AT+QIOPEN=3,{r.tcp}", "OK", "3, CONNECT OK")             # L295-296
    r.cmd("AT+QISRVC=2", "OK")
    r.cmd("AT+QISEND=0", "SEND OK", data=WELCOME, ctrl_z=True)
    r.cmd("AT+QISACK=0", "+QISACK: 30, {n}, {n}", "OK")
    r.cmd("AT+QISRVC=1", "OK")
    r.cmd("AT+QISEND=3", "SEND OK", data=WELCOME, ctrl_z=True)
    r.cmd("AT+QISACK=3", "+QISACK: 30, {n}, {n}", "OK")
    u = r.urc("+RECEIVE: 3, 30")                                     # L327 prints index 0: the echo is on 3
    assert u.payload == WELCOME
    r.cmd("AT+QISRVC=2", "OK")
    r.cmd("AT+QICLOSE=0", "0, CLOSE OK")
    r.cmd("AT+QICLOSE", "CLOSE OK")                                  # the listener (L333)
    r.cmd("AT+QISRVC=1", "OK")
    r.cmd("AT+QICLOSE=3", "3, CLOSE OK")
    r.cmd("AT+QIDEACT", "DEACT OK")
    client.close()


def test_4_1_transparent_client(replay):                              # L345-401
    r = replay
    configure(r, mode=1)
    activate(r)
    r.cmd(f"AT+QIOPEN={r.tcp}", "OK", "CONNECT")                      # L377
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
    configure(r, mode=1)
    r.cmd("AT+QISERVER", "OK", "SERVER OK")
    ip = r.cmd("AT+QILOCIP", "{ip}").lines[0]
    port = int(r.cmd("AT+QILPORT?", "TCP: {port}", "UDP: {port}", "OK").lines[0].split(": ")[1])
    client = socket.create_connection((ip, port))
    r.urc("REMOTE IP: {ip}")                                         # L416
    r.urc("CONNECT")                                                 # L418
    client.sendall(WELCOME)
    assert r.ch.read_data(30, 10) == WELCOME
    r.rig.modem.escape_data_mode()
    r.cmd("ATO", "CONNECT")
    r.rig.modem.escape_data_mode()
    r.cmd("AT+QISACK", "+QISACK: 0, 0, 0", "OK")
    r.cmd("AT+QICLOSE", "CLOSE OK")                                   # the listener: no client side chosen
    r.cmd("AT+QIDEACT", "DEACT OK")
    client.close()


def test_5_2_send_ways_and_5_2_2_qisack(replay):                       # L452-517
    r = replay
    configure(r)
    r.cmd(f"AT+QIOPEN={r.tcp}", "OK", "CONNECT OK")
    r.cmd("AT+QISEND", "SEND OK", data=WELCOME, ctrl_z=True)           # §5.2.2.1
    r.cmd("AT+QISEND=30", "SEND OK", data=WELCOME)                     # §5.2.2.2 L472
    r.cmd("AT+QIAUTOS=1,10", "OK")                                     # §5.2.2.3 L486
    r.cmd("AT+QISEND", "SEND OK", data=WELCOME)                        # after the 10 s timer
    r.cmd("AT+QISEND", "SEND FAIL", data=b"")                          # L496
    r.cmd("AT+QISACK", "+QISACK: 90, {n}, {n}", "OK")                  # §5.2.2 L508-512
    r.cmd("AT+QIAUTOS=0", "OK")


def test_5_2_multiple_send_ways(replay):                               # L459-469, L478-483, L498-505
    r = replay
    configure(r, mux=1)
    r.cmd(f"AT+QIOPEN=0,{r.tcp}", "OK", "0, CONNECT OK")
    r.cmd("AT+QISEND=0", "SEND OK", data=WELCOME, ctrl_z=True)
    r.cmd("AT+QISEND=0,30", "SEND OK", data=WELCOME)
    r.cmd("AT+QISACK=0", "+QISACK: 60, {n}, {n}", "OK")                # L513-517


def test_5_3_1_headers(replay):                                        # L523-535
    r = replay
    r.cmd("AT+QISHOWRA=1", "OK")
    r.cmd("AT+QISHOWLA=1", "OK")
    r.cmd("AT+QIHEAD=1", "OK")
    r.cmd("AT+QISHOWPT=1", "OK")
    r.cmd(f"AT+QIOPEN={r.tcp}", "OK", "CONNECT OK")
    r.cmd("AT+QISEND=30", "SEND OK", data=WELCOME)
    r.urc("RECV FROM:{ip}:{port}")
    r.urc("TO:{ip}")
    u = r.urc("IPD30TCP:")                                            # L534
    assert u.payload == WELCOME


def test_5_3_2_qindi_qird(replay):                                     # L540-545
    r = replay
    r.cmd("AT+QINDI=1", "OK")
    r.cmd(f"AT+QIOPEN={r.tcp}", "OK", "CONNECT OK")
    data = b"1234567890abcdefghijklmnopqrstuvwxyz"
    r.cmd("AT+QISEND=36", "SEND OK", data=data)
    r.urc("+QIRDI:0,1,0")
    q = r.cmd("AT+QIRD=0,1,0,1024", "+QIRD:{ip}:{port},TCP,36", "OK")  # "116.228.146.250:7070"
    assert q.info[0].payload == data
    r.cmd("AT+QIRD=0,1,0,1024", "OK")                                  # read until empty (L545)


def test_5_4_close_and_5_5_deact(replay):                              # L546-559
    r = replay
    r.cmd(f"AT+QIOPEN={r.tcp}", "OK", "CONNECT OK")
    r.cmd("AT+QICLOSE", "CLOSE OK")                                    # L548
    r.cmd("AT+QIDEACT", "DEACT OK")
    configure(r, mux=1)
    r.cmd(f"AT+QIOPEN=0,{r.tcp}", "OK", "0, CONNECT OK")
    r.cmd("AT+QICLOSE=0", "0, CLOSE OK")                               # L551
    r.cmd("AT+QIDEACT", "DEACT OK")                                    # L558


def test_5_6_2_query_status(replay):                                   # L622-624
    r = replay
    r.cmd("AT+QISTAT", "OK", "STATE: IP INITIAL")                      # L622
    configure(r, mux=1)
    r.cmd("AT+QISTATE", "OK", "STATE: IP INITIAL",
          *[f'+QISTATE: {i},"","",,"INITIAL"' for i in range(6)])       # L623
    r.cmd("AT+QISERVER=0,3", "OK", "SERVER OK")
    r.cmd("AT+QISSTAT", "OK", "S: LISTENNING")                         # L624


def test_6_1_maintenance_and_6_2_detection(replay):                    # L630-680
    r = replay
    r.cmd(f"AT+QIOPEN={r.tcp}", "OK", "CONNECT OK")
    r.cmd("AT+QISTAT", "OK", "STATE: CONNECT OK")                      # L632
    r.ch.clock.sleep(480)                                              # "such as 8 minutes"
    r.cmd("AT+QISACK", "+QISACK: 0, 0, 0", "OK")                       # L638
    r.cmd("AT+QISEND", "SEND OK", data=b"TCP detect", ctrl_z=True)     # L645
    r.ch.clock.sleep(30)
    r.cmd("AT+QISACK", "+QISACK: 10, 10, 0", "OK")                     # L652
    r.cmd("AT+QISEND", "SEND OK", data=b"TCP detect", ctrl_z=True)     # L669
    r.ch.clock.sleep(5)
    r.cmd("AT+QISACK", "+QISACK: 20, 20, 0", "OK")                     # L677


def test_6_3_exception_handling(replay):                               # L681-686
    r = replay
    configure(r, mode=1)
    r.cmd(f"AT+QIOPEN={r.tcp}", "OK", "CONNECT")
    r.ch.clock.sleep(0.6)
    r.ch.write(b"\r\nCLOSED\r\n")                                      # the server sends it: data
    r.urc("CLOSED")
    r.ch.clock.sleep(0.6)
    r.ch.write(b"+++")
    f = r.ch.wait_final(2)
    assert f is not None and f.text == "OK"                            # L684: it was data
    r.cmd("AT+QIDEACT", "DEACT OK")                                    # L684-686


def test_7_2_two_contexts(replay):                                     # L693-741
    r = replay
    r.cmd("AT+QIFGCNT=0", "OK")
    r.cmd('AT+QICSGP=1,"CMNET"', "OK")
    r.cmd("AT+QIMUX=0", "OK")
    r.cmd("AT+QIMODE=0", "OK")
    r.cmd("AT+QIDNSIP=0", "OK")
    r.cmd(f"AT+QIOPEN={r.tcp}", "OK", "CONNECT OK")                    # L708-714
    r.cmd("AT+QILOCIP", "{ip}")                                        # "10.79.141.224"
    r.cmd("AT+QIFGCNT=1", "OK")
    r.cmd('AT+QICSGP=1,"CMNET"', "OK")
    r.cmd("AT+QIMUX=1", "OK")
    r.cmd("AT+QIMODE=0", "OK")
    r.cmd("AT+QISERVER=0,3", "OK", "SERVER OK")                        # L732-734
    ip = r.cmd("AT+QILOCIP", "{ip}").lines[0]                          # "10.79.140.214"
    port = int(r.cmd("AT+QILPORT?", "TCP: {port}", "UDP: {port}", "OK").lines[0].split(": ")[1])
    client = socket.create_connection((ip, port))
    r.urc("0, REMOTE IP: {ip}")                                       # L740
    client.close()


def test_8_1_domain_name(replay):                                      # L746-758
    r = replay
    r.cmd("AT+QIFGCNT=0", "OK")
    r.cmd('AT+QICSGP=1,"CMNET"', "OK")
    r.cmd("AT+QIMUX=0", "OK")
    r.cmd("AT+QIMODE=0", "OK")
    r.cmd("AT+QIDNSIP=1", "OK")
    r.cmd(f'AT+QIOPEN="TCP","{DNS_NAME}",{r.echo.port}', "OK", "CONNECT OK")   # "www.quectel.com", 80


def test_8_2_qidnsgip(replay):                                         # L759-774
    r = replay
    r.cmd("AT+QIFGCNT=0", "OK")
    r.cmd('AT+QICSGP=1,"CMNET"', "OK")
    r.cmd("AT+QIREGAPP", "OK")
    r.cmd("AT+QIACT", "OK")
    r.cmd("AT+QILOCIP", "{ip}")                                        # "10.79.69.228"
    dns = r.rig.dns
    r.cmd(f'AT+QIDNSCFG="{dns.host}","{dns.host}"', "OK")              # "211.136.18.171","211.136.112.50"
    r.cmd(f'AT+QIDNSGIP="{DNS_NAME}"', "OK", "{ip}")                   # "www.google.com": 3 addresses
    r.cmd("AT+QIDEACT", "DEACT OK")
    r.cmd(f'AT+QIDNSGIP="{DNS_NAME}"', "OK", "{ip}")                   # L772-774: activates by itself
