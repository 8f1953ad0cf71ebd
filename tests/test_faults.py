"""Runtime fault injection in the BG96 emulator (atconform.emulator.faults), through a
real pty as a host sees it. Times are the emulator clock's; delays are kept small, and
no upper bound is tighter than a few seconds (shared, noisy machines)."""
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atconform.cli import main
from atconform.emulator import Emulator
from atconform.emulator.faults import FaultEvent, FaultPlan, FaultState
from atconform.protocol.engine import parse_info
from atconform.transport.channel import Channel, NoFinalResult

EXAMPLE = Path(__file__).resolve().parents[1] / "atconform" / "emulator" / "faults_example.yaml"
QUIET = 0.5       # seconds of silence that stand for "no response"


def plan(*faults, seed=0):
    return FaultPlan.model_validate({"seed": seed, "faults": list(faults)})


@pytest.fixture
def rig(bg96_spec):
    """``rig(plan)`` -> (emulator, channel) with ATE0 done; both closed afterwards."""
    made = []

    def make(faults=None):
        emu = Emulator("bg96", faults=faults).start()
        ch = Channel(bg96_spec, emu.path).open()
        made.append((emu, ch))
        assert ch.command("ATE0").ok
        return emu, ch

    yield make
    for emu, ch in made:
        ch.close()
        emu.stop()
        assert not emu.loop.errors, f"emulator callbacks raised: {emu.loop.errors}"


def silent(ch, line):
    """True when ``line`` gets no final result code within QUIET seconds."""
    with pytest.raises(NoFinalResult):
        ch.command(line, timeout=QUIET)
    return True


def kinds(emu):
    return [e.kind for e in emu.fault_log]


def open_tcp(ch, cnid, port, mode=0):
    return ch.command(f'AT+QIOPEN=1,{cnid},"TCP","127.0.0.1",{port},0,{mode}', timeout=5)


# ------------------------------------------------------------------- command faults
def test_no_response_once_then_the_same_command_answers(rig):
    emu, ch = rig(plan({"kind": "no_response", "command": "AT", "times": 1}))
    assert silent(ch, "AT")
    assert ch.command("AT").ok                          # spent after one; modem took the line
    assert kinds(emu) == ["no_response"]
    ev = emu.fault_log[0]
    assert isinstance(ev, FaultEvent) and ev.time <= emu.loop.clock.now() and "AT" in ev.what


def test_skip_form_and_times(rig):
    _, ch = rig(plan({"kind": "no_response", "command": "+CPIN", "form": "read", "skip": 1, "times": 1}))
    assert ch.command("AT+CPIN=?").ok                   # other form: not matched
    assert ch.command("AT+CPIN?").lines == ["+CPIN: READY"]   # skipped
    assert silent(ch, "AT+CPIN?")
    assert ch.command("AT+CPIN?").lines == ["+CPIN: READY"]   # spent


def test_qiact_hang_then_qiact_works(rig):
    emu, ch = rig(plan({"kind": "qiact_hang", "times": 1}))
    assert ch.command("AT+QIACT?").ok                   # read form is not the hang
    assert silent(ch, "AT+QIACT=1")
    assert ch.command("AT+QIACT?").lines == []          # nothing was activated
    assert ch.command("AT+QIACT=1").ok
    assert ch.command("AT+QIACT?").lines == ['+QIACT: 1,1,1,"127.0.0.1"']
    assert kinds(emu) == ["qiact_hang"]


def test_error_result_obeys_cmee_and_sets_qigeterror(rig):
    _, ch = rig(plan({"kind": "error_result", "command": "+QIACT", "form": "write", "cme": 561, "times": 2},
                       {"kind": "error_result", "command": "+QIDEACT"},
                       {"kind": "error_result", "command": "+CPIN", "form": "read", "cme": 10}))
    assert ch.command("AT+QIACT=1").final.text == "ERROR"
    assert ch.command("AT+QIGETERROR").lines == ["+QIGETERROR: 561, open pdp context failed"]
    assert ch.command("AT+CMEE=1").ok
    r = ch.command("AT+QIACT=1")
    assert r.final.text == "+CME ERROR: 561" and r.final.code == 561
    assert ch.command("AT+QIACT=1").ok                  # times 2: spent
    assert ch.command("AT+QIDEACT=1").final.text == "ERROR"      # no cme: plain ERROR
    assert ch.command("AT+QIGETERROR").lines == ["+QIGETERROR: 550, unknown error"]
    assert ch.command("AT+QIACT?").lines != []          # the context stayed active
    assert ch.command("AT+CPIN?").final.text == "+CME ERROR: 10"
    assert ch.command("AT+CMEE=2").ok
    assert ch.command("AT+CPIN?").final.text == "+CME ERROR: SIM not inserted"


def test_malformed_line_keeps_its_error(rig):
    emu, ch = rig(plan({"kind": "no_response", "command": "+QIACT"}))
    assert ch.command("AT+QIACT=17").final.text == "ERROR"     # spec rejects it: no fault
    assert emu.fault_log == []


def test_delayed_final_holds_result_and_what_follows(rig, echo):
    emu, ch = rig(plan({"kind": "delayed_final", "command": "+QIOPEN", "delay": 0.3},
                       {"kind": "delayed_final", "command": "+QIACT", "form": "read", "delay": 0.3}))
    clock = emu.loop.clock
    assert ch.command("AT+QIACT=1").ok
    t = clock.now()
    r = ch.command("AT+QIACT?")
    assert clock.now() - t >= 0.29 and r.lines == ['+QIACT: 1,1,1,"127.0.0.1"']
    t = clock.now()
    r = open_tcp(ch, 0, echo.port)
    took = clock.now() - t
    assert r.ok and 0.29 <= took < 5
    assert r.urcs == []                                 # +QIOPEN URC is behind the held OK
    assert ch.wait_urc("qiopen", 5).text == "+QIOPEN: 0,0"
    assert kinds(emu) == ["delayed_final", "delayed_final"]


# ----------------------------------------------------------------- condition faults
def test_sim_not_ready_then_ready(rig):
    emu, ch = rig(plan({"kind": "sim_not_ready", "seconds": 0.5}))
    assert ch.command("AT+CMEE=1").ok
    boot = emu.call(lambda m: m.boot_time)
    r = ch.command("AT+CPIN?")
    if emu.loop.clock.now() - boot < 0.45:             # (a very slow machine may be past it)
        assert r.final.text == "+CME ERROR: 14" and r.lines == []
    deadline = time.monotonic() + 5
    while (r := ch.command("AT+CPIN?")).lines != ["+CPIN: READY"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.lines == ["+CPIN: READY"] and r.ok
    assert emu.loop.clock.now() - boot >= 0.5


def test_registration_searching(rig):
    _, ch = rig(plan({"kind": "registration_searching", "commands": ["+CREG"]},
                       {"kind": "registration_searching", "commands": ["+CEREG"], "seconds": 0.2}))
    assert ch.command("AT+CREG?").lines == ["+CREG: 0,2"]
    assert ch.command("AT+CGREG?").lines == ["+CGREG: 0,1"]
    time.sleep(0.3)
    assert ch.command("AT+CEREG?").lines == ["+CEREG: 0,1"]
    assert ch.command("AT+CREG?").lines == ["+CREG: 0,2"]    # seconds None: all boot long


def test_boots_1_clears_after_power_cycle(rig):
    emu, ch = rig(plan({"kind": "sim_not_ready", "seconds": 600, "boots": 1},
                       {"kind": "registration_searching", "boots": 2}))
    assert ch.command("AT+CPIN?").final.text == "ERROR"     # AT+CMEE=0
    emu.power_cycle()
    assert ch.wait_urc("rdy", 5) is not None
    assert ch.command("ATE0").ok
    assert ch.command("AT+CPIN?").lines == ["+CPIN: READY"]
    assert ch.command("AT+CGREG?").lines == ["+CGREG: 0,2"]  # boots 2: still on
    emu.power_cycle()
    assert ch.wait_urc("rdy", 5) is not None
    assert ch.command("ATE0").ok
    assert ch.command("AT+CGREG?").lines == ["+CGREG: 0,1"]
    assert emu.call(lambda m: m.boot_count) == 3


def test_qiopen_urc_err_566_then_next_open_connects(rig, echo):
    _, ch = rig(plan({"kind": "qiopen_urc", "err": 566, "times": 1}))
    assert ch.command("AT+QIACT=1").ok
    assert open_tcp(ch, 0, echo.port).ok
    assert ch.wait_urc("qiopen", 5).text == "+QIOPEN: 0,566"
    assert ch.command("AT+QIGETERROR").lines == ["+QIGETERROR: 566, socket connect failed"]
    assert ch.command("AT+QISTATE=1,0").lines == []       # failed socket is gone
    assert open_tcp(ch, 0, echo.port).ok
    assert ch.wait_urc("qiopen", 5).text == "+QIOPEN: 0,0"


def test_qiopen_urc_none_leaves_socket_opening(rig, echo):
    _, ch = rig(plan({"kind": "qiopen_urc"}))
    assert ch.command("AT+QIACT=1").ok
    assert open_tcp(ch, 0, echo.port).ok
    assert ch.wait_urc("qiopen", QUIET) is None
    r = ch.command("AT+QISTATE=1,0")
    assert parse_info(r)["socket_state"] == 1             # Opening
    assert ch.command("AT+QICLOSE=0").ok                  # Figure 1: "then close connection"
    # transparent mode: no CONNECT and no ERROR, but the modem takes the next line
    assert silent(ch, f'AT+QIOPEN=1,1,"TCP","127.0.0.1",{echo.port},0,2')
    assert parse_info(ch.command("AT+QISTATE=1,1"))["socket_state"] == 1
    assert ch.command("AT+QICLOSE=1").ok
    assert echo.received == []                            # nothing ever connected


def test_no_ack_reports_all_sent_bytes_unacked(rig, echo):
    _, ch = rig(plan({"kind": "no_ack", "connect_ids": [0]}))
    assert ch.command("AT+QIACT=1").ok
    for cnid in (0, 1):
        assert open_tcp(ch, cnid, echo.port).ok
        assert ch.wait_urc("qiopen", 5).text == f"+QIOPEN: {cnid},0"
        assert ch.command(f"AT+QISEND={cnid},5", data=b"hello").final.text == "SEND OK"
    assert ch.command("AT+QISEND=0,0").lines == ["+QISEND: 5,0,5"]
    deadline = time.monotonic() + 5
    while (r := ch.command("AT+QISEND=1,0")).lines != ["+QISEND: 5,5,0"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.lines == ["+QISEND: 5,5,0"]                  # other socket: acked as usual
    while len(echo.received) < 2 or any(bytes(b) != b"hello" for b in echo.received):
        assert time.monotonic() < deadline
        time.sleep(0.02)                                  # the data really went out
    assert ch.command("AT+QISEND=0,0").lines == ["+QISEND: 5,0,5"]


# -------------------------------------------------------------------- timed faults
def test_pdpdeact_at_time_after_power_on(rig, echo):
    emu, ch = rig()
    assert ch.command("AT+QIACT=1").ok
    assert open_tcp(ch, 0, echo.port).ok
    assert ch.wait_urc("qiopen", 5) is not None
    boot, now = emu.call(lambda m: (m.boot_time, m.clock.now()))
    at = now - boot + 0.3                                 # relative to the latest power-on
    emu.set_faults(plan({"kind": "pdpdeact", "at": at, "cid": 1}))
    assert ch.wait_urc("pdpdeact", 5).text == '+QIURC: "pdpdeact",1'
    assert emu.fault_log[-1].kind == "pdpdeact" and emu.fault_log[-1].time - boot >= at
    assert ch.command("AT+QIACT?").lines == []
    assert parse_info(ch.command("AT+QISTATE=1,0"))["socket_state"] == 4     # Closing


def test_dead_until_power_cycle(rig):
    emu, ch = rig()
    emu.set_faults(plan({"kind": "dead", "boots": 1}))    # at 0: already passed, fires now
    assert silent(ch, "AT")
    assert emu.powered
    assert kinds(emu) == ["dead"]
    emu.power_cycle()
    assert ch.wait_urc("rdy", 5) is not None
    assert ch.command("AT").ok                            # boots 1: boot 2 is healthy


def test_power_switch_off_on(rig):
    emu, ch = rig()
    assert ch.command("AT+QIACT=1").ok
    emu.power_off()
    assert not emu.powered
    assert silent(ch, "AT")
    emu.power_on()
    assert emu.powered
    assert ch.wait_urc("rdy", 5) is not None
    emu.power_on()                                        # already on: nothing happens
    assert ch.command("ATE0").ok
    assert ch.command("AT+QIACT?").lines == []
    assert emu.call(lambda m: m.boot_count) == 2
    assert ch.wait_urc("rdy", 0.2) is None


def test_spontaneous_reboot_resets_state_and_sends_rdy(rig):
    emu, ch = rig(plan({"kind": "reboot", "at": 0.3, "down": 0.2, "boots": 1}))
    boot1 = emu.call(lambda m: m.boot_time)
    assert ch.command("AT+CMEE=1").ok
    assert ch.wait_urc("rdy", 5) is not None
    boot2, count, cmee = emu.call(lambda m: (m.boot_time, m.boot_count, m.cmee))
    assert count == 2 and cmee == 0                        # settings back to defaults
    ev = emu.fault_log[0]
    assert ev.kind == "reboot" and ev.time - boot1 >= 0.3 and boot2 - ev.time >= 0.2
    assert ch.command("ATE0").ok and ch.command("AT+CMEE?").lines == ["+CMEE: 0"]
    assert ch.wait_urc("rdy", QUIET) is None               # boots 1: no second reboot


# ------------------------------------------------------------------- reproducibility
def test_probability_is_reproducible_with_a_seed(rig):
    p = plan({"kind": "error_result", "command": "AT", "probability": 0.5}, seed=7)
    emu, ch = rig(p)

    def run():
        return [ch.command("AT").ok for _ in range(16)]

    first = run()
    emu.set_faults(p)                                     # fresh generator and counters
    assert run() == first
    assert True in first and False in first
    rng = random.Random(7)
    assert first == [not rng.random() < 0.5 for _ in range(16)]
    state_a, state_b = FaultState(p), FaultState(p)       # the plan itself holds no state
    draws = [[s.command(("error_result",), "", "AT", "execute", 1) is not None for _ in range(8)]
             for s in (state_a, state_b)]
    assert draws[0] == draws[1]


def test_set_faults_none_and_unknown_command(rig):
    emu, ch = rig(plan({"kind": "no_response", "command": "AT"}))
    assert emu.faults is not None
    emu.faults = None
    assert ch.command("AT").ok
    with pytest.raises(ValueError, match="no command"):
        emu.set_faults(plan({"kind": "no_response", "command": "+NOPE"}))
    with pytest.raises(ValueError, match="no read form"):
        emu.set_faults(plan({"kind": "no_response", "command": "+QIOPEN", "form": "read"}))
    assert emu.faults is None


# ------------------------------------------------------------------- YAML and CLI
def test_example_plan_loads(bg96_spec):
    p = FaultPlan.load(EXAMPLE)
    p.check(bg96_spec)
    assert p.seed == 42
    assert {f.kind for f in p.faults} >= {"sim_not_ready", "qiact_hang", "qiopen_urc", "pdpdeact"}
    assert FaultPlan.model_validate(p.model_dump()) == p


@pytest.mark.parametrize("text, says", [
    ("faults: [{kind: explode}]", "kind"),
    ("faults: [{kind: qiact_hang, colour: red}]", "colour"),
    ("faults: [{kind: no_response, command: +NOPE}]", "+NOPE"),
    ("faults: [{kind: reboot, at: -1}]", "at"),
    ("faults: [unclosed", "bad fault plan"),
])
def test_cli_bad_fault_plan_is_exit_2_with_message(tmp_path, capsys, text, says):
    f = tmp_path / "plan.yaml"
    f.write_text(text)
    assert main(["emulate", "--model", "bg96", "--faults", str(f)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "bad fault plan" in out.err and says in out.err and "Traceback" not in out.err


def test_cli_missing_fault_file_exits_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "atconform.cli", "emulate", "--model", "bg96",
                        "--faults", str(tmp_path / "nope.yaml")], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 2
    assert "bad fault plan" in r.stderr and "Traceback" not in r.stderr and r.stdout == ""


def test_cli_with_example_plan_prints_pty_line(tmp_path):
    p = subprocess.Popen([sys.executable, "-m", "atconform.cli", "emulate", "--model", "bg96",
                          "--faults", str(EXAMPLE)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("PTY /dev/pts/"), line
    finally:
        p.terminate()
        _, err = p.communicate(timeout=10)
    assert "fault(s) from" in err and "Traceback" not in err and p.returncode == 0


def test_reenumerate_gives_a_new_pty_after_power_loss(bg96_spec):
    emu = Emulator("bg96", reenumerate=True, faults=plan({"kind": "reboot", "at": 0.2, "down": 0.1,
                                                          "boots": 1})).start()
    try:
        first = emu.port
        deadline = time.monotonic() + 5
        while emu.call(lambda m: m.boot_count) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = emu.port
        # a new pty; the kernel may hand out the same number again (as USB may)
        assert second is not first and first.closed and emu.path.startswith("/dev/pts/")
        with Channel(bg96_spec, emu.path) as ch:
            assert ch.command("AT").ok     # (RDY went out before the port was opened: lost)
            emu.power_cycle()
            assert emu.port is not second and second.closed
        with Channel(bg96_spec, emu.path) as ch:
            assert ch.command("AT+QPOWD").ok
            third = emu.port
            emu.power_on()                                # off by AT+QPOWD: boots, same port
            assert emu.port is third
            assert ch.wait_urc("rdy", 5) is not None and ch.command("AT").ok
    finally:
        emu.stop()
    assert not emu.loop.errors


def test_faults_run_on_the_virtual_clock(bg96_spec):
    """Minutes of Figure 1 timeouts in well under a second of wall time."""
    from atconform.clock import VirtualClock

    clock = VirtualClock()
    clock.attach("harness")
    emu = Emulator("bg96", clock=clock, faults=plan({"kind": "sim_not_ready", "seconds": 20, "boots": 1},
                                                    {"kind": "qiact_hang", "times": 1},
                                                    {"kind": "reboot", "at": 300, "down": 5})).start()
    ch = Channel(bg96_spec, emu.path, clock=clock).open()
    wall = time.monotonic()
    try:
        assert ch.command("AT+CMEE=1").ok
        assert ch.command("AT+CPIN?").final.text == "+CME ERROR: 14"
        clock.sleep(20)
        assert ch.command("AT+CPIN?").lines == ["+CPIN: READY"]
        with pytest.raises(NoFinalResult):
            ch.command("AT+QIACT=1", timeout=150)          # "no response for AT+QIACT in 150s"
        assert clock.now() >= 170
        assert ch.command("AT+QIACT=1").ok
        assert ch.wait_urc("rdy", 200) is not None
        assert [e.kind for e in emu.fault_log] == ["sim_not_ready", "qiact_hang", "reboot"]
        assert emu.fault_log[-1].time == pytest.approx(300, abs=0.5)
        assert clock.now() >= 305 and ch.command("AT+QIACT?").lines == []
    finally:
        ch.close()
        emu.stop()
        clock.detach()
    assert time.monotonic() - wall < 15                   # generous: a shared machine
    assert not emu.loop.errors
