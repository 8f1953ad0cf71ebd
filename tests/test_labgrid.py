"""labgrid self-test (issue 14 §2): the suite reaches an emulated modem through a real lab.

Every part is the real program, started here on loopback, nothing mocked:

* ``atconform emulate --model bg96 --pty --power-http`` (the modem, and a network power
  switch in front of it speaking labgrid's ``simplerest`` protocol);
* ``labgrid-coordinator``;
* ``labgrid-exporter`` exporting the pty as a ``RawSerialPort`` (it runs Debian's
  ``ser2net``, RFC 2217) and the switch as a ``NetworkPowerPort``;
* ``labgrid-client`` creating the place; the suite acquires and releases it itself.

Missing labgrid or ser2net fails these tests in CI (``$CI`` set) with the missing piece
named; elsewhere they are skipped with that reason.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from suite_run import REPO, run_suite

BIN = Path(sys.executable).parent
LABGRID = ("labgrid-coordinator", "labgrid-exporter", "labgrid-client")


def missing_parts() -> list[str]:
    out = []
    try:
        import labgrid  # noqa: F401
    except ImportError:
        out.append("labgrid (pip install 'atconform[lab]')")
    for tool in LABGRID:
        if not (BIN / tool).exists() and not shutil.which(tool):
            out.append(tool)
    if not shutil.which("ser2net") and not Path("/usr/sbin/ser2net").exists():
        out.append("ser2net (Debian package ser2net)")
    return out


def _tool(name: str) -> str:
    return str(BIN / name) if (BIN / name).exists() else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(cond, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Lab:
    """A coordinator, one exporter and ``n`` emulated BG96 modems, each in its own place."""

    def __init__(self, tmp: Path, n: int = 1):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.coordinator = f"127.0.0.1:{_free_port()}"
        self.exporter = f"atconform-selftest-{os.getpid()}"
        self.modems = []
        try:
            self._start(n)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, cmd: list[str], log: str, **kw) -> subprocess.Popen:
        p = subprocess.Popen(cmd, cwd=kw.pop("cwd", self.tmp), stderr=open(self.tmp / log, "w"),
                             stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def _start(self, n: int) -> None:
        groups = []
        for i in range(n):
            log = f"emulator{i}.log"
            # each modem's network has its own DNS server: the run's peer on this port (IXIT)
            dns_port = _free_port()
            ixit = self.tmp / f"ixit{i}.yaml"
            ixit.write_text(f"local_dns_port: {dns_port}\n")
            emu = self._spawn([sys.executable, "-m", "atconform.cli", "emulate", "--model", "bg96", "--pty",
                               "--power-http", "127.0.0.1:0", "--dns-port", str(dns_port)], log,
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
            pty = emu.stdout.readline().split()[-1]
            power = emu.stdout.readline().split()[-1]
            place = f"bg96-selftest-{os.getpid()}-{i}"
            self.modems.append(SimpleNamespace(pty=pty, power=power, place=place, log=self.tmp / log, ixit=ixit))
            groups.append(f"modem{i}:\n  RawSerialPort:\n    port: {pty}\n    speed: 115200\n"
                          f"  NetworkPowerPort:\n    model: simplerest\n    host: '{power}'\n    index: 0\n")
        (self.tmp / "exporter.yaml").write_text("".join(groups))
        self._spawn([_tool("labgrid-coordinator"), "-l", self.coordinator], "coordinator.log")
        host, port = self.coordinator.split(":")
        _wait(lambda: _connects(host, int(port)), 30, "the coordinator to listen")
        self._spawn([_tool("labgrid-exporter"), "-c", self.coordinator, "-n", self.exporter,
                     "--hostname", "127.0.0.1", str(self.tmp / "exporter.yaml")], "exporter.log")
        _wait(lambda: self.client("resources").stdout.count("NetworkSerialPort") == n, 60,
              "the exporter's resources at the coordinator")
        for i, m in enumerate(self.modems):
            self.client("-p", m.place, "create", check=True)
            self.client("-p", m.place, "add-match", f"{self.exporter}/modem{i}/*", check=True)

    def client(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        r = subprocess.run([_tool("labgrid-client"), "-x", self.coordinator, *args], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        if check and r.returncode:
            raise AssertionError(f"labgrid-client {' '.join(args)}: {r.stderr.strip()}")
        return r

    def holder(self, place: str) -> str:
        """Who holds ``place``: 'None' when it is free."""
        out = self.client("-p", place, "show", check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.strip().startswith("acquired:"))

    def power_events(self, i: int = 0) -> list[str]:
        return [line.split()[1] for line in self.modems[i].log.read_text().splitlines()
                if line.startswith("power ")]

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def _connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _need_parts() -> None:
    missing = missing_parts()
    if not missing:
        return
    msg = "the labgrid self-test needs: " + ", ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _need_parts()
    lab = Lab(tmp_path_factory.mktemp("lab"))
    yield lab
    lab.stop()


SELECTION = ["suites/bg96/test_generated.py", "suites/bg96/test_flowchart.py"]


def test_generated_suite_through_an_acquired_place_gives_the_direct_verdicts(lab, tmp_path):
    """BG96 generated purposes and Figure 1 over RFC 2217 from an acquired place, against
    the same purposes on the built-in emulator; the place is free again afterwards. """
    m = lab.modems[0]
    proc, via_lab, report = run_suite(tmp_path / "lab", *SELECTION, "--model", "bg96", "--lg-place", m.place,
                                      "--lg-coordinator", lab.coordinator, "--ixit", str(m.ixit), timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    run = next(r for r in report["runs"] if r["model"] == "bg96")
    assert run["port"].startswith("rfc2217://127.0.0.1:"), run["port"]
    assert run["lab"] == {"labgrid_place": m.place, "coordinator": lab.coordinator, "target": f"atconform-{m.place}"}
    assert lab.holder(m.place) == "None", "the place was not released"
    _, direct, _ = run_suite(tmp_path / "direct", *SELECTION, "--model", "bg96")
    ran = {p: v for p, v in via_lab.items() if v[0] != "skipped"}
    assert len(ran) > 700
    differ = {p: (v, direct.get(p)) for p, v in ran.items() if direct.get(p, (None,))[0] != v[0]}
    assert not differ, differ
    skipped = {p for p, v in via_lab.items() if v[0] == "skipped"}
    assert all("emulator only" in via_lab[p][1] or direct[p][0] == "skipped" for p in skipped), \
        {p: via_lab[p] for p in skipped}
    # the purposes that power the module down, and the recovery purpose, ran (not skipped
    # for want of power control) and went through labgrid's NetworkPowerDriver: off, on each
    cycled = ["BG96/QPOWD/EXECUTE/response", "BG96/QPOWD/WRITE/n/min", "BG96/QPOWD/WRITE/n/max",
              "BG96/FLOWCHART/recovery/power-cycle"]
    assert [ran[p][0] for p in cycled] == ["pass"] * 4, {p: via_lab[p] for p in cycled}
    assert lab.power_events() == ["off", "on"] * 4, lab.power_events()


def test_a_place_held_by_another_user_is_a_clear_error(lab, tmp_path):
    """The place is not ours to take: one line naming it and labgrid's reason, exit 2. """
    m = lab.modems[0]
    env = {**os.environ, "USER": "someone-else"}
    r = subprocess.run([_tool("labgrid-client"), "-x", lab.coordinator, "-p", m.place, "acquire"],
                       capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    try:
        proc, _, _ = run_suite(tmp_path, "suites/bg96/test_generated.py", "--model", "bg96", "--lg-place", m.place,
                               "--lg-coordinator", lab.coordinator, "--ixit", str(m.ixit))
        assert proc.returncode == 2, proc.stdout[-2000:]
        assert f"cannot acquire labgrid place {m.place!r}" in proc.stdout + proc.stderr, proc.stdout[-2000:]
    finally:
        subprocess.run([_tool("labgrid-client"), "-x", lab.coordinator, "-p", m.place, "release"],
                       capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_releases_its_place(lab, tmp_path, sig):
    m = lab.modems[0]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reports", str(tmp_path),
           "suites/bg96/test_generated.py", "--model", "bg96", "--lg-place", m.place,
           "--lg-coordinator", lab.coordinator, "--ixit", str(m.ixit)]
    p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, "ATCONFORM_E2E_INNER": "1"})
    try:
        _wait(lambda: lab.holder(m.place) != "None", 120, "the run to acquire the place")
        time.sleep(2)       # under way: tests running on the place's port
        p.send_signal(sig)
        p.wait(120)
    finally:
        if p.poll() is None:
            p.kill()
    assert lab.holder(m.place) == "None", f"the place is still held after {sig.name}"


def test_pool_workers_each_acquire_their_own_place(tmp_path_factory, tmp_path):
    """``--pool`` with two places under pytest-xdist: each worker takes one place, runs on
    its port and releases it; both reports complete. """
    _need_parts()
    lab = Lab(tmp_path_factory.mktemp("lab2"), n=2)
    try:
        pool = tmp_path / "pool.yaml"
        pool.write_text("modems:\n" + "".join(
            f"  - {{name: m{i}, model: bg96, place: {m.place}, ixit: {m.ixit}}}\n"
            for i, m in enumerate(lab.modems)))
        proc, _, _ = run_suite(tmp_path / "reports", "suites/bg96/test_generated.py", "-k", "QIGETERROR or QISDE",
                               "--pool", str(pool), "--lg-coordinator", lab.coordinator, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        for i, m in enumerate(lab.modems):
            rep = json.loads((tmp_path / "reports" / f"m{i}" / "compliance.json").read_text())
            port = next(r["port"] for r in rep["runs"] if r["model"] == "bg96")
            assert port.startswith("rfc2217://"), port
            assert rep["counts"].get("pass", 0) > 5 and not rep["counts"].get("fail")
            assert lab.holder(m.place) == "None"
        ports = {json.loads((tmp_path / "reports" / f"m{i}" / "compliance.json").read_text())["runs"][0]["port"]
                 for i in range(2)}
        assert len(ports) == 2, ports
    finally:
        lab.stop()


@pytest.mark.parametrize("args, words", [
    (["--lg-place", "p1", "--port", "/dev/null", "--model", "bg96"], "not also --port"),
    (["--lg-place", "p1"], "need --model"),
    (["--lg-place", "p1", "--model", "bg96", "--lg-coordinator", "CLOSED"], "cannot acquire labgrid place 'p1'"),
], ids=["with-port", "no-model", "no-coordinator"])
def test_bad_lab_options_are_one_line_and_exit_2(tmp_path, args, words):
    if "CLOSED" in args:
        _need_parts()
        args = [a.replace("CLOSED", f"127.0.0.1:{_free_port()}") for a in args]
    proc, _, _ = run_suite(tmp_path, "suites/bg96/test_generated.py", *args, timeout=180)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("Exit: atconform:")]
    assert len(lines) == 1 and words in lines[0], proc.stdout[-2000:] + proc.stderr[-2000:]
