"""Firmware diff (``atconform report --diff``: HTML + JSON) and the quality gate.

Pure: categories (newly failing, fixed, changed reason, added, removed, waiver changes),
grouping by family and command, transcript links, every gate rule with the report that
breaks it. End to end: a clean BG96 run and one with two planted defects: the diff lists
exactly those two as newly failing, with links to both transcripts; the gate exits 1 for
them (one line per breach) and 0 for the clean pair.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import suite_run
from atconform.report import build_report, main_report
from atconform.report.diff import diff_reports, link_transcripts, render_diff_html
from atconform.report.gate import Gate, evaluate

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def res(pid, verdict, reason="", command="+QIOPEN", kind="write-ok", **kw):
    return {"type": "result", "purpose": pid, "family": "bg96", "command": command, "verdict": verdict,
            "reason": reason, "kind": kind, **kw}


def report(results, waivers=None, today="2027-01-01"):
    recs = [{"type": "meta", "run_id": "r", "model": "bg96"}, *results, {"type": "end", "run_id": "r"}]
    return build_report(recs, waivers=waivers, today=today)


OLD = [res("A/1", "pass"), res("A/2", "fail", "got ERROR"), res("A/3", "pass", command="+QICLOSE"),
       res("A/4", "fail", "x"), res("A/5", "skipped", "no emulator"), res("A/gone", "pass")]
NEW = [res("A/1", "fail", "no OK"), res("A/2", "pass"), res("A/3", "error", "PortLost", command="+QICLOSE"),
       res("A/4", "fail", "y"), res("A/5", "inconclusive", "no network"), res("A/new", "fail", "z")]


def test_categories():
    d = diff_reports(report(OLD), report(NEW))
    ids = lambda k: [c["purpose"] for c in d[k]]   # noqa: E731
    assert ids("newly_failing") == ["A/1", "A/3"]
    assert ids("fixed") == ["A/2"]
    assert ids("reason_changed") == ["A/4"]
    assert ids("other_changes") == ["A/5"]
    assert ids("added") == ["A/new"] and ids("removed") == ["A/gone"]
    assert {c["command"] for c in d["newly_failing"]} == {"AT+QIOPEN", "AT+QICLOSE"}


def test_waiver_changes_and_expired_waiver_is_newly_failing():
    w = [{"path": "w.yaml", "waivers": [{"purpose": "A/4", "reason": "r", "ticket": "T-1", "expires": "2027-01-15"}]}]
    before = report(OLD, waivers=w, today="2027-01-01")
    after = report(OLD, waivers=w, today="2027-02-01")
    d = diff_reports(before, after)
    assert [c["purpose"] for c in d["newly_failing"]] == ["A/4"]          # fail (waived) -> fail
    assert d["waiver_changes"] == [{"purpose": "A/4", "ticket": "T-1", "change": "status", "old": "applied",
                                    "new": "expired", "expires": "2027-01-15", "reason": "r",
                                    "note": d["waiver_changes"][0]["note"]}]


def test_html_groups_by_family_and_command_and_links_transcripts(tmp_path):
    old_dir, new_dir, out = tmp_path / "old", tmp_path / "new", tmp_path / "out"
    for d in (old_dir, new_dir):
        (d / "transcripts").mkdir(parents=True)
        (d / "transcripts" / "a1.txt").write_text("AT\r\nOK\r\n")
    o = report([res("A/1", "pass", transcript="transcripts/a1.txt")])
    n = report([res("A/1", "fail", "no OK", transcript="transcripts/a1.txt")])
    d = link_transcripts(diff_reports(o, n), old_dir, new_dir, out)
    c = d["newly_failing"][0]
    assert c["old_href"] == "../old/transcripts/a1.txt" and c["new_href"] == "../new/transcripts/a1.txt"
    html = render_diff_html(d, old_name="fw1", new_name="fw2")
    assert '<section class="cat newly_failing" id="newly_failing">' in html
    assert '<h2>Newly failing (1)</h2>' in html and '<h3>bg96</h3>' in html and '<h4 class="mono">AT+QIOPEN</h4>' in html
    assert 'href="../old/transcripts/a1.txt"' in html and 'href="../new/transcripts/a1.txt"' in html
    assert "<script" not in render_diff_html(diff_reports(o, report([res("A/1", "fail", "<script>x")])))


@pytest.mark.parametrize("rules, rep, want", [
    ({"no_new_failures": True}, NEW, ["no_new_failures", "no_new_failures"]),
    ({"no_failures_of_severity": ["critical"]}, NEW, ["no_failures_of_severity"] * 4),
    ({"no_failures_of_severity": ["minor"]}, NEW, []),
    ({"min_purposes_run": 7}, NEW, ["min_purposes_run"]),
    ({"min_purposes_run": 6}, NEW, []),
    ({"max_failures": 3}, NEW, ["max_failures"]),
    ({"max_failures": 4}, NEW, []),
    ({"no_new_failures": True, "complete_run": True}, OLD, []),
])
def test_gate_rules(rules, rep, want):
    breaches = evaluate(Gate(rules=rules), report(rep), report(OLD))
    assert [b.rule for b in breaches] == want
    assert all(str(b).startswith(f"gate: {b.rule}: ") and "\n" not in str(b) for b in breaches)


def test_gate_waivers_and_incomplete():
    w = [{"path": "w.yaml", "waivers": [{"purpose": "A/4", "reason": "r", "ticket": "T-1", "expires": "2027-01-15"},
                                        {"purpose": "A/1", "reason": "r", "ticket": "T-2", "expires": "2028-01-01"}]}]
    g = Gate(rules={"no_expired_waivers": True, "no_stale_waivers": True, "max_failures": 1})
    assert [b.rule for b in evaluate(g, report(OLD, waivers=w, today="2027-01-01"))] == ["no_stale_waivers"]
    later = report(OLD, waivers=w, today="2027-02-01")
    assert sorted(b.rule for b in evaluate(g, later)) == ["max_failures", "no_expired_waivers", "no_stale_waivers"]
    incomplete = build_report([res("A/1", "pass")])
    assert [b.rule for b in evaluate(Gate(rules={"complete_run": True}), incomplete)] == ["complete_run"]
    with pytest.raises(ValueError, match="baseline"):
        evaluate(Gate(rules={"no_new_failures": True}), incomplete)


# -- end to end ----------------------------------------------------------------------------

def run_suite(reports: Path, *args: str):
    return suite_run.run_suite(reports, "suites/bg96/test_generated.py", *args)[0]


def test_run_diff_two_planted_defects_and_gate(tmp_path, capsys):
    clean, bad = tmp_path / "fw1", tmp_path / "fw2"
    defects = tmp_path / "defects.yaml"
    defects.write_text(yaml.safe_dump({"test_ranges": {"+QIOPEN": {"connectID": "(0-12)"},
                                                       "+QICLOSE": {"connectID": "(0-5)"}}}))
    assert run_suite(clean).returncode == 0
    assert run_suite(bad, "--emulator-defects", str(defects)).returncode == 1
    gate = tmp_path / "gate.yaml"
    gate.write_text(yaml.safe_dump({"rules": {"no_new_failures": True, "min_purposes_run": 100}}))

    out = tmp_path / "diff"
    code = main_report(["--diff", str(clean / "compliance.json"), str(bad / "compliance.json"), "--out", str(out),
                        "--gate", str(gate)])
    text = capsys.readouterr().out
    assert code == 1
    d = json.loads((out / "diff.json").read_text())
    assert sorted(c["purpose"] for c in d["newly_failing"]) == ["BG96/QICLOSE/TEST/range/connectID",
                                                              "BG96/QIOPEN/TEST/range/connectID"]
    assert d["fixed"] == d["added"] == d["removed"] == d["reason_changed"] == d["other_changes"] == []
    breaches = [x for x in text.splitlines() if x.startswith("gate: ")]
    assert len(breaches) == 2 and all(x.startswith("gate: no_new_failures: BG96/") for x in breaches)
    html = (out / "diff.html").read_text()
    assert html.count('data-purpose="BG96/') == 2
    for side in ("fw1", "fw2"):
        assert f'href="../{side}/transcripts/BG96_QIOPEN_TEST_range_connectID-' in html
    # the clean pair: no changes, the gate passes
    code = main_report(["--diff", str(clean / "compliance.json"), str(clean / "compliance.json"),
                        "--out", str(tmp_path / "same"), "--gate", str(gate)])
    assert code == 0 and "gate " in capsys.readouterr().out
    assert json.loads((tmp_path / "same" / "diff.json").read_text())["newly_failing"] == []


def test_run_gate_option_sets_pytest_exit_status(tmp_path):
    gate = tmp_path / "gate.yaml"
    gate.write_text(yaml.safe_dump({"rules": {"min_purposes_run": 100000}}))
    proc = run_suite(tmp_path / "r", "-k", "QIOPEN/TEST", "--gate", str(gate))
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert any(x.startswith("gate: min_purposes_run: ") for x in proc.stdout.splitlines())
    gate.write_text(yaml.safe_dump({"rules": {"min_purposes_run": 3, "complete_run": True}}))
    proc = run_suite(tmp_path / "r", "-k", "QIOPEN/TEST", "--gate", str(gate))
    assert proc.returncode == 0, proc.stdout[-2000:]
