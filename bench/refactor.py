"""BG96 whole-run wall time before and after a change, as a ratio measured in one run.

``python -m bench.refactor [--before REV] [--rounds N]`` exports ``REV`` (default: the
last commit before the family plug-ins, issue 9) with ``git archive`` into a temporary
folder, then runs the BG96 conformance suite (``pytest --model bg96``, built-in emulator)
from that tree and from this one, alternating, ``N`` rounds each. Both use this venv's
interpreter and libraries, so only the code differs. Prints the medians and the ratio
after/before and writes ``bench/results/refactor.json``. Timings are reported, never
asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from bench.suite import ROOT, parse_summary

BEFORE = "1bd422c"          # issue 8 landed, plug-ins not yet
RESULTS = Path(__file__).resolve().parent / "results"


def export(rev: str, dest: Path) -> None:
    data = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest)


def run_tree(tree: Path, reports: str) -> tuple[float, dict]:
    """One BG96 run from ``tree``: (wall seconds, pytest's counts)."""
    env = dict(os.environ, PYTHONPATH=str(tree), ATCONFORM_SEEDS=str(ROOT.parent / "shared" / "seeds"))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           "--model", "bg96", "--reports", reports, "-o", "addopts=-ra"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    return wall, parse_summary(proc.stdout)["counts"] | {"returncode": proc.returncode}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.refactor", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default=BEFORE, help=f"the revision to compare with (default {BEFORE})")
    ap.add_argument("--rounds", type=int, default=2, help="alternating runs per side (default 2)")
    args = ap.parse_args(argv)
    walls: dict[str, list[float]] = {"before": [], "after": []}
    counts: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="atconform-before-") as old, \
            tempfile.TemporaryDirectory(prefix="atconform-reports-") as reports:
        export(args.before, Path(old))
        for _ in range(args.rounds):
            for side, tree in (("before", Path(old)), ("after", ROOT)):
                wall, c = run_tree(tree, reports)
                walls[side].append(wall)
                counts[side] = c
                print(f"{side:6} {wall:7.2f} s  {c}", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in walls.items()}
    res = {"before": args.before, "rounds": args.rounds, "wall_s": walls, "median_s": med,
           "ratio_after_over_before": med["after"] / med["before"], "counts": counts}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "refactor.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(f"BG96 whole run, {args.before} vs this tree ({args.rounds} alternating rounds):")
    print(f"  before {med['before']:.2f} s   after {med['after']:.2f} s   ratio after/before "
          f"{res['ratio_after_over_before']:.3f}")
    print(f"  counts before {counts['before']}  after {counts['after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
