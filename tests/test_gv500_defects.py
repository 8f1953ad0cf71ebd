"""Each GV500 behaviour the suite checks fails when it is broken: plant one named defect in
the emulator (``--emulator-defects``), run the purpose that checks it in a pytest
subprocess, expect verdict fail. Also: the ICS declaration ``bad_input_reply`` decides
the verdict of bad input (a unit that NACKs passes when the IXIT says so), and the device
password never reaches an output."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from atconform.families.queclink_gv500.config import CONFIG_ENV
from atconform.families.queclink_gv500.emulator import BEHAVIOUR_DEFECTS

REPO = Path(__file__).resolve().parents[1]
GEN = REPO / "suites" / "queclink_gv500" / "test_generated.py"
SCEN = REPO / "suites" / "queclink_gv500" / "test_scenarios.py"
P = "QUECLINK_GV500/BSS2/"
S = "QUECLINK_GV500/SCENARIO/"

# defect -> the purpose that must fail with it
CHECKED_BY = {
    "seq-not-echoed": P + "WRITE/seq/max",
    "wrong-password-answered": P + "WRITE/password/wrong",
    "port-out-of-range-accepted": P + "WRITE/port/above-max",
    "lower-case-seq-accepted": P + "WRITE/seq/lower-case",
    "unterminated-accepted": P + "WRITE/unterminated",
    "bad-input-nacked": P + "WRITE/mode/above-max",
    "refused-write-stored": P + "WRITE/password/wrong",
    "query-stale": P + "WRITE/ip/domain",
    "count-not-incrementing": S + "count-increments",
    "unit-id-wrong-length": P + "READ/response",
    "send-time-invalid": P + "READ/response",
    "mode1-stays-on-backup": S + "mode1-returns-to-primary",
    "mode0-returns-to-primary": S + "mode0-stays-on-backup",
    "local-port-ignored": S + "local-port",
    "backup-never-tried": S + "failover-to-backup",
}
SCENARIO_TESTS = {
    S + "count-increments": "test_count_increments",
    S + "mode1-returns-to-primary": "test_mode1_returns_to_primary",
    S + "mode0-stays-on-backup": "test_mode0_stays_on_backup",
    S + "local-port": "test_local_port",
    S + "failover-to-backup": "test_failover_to_backup",
}

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def node(pid: str) -> str:
    if pid.startswith(S):
        return f"{SCEN}::{SCENARIO_TESTS[pid]}"
    return f"{GEN}::test_purpose[{pid}]"


def run(tmp_path, pids, defects=None, ixit=None, emulator_config=None):
    """Run the purposes ``pids``; (process, {purpose id: result record})."""
    reports = tmp_path / "reports"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra",
            f"--reports={reports}", *[node(p) for p in pids]]
    env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
    if defects:
        path = tmp_path / "defects.yaml"
        path.write_text(yaml.safe_dump({"behaviour": defects}))
        args.append(f"--emulator-defects={path}")
    if ixit:
        path = tmp_path / "ixit.yaml"
        path.write_text(yaml.safe_dump(ixit))
        args.append(f"--ixit={path}")
    if emulator_config:
        path = tmp_path / "gv500.yaml"
        path.write_text(yaml.safe_dump(emulator_config))
        env[CONFIG_ENV] = str(path)
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    lines = (reports / "results.jsonl").read_text().splitlines()
    results = {r["purpose"]: r for r in map(json.loads, lines) if r["type"] == "result"}
    return proc, results


def test_every_planted_defect_has_a_purpose():
    assert set(CHECKED_BY) == set(BEHAVIOUR_DEFECTS)


def test_the_checking_purposes_pass_without_defects(tmp_path):
    pids = sorted(set(CHECKED_BY.values()))
    proc, results = run(tmp_path, pids)
    assert {p: results[p]["verdict"] for p in pids} == {p: "pass" for p in pids}, proc.stdout[-3000:]


@pytest.mark.parametrize("defect", sorted(CHECKED_BY))
def test_purpose_fails_with_planted_defect(defect, tmp_path):
    pid = CHECKED_BY[defect]
    proc, results = run(tmp_path, [pid], [defect])
    r = results[pid]
    assert r["verdict"] == "fail", (defect, r["verdict"], r["reason"], proc.stdout[-2000:])
    assert proc.returncode == 1


BAD = P + "WRITE/mode/above-max"


@pytest.mark.parametrize("unit, declared, verdict", [
    ("nack", "nack", "pass"),        # the IXIT declares what the unit does
    ("silent", "nack", "fail"),      # declared NACK, the unit stays silent
    ("nack", None, "fail"),          # the spec's default (silent), the unit NACKs
])
def test_bad_input_verdict_follows_the_ics_declaration(tmp_path, unit, declared, verdict):
    ixit = {"ics": {"bad_input_reply": declared}} if declared else None
    proc, results = run(tmp_path, [BAD, P + "WRITE/unterminated"], ixit=ixit,
                        emulator_config={"bad_input_reply": unit})
    assert results[BAD]["verdict"] == verdict, (results[BAD]["reason"], proc.stdout[-2000:])
    assert results[P + "WRITE/unterminated"]["verdict"] == "pass"    # no NACK before the "$"


def test_an_ics_value_outside_its_choices_is_inconclusive(tmp_path):
    proc, results = run(tmp_path, [BAD], ixit={"ics": {"bad_input_reply": "shout"}})
    assert results[BAD]["verdict"] == "inconclusive" and "shout" in results[BAD]["reason"]


def test_the_device_password_is_never_in_an_output(tmp_path):
    secret = "Pw-gv500-Secret"
    pids = [P + "WRITE/port/above-max", P + "WRITE/unterminated", P + "WRITE/seq/min"]
    # one failing purpose, so its reason and transcript (the password on the wire) are output
    proc, results = run(tmp_path, pids, ["query-stale"], ixit={"device_password": secret},
                        emulator_config={"password": secret})
    assert [results[p]["verdict"] for p in pids] == ["pass", "pass", "fail"], proc.stdout[-2000:]
    assert "AT@BSS2=***,,," in proc.stdout          # the failing purpose's transcript
    seen = [proc.stdout, proc.stderr]
    for f in (tmp_path / "reports").rglob("*"):
        if f.is_file():
            seen.append(f.read_text(errors="replace"))
    assert not [s for s in seen if secret in s]
    assert any("***" in s for s in seen)


def test_a_wrong_device_password_makes_the_run_inconclusive(tmp_path):
    proc, results = run(tmp_path, [P + "READ/response"], ixit={"device_password": "notthepass"})
    assert results[P + "READ/response"]["verdict"] in ("inconclusive", "error")
    assert "device password" in results[P + "READ/response"]["reason"]
