"""Each scenario fails when the behaviour it checks is broken: plant one named defect in
the emulator, run the scenario that checks it, expect verdict fail (issue 3)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from atconform.families.bg96.emulator import BEHAVIOUR_DEFECTS

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "suites" / "bg96" / "test_scenarios.py"

# defect -> (scenario test function, its test purpose id)
CHECKED_BY = {
    "context-not-listed": ("test_context_configure_activate_deactivate", "3.1/context"),
    "qisend-total-off-by-one": ("test_tcp_client_buffer_access", "3.2/tcp-client-buffer"),
    "qird-counter-wrong": ("test_tcp_client_buffer_access", "3.2/tcp-client-buffer"),
    "recv-urc-repeated": ("test_partial_reads_and_single_recv_urc", "3.2/partial-read"),
    "escape-ignored": ("test_tcp_client_transparent", "3.3/tcp-client-transparent"),
    "ato-no-carrier": ("test_ato_and_qiswtmd_return_to_data_mode", "1.2/ato-reenters"),
    "push-drops-first-byte": ("test_tcp_client_direct_push", "3.4/tcp-client-direct-push"),
    "qistate-wrong-access-mode": ("test_tcp_client_direct_push", "3.4/tcp-client-direct-push"),
    "incoming-wrong-serverid": ("test_tcp_server_buffer_access", "3.5/tcp-server-buffer"),
    "udp-qird-wrong-port": ("test_udp_service", "3.6/udp-service"),
    "ping-summary-inconsistent": ("test_ping", "3.7/ping"),
    "ntp-time-skewed": ("test_ntp", "3.8/ntp"),
    "dns-wrong-address": ("test_dns", "2.1.14/dns"),
    "dns-bypassed": ("test_qiopen_hostname_uses_context_dns", "2.1.4/qiopen-hostname"),
    "qigeterror-wrong": ("test_qigeterror_after_invalid_qiopen", "3.9/qigeterror"),
    "connect-failed-wrong-err": ("test_qiopen_closed_port_566", "4/connect-failed-566"),
    "used-connectid-accepted": ("test_used_connectid_563", "4/used-connectid-563"),
    "no-closed-urc": ("test_peer_close", "2.2.1/peer-closed"),
    "no-pdpdeact-urc": ("test_pdp_deactivated_by_network", "2.2.5/pdpdeact"),
    "recvind-ignored": ("test_recvind_urc_carries_length", "2.1.15/recvind"),
    "hex-receive-ignored": ("test_hex_dataformat_and_viewmode", "2.1.15/dataformat-viewmode"),
    "qisde-no-echo": ("test_qisde_echoes_send_data", "2.1.16/qisde"),
    "esc-sends": ("test_esc_cancels_send", "2.1.7/esc-cancels"),
    "no-incoming-full": ("test_incoming_full", "2.2.3/incoming-full"),
    "udp-client-drops-datagrams": ("test_udp_client", "2.1.4/udp-client"),
    "transwaittm-ignored": ("test_transpktsize_and_transwaittm", "2.1.15/transpktsize-transwaittm"),
    "opening-reported-connected": ("test_qistate_opening_state", "2.1.6/qistate-opening"),
    "no-carrier-missing": ("test_no_carrier_when_peer_closes_in_data_mode", "1.2/no-carrier-peer-close"),
}
GENERAL = REPO / "suites" / "bg96" / "test_general.py"
# defects of the general commands and V.250 line handling: (test function, purpose id)
GENERAL_CHECKED_BY = {
    "cfun-reset-no-app-rdy": ("test_cfun_reset_reports_boot_urcs", "8.2/cfun-reset"),
    "cgatt-disagrees-with-qiact": ("test_cgatt_and_cgact_follow_qiact", "10.1.9/cgatt-follows-qiact"),
    "cclk-ignores-qntp": ("test_cclk_follows_qntp", "8.15/cclk-follows-qntp"),
    "lf-taken-as-data": ("test_crlf_line_then_data_after_prompt", "5.2.1/lf-after-cr"),
}
INTEGRITY = REPO / "suites" / "bg96" / "test_integrity.py"
# a defect several tests must catch: (file, test function, purpose id)
CAUGHT_BY_ALL = {
    "rx-drops-a-byte": [(INTEGRITY, "test_one_mebibyte_buffer_access", "1.2/integrity-buffer"),
                        (INTEGRITY, "test_one_mebibyte_direct_push", "1.2/integrity-push"),
                        (INTEGRITY, "test_one_mebibyte_transparent", "1.2/integrity-transparent")],
}

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def test_every_planted_defect_has_a_scenario():
    assert set(CHECKED_BY) | set(CAUGHT_BY_ALL) | set(GENERAL_CHECKED_BY) == set(BEHAVIOUR_DEFECTS)


def run(tmp_path, test_name, defects=None, path=SCENARIOS):
    tests = [f"{path}::{t}" for t in ([test_name] if isinstance(test_name, str) else test_name)]
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra",
            f"--reports={tmp_path / 'reports'}", *tests]
    if defects:
        path = tmp_path / "defects.yaml"
        path.write_text(yaml.safe_dump({"behaviour": defects}))
        args.append(f"--emulator-defects={path}")
    env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    import json
    results = [json.loads(line) for line in (tmp_path / "reports" / "results.jsonl").read_text().splitlines()]
    return proc, {r["purpose"]: r for r in results if r["type"] == "result"}


@pytest.mark.parametrize("defect", sorted(CHECKED_BY))
def test_scenario_fails_with_planted_defect(defect, tmp_path):
    test_name, pid = CHECKED_BY[defect]
    proc, results = run(tmp_path, test_name, [defect])
    r = results[f"BG96/SCENARIO/{pid}"]
    assert r["verdict"] == "fail", (defect, r["verdict"], r["reason"], proc.stdout[-2000:])
    assert proc.returncode == 1


@pytest.mark.parametrize("defect", sorted(GENERAL_CHECKED_BY))
def test_general_scenario_fails_with_planted_defect(defect, tmp_path):
    test_name, pid = GENERAL_CHECKED_BY[defect]
    proc, results = run(tmp_path, test_name, [defect], path=GENERAL)
    r = results[f"BG96/SCENARIO/{pid}"]
    assert r["verdict"] == "fail", (defect, r["verdict"], r["reason"], proc.stdout[-2000:])
    proc, results = run(tmp_path / "clean", test_name, None, path=GENERAL)
    assert results[f"BG96/SCENARIO/{pid}"]["verdict"] == "pass", proc.stdout[-2000:]


@pytest.mark.parametrize("defect", sorted(CAUGHT_BY_ALL))
def test_every_integrity_test_fails_with_planted_defect(defect, tmp_path):
    cases = CAUGHT_BY_ALL[defect]
    proc, results = run(tmp_path, [t for _, t, _ in cases], [defect], path=cases[0][0])
    for _, _, pid in cases:
        r = results[f"BG96/SCENARIO/{pid}"]
        assert r["verdict"] == "fail", (defect, pid, r["verdict"], r["reason"])
