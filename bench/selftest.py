"""Wall time of the self-tests (``make test``) before and after the shared suite-run harness
(tests/suite_run.py: batched planted defects and spec mutations, the default and ``--port``
runs started at collection), as ratios measured in one run.

``python -m bench.selftest [--before REV] [--after REV] [--rounds N] [--no-whole]
[--out NAME]`` exports ``--before`` (default: the commit before the change) twice with
``git archive``; into the second copy it lays the harness files (:data:`HARNESS`: the
harness module, the test modules moved onto it, the Makefile) as they are at ``--after``
(default ``HEAD``). So both sides run the same product code and differ only in the
self-test harness. Then, alternating the sides, ``N`` rounds each (default 1):

* each harness test module alone (``pytest -c tests/pytest.ini tests/<module>``);
* unless ``--no-whole``: the whole self-test run, each side with its own Makefile's
  ``test`` command (``pytest -c tests/pytest.ini tests`` and its options).

Both sides use this venv's interpreter and libraries. Writes per module and for the whole
run the wall seconds, pytest's counts and the ratio after/before of the medians to
``bench/results/<NAME>.json`` (default ``selftest``). The machine is shared (2 cores):
absolute times move with the load, so the ratios, taken side by side, are what to read.
Timings are reported, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from bench.__main__ import machine_info
from bench.suite import ROOT, parse_summary

BEFORE = "8d3e85f"      # the last commit before the shared harness
RESULTS = Path(__file__).resolve().parent / "results"
MODULES = ["test_scenario_defects.py", "test_gsm_defects.py", "test_gv500_defects.py", "test_l610_defects.py",
           "test_flowchart_mutations.py", "test_gsm_chapter6_mutations.py", "test_suite_e2e.py",
           "test_gsm_e2e.py", "test_l610_e2e.py", "test_gsm_replay.py"]
HARNESS = ["Makefile", "tests/conftest.py", "tests/suite_run.py", *(f"tests/{m}" for m in MODULES)]


def export(rev: str, dest: Path, paths: list[str] | None = None) -> None:
    data = subprocess.run(["git", "archive", rev, *(paths or [])], cwd=ROOT, capture_output=True,
                          check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest)


def make_test_command(tree: Path) -> list[str]:
    """The tree's ``make test`` as a command line of this interpreter."""
    text = (tree / "Makefile").read_text()
    m = re.search(r"^test:.*\n\t\$\(BIN\)/pytest (.*)$", text, re.M)
    args = shlex.split(m.group(1).replace("$(PYTEST_ARGS)", ""))
    return [sys.executable, "-m", "pytest", *args]


def timed(tree: Path, cmd: list[str]) -> tuple[float, dict]:
    env = dict(os.environ, PYTHONPATH=str(tree), ATCONFORM_SEEDS=str(ROOT.parent / "shared" / "seeds"))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    out = parse_summary(proc.stdout)["counts"] | {"returncode": proc.returncode}
    if proc.returncode != 0:
        out["failed_lines"] = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))][:20]
    return wall, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.selftest", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default=BEFORE, help=f"the revision before the change (default {BEFORE})")
    ap.add_argument("--after", default="HEAD", help="where the harness files come from (default HEAD)")
    ap.add_argument("--rounds", type=int, default=1, help="alternating runs per side (default 1)")
    ap.add_argument("--no-whole", action="store_true", help="only the harness modules, not the whole run")
    ap.add_argument("--out", default="selftest", help="bench/results/<OUT>.json (default selftest)")
    args = ap.parse_args(argv)
    info = machine_info()
    jobs = [(m, lambda tree, m=m: [sys.executable, "-m", "pytest", "-c", "tests/pytest.ini", "-q",
                                   "-p", "no:cacheprovider", f"tests/{m}"]) for m in MODULES]
    if not args.no_whole:
        jobs.append(("make test", make_test_command))
    walls: dict[str, dict[str, list[float]]] = {name: {"before": [], "after": []} for name, _ in jobs}
    counts: dict[str, dict[str, dict]] = {name: {} for name, _ in jobs}
    commands: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="atconform-selftest-before-") as old, \
            tempfile.TemporaryDirectory(prefix="atconform-selftest-after-") as new:
        export(args.before, Path(old))
        export(args.before, Path(new))
        export(args.after, Path(new), HARNESS)
        trees = {"before": Path(old), "after": Path(new)}
        for r in range(args.rounds):
            for name, command in jobs:
                for side in (("before", "after") if r % 2 == 0 else ("after", "before")):
                    cmd = command(trees[side])
                    commands[f"{name} {side}"] = cmd[1:]
                    wall, c = timed(trees[side], cmd)
                    walls[name][side].append(wall)
                    counts[name][side] = c
                    print(f"{name:32} {side:6} {wall:7.1f} s  {c}", file=sys.stderr, flush=True)
    res = {"what": "self-tests before and after the shared suite-run harness (tests/suite_run.py)",
           "machine": info, "before": args.before, "after": args.after, "harness_files": HARNESS,
           "rounds": args.rounds, "commands": commands, "wall_s": walls, "counts": counts,
           "median_s": {}, "ratio_after_over_before": {}}
    for name, w in walls.items():
        med = {side: statistics.median(v) for side, v in w.items()}
        res["median_s"][name] = med
        res["ratio_after_over_before"][name] = med["after"] / med["before"]
        print(f"{name:32} before {med['before']:7.1f} s  after {med['after']:7.1f} s  "
              f"ratio {med['after'] / med['before']:.2f}")
    res["loadavg_at_end"] = list(os.getloadavg())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
