"""The Quectel GSM suites end to end, as a user runs them, in subprocesses:

* the default run passes every GSM purpose (generated, scenarios, chapter 6, integrity)
  against the built-in emulator and reports the module's identity;
* ``pytest --port <pty> --model quectel_gsm`` against ``atconform emulate --model
  quectel_gsm --pty`` gives the same verdicts, the emulator-only purposes skipped with
  their reason.
"""
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from atconform.casegen import generate
from atconform.spec import load_family

REPO = Path(__file__).resolve().parents[1]
PURPOSES = generate(load_family("quectel_gsm"))
SUITES = "suites/quectel_gsm"

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def run_suite(reports: Path, *args: str, timeout: float = 900):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reports", str(reports),
           "-o", "addopts=-ra", SUITES, *args]
    env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
    report = json.loads((reports / "compliance.json").read_text(encoding="utf-8"))
    verdicts = {p["purpose"]: (p["verdict"], p["reason"]) for fam in report["families"]
                for c in fam["commands"] for p in c["purposes"]}
    return proc, verdicts, report


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    return run_suite(tmp_path_factory.mktemp("gsm-default"))


def test_default_run_passes_every_gsm_purpose(default_run):
    proc, verdicts, report = default_run
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {p.id for p in PURPOSES} <= set(verdicts)
    not_pass = {k: v for k, v in verdicts.items() if v[0] != "pass"}
    assert set(not_pass) == {p.id for p in PURPOSES if p.skip}, not_pass
    kinds = {k.split("/")[1] for k in verdicts}
    assert {"SCENARIO", "CHAPTER6"} <= kinds
    assert len([k for k in verdicts if "/SCENARIO/" in k]) >= 20
    assert "M95FAR02A08" in json.dumps(report["families"][0]["firmware"])


def test_port_mode_gives_the_same_verdicts(default_run, tmp_path):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    dns_port = s.getsockname()[1]
    s.close()
    ixit = tmp_path / "ixit.yaml"
    ixit.write_text(f"local_dns_port: {dns_port}\n")
    emu = subprocess.Popen([sys.executable, "-m", "atconform.cli", "emulate", "--model", "quectel_gsm", "--pty",
                            "--dns-port", str(dns_port)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        first = emu.stdout.readline().split()
        assert first[0] == "PTY" and first[1].startswith("/dev/pts/")
        proc, verdicts, report = run_suite(tmp_path, "--port", first[1], "--model", "quectel_gsm",
                                           "--ixit", str(ixit), "--ignore", f"{SUITES}/test_integrity.py")
    finally:
        emu.send_signal(signal.SIGTERM)
        emu.wait(10)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert report["runs"][0]["mode"] == "port"
    _, default_verdicts, _ = default_run
    for pid, (verdict, reason) in verdicts.items():
        if pid.startswith("QUECTEL_GSM/CHAPTER6/"):
            assert verdict == "skipped" and "emulator only" in reason, (pid, verdict, reason)
        else:
            assert verdict == default_verdicts[pid][0], (pid, verdict, reason)
    assert len(verdicts) >= len(PURPOSES) + 16
