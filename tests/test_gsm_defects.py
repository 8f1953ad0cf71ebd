"""Each Quectel GSM scenario fails when the behaviour it checks is broken: plant one named
defect in the emulator (atconform.families.quectel_gsm.emulator.BEHAVIOUR_DEFECTS), run the
scenario that checks it in a subprocess (the conformance suite as a user runs it), expect
verdict fail with the defect's reason; the same scenario passes on the clean emulator in
the default run. Defects whose purposes differ share a run (tests/suite_run.py
:class:`Plants`: every purpose of the table runs in it, the untargeted ones must pass)."""
import pytest

from atconform.families.quectel_gsm.emulator import BEHAVIOUR_DEFECTS
from suite_run import EVERY, Plant, Plants, skip_inside_a_run

skip_inside_a_run()

# defect -> (scenario test function, its test purpose id, words of the fail reason[, the
# other scenarios it fails too, measured with it alone over every scenario of the table,
# or EVERY: it runs alone])
MAX = "test_multiple_server_max_clients"
CHECKED_BY = {
    "close-ok-no-index": ("test_multiple_clients", "3.3/multiple-clients", "'CLOSE OK' has no index", (MAX,)),
    "connect-ok-no-index": ("test_multiple_clients", "3.3/multiple-clients", "no line followed 'OK' within 60 s",
                            (MAX, "test_qistate_lines")),
    "receive-wrong-length": ("test_multiple_clients", "3.3/multiple-clients", "+RECEIVE data {", (MAX,)),
    "qiact-wrong-state": ("test_single_tcp_client", "3.1/single-tcp-client", "after AT+QIACT the stack is 'IP START'",
                          ("test_qidnsgip", "test_qilocip_has_no_final_result_code")),
    "qisack-off-by-one": ("test_single_tcp_client", "3.1/single-tcp-client", "<sent> is 31, 30 bytes were sent",
                          ("test_multiple_clients", "test_send_ways", "test_transparent_client")),
    "escape-guard-ignored": ("test_transparent_client", "4.1/transparent-client", "'+++' without its guard times"),
    "ato-no-connect": ("test_transparent_client", "4.1/transparent-client", "ATO: NO CARRIER, expected CONNECT"),
    # the stray line comes as an unknown URC or, with the next command pending, as unsolicited text
    "second-server-ok": ("test_single_server", "3.2/single-server", "'SERVER OK'",
                         (MAX, "test_transparent_server_and_close_in_data_mode")),
    # its stray OK is taken for the next command's, whichever that is: a run of its own
    "qilocip-adds-ok": ("test_qilocip_has_no_final_result_code", "3/qilocip-no-final",
                        "AT+QILOCIP printed a result code", EVERY),
    "ipd-no-protocol": ("test_receive_headers", "5.3.1/receive-headers", "no IPD<len>TCP: header with QISHOWPT=1"),
    "ipd-header-missing": ("test_receive_headers", "5.3.1/receive-headers", "no IPD<len>: header with QIHEAD=1"),
    "send-over-1460-kept": ("test_send_ways", "5.2/send-ways", "the peer received b'ab"),
    "autos-ignored": ("test_timed_sending", "5.2.2.3/timed-sending", "AT+QISEND: no final result code within 10 s",
                      (MAX, "test_qidnsgip", "test_qindi_qird", "test_qistate_lines",
                       "test_transparent_server_and_close_in_data_mode")),
    "qistate-five-lines": ("test_qistate_lines", "5.6.2/qistate-lines", "AT+QISTATE: no line followed 'OK'"),
    "closed-stays-in-data-mode": ("test_transparent_server_and_close_in_data_mode", "4.2/transparent-server",
                                  "no CLOSED when the client closed in data mode"),
    "qird-drops-a-byte": ("test_qindi_qird", "5.3.2/qindi-qird", "the peer echoed b'1234567890abcdefghijklmnopqrstuvwxyz'"),
    "server-accepts-beyond-max": (MAX, "3.4/multiple-server-max-clients", "a fourth client was accepted"),
    "dns-bypassed": ("test_qidnsgip", "8.2/qidnsgip", "'ERROR': <ip>='ERROR' is not a dotted IPv4 address"),
}
# a defect every integrity test must catch (suites/quectel_gsm/test_integrity.py), in a run of its own
CAUGHT_BY_ALL = {
    "rx-drops-a-byte": [("test_one_mebibyte_ipd_headers", "5.3.1/integrity-ipd", "of 1048576 bytes, first difference"),
                        ("test_one_mebibyte_multiplexed", "3.3/integrity-receive", "of 1048576 bytes, first difference"),
                        ("test_one_mebibyte_qird", "5.3.2/integrity-qird", "of 1048576 bytes, first difference"),
                        ("test_one_mebibyte_transparent", "4/integrity-transparent", "of 1048576 bytes, first difference")],
}


def plant(defect: str, file: str, test: str, pid: str, reason: str, spills=()) -> Plant:
    node = f"suites/quectel_gsm/{file}::".__add__
    return Plant(defect, node(test), reason, spills if spills is EVERY else tuple(map(node, spills)))


PLANTS = Plants([plant(d, "test_scenarios.py", *v) for d, v in CHECKED_BY.items()])
INTEGRITY = Plants([plant(d, "test_integrity.py", *c, EVERY) for d, cs in CAUGHT_BY_ALL.items() for c in cs])


def test_every_planted_defect_has_a_scenario():
    assert set(CHECKED_BY) | set(CAUGHT_BY_ALL) == set(BEHAVIOUR_DEFECTS)
    assert set(PLANTS.keys()) | set(INTEGRITY.keys()) == set(BEHAVIOUR_DEFECTS)


@pytest.mark.parametrize("defect", sorted(CHECKED_BY))
def test_scenario_fails_with_planted_defect(defect, tmp_path_factory):
    PLANTS.check(tmp_path_factory, defect)


@pytest.mark.parametrize("defect", sorted(CAUGHT_BY_ALL))
def test_every_integrity_test_fails_with_planted_defect(defect, tmp_path_factory):
    INTEGRITY.check(tmp_path_factory, defect)
