"""The conformance suite end to end, as a user runs it, in subprocesses:

* the default run passes every BG96 test purpose against the built-in emulator and
  writes both reports;
* ``pytest --port <pty> --model bg96`` against ``atconform emulate --model bg96 --pty``
  gives the same verdicts, emulator-only purposes skipped with a reason;
* planted defects (a wrong range in a test response, a missing OK) make it FAIL.
"""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from atconform.casegen import generate
from atconform.spec import load_family

REPO = Path(__file__).resolve().parents[1]
PURPOSES = generate(load_family("bg96"))

if os.environ.get("ATCONFORM_E2E_INNER"):
    # a suite run started by these tests must never collect these tests again
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def run_suite(reports: Path, *args: str, timeout: float = 900):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reports", str(reports),
           "-o", "addopts=-ra", *args]
    env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
    with open(reports / "compliance.json", encoding="utf-8") as f:
        report = json.load(f)
    verdicts = {p["purpose"]: (p["verdict"], p["reason"]) for fam in report["families"]
                for c in fam["commands"] for p in c["purposes"]}
    return proc, verdicts, report


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    return run_suite(tmp_path_factory.mktemp("default"))


def test_default_run_passes_every_purpose_and_writes_reports(default_run, tmp_path_factory):
    proc, verdicts, report = default_run
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {p.id for p in PURPOSES} <= set(verdicts)
    scenarios = {k for k in verdicts if k.startswith("BG96/SCENARIO/")}
    assert len(scenarios) >= 15, scenarios
    # BG96's purposes here; each other family's end-to-end test checks its own
    not_pass = {k: v for k, v in verdicts.items() if v[0] != "pass" and k.startswith("BG96/")}
    skipped_by_spec = {p.id for p in PURPOSES if p.skip}
    assert set(not_pass) == skipped_by_spec, not_pass
    assert report["complete"] is True
    fam = report["families"][0]
    assert "BG96MAR02A07M1G" in json.dumps(fam["firmware"])
    reports_dir = Path(proc.args[proc.args.index("--reports") + 1])
    html = (reports_dir / "compliance.html").read_text()
    assert "BG96/QIOPEN/WRITE/default/connectID/above-max" in html and "BG96MAR02A07M1G" in html
    lines = (reports_dir / "results.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "end"


def test_port_mode_gives_the_same_verdicts(default_run, tmp_path):
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    dns_port = s.getsockname()[1]
    s.close()
    ixit = tmp_path / "ixit.yaml"
    ixit.write_text(f"local_dns_port: {dns_port}\n")
    emu = subprocess.Popen([sys.executable, "-m", "atconform.cli", "emulate", "--model", "bg96", "--pty",
                            "--dns-port", str(dns_port)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        first = emu.stdout.readline().split()
        assert first[0] == "PTY" and first[1].startswith("/dev/pts/")
        proc, verdicts, report = run_suite(tmp_path, "--port", first[1], "--model", "bg96", "--ixit", str(ixit))
    finally:
        emu.send_signal(signal.SIGTERM)
        emu.wait(10)
    assert emu.returncode == 0
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert report["runs"][0]["mode"] == "port"
    _, default_verdicts, _ = default_run
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
    for pid, (verdict, reason) in verdicts.items():
        if pid == recovery:
            continue
        if pid in needs_power:
            assert verdict == "skipped" and "needs the lab's power control" in reason, (pid, verdict, reason)
        elif pid in emulator_only:
            assert verdict == "skipped" and "emulator only" in reason, (pid, verdict, reason)
        else:
            assert verdict == default_verdicts[pid][0], (pid, verdict, reason)


def planted(tmp_path, defects: dict, *args: str):
    path = tmp_path / "defects.yaml"
    path.write_text(yaml.safe_dump(defects))
    return run_suite(tmp_path / "reports", "--emulator-defects", str(path), *args)


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
    emu = subprocess.Popen([sys.executable, "-m", "atconform.cli", "emulate", "--model", "bg96", "--pty",
                            "--faults", str(plan)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        first = emu.stdout.readline().split()
        assert first[0] == "PTY"
        proc, verdicts, _ = run_suite(tmp_path / "reports", "--port", first[1], "--model", "bg96",
                                      "-k", "answer_in_time")
    finally:
        emu.send_signal(signal.SIGTERM)
        _, err = emu.communicate(timeout=10)
    assert proc.returncode == 1, proc.stdout[-3000:]
    v, reason = verdicts[f"BG96/FLOWCHART/{fails}"]
    assert v == "fail" and words in reason, (v, reason)
    assert verdicts[f"BG96/FLOWCHART/{passes}"][0] == "pass"
    assert fault.split(",")[0].split(": ")[1] in err
