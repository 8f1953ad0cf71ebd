"""``python -m bench.gsm``: Quectel GSM numbers (issue 11): the whole GSM conformance run's
wall time (``pytest suites/quectel_gsm`` in a subprocess, built-in emulator on the run's
virtual clock), and, for each chapter 6 procedure of the GSM TCPIP Application Note, the
virtual time it covers against the wall time it costs (a fresh emulator per procedure, as
the suite runs them). Prints a table and writes ``bench/results/gsm.json``. Timings are
reported, never asserted.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.__main__ import git_info, machine_info
from bench.suite import ROOT, parse_summary

RESULTS = Path(__file__).resolve().parent / "results"


def suite_run() -> dict:
    """``pytest suites/quectel_gsm``: wall seconds and the summary line."""
    with tempfile.TemporaryDirectory(prefix="atconform-bench-gsm-") as tmp:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra",
               "--reports", f"{tmp}/reports", "suites/quectel_gsm"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
    s = parse_summary(proc.stdout)
    return {"returncode": proc.returncode, "wall_s": wall, "summary_line": s["line"], "counts": s["counts"],
            "pytest_reported_s": s["pytest_reported_s"]}


def chapter6() -> list[dict]:
    """Each §6 procedure on a fresh link: virtual seconds covered, wall seconds spent."""
    from atconform.families.quectel_gsm.policy import Chapter6, GsmDriver, Rules
    from atconform.families.quectel_gsm.rig import GsmRig
    from atconform.power import EmulatorPower

    def keepalive(p):
        return p.keepalive()

    def detect(p):
        return p.detect()

    cases = [("6.1 keep-alive, healthy peer", None, keepalive),
             ("6.1 keep-alive, silent peer", {"faults": [{"kind": "silent_peer"}]}, keepalive),
             ("6.2 detection, half-open link (12 tries)", {"faults": [{"kind": "half_open", "at": 1}]}, detect),
             ("6.3 QIDEACT unanswered, EMERG_OFF", {"faults": [{"kind": "no_response", "command": "+QIDEACT"}]},
              lambda p: p.exception("CLOSED"))]
    out = []
    for name, faults, flow in cases:
        rig = GsmRig(faults=faults)
        try:
            policy = Chapter6(Rules.from_spec(rig.family), rig.echo.host, rig.echo.port)
            driver = GsmDriver(rig.channel, EmulatorPower(rig.emulator), lambda: rig.emulator.path)
            if "QIDEACT" not in name:
                rig.modem.open(0, "TCP", rig.echo.host, rig.echo.port)
            rig.clock.sleep(2)
            v0, w0 = rig.clock.now(), time.perf_counter()
            result = driver.run(flow(policy))
            virtual, wall = rig.clock.now() - v0, time.perf_counter() - w0
        finally:
            rig.close()
        out.append({"procedure": name, "result": result, "virtual_s": round(virtual, 3), "wall_s": round(wall, 3),
                    "virtual_per_wall": round(virtual / wall, 1) if wall else None})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(RESULTS / "gsm.json"))
    ap.add_argument("--no-suite", action="store_true", help="only the chapter 6 procedures")
    args = ap.parse_args(argv)
    res = {"machine": machine_info(), "git": git_info()}
    if not args.no_suite:
        res["suite"] = suite_run()
        s = res["suite"]
        print(f"GSM whole run: {s['wall_s']:.1f} s wall ({s['summary_line']})")
    res["chapter6"] = chapter6()
    print(f"{'chapter 6 procedure':45} {'result':14} {'virtual s':>10} {'wall s':>8} {'ratio':>8}")
    for c in res["chapter6"]:
        print(f"{c['procedure']:45} {str(c['result']):14} {c['virtual_s']:10.1f} {c['wall_s']:8.3f} "
              f"{c['virtual_per_wall']:8.0f}")
    RESULTS.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
