"""Wall time of the whole BG96 conformance run (every generated test purpose against
the built-in emulator), as a pytest subprocess from the repo root."""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# "535 passed, 1 skipped, 3 warnings in 18.27s" (pytest may wrap it in '=' signs)
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?)")
_IN = re.compile(r"\bin ([\d.]+)s\b")


def parse_summary(text: str) -> dict:
    """Counts and pytest's own duration from the last summary line of ``text``."""
    for line in reversed(text.splitlines()):
        if " in " in line and _COUNT.search(line) and _IN.search(line):
            counts: dict[str, int] = {}
            for num, word in _COUNT.findall(line):
                word = {"error": "errors", "errors": "errors", "warning": "warnings"}.get(word, word)
                counts[word] = counts.get(word, 0) + int(num)
            return {"line": line.strip("= ").strip(), "counts": counts,
                    "pytest_reported_s": float(_IN.search(line).group(1))}
    return {"line": None, "counts": {}, "pytest_reported_s": None}


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="atconform-bench-") as reports:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--reports", reports, "-o", "addopts=-ra"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        wall = time.perf_counter() - t0
    s = parse_summary(proc.stdout)
    passed = s["counts"].get("passed", 0)
    return {
        "command": cmd[:6] + ["<tmpdir>"] + cmd[7:],
        "returncode": proc.returncode,
        "wall_s": wall,
        "summary_line": s["line"],
        "counts": s["counts"],
        "passed": passed,
        "pytest_reported_s": s["pytest_reported_s"],
        "tests_per_s": passed / wall if wall > 0 else None,
        # pytest.ini not applied (no testpaths: tests/ collected too; markers unknown)
        "ini_not_applied": "PytestUnknownMarkWarning" in proc.stdout,
        "output_tail": proc.stdout.splitlines()[-15:] if proc.returncode != 0 else None,
    }
