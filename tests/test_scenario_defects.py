"""Each BG96 scenario fails when the behaviour it checks is broken (issue 3): plant one named
defect in the emulator (``--emulator-defects``), run the scenario that checks it in a
pytest subprocess, expect verdict fail with the defect's reason; the purpose passes where
its defect is not planted. Defects whose purposes differ share a run (tests/suite_run.py
:class:`Plants`: every purpose of the tables runs in it, the untargeted ones must pass)."""
import pytest

from atconform.families.bg96.emulator import BEHAVIOUR_DEFECTS
from suite_run import EVERY, Plant, Plants, skip_inside_a_run

skip_inside_a_run()

# defect -> (scenario test function, its test purpose id, words of the fail reason[, the
# other scenarios it fails too, measured with it alone over every scenario of the tables,
# or EVERY: it runs alone])
CHECKED_BY = {
    # the context it does not list, or the transparent session it does not leave, is every
    # later scenario's: runs of their own
    "context-not-listed": ("test_context_configure_activate_deactivate", "3.1/context",
                           "AT+QIACT? after activation: []", EVERY),
    "qisend-total-off-by-one": ("test_tcp_client_buffer_access", "3.2/tcp-client-buffer",
                                "<total_send_length> is 15, 14 bytes were sent",
                                ("test_crlf_line_then_data_after_prompt", "test_esc_cancels_send",
                                 "test_tcp_client_direct_push", "test_udp_client")),
    "qird-counter-wrong": ("test_tcp_client_buffer_access", "3.2/tcp-client-buffer",
                           "AT+QIRD=0,0 counters differ from the 14 bytes read",
                           ("test_partial_reads_and_single_recv_urc", "test_tcp_server_buffer_access")),
    "recv-urc-repeated": ("test_partial_reads_and_single_recv_urc", "3.2/partial-read",
                          "recv URC repeated before the buffer was read empty"),
    "escape-ignored": ("test_tcp_client_transparent", "3.3/tcp-client-transparent",
                       "+++ after 1 s of silence got nothing, expected OK", EVERY),
    "ato-no-carrier": ("test_ato_and_qiswtmd_return_to_data_mode", "1.2/ato-reenters",
                       "ATO after +++ got NO CARRIER, expected CONNECT", ("test_udp_service",)),
    "push-drops-first-byte": ("test_tcp_client_direct_push", "3.4/tcp-client-direct-push",
                              "direct push delivered b'est1"),
    "qistate-wrong-access-mode": ("test_tcp_client_direct_push", "3.4/tcp-client-direct-push",
                                  "<access_mode> is 0, expected 1"),
    "incoming-wrong-serverid": ("test_tcp_server_buffer_access", "3.5/tcp-server-buffer",
                                "<serverID> 2, the listener is connectID 1"),
    "udp-qird-wrong-port": ("test_udp_service", "3.6/udp-service", "the datagram came from 127.0.0.1:"),
    "ping-summary-inconsistent": ("test_ping", "3.7/ping", "<sent> != <rcvd> + <lost>"),
    "ntp-time-skewed": ("test_ntp", "3.8/ntp", "is not the server's time"),
    "dns-wrong-address": ("test_dns", "2.1.14/dns", "resolved to ['10.255.255.1'], the DNS server says"),
    "dns-bypassed": ("test_qiopen_hostname_uses_context_dns", "2.1.4/qiopen-hostname",
                     "+QIOPEN: 6,565, expected +QIOPEN: 6,0", ("test_dns",)),
    "qigeterror-wrong": ("test_qigeterror_after_invalid_qiopen", "3.9/qigeterror",
                         "553, memory not enough'], expected 552"),
    "connect-failed-wrong-err": ("test_qiopen_closed_port_566", "4/connect-failed-566",
                                 "+QIOPEN: 4,550, expected +QIOPEN: 4,566"),
    "used-connectid-accepted": ("test_used_connectid_563", "4/used-connectid-563",
                                "a used connectID was opened again"),
    "no-closed-urc": ("test_peer_close", "2.2.1/peer-closed", 'no +QIURC: "closed",6 after the peer closed'),
    "no-pdpdeact-urc": ("test_pdp_deactivated_by_network", "2.2.5/pdpdeact", 'no +QIURC: "pdpdeact"'),
    "recvind-ignored": ("test_recvind_urc_carries_length", "2.1.15/recvind",
                        'with recvind=1 got +QIURC: "recv",0, expected'),
    "hex-receive-ignored": ("test_hex_dataformat_and_viewmode", "2.1.15/dataformat-viewmode",
                            "payload bytes, got"),
    "qisde-no-echo": ("test_qisde_echoes_send_data", "2.1.16/qisde", "with AT+QISDE=1 the data was not echoed"),
    "esc-sends": ("test_esc_cancels_send", "2.1.7/esc-cancels", "ESC did not cancel the send"),
    "no-incoming-full": ("test_incoming_full", "2.2.3/incoming-full", 'no +QIURC: "incoming full"'),
    "udp-client-drops-datagrams": ("test_udp_client", "2.1.4/udp-client", "for the echoed datagram"),
    "transwaittm-ignored": ("test_transpktsize_and_transwaittm", "2.1.15/transpktsize-transwaittm",
                            'AT+QICFG="transpktsize",1024: no final result code',
                            ("test_no_carrier_when_peer_closes_in_data_mode",)),
    "opening-reported-connected": ("test_qistate_opening_state", "2.1.6/qistate-opening",
                                   "<socket_state> is 2, expected 1"),
    "no-carrier-missing": ("test_no_carrier_when_peer_closes_in_data_mode", "1.2/no-carrier-peer-close",
                           "got nothing, expected NO CARRIER"),
}
# defects of the general commands and V.250 line handling (suites/bg96/test_general.py)
GENERAL_CHECKED_BY = {
    "cfun-reset-no-app-rdy": ("test_cfun_reset_reports_boot_urcs", "8.2/cfun-reset",
                              "after AT+CFUN=1,1 no 'APP RDY' within 30 s", ("test_crlf_line_then_data_after_prompt",)),
    "cgatt-disagrees-with-qiact": ("test_cgatt_and_cgact_follow_qiact", "10.1.9/cgatt-follows-qiact",
                                   "lists context 1 active, AT+CGATT? says detached"),
    "cclk-ignores-qntp": ("test_cclk_follows_qntp", "8.15/cclk-follows-qntp", "AT+CCLK? reads"),
    "lf-taken-as-data": ("test_crlf_line_then_data_after_prompt", "5.2.1/lf-after-cr",
                         "the host wrote b'X' after '>'"),
}
# a defect every integrity test must catch (suites/bg96/test_integrity.py), in a run of its own
CAUGHT_BY_ALL = {
    "rx-drops-a-byte": [("test_one_mebibyte_buffer_access", "1.2/integrity-buffer", "of 1048576 bytes, first difference"),
                        ("test_one_mebibyte_direct_push", "1.2/integrity-push", "of 1048576 bytes, first difference"),
                        ("test_one_mebibyte_transparent", "1.2/integrity-transparent", "of 1048576 bytes, first difference")],
}
SCENARIOS = {test for test, *_ in CHECKED_BY.values()}


def node(test: str) -> str:
    file = "test_scenarios.py" if test in SCENARIOS else "test_general.py"
    return f"suites/bg96/{file}::{test}"


def plant(defect: str, test: str, pid: str, reason: str, spills=()) -> Plant:
    return Plant(defect, node(test), reason, spills if spills is EVERY else tuple(map(node, spills)))


PLANTS = Plants([plant(d, *v) for d, v in (CHECKED_BY | GENERAL_CHECKED_BY).items()])
INTEGRITY = Plants([Plant(d, f"suites/bg96/test_integrity.py::{test}", reason, EVERY)
                    for d, cs in CAUGHT_BY_ALL.items() for test, _, reason in cs])


def test_every_planted_defect_has_a_scenario():
    assert set(CHECKED_BY) | set(CAUGHT_BY_ALL) | set(GENERAL_CHECKED_BY) == set(BEHAVIOUR_DEFECTS)
    assert set(PLANTS.keys()) | set(INTEGRITY.keys()) == set(BEHAVIOUR_DEFECTS)


@pytest.mark.parametrize("defect", sorted(CHECKED_BY))
def test_scenario_fails_with_planted_defect(defect, tmp_path_factory):
    PLANTS.check(tmp_path_factory, defect)


@pytest.mark.parametrize("defect", sorted(GENERAL_CHECKED_BY))
def test_general_scenario_fails_with_planted_defect(defect, tmp_path_factory):
    PLANTS.check(tmp_path_factory, defect)
    PLANTS.check_passes_without(tmp_path_factory, defect)


@pytest.mark.parametrize("defect", sorted(CAUGHT_BY_ALL))
def test_every_integrity_test_fails_with_planted_defect(defect, tmp_path_factory):
    INTEGRITY.check(tmp_path_factory, defect)
