"""``python -m bench.gv500``: Queclink GV500 numbers (issue 9): the whole GV500 conformance
run's wall time (pytest subprocess, built-in emulator; optionally ``--port`` against
``atconform emulate --model queclink_gv500 --pty``), the same purposes in process on the
real and on the virtual clock, and the framers' throughput per style in MB/s, each as a
ratio to a bare ``bytes.split`` of the same bytes in the same run. Prints a table and
writes ``bench/results/gv500.json``. Timings are reported, never asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.__main__ import git_info, machine_info
from bench.suite import ROOT, parse_summary

RESULTS = Path(__file__).resolve().parent / "results"
MB = 1e6


# ----------------------------------------------------------------------- whole runs
def suite_run(port: bool = False) -> dict:
    """``pytest suites/queclink_gv500`` in a subprocess: wall seconds and the summary.
    ``port``: against ``atconform emulate --model queclink_gv500 --pty`` through ``--port``,
    its primary server named in an IXIT (the same purposes, on the real clock)."""
    with tempfile.TemporaryDirectory(prefix="atconform-bench-gv500-") as tmp:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra",
               "--reports", f"{tmp}/reports", "suites/queclink_gv500"]
        env = dict(os.environ)
        emu = None
        if port:
            from atconform.families.queclink_gv500.config import CONFIG_ENV
            from atconform.families.queclink_gv500.peers import free_port
            p = free_port()
            Path(f"{tmp}/emu.yaml").write_text(f"primary_host: 127.0.0.1\nprimary_port: {p}\n")
            Path(f"{tmp}/ixit.yaml").write_text(f"peers:\n  backend_primary: {{host: 127.0.0.1, port: {p}}}\n")
            emu = subprocess.Popen([sys.executable, "-m", "atconform", "emulate", "--model", "queclink_gv500", "--pty"],
                                   cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                   env={**env, CONFIG_ENV: f"{tmp}/emu.yaml"})
            pty = emu.stdout.readline().split()[1]
            cmd += ["--port", pty, "--model", "queclink_gv500", "--ixit", f"{tmp}/ixit.yaml"]
        try:
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            wall = time.perf_counter() - t0
        finally:
            if emu is not None:
                emu.terminate()
                emu.wait(10)
    s = parse_summary(proc.stdout)
    return {"returncode": proc.returncode, "wall_s": wall, "summary_line": s["line"], "counts": s["counts"],
            "pytest_reported_s": s["pytest_reported_s"],
            "output_tail": proc.stdout.splitlines()[-15:] if proc.returncode else None}


def in_process(virtual: bool) -> dict:
    """Every generated purpose and scenario through the GV500 session, emulator and channel
    in this process (:class:`~atconform.families.queclink_gv500.rig.Gv500Rig`), on the
    virtual or the real clock: wall seconds and clock seconds (what the pytest run would
    take once the fixtures put the GV500 link on the virtual clock)."""
    import importlib.util
    import inspect
    import warnings

    import pytest

    from atconform.casegen import generate
    from atconform.casegen.execute import run
    from atconform.families.queclink_gv500.rig import Gv500Rig

    spec = importlib.util.spec_from_file_location("gv500_scenarios", ROOT / "suites/queclink_gv500/test_scenarios.py")
    scen = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        spec.loader.exec_module(scen)
    verdicts: dict[str, int] = {}
    with Gv500Rig(virtual=virtual) as rig:
        t0, c0 = time.perf_counter(), rig.clock.now()
        for p in generate(rig.family):
            v = rig.verdict(run, p, rig.modem)[0]
            verdicts[v] = verdicts.get(v, 0) + 1
        for name, fn in vars(scen).items():
            if not name.startswith("test_"):
                continue
            if "backends" in inspect.signature(fn).parameters:
                with rig.backends() as b:
                    v = rig.verdict(fn, rig.modem, b)[0]
            else:
                v = rig.verdict(fn, rig.modem)[0]
            verdicts[v] = verdicts.get(v, 0) + 1
        wall, clk = time.perf_counter() - t0, rig.clock.now() - c0
    return {"clock": "virtual" if virtual else "real", "purposes": sum(verdicts.values()),
            "pass": verdicts.get("pass", 0), "fail": sum(n for v, n in verdicts.items() if v != "pass"),
            "wall_s": wall, "clock_s": clk}


# ------------------------------------------------------------------------- framers
def _bg96_stream(n: int):
    """BG96-like traffic: (command line, DCE bytes) per transaction: echo off, an
    information line or three and OK, a URC now and then."""
    tx = [('AT+QISTATE=1,0', b'\r\n+QISTATE: 0,"TCP","127.0.0.1",7,40000,2,1,0,0,"uart1"\r\n\r\nOK\r\n'),
          ("AT+QIACT?", b'\r\n+QIACT: 1,1,1,"10.7.157.1"\r\n+QIACT: 2,1,1,"10.7.157.2"\r\n\r\nOK\r\n'),
          ("AT+QISEND=0,0", b"\r\n+QISEND: 1024,1024,0\r\n\r\nOK\r\n"),
          ("AT", b'\r\nOK\r\n\r\n+QIURC: "recv",0\r\n')]
    return [tx[i % len(tx)] for i in range(n)]


def _gv500_stream(n: int):
    out = []
    for i in range(n):
        seq = f"{i & 0xFFFF:04X}"
        if i % 2:
            out.append((f"AT@BSS2?gv500cna,,{seq}",
                        f"+QRY:BSS2,123456789012345,8203,3,0,1,1,,,192.168.1.12,590,0,,,{seq},20210407101530,{seq}$\r\n".encode()))
        else:
            out.append((f"AT@BSS2=gv500cna,,,192.168.1.12,590,0,,,{seq}",
                        f"+ACK:BSS2,123456789012345,8203,3,0,,{seq},20210407101530,{seq}$".encode()))
    return out


def _framer_rate(model: str, stream, chunk: int, repeats: int) -> dict:
    from atconform.protocol.engine import AtEngine
    from atconform.spec import load_family
    fam = load_family(model)
    total = sum(len(d) for _, d in stream)
    times, events = [], 0
    for _ in range(repeats):
        eng = AtEngine(fam)
        t0 = time.perf_counter()
        n = 0
        for line, data in stream:
            eng.command(line)
            for i in range(0, len(data), chunk):
                n += len(eng.feed(data[i:i + chunk]))
        times.append(time.perf_counter() - t0)
        events = n
    return {"bytes": total, "seconds": statistics.median(times), "mb_s": total / statistics.median(times) / MB,
            "events": events, "transactions": len(stream)}


def _split_rate(stream, sep: bytes, repeats: int) -> dict:
    blob = b"".join(d for _, d in stream)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        blob.split(sep)
        times.append(time.perf_counter() - t0)
    return {"bytes": len(blob), "seconds": statistics.median(times), "mb_s": len(blob) / statistics.median(times) / MB}


def framers(n: int = 20000, repeats: int = 5, chunk: int = 4096) -> dict:
    """Each framer's MB/s through AtEngine (command sent, then its reply fed in reads of
    ``chunk`` bytes), and ``bytes.split`` of the same bytes at the style's delimiter."""
    out = {}
    for style, model, stream, sep in (("v250", "bg96", _bg96_stream(n), b"\r\n"),
                                      ("queclink", "queclink_gv500", _gv500_stream(n), b"$")):
        f = _framer_rate(model, stream, chunk, repeats)
        s = _split_rate(stream, sep, repeats)
        out[style] = {"model": model, "framer": f, "split": s, "ratio_to_split": f["mb_s"] / s["mb_s"]}
    return out


# --------------------------------------------------------------------------- output
def table(res: dict) -> str:
    m = res["machine"]
    out = [f"atconform GV500 bench  {res['date']}  {m['platform']}  Python {m['python']}  cpus={m['cpu_count']}", ""]
    for key, label in (("suite", "GV500 conformance run (pytest subprocess, built-in emulator)"),
                       ("suite_port", "GV500 conformance run, --port against 'atconform emulate --pty'")):
        s = res.get(key)
        if s:
            out += [label, f"  summary   : {s['summary_line']}  (rc={s['returncode']})",
                    f"  wall time : {s['wall_s']:.2f} s", ""]
    for r in res.get("in_process", []):
        out.append(f"GV500 purposes in process, {r['clock']} clock: {r['purposes']} purposes "
                   f"({r['pass']} pass, {r['fail']} fail) in {r['wall_s']:.2f} s wall, {r['clock_s']:.2f} s of clock time")
    fr = res.get("framers")
    if fr:
        out += ["", f"Framer throughput (AtEngine.command + feed in {res['chunk']}-byte reads, median of {res['repeats']})",
                f"  {'style':<9} {'model':<15} {'MB/s':>8} {'split MB/s':>11} {'ratio':>9} {'events':>8}"]
        for style, r in fr.items():
            out.append(f"  {style:<9} {r['model']:<15} {r['framer']['mb_s']:8.2f} {r['split']['mb_s']:11.1f} "
                       f"{r['ratio_to_split']:9.5f} {r['framer']['events']:8d}")
        out.append("  ratio = framer MB/s / bytes.split MB/s of the same bytes, same run")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gv500", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="framers and the virtual-clock run only")
    ap.add_argument("--skip-port", action="store_true", help="skip the --port run")
    ap.add_argument("-n", type=int, default=20000, help="transactions per framer (default 20000)")
    ap.add_argument("--out", type=Path, default=RESULTS / "gv500.json")
    args = ap.parse_args(argv)
    res: dict = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine_info(),
                 "git": git_info(), "units": "seconds, MB = 10^6 bytes", "chunk": 4096, "repeats": 5}
    if not args.quick:
        print("running the GV500 conformance suite ...", file=sys.stderr, flush=True)
        res["suite"] = suite_run()
        if not args.skip_port:
            print("running it through --port ...", file=sys.stderr, flush=True)
            res["suite_port"] = suite_run(port=True)
    print("in-process runs ...", file=sys.stderr, flush=True)
    res["in_process"] = [in_process(virtual=True)] + ([] if args.quick else [in_process(virtual=False)])
    print("framer throughput ...", file=sys.stderr, flush=True)
    res["framers"] = framers(args.n, res["repeats"], res["chunk"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(table(res))
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
