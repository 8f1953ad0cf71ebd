"""Each Quectel GSM scenario fails when the behaviour it checks is broken: plant one named
defect in the emulator (atconform.families.quectel_gsm.emulator.BEHAVIOUR_DEFECTS), run the
scenario that checks it in a subprocess (the conformance suite as a user runs it), expect
verdict fail; the same scenario passes on the clean emulator in the default run."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from atconform.families.quectel_gsm.emulator import BEHAVIOUR_DEFECTS

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "suites" / "quectel_gsm" / "test_scenarios.py"

# defect -> (scenario test function, its test purpose id)
CHECKED_BY = {
    "close-ok-no-index": ("test_multiple_clients", "3.3/multiple-clients"),
    "connect-ok-no-index": ("test_multiple_clients", "3.3/multiple-clients"),
    "receive-wrong-length": ("test_multiple_clients", "3.3/multiple-clients"),
    "qiact-wrong-state": ("test_single_tcp_client", "3.1/single-tcp-client"),
    "qisack-off-by-one": ("test_single_tcp_client", "3.1/single-tcp-client"),
    "escape-guard-ignored": ("test_transparent_client", "4.1/transparent-client"),
    "ato-no-connect": ("test_transparent_client", "4.1/transparent-client"),
    "second-server-ok": ("test_single_server", "3.2/single-server"),
    "qilocip-adds-ok": ("test_qilocip_has_no_final_result_code", "3/qilocip-no-final"),
    "ipd-no-protocol": ("test_receive_headers", "5.3.1/receive-headers"),
    "ipd-header-missing": ("test_receive_headers", "5.3.1/receive-headers"),
    "send-over-1460-kept": ("test_send_ways", "5.2/send-ways"),
    "autos-ignored": ("test_timed_sending", "5.2.2.3/timed-sending"),
    "qistate-five-lines": ("test_qistate_lines", "5.6.2/qistate-lines"),
    "closed-stays-in-data-mode": ("test_transparent_server_and_close_in_data_mode", "4.2/transparent-server"),
    "qird-drops-a-byte": ("test_qindi_qird", "5.3.2/qindi-qird"),
    "server-accepts-beyond-max": ("test_multiple_server_max_clients", "3.4/multiple-server-max-clients"),
    "dns-bypassed": ("test_qidnsgip", "8.2/qidnsgip"),
}
INTEGRITY = REPO / "suites" / "quectel_gsm" / "test_integrity.py"
# a defect every integrity test must catch: (test function, purpose id)
CAUGHT_BY_ALL = {
    "rx-drops-a-byte": [("test_one_mebibyte_ipd_headers", "5.3.1/integrity-ipd"),
                        ("test_one_mebibyte_multiplexed", "3.3/integrity-receive"),
                        ("test_one_mebibyte_qird", "5.3.2/integrity-qird"),
                        ("test_one_mebibyte_transparent", "4/integrity-transparent")],
}

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def test_every_planted_defect_has_a_scenario():
    assert set(CHECKED_BY) | set(CAUGHT_BY_ALL) == set(BEHAVIOUR_DEFECTS)


def run(tmp_path, test_name, defects=None, path=SCENARIOS):
    names = [test_name] if isinstance(test_name, str) else test_name
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra",
            f"--reports={tmp_path / 'reports'}", *(f"{path}::{t}" for t in names)]
    if defects:
        path = tmp_path / "defects.yaml"
        path.write_text(yaml.safe_dump({"behaviour": defects}))
        args.append(f"--emulator-defects={path}")
    env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    results = [json.loads(line) for line in (tmp_path / "reports" / "results.jsonl").read_text().splitlines()]
    return proc, {r["purpose"]: r for r in results if r["type"] == "result"}


@pytest.mark.parametrize("defect", sorted(CHECKED_BY))
def test_scenario_fails_with_planted_defect(defect, tmp_path):
    test_name, pid = CHECKED_BY[defect]
    proc, results = run(tmp_path, test_name, [defect])
    r = results[f"QUECTEL_GSM/SCENARIO/{pid}"]
    assert r["verdict"] == "fail", (defect, r["verdict"], r["reason"], proc.stdout[-2000:])
    assert proc.returncode == 1


@pytest.mark.parametrize("defect", sorted(CAUGHT_BY_ALL))
def test_every_integrity_test_fails_with_planted_defect(defect, tmp_path):
    cases = CAUGHT_BY_ALL[defect]
    proc, results = run(tmp_path, [t for t, _ in cases], [defect], path=INTEGRITY)
    for _, pid in cases:
        r = results[f"QUECTEL_GSM/SCENARIO/{pid}"]
        assert r["verdict"] == "fail", (defect, pid, r["verdict"], r["reason"])
