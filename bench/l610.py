"""``python -m bench.l610``: Fibocom L610 numbers (issue 12): the whole L610 conformance run's
wall time (pytest subprocess, built-in emulator), and the cost of hex against raw data per
MiB: encoding and decoding (``bytes.hex``/``bytes.fromhex``) and the DTE's framer taking
1 MiB of received data as +MIPRTCP lines in the IPRFMT 0 form (hex, 2048 bytes a line) and
in the IPRFMT 2 form (raw, glued to its header). Prints a table and writes
``bench/results/l610.json``. Timings are reported, never asserted.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.__main__ import git_info, machine_info
from bench.suite import ROOT, parse_summary

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1 << 20
CHUNK = 2048                    # bytes per +MIPRTCP: the largest AT+MIPDSETS <size>


def suite_run() -> dict:
    """``pytest suites/fibocom_l610`` in a subprocess: wall seconds and the summary."""
    with tempfile.TemporaryDirectory(prefix="atconform-bench-l610-") as tmp:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra",
               "--reports", f"{tmp}/reports", "suites/fibocom_l610"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
    s = parse_summary(proc.stdout)
    return {"returncode": proc.returncode, "wall_s": wall, "summary_line": s["line"], "counts": s["counts"]}


def _best(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def hex_overhead() -> dict:
    """Seconds per MiB: hex encoding and decoding alone, and the framer taking 1 MiB of
    +MIPRTCP data in the hex form (IPRFMT 0) and in the raw form (IPRFMT 2)."""
    from atconform.families.base import EngineHooks
    from atconform.protocol.engine import AtEngine
    from atconform.spec import load_family

    fam = load_family("fibocom_l610")
    data = os.urandom(MIB)
    text = data.hex().upper()
    chunks = [data[i:i + CHUNK] for i in range(0, MIB, CHUNK)]
    left = [MIB - (i + 1) * CHUNK for i in range(len(chunks))]
    hex_stream = b"".join(f"\r\n+MIPRTCP: 1,{n},{c.hex().upper()}\r\n".encode() for c, n in zip(chunks, left))
    raw_stream = b"".join(f"\r\n+MIPRTCP: 1,{len(c)},".encode() + c for c in chunks)

    def frame(stream: bytes, iprfmt: int) -> None:
        eng = AtEngine(fam, EngineHooks(fam))
        eng.settings.apply({"IPRFMT": iprfmt})
        got = 0
        for i in range(0, len(stream), 4096):
            for ev in eng.feed(stream[i:i + 4096]):
                got += len(getattr(ev, "payload", None) or b"") or len(getattr(ev, "text", ""))
        assert got

    out = {
        "encode_s_per_mib": _best(lambda: data.hex()),
        "decode_s_per_mib": _best(lambda: bytes.fromhex(text)),
        "frame_hex_s_per_mib": _best(lambda: frame(hex_stream, 0), 3),
        "frame_raw_s_per_mib": _best(lambda: frame(raw_stream, 2), 3),
        "wire_bytes_hex": len(hex_stream), "wire_bytes_raw": len(raw_stream),
    }
    out["frame_hex_over_raw"] = out["frame_hex_s_per_mib"] / out["frame_raw_s_per_mib"]
    return out


def main() -> int:
    over = hex_overhead()
    run = suite_run()
    result = {"machine": machine_info(), "git": git_info(), "suite": run, "hex": over}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "l610.json").write_text(json.dumps(result, indent=2))
    print(f"L610 whole run: {run['wall_s']:.1f} s wall ({run['summary_line']})")
    print(f"hex encode {over['encode_s_per_mib'] * 1e3:.1f} ms/MiB, decode {over['decode_s_per_mib'] * 1e3:.1f} ms/MiB")
    print(f"framer: hex form {over['frame_hex_s_per_mib'] * 1e3:.1f} ms/MiB ({over['wire_bytes_hex']} bytes on the wire), "
          f"raw form {over['frame_raw_s_per_mib'] * 1e3:.1f} ms/MiB ({over['wire_bytes_raw']} bytes): "
          f"x{over['frame_hex_over_raw']:.2f}")
    return run["returncode"]


if __name__ == "__main__":
    sys.exit(main())
