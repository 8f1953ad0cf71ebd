"""Chapter 6 of the GSM TCPIP Application Note (seed 003), as a host policy on the virtual
clock: keep-alive (§6.1), detection (§6.2) and exception handling (§6.3), against the
emulator with the network faults the procedures react to (a silent peer, a half-open link,
+PDP DEACT, CLOSED in data mode, AT+QIDEACT without an answer).

The policy (atconform.families.quectel_gsm.policy) reads every number from the spec's
flow_chart; the expected times below are the note's own numbers, so a spec that drifts
from the note fails here (tests/test_gsm_chapter6_mutations.py). Each test gets a fresh
link at virtual time 0; the decision trace goes into the report. Emulator only.
"""
from __future__ import annotations

import pytest

from atconform.families.quectel_gsm.policy import Chapter6, GsmDriver, Rules
from atconform.families.quectel_gsm.rig import GsmRig
from atconform.power import EmulatorPower
from atconform.verdicts import Deviation
from fixtures.stash import LINK, MARK, TRACE

SRC = "003_fb4b48c054b40738.txt"
# the note's numbers (chapter 6, §5.5)
IDLE, ACK_WAIT, FIRST, EVERY, TRIES, QIDEACT_HOST = 480, 30, 5, 10, 12, 60


def purpose(pid: str, section: str, title: str):
    return pytest.mark.purpose(f"QUECTEL_GSM/CHAPTER6/{pid}", title=title, family="quectel_gsm", command="AT+QISACK",
                               form="scenario", section=section, source=f"{SRC} §{section}", kind="scenario")


pytestmark = [pytest.mark.family("quectel_gsm"),
              pytest.mark.emulator_only("needs fault injection and the virtual clock")]


class Bench:
    """A fresh emulator link, its policy and driver; ``run(flow)`` drives a procedure."""

    def __init__(self, faults=None, mode: int = 0):
        self.rig = GsmRig(faults=faults)
        self.rules = Rules.from_spec(self.rig.family)
        self.modem = self.rig.modem
        if mode:
            self.modem.step("setting:mode=1", {})
        self.policy = Chapter6(self.rules, self.rig.echo.host, self.rig.echo.port)
        emu = self.rig.emulator
        self.driver = GsmDriver(self.rig.channel, EmulatorPower(emu), lambda: emu.path)

    def run(self, flow):
        return self.driver.run(flow)

    def times(self, action_word: str) -> list[float]:
        return [d.t for d in self.policy.trace if action_word in d.action]

    def trace_text(self) -> str:
        return self.policy.trace_text()


@pytest.fixture
def bench(request):
    made = []

    def make(**kw) -> Bench:
        b = Bench(**kw)
        made.append(b)
        request.node.stash[LINK] = b.rig
        request.node.stash[MARK] = 0
        request.node.stash[TRACE] = b.trace_text
        return b

    yield make
    for b in made:
        b.rig.close()


def expect(cond: bool, why: str, b: Bench) -> None:
    if not cond:
        raise Deviation(f"{why}\n{b.trace_text()}")


def near(a: float, b: float) -> bool:
    return abs(a - b) < 0.5


# ----------------------------------------------------------------------------- §6.1
@purpose("6.1/keepalive-healthy", "6.1", "After 8 minutes idle AT+QISACK, nothing unacked: a 10-byte probe, "
         "AT+QISACK 30 s later, acknowledged: the connection is kept")
def test_keepalive_healthy_connection(bench):
    b = bench()
    b.modem.open(0, "TCP", b.rig.echo.host, b.rig.echo.port)
    t0 = b.rig.clock.now()
    got = b.run(b.policy.keepalive())
    sacks = b.times("AT+QISACK")
    expect(got == "alive", f"keep-alive ended {got!r}, expected the connection kept", b)
    expect(len(sacks) == 2 and near(sacks[0], t0 + IDLE) and near(sacks[1] - sacks[0], ACK_WAIT),
           f"AT+QISACK at {sacks}, the note: after {IDLE} s idle (L635), again {ACK_WAIT} s after the probe (L649)", b)
    idx = len(b.rig.echo.received) - 1
    expect(bytes(b.rig.echo.received[idx]) == b"TCP detect", "the probe 'TCP detect' (10 bytes, L645) did not arrive", b)


@purpose("6.1/keepalive-silent-peer", "6.1", "The peer never acknowledges: the probe stays unacknowledged 30 s "
         "later and the connection is re-established (L637)")
def test_keepalive_silent_peer_reestablishes(bench):
    b = bench(faults={"faults": [{"kind": "silent_peer"}]})
    b.modem.open(0, "TCP", b.rig.echo.host, b.rig.echo.port)
    got = b.run(b.policy.keepalive())
    expect(got == "reestablished", f"keep-alive ended {got!r}, expected re-established", b)
    sacks = b.times("AT+QISACK")
    expect(len(sacks) == 2 and near(sacks[1] - sacks[0], ACK_WAIT), f"AT+QISACK at {sacks}", b)


# ----------------------------------------------------------------------------- §6.2
@purpose("6.2/detect-alive", "6.2", "A probe, AT+QISACK 5 s later: acknowledged, the check stops")
def test_detection_of_a_live_connection(bench):
    b = bench()
    b.modem.open(0, "TCP", b.rig.echo.host, b.rig.echo.port)
    t0 = b.rig.clock.now()
    got = b.run(b.policy.detect())
    expect(got == "alive", f"detection ended {got!r}", b)
    tries = [d.t for d in b.policy.trace if d.observation.startswith("try ")]
    expect(len(tries) == 1 and near(tries[0], t0 + FIRST), f"checks at {tries}, the note: once, {FIRST} s after (L655)", b)


@purpose("6.2/detect-half-open", "6.2", "A half-open link: AT+QISACK 5 s after the probe, then every 10 s, 12 "
         "times; still unacknowledged: re-established")
def test_detection_of_a_half_open_link(bench):
    b = bench(faults={"faults": [{"kind": "half_open", "at": 1}]})
    b.modem.open(0, "TCP", b.rig.echo.host, b.rig.echo.port)
    b.rig.clock.sleep(2)
    t0 = b.rig.clock.now()
    got = b.run(b.policy.detect())
    tries = [d.t for d in b.policy.trace if d.observation.startswith("try ")]
    expect(got == "reestablished", f"detection ended {got!r}, expected re-established", b)
    expect(len(tries) == TRIES, f"{len(tries)} checks, the note: at most {TRIES} (L655, L678)", b)
    expect(near(tries[0], t0 + FIRST) and all(near(y - x, EVERY) for x, y in zip(tries, tries[1:])),
           f"checks at {tries}: the note says {FIRST} s, then every {EVERY} s (L655)", b)


# ----------------------------------------------------------------------------- §6.3
@purpose("6.3/closed-was-data", "6.3", "CLOSED read in data mode but sent by the server: +++ gets OK, so it was "
         "data; ATO returns to data mode")
def test_closed_in_data_mode_that_was_data(bench):
    b = bench(mode=1)
    b.modem.expect_ok("AT+QITCFG=3,1,1,1")           # send each byte at once: the echo is immediate
    b.modem.open(0, "TCP", b.rig.echo.host, b.rig.echo.port)
    b.rig.clock.sleep(1)
    # the echo server sends it back at once: data, and +++ must keep the guard from this write
    b.rig.channel.write(b"ping\r\nCLOSED\r\n")
    got = b.run(b.policy.watch(10))
    expect(got == "data", f"§6.3 ended {got!r}, expected 'data' (OK after +++, L684)", b)
    expect(b.rig.channel.engine.framer.data_mode, "not back in data mode after ATO", b)


@purpose("6.3/closed-was-real", "6.3", "The peer really closed in data mode: +++ gets no OK, so AT+QIDEACT")
def test_closed_in_data_mode_that_was_real(bench):
    import socket
    b = bench(mode=1)
    m = b.modem
    r = m.at("AT+QISERVER")
    expect(r.ok, f"AT+QISERVER: {r.final.text}", b)
    ip = m.at("AT+QILOCIP").lines[0]
    port = int(m.at("AT+QILPORT?").lines[0].split(": ")[1])
    c = socket.create_connection((ip, port))
    m.expect_urc("connect", 10, "no CONNECT for the client")
    c.close()
    got = b.run(b.policy.watch(10))
    expect(got == "deactivated", f"§6.3 ended {got!r}, expected AT+QIDEACT (L684)", b)


@purpose("6.3/pdp-deact", "6.3", "+PDP DEACT in data mode from the network: +++ gets no OK, AT+QIDEACT")
def test_pdp_deact_in_data_mode(bench):
    b = bench(mode=1, faults={"faults": [{"kind": "pdp_deact", "at": 20}]})
    b.modem.open(0, "TCP", b.rig.echo.host, b.rig.echo.port)
    got = b.run(b.policy.watch(60))
    expect(got == "deactivated", f"§6.3 ended {got!r}, expected AT+QIDEACT after +PDP DEACT", b)
    expect(b.modem.stack_state() == "IP INITIAL", "AT+QIDEACT did not bring the stack to IP INITIAL", b)


@purpose("6.3/qideact-emerg-off", "5.5", "AT+QIDEACT without DEACT OK within the host's 1 minute: restart by "
         "EMERG_OFF (L558)")
def test_qideact_without_answer_restarts(bench):
    b = bench(faults={"faults": [{"kind": "no_response", "command": "+QIDEACT"}]})
    got = b.run(b.policy.exception("CLOSED"))
    sent, restart = b.times("AT+QIDEACT"), b.times("EMERG_OFF")
    expect(got == "restarted", f"ended {got!r}, expected a restart", b)
    expect(len(sent) == 1 and len(restart) == 1 and near(restart[0] - sent[0], QIDEACT_HOST),
           f"AT+QIDEACT at {sent}, EMERG_OFF at {restart}; the note: after {QIDEACT_HOST} s without DEACT OK (L558)", b)
