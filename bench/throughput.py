"""Bulk throughput: a raw pty against the harness moving data through the emulated BG96
in each of its three data access modes (§1.2), all in one run.

* ``raw pty``: ``os.openpty()`` + ``tty.setraw(slave)``; a thread writes the payload to
  the master fd in 4 KiB chunks while this thread reads it from the slave path with
  pyserial (``read(in_waiting or 1)``, the read path of the channel's reader). One way.
  A pass takes milliseconds, so there are 5 on fresh ptys; the median is the baseline.
* ``buffer`` / ``push`` / ``transparent``: host -> modem -> TCP echo peer -> modem ->
  host through :class:`atconform.transport.channel.Channel` and one in-process
  :class:`atconform.emulator.Emulator`; the payload crosses the pty twice (plus the AT
  framing around it). Every mode checks what the peer received (``TcpEcho.received``)
  and what came back to the host byte for byte; a mismatch, an unexpected result code
  or a stall raises :class:`BenchError` -- a failed bench, never a silent number.

Timed: first send to last byte back (``time.perf_counter()``). Opening and closing the
socket and the transparent mode's escape guard times (2 x 1 s) are not timed. For each
mode the CPU seconds of the process and of the main (caller) thread, the channel's
reader thread and the emulator's loop thread over the timed part are recorded too, to
show where the time goes.
"""
from __future__ import annotations

import os
import random
import statistics
import threading
import time
import tty

import serial

from atconform.emulator import Emulator
from atconform.peers import TcpEcho
from atconform.spec import load_family
from atconform.transport.channel import Channel

from bench.roundtrip import BenchError

DEFAULT_BYTES = 1 << 20          # 1 MiB
QUICK_BYTES = 256 << 10          # 256 KiB
PTY_CHUNK = 4096                 # raw pty writes and transparent-mode blocks
SEND_CHUNK = 1460                # AT+QISEND maximum (§2.1.7)
READ_LEN = 1500                  # AT+QIRD maximum <read_length> (§2.1.8)
READ_EVERY = 16                  # buffer mode: read the socket buffer empty every 16 sends
STALL_S = 10.0                   # no progress for this long: the bench fails
MIB = float(1 << 20)
MODES = ("buffer", "push", "transparent")


# --------------------------------------------------------------------------- CPU time
def _thread_cpu(thread: threading.Thread | None) -> float | None:
    """CPU seconds used so far by ``thread`` (Linux: per-thread CPU clock), or None."""
    if thread is None or thread.ident is None or not thread.is_alive():
        return None
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (AttributeError, OSError):
        return None


class CpuMeter:
    """CPU seconds of the process and of named threads between ``start`` and ``stop``;
    ``other`` is the process minus the named threads (echo peer, GC, ...)."""

    def __init__(self, threads: dict[str, threading.Thread | None]):
        self.threads = threads
        self._p0 = 0.0
        self._t0: dict[str, float | None] = {}

    def start(self) -> None:
        self._t0 = {k: _thread_cpu(t) for k, t in self.threads.items()}
        self._p0 = time.process_time()

    def stop(self) -> dict[str, float | None]:
        p = time.process_time() - self._p0
        out: dict[str, float | None] = {"process": p}
        known = 0.0
        for k, t in self.threads.items():
            now, before = _thread_cpu(t), self._t0.get(k)
            out[k] = None if now is None or before is None else now - before
            known += out[k] or 0.0
        out["other"] = p - known
        return out


def _check_equal(what: str, got: bytes, want: bytes) -> None:
    if got == want:
        return
    n = min(len(got), len(want))
    first = next((i for i in range(n) if got[i] != want[i]), n)
    raise BenchError(f"{what}: {len(got)} bytes, expected {len(want)}; first difference at "
                     f"byte {first} (got {got[first:first + 8].hex() or '<end>'}, "
                     f"expected {want[first:first + 8].hex() or '<end>'})")


# --------------------------------------------------------------------------- raw pty
def _raw_pty_once(payload: bytes) -> dict:
    n = len(payload)
    master, slave = os.openpty()
    tty.setraw(slave)
    t_first: list[float] = []
    werr: list[BaseException] = []

    def writer() -> None:
        try:
            t_first.append(time.perf_counter())
            mv = memoryview(payload)
            off = 0
            while off < n:
                off += os.write(master, mv[off:off + PTY_CHUNK])
        except OSError as e:  # reported by the reader side
            werr.append(e)

    try:
        with serial.Serial(os.ttyname(slave), 115200, timeout=1) as s:
            s.reset_input_buffer()
            th = threading.Thread(target=writer, name="bench-pty-writer", daemon=True)
            buf = bytearray()
            reads = 0
            cpu0 = time.process_time()
            th.start()
            last = time.perf_counter()
            while len(buf) < n:
                chunk = s.read(s.in_waiting or 1)
                now = time.perf_counter()
                if chunk:
                    buf += chunk
                    reads += 1
                    last = now
                elif werr or now - last > STALL_S:
                    raise BenchError(f"raw pty: stalled at {len(buf)}/{n} bytes "
                                     f"({werr[0] if werr else 'no error from the writer'})")
            t_end = time.perf_counter()
            cpu = time.process_time() - cpu0
            th.join(5)
    finally:
        os.close(master)
        os.close(slave)
    _check_equal("raw pty: bytes read from the slave", bytes(buf), payload)
    return {"seconds": t_end - t_first[0], "reads": reads, "cpu_process_s": cpu}


def raw_pty(payload: bytes, repeats: int = 5) -> dict:
    """One way, master -> slave, 4 KiB writes; pyserial reads the slave path. A pass is
    short (milliseconds), so it is repeated on a fresh pty each time and the median
    pass is the baseline."""
    n = len(payload)
    runs = [_raw_pty_once(payload) for _ in range(repeats)]
    secs = statistics.median(r["seconds"] for r in runs)
    return {"bytes": n, "repeats": repeats, "seconds": secs, "mib_s": n / MIB / secs,
            "runs_mib_s": [n / MIB / r["seconds"] for r in runs],
            "mean_read_bytes": n * repeats / sum(r["reads"] for r in runs), "runs": runs}


# --------------------------------------------------------------------------- harness
class _Progress:
    """Raises BenchError when ``got`` has not grown for STALL_S seconds."""

    def __init__(self, what: str, total: int, echo: TcpEcho):
        self.what, self.total, self.echo = what, total, echo
        self.last_n, self.last_t = -1, time.perf_counter()

    def check(self, got: int) -> None:
        now = time.perf_counter()
        if got != self.last_n:
            self.last_n, self.last_t = got, now
        elif now - self.last_t > STALL_S:
            with self.echo.lock:
                peer = len(self.echo.received[-1]) if self.echo.received else 0
            raise BenchError(f"{self.what}: no data for {STALL_S:g} s at {got}/{self.total} bytes back "
                             f"(the echo peer got and echoed {peer})")


def _open(ch: Channel, echo: TcpEcho, access_mode: int, what: str):
    ch.drain_urcs()   # leftovers of the previous mode's socket (a last "recv" URC)
    r = ch.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{echo.port},0,{access_mode}')
    if access_mode == 2:
        if r.final is None or r.final.kind != "connect":
            raise BenchError(f"{what}: AT+QIOPEN got {r}, expected CONNECT")
        return
    if not r.ok:
        raise BenchError(f"{what}: AT+QIOPEN got {r}")
    u = ch.wait_urc("qiopen", 10)
    if u is None or u.text != "+QIOPEN: 0,0":
        raise BenchError(f"{what}: +QIOPEN URC: {u.text if u else 'none within 10 s'}")


def _close(ch: Channel, what: str) -> None:
    r = ch.command("AT+QICLOSE=0")
    if not r.ok:
        raise BenchError(f"{what}: AT+QICLOSE=0 got {r}")


def _send(ch: Channel, chunk: bytes, what: str) -> None:
    r = ch.command(f"AT+QISEND=0,{len(chunk)}", data=chunk)
    if r.final is None or r.final.text != "SEND OK":
        raise BenchError(f"{what}: AT+QISEND=0,{len(chunk)} got {r}, expected SEND OK")


def _buffer(ch: Channel, echo: TcpEcho, payload: bytes, cpu: CpuMeter) -> dict:
    what = "buffer mode"
    n = len(payload)
    pc = time.perf_counter
    st = {"sends": 0, "send_s": 0.0, "reads": 0, "empty_reads": 0, "read_s": 0.0, "urc_wait_s": 0.0}
    back = bytearray()

    def qird() -> int:
        t = pc()
        r = ch.command(f"AT+QIRD=0,{READ_LEN}")
        st["read_s"] += pc() - t
        st["reads"] += 1
        if not r.ok or not r.info:
            raise BenchError(f"{what}: AT+QIRD=0,{READ_LEN} got {r}")
        data = r.info[0].payload
        if not data:
            if r.info[0].text != "+QIRD: 0":
                raise BenchError(f"{what}: AT+QIRD=0,{READ_LEN} got {r.info[0].text!r} without payload")
            st["empty_reads"] += 1
            return 0
        back.extend(data)
        return len(data)

    _open(ch, echo, 0, what)
    cpu.start()
    t0 = pc()
    for k, off in enumerate(range(0, n, SEND_CHUNK)):
        t = pc()
        _send(ch, payload[off:off + SEND_CHUNK], what)
        st["send_s"] += pc() - t
        st["sends"] += 1
        if (k + 1) % READ_EVERY == 0:
            while qird():
                pass
            ch.drain_urcs()   # "recv" URCs: not needed while reading in turn
    prog = _Progress(what, n, echo)
    while len(back) < n:
        if not qird():
            t = pc()
            ch.wait_urc(lambda u: u.text == '+QIURC: "recv",0', 0.5)
            st["urc_wait_s"] += pc() - t
        prog.check(len(back))
    t1 = pc()
    st["cpu_s"] = cpu.stop()
    _close(ch, what)
    return {"seconds": t1 - t0, "back": bytes(back), **st}


def _push(ch: Channel, echo: TcpEcho, payload: bytes, cpu: CpuMeter) -> dict:
    what = "direct push mode"
    n = len(payload)
    pc = time.perf_counter
    st = {"sends": 0, "send_s": 0.0, "push_urcs": 0, "max_push_bytes": 0, "other_urcs": [],
          "urc_wait_s": 0.0}
    back = bytearray()

    def take(urcs) -> None:
        for u in urcs:
            if u.urc is not None and u.urc.name == "recv-push" and u.payload is not None:
                back.extend(u.payload)
                st["push_urcs"] += 1
                st["max_push_bytes"] = max(st["max_push_bytes"], len(u.payload))
            elif len(st["other_urcs"]) < 10:
                st["other_urcs"].append(u.text)

    _open(ch, echo, 1, what)
    cpu.start()
    t0 = pc()
    for off in range(0, n, SEND_CHUNK):
        t = pc()
        _send(ch, payload[off:off + SEND_CHUNK], what)
        st["send_s"] += pc() - t
        st["sends"] += 1
        take(ch.drain_urcs())
    prog = _Progress(what, n, echo)
    while len(back) < n:
        t = pc()
        u = ch.wait_urc(lambda u: u.urc is not None and u.urc.name == "recv-push", 0.5)
        st["urc_wait_s"] += pc() - t
        take(([u] if u is not None else []) + ch.drain_urcs())
        prog.check(len(back))
    t1 = pc()
    st["cpu_s"] = cpu.stop()
    _close(ch, what)
    take(ch.drain_urcs())
    return {"seconds": t1 - t0, "back": bytes(back), **st}


def _transparent(ch: Channel, echo: TcpEcho, payload: bytes, cpu: CpuMeter) -> dict:
    what = "transparent mode"
    n = len(payload)
    pc = time.perf_counter
    st = {"blocks": 0, "write_s": 0.0, "read_s": 0.0}
    back = bytearray()
    _open(ch, echo, 2, what)
    cpu.start()
    t0 = pc()
    for off in range(0, n, PTY_CHUNK):
        t = pc()
        ch.write(payload[off:off + PTY_CHUNK])
        t2 = pc()
        back += ch.read_data(n - len(back), 0)
        st["write_s"] += t2 - t
        st["read_s"] += pc() - t2
        st["blocks"] += 1
    t_written = pc()
    st["back_when_written"] = len(back)
    prog = _Progress(what, n, echo)
    while len(back) < n:
        back += ch.read_data(n - len(back), 1.0)
        prog.check(len(back))
    t1 = pc()
    st["tail_s"] = t1 - t_written
    st["cpu_s"] = cpu.stop()
    # leave data mode as ModemSession.escape_data_mode does (guard times not timed)
    guard = ch.family.framing.escape_guard_time
    t = pc()
    time.sleep(guard * 1.1)
    ch.engine.framer.escape_written()
    ch.write(ch.family.framing.escape_sequence.encode())
    final = ch.wait_final(7)
    st["escape_s"] = pc() - t
    if final is None or final.kind != "ok":
        raise BenchError(f"{what}: +++ after {guard:g} s of silence got "
                         f"{final.text if final else 'nothing'}, expected OK")
    extra = ch.read_data(1 << 30, 0)
    if extra:
        raise BenchError(f"{what}: {len(extra)} bytes more than sent came back")
    _close(ch, what)
    return {"seconds": t1 - t0, "back": bytes(back), **st}


def run_modes(payload: bytes, modes=MODES) -> dict:
    """Each mode on a fresh socket over one emulator, one channel and one echo peer."""
    n = len(payload)
    emu = Emulator("bg96").start()
    echo = TcpEcho().start()
    ch = Channel(load_family("bg96"), emu.path).open()
    out: dict = {}
    try:
        for line in ("ATE0", "AT+QIACT=1"):
            r = ch.command(line)
            if not r.ok:
                raise BenchError(f"{line} got {r}")
        reader = next((t for t in threading.enumerate() if t.name == f"at-reader {emu.path}"), None)
        threads = {"main": threading.current_thread(), "channel_reader": reader,
                   "emulator_loop": emu.loop.thread}
        for mode in modes:
            fn = {"buffer": _buffer, "push": _push, "transparent": _transparent}[mode]
            with echo.lock:
                idx = len(echo.received)
            res = fn(ch, echo, payload, CpuMeter(threads))
            back = res.pop("back")
            with echo.lock:
                conns = len(echo.received) - idx
                at_peer = bytes(echo.received[idx]) if conns > 0 else b""
            if conns != 1:
                raise BenchError(f"{mode} mode: the echo peer saw {conns} connections, expected 1")
            _check_equal(f"{mode} mode: bytes at the echo peer (TcpEcho.received[{idx}])", at_peer, payload)
            _check_equal(f"{mode} mode: bytes back at the host", back, payload)
            if emu.loop.errors:
                raise BenchError(f"{mode} mode: emulator loop raised {emu.loop.errors[-1]!r}")
            if ch.port_error is not None:
                raise BenchError(f"{mode} mode: channel reader failed: {ch.port_error!r}")
            res["mib_s"] = n / MIB / res["seconds"]
            res["verified"] = True
            out[mode] = res
    finally:
        ch.close()
        echo.stop()
        emu.stop()
    return out


def run(nbytes: int = DEFAULT_BYTES, seed: int = 0) -> dict:
    """Raw pty then the three modes, with the same random payload of ``nbytes``."""
    payload = random.Random(seed).randbytes(nbytes)
    t = time.perf_counter()
    raw = raw_pty(payload)
    modes = run_modes(payload)
    for m in modes.values():
        m["ratio_to_raw"] = m["mib_s"] / raw["mib_s"]
    return {"bytes": nbytes, "seed": seed, "pty_chunk": PTY_CHUNK, "send_chunk": SEND_CHUNK,
            "read_length": READ_LEN, "read_every_sends": READ_EVERY,
            "elapsed_s": time.perf_counter() - t, "raw_pty": raw, "modes": modes}
