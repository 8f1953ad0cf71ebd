"""Record and replay (issue 14 §3): a BG96 run (generated, general and Figure 1 suites)
recorded with ``--record`` and replayed with ``--replay`` gives every purpose that ran
through the link its recorded verdict, with the same bytes at the same (virtual) times; a deliberately changed harness command makes
exactly that purpose ``error``, naming the expected and received bytes, and the rest still
reproduce; ``atconform emulate --replay`` serves the recording on a real pty to a
``--port`` run; a recording of an unknown format version is one line and exit 2."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from atconform.replay.recording import load
from suite_run import REPO, run_suite

GENERATED = "suites/bg96/test_generated.py"
# the BG96 suites whose harness sends the same bytes on every run (the scenario and integrity
# suites pick random payloads and free ports: a replay of them diverges, by design)
SUITES = (GENERATED, "suites/bg96/test_general.py", "suites/bg96/test_flowchart.py")
CHANGED = "BG96/QIACT/WRITE/contextID/max"      # its line gets a trailing ",9" (PLANT)
FEW = ("-k", "QIACT or QIDEACT")                 # the short real-pty selection
PLANT = '''"""Not in the product: the purpose named by $REPLAY_PLANT_PURPOSE builds its command
lines with a trailing ",9" (a changed harness command for tests/test_replay.py)."""
import os

import atconform.casegen.execute as execute

_run, _build = execute.run, execute.build_line


def _changed(*a, **k):
    return _build(*a, **k) + ",9"


def run(p, modem):
    if p.id != os.environ.get("REPLAY_PLANT_PURPOSE"):
        return _run(p, modem)
    execute.build_line = _changed
    try:
        return _run(p, modem)
    finally:
        execute.build_line = _build


execute.run = run
'''


def ran_through_the_link(rec) -> dict[str, str]:
    """purpose id -> recorded verdict, of the tests a replay runs (not emulator only)."""
    return {s.purpose: rec.verdicts[s.name][0] for s in rec.tests if not s.emulator_only}


def relative(seg):
    # bytes and times from the segment's start: the earlier tests a replay skips move its start
    return [(round(e.t - seg.t_before, 6), e.direction, e.data) for e in seg.entries]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """:data:`SUITES` recorded on the built-in emulator: (recording dir, recording, the
    purposes the run marks emulator only)."""
    tmp = tmp_path_factory.mktemp("record")
    proc, verdicts, _ = run_suite(tmp / "reports", *SUITES, "--record", str(tmp / "rec"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rec = load(tmp / "rec" / "bg96.jsonl")
    results = [json.loads(ln) for ln in (tmp / "reports" / "results.jsonl").read_text().splitlines()]
    emulator_only = {r["purpose"] for r in results if r["type"] == "result" and r["emulator_only"]}
    # every test that used the link is there (a purpose skipped at collection never did; the
    # Figure 1 policy tests use a bench of their own)
    assert rec.complete and len(rec.tests) > 700 and {s.purpose for s in rec.tests} <= set(verdicts)
    assert {s.purpose for s in rec.tests if s.emulator_only} < emulator_only
    return tmp / "rec", rec, emulator_only


@pytest.fixture
def plant(tmp_path, monkeypatch):
    """``-p replay_plant`` args with the changed purpose set in the environment."""
    (tmp_path / "plant").mkdir()
    (tmp_path / "plant" / "replay_plant.py").write_text(PLANT)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "plant"))
    monkeypatch.setenv("REPLAY_PLANT_PURPOSE", CHANGED)
    return ("-p", "replay_plant")


def test_replay_reproduces_every_verdict_and_byte(recorded, tmp_path):
    rec_dir, rec, emulator_only = recorded
    expected = ran_through_the_link(rec)
    assert len(expected) > 700 and "BG96/FLOWCHART/recovery/power-cycle" in expected
    proc, verdicts, _ = run_suite(tmp_path / "reports", *SUITES, "--replay", str(rec_dir),
                                  "--record", str(tmp_path / "again"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {p: v for p, (v, _) in verdicts.items() if p in expected} == expected
    skipped = {p for p, (v, why) in verdicts.items() if v == "skipped" and why.startswith("emulator only")}
    assert skipped == emulator_only
    assert f"replayed {len(expected)} recorded test(s)" in proc.stdout and ", 0 differ" in proc.stdout
    # recorded again from the replay: the same bytes at the same virtual offsets, test by test
    again = load(tmp_path / "again" / "bg96.jsonl")
    assert [e.data for e in again.prologue.entries] == [e.data for e in rec.prologue.entries]
    played = {s.name: s for s in again.tests}
    for seg in rec.tests:
        if not seg.emulator_only:
            assert relative(played[seg.name]) == relative(seg), seg.name


def test_a_changed_harness_command_is_error_naming_the_divergence(recorded, tmp_path, plant):
    rec_dir, rec, _ = recorded
    expected = ran_through_the_link(rec)
    proc, verdicts, _ = run_suite(tmp_path / "reports", *plant, *SUITES, "--replay", str(rec_dir))
    assert proc.returncode == 1
    verdict, reason = verdicts[CHANGED]
    assert verdict == "error", (verdict, reason)
    assert (f"replay divergence in {CHANGED}" in reason and "expected 'AT+QIACT=16<CR>'" in reason
            and "got 'AT+QIACT=16,9<CR>'" in reason), reason
    differ = {p: verdicts[p] for p in expected if verdicts[p][0] != expected[p]}
    assert set(differ) == {CHANGED}, differ       # the tests after it replay as recorded


def _serve(rec_dir: Path):
    emu = subprocess.Popen([sys.executable, "-m", "atconform.cli", "emulate", "--replay", str(rec_dir)],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = emu.stdout.readline().split()
    assert first[:1] == ["PTY"] and Path(first[1]).exists(), (first, emu.stderr.read() if emu.poll() is not None else "")
    return emu, first[1]


def _stop(emu) -> str:
    emu.send_signal(signal.SIGTERM)
    _, err = emu.communicate(timeout=30)
    assert emu.returncode == 0, err
    return err


def test_emulate_replay_serves_the_recording_on_a_pty(tmp_path, plant, monkeypatch):
    rec_dir = tmp_path / "rec"
    monkeypatch.delenv("REPLAY_PLANT_PURPOSE")
    proc, recorded, _ = run_suite(tmp_path / "r0", GENERATED, *FEW, "--record", str(rec_dir))
    assert proc.returncode == 0 and 10 <= len(recorded) <= 30, proc.stdout[-2000:]
    ixit = str(rec_dir / "ixit.yaml")       # the recorded peers: the command lines name them
    emu, port = _serve(rec_dir)
    try:
        proc, verdicts, _ = run_suite(tmp_path / "r1", GENERATED, *FEW, "--port", port, "--model", "bg96",
                                      "--ixit", ixit)
        assert {p: v for p, (v, _) in verdicts.items()} == {p: v for p, (v, _) in recorded.items()}, proc.stdout[-2000:]
    finally:
        err = _stop(emu)
    assert "divergence" not in err, err
    # the same with one harness command changed: that purpose is error, the others as recorded
    monkeypatch.setenv("REPLAY_PLANT_PURPOSE", CHANGED)
    emu, port = _serve(rec_dir)
    try:
        proc, verdicts, _ = run_suite(tmp_path / "r2", *plant, GENERATED, *FEW, "--port", port, "--model", "bg96",
                                      "--ixit", ixit)
    finally:
        err = _stop(emu)
    assert verdicts[CHANGED][0] == "error", verdicts[CHANGED]
    assert {p for p, (v, _) in verdicts.items() if v != recorded[p][0]} == {CHANGED}
    assert f"replay divergence in {CHANGED}" in err and "got 'AT+QIACT=16,9<CR>'" in err, err


def test_a_bad_recording_is_one_line_and_exit_2(recorded, tmp_path):
    rec_dir, _, _ = recorded
    bad = tmp_path / "bad"
    bad.mkdir()
    lines = (rec_dir / "bg96.jsonl").read_text().splitlines(keepends=True)
    header = json.loads(lines[0])
    (bad / "bg96.jsonl").write_text(json.dumps({**header, "version": 2}) + "\n" + "".join(lines[1:50]))
    proc, _, _ = run_suite(tmp_path / "reports", GENERATED, "--replay", str(bad))
    assert proc.returncode == 2
    said = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "atconform" in ln]
    assert len(said) == 1 and "bad --replay recording" in said[0] and "unknown format version 2" in said[0], said
    cli = subprocess.run([sys.executable, "-m", "atconform.cli", "emulate", "--replay", str(bad)],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2 and cli.stdout == ""
    assert cli.stderr.count("\n") == 1 and "line 1: version: unknown format version 2" in cli.stderr, cli.stderr
    proc, _, _ = run_suite(tmp_path / "reports2", GENERATED, "--replay", str(rec_dir), "--port", "/dev/null",
                           "--model", "bg96")
    assert proc.returncode == 2 and "cannot be used with --port" in proc.stdout + proc.stderr
