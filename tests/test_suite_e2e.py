"""The conformance suite end to end, as a user runs it, in subprocesses:

* the default run passes every BG96 test purpose against the built-in emulator and
  writes both reports;
* ``pytest --port <pty> --model bg96`` against ``atconform emulate --model bg96 --pty``
  gives the same verdicts, emulator-only purposes skipped with a reason;
* planted defects (a wrong range in a test response, a missing OK) make it FAIL.
"""
import json

import pytest

from atconform.casegen import generate
from atconform.spec import load_family
from suite_run import (DEFAULT_RUN, defects_file, early_result, emulated_port, port_early, run,
                       skip_inside_a_run, verdict_differences)

skip_inside_a_run()

PURPOSES = generate(load_family("bg96"))
PORT_RUN = port_early("bg96")


@DEFAULT_RUN
def test_default_run_passes_every_purpose_and_writes_reports():
    r = early_result("default")
    assert r.proc.returncode == 0, r.tail()
    # BG96's purposes here; each other family's end-to-end test checks its own
    verdicts = r.passes_every_purpose(PURPOSES, "BG96/")
    scenarios = {k for k in verdicts if k.startswith("BG96/SCENARIO/")}
    assert len(scenarios) >= 15, scenarios
    assert r.report["complete"] is True
    assert "BG96MAR02A07M1G" in json.dumps(r.family("bg96")["firmware"])
    html = (r.reports / "compliance.html").read_text()
    assert "BG96/QIOPEN/WRITE/default/connectID/above-max" in html and "BG96MAR02A07M1G" in html
    lines = (r.reports / "results.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "end"


@DEFAULT_RUN
@PORT_RUN
def test_port_mode_gives_the_same_verdicts():
    r = early_result("port-bg96")
    assert r.extra["emulator_returncode"] == 0
    assert r.proc.returncode == 0, r.tail()
    report, verdicts = r.report, r.verdicts
    assert report["runs"][0]["mode"] == "port"
    flagged = {p["purpose"] for fam in report["families"] for c in fam["commands"] for p in c["purposes"]
               if p["emulator_only"]}
    emulator_only = {p.id for p in PURPOSES if p.emulator_only} | {"BG96/SCENARIO/2.2.5/pdpdeact"} | flagged
    # Figure 1: timing conformance runs on the port; the recovery-policy tests need the
    # emulator's virtual clock and faults and say so
    flow = {pid: v for pid, v in verdicts.items() if pid.startswith("BG96/FLOWCHART/")}
    assert {pid for pid in flow if pid.startswith("BG96/FLOWCHART/timing/")} == {
        "BG96/FLOWCHART/timing/startup", "BG96/FLOWCHART/timing/context", "BG96/FLOWCHART/timing/socket"}
    recovery = "BG96/FLOWCHART/recovery/power-cycle"     # any modem, given power control
    for pid, (verdict, reason) in flow.items():
        if pid.startswith("BG96/FLOWCHART/timing/"):
            assert verdict == "pass", (pid, reason)
        elif pid == recovery:
            assert verdict == "inconclusive" and "no power control" in reason, (pid, verdict, reason)
        else:
            assert verdict == "skipped" and "virtual clock and fault injection" in reason, (pid, verdict, reason)
    assert len(flow) >= 20
    # the purposes that power the module down need the lab's power switch, absent here
    needs_power = {p.id for p in PURPOSES if "power_cycle" in p.preconditions + p.cleanup}
    assert needs_power

    def expected(pid):
        if pid == recovery:
            return "inconclusive", "no power control"
        if pid in needs_power:
            return "skipped", "needs the lab's power control"
        if pid in emulator_only:
            return "skipped", "emulator only"
        return None

    assert not verdict_differences(verdicts, early_result("default").verdicts, expected)


def planted(tmp_path, defects: dict, *args: str):
    r = run(tmp_path / "reports", "--emulator-defects", defects_file(tmp_path, **defects), *args, timeout=900)
    return r.proc, r.verdicts, r.report


def test_planted_wrong_test_range_fails(tmp_path):
    proc, verdicts, _ = planted(tmp_path, {"test_ranges": {"+QIOPEN": {"connectID": "(0-12)"}}}, "-k", "QIOPEN/TEST")
    assert proc.returncode == 1
    verdict, reason = verdicts["BG96/QIOPEN/TEST/range/connectID"]
    assert verdict == "fail" and "(0-12)" in reason and "(0-11)" in reason
    assert verdicts["BG96/QIOPEN/TEST/range/contextID"][0] == "pass"


def test_planted_missing_ok_fails_within_max_response_time(tmp_path):
    proc, verdicts, _ = planted(tmp_path, {"drop_final_ok": ["+CPIN"]}, "-k", "CPIN/READ or AT/EXECUTE")
    assert proc.returncode == 1
    verdict, reason = verdicts["BG96/CPIN/READ/response"]
    assert verdict == "fail" and "no final result code" in reason and "5 s" in reason
    assert verdicts["BG96/AT/EXECUTE/response"][0] == "pass"


def test_planted_unknown_and_malformed_urcs_fail_the_test_that_saw_them(tmp_path):
    proc, verdicts, _ = planted(tmp_path, {"urc_after": {"+GMR": '+QIURC: "bogus",1', "+QIDEACT": '+QIURC: "closed",12'}},
                                "-k", "GMR or QIDEACT/TEST or CMEE/TEST")
    assert proc.returncode == 1
    v, reason = verdicts["BG96/GMR/EXECUTE/response"]
    assert v == "fail" and "unknown URC" in reason and "bogus" in reason
    v, reason = verdicts["BG96/QIDEACT/TEST/response"]
    assert v == "fail" and "outside 0-11" in reason
    assert verdicts["BG96/CMEE/TEST/response"][0] == "pass"


def test_planted_range_defects_fail_boundary_and_bad_input_cases(tmp_path):
    # a modem that rejects valid writes fails the boundary cases; one that accepts
    # malformed lines fails the bad-input cases
    proc, verdicts, _ = planted(tmp_path, {"reject_valid": ["+QISDE"], "accept_invalid": ["+QIDEACT"]},
                                "-k", "QISDE/WRITE or QIDEACT/WRITE")
    assert proc.returncode == 1
    assert verdicts["BG96/QISDE/WRITE/echo/max"][0] == "fail"
    assert verdicts["BG96/QISDE/WRITE/echo/above-max"][0] == "pass"
    v, reason = verdicts["BG96/QIDEACT/WRITE/contextID/above-max"]
    assert v == "fail" and "was accepted with OK" in reason
    assert verdicts["BG96/QIDEACT/WRITE/contextID/max"][0] == "pass"


FAULTS_SEEN_OUTSIDE = [
    # (fault, the timing purpose it fails, words of the reason, a purpose that still passes)
    ("{kind: error_result, command: +QIACT, form: write}", "timing/context", "AT+QIACT=1: ERROR",
     "timing/startup"),
    ("{kind: sim_not_ready, seconds: 100000}", "timing/startup", "AT+CPIN?: ERROR", "timing/context"),
    ("{kind: error_result, command: +QICLOSE, form: write, skip: 1}", "timing/socket", "AT+QICLOSE=0: ERROR",
     "timing/startup"),
]


@pytest.mark.parametrize("fault,fails,words,passes", FAULTS_SEEN_OUTSIDE, ids=[f[1] for f in FAULTS_SEEN_OUTSIDE])
def test_standalone_emulator_reproduces_a_fault_seen_from_outside(tmp_path, fault, fails, words, passes):
    """``atconform emulate --faults``: a lab's own host software (here: the suite through
    --port) sees the planned fault, and each Figure 1 timing purpose fails on its own."""
    plan = tmp_path / "faults.yaml"
    plan.write_text(f"seed: 1\nfaults:\n  - {fault}\n")
    with emulated_port("bg96", "--faults", str(plan)) as emu:
        r = run(tmp_path / "reports", "--port", emu.pty, "--model", "bg96", "-k", "answer_in_time")
    assert r.proc.returncode == 1, r.tail()
    v, reason = r.verdicts[f"BG96/FLOWCHART/{fails}"]
    assert v == "fail" and words in reason, (v, reason)
    assert r.verdicts[f"BG96/FLOWCHART/{passes}"][0] == "pass"
    assert fault.split(",")[0].split(": ")[1] in emu.stderr
