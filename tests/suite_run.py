"""Running the conformance suite in a subprocess, as a user does, for the end-to-end
self-tests of the ICS, waivers, the diff and the gate."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_suite(reports: Path, *args: str, timeout: float = 600):
    """``pytest --reports REPORTS ARGS`` in the repository (randomisation and the cache
    off; the e2e guard set so these self-tests are not collected again). Returns
    ``(proc, verdicts, report)``: purpose id -> (verdict, reason) from compliance.json
    (empty when the run wrote none)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           "--reports", str(reports), "-o", "addopts=-ra", *args]
    env = {**os.environ, "ATCONFORM_E2E_INNER": "1"}
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
    path = Path(reports) / "compliance.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    verdicts = {p["purpose"]: (p["verdict"], p["reason"]) for fam in report.get("families", [])
                for c in fam["commands"] for p in c["purposes"]}
    return proc, verdicts, report
