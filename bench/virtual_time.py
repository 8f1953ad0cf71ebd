"""Virtual time against wall time: BG96 Figure 1 scenarios on the emulator's virtual
clock (``atconform.families.bg96.bench.FlowBench``). Reports, per scenario, the virtual seconds
the policy lived through, the wall seconds that cost, their ratio, and the clock's jumps.
Median wall time of ``repeats`` runs; the virtual times are identical run to run (the
bench checks it) whatever the machine's load."""
from __future__ import annotations

import statistics
import time

from atconform.families.bg96.bench import FlowBench

SCENARIOS = {
    "baseline (no fault)": ([], None),
    "QIACT hang 150 s, reboot": ([{"kind": "qiact_hang", "times": 1}], None),
    "no +QIOPEN URC 150 s": ([{"kind": "qiopen_urc", "err": None, "times": 1}], None),
    "unacked 24 x 5 s, reopen": ([{"kind": "no_ack"}], b"keepalive"),
    "7 failing reboots, back-off": ([{"kind": "sim_not_ready", "seconds": 1e6}], None),
}


def one(faults, payload) -> tuple[float, float, int, str]:
    b = FlowBench(faults)
    try:
        p = b.policy(max_reboots=7)
        t0 = time.perf_counter()
        try:
            b.run(p.run())
            if payload:
                b.run(p.maintain(payload))
        except Exception as e:   # GaveUp after the 7th reboot is the scenario's end
            if type(e).__name__ != "GaveUp":
                raise
        wall = time.perf_counter() - t0
        return b.clock.now(), wall, len(b.clock.jumps), b.trace_text()
    finally:
        b.close()


def run(repeats: int = 5) -> dict:
    out = {}
    for name, (faults, payload) in SCENARIOS.items():
        runs = [one(faults, payload) for _ in range(repeats)]
        virt = runs[0][0]
        walls = [r[1] for r in runs]
        med = statistics.median(walls)
        out[name] = {"virtual_s": virt, "wall_median_s": med, "wall_min_s": min(walls), "wall_max_s": max(walls),
                     "virtual_per_wall": virt / med if med else None, "jumps": runs[0][2],
                     "identical_traces": len({r[3] for r in runs}) == 1, "repeats": repeats}
    return out


def table(res: dict | None) -> list[str]:
    if res is None:
        return ["Virtual time: skipped"]
    out = ["Virtual time, BG96 Figure 1 scenarios on the emulator (median wall of "
           f"{next(iter(res.values()))['repeats']} runs)",
           f"  {'scenario':<30} {'virtual s':>10} {'wall s':>8} {'virtual/wall':>13} {'jumps':>6}  traces"]
    for name, r in res.items():
        ratio = f"{r['virtual_per_wall']:,.0f}x" if r["virtual_per_wall"] else "-"
        out.append(f"  {name:<30} {r['virtual_s']:10.0f} {r['wall_median_s']:8.3f} {ratio:>13} {r['jumps']:6d}  "
                   f"{'identical' if r['identical_traces'] else 'DIFFER'}")
    return out
