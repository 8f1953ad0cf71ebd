"""``python -m bench.fuzz`` (``make fuzz``): the long fuzz campaign of issue 8.

Runs the generators and properties of ``atconform.families.bg96.fuzz`` (the same ones
``tests/test_fuzz.py`` runs a few hundred of) much longer: by default 100,000 engine
inputs and 10,000 emulator inputs (writes to a fresh emulator over its pty, in batches
of up to 16). Hypothesis generates only (no shrinking), in rounds of fresh seeds derived
from ``--seed``, so a run is reproducible. Records, and writes to
``bench/results/fuzz.json``:

* inputs per target (engine inputs and bytes; emulator batches and inputs);
* every exception outside the documented ones and every broken property, grouped by
  type and message (digits folded), with a count and the first input that showed it
  (a Python literal: ``EngineInput(...)`` / ``Batch(...)``);
* the slowest input per target, and every input over 1 s (re-run 3 times, so noise on a
  shared machine can be told from a slow input);
* peak memory: ``ru_maxrss`` of the process after each target, and the most unframed
  and payload bytes the framer held;
* whether the DCE still answered ATV1 and AT with OK after every batch.

Exit status 1 when something was found (a crash, a broken property, AT not answered);
timings never fail it.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import resource
import sys
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

from atconform.peers import TcpEcho
from atconform.spec import load_family
from atconform.families.bg96 import fuzz as fz

RESULTS = Path(__file__).resolve().parent / "results"
SLOW = 1.0                     # seconds: an input slower than this is flagged
REPRO_CHARS = 20000            # longest reproducer kept in the JSON


def _settings(n: int):
    return settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck), print_blob=False)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # Linux: KiB


def _repro(obj) -> str:
    r = repr(obj)
    return r if len(r) <= REPRO_CHARS else r[:REPRO_CHARS] + f"... ({len(r)} characters)"


class Findings:
    """Problems grouped by a key with digits folded, each with a count and its first input."""

    def __init__(self):
        self.groups: dict[str, dict] = {}

    def add(self, kind: str, message: str, where: str, inp, details=()) -> None:
        key = f"{kind}: {re.sub(r'[0-9]+', 'N', message)[:200]} @ {where}"
        g = self.groups.get(key)
        if g is None:
            self.groups[key] = {"kind": kind, "message": message[:2000], "where": where, "count": 1,
                                "reproducer": _repro(inp), "details": list(details)}
        else:
            g["count"] += 1

    def add_exception(self, e: BaseException, inp) -> None:
        kind = "property" if isinstance(e, fz.FuzzFinding) else "exception"
        tb = traceback.extract_tb(e.__traceback__)
        site = next((f for f in reversed(tb) if "/atconform/" in f.filename and "/testing/" not in f.filename),
                    tb[-1] if tb else None)
        where = f"{Path(site.filename).name}:{site.lineno} {site.name}" if site else "?"
        self.add(kind, f"{type(e).__name__}: {e}", where, inp)

    def as_list(self) -> list[dict]:
        return sorted(self.groups.values(), key=lambda g: -g["count"])


def _timed(fn) -> float:
    t0 = time.perf_counter()
    try:
        fn()
    except Exception:
        pass
    return time.perf_counter() - t0


def engine_campaign(family, n: int, base_seed: int, round_size: int = 5000) -> dict:
    strategies = fz.EngineStrategies(family)
    inputs = fz.engine_inputs(family, strategies)
    found = Findings()
    res = {"inputs": 0, "bytes": 0, "events": 0, "max_framer_buffer": 0, "max_framer_payload": 0,
           "slowest_s": 0.0, "slowest_input": None, "slow_inputs": [], "rounds": 0}
    t_start = time.perf_counter()
    rnd = 0
    while res["inputs"] < n:
        todo = min(round_size, n - res["inputs"])

        @seed(base_seed * 1_000_003 + rnd)
        @_settings(todo)
        @given(inputs)
        def one(inp):
            if res["inputs"] >= n:
                return
            res["inputs"] += 1
            res["bytes"] += inp.size
            t0 = time.perf_counter()
            try:
                st = fz.check_engine(family, inp, strategies)
                res["events"] += st.events
                res["max_framer_buffer"] = max(res["max_framer_buffer"], st.max_buffer)
                res["max_framer_payload"] = max(res["max_framer_payload"], st.max_payload)
            except Exception as e:    # a crash or a broken property: recorded, the run goes on
                found.add_exception(e, inp)
            dt = time.perf_counter() - t0
            if dt > res["slowest_s"]:
                res["slowest_s"], res["slowest_input"] = dt, _repro(inp)[:500]
            if dt > SLOW:
                again = [_timed(lambda: fz.check_engine(family, inp, strategies)) for _ in range(3)]
                res["slow_inputs"].append({"seconds": dt, "rerun_s": again, "size": inp.size,
                                           "reproducer": _repro(inp)})

        before = res["inputs"]
        one()
        rnd += 1
        res["rounds"] = rnd
        print(f"  engine: {res['inputs']}/{n} inputs, {len(found.groups)} finding(s), "
              f"{time.perf_counter() - t_start:.0f} s", file=sys.stderr, flush=True)
        if res["inputs"] == before:
            break                      # hypothesis generated nothing new: do not spin
    res["wall_s"] = time.perf_counter() - t_start
    res["findings"] = found.as_list()
    res["peak_rss_mib"] = _rss_mib()
    return res


def emulator_campaign(family, n: int, base_seed: int, max_actions: int = 16, round_size: int = 100) -> dict:
    echo = TcpEcho().start()
    lines = fz.command_lines(family)
    batches = fz.emulator_batches(lines, max_actions=max_actions)
    found = Findings()
    res = {"inputs": 0, "batches": 0, "at_answered": 0, "sandboxed_lines": 0, "setups": {},
           "slowest_s": 0.0, "slowest_input": None, "slow_inputs": [], "max_batch_s": 0.0,
           "guard_time_s": fz.EmulatorRig.GUARD, "crashed_batches": 0,
           "settings_reset_on_loop": 0}
    t_start = time.perf_counter()
    rnd = 0
    try:
        while res["inputs"] < n:
            @seed(base_seed * 1_000_003 + 7_000_000 + rnd)
            @_settings(round_size)
            @given(batches)
            def one(batch):
                if res["inputs"] >= n:
                    return
                t0 = time.perf_counter()
                try:
                    r = fz.run_batch(family, echo.port, batch)
                except Exception as e:
                    found.add_exception(e, batch)
                    res["batches"] += 1
                    res["inputs"] += batch.inputs
                    res["crashed_batches"] += 1
                    return
                res["batches"] += 1
                res["inputs"] += r.inputs
                res["at_answered"] += r.at_answered
                res["sandboxed_lines"] += r.sandboxed
                res["settings_reset_on_loop"] += r.settings_reset
                res["setups"][batch.setup] = res["setups"].get(batch.setup, 0) + 1
                res["max_batch_s"] = max(res["max_batch_s"], time.perf_counter() - t0)
                for p in r.problems:
                    found.add("problem", p, "emulator", batch, r.details)
                if r.slowest_input_s > res["slowest_s"]:
                    res["slowest_s"], res["slowest_input"] = r.slowest_input_s, repr(r.slowest_input)[:500]
                if r.slowest_input_s > SLOW:
                    res["slow_inputs"].append({"seconds": r.slowest_input_s, "input": repr(r.slowest_input),
                                               "reproducer": _repro(batch)})

            before = res["inputs"]
            one()
            rnd += 1
            print(f"  emulator: {res['inputs']}/{n} inputs in {res['batches']} batches, "
                  f"{len(found.groups)} finding(s), {time.perf_counter() - t_start:.0f} s",
                  file=sys.stderr, flush=True)
            if res["inputs"] == before:
                break
            if res["crashed_batches"] == res["batches"]:
                res["aborted"] = "every batch of the first round raised: the rig cannot run"
                break
    finally:
        echo.stop()
    res["wall_s"] = time.perf_counter() - t_start
    res["findings"] = found.as_list()
    res["peak_rss_mib"] = _rss_mib()
    return res


def table(res: dict) -> str:
    out = [f"atconform fuzz  {res['date']}  {res['machine']['platform']}  Python {res['machine']['python']}  "
           f"seed={res['seed']}", ""]
    out.append(f"  {'target':<9} {'inputs':>8} {'findings':>9} {'slowest s':>10} {'> 1 s':>6} "
               f"{'peak RSS MiB':>13} {'wall s':>8}")
    for name in ("engine", "emulator"):
        r = res.get(name)
        if r is None:
            out.append(f"  {name:<9} skipped")
            continue
        out.append(f"  {name:<9} {r['inputs']:>8} {sum(f['count'] for f in r['findings']):>9} "
                   f"{r['slowest_s']:>10.3f} {len(r['slow_inputs']):>6} {r['peak_rss_mib']:>13.1f} "
                   f"{r['wall_s']:>8.0f}")
    e, m = res.get("engine"), res.get("emulator")
    if e:
        out.append(f"  engine: {e['bytes']} DCE bytes, {e['events']} events; framer held at most "
                   f"{e['max_framer_buffer']} unframed and {e['max_framer_payload']} payload bytes")
    if m:
        out.append(f"  emulator: {m['batches']} batches {m['setups']}; AT answered after "
                   f"{m['at_answered']}/{m['batches']}; {m['sandboxed_lines']} lines sandboxed, "
                   f"{m['settings_reset_on_loop']} S3/S5 resets on the loop; "
                   f"slowest batch {m['max_batch_s']:.2f} s (guard time {m['guard_time_s']} s)")
        if m.get("aborted"):
            out.append(f"  emulator: ABORTED: {m['aborted']}")
    for name in ("engine", "emulator"):
        r = res.get(name) or {}
        for f in r.get("findings", []):
            out.append(f"  FOUND {name} x{f['count']}: {f['message'][:160]} @ {f['where']}")
            out.append(f"        first input: {f['reproducer'][:300]}")
            for d in f.get("details", []):
                out.append(f"        {d[:600]}")
        for s in r.get("slow_inputs", []):
            out.append(f"  SLOW  {name}: {s['seconds']:.2f} s (rerun {s.get('rerun_s')}) "
                       f"{s.get('reproducer', '')[:200]}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import git_info, machine_info
    ap = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", type=int, default=100_000, help="engine inputs (default 100000; 0 skips)")
    ap.add_argument("--emulator", type=int, default=10_000, help="emulator inputs (default 10000; 0 skips)")
    ap.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    ap.add_argument("--model", default="bg96")
    ap.add_argument("--out", type=Path, default=RESULTS / "fuzz.json", help="JSON results file")
    args = ap.parse_args(argv)
    family = load_family(args.model)
    t0 = time.perf_counter()
    res: dict = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(), "git": git_info(), "seed": args.seed, "model": args.model,
        "units": "seconds; memory in MiB (ru_maxrss)", "slow_threshold_s": SLOW,
        "rss_at_start_mib": _rss_mib(),
    }
    res["engine"] = None
    if args.engine:
        print(f"fuzzing the engine ({args.engine} inputs) ...", file=sys.stderr, flush=True)
        res["engine"] = engine_campaign(family, args.engine, args.seed)
    res["emulator"] = None
    if args.emulator:
        print(f"fuzzing the emulator ({args.emulator} inputs) ...", file=sys.stderr, flush=True)
        res["emulator"] = emulator_campaign(family, args.emulator, args.seed)
    res["wall_s"] = time.perf_counter() - t0
    res["peak_rss_mib"] = _rss_mib()
    found = sum(len(r["findings"]) for r in (res["engine"], res["emulator"]) if r)
    answered = res["emulator"] is None or res["emulator"]["at_answered"] == res["emulator"]["batches"]
    res["ok"] = found == 0 and answered
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(table(res))
    print(f"\nresults: {args.out}")
    if not res["ok"]:
        print("fuzz FAILED: see the findings above and in the JSON", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
