"""Self-tests of atconform.report: loading, building, HTML rendering, writing, diffing."""
from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest

from atconform.report.builder import section_key
from atconform.report import (
    SCHEMA,
    VERDICTS,
    build_report,
    diff_reports,
    load_records,
    main_report,
    render_html,
    write_reports,
)
from atconform.report import writer as writer_mod

ATI = "Quectel\nBG96\nRevision: BG96MAR02A07M1G"
GMR = "BG96MAR02A07M1G"
XSS = '<script>alert("x")</script>'


def meta(model="bg96", run_id="20261121T050000Z-ab12", title="Quectel BG96", mode="emulator"):
    return {
        "type": "meta", "run_id": run_id, "started": "2026-11-21T05:00:00Z", "model": model,
        "family_title": title, "mode": mode, "port": "/dev/pts/3", "baud": 115200,
        "atconform_version": "0.1.0", "python": "3.11.7", "host": "rig", "argv": ["pytest", "-q"],
        "ixit": {"apn": "internet"},
    }


def firmware(model="bg96"):
    return {"type": "firmware", "model": model, "identity": {"ATI": ATI, "AT+GMR": GMR}}


def result(purpose, verdict="pass", command="+QIOPEN", section="2.1.4", family="bg96", reason=""):
    return {
        "type": "result",
        "nodeid": f"suites/{family}/test_generated.py::test_purpose[{purpose}]",
        "purpose": purpose, "title": f"title of {purpose}", "family": family,
        "command": command, "form": "write", "section": section,
        "source": f"002_0fb801db6955a51c.txt §{section}", "verdict": verdict, "reason": reason,
        "duration": 0.012, "finished": "2026-11-21T05:00:01Z", "emulator_only": False,
    }


END = {"type": "end", "finished": "2026-11-21T05:03:00Z", "exitstatus": 0}


def sample_records(with_end=True):
    recs = [
        meta(), firmware(),
        result("BG96/QIOPEN/WRITE/connectID/min"),
        result("BG96/QIOPEN/WRITE/connectID/above-max", "fail", reason="expected ERROR, got OK"),
        result("BG96/QIOPEN/WRITE/remote/unreachable", "inconclusive", reason="no PDP context"),
        result("BG96/QICSGP/WRITE/apn/long", "pass", command="+QICSGP", section="2.1.1"),
        result("BG96/QICSGP/READ/ctx", "not applicable", command="+QICSGP", section="2.1.1"),
        result("BG96/QISEND/WRITE/len/max", "skipped", command="+QISEND", section="2.1.10",
               reason="emulator-only test in real-modem mode"),
        result("BG96/QISEND/WRITE/len/min", "error", command="+QISEND", section="2.1.10",
               reason="harness broke"),
        result("BG96/QISTATE/READ/all", "pass", command="+QISTATE", section="2.1.9"),
    ]
    if with_end:
        recs.append(END)
    return recs


def write_jsonl(path: Path, records, tail: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail, encoding="utf-8")
    return path


class _Text(HTMLParser):
    """Visible text of an HTML document (script/style excluded)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return "".join(p.parts)


# --------------------------------------------------------------------------- loading


def test_load_records_skips_and_counts_half_written_last_line(tmp_path):
    path = write_jsonl(tmp_path / "r.jsonl", sample_records(with_end=False),
                       tail='{"type":"result","nodeid":"suites/bg96/te')
    records, bad = load_records(path)
    assert bad == 1
    assert len(records) == len(sample_records(with_end=False))
    assert records[0]["type"] == "meta"


def test_load_records_counts_each_kind_of_malformed_line(tmp_path):
    path = tmp_path / "r.jsonl"
    lines = [
        json.dumps(meta()),
        "",                                   # blank: ignored, not counted
        "not json",
        "[1, 2]",                             # JSON but not an object
        json.dumps({"no": "type"}),
        json.dumps({"type": "result", "purpose": "X"}),     # result without verdict
        json.dumps({"type": "result", "verdict": "pass"}),  # result without a name
        json.dumps(result("BG96/A/TEST/ok")),
    ]
    path.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe\x00garbage\n")
    records, bad = load_records(path)
    assert bad == 6
    assert [r["type"] for r in records] == ["meta", "result"]


def test_load_records_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_records(tmp_path / "absent.jsonl")


# --------------------------------------------------------------------------- building


def test_counts_are_correct():
    rep = build_report(sample_records())
    assert rep["schema"] == SCHEMA
    assert rep["total"] == 8
    assert rep["counts"] == {"pass": 3, "fail": 1, "fail (waived)": 0, "inconclusive": 1, "error": 1,
                             "not applicable": 1, "skipped": 1}
    assert list(rep["counts"]) == list(VERDICTS)
    (fam,) = rep["families"]
    assert fam["model"] == "bg96" and fam["title"] == "Quectel BG96"
    assert fam["firmware"] == {"ATI": ATI, "AT+GMR": GMR}
    assert fam["counts"] == rep["counts"]
    by_cmd = {c["command"]: c for c in fam["commands"]}
    assert by_cmd["AT+QIOPEN"]["counts"]["pass"] == 1
    assert by_cmd["AT+QIOPEN"]["counts"]["fail"] == 1
    assert by_cmd["AT+QIOPEN"]["counts"]["inconclusive"] == 1
    assert by_cmd["AT+QIOPEN"]["total"] == 3
    assert sum(c["total"] for c in fam["commands"]) == rep["total"]
    for c in fam["commands"]:
        assert sum(c["counts"].values()) == len(c["purposes"]) == c["total"]


def test_commands_sorted_by_section_numerically_purposes_in_run_order():
    fam = build_report(sample_records())["families"][0]
    # names and sections are the spec's (AT+QISTATE is §2.1.6 whatever a record says)
    assert [(c["section"], c["command"]) for c in fam["commands"]] == [
        ("2.1.1", "AT+QICSGP"), ("2.1.4", "AT+QIOPEN"), ("2.1.6", "AT+QISTATE"), ("2.1.7", "AT+QISEND"),
    ]
    assert sorted(["2.1.10", "2.1.9", "", "2.1.1"], key=section_key) == ["2.1.1", "2.1.9", "2.1.10", ""]
    qiopen = fam["commands"][1]
    assert [p["purpose"] for p in qiopen["purposes"]] == [
        "BG96/QIOPEN/WRITE/connectID/min",
        "BG96/QIOPEN/WRITE/connectID/above-max",
        "BG96/QIOPEN/WRITE/remote/unreachable",
    ]
    p = qiopen["purposes"][1]
    assert set(p) >= {"purpose", "title", "form", "verdict", "reason", "duration", "section", "source"}
    assert p["verdict"] == "fail" and p["reason"] == "expected ERROR, got OK" and p["duration"] == 0.012


def test_rerun_keeps_last_result_in_first_position():
    recs = sample_records()
    recs.insert(-1, result("BG96/QIOPEN/WRITE/connectID/above-max", "pass"))
    rep = build_report(recs)
    qiopen = rep["families"][0]["commands"][1]
    assert [p["purpose"] for p in qiopen["purposes"]][1] == "BG96/QIOPEN/WRITE/connectID/above-max"
    assert qiopen["purposes"][1]["verdict"] == "pass"
    assert qiopen["purposes"][1]["runs"] == 2
    assert rep["total"] == 8 and rep["counts"]["fail"] == 0 and rep["counts"]["pass"] == 4


def test_complete_only_with_end_record():
    assert build_report(sample_records())["complete"] is True
    assert build_report(sample_records(with_end=False))["complete"] is False
    assert build_report([])["complete"] is False


def test_several_families_and_multi_process_completion():
    recs = [meta(), firmware(), meta("fibocom_l610", title="Fibocom L610"), firmware("fibocom_l610"),
            result("BG96/A/TEST/x"), result("L610/B/TEST/y", "fail", command="+MIPOPEN",
                                            family="fibocom_l610"), END]
    rep = build_report(recs)
    assert [f["model"] for f in rep["families"]] == ["bg96", "fibocom_l610"]
    assert rep["families"][1]["title"] == "Fibocom L610"
    assert rep["families"][1]["counts"]["fail"] == 1
    assert len(rep["runs"]) == 2 and "type" not in rep["runs"][0]
    assert rep["complete"] is True  # one session, two family metas, one end
    # two worker processes (distinct run ids) but only one end record
    workers = [meta(run_id="r-gw0"), meta(run_id="r-gw1"), result("BG96/A/TEST/x"), END]
    assert build_report(workers)["complete"] is False
    assert build_report(workers + [END])["complete"] is True
    tagged = [meta(run_id="r-gw0"), meta(run_id="r-gw1"), {**END, "run_id": "r-gw0"}]
    assert build_report(tagged)["complete"] is False
    assert build_report(tagged + [{**END, "run_id": "r-gw1"}])["complete"] is True


def test_odd_values_do_not_crash():
    recs = [result("BG96/A/TEST/x", "weird"), {**result("BG96/A/TEST/y"), "duration": "n/a"},
            {"type": "result", "nodeid": "t.py::only_nodeid", "verdict": "pass"}, {"type": "future"}]
    rep = build_report(recs)
    assert rep["counts"]["weird"] == 1
    assert rep["total"] == 3
    assert [f["model"] for f in rep["families"]] == ["bg96", "unknown"]
    assert rep["families"][0]["commands"][0]["purposes"][1]["duration"] is None
    json.dumps(rep)
    render_html(rep)


# --------------------------------------------------------------------------- HTML


def test_html_escapes_reason_and_shows_purposes_and_firmware():
    recs = sample_records()
    recs.insert(-1, result("BG96/QIOPEN/WRITE/xss", "fail", reason=XSS))
    rep = build_report(recs)
    html = render_html(rep)
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert XSS not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert html.count("<script") == 1  # only the template's own filter script
    text = visible_text(html)
    assert XSS in text  # shown to the reader as text
    for fam in rep["families"]:
        for cmd in fam["commands"]:
            for p in cmd["purposes"]:
                assert p["purpose"] in text
                assert f'data-purpose="{p["purpose"]}"' in html
    assert ATI in text and GMR in text
    assert "INCOMPLETE run" not in html


def test_html_is_self_contained():
    html = render_html(build_report(sample_records()))
    for needle in ("<link", "src=", "@import", "http://", "https://"):
        assert needle not in html


def test_html_marks_incomplete_run():
    html = render_html(build_report(sample_records(with_end=False)))
    assert "INCOMPLETE run" in visible_text(html)
    assert "<title>[INCOMPLETE]" in html


def test_html_opens_only_commands_with_non_pass():
    html = render_html(build_report(sample_records()))
    assert 'id="cmd-bg96-at-qistate" data-default-open="0"' in html       # all pass: closed
    assert 'id="cmd-bg96-at-qiopen" open data-default-open="1"' in html   # has a fail: open


def test_html_from_json_roundtrip_equals_direct():
    rep = build_report(sample_records(), generated="2026-11-21T05:04:00Z")
    assert render_html(json.loads(json.dumps(rep))) == render_html(rep)


# --------------------------------------------------------------------------- writing


def test_write_reports_writes_both_files_atomically(tmp_path):
    src = write_jsonl(tmp_path / "results.jsonl", sample_records(with_end=False), tail='{"type":')
    out = tmp_path / "out" / "nested"
    json_path, html_path = write_reports(src, out)
    assert (json_path, html_path) == (out / "compliance.json", out / "compliance.html")
    rep = json.loads(json_path.read_text(encoding="utf-8"))
    assert rep["schema"] == SCHEMA and rep["complete"] is False and rep["skipped_lines"] == 1
    assert "INCOMPLETE run" in html_path.read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["compliance.html", "compliance.json"]
    # rewriting replaces the files and leaves no temporaries behind
    write_jsonl(src, sample_records())
    write_reports(src, out)
    assert json.loads(json_path.read_text(encoding="utf-8"))["complete"] is True
    assert sorted(p.name for p in out.iterdir()) == ["compliance.html", "compliance.json"]


def test_failed_write_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "compliance.json"
    target.write_text("old", encoding="utf-8")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(writer_mod.os, "replace", boom)
    with pytest.raises(OSError):
        writer_mod.atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["compliance.json"]


# --------------------------------------------------------------------------- diff


def test_diff_finds_changed_added_removed():
    old = build_report(sample_records())
    recs = sample_records()
    recs = [r for r in recs if r.get("purpose") != "BG96/QISTATE/READ/all"]
    for r in recs:
        if r.get("purpose") == "BG96/QIOPEN/WRITE/connectID/min":
            r["verdict"], r["reason"] = "fail", "got ERROR"
        if r.get("purpose") == "BG96/QIOPEN/WRITE/connectID/above-max":
            r["verdict"], r["reason"] = "pass", ""
    recs.insert(-1, result("BG96/QIOPEN/WRITE/new", "pass"))
    d = diff_reports(old, build_report(recs))
    changed = {c["purpose"]: c for c in d["changed"]}
    assert set(changed) == {"BG96/QIOPEN/WRITE/connectID/min", "BG96/QIOPEN/WRITE/connectID/above-max"}
    c = changed["BG96/QIOPEN/WRITE/connectID/min"]
    assert (c["old"], c["new"], c["kind"], c["new_reason"]) == ("pass", "fail", "regression", "got ERROR")
    assert changed["BG96/QIOPEN/WRITE/connectID/above-max"]["kind"] == "fixed"
    assert [a["purpose"] for a in d["added"]] == ["BG96/QIOPEN/WRITE/new"]
    assert [r["purpose"] for r in d["removed"]] == ["BG96/QISTATE/READ/all"]
    same = diff_reports(old, old)
    assert same["changed"] == same["added"] == same["removed"] == []


# --------------------------------------------------------------------------- CLI


def test_main_report_defaults_and_diff(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").mkdir()
    write_jsonl(tmp_path / "reports" / "results.jsonl", sample_records())
    assert main_report([]) == 0
    out = capsys.readouterr().out
    assert "compliance.html" in out and "8 purposes" in out
    first = tmp_path / "reports" / "compliance.json"
    old = tmp_path / "old.json"
    first.replace(old)

    recs = sample_records()
    recs[2] = result("BG96/QIOPEN/WRITE/connectID/min", "fail", reason="got ERROR")
    write_jsonl(tmp_path / "new.jsonl", recs)
    assert main_report(["new.jsonl", "--out", "newdir"]) == 0
    capsys.readouterr()

    assert main_report(["--diff", str(old), "newdir/compliance.json"]) == 1
    out = capsys.readouterr().out
    assert "BG96/QIOPEN/WRITE/connectID/min: pass -> fail" in out
    assert main_report(["--diff", str(old), str(old)]) == 0
    assert capsys.readouterr().out.startswith("no changes")
    assert main_report(["--diff", str(old), "new.jsonl", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["changed"][0]["new"] == "fail"


def test_main_report_errors_return_2(tmp_path, capsys):
    assert main_report([str(tmp_path / "absent.jsonl"), "--out", str(tmp_path)]) == 2
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"schema": "other"}')
    assert main_report(["--diff", str(bogus), str(bogus)]) == 2
    assert main_report(["--no-such-option"]) == 2
    capsys.readouterr()


# --------------------------------------------------------------------------- progress


def test_progress_line_says_what_the_purpose_waits_for():
    """atconform/progress.py: a command pending for 12 s of its 150 s gets one line; before
    AFTER s, or once its final came, none."""
    from types import SimpleNamespace

    from atconform.protocol.engine import Transaction
    from atconform.spec import load_family
    from atconform.progress import AFTER, waiting_line

    fam = load_family("bg96")
    line = "AT+QIACT=1"
    from atconform.protocol.engine import AtEngine
    _, match = AtEngine(fam).command(line)
    ch = SimpleNamespace(family=fam, _current=Transaction(line, match, 100.0))
    assert waiting_line("BG96/QIACT/WRITE/x", ch, 100.0 + AFTER - 1) is None
    assert waiting_line("BG96/QIACT/WRITE/x", ch, 112.0) == (
        "atconform: BG96/QIACT/WRITE/x: AT+QIACT=1 waiting for its final result code, 12 s of at most 150 s "
        "(138 s left)")
    ch._current = None
    assert waiting_line("p", ch, 200.0) is None


def test_progress_on_a_real_time_port_run(tmp_path):
    """pytest --port against an emulator whose AT+QICLOSE answers after 7 s prints the
    progress line; the virtual-clock default run prints none."""
    import os
    import signal
    import subprocess
    import sys
    if os.environ.get("ATCONFORM_E2E_INNER"):
        pytest.skip("inside an end-to-end run")
    repo = Path(__file__).resolve().parents[1]
    plan = tmp_path / "faults.yaml"
    plan.write_text("seed: 1\nfaults:\n  - {kind: delayed_final, command: \"+QICLOSE\", delay: 7, times: 1}\n")
    emu = subprocess.Popen([sys.executable, "-m", "atconform", "emulate", "--model", "bg96", "--pty",
                            "--faults", str(plan)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        pty = emu.stdout.readline().split()[1]
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-s",
               "--reports", str(tmp_path / "r"), "-o", "addopts=-ra", "--port", pty, "--model", "bg96",
               "suites/bg96/test_generated.py", "-k", "QICLOSE/WRITE/connectID/min"]
        env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
        proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=300, env=env)
    finally:
        emu.send_signal(signal.SIGTERM)
        emu.wait(10)
    assert "AT+QICLOSE=0 waiting for its final result code" in proc.stdout, proc.stdout[-3000:]
    assert "s of at most 10 s" in proc.stdout
