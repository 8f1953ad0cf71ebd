"""The chapter 6 suite fails when the GSM policy drifts from the note.

Each case copies the specs, changes one number of the Quectel GSM ``flow_chart:`` (the only
place the policy reads its numbers from), runs ``suites/quectel_gsm/test_chapter6.py``
against that spec and expects the rule's tests to FAIL; unmutated, they pass.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def run_chapter6(specs: Path | None, tmp: Path, select: str) -> dict[str, str]:
    env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
    if specs is not None:
        env["ATCONFORM_SPECS"] = str(specs)
    cmd = [sys.executable, "-m", "pytest", "suites/quectel_gsm/test_chapter6.py", "-k", select, "-q", "-rA",
           "-p", "no:cacheprovider", "--reports", str(tmp / "reports"), "-o", "addopts=",
           "--alluredir", str(tmp / "allure")]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    out = {m.group(2): m.group(1) for m in re.finditer(r"^(PASSED|FAILED|ERROR|SKIPPED)\s+\S+::(\w+)", proc.stdout, re.M)}
    assert out, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def mutated_specs(tmp: Path, rule: str, value) -> Path:
    dst = tmp / "specs"
    shutil.copytree(REPO / "specs", dst)
    path = dst / "quectel_gsm.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    hits = [r for r in data["flow_chart"] if r["name"] == rule]
    assert len(hits) == 1, rule
    hits[0]["value"] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return dst


MUTATIONS = [
    # (rule, mutated value, tests that must fail)
    ("keepalive_idle", 479, ["test_keepalive_healthy_connection"]),
    ("probe_data", 9, ["test_keepalive_healthy_connection"]),
    ("probe_ack_wait", 29, ["test_keepalive_healthy_connection", "test_keepalive_silent_peer_reestablishes"]),
    ("detect_first_wait", 4, ["test_detection_of_a_live_connection", "test_detection_of_a_half_open_link"]),
    ("detect_interval", 9, ["test_detection_of_a_half_open_link"]),
    ("detect_tries", 11, ["test_detection_of_a_half_open_link"]),
    ("qideact_host_timeout", 59, ["test_qideact_without_answer_restarts"]),
    ("escape_guard", 0.4, ["test_closed_in_data_mode_that_was_data"]),
]


def test_unmutated_spec_passes_the_rules(tmp_path):
    names = sorted({t for _, _, ts in MUTATIONS for t in ts})
    got = run_chapter6(None, tmp_path, " or ".join(names))
    assert {n: got.get(n) for n in names} == {n: "PASSED" for n in names}


@pytest.mark.parametrize("rule,value,must_fail", MUTATIONS, ids=[f"{m[0]}={m[1]}" for m in MUTATIONS])
def test_mutated_number_fails_its_rule(tmp_path, rule, value, must_fail):
    got = run_chapter6(mutated_specs(tmp_path, rule, value), tmp_path, " or ".join(must_fail))
    assert {n: got.get(n) for n in must_fail} == {n: "FAILED" for n in must_fail}, got
