"""Each GV500 behaviour the suite checks fails when it is broken: plant one named defect in
the emulator (``--emulator-defects``), run the purpose that checks it in a pytest
subprocess, expect verdict fail with the defect's reason (defects whose purposes differ
share a run: tests/suite_run.py :class:`Plants`). Also: the ICS declaration
``bad_input_reply`` decides the verdict of bad input (a unit that NACKs passes when the
IXIT says so), and the device password never reaches an output."""
import pytest

from atconform.families.queclink_gv500.config import CONFIG_ENV
from atconform.families.queclink_gv500.emulator import BEHAVIOUR_DEFECTS
from suite_run import EVERY, Plant, Plants, defects_file, run, skip_inside_a_run, write_yaml

skip_inside_a_run()

SUITES = "suites/queclink_gv500"
P = "QUECLINK_GV500/BSS2/"
S = "QUECLINK_GV500/SCENARIO/"

# defect -> (the purpose that must fail with it, words of the fail reason[, the other
# purposes of the table it fails too, measured with it alone over all of them, or EVERY:
# it runs alone])
CHECKED_BY = {
    # a reply field every purpose reads: runs of their own
    "seq-not-echoed": (P + "WRITE/seq/max", "<seq> is '0000', the command sent 'FFFF'", EVERY),
    "unit-id-wrong-length": (P + "READ/response", "<imei> is 14 characters, shorter than 15", EVERY),
    "send-time-invalid": (P + "READ/response", "is not a valid date and time (YYYYMMDDHHMMSS)", EVERY),
    "wrong-password-answered": (P + "WRITE/password/wrong", "(wrong) is rejected) was answered '+ACK:BSS2"),
    "port-out-of-range-accepted": (P + "WRITE/port/above-max", "<port>=65536 (max+1) is rejected) was answered '+ACK",
                                   (P + "WRITE/mode/above-max", P + "WRITE/seq/lower-case", P + "WRITE/unterminated")),
    "lower-case-seq-accepted": (P + "WRITE/seq/lower-case", "(<seq>=a lower-case hex digit is rejected) was answered"),
    # the stray +ACK comes as the next query's answer or, when it is early, as an unknown URC
    "unterminated-accepted": (P + "WRITE/unterminated", "'+ACK:BSS2,123456789012345,"),
    "bad-input-nacked": (P + "WRITE/mode/above-max", "<mode>=2 (max+1) is rejected) was answered '+NACK:BSS2",
                         (P + "WRITE/password/wrong", P + "WRITE/port/above-max", P + "WRITE/seq/lower-case")),
    "refused-write-stored": (P + "WRITE/password/wrong", "(wrong) is rejected) the query reports ip='192.168.1.12'"),
    "query-stale": (P + "WRITE/ip/domain", "the query after an acknowledged write reports ip=''", (P + "WRITE/seq/max",)),
    "count-not-incrementing": (S + "count-increments", "(ICS count_step 1)"),
    "mode1-stays-on-backup": (S + "mode1-returns-to-primary", "mode 1: after the backup server closed the "
                              "connection the unit went to the backup"),
    "mode0-returns-to-primary": (S + "mode0-stays-on-backup", "mode 0: after the backup server closed the "
                                 "connection the unit went to the primary"),
    "local-port-ignored": (S + "local-port", "the backup server sees the connection from port"),
    "backup-never-tried": (S + "failover-to-backup", "no connection at the backup server",
                           (S + "local-port", S + "mode0-stays-on-backup", S + "mode1-returns-to-primary")),
}
SCENARIO_TESTS = {
    S + "count-increments": "test_count_increments",
    S + "mode1-returns-to-primary": "test_mode1_returns_to_primary",
    S + "mode0-stays-on-backup": "test_mode0_stays_on_backup",
    S + "local-port": "test_local_port",
    S + "failover-to-backup": "test_failover_to_backup",
}


def node(pid: str) -> str:
    if pid.startswith(S):
        return f"{SUITES}/test_scenarios.py::{SCENARIO_TESTS[pid]}"
    return f"{SUITES}/test_generated.py::test_purpose[{pid}]"


def plant(defect: str, pid: str, reason: str, spills=()) -> Plant:
    return Plant(defect, node(pid), reason, spills if spills is EVERY else tuple(map(node, spills)))


# both planted, the unit's mode handling is neither's: measured, they share no run
APART = (("mode0-returns-to-primary", "mode1-stays-on-backup"),)
PLANTS = Plants([plant(d, *v) for d, v in CHECKED_BY.items()], apart=APART)


def run_purposes(tmp_path, pids, defects=None, ixit=None, emulator_config=None):
    """Run the purposes ``pids`` (with defects, an IXIT, an emulator configuration)."""
    args = [node(p) for p in pids]
    env = {}
    if defects:
        args += ["--emulator-defects", defects_file(tmp_path, behaviour=defects)]
    if ixit:
        args += ["--ixit", str(write_yaml(tmp_path / "ixit.yaml", ixit))]
    if emulator_config:
        env[CONFIG_ENV] = str(write_yaml(tmp_path / "gv500.yaml", emulator_config))
    return run(tmp_path / "reports", *args, env=env, timeout=300)


def test_every_planted_defect_has_a_purpose():
    assert set(CHECKED_BY) == set(BEHAVIOUR_DEFECTS)


def test_the_checking_purposes_pass_without_defects(tmp_path_factory):
    r = PLANTS.run(tmp_path_factory, None)
    pids = sorted({pid for pid, *_ in CHECKED_BY.values()})
    assert {p: r.results[p]["verdict"] for p in pids} == {p: "pass" for p in pids}, r.tail()


@pytest.mark.parametrize("defect", sorted(CHECKED_BY))
def test_purpose_fails_with_planted_defect(defect, tmp_path_factory):
    PLANTS.check(tmp_path_factory, defect)


BAD = P + "WRITE/mode/above-max"


@pytest.mark.parametrize("unit, declared, verdict", [
    ("nack", "nack", "pass"),        # the IXIT declares what the unit does
    ("silent", "nack", "fail"),      # declared NACK, the unit stays silent
    ("nack", None, "fail"),          # the spec's default (silent), the unit NACKs
])
def test_bad_input_verdict_follows_the_ics_declaration(tmp_path, unit, declared, verdict):
    ixit = {"ics": {"bad_input_reply": declared}} if declared else None
    r = run_purposes(tmp_path, [BAD, P + "WRITE/unterminated"], ixit=ixit, emulator_config={"bad_input_reply": unit})
    assert r.results[BAD]["verdict"] == verdict, (r.results[BAD]["reason"], r.proc.stdout[-2000:])
    assert r.results[P + "WRITE/unterminated"]["verdict"] == "pass"    # no NACK before the "$"


def test_an_ics_value_outside_its_choices_is_inconclusive(tmp_path):
    r = run_purposes(tmp_path, [BAD], ixit={"ics": {"bad_input_reply": "shout"}})
    assert r.results[BAD]["verdict"] == "inconclusive" and "shout" in r.results[BAD]["reason"]


def test_the_device_password_is_never_in_an_output(tmp_path):
    secret = "Pw-gv500-Secret"
    pids = [P + "WRITE/port/above-max", P + "WRITE/unterminated", P + "WRITE/seq/min"]
    # one failing purpose, so its reason and transcript (the password on the wire) are output
    r = run_purposes(tmp_path, pids, ["query-stale"], ixit={"device_password": secret},
                     emulator_config={"password": secret})
    assert [r.results[p]["verdict"] for p in pids] == ["pass", "pass", "fail"], r.proc.stdout[-2000:]
    assert "AT@BSS2=***,,," in r.proc.stdout          # the failing purpose's transcript
    seen = [r.proc.stdout, r.proc.stderr]
    for f in (tmp_path / "reports").rglob("*"):
        if f.is_file():
            seen.append(f.read_text(errors="replace"))
    assert not [s for s in seen if secret in s]
    assert any("***" in s for s in seen)


def test_a_wrong_device_password_makes_the_run_inconclusive(tmp_path):
    r = run_purposes(tmp_path, [P + "READ/response"], ixit={"device_password": "notthepass"})
    assert r.results[P + "READ/response"]["verdict"] in ("inconclusive", "error")
    assert "device password" in r.results[P + "READ/response"]["reason"]
