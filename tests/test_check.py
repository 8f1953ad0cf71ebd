"""Offline transcript check (``atconform check``, atconform/check.py).

The BG96 manual's chapter 3 examples (examples/transcripts/bg96_chapter3.txt) all pass;
a planted range error fails exactly its line. Each test purpose of the check with the
defect that makes it fail: an undeclared URC, a missing final result code, a late final
in a timestamped logger dump, information text no response of the command has, a
wrong payload length. The suite's own transcripts read back pass. GV500's seed examples
pass. Unreadable input: one message per line with its number; no input crashes it.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suite_run
from atconform.check import check_capture, parse_capture
from atconform.spec import load_family

REPO = Path(__file__).resolve().parents[1]
CHAPTER3 = REPO / "examples" / "transcripts" / "bg96_chapter3.txt"
BG96 = load_family("bg96")

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def verdicts(text: str, family=BG96):
    r = check_capture(family, text.encode())
    return r, {(v.no, v.verdict) for v in r.verdicts if v.verdict != "pass"}


def line_of(text: str, needle: str) -> int:
    return next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith(needle))


def test_chapter3_examples_all_pass():
    r = check_capture(BG96, CHAPTER3.read_bytes())
    assert r.unreadable == []
    assert [v for v in r.verdicts if v.verdict != "pass"] == []
    kinds = [v.kind for v in r.verdicts]
    assert kinds.count("command") == 35 and kinds.count("urc") == 9


@pytest.mark.parametrize("old, new, at, words", [
    ('+QIACT: 1,1,1,"10.7.157.1"', '+QIACT: 17,1,1,"10.7.157.1"', "AT+QIACT?", "<contextID>=17 is outside 1-16"),
    ('+QISTATE: 1,"TCP LISTENER"', '+QISTATE: 1,"TCP SERVER"', "AT+QISTATE=0,1", "TCP SERVER"),
    ("+QIRD: 5,5,0", "+QIRD: 5,5", "AT+QIRD=0,0", "matches no response"),
    ("+QISEND: 14,14,0\n\nOK", "+QISEND: 14,14,0\n", "AT+QISEND=0,0", "no final result code"),
])
def test_planted_error_fails_exactly_that_line(old, new, at, words):
    text = CHAPTER3.read_text()
    assert old in text
    bad = text.replace(old, new, 1)
    i = bad.index(new)
    lines_before = bad[:i].count("\n")
    cmd_line = max(n for n, s in enumerate(bad.splitlines(), 1) if s.startswith(at) and n <= lines_before + 1)
    r, fails = verdicts(bad)
    assert fails == {(cmd_line, "fail")}, [v for v in r.verdicts if v.verdict != "pass"]
    assert words in next(v.reason for v in r.verdicts if v.verdict == "fail")


def test_undeclared_urc_and_lines_with_no_command():
    text = CHAPTER3.read_text().replace('+QIURC: "recv",0,4', '+QIURC: "bogus",0,4', 1)
    r, fails = verdicts(text)
    n = line_of(text, '+QIURC: "bogus"')
    assert (n, "fail") in fails
    assert "URC" in next(v.reason for v in r.verdicts if v.no == n and v.verdict == "fail")


def test_logger_dump_times_judge_the_maximum_response_time():
    log = ("[12:00:00.000] > AT+QICLOSE=0\n[12:00:12.500] < OK\n"        # §2.1.5: 10 s
           "[12:00:13.000] > AT+QICLOSE=0\n[12:00:19.000] < OK\n")
    r, fails = verdicts(log)
    assert fails == {(1, "fail")}
    assert "after 12.500 s, the maximum response time is 10 s" in r.verdicts[0].reason
    r, _ = verdicts("2024-05-01 12:00:00,000 TX: AT\n2024-05-01 12:00:00,010 RX: OK\n")
    assert [v.verdict for v in r.verdicts] == ["pass"]
    r, _ = verdicts("+0.0 -> AT\n+5.0 <- OK\n+4.0 <- OK\n")
    assert r.unreadable == [(3, "time +4.0 goes backwards: line left out")]


def test_unknown_command_is_skipped_not_judged():
    r, fails = verdicts("AT+QFOO=1\nOK\nAT\nOK\n")
    assert [(v.no, v.verdict) for v in r.verdicts] == [(1, "skipped"), (3, "pass")]


def test_suite_transcripts_read_back_pass(tmp_path):
    proc, verdict_map, _ = suite_run.run_suite(tmp_path / "r", "suites/bg96/test_generated.py", "-k",
                                               "QIOPEN or QIRD or QISEND")
    assert proc.returncode == 0, proc.stdout[-2000:]
    files = sorted((tmp_path / "r" / "transcripts").glob("*.txt"))
    assert len(files) > 50
    commands = 0
    for f in files:
        r = check_capture(BG96, f.read_bytes())
        assert r.unreadable == [], (f.name, r.unreadable)
        bad = [v for v in r.verdicts if v.verdict in ("fail", "error")]
        assert bad == [], (f.name, bad)
        commands += sum(1 for v in r.verdicts if v.kind == "command" and v.verdict == "pass")
    assert commands > 100


def test_gv500_seed_examples_pass():
    text = ("AT@BSS2=gv500cna,,,192.168.1.12,590,0,,,012F$\n"
            "+ACK:BSS2,123456789012345,8203,3,0,,012F,20210407101530,1234$\n"
            "AT@BSS2?gv500cna,,0C37$\n"
            "+QRY:BSS2,123456789012345,8203,3,0,1,1,,,192.168.1.12,590,70000,,,0C37,20210407101530,1234$\n")
    r, fails = verdicts(text, load_family("queclink_gv500"))
    assert fails == {(3, "fail")} and "mode" in r.verdicts[1].reason        # mode 70000 planted
    r, fails = verdicts(text.replace(",590,70000,", ",590,0,"), load_family("queclink_gv500"))
    assert fails == set() and len(r.verdicts) == 2


def test_cli_reports_and_exit_status(tmp_path):
    def run(path, *extra):
        return subprocess.run([sys.executable, "-m", "atconform", "check", str(path), "--model", "bg96",
                               "--out", str(tmp_path / "out"), *extra], capture_output=True, text=True, cwd=REPO)
    ok = run(CHAPTER3)
    assert ok.returncode == 0 and "44 pass" in ok.stdout
    assert (tmp_path / "out" / "compliance.html").is_file() and (tmp_path / "out" / "results.jsonl").is_file()
    bad = tmp_path / "bad.txt"
    bad.write_text(CHAPTER3.read_text().replace('+QIACT: 1,1,1,', '+QIACT: 17,1,1,'))
    r = run(bad)
    assert r.returncode == 1 and r.stdout.count(": fail: ") == 1 and f"{bad}:{line_of(bad.read_text(), 'AT+QIACT?')}: fail" in r.stdout
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    r = run(binary)
    assert r.returncode == 2 and f"{binary}:1: binary data" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("atconform check: ")
    r = run(tmp_path / "absent.txt")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_unreadable_lines_have_numbers():
    lines, problems = parse_capture(b"AT\r\nOK\r\n\xff\xfe garbage\r\n" + b"A" * 70000 + b"\n")
    assert (3, "not UTF-8 text: undecodable bytes replaced") in problems
    assert any(n == 4 and "cut" in why for n, why in problems)


_LINE = st.one_of(
    st.sampled_from(["AT", "OK", "ERROR", "AT+QIRD=0,1500", "+QIRD: 5", "+QIRD: 99999999999", ">", "> x<ctrl+Z>",
                     "SEND OK", "CONNECT", "+++", "NO CARRIER", '+QIURC: "recv",0,3', "AT+QISEND=0,3", "<1B>",
                     "    +0.001 tx  AT<CR>", "    +0.002 rx  <CR><LF>OK<CR><LF>", "              <ZZ>", "[1:2:3] > AT",
                     "AT@BSS2?gv500cna,,0C37$", "+ACK:$", "$$$"]),
    st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1")))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINE, max_size=30), st.sampled_from(["bg96", "queclink_gv500"]))
def test_no_input_crashes_the_check(lines, model):
    r = check_capture(load_family(model), "\n".join(lines).encode("utf-8", "surrogateescape"))
    assert all(not why.startswith("internal error") for _, why in r.unreadable), r.unreadable
    for v in r.verdicts:
        assert v.verdict in ("pass", "fail", "skipped", "error") and isinstance(v.reason, str)
