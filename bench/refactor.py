"""Wall time of a run before and after a change, as a ratio measured in one run.

``python -m bench.refactor [--before REV] [--after REV] [--what bg96|tests] [--rounds N]
[--out NAME]`` exports ``REV`` (default: the last commit before the family plug-ins,
issue 9) with ``git archive`` into a temporary folder, and ``--after`` too when given
(default: this working tree), then runs from each tree, alternating, ``N`` rounds each:

* ``--what bg96`` (default): the BG96 conformance suite (``pytest --model bg96``,
  built-in emulator);
* ``--what tests``: the harness self-tests, as ``make test`` runs them
  (``pytest -c tests/pytest.ini tests``).

Both sides use this venv's interpreter and libraries, so only the code differs. Prints
the medians and the ratio after/before and writes ``bench/results/<NAME>.json``
(default ``refactor``). Timings are reported, never asserted.

The virtual clock for the whole default run (issue 10 item 6) was measured with
``python -m bench.refactor --before a92f12b~1 --after a92f12b --out virtual_clock`` (and
``--what tests --rounds 1 --out virtual_clock_tests``).
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


def command(what: str, reports: str) -> list[str]:
    if what == "tests":
        return [sys.executable, "-m", "pytest", "-c", "tests/pytest.ini", "-q", "-p", "no:cacheprovider", "tests"]
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "--model", "bg96", "--reports", reports, "-o", "addopts=-ra"]


def run_tree(tree: Path, reports: str, what: str = "bg96") -> tuple[float, dict]:
    """One run from ``tree``: (wall seconds, pytest's counts)."""
    env = dict(os.environ, PYTHONPATH=str(tree), ATCONFORM_SEEDS=str(ROOT.parent / "shared" / "seeds"))
    t0 = time.perf_counter()
    proc = subprocess.run(command(what, reports), cwd=tree, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    out = parse_summary(proc.stdout)["counts"] | {"returncode": proc.returncode}
    if proc.returncode != 0:     # say what failed: a bench run is also a run of the suite
        out["failed_lines"] = [ln for ln in proc.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))][:20]
    return wall, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.refactor", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default=BEFORE, help=f"the revision to compare with (default {BEFORE})")
    ap.add_argument("--after", default=None, help="a revision to compare (default: this working tree)")
    ap.add_argument("--what", choices=("bg96", "tests"), default="bg96",
                    help="bg96: the BG96 conformance run (default); tests: the self-tests (make test)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating runs per side (default 2)")
    ap.add_argument("--out", default="refactor", help="bench/results/<OUT>.json (default refactor)")
    args = ap.parse_args(argv)
    walls: dict[str, list[float]] = {"before": [], "after": []}
    counts: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="atconform-before-") as old, \
            tempfile.TemporaryDirectory(prefix="atconform-after-") as new, \
            tempfile.TemporaryDirectory(prefix="atconform-reports-") as reports:
        export(args.before, Path(old))
        after = ROOT
        if args.after:
            export(args.after, Path(new))
            after = Path(new)
        for _ in range(args.rounds):
            for side, tree in (("before", Path(old)), ("after", after)):
                wall, c = run_tree(tree, reports, args.what)
                walls[side].append(wall)
                counts[side] = c
                print(f"{side:6} {wall:7.2f} s  {c}", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in walls.items()}
    res = {"what": args.what, "before": args.before, "after": args.after or "working tree",
           "rounds": args.rounds, "cpus": os.cpu_count(), "wall_s": walls, "median_s": med,
           "ratio_after_over_before": med["after"] / med["before"], "counts": counts}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    name = "BG96 whole run" if args.what == "bg96" else "self-tests (make test)"
    print(f"{name}, {args.before} vs {args.after or 'this tree'} ({args.rounds} alternating rounds):")
    print(f"  before {med['before']:.2f} s   after {med['after']:.2f} s   ratio after/before "
          f"{res['ratio_after_over_before']:.3f}")
    print(f"  counts before {counts['before']}  after {counts['after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
