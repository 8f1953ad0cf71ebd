"""Each Fibocom L610 behaviour the suite checks fails when it is broken (issue 12 item 5):
plant one named defect in the emulator (``--emulator-defects``), run the purpose that
checks it in a pytest subprocess, expect verdict fail with the defect's reason; the same
purpose passes where its defect is not planted (and on the clean emulator: tests/test_l610_*.py
and the default run). Defects whose purposes differ share a run (tests/suite_run.py
:class:`Plants`: every purpose of the table runs in it, the untargeted ones must pass)."""
import pytest

from atconform.families.fibocom_l610.emulator import BEHAVIOUR_DEFECTS
from suite_run import EVERY, Plant, Plants, skip_inside_a_run

skip_inside_a_run()

SUITES = "suites/fibocom_l610"
S = "FIBOCOM_L610/SCENARIO/"
G = "FIBOCOM_L610/"

# defect -> (the purpose that must fail with it, words of the fail reason[, the other
# purposes of the table it fails too, measured with it alone over all of them, or EVERY:
# it runs alone])
CHECKED_BY = {
    "freesize-off-by-one": (S + "1.1.2/tcp-client", "2048 minus the buffered bytes",
                            (S + "1.2/hex-mode", S + "1.1.4/watermark-push", S + "1.1.19/xoff-xon")),
    "no-watermark-push": (S + "1.1.4/watermark-push", "two 100-byte watermarks pushed", (S + "1.1.4/timeout-push",)),
    "timeout-not-restarted": (S + "1.1.4/timeout-push", "new data did not restart the 500 ms timeout"),
    "left-wrong": (S + "1.1.5/dsets-chunks", "bytes were still to come"),
    "xon-never-sent": (S + "1.1.19/xoff-xon", "and no +MIPXON came"),
    "mipdata-missing": (S + "1.1.18/odm-pseudo-command", "no +MIPDATA for data in pseudo-command mode"),
    "wrong-error-table": (S + "2.3/tcpip-error-table", "'+CMS ERROR: 2024' is not one of ['OK', 'ERROR']"),
    "mipsets-accepted-with-data": (G + "MIPSETS/WRITE/rule/refused-while-buffered",
                                   "{'status': 0}, expected {'status': 3}"),
    "hex-extra-bytes-kept": (S + "1.2/hex-mode", "bytes after <data_len> reached the peer; they must be lost"),
    "mipcall-line-missing": (G + "MIPCALL/WRITE/apn/auth/min", "no line followed 'OK' within 30 s"),
    "ping-average-without-reply": (S + "1.1.14/ping-statistics", "no AverageRTT without a reply"),
    "msdns-id-only-keeps": (S + "1.1.21/dns", "the socket id alone must clear both"),
    "iprfmt2-encoded": (S + "1.2.4/iprfmt", "IPRFMT 2: '+MIPRTCP: 1,"),
    # the send it leaves without a final result code holds every later purpose: a run of its own
    "sendtime-ignored": (S + "1.2/hex-mode", "AT+MIPSEND=1: no final result code within the maximum response time",
                         EVERY),
    "keepalive-ignored": (S + "1.1.13/keepalive-on-wire", "no keep-alive probe reached the peer"),
    "mipconf-lost-on-link-down": (G + "MIPCONF/PERSIST/pdp-deactivation", "<retr_num> reads 5, set to 12"),
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


def node(pid: str) -> str:
    if pid.startswith(S):
        return f"{SUITES}/test_scenarios.py::{SCENARIO_TESTS[pid[len(S):]]}"
    return f"{SUITES}/test_generated.py::test_purpose[{pid}]"


def plant(defect: str, pid: str, reason: str, spills=()) -> Plant:
    return Plant(defect, node(pid), reason, spills if spills is EVERY else tuple(map(node, spills)))


PLANTS = Plants([plant(d, *v) for d, v in CHECKED_BY.items()])


def test_every_planted_defect_has_a_purpose():
    assert set(CHECKED_BY) == set(BEHAVIOUR_DEFECTS)


@pytest.mark.parametrize("defect", sorted(CHECKED_BY))
def test_purpose_fails_with_planted_defect(defect, tmp_path_factory):
    PLANTS.check(tmp_path_factory, defect)
