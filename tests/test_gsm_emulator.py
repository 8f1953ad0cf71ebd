"""The Quectel GSM emulator (seed 003) on the virtual clock: every generated purpose passes,
the stack walks Figures 3 and 4 as the spec draws them, commands a state does not allow
get ERROR, AT+QIOPEN activates by itself, counters match the bytes that moved."""
from __future__ import annotations

import time

import pytest

from atconform.casegen import generate
from atconform.casegen.execute import run
from atconform.families.quectel_gsm.emulator import Context, IllegalStackTransition
from atconform.families.quectel_gsm.rig import GsmRig
from atconform.families.quectel_gsm.session import qisack
from atconform.spec import load_family


@pytest.fixture
def rig():
    r = GsmRig()
    yield r
    r.close()
    assert not r.emulator.loop.errors, r.emulator.loop.errors
    assert not r.emulator.modem.handler_errors, r.emulator.modem.handler_errors


def states(rig, lines):
    out = []
    for line in lines:
        rig.modem.at(line)
        out.append(rig.modem.stack_state())
    return out


def test_every_generated_purpose_passes_on_the_virtual_clock(rig):
    t0 = time.monotonic()
    got = {p.id: rig.verdict(run, p, rig.modem) for p in generate(rig.family) if not p.skip}
    bad = {k: v for k, v in got.items() if v[0] != "pass"}
    assert not bad, bad
    assert len(got) >= 300
    assert rig.clock.now() > time.monotonic() - t0       # AT+QIDEACT's 2 s cost no wall time


def test_figure_3_single_connection_states(rig):
    peer = rig.echo
    assert rig.modem.stack_state() == "IP INITIAL"
    assert states(rig, ["AT+QIREGAPP", "AT+QIACT", "AT+QILOCIP"]) == ["IP START", "IP GPRSACT", "IP STATUS"]
    rig.modem.open(0, "TCP", peer.host, peer.port, strict=True)
    assert rig.modem.stack_state() == "CONNECT OK"
    assert states(rig, ["AT+QICLOSE", "AT+QIDEACT"]) == ["IP CLOSE", "IP INITIAL"]


def test_figure_4_multiple_connection_states(rig):
    peer = rig.echo
    rig.modem.step("setting:mux=1", {})
    states(rig, ["AT+QIREGAPP", "AT+QIACT"])
    assert states(rig, ["AT+QILOCIP"]) == ["IP STATUS"]
    rig.modem.open(2, "TCP", peer.host, peer.port, strict=True)
    assert rig.modem.stack_state() == "IP PROCESSING"
    r = rig.modem.at("AT+QICLOSE=2")
    assert r.final.text == "2, CLOSE OK" and r.final.index == 2
    assert rig.modem.stack_state() == "IP STATUS"


def test_a_state_the_figure_does_not_allow_gets_error(rig):
    assert rig.modem.at("AT+QIACT").final.text == "ERROR"            # IP INITIAL: QIREGAPP first
    assert rig.modem.at("AT+QILOCIP").final.text == "ERROR"
    rig.modem.at("AT+QIREGAPP")
    assert rig.modem.at("AT+QIREGAPP").final.text == "ERROR"
    assert rig.modem.at("AT+QIMUX=1").ok is False                     # settings in IP INITIAL only


def test_qiopen_in_ip_initial_registers_and_activates_itself(rig):
    r = rig.modem.open(0, "TCP", rig.echo.host, rig.echo.port, strict=True)      # §7.2 L708
    assert [a.text for a in r.after] == ["CONNECT OK"]
    r = rig.modem.at("AT+QILOCIP")
    assert r.lines == ["127.0.0.1"] and r.final.result.text == "<reply>"       # no OK (L151)


def test_counters_match_the_bytes_that_moved(rig):
    idx = len(rig.echo.received)      # this connection's buffer, once the peer's handler has it
    rig.modem.open(0, "TCP", rig.echo.host, rig.echo.port, strict=True)
    r = rig.modem.at("AT+QISEND", data=b"Welcome to use Quectel module.", ctrl_z=True)
    assert r.final.text == "SEND OK"
    rig.modem.send(0, b"0123456789")
    want = b"Welcome to use Quectel module.0123456789"
    assert rig.echo.clock.wait_until(lambda: len(rig.echo.received) > idx and bytes(rig.echo.received[idx]) == want, 5)
    sent, acked, nacked = qisack(rig.modem)
    assert sent == 40 and acked + nacked == 40


def test_two_contexts_each_keep_their_own_mux_and_address(rig):
    m = rig.modem
    m.open(0, "TCP", rig.echo.host, rig.echo.port, strict=True)              # context 0, QIMUX=0
    assert m.at("AT+QIFGCNT=1").ok
    assert m.setting("mux") == 0
    m.step("setting:mux=1", {})                                              # context 1 only (L726)
    r = m.at("AT+QISERVER=0,3")
    assert r.ok and [a.text for a in r.after] == ["SERVER OK"]
    assert m.at("AT+QILOCIP").lines == ["127.0.0.2"]
    assert m.at("AT+QIFGCNT=0").ok and m.setting("mux") == 0
    assert m.stack_state() == "CONNECT OK"                                    # context 0 untouched


def test_the_stack_state_machine_refuses_an_arrow_the_figure_lacks():
    fam = load_family("quectel_gsm")
    ctx = Context(0, lambda: fam.state_machine("single"))
    with pytest.raises(IllegalStackTransition, match="not allowed in 'IP INITIAL'"):
        ctx.fire("+QIACT")
    assert ctx.fire("+QIREGAPP") == "IP START"


def test_escape_needs_under_20_ms_between_the_plus_signs(rig):
    """L369: "the interval time between each '+' MUST be less than 20 ms": '+' 30 ms apart
    are data; the same three in one go, with 500 ms of silence around, leave data mode."""
    m = rig.modem
    m.step("setting:mode=1", {})
    m.open(0, "TCP", rig.echo.host, rig.echo.port, strict=True)
    clock = rig.clock
    clock.sleep(0.6)
    for _ in range(3):
        rig.channel.write(b"+")
        clock.sleep(0.03)
    clock.sleep(0.6)
    assert rig.channel.read_data(3, 5) == b"+++"          # echoed back: it was data
    assert rig.channel.engine.framer.data_mode
    m.escape_data_mode()                                   # in one write: OK
    assert not rig.channel.engine.framer.data_mode
    assert m.at("AT").ok


def test_a_server_port_another_process_took_is_replaced_not_an_error(rig):
    """The emulated module's own port lives in the host's port space: when another process
    takes it after boot, AT+QISERVER still answers SERVER OK on a new port, which
    AT+QILPORT? then reports (a CI run under load saw ERROR here)."""
    import socket
    m = rig.modem
    taken = rig.emulator.modem.local_ports["TCP"]
    squatter = socket.socket()
    try:
        squatter.bind(("0.0.0.0", taken))
        squatter.listen()
        r = m.at("AT+QISERVER")
        assert r.ok and [a.text for a in r.after] == ["SERVER OK"], (r.final.text, r.after)
        port = rig.emulator.modem.local_ports["TCP"]
        assert port != taken and f"TCP: {port}" in m.at("AT+QILPORT?").lines
    finally:
        squatter.close()
