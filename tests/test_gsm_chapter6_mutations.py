"""The chapter 6 suite fails when the GSM policy drifts from the note.

Each case changes one number of the Quectel GSM ``flow_chart:`` in a copy of the specs (the
only place the policy reads its numbers from), runs ``suites/quectel_gsm/test_chapter6.py``
against that spec and expects the rule's tests to FAIL, with the mutated number's reason;
unmutated, they pass. Mutations of different rules whose tests differ share a spec and a
run (tests/suite_run.py :class:`Plants`: every rule test runs in it, those of the rules
not mutated must pass).
"""
from suite_run import Mutations, skip_inside_a_run

skip_inside_a_run()

MUTATIONS = [
    # (rule, mutated value, {test that must fail: words of its fail reason})
    ("keepalive_idle", 479, {"test_keepalive_healthy_connection": "AT+QISACK at [479.0, 509.0]"}),
    ("probe_data", 9, {"test_keepalive_healthy_connection": "the probe 'TCP detect' (10 bytes, L645) did not arrive"}),
    ("probe_ack_wait", 29, {"test_keepalive_healthy_connection": "AT+QISACK at [480.0, 509.0]",
                            "test_keepalive_silent_peer_reestablishes": "AT+QISACK at [480.0, 509.0]"}),
    ("detect_first_wait", 4, {"test_detection_of_a_live_connection": "checks at [4.0]",
                              "test_detection_of_a_half_open_link": "checks at [6.0, 16.0, 26.0"}),
    ("detect_interval", 9, {"test_detection_of_a_half_open_link": "checks at [7.0, 16.0, 25.0"}),
    ("detect_tries", 11, {"test_detection_of_a_half_open_link": "11 checks, the note: at most 12"}),
    ("qideact_host_timeout", 59, {"test_qideact_without_answer_restarts":
                                  "; the note: after 60 s without DEACT OK"}),
    ("escape_guard", 0.4, {"test_closed_in_data_mode_that_was_data": "ended 'restarted', expected 'data'"}),
]
PLANTS = Mutations("quectel_gsm", "suites/quectel_gsm/test_chapter6.py", MUTATIONS)
test_batches_mutate_a_rule_once, test_unmutated_spec_passes_the_rules, test_mutated_number_fails_its_rule = \
    PLANTS.tests()
