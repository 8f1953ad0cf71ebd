"""Two runs on one ``--reports`` directory: the second stops at once (one line, exit 2)
instead of truncating and interleaving the first one's results.jsonl."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from suite_run import REPO, run_suite


def test_a_second_run_on_the_same_reports_dir_is_refused(tmp_path):
    reports = tmp_path / "reports"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reports", str(reports),
           "suites/bg96/test_generated.py"]
    first = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "ATCONFORM_E2E_INNER": "1"})
    try:
        lock = reports / ".lock"
        end = time.monotonic() + 120
        while not (lock.exists() and lock.read_text().startswith("pid")) and time.monotonic() < end:
            time.sleep(0.1)
        proc, _, _ = run_suite(reports, "suites/queclink_gv500")
        out, _ = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, out[-2000:]
    assert proc.returncode == 2, proc.stdout[-2000:]
    said = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("Exit: atconform:")]
    assert len(said) == 1 and f"--reports {reports} is in use by another run (pid {first.pid}" in said[0], said
    # the first run's results are whole: its own lines only, closed by its end record
    lines = [json.loads(line) for line in (reports / "results.jsonl").read_text().splitlines()]
    assert lines[-1]["type"] == "end" and len({r["run_id"] for r in lines if "run_id" in r}) == 1
    assert not any("queclink" in json.dumps(r) for r in lines)
