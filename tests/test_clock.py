"""The virtual clock: time jumps only when every party idles, and never while a byte is
in flight or a watched descriptor is ready; results do not depend on machine load."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from atconform.clock import RealClock, VirtualClock


def test_sleep_jumps_without_wall_time():
    c = VirtualClock()
    c.attach("harness")
    t0 = time.monotonic()
    c.sleep(3600)
    assert c.now() == 3600
    assert time.monotonic() - t0 < 5   # generous: a shared machine; the point is "not an hour"
    assert [(j.frm, j.to) for j in c.jumps] == [(0, 3600)]


def test_no_jump_while_another_party_runs():
    c = VirtualClock()
    c.attach("harness")
    running = threading.Event()
    release = threading.Event()

    def worker():
        c.attach("worker")
        running.set()
        release.wait(5)        # busy, as far as the clock knows: not in a clock wait
        c.detach()

    t = threading.Thread(target=worker)
    t.start()
    running.wait(5)
    seen = []

    def sleeper():
        c.sleep(10)
        seen.append(c.now())

    s = threading.Thread(target=sleeper)
    s.start()
    time.sleep(0.3)
    assert c.now() == 0 and not seen      # the worker runs: virtual time stands still
    release.set()
    t.join(5)
    c.detach()                            # the harness leaves too: now everyone idles
    s.join(5)
    assert seen == [10]


def test_bytes_in_flight_hold_the_clock():
    c = VirtualClock()
    c.attach("harness")
    c.listen("link>dte")
    c.sent("nobody>dte", 7)               # a port nobody reads (RDY on a new port): ignored
    c.sent("link>dte", 5)
    got = []
    threading.Timer(0.3, lambda: got.append(c.now()) or c.received("link>dte", 5)).start()
    c.sleep(1)                            # cannot jump before the 5 bytes are read
    assert got == [0.0] and c.now() == 1


def test_a_ready_descriptor_holds_the_clock():
    c = VirtualClock()
    r, w = os.pipe()
    os.write(w, b"x")
    woke = []

    def io_party():
        c.attach("io")
        with c.io_blocked(fds=lambda: ([r], [])):
            time.sleep(0.3)               # "in select()": the byte is ready, not yet read
        woke.append(c.now())
        os.read(r, 1)
        with c.io_blocked(fds=lambda: ([r], [])):
            time.sleep(0.3)
        c.detach()

    t = threading.Thread(target=io_party)
    t.start()
    c.attach("harness")
    c.sleep(7)
    t.join(5)
    assert woke == [0.0] and c.now() == 7
    os.close(r)
    os.close(w)


def test_notify_wakes_a_waiter_before_any_jump():
    c = VirtualClock()
    c.attach("harness")
    box = []

    def producer():
        c.attach("producer")
        with c.cond:
            box.append("event")
            c.notify()
        c.detach()

    threading.Thread(target=producer).start()
    assert c.wait_until(lambda: bool(box), 60)
    assert c.now() == 0                   # the event came first; no timeout jump


def test_real_clock_has_the_same_interface():
    c = RealClock()
    with c.io_blocked(deadline=1.0):
        c.sent("k", 1)
        c.received("k", 1)
    assert c.wait_until(lambda: True, 0.01)
    assert not c.wait_until(lambda: False, 0.01)


def test_flow_chart_traces_do_not_depend_on_load():
    """Two CPU burners on a 2-core machine; the same faults give the same trace each time."""
    from atconform.families.bg96.bench import FlowBench
    faults = [{"kind": "qiact_hang", "times": 1}, {"kind": "qiopen_urc", "err": None, "times": 1},
              {"kind": "sim_not_ready", "seconds": 4}]
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        traces = []
        for _ in range(8):
            b = FlowBench(faults)
            try:
                p = b.policy()
                b.run(p.run())
                traces.append(b.trace_text())
            finally:
                b.close()
    finally:
        for p in burners:
            p.kill()
            p.wait()
    assert len(set(traces)) == 1, traces[0]
    # (U)SIM ready at 4 s, AT+QIACT unanswered until 4 + 150 s, back at 166 s, no +QIOPEN
    # URC from 170 s to 320 s
    assert "   154.0  AT+QIACT=1: no response in 150s  ->  reboot #1: AT+QPOWD" in traces[0]
    assert traces[0].endswith("   320.0  +QIOPEN: 0,0  ->  connected")
