"""``python -m bench.xdist``: does ``pytest -n N`` (pytest-xdist, one family per worker,
fixtures/parallel.py) help the default run on this machine? (issue 14 §1)

Runs the whole default suite (every family against its built-in emulator) in a subprocess
without xdist and with ``-n N`` (default 2, ``--dist`` left to the suite: loadgroup by
family), alternating A B / B A ... for ``--rounds`` pairs so that machine noise and drift
hit both sides alike. Reports per side the wall seconds (median), pytest's counts, the
compliance report's total and completeness, and the **ratio with xdist / without** of the
medians measured in this one run (below 1: ``-n`` helps). Writes
``bench/results/xdist.json``. Timings are reported, never asserted; exit status 1 only when
the two sides' reports disagree (not the same purposes and verdicts, or incomplete).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.__main__ import git_info, machine_info
from bench.suite import ROOT, parse_summary

RESULTS = Path(__file__).resolve().parent / "results"


def one_run(workers: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="atconform-bench-xdist-") as tmp:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               "-o", "addopts=-ra", "--reports", f"{tmp}/reports", *extra]
        if workers:
            cmd += ["-n", str(workers)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
        path = Path(tmp) / "reports" / "compliance.json"
        report = json.loads(path.read_text()) if path.exists() else {}
    s = parse_summary(proc.stdout)
    verdicts = {p["purpose"]: p["verdict"] for f in report.get("families", [])
                for c in f["commands"] for p in c["purposes"]}
    return {"workers": workers, "wall_s": wall, "returncode": proc.returncode, "summary_line": s["line"],
            "counts": s["counts"], "pytest_reported_s": s["pytest_reported_s"],
            "report_total": report.get("total"), "report_complete": report.get("complete"),
            "families_on_workers": sorted({(m.get("model"), m.get("worker")) for m in report.get("runs", [])},
                                          key=str),
            "verdicts": verdicts,
            "output_tail": proc.stdout.splitlines()[-15:] if proc.returncode != 0 else None}


POOL = """modems:
  - {name: bg96-a, model: bg96}
  - {name: bg96-b, model: bg96}
  - {name: gv500, model: queclink_gv500}
"""


def timed(args: list[str]) -> tuple[float, int, dict]:
    with tempfile.TemporaryDirectory(prefix="atconform-bench-pool-") as tmp:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               "-o", "addopts=-ra", "--reports", f"{tmp}/reports",
               *[a.replace("{tmp}", tmp) for a in args]]
        if any("{pool}" in a for a in args):
            Path(tmp, "pool.yaml").write_text(POOL)
            cmd = [a.replace("{pool}", f"{tmp}/pool.yaml") for a in cmd]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
        totals = {}
        for d in Path(tmp, "reports").iterdir():
            if (d / "compliance.json").is_file():
                r = json.loads((d / "compliance.json").read_text())
                totals[d.name] = {"total": r.get("total"), "complete": r.get("complete")}
    return wall, proc.returncode, totals


def pool_main(rounds: int, out_path: str) -> int:
    """A pool of three emulators (bg96, bg96, queclink_gv500; ``--pool``, 3 workers) vs the
    three separate runs one after another; alternating; ratio pool / separate."""
    sep, pool, rcs, totals = [], [], [], {}
    for r in range(rounds):
        for side in (("separate", "pool") if r % 2 == 0 else ("pool", "separate")):
            if side == "pool":
                wall, rc, t = timed(["--pool", "{pool}"])
                pool.append(wall)
                totals = t
                rcs.append(rc)
            else:
                walls = [timed(["--model", m]) for m in ("bg96", "bg96", "queclink_gv500")]
                sep.append(sum(w for w, _, _ in walls))
                rcs += [rc for _, rc, _ in walls]
            print(f"round {r + 1} {side:8}: {(pool if side == 'pool' else sep)[-1]:6.1f} s", flush=True)
    med = {"separate": statistics.median(sep), "pool": statistics.median(pool)}
    out = {"what": "pool of three emulators (bg96, bg96, queclink_gv500) under --pool (3 workers) "
                   "vs the three separate runs one after another",
           "machine": machine_info(), "git": git_info(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "rounds": rounds, "walls_s": {"separate": sep, "pool": pool}, "median_wall_s": med,
           "ratio_pool_over_separate": med["pool"] / med["separate"], "returncodes": rcs, "pool_reports": totals}
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text(json.dumps(out, indent=2) + "\n")
    print(f"median wall: three separate runs {med['separate']:.1f} s, pool {med['pool']:.1f} s, "
          f"ratio {out['ratio_pool_over_separate']:.3f}; written to {out_path}")
    return 1 if any(rcs) or not all(v["complete"] for k, v in totals.items() if k != "reports") else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.xdist", description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="alternating pairs (default 2)")
    ap.add_argument("--out", default=str(RESULTS / "xdist.json"))
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -k QIACT)")
    ap.add_argument("--pool", action="store_true",
                    help="instead: a pool of three emulators vs three separate runs (bench/results/xdist_pool.json)")
    args = ap.parse_args(argv)
    if args.pool:
        return pool_main(args.rounds, str(RESULTS / "xdist_pool.json") if args.out == str(RESULTS / "xdist.json")
                         else args.out)

    sides: dict[str, list[dict]] = {"serial": [], "xdist": []}
    for r in range(args.rounds):
        order = ("serial", "xdist") if r % 2 == 0 else ("xdist", "serial")
        for side in order:
            res = one_run(args.workers if side == "xdist" else 0, args.pytest_args)
            sides[side].append(res)
            print(f"round {r + 1} {side:6}: {res['wall_s']:6.1f} s  {res['summary_line']}", flush=True)

    med = {k: statistics.median(x["wall_s"] for x in v) for k, v in sides.items()}
    problems = []
    a, b = sides["serial"][0]["verdicts"], sides["xdist"][0]["verdicts"]
    for side, runs in sides.items():
        for x in runs:
            if not x["report_complete"]:
                problems.append(f"{side}: report not complete")
            if x["verdicts"] != a:
                problems.append(f"{side}: verdicts differ from the first run without xdist "
                                f"({len(set(a) ^ set(x['verdicts']))} purposes not in both)")
    out = {
        "what": "the whole default run (every family, built-in emulators) without xdist and with -n",
        "machine": machine_info(), "git": git_info(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "workers": args.workers, "rounds": args.rounds, "pytest_args": args.pytest_args,
        "median_wall_s": med,
        "ratio_xdist_over_serial": med["xdist"] / med["serial"] if med["serial"] else None,
        "same_purposes_and_verdicts": not problems, "problems": problems,
        "runs": {k: [{kk: vv for kk, vv in x.items() if kk != "verdicts"} for x in v] for k, v in sides.items()},
        "purposes": len(a),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"median wall: without xdist {med['serial']:.1f} s, -n {args.workers} {med['xdist']:.1f} s, "
          f"ratio {out['ratio_xdist_over_serial']:.3f} ({len(a)} purposes; cpu_count {out['machine']['cpu_count']})")
    print(f"written to {args.out}")
    for p in problems:
        print(f"bench FAILED: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
