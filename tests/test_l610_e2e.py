"""The Fibocom L610 suites end to end, as a user runs them, in subprocesses (issue 12 "done
when"): ``pytest suites/fibocom_l610`` passes every purpose against the built-in emulator,
and ``pytest --port <pty> --model fibocom_l610`` against ``atconform emulate --model
fibocom_l610 --pty`` gives the same verdicts. A power cycle needs power control: on the
port without IXIT power commands those purposes are inconclusive, saying so."""
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
PURPOSES = generate(load_family("fibocom_l610"))

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


def run_suite(reports: Path, *args: str):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reports", str(reports),
           "-o", "addopts=-ra", "suites/fibocom_l610", *args]
    env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    report = json.loads((reports / "compliance.json").read_text(encoding="utf-8"))
    verdicts = {p["purpose"]: (p["verdict"], p["reason"]) for fam in report["families"]
                for c in fam["commands"] for p in c["purposes"]}
    return proc, verdicts


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    return run_suite(tmp_path_factory.mktemp("l610-default"))


def test_default_run_passes_every_l610_purpose(default_run):
    proc, verdicts = default_run
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {p.id for p in PURPOSES} <= set(verdicts)
    assert len([k for k in verdicts if k.startswith("FIBOCOM_L610/SCENARIO/")]) >= 20
    not_pass = {k: v for k, v in verdicts.items() if v[0] != "pass"}
    assert set(not_pass) == {p.id for p in PURPOSES if p.skip}, not_pass


def test_port_mode_gives_the_same_verdicts(default_run, tmp_path):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    dns_port = s.getsockname()[1]
    s.close()
    ixit = tmp_path / "ixit.yaml"
    ixit.write_text(f"local_dns_port: {dns_port}\n")
    emu = subprocess.Popen([sys.executable, "-m", "atconform.cli", "emulate", "--model", "fibocom_l610", "--pty",
                            "--dns-port", str(dns_port)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        first = emu.stdout.readline().split()
        assert first[0] == "PTY" and first[1].startswith("/dev/pts/")
        proc, verdicts = run_suite(tmp_path, "--port", first[1], "--model", "fibocom_l610", "--ixit", str(ixit))
    finally:
        emu.send_signal(signal.SIGTERM)
        emu.wait(10)
    assert emu.returncode == 0
    _, default_verdicts = default_run
    assert set(verdicts) == set(default_verdicts)
    for pid, (verdict, reason) in verdicts.items():
        if pid.endswith("/PERSIST/power-cycle"):
            assert verdict == "inconclusive" and "power control" in reason, (pid, verdict, reason)
        else:
            assert verdict == default_verdicts[pid][0], (pid, verdict, reason)
