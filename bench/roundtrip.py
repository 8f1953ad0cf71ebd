"""Per-round-trip cost of the harness (:class:`atconform.transport.channel.Channel`)
against a bare pyserial write/read on the same emulator pty.

Both sides talk to one in-process BG96 emulator. They cannot hold the pty at the same
time (the channel's reader thread would take the bare side's bytes), so each side opens
the port for one block, runs its round trips, and closes it; blocks alternate
(bare, harness, harness, bare, bare, ...) so machine noise and drift hit both alike.
Opening, ``ATE0`` and a few warm-up round trips per block are not timed.

"bare" is what the ratios divide by: ``write`` then ``read_until(b"OK\r\n")``. pyserial's
``read_until`` reads one byte per ``select()``+``read()``, so for long replies it is not
a floor; "bare-bulk" (``read(in_waiting)`` until the reply ends with ``OK``, as the
channel's reader does) is reported alongside for reference.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import serial

from atconform.emulator import Emulator
from atconform.spec import load_family
from atconform.transport.channel import Channel

from bench.stats import summary

OK = b"OK\r\n"

# name -> (command line, bytes the bare reply must contain)
COMMANDS: dict[str, tuple[str, bytes]] = {
    "AT": ("AT", b"OK\r\n"),
    "AT+QIOPEN=?": ("AT+QIOPEN=?", b"+QIOPEN:"),
}


class BenchError(RuntimeError):
    pass


@dataclass
class Samples:
    """Round-trip times in seconds, per side and command; per-block lists kept."""
    blocks: dict[tuple[str, str], list[list[float]]] = field(default_factory=dict)

    def add_block(self, side: str, cmd: str, times: list[float]) -> None:
        self.blocks.setdefault((side, cmd), []).append(times)

    def all(self, side: str, cmd: str) -> list[float]:
        return [t for b in self.blocks[(side, cmd)] for t in b]


def _bare_block(path: str, n: int, warmup: int, samples: Samples) -> None:
    pc = time.perf_counter
    with serial.Serial(path, 115200, timeout=1) as s:
        s.reset_input_buffer()
        s.write(b"ATE0\r")
        r = s.read_until(OK)
        if not r.endswith(OK):
            raise BenchError(f"bare: ATE0 got {r!r}")
        for name, (line, marker) in COMMANDS.items():
            wire = line.encode() + b"\r"
            for _ in range(warmup):
                s.write(wire)
                s.read_until(OK)
            times = []
            for _ in range(n):
                t0 = pc()
                s.write(wire)
                r = s.read_until(OK)
                t1 = pc()
                if not r.endswith(OK) or marker not in r:
                    raise BenchError(f"bare: {line} got {r!r}")
                times.append(t1 - t0)
            samples.add_block("bare", name, times)
            # bare-bulk: same port, but read whatever is waiting instead of pyserial's
            # byte-at-a-time read_until (a select()+read() per byte) -- a lower floor
            for _ in range(warmup):
                s.write(wire)
                _read_bulk(s)
            times = []
            for _ in range(n):
                t0 = pc()
                s.write(wire)
                r = _read_bulk(s)
                t1 = pc()
                if not r.endswith(OK) or marker not in r:
                    raise BenchError(f"bare-bulk: {line} got {r!r}")
                times.append(t1 - t0)
            samples.add_block("bare-bulk", name, times)


def _read_bulk(s: serial.Serial) -> bytes:
    buf = bytearray()
    while not buf.endswith(OK):
        chunk = s.read(max(1, s.in_waiting))
        if not chunk:
            break  # 1 s timeout
        buf += chunk
    return bytes(buf)


def _harness_block(path: str, n: int, warmup: int, samples: Samples) -> None:
    pc = time.perf_counter
    ch = Channel(load_family("bg96"), path).open()
    try:
        for name, (line, _marker) in COMMANDS.items():
            for _ in range(warmup):
                ch.command(line)
            times = []
            for _ in range(n):
                t0 = pc()
                resp = ch.command(line)
                t1 = pc()
                if not resp.ok or (name != "AT" and not resp.lines):
                    raise BenchError(f"harness: {line} got {resp}")
                times.append(t1 - t0)
            samples.add_block("harness", name, times)
    finally:
        ch.close()


def run(blocks: int, n: int, warmup: int = 5) -> dict:
    """``blocks`` pairs of (bare, harness) blocks of ``n`` timed round trips per command."""
    samples = Samples()
    emu = Emulator("bg96").start()
    t_start = time.perf_counter()
    try:
        for i in range(blocks):
            order = ("bare", "harness") if i % 2 == 0 else ("harness", "bare")
            for side in order:
                (_bare_block if side == "bare" else _harness_block)(emu.path, n, warmup, samples)
    finally:
        emu.stop()
    elapsed = time.perf_counter() - t_start

    out: dict = {"blocks": blocks, "n_per_block": n, "warmup_per_block": warmup,
                 "elapsed_s": elapsed, "commands": {}}
    for name, (line, _) in COMMANDS.items():
        bare, harness = samples.all("bare", name), samples.all("harness", name)
        sb, sh = summary(bare), summary(harness)
        sbb = summary(samples.all("bare-bulk", name))
        per_block = []
        for b, h in zip(samples.blocks[("bare", name)], samples.blocks[("harness", name)]):
            mb, mh = summary(b)["median"], summary(h)["median"]
            per_block.append({"bare_median": mb, "harness_median": mh, "ratio_median": mh / mb})
        out["commands"][name] = {
            "line": line,
            "bare": sb,
            "harness": sh,
            "bare_bulk": sbb,
            "ratio_median": sh["median"] / sb["median"],
            "ratio_mean": sh["mean"] / sb["mean"],
            "ratio_p90": sh["p90"] / sb["p90"],
            "overhead_median_s": sh["median"] - sb["median"],
            "ratio_median_vs_bare_bulk": sh["median"] / sbb["median"],
            "per_block": per_block,
        }
    return out
