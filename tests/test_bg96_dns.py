"""DNS through the emulated modem (issue 10 item 3): every host name the BG96 emulator
resolves (AT+QIOPEN, AT+QNTP, AT+QPING, AT+QIDNSGIP) goes over UDP to the context's DNS
servers (AT+QIDNSCFG, §2.1.13), never to the host OS resolver; a name nobody knows is
565 and an unreachable server 569 after §2.1.14's 60 s (chapter 4)."""
import socket
import time

import pytest

from atconform.emulator import Emulator
from atconform.peers import DnsServer, NtpServer, TcpEcho
from atconform.transport.channel import Channel

NAME = "only-the-peer-knows.atconform.test"


@pytest.fixture
def dns():
    d = DnsServer({NAME: ["127.0.0.1"]}).start()
    yield d
    d.stop()


@pytest.fixture
def link(dns, bg96_spec):
    emu = Emulator("bg96", dns_port=dns.port).start()
    ch = Channel(bg96_spec, emu.path).open()
    assert ch.command("ATE0").ok and ch.command("AT+QIACT=1").ok
    assert ch.command('AT+QIDNSCFG=1,"127.0.0.1","127.0.0.1"').ok
    yield ch
    ch.close()
    emu.stop()
    assert not emu.loop.errors and not emu.modem.handler_errors


def _closed_port(kind=socket.SOCK_DGRAM) -> int:
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_qiopen_to_a_name_only_the_dns_peer_knows(link, dns):
    echo = TcpEcho().start()
    try:
        assert link.command(f'AT+QIOPEN=1,0,"TCP","{NAME}",{echo.port},0,0').ok
        assert link.wait_urc("qiopen", 10).text == "+QIOPEN: 0,0"
        assert NAME in dns.queries
        assert link.command(f'AT+QIOPEN=1,1,"UDP","{NAME}",{echo.port},0,0').ok
        assert link.wait_urc("qiopen", 10).text == "+QIOPEN: 1,0"
        assert dns.queries.count(NAME) == 2
    finally:
        echo.stop()


def test_unknown_name_is_565_and_the_os_is_not_asked(link, dns):
    # "localhost" is known to every host OS resolver, not to the context's DNS server
    for cnid, name in ((2, "nobody-knows.atconform.test"), (3, "localhost")):
        assert link.command(f'AT+QIOPEN=1,{cnid},"TCP","{name}",80,0,0').ok
        assert link.wait_urc("qiopen", 10).text == f"+QIOPEN: {cnid},565"
        assert name in dns.queries
    assert link.command("AT+QIGETERROR").lines[0].startswith("+QIGETERROR: 565")


def test_qntp_and_qping_names_go_to_the_context_dns(link, dns):
    ntp = NtpServer().start()
    try:
        assert link.command(f'AT+QNTP=1,"{NAME}",{ntp.port}').ok
        assert link.wait_urc("qntp", 15).text.startswith("+QNTP: 0,")
        assert dns.queries == [NAME]
        assert link.command('AT+QPING=1,"nobody-knows.atconform.test",1,1').ok
        assert link.wait_urc(lambda u: u.text.startswith("+QPING:"), 10).text == "+QPING: 565"
        assert link.command('AT+QNTP=1,"nobody-knows.atconform.test"').ok
        assert link.wait_urc("qntp", 10).text == "+QNTP: 565"
    finally:
        ntp.stop()


def test_unreachable_dns_is_569_after_60_s_on_the_virtual_clock(bg96_spec):
    from atconform.clock import VirtualClock

    clock = VirtualClock()
    clock.attach("harness")
    emu = Emulator("bg96", clock=clock, dns_port=_closed_port()).start()
    ch = Channel(bg96_spec, emu.path, clock=clock).open()
    wall = time.monotonic()
    try:
        assert ch.command("ATE0").ok and ch.command("AT+QIACT=1").ok
        t0 = clock.now()
        assert ch.command(f'AT+QIDNSGIP=1,"{NAME}"').ok
        u = ch.wait_urc("dnsgip", 120)
        assert u is not None and u.text == '+QIURC: "dnsgip",569,0,0'
        assert 60 <= clock.now() - t0 < 62                 # §2.1.14: at most 60 s
        t0 = clock.now()
        assert ch.command(f'AT+QIOPEN=1,0,"TCP","{NAME}",80,0,0').ok
        assert ch.wait_urc("qiopen", 150).text == "+QIOPEN: 0,569"
        assert 60 <= clock.now() - t0 < 62
    finally:
        ch.close()
        emu.stop()
        clock.detach()
    assert time.monotonic() - wall < 15
    assert not emu.loop.errors


def test_dns_bypassed_defect_uses_the_os(bg96_spec, dns):
    from atconform.emulator.dce import Defects

    emu = Emulator("bg96", dns_port=dns.port, defects=Defects(behaviour=["dns-bypassed"])).start()
    ch = Channel(bg96_spec, emu.path).open()
    try:
        assert ch.command("ATE0").ok and ch.command("AT+QIACT=1").ok
        assert ch.command(f'AT+QIOPEN=1,0,"TCP","{NAME}",80,0,0').ok
        assert ch.wait_urc("qiopen", 10).text == "+QIOPEN: 0,565"   # the OS does not know it
        assert dns.queries == []
    finally:
        ch.close()
        emu.stop()
