"""BG96 Figure 1, "Flow Chart of Using TCP/IP AT Commands" (BG96 TCP/IP AT Commands
Manual chapter 1.1, seed 002): both sides of the vendor's contract with the host.

(a) Timing conformance, on a real modem too: each command of the figure answers within
    the time the figure allows it.
(b) The host's recovery policy (``atconform.families.bg96.policy``), emulator only: for every
    rule, the fault that triggers it and the exact decision trace: actions, order and
    virtual times to the second.
(c) The reboot back-off across 7 failing reboots.
(d) Recovery: once the fault clears, the policy brings the modem back to an open socket
    and a payload round-trips.

The expected traces below are written with the figure's own numbers (60 s, 20 s, 90 s,
150 s, 40 s, 10 s, 5 s x 24, 12 s, 10/30/60 minutes), not read from the spec: a spec
or policy that drifts from the figure fails here.
"""
from __future__ import annotations

import pytest

from atconform.families.bg96.policy import GaveUp
from atconform.families.bg96.session import qiopen_error, qiopen_for
from atconform.protocol.engine import parse_info
from atconform.verdicts import Deviation

SRC = "002_0fb801db6955a51c.txt"
pytestmark = pytest.mark.family("bg96")
EMU_ONLY = pytest.mark.emulator_only("needs the emulator's virtual clock and fault injection")


def purpose(rule: str, title: str, command: str, kind: str = "flowchart"):
    return pytest.mark.purpose(f"BG96/FLOWCHART/{rule}", title=title, family="bg96", command=command,
                               form="flow chart", section="1.1", source=f"{SRC} §1.1 Figure 1", kind=kind)


# ------------------------------------------------------------------ (a) timing, any modem
def timed(modem, line: str, limit: float, **kw):
    """Send ``line``; Deviation unless a successful final result code comes within
    ``limit`` s (the figure's time for it)."""
    r = modem.answered(line, timeout=limit, **kw)
    if r.final.kind not in ("ok", "send_ok", "connect"):
        raise Deviation(f"{line}: {r.final.text}")
    return r


@purpose("timing/startup", "AT, AT+CPIN?, AT+CREG?, AT+CGREG?/AT+CEREG? answer within 60 s; "
         "(U)SIM identified, CS registered", "+CPIN", kind="timing")
def test_startup_commands_answer_in_time(modem):
    """ "You can reboot the module if the module fails to get response in 60s." (note 1);
    "If failed to identify (U)SIM card in 20s, then reboot the module."; "If failed to
    register on CS domain service in 90s, then reboot the module." """
    for line in ("AT", "AT+CPIN?", "AT+CREG?", "AT+CGREG?", "AT+CEREG?"):
        r = timed(modem, line, 60)
        if line == "AT+CPIN?" and "+CPIN: READY" not in r.lines:
            raise Deviation(f"AT+CPIN?: {r.lines}, expected +CPIN: READY")
        if line == "AT+CREG?" and parse_info(r).get("stat") not in (1, 5):
            raise Deviation(f"AT+CREG?: {r.lines}: not registered on CS domain service")


@purpose("timing/context", "AT+QIACT answers within 150 s, AT+QIDEACT within 40 s", "+QIACT", kind="timing")
def test_context_commands_answer_in_time(modem, ixit):
    """ "Reboot the module if there is no response for AT+QIACT in 150s." and "reboot the
    module if there is no response for AT+QIDEACT in 40s." """
    cid = ixit.context_id
    modem.step_context_inactive(cid)
    timed(modem, f'AT+QICSGP={cid},1,"{ixit.apn}","{ixit.username}","{ixit.password.get_secret_value()}",0', 60)
    timed(modem, f"AT+QIACT={cid}", 150)
    timed(modem, "AT+QIACT?", 60)
    timed(modem, f"AT+QIDEACT={cid}", 40)


@purpose("timing/socket", "+QIOPEN URC within 150 s, data acknowledged within 2 minutes "
         "(AT+QISEND=<connectID>,0 every 5 s, 24 times), AT+QICLOSE within 10 s", "+QIOPEN", kind="timing")
def test_socket_commands_answer_in_time(modem, peers, ixit):
    """ "If failed to get response of AT+QIOPEN in 150s, then close connection."; "If the
    package is still not acknowledged after two minutes (query every 5 seconds, 24 times
    in total), the TCP connection may be abnormal."; "Reboot the module if there is no
    response in 10s." (AT+QICLOSE) """
    socket_flow(modem, peers, ixit)


def socket_flow(modem, peers, ixit) -> None:
    """Figure 1 from an active context to a closed socket, each step within its time:
    QIOPEN and its URC, QISEND, acknowledgement polls, QICLOSE. Raises Deviation."""
    echo = peers["tcp_echo"]
    cid, cnid = ixit.context_id, 0
    modem.step_context_active(cid)
    modem.step_socket_closed(cnid)
    timed(modem, f'AT+QIOPEN={cid},{cnid},"TCP","{echo.host}",{echo.port},0,0', 150)
    urc = modem.expect_urc(qiopen_for(cnid), 150, f"no +QIOPEN: {cnid},<err> within 150 s")
    if qiopen_error(urc.text) != 0:
        raise Deviation(f"the connection to the echo peer failed: {urc.text}")
    payload = b"figure 1 maintenance probe"
    r = timed(modem, f"AT+QISEND={cnid},{len(payload)}", 60, data=payload)
    if r.final.text != "SEND OK":
        raise Deviation(f"AT+QISEND: {r.final.text}, expected SEND OK")
    for k in range(24):
        if k:
            modem.ch.clock.sleep(5)
        fields = parse_info(timed(modem, f"AT+QISEND={cnid},0", 60))
        if fields.get("unackedbytes") == 0:
            break
    else:
        raise Deviation("data still unacknowledged after 24 queries 5 s apart (2 minutes)")
    timed(modem, f"AT+QICLOSE={cnid}", 10)


# ------------------------------------------------------- expected traces, figure numbers
QIOPEN = 'AT+QIOPEN=1,0,"TCP","127.0.0.1",<port>,0,0'
QICSGP = 'AT+QICSGP=1,1,"internet","","",0'


def after_registration(t: float) -> list[tuple[float, str]]:
    return [(t, QICSGP), (t, "AT+QIACT=1"), (t, "AT+QIACT?"), (t, QIOPEN), (t, "wait +QIOPEN: 0,"),
            (t, "connected")]


def bring_up(t: float) -> list[tuple[float, str]]:
    """Power-on to an open socket with nothing failing: all at time ``t``."""
    return [(t, "AT"), (t, "AT+CPIN?"), (t, "AT+CREG?"), (t, "AT+CGREG?")] + after_registration(t)


def polls(line: str, start: float, last: float, also: str | None = None) -> list[tuple[float, str]]:
    """``line`` (and ``also``) queried every 1 s from ``start`` to ``last``."""
    out, t = [], start
    while True:
        out.append((t, line))
        if also:
            out.append((t, also))
        if t >= last:
            return out
        out.append((t, "wait 1s"))
        t += 1


def reboot(n: int, t: float, back_off: float = 0) -> list[tuple[float, str]]:
    """Reboot number ``n`` decided at ``t``: back-off, AT+QPOWD, power cut 12 s later, on."""
    out = [(t, f"reboot #{n}: back off {back_off:g}s")] if back_off else []
    t += back_off
    return out + [(t, f"reboot #{n}: AT+QPOWD"), (t + 12, "power off"), (t + 12, "power on"),
                  (t + 12, "find port")]


def actions(bench) -> list[tuple[float, str]]:
    port = str(bench.peer_port)
    return [(d.t, d.action.replace(port, "<port>")) for p in bench.policies for d in p.trace]


def observed(bench, action_prefix: str) -> list[str]:
    return [d.observation for p in bench.policies for d in p.trace if d.action.startswith(action_prefix)]


def expect_trace(bench, expected: list[tuple[float, str]]) -> None:
    got = actions(bench)
    if got != expected:
        for i, (g, e) in enumerate(zip(got, expected)):
            if g != e:
                raise AssertionError(f"decision {i}: got {g}, expected {e}\n" + bench.trace_text())
        raise AssertionError(f"{len(got)} decisions, expected {len(expected)}\n" + bench.trace_text())


def connect(flow_bench, faults: list[dict] | None = None):
    """A bench with ``faults`` and a policy run to an open socket: (bench, policy)."""
    b = flow_bench(faults)
    p = b.policy()
    b.run(p.run())
    return b, p


def round_trip(bench, payload: bytes) -> None:
    """(d): send ``payload`` on the open socket, read the echo back, compare both ends."""
    ch = bench.channel
    r = ch.command(f"AT+QISEND=0,{len(payload)}", data=payload)
    assert r.final.text == "SEND OK", r
    assert ch.wait_urc(lambda u: u.text.startswith('+QIURC: "recv",0'), 10), "no recv URC for the echo"
    r = ch.command("AT+QIRD=0,1500")
    assert r.ok and r.info and r.info[0].payload == payload, r
    assert bytes(bench.peer.received[-1]) == payload


# ------------------------------------------------------------- (b) one rule at a time
@EMU_ONLY
@purpose("baseline", "With no fault, power-on to an open socket takes no retries", "+QIOPEN")
def test_policy_baseline(flow_bench):
    """ "Power on the module" ... "Open connection by AT+QIOPEN" with every step passing. """
    b = flow_bench()
    p = b.policy()
    assert b.run(p.run()) == 0
    expect_trace(b, bring_up(0))
    round_trip(b, b"baseline")


@EMU_ONLY
@purpose("command_response_timeout", "No final result code in 60 s: reboot", "+CREG")
def test_no_response_in_60s_reboots(flow_bench):
    """ "Please note that you need to wait for the final response ... of the last AT command
    you entered before you enter the next AT command. You can reboot the module if the
    module fails to get response in 60s." """
    b, p = connect(flow_bench, [{"kind": "no_response", "command": "+CREG", "form": "read", "times": 1}])
    expect_trace(b, [(0, "AT"), (0, "AT+CPIN?"), (0, "AT+CREG?")] + reboot(1, 60) + bring_up(72))
    assert observed(b, "reboot #1")[0] == "AT+CREG?: no response in 60s"


@EMU_ONLY
@purpose("command_response_timeout/in-time", "A final result code after 59 s is waited for: no reboot",
         "+CREG")
def test_final_result_within_60s_is_waited_for(flow_bench):
    """ "you need to wait for the final response ... of the last AT command you entered
    before you enter the next AT command": a slow answer inside 60 s is not a failure. """
    b, p = connect(flow_bench, [{"kind": "delayed_final", "command": "+CREG", "form": "read", "delay": 59, "times": 1}])
    expect_trace(b, [(0, "AT"), (0, "AT+CPIN?"), (0, "AT+CREG?"), (59, "AT+CGREG?")] + after_registration(59))
    assert p.total_reboots == 0


@EMU_ONLY
@purpose("cpin_ready_within", "(U)SIM not identified in 20 s: reboot", "+CPIN")
def test_sim_not_ready_in_20s_reboots(flow_bench):
    """ "If failed to identify (U)SIM card in 20s, then reboot the module." """
    b, p = connect(flow_bench, [{"kind": "sim_not_ready", "seconds": 25, "boots": 1}])
    expect_trace(b, [(0, "AT")] + polls("AT+CPIN?", 0, 20) + reboot(1, 20) + bring_up(32))
    assert observed(b, "reboot #1")[0] == "AT+CPIN?: not ready after 20s"


@EMU_ONLY
@purpose("cpin_ready_within/in-time", "(U)SIM identified at 19 s: no reboot", "+CPIN")
def test_sim_ready_within_20s_goes_on(flow_bench):
    """ "Identify (U)SIM card" within "20s": the flow goes on without a reboot. """
    b, p = connect(flow_bench, [{"kind": "sim_not_ready", "seconds": 19}])
    expect_trace(b, [(0, "AT")] + polls("AT+CPIN?", 0, 19) + [(19, "AT+CREG?"), (19, "AT+CGREG?")]
                 + after_registration(19))


@EMU_ONLY
@purpose("creg_registered_within", "Not registered on CS domain service in 90 s: reboot", "+CREG")
def test_cs_registration_in_90s_or_reboot(flow_bench):
    """ "If failed to register on CS domain service in 90s, then reboot the module." """
    b, p = connect(flow_bench, [{"kind": "registration_searching", "commands": ["+CREG"], "boots": 1}])
    expect_trace(b, [(0, "AT"), (0, "AT+CPIN?")] + polls("AT+CREG?", 0, 90) + reboot(1, 90) + bring_up(102))


@EMU_ONLY
@purpose("ps_registration_poll", "PS domain polled for 60 s, then the flow goes on registered or not",
         "+CGREG")
def test_ps_registration_polled_60s_then_go_on(flow_bench):
    """ "Query PS service in 60s by AT+CGREG?/AT+CEREG? ... Go to next step no matter
    whether it is registered on PS domain service or not in 60s." """
    b, p = connect(flow_bench, [{"kind": "registration_searching", "commands": ["+CGREG", "+CEREG"]}])
    expect_trace(b, [(0, "AT"), (0, "AT+CPIN?"), (0, "AT+CREG?")]
                 + polls("AT+CGREG?", 0, 60, also="AT+CEREG?") + after_registration(60))
    assert p.total_reboots == 0


@EMU_ONLY
@purpose("qiact_timeout", "No response for AT+QIACT in 150 s: reboot", "+QIACT")
def test_qiact_no_response_in_150s_reboots(flow_bench):
    """ "Reboot the module if there is no response for AT+QIACT in 150s." """
    b, p = connect(flow_bench, [{"kind": "qiact_hang", "times": 1}])
    expect_trace(b, bring_up(0)[:6] + reboot(1, 150) + bring_up(162))
    assert observed(b, "reboot #1")[0] == "AT+QIACT=1: no response in 150s"


@EMU_ONLY
@purpose("qiact_failed", "AT+QIACT fails: deactivate the context, then activate again", "+QIACT")
def test_qiact_failure_deactivates_then_activates(flow_bench):
    """ "Failed to activate the PDP context" -> "Deactivate the PDP context by
    AT+QIDEACT" -> "Activate the PDP context by AT+QIACT". """
    b, p = connect(flow_bench, [{"kind": "error_result", "command": "+QIACT", "form": "write", "times": 1}])
    expect_trace(b, bring_up(0)[:6] + [(0, "AT+QIDEACT=1")] + after_registration(0)[1:])


@EMU_ONLY
@purpose("qideact_timeout", "No response for AT+QIDEACT in 40 s: reboot", "+QIDEACT")
def test_qideact_no_response_in_40s_reboots(flow_bench):
    """ "reboot the module if there is no response for AT+QIDEACT in 40s." """
    b, p = connect(flow_bench, [{"kind": "error_result", "command": "+QIACT", "form": "write", "times": 1},
                    {"kind": "no_response", "command": "+QIDEACT", "times": 1}])
    expect_trace(b, bring_up(0)[:6] + [(0, "AT+QIDEACT=1")] + reboot(1, 40) + bring_up(52))


@EMU_ONLY
@purpose("qideact_failures_before_reboot", "AT+QIDEACT fails 3 times in a row: reboot", "+QIDEACT")
def test_three_qideact_failures_reboot(flow_bench):
    """ "If failed to deactivate the PDP context for 3 times continuously, then reboot the
    module." """
    b, p = connect(flow_bench, [{"kind": "error_result", "command": "+QIACT", "form": "write", "times": 1},
                    {"kind": "error_result", "command": "+QIDEACT", "times": 3}])
    expect_trace(b, bring_up(0)[:6] + [(0, "AT+QIDEACT=1")] * 3 + reboot(1, 0) + bring_up(12))
    assert observed(b, "reboot #1")[0] == "AT+QIDEACT=1: failed 3 times in a row"


@EMU_ONLY
@purpose("qideact_failures_before_reboot/two", "AT+QIDEACT fails twice, then succeeds: no reboot",
         "+QIDEACT")
def test_two_qideact_failures_do_not_reboot(flow_bench):
    """ "for 3 times continuously": two failures are not yet a reason to reboot. """
    b, p = connect(flow_bench, [{"kind": "error_result", "command": "+QIACT", "form": "write", "times": 1},
                    {"kind": "error_result", "command": "+QIDEACT", "times": 2}])
    expect_trace(b, bring_up(0)[:6] + [(0, "AT+QIDEACT=1")] * 3 + after_registration(0)[1:])
    assert p.total_reboots == 0


@EMU_ONLY
@purpose("qiopen_urc_timeout", "No +QIOPEN URC in 150 s: close the connection", "+QIOPEN")
def test_no_qiopen_urc_in_150s_closes(flow_bench):
    """ "If failed to get response of AT+QIOPEN in 150s, then close connection." """
    b, p = connect(flow_bench, [{"kind": "qiopen_urc", "err": None, "times": 1}])
    expect_trace(b, bring_up(0)[:-1] + [(150, "AT+QICLOSE=0"), (150, QIOPEN), (150, "wait +QIOPEN: 0,"),
                                        (150, "connected")])
    assert observed(b, "AT+QICLOSE=0") == ["no +QIOPEN: 0, URC in 150s"]


@EMU_ONLY
@purpose("qiopen_failures_before_reactivation", "5 failed opens in a row: deactivate, activate, open again",
         "+QIOPEN")
def test_five_open_failures_reactivate_the_context(flow_bench):
    """ "If failed to open connection for 5 times continuously, deactivate the PDP context
    first, and then re-activate the PDP context and open connection again." """
    b, p = connect(flow_bench, [{"kind": "qiopen_urc", "err": 566, "times": 5}])
    failed_open = [(0, QIOPEN), (0, "wait +QIOPEN: 0,"), (0, "AT+QICLOSE=0")]
    expect_trace(b, bring_up(0)[:7] + failed_open * 5 + [(0, "AT+QIDEACT=1"), (0, "AT+QIACT=1"), (0, "AT+QIACT?"),
                                                       (0, QIOPEN), (0, "wait +QIOPEN: 0,"), (0, "connected")])
    assert observed(b, "AT+QIDEACT=1") == ["AT+QIOPEN failed 5 times in a row"]


@EMU_ONLY
@purpose("qiopen_failures_before_reactivation/four", "4 failed opens: the context is kept", "+QIOPEN")
def test_four_open_failures_keep_the_context(flow_bench):
    """ "for 5 times continuously": after four failures the fifth attempt just opens. """
    b, p = connect(flow_bench, [{"kind": "qiopen_urc", "err": 566, "times": 4}])
    failed_open = [(0, QIOPEN), (0, "wait +QIOPEN: 0,"), (0, "AT+QICLOSE=0")]
    expect_trace(b, bring_up(0)[:7] + failed_open * 4 + [(0, QIOPEN), (0, "wait +QIOPEN: 0,"), (0, "connected")])


@EMU_ONLY
@purpose("qiclose_timeout", "No response for AT+QICLOSE in 10 s: reboot", "+QICLOSE")
def test_qiclose_no_response_in_10s_reboots(flow_bench):
    """ "Reboot the module if there is no response in 10s." (AT+QICLOSE) and note 2:
    "Reboot the module if the module has not got response ... of AT+QICLOSE in 10s". """
    b, p = connect(flow_bench, [{"kind": "qiopen_urc", "err": None, "times": 1},
                    {"kind": "no_response", "command": "+QICLOSE", "times": 1}])
    expect_trace(b, bring_up(0)[:-1] + [(150, "AT+QICLOSE=0")] + reboot(1, 160) + bring_up(172))
    assert observed(b, "reboot #1")[0] == "AT+QICLOSE=0: no response in 10s"


def ack_polls(start: float, count: int) -> list[tuple[float, str]]:
    out = []
    for k in range(1, count + 1):
        out += [(start + 5 * (k - 1), "wait 5s"), (start + 5 * k, "AT+QISEND=0,0")]
    return out


@EMU_ONLY
@purpose("ack_poll", "Unacknowledged after 24 queries 5 s apart: AT+QICLOSE, then AT+QIOPEN", "+QISEND")
def test_unacked_for_two_minutes_reopens(flow_bench):
    """ "If the package is still not acknowledged after two minutes (query every 5 seconds,
    24 times in total), the TCP connection may be abnormal. Execute AT+QICLOSE to close the
    current connection, and then execute AT+QIOPEN to re-establish the TCP connection." """
    b, p = connect(flow_bench, [{"kind": "no_ack"}])
    acked = b.run(p.maintain(b"keepalive"))
    assert acked is False
    expect_trace(b, bring_up(0) + [(0, "AT+QISEND=0,9")] + ack_polls(0, 24)
                 + [(120, "AT+QICLOSE=0"), (120, QIOPEN), (120, "wait +QIOPEN: 0,"), (120, "connected")])


@EMU_ONLY
@purpose("ack_poll/acked", "Acknowledged at the first query: the connection is kept", "+QISEND")
def test_acked_data_keeps_the_connection(flow_bench):
    """ "Query sending ACK by AT+QISEND=<connectID>,0" -> "Get ACK": keep sending. """
    b, p = connect(flow_bench)
    assert b.run(p.maintain(b"keepalive")) is True
    expect_trace(b, bring_up(0) + [(0, "AT+QISEND=0,9")] + ack_polls(0, 1))


# ------------------------------------------------------------------ (c) back-off
@EMU_ONLY
@purpose("reboot_backoff", "7 failing reboots: 3 at once, then immediately, 10 min, 30 min, 1 hour",
         "+QPOWD")
def test_backoff_across_seven_failing_reboots(flow_bench):
    """ "When the module has been continuously rebooted for 3 times due to failed AT
    command execution, it can be rebooted immediately for the first time after that. If it
    still fails, reboot the module after 10 minutes for the second time, and reboot after
    30 minutes for the third time, one hour for the fourth time, etc." """
    b = flow_bench([{"kind": "sim_not_ready", "seconds": 100000}])
    p = b.policy(max_reboots=7)
    with pytest.raises(GaveUp):
        b.run(p.run())
    qpowd = [t for t, a in actions(b) if a.endswith("AT+QPOWD")]
    # each boot: 20 s of AT+CPIN? polls, then the reboot; AT+QPOWD to power-on is 12 s
    assert qpowd == [20, 52, 84, 116, 148 + 600, 780 + 1800, 2612 + 3600], qpowd
    backoffs = [(t, a) for t, a in actions(b) if "back off" in a]
    assert backoffs == [(148, "reboot #5: back off 600s"), (780, "reboot #6: back off 1800s"),
                        (2612, "reboot #7: back off 3600s")]
    assert p.trace[-1].t == 6244 and p.total_reboots == 8


# ------------------------------------------------------------------ (d) recovery
@EMU_ONLY
@purpose("recovery/dead", "A modem that stops answering is rebooted and serves a socket again", "AT")
def test_recovery_from_a_dead_modem(flow_bench):
    """ "You can reboot the module if the module fails to get response in 60s." then the
    whole flow again to "Send data by AT+QISEND". """
    b, p = connect(flow_bench, [{"kind": "dead", "at": 0, "boots": 1}])
    expect_trace(b, [(0, "AT")] + reboot(1, 60) + bring_up(72))
    round_trip(b, b"back from the dead")


@purpose("recovery/power-cycle", "Figure 1's power cycle through the modem's power switch (the emulator's, "
         "a labgrid place's power driver, the IXIT's commands): AT+QPOWD, POWERED DOWN, the power cut 12 s or "
         "more later and restored; the module then answers and serves a socket", "+QPOWD")
def test_power_cycle_brings_the_module_back(modem, peers, ixit):
    """ "Power off: Send AT+QPOWD command, and then cut off power after 12s or more.", then
    "Power on the module" -> "Send AT command and wait for the module to respond OK" and
    the flow down to "Send data by AT+QISEND". The power cycle is the family's one
    (``lab_power_cycle`` on the plug-in), whichever switch the run has; without one the
    verdict is inconclusive. """
    ch = modem.ch
    mark, start = ch.transcript.mark(), ch.clock.now()
    modem.step_power_cycle()
    took = ch.clock.now() - start
    entries = ch.transcript.entries(mark)
    sent = b"".join(e.data for e in entries if e.direction == "tx")
    heard = b"".join(e.data for e in entries if e.direction == "rx")
    if b"AT+QPOWD" not in sent:
        raise Deviation("the power cycle did not start with AT+QPOWD (Figure 1: 'Send AT+QPOWD command')")
    if b"POWERED DOWN" not in heard:
        raise Deviation("no POWERED DOWN after AT+QPOWD")
    if took < 12:
        raise Deviation(f"the module was back {took:.1f} s after AT+QPOWD: the power was cut before 12 s")
    socket_flow(modem, peers, ixit)


@EMU_ONLY
@purpose("recovery/pdpdeact", "After a network-side pdpdeact the policy re-activates and reconnects",
         "+QIOPEN")
def test_recovery_from_network_deactivation(flow_bench):
    """The network drops the context (+QIURC: "pdpdeact"); the next AT+QISEND fails, so the
    connection is closed and opened again; five failed opens (no context) lead to "deactivate
    the PDP context first, and then re-activate the PDP context and open connection again". """
    b, p = connect(flow_bench, [{"kind": "pdpdeact", "at": 1, "boots": 1}])
    b.channel.clock.sleep(2)
    assert b.channel.wait_urc(lambda u: "pdpdeact" in u.text, 1) is not None
    assert b.run(p.maintain(b"probe")) is False
    failed_open = [(2, QIOPEN)]
    expect_trace(b, bring_up(0) + [(2, "AT+QISEND=0,5"), (2, "AT+QICLOSE=0")] + failed_open * 5
                 + [(2, "AT+QIDEACT=1"), (2, "AT+QIACT=1"), (2, "AT+QIACT?"), (2, QIOPEN),
                    (2, "wait +QIOPEN: 0,"), (2, "connected")])
    assert observed(b, "AT+QIDEACT=1") == ["AT+QIOPEN failed 5 times in a row"]
    round_trip(b, b"after pdpdeact")


@EMU_ONLY
@purpose("recovery/spontaneous-reboot", "The modem reboots by itself; the port comes back under another "
         "path and the policy starts over", "AT")
def test_recovery_from_a_spontaneous_reboot(flow_bench):
    """ "Power on the module" -> "Send AT command and wait for the module to respond OK":
    after a reboot the host starts the figure from the top, on the port found again. """
    b, p = connect(flow_bench, [{"kind": "reboot", "at": 30, "down": 5, "boots": 1}])
    first_path = b.channel.url
    b.channel.clock.sleep(40)    # the modem reboots at 30 s, is back at 35 s
    assert b.run(p.maintain(b"probe")) is False
    assert b.channel.url != first_path, "the re-enumerated port was not found again"
    assert p.total_reboots == 0    # no power cycle needed: the port was found again
    assert actions(b)[-1][1] == "connected"
    round_trip(b, b"after a spontaneous reboot")


@EMU_ONLY
@purpose("determinism", "The same fault plan gives the same decision trace every time", "+QIACT")
def test_traces_are_identical_across_runs(flow_bench):
    """Virtual time: the trace depends on the figure's numbers and the faults only. """
    faults = [{"kind": "qiact_hang", "times": 1}, {"kind": "qiopen_urc", "err": 566, "times": 5},
              {"kind": "sim_not_ready", "seconds": 3, "boots": 2}]
    traces = []
    for _ in range(20):
        b = flow_bench(faults)
        p = b.policy()
        b.run(p.run())
        traces.append(actions(b))
        b.close()
    assert all(t == traces[0] for t in traces), "decision traces differ between runs"
