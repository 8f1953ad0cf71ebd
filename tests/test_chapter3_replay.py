"""The BG96 manual's chapter 3 transcripts, replayed against the emulator through its
pty: every response must match the manual line for line, with only addresses, ports
and timestamps differing (issue 3). Expected lines are the manual's, with those fields
written as {ip}, {port}, {n} and {time}; comments give the manual's own values."""
import re
import socket
import threading
import time

import pytest

from atconform.transport.channel import Channel

MASKS = {"{ip}": r"\d+\.\d+\.\d+\.\d+", "{port}": r"\d+", "{n}": r"\d+", "{time}": r"\d{4}/\d\d/\d\d,\d\d:\d\d:\d\d[+-]\d+"}


def pattern(line: str) -> re.Pattern:
    out = re.escape(line)
    for k, v in MASKS.items():
        out = out.replace(re.escape(k), v)
    return re.compile(out)


class ScriptedPeer:
    """TCP server that reads ``expect`` bytes, then sends ``reply``, then waits."""

    def __init__(self, expect: int, reply: bytes):
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.got = b""
        threading.Thread(target=self._run, args=(expect, reply), daemon=True).start()

    def _run(self, expect, reply):
        conn, _ = self.srv.accept()
        with conn:
            while len(self.got) < expect:
                d = conn.recv(4096)
                if not d:
                    return
                self.got += d
            conn.sendall(reply)
            conn.recv(1)   # hold until the modem closes


class Replay:
    def __init__(self, ch):
        self.ch = ch

    def cmd(self, line, *expected, data=None, ctrl_z=False):
        r = self.ch.command(line, data=data, ctrl_z=ctrl_z)
        got = [*(i.text for i in r.info), r.final.text]
        assert len(got) == len(expected), f"{line}: got {got}, manual {list(expected)}"
        for g, e in zip(got, expected):
            assert pattern(e).fullmatch(g), f"{line}: got {g!r}, manual {e!r}"
        return r

    def urc(self, expected, timeout=10):
        p = pattern(expected)
        u = self.ch.wait_urc(lambda x: p.fullmatch(x.text) is not None, timeout)
        assert u is not None, f"no URC {expected!r}; queued: {[x.text for x in self.ch.drain_urcs()]}"
        return u


@pytest.fixture
def replay(emu, bg96_spec):
    ch = Channel(bg96_spec, emu.path).open()
    assert ch.command("ATE0").ok
    yield Replay(ch)
    ch.close()


def test_3_1_configure_activate_deactivate(replay):
    replay.cmd('AT+QICSGP=1,1,"UNINET","",""', "OK")
    replay.cmd("AT+QIACT=1", "OK")
    replay.cmd("AT+QIACT?", '+QIACT: 1,1,1,"{ip}"', "OK")            # "10.7.157.1"
    replay.cmd("AT+QIDEACT=1", "OK")


def test_3_2_tcp_client_buffer_access(replay):
    peer = ScriptedPeer(14, b"test1")
    replay.cmd("AT+QIACT=1", "OK")
    replay.cmd(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},0,0', "OK")   # "220.180.239.212",8009
    replay.urc("+QIOPEN: 0,0")
    replay.cmd("AT+QISTATE=1,0", '+QISTATE: 0,"TCP","{ip}",{port},{port},2,1,0,0,"usbmodem"', "OK")
    replay.cmd("AT+QISEND=0", "SEND OK", data=b"test1", ctrl_z=True)
    replay.cmd("AT+QISEND=0,4", "SEND OK", data=b"test")
    replay.cmd("AT+QISEND=0,0", "+QISEND: 9,9,0", "OK")
    replay.cmd('AT+QISENDEX=0,"3132333435"', "SEND OK")
    time.sleep(0.1)
    replay.cmd("AT+QISEND=0,0", "+QISEND: 14,14,0", "OK")
    replay.urc('+QIURC: "recv",0')
    r = replay.cmd("AT+QIRD=0,1500", "+QIRD: 5", "OK")
    assert r.info[0].payload == b"test1"
    replay.cmd("AT+QIRD=0,1500", "+QIRD: 0", "OK")
    replay.cmd("AT+QIRD=0,0", "+QIRD: 5,5,0", "OK")
    replay.cmd("AT+QICLOSE=0", "OK")
    assert peer.got == b"test1test12345"


def test_3_3_tcp_client_transparent(replay):
    peer = ScriptedPeer(6, b"Test 1")
    replay.cmd("AT+QIACT=1", "OK")
    replay.cmd(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},0,2', "CONNECT")
    replay.ch.write(b"hello!")
    assert replay.ch.read_data(6, 10) == b"Test 1"                      # §3.3.3
    time.sleep(1.1)
    replay.ch.engine.framer.escape_written()
    replay.ch.write(b"+++")
    assert replay.ch.wait_final(5).text == "OK"
    replay.cmd("AT+QICLOSE=0", "OK")                                     # §3.3.4


def test_3_4_tcp_client_direct_push(replay):
    peer = ScriptedPeer(10, b"test")
    replay.cmd("AT+QIACT=1", "OK")
    replay.cmd(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{peer.port},0,1', "OK")
    replay.urc("+QIOPEN: 0,0")
    replay.cmd("AT+QISTATE=1,0", '+QISTATE: 0,"TCP","{ip}",{port},{port},2,1,0,1,"usbmodem"', "OK")
    replay.cmd("AT+QISEND=0", "SEND OK", data=b"test1", ctrl_z=True)
    replay.cmd("AT+QISEND=0,5", "SEND OK", data=b"test2")
    time.sleep(0.1)
    replay.cmd("AT+QISEND=0,0", "+QISEND: 10,10,0", "OK")
    u = replay.urc('+QIURC: "recv",0,4')
    assert u.payload == b"test"
    replay.cmd("AT+QICLOSE=0", "OK")


def test_3_5_tcp_server_buffer_access(replay):
    replay.cmd("AT+QIACT=1", "OK")
    port = 20200 + int(time.time()) % 1000                              # 2020
    replay.cmd(f'AT+QIOPEN=1,1,"TCP LISTENER","127.0.0.1",0,{port},0', "OK")
    replay.urc("+QIOPEN: 1,0")
    replay.cmd("AT+QISTATE=0,1", '+QISTATE: 1,"TCP LISTENER","{ip}",0,{port},3,1,1,0,"usbmodem"', "OK")
    with socket.create_connection(("127.0.0.1", port)) as c:
        replay.urc('+QIURC: "incoming",11,1,"{ip}",{port}')              # "172.31.242.222",54091
        c.sendall(b"test")
        replay.urc('+QIURC: "recv",11')
        r = replay.cmd("AT+QIRD=11,1500", "+QIRD: 4", "OK")
        assert r.info[0].payload == b"test"
        replay.cmd("AT+QIRD=11,1500", "+QIRD: 0", "OK")
        replay.cmd("AT+QIRD=11,0", "+QIRD: 4,4,0", "OK")
        replay.cmd("AT+QICLOSE=11", "OK")
    replay.cmd("AT+QICLOSE=1", "OK")


def test_3_6_udp_service(replay):
    replay.cmd("AT+QIACT=1", "OK")
    port = 30300 + int(time.time()) % 1000                              # 3030
    remote = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    remote.bind(("127.0.0.1", 0))
    rport = remote.getsockname()[1]
    replay.cmd(f'AT+QIOPEN=1,2,"UDP SERVICE","127.0.0.1",0,{port},0', "OK")
    replay.urc("+QIOPEN: 2,0")
    replay.cmd("AT+QISTATE=0,1", '+QISTATE: 2,"UDP SERVICE","{ip}",0,{port},2,1,2,0,"usbmodem"', "OK")
    replay.cmd(f'AT+QISEND=2,10,"127.0.0.1",{rport}', "SEND OK", data=b"1234567890")   # "10.7.89.10",6969
    assert remote.recvfrom(100)[0] == b"1234567890"
    remote.sendto(b"AAAA", ("127.0.0.1", port))
    replay.urc('+QIURC: "recv",2')
    r = replay.cmd("AT+QIRD=2", '+QIRD: 4,"{ip}",{port}', "OK")           # "10.7.76.34",7687
    assert r.info[0].payload == b"AAAA"
    replay.cmd("AT+QIRD=2", "+QIRD: 0", "OK")
    replay.cmd(f'AT+QISEND=2,10,"127.0.0.1",{rport}', "SEND OK", data=b"1234567890")
    replay.cmd("AT+QICLOSE=2", "OK")
    remote.close()


def test_3_7_ping(replay):
    replay.cmd("AT+QIACT=1", "OK")
    replay.cmd('AT+QPING=1,"127.0.0.1"', "OK")                          # "www.baidu.com"
    for _ in range(4):
        replay.urc('+QPING: 0,"{ip}",{n},{n},{n}')                      # 0,"61.135.169.125",32,192,255
    replay.urc("+QPING: 0,4,4,0,{n},{n},{n}")                          # 0,4,4,0,192,479,287


def test_3_8_ntp(replay):
    from atconform.peers import NtpServer
    ntp = NtpServer().start()
    try:
        replay.cmd("AT+QIACT=1", "OK")
        replay.cmd(f'AT+QNTP=1,"127.0.0.1",{ntp.port}', "OK")           # "202.120.2.101",123
        replay.urc('+QNTP: 0,"{time}"')                                 # "2013/08/19,11:10:10+32"
    finally:
        ntp.stop()


def test_3_9_last_error_code(replay):
    replay.cmd('AT+QIOPEN=1,"TCP","220.180.239.212",8009,0,1', "ERROR")
    replay.cmd("AT+QIGETERROR", "+QIGETERROR: 552, invalid parameters", "OK")
