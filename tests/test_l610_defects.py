"""Each Fibocom L610 behaviour the suite checks fails when it is broken (issue 12 item 5):
plant one named defect in the emulator (``--emulator-defects``), run the purpose that
checks it in a pytest subprocess, expect verdict fail; the same purpose passes on the
clean emulator (tests/test_l610_*.py and the default run)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from atconform.families.fibocom_l610.emulator import BEHAVIOUR_DEFECTS

REPO = Path(__file__).resolve().parents[1]
SUITES = REPO / "suites" / "fibocom_l610"
S = "FIBOCOM_L610/SCENARIO/"
G = "FIBOCOM_L610/"

# defect -> the purpose that must fail with it
CHECKED_BY = {
    "freesize-off-by-one": S + "1.1.2/tcp-client",
    "no-watermark-push": S + "1.1.4/watermark-push",
    "timeout-not-restarted": S + "1.1.4/timeout-push",
    "left-wrong": S + "1.1.5/dsets-chunks",
    "xon-never-sent": S + "1.1.19/xoff-xon",
    "mipdata-missing": S + "1.1.18/odm-pseudo-command",
    "wrong-error-table": S + "2.3/tcpip-error-table",
    "mipsets-accepted-with-data": G + "MIPSETS/WRITE/rule/refused-while-buffered",
    "hex-extra-bytes-kept": S + "1.2/hex-mode",
    "mipcall-line-missing": G + "MIPCALL/WRITE/apn/auth/min",
    "ping-average-without-reply": S + "1.1.14/ping-statistics",
    "msdns-id-only-keeps": S + "1.1.21/dns",
    "iprfmt2-encoded": S + "1.2.4/iprfmt",
    "sendtime-ignored": S + "1.2/hex-mode",
    "keepalive-ignored": S + "1.1.13/keepalive-on-wire",
    "mipconf-lost-on-link-down": G + "MIPCONF/PERSIST/pdp-deactivation",
}
SCENARIO_TESTS = {
    "1.1.2/tcp-client": "test_tcp_client",
    "1.1.4/watermark-push": "test_watermark_push",
    "1.1.4/timeout-push": "test_timeout_push",
    "1.1.5/dsets-chunks": "test_dsets_chunks",
    "1.1.19/xoff-xon": "test_xoff_xon_slow_peer",
    "1.1.18/odm-pseudo-command": "test_odm_pseudo_command_mode",
    "2.3/tcpip-error-table": "test_tcpip_errors_come_from_their_table",
    "1.2/hex-mode": "test_hex_mode_sends",
    "1.1.14/ping-statistics": "test_ping_statistics",
    "1.1.21/dns": "test_dns_and_msdns",
    "1.2.4/iprfmt": "test_every_iprfmt",
    "1.1.13/keepalive-on-wire": "test_keepalive_seen_on_the_wire",
}

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def node(pid: str) -> str:
    if pid.startswith(S):
        return f"{SUITES / 'test_scenarios.py'}::{SCENARIO_TESTS[pid[len(S):]]}"
    return f"{SUITES / 'test_generated.py'}::test_purpose[{pid}]"


def run(tmp_path, pid: str, defects: list[str]):
    reports = tmp_path / "reports"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra",
            f"--reports={reports}", node(pid)]
    path = tmp_path / "defects.yaml"
    path.write_text(yaml.safe_dump({"behaviour": defects}))
    args.append(f"--emulator-defects={path}")
    env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    lines = (reports / "results.jsonl").read_text().splitlines()
    return proc, {r["purpose"]: r for r in map(json.loads, lines) if r["type"] == "result"}


def test_every_planted_defect_has_a_purpose():
    assert set(CHECKED_BY) == set(BEHAVIOUR_DEFECTS)


@pytest.mark.parametrize("defect", sorted(CHECKED_BY))
def test_purpose_fails_with_planted_defect(defect, tmp_path):
    pid = CHECKED_BY[defect]
    proc, results = run(tmp_path, pid, [defect])
    r = results[pid]
    assert r["verdict"] == "fail", (defect, r["verdict"], r.get("reason"), proc.stdout[-2000:])
    assert proc.returncode == 1
