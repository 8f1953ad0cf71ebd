"""The flow-chart suite fails when the policy drifts from BG96 Figure 1.

Each case changes one number of the ``flow_chart:`` section of a copy of the specs (the only
place the policy reads its numbers from), runs ``suites/bg96/test_flowchart.py`` against
that spec and expects the rule's tests to FAIL, with the mutated number's reason, while
the unmutated run passes them. Mutations of different rules whose tests differ share a
spec and a run (tests/suite_run.py :class:`Plants`: every rule test runs in it, those of
the rules not mutated must pass).
"""
from suite_run import Mutations, skip_inside_a_run

skip_inside_a_run()

REBOOT = "'reboot #1: AT+QPOWD')"
MUTATIONS = [
    # (rule, mutated value, {test that must fail: words of its fail reason}[, the other rule
    # tests it fails too, measured with it alone over all of them])
    ("command_response_timeout", 61, {"test_no_response_in_60s_reboots": f"got (61.0, {REBOOT}, expected (60",
                                      "test_recovery_from_a_dead_modem": f"got (61.0, {REBOOT}, expected (60"}),
    ("command_response_timeout", 58, {"test_final_result_within_60s_is_waited_for":
                                      f"got (58.0, {REBOOT}, expected (59, 'AT+CGREG?')"},
     ["test_no_response_in_60s_reboots", "test_recovery_from_a_dead_modem"]),
    ("qiopen_failures_before_reactivation", 4,
     {"test_five_open_failures_reactivate_the_context": "got (0.0, 'AT+QIDEACT=1'), expected (0, 'AT+QIOPEN=1",
      "test_four_open_failures_keep_the_context": "got (0.0, 'AT+QIDEACT=1'), expected (0, 'AT+QIOPEN=1"}),
    ("reboot_backoff", [0, 300, 1800, 3600],
     {"test_backoff_across_seven_failing_reboots": "[20.0, 52.0, 84.0, 116.0, 448.0, 2280.0"}),
    ("cpin_ready_within", 21, {"test_sim_not_ready_in_20s_reboots": f"got (20.0, 'wait 1s'), expected (20, {REBOOT}"},
     ["test_backoff_across_seven_failing_reboots"]),
    ("qiact_timeout", 149, {"test_qiact_no_response_in_150s_reboots": f"got (149.0, {REBOOT}, expected (150"}),
    ("qideact_failures_before_reboot", 2,
     {"test_three_qideact_failures_reboot": f"got (0.0, {REBOOT}, expected (0, 'AT+QIDEACT=1')",
      "test_two_qideact_failures_do_not_reboot": f"got (0.0, {REBOOT}, expected (0, 'AT+QIDEACT=1')"}),
    ("ack_poll_count", 23, {"test_unacked_for_two_minutes_reopens": "got (115.0, 'AT+QICLOSE=0'), expected (115, 'wait 5s')"}),
    ("power_off_min", 10, {"test_no_response_in_60s_reboots": "got (70.0, 'power off'), expected (72, 'power off')"},
     ["test_backoff_across_seven_failing_reboots", "test_cs_registration_in_90s_or_reboot",
      "test_qiact_no_response_in_150s_reboots", "test_qiclose_no_response_in_10s_reboots",
      "test_qideact_no_response_in_40s_reboots", "test_recovery_from_a_dead_modem",
      "test_sim_not_ready_in_20s_reboots", "test_three_qideact_failures_reboot"]),
    ("creg_registered_within", 91, {"test_cs_registration_in_90s_or_reboot":
                                    f"got (90.0, 'wait 1s'), expected (90, {REBOOT}"}),
    ("ps_registration_poll", 59, {"test_ps_registration_polled_60s_then_go_on": "got (59.0, 'AT+QICSGP=1,1,"}),
    ("qideact_timeout", 41, {"test_qideact_no_response_in_40s_reboots": f"got (41.0, {REBOOT}, expected (40"}),
    ("qiopen_urc_timeout", 151, {"test_no_qiopen_urc_in_150s_closes":
                                 "got (151.0, 'AT+QICLOSE=0'), expected (150, 'AT+QICLOSE=0')"},
     ["test_qiclose_no_response_in_10s_reboots"]),
    ("qiclose_timeout", 11, {"test_qiclose_no_response_in_10s_reboots": f"got (161.0, {REBOOT}, expected (160"}),
    ("ack_poll_interval", 4, {"test_unacked_for_two_minutes_reopens": "got (0.0, 'wait 4s'), expected (0, 'wait 5s')",
                              "test_acked_data_keeps_the_connection": "got (0.0, 'wait 4s'), expected (0, 'wait 5s')"}),
    ("reboots_before_backoff", 2, {"test_backoff_across_seven_failing_reboots": "[20.0, 52.0, 84.0, 716.0, 2548.0"}),
]
PLANTS = Mutations("bg96", "suites/bg96/test_flowchart.py", MUTATIONS)
test_batches_mutate_a_rule_once, test_unmutated_spec_passes_the_rules, test_mutated_number_fails_its_rule = \
    PLANTS.tests()
