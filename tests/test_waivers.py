"""Waivers (atconform/waivers.py) in the compliance report.

Pure: a failure a waiver covers is ``fail (waived)`` in its own column, never pass;
expired, stale, observed-text and unmatched waivers; bad files in one line.
End to end: a planted range defect's fail becomes fail (waived) under the example
waiver; after the expiry date it is fail again; with the defect removed the waiver is
stale. The compliance HTML shows the waiver.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import suite_run
from atconform.errors import BadInput
from atconform.report import build_report, main_report, render_html
from atconform.waivers import WAIVED, load_waivers

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "waivers_bg96.yaml"
PID = "BG96/QIOPEN/TEST/range/connectID"
REASON = "AT+QIOPEN=?: <connectID> reported as (0-12), the manual says (0-11)"

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def records(verdict="fail", reason=REASON, extra=()):
    recs = [{"type": "meta", "run_id": "r1", "model": "bg96", "family_title": "Quectel BG96"},
            {"type": "result", "purpose": PID, "family": "bg96", "command": "+QIOPEN", "verdict": verdict,
             "reason": reason, "kind": "test-range"},
            {"type": "result", "purpose": "BG96/QIOPEN/TEST/response", "family": "bg96", "command": "+QIOPEN",
             "verdict": "pass", "reason": "", "kind": "test-response"},
            *extra,
            {"type": "end", "run_id": "r1"}]
    return recs


def wfile(**kw):
    w = {"purpose": PID, "reason": "doc error", "ticket": "FW-1", "expires": "2027-01-31", **kw}
    return [{"path": "w.yaml", "firmware": None, "waivers": [w]}]


def verdict_of(report, pid=PID):
    return next(p for f in report["families"] for c in f["commands"] for p in c["purposes"] if p["purpose"] == pid)


def test_waived_failure_has_its_own_column_and_is_never_pass():
    rep = build_report(records(), waivers=wfile(), today="2027-01-31")    # the last day still applies
    p = verdict_of(rep)
    assert p["verdict"] == WAIVED and p["raw_verdict"] == "fail" and p["waiver"]["ticket"] == "FW-1"
    assert rep["counts"]["fail (waived)"] == 1 and rep["counts"]["fail"] == 0 and rep["counts"]["pass"] == 1
    assert rep["waivers"][0]["status"] == "applied" and rep["waivers"][0]["purposes"] == [PID]
    html = render_html(rep)
    assert "waived by <b>FW-1</b> until 2027-01-31" in html and 'class="badge v-fail-waived"' in html
    assert 'id="waivers"' in html and "st-applied" in html


def test_expired_waiver_no_longer_applies_and_is_listed():
    rep = build_report(records(), waivers=wfile(), today="2027-02-01")
    assert verdict_of(rep)["verdict"] == "fail" and rep["counts"]["fail (waived)"] == 0
    w = rep["waivers"][0]
    assert w["status"] == "expired" and w["purposes"] == [PID] and rep["waiver_counts"]["expired"] == 1


def test_waiver_of_a_passing_purpose_is_stale():
    rep = build_report(records(verdict="pass", reason=""), waivers=wfile(), today="2027-01-01")
    assert verdict_of(rep)["verdict"] == "pass"
    assert rep["waivers"][0]["status"] == "stale"


def test_observed_text_must_match_todays_failure():
    ok = build_report(records(), waivers=wfile(observed="reported as  (0-12)"), today="2027-01-01")
    assert verdict_of(ok)["verdict"] == WAIVED          # whitespace folded
    other = build_report(records(), waivers=wfile(observed="reported as (0-13)"), today="2027-01-01")
    assert verdict_of(other)["verdict"] == "fail"
    w = other["waivers"][0]
    assert w["status"] == "observed differs" and "(0-12)" in w["note"]


def test_glob_unmatched_and_other_verdicts():
    rep = build_report(records(), waivers=wfile(purpose="BG96/QIOPEN/TEST/*"), today="2027-01-01")
    assert verdict_of(rep)["verdict"] == WAIVED
    assert verdict_of(rep, "BG96/QIOPEN/TEST/response")["verdict"] == "pass"      # a pass stays pass
    assert build_report(records(), waivers=wfile(purpose="BG96/NOPE/*"), today="2027-01-01")["waivers"][0]["status"] \
        == "unmatched"
    err = build_report(records(verdict="error", reason="PortLost"), waivers=wfile(), today="2027-01-01")
    assert verdict_of(err)["verdict"] == "error" and err["waivers"][0]["status"] == "not exercised"


def test_waivers_recorded_with_the_run_apply_unless_overridden():
    recs = records()
    recs.insert(1, {"type": "waivers", "path": "lab.yaml", "firmware": "FW1", "waivers": wfile()[0]["waivers"]})
    assert verdict_of(build_report(recs, today="2027-01-01"))["verdict"] == WAIVED
    assert verdict_of(build_report(recs, waivers=[], today="2027-01-01"))["verdict"] == "fail"


@pytest.mark.parametrize("content, where", [
    ("waivers: [{purpose: X, reason: r, ticket: T, expires: 2027-13-01}]", "invalid YAML value: month must be in 1..12"),
    ("waivers: [{purpose: X, reason: r, ticket: T}]", "waivers[0].expires: required key missing"),
    ("waivers: [{purpose: X, reason: r, ticket: T, expires: 2027-01-01, why: 1}]", "waivers[0].why: unknown key"),
    ("waivers: [{purpose: ' ', reason: r, ticket: T, expires: 2027-01-01}]", "waivers[0].purpose: must not be empty"),
])
def test_bad_waiver_file_is_one_line(tmp_path, content, where):
    path = tmp_path / "w.yaml"
    path.write_text(content)
    with pytest.raises(BadInput) as e:
        load_waivers(path)
    assert where in str(e.value) and "\n" not in str(e.value)


def test_example_file_is_valid():
    wf = load_waivers(EXAMPLE)
    assert any(w.purpose.startswith("BG96/QIACT/") and "already active" in w.reason for w in wf.waivers)


def test_cli_waivers_and_today(tmp_path, capsys):
    jsonl = tmp_path / "results.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records()))
    assert main_report([str(jsonl), "--out", str(tmp_path), "--waivers", str(EXAMPLE), "--today", "2027-01-01"]) == 0
    out = capsys.readouterr().out
    assert "1 fail (waived)" in out
    rep = json.loads((tmp_path / "compliance.json").read_text())
    assert verdict_of(rep)["waiver"]["ticket"] == "FW-1250"
    assert main_report([str(jsonl), "--out", str(tmp_path), "--waivers", str(EXAMPLE), "--today", "2027-04-01"]) == 0
    assert "1 expired" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("waivers: 3\n")
    assert main_report([str(jsonl), "--out", str(tmp_path), "--waivers", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.yaml" in err
    assert main_report([str(jsonl), "--out", str(tmp_path), "--today", "tomorrow"]) == 2


# -- end to end ----------------------------------------------------------------------------

def run_suite(reports: Path, *args: str):
    proc, _, report = suite_run.run_suite(reports, "suites/bg96/test_generated.py", "-k", "QIOPEN/TEST", *args)
    return proc, report


def test_run_planted_defect_waived_then_expired_then_stale(tmp_path):
    defects = tmp_path / "defects.yaml"
    defects.write_text(yaml.safe_dump({"test_ranges": {"+QIOPEN": {"connectID": "(0-12)"}}}))
    proc, rep = run_suite(tmp_path / "a", "--emulator-defects", str(defects), "--waivers", str(EXAMPLE))
    p = verdict_of(rep)
    assert p["verdict"] == WAIVED and p["waiver"]["ticket"] == "FW-1250", proc.stdout[-2000:]
    assert rep["counts"]["fail"] == 0 and rep["counts"]["fail (waived)"] == 1
    assert 'waived by <b>FW-1250</b>' in (tmp_path / "a" / "compliance.html").read_text()
    # the same results judged after the expiry date: fail again, the waiver listed as expired
    out = tmp_path / "a-later"
    assert main_report([str(tmp_path / "a" / "results.jsonl"), "--out", str(out), "--today", "2027-04-01"]) == 0
    later = json.loads((out / "compliance.json").read_text())
    assert verdict_of(later)["verdict"] == "fail"
    assert {w["ticket"]: w["status"] for w in later["waivers"]}["FW-1250"] == "expired"
    # the defect removed: the purpose passes, the waiver is stale
    proc, clean = run_suite(tmp_path / "b", "--waivers", str(EXAMPLE))
    assert proc.returncode == 0 and verdict_of(clean)["verdict"] == "pass"
    assert {w["ticket"]: w["status"] for w in clean["waivers"]}["FW-1250"] == "stale"


def test_run_bad_waivers_file_stops_in_one_line(tmp_path):
    bad = tmp_path / "w.yaml"
    bad.write_text("waivers: [{purpose: X}]\n")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reports", str(tmp_path / "r"),
           "--waivers", str(bad), "suites/bg96/test_generated.py", "-k", "QIOPEN/TEST"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ATCONFORM_E2E_INNER": "1"})
    assert proc.returncode == 2
    lines = [x for x in (proc.stdout + proc.stderr).splitlines() if "bad --waivers file" in x]
    assert len(lines) == 1 and "waivers[0].reason: required key missing" in lines[0]
