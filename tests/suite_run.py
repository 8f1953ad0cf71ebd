"""Running the conformance suite in a subprocess, as a user does: the one helper of the
self-tests that do (end to end, planted defects, spec mutations, ``--port`` against
``atconform emulate``, the ICS, waivers, the diff and the gate).

* :func:`run` / :func:`run_suite`: ``pytest --reports DIR ARGS`` in the repository, the
  e2e guard set so these self-tests are not collected again;
* :func:`defects_file`, :func:`mutated_specs`: a defects file, a copy of the specs with
  numbers of a ``flow_chart:`` changed;
* :func:`emulated_port`, :func:`port_run`: ``atconform emulate --pty`` and the suite on its
  port (real time);
* :class:`Plants`: planted defects run in batches, each defect's purpose asserted on its own;
* :func:`early` / :func:`early_result`: a run started at collection, read by the test that
  needs it (``@pytest.mark.early(name)``; tests/conftest.py starts them).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
INNER = "ATCONFORM_E2E_INNER"


def skip_inside_a_run() -> None:
    """At module level of a self-test that starts suite runs: a suite run started by these
    tests must never collect them again."""
    if os.environ.get(INNER):
        pytest.skip("inside an end-to-end run", allow_module_level=True)


@dataclass
class Run:
    """A finished suite run: the process and what it wrote under ``reports``."""
    proc: subprocess.CompletedProcess
    reports: Path
    extra: dict = field(default_factory=dict)     # what the job that made it adds

    @cached_property
    def results(self) -> dict[str, dict]:
        """purpose id -> its result record (results.jsonl; empty when none was written)."""
        path = self.reports / "results.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return {r["purpose"]: r for r in map(json.loads, lines) if r["type"] == "result"}

    @cached_property
    def by_node(self) -> dict[str, dict]:
        """test node id (path::name[param]) -> its result record."""
        return {r["nodeid"]: r for r in self.results.values()}

    @cached_property
    def report(self) -> dict:
        path = self.reports / "compliance.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    @cached_property
    def verdicts(self) -> dict[str, tuple[str, str]]:
        """purpose id -> (verdict, reason) from compliance.json."""
        return {p["purpose"]: (p["verdict"], p["reason"]) for fam in self.report.get("families", [])
                for c in fam["commands"] for p in c["purposes"]}

    def family(self, model: str) -> dict:
        return next(f for f in self.report["families"] if f["model"] == model)

    def passes_every_purpose(self, purposes: list, prefix: str) -> dict[str, tuple[str, str]]:
        """Assert that the run gave every generated purpose of a family (ids starting with
        ``prefix``) a verdict, and every purpose of the family ``pass`` but those the spec
        skips; returns the family's verdicts."""
        assert self.report.get("complete") is True, self.tail()
        verdicts = {k: v for k, v in self.verdicts.items() if k.startswith(prefix)}
        assert {p.id for p in purposes} <= set(verdicts)
        not_pass = {k: v for k, v in verdicts.items() if v[0] != "pass"}
        assert set(not_pass) == {p.id for p in purposes if p.skip}, not_pass
        return verdicts

    def tail(self, n: int = 3000) -> str:
        return self.proc.stdout[-n:] + self.proc.stderr[-n:]


_CHILDREN: set[subprocess.Popen] = set()     # live processes started here (stopped on an interrupt)


def _communicate(proc: subprocess.Popen, timeout: float) -> subprocess.CompletedProcess:
    _CHILDREN.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    finally:
        _CHILDREN.discard(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run(reports: Path, *args: str, env: dict | None = None, timeout: float = 600) -> Run:
    """``pytest -q --reports REPORTS ARGS`` in the repository (randomisation and the cache
    off, addopts ``-ra``; ``env`` added to this process's environment)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           "--reports", str(reports), "-o", "addopts=-ra", *args]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, INNER: "1", **(env or {})})
    return Run(_communicate(proc, timeout), Path(reports))


def run_suite(reports: Path, *args: str, timeout: float = 600):
    """:func:`run` as ``(proc, verdicts, report)``: purpose id -> (verdict, reason) from
    compliance.json (empty when the run wrote none)."""
    r = run(reports, *args, timeout=timeout)
    return r.proc, r.verdicts, r.report


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def defects_file(tmp: Path, **defects) -> str:
    """A ``--emulator-defects`` file (``behaviour=[...]``, ``drop_final_ok=[...]``, ...)."""
    return str(write_yaml(tmp / "defects.yaml", defects))


def mutated_specs(tmp: Path, model: str, values: dict[str, object]) -> Path:
    """A copy of specs/ in which each named ``flow_chart:`` rule of ``model`` has the
    given value (for ``ATCONFORM_SPECS``)."""
    dst = tmp / "specs"
    shutil.copytree(REPO / "specs", dst)
    path = dst / f"{model}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for rule, value in values.items():
        hits = [r for r in data["flow_chart"] if r["name"] == rule]
        assert len(hits) == 1, rule
        hits[0]["value"] = value
    write_yaml(path, data)
    return dst


def free_udp_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        return s.getsockname()[1]
    finally:
        s.close()


@dataclass
class Emulated:
    pty: str
    proc: subprocess.Popen
    stderr: str = ""


@contextmanager
def emulated_port(model: str, *args: str) -> Iterator[Emulated]:
    """``atconform emulate --model MODEL --pty ARGS`` in another process; yields its pty.
    At exit SIGTERM; the process's return code and stderr are then on the yielded object."""
    proc = subprocess.Popen([sys.executable, "-m", "atconform.cli", "emulate", "--model", model, "--pty", *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    emu = Emulated("", proc)
    _CHILDREN.add(proc)
    try:
        first = proc.stdout.readline().split()
        assert first[:1] == ["PTY"] and first[1].startswith("/dev/pts/"), (first, proc.stderr.read())
        emu.pty = first[1]
        yield emu
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, emu.stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, emu.stderr = proc.communicate()
        _CHILDREN.discard(proc)


def port_run(reports: Path, model: str, *args: str) -> Run:
    """The suite with ``--port`` on the pty of ``atconform emulate --model MODEL`` (real
    time), with a DNS port of its own; the emulator's return code in
    ``extra["emulator_returncode"]``."""
    dns = free_udp_port()
    reports.parent.mkdir(parents=True, exist_ok=True)
    ixit = write_yaml(reports.parent / "ixit.yaml", {"local_dns_port": dns})
    with emulated_port(model, "--dns-port", str(dns)) as emu:
        r = run(reports, "--port", emu.pty, "--model", model, "--ixit", str(ixit), *args, timeout=900)
    r.extra["emulator_returncode"] = emu.proc.returncode
    return r


def verdict_differences(got: dict, default: dict, expected: Callable[[str], tuple[str, str] | None]) -> list:
    """Purposes of ``got`` whose verdict is not the ``default`` run's, or, where
    ``expected(pid)`` gives ``(verdict, words)``, not that verdict with those words."""
    out = []
    for pid, (verdict, reason) in got.items():
        want = expected(pid)
        if want is not None:
            if verdict != want[0] or want[1] not in reason:
                out.append((pid, verdict, reason, "expected", want))
        elif pid not in default or verdict != default[pid][0]:
            out.append((pid, verdict, reason, "default run", default.get(pid)))
    return out


# -- runs started at collection -------------------------------------------------------------
# A run that waits on real time (``--port``) mostly sleeps: started when the tests are
# collected, it overlaps the rest of the session instead of holding it. The test that needs
# it is marked ``@pytest.mark.early(NAME)`` and reads it with :func:`early_result`.
# Under xdist the first worker to claim a run starts it; the results go through files in
# the directory the workers share, so any worker can read them.

_EARLY: dict[str, Callable[[Path], Run]] = {}
_THREADS: list[threading.Thread] = []
_SHARED: list[Path] = []


def early(name: str, job: Callable[[Path], Run]) -> pytest.MarkDecorator:
    """Declare the run ``name`` (``job(dir)`` runs it with its reports under ``dir``); the
    returned mark goes on the tests that read it."""
    _EARLY[name] = job
    return pytest.mark.early(name)


# every family's suites against the built-in emulators, as ``pytest`` alone runs them
DEFAULT_RUN = early("default", lambda out: run(out / "reports", timeout=900))


def port_early(model: str, *args: str) -> pytest.MarkDecorator:
    """The early run of :func:`port_run` for ``model``."""
    return early(f"port-{model}", lambda out: port_run(out / "reports", model, *args))


def _run_job(name: str, out: Path) -> None:
    try:
        r = _EARLY[name](out)
        (out / "proc.json").write_text(json.dumps({"args": r.proc.args, "returncode": r.proc.returncode,
                                                   "stdout": r.proc.stdout, "stderr": r.proc.stderr,
                                                   "reports": str(r.reports), "extra": r.extra}))
    except BaseException:
        (out / "error.txt").write_text(traceback.format_exc())
    finally:
        (out / "done").touch()


def start_early(shared: Path, names: set[str]) -> None:
    """Start the runs ``names`` not yet claimed by another process of this session."""
    _SHARED[:] = [shared]
    for name in sorted(names):
        out = shared / f"early-{name}"
        try:
            out.mkdir(parents=True)          # the claim: one process of the session runs it
        except FileExistsError:
            continue
        t = threading.Thread(target=_run_job, args=(name, out), name=f"early-{name}", daemon=True)
        t.start()
        _THREADS.append(t)


def wait_early(interrupted: bool) -> None:
    """At the session's end: the runs this process started have finished (interrupted:
    their processes stopped first)."""
    if interrupted:
        for proc in list(_CHILDREN):
            proc.kill()
    for t in _THREADS:
        t.join()


def early_result(name: str, timeout: float = 900) -> Run:
    """The run ``name``, waiting for it (the test must carry its ``early`` mark)."""
    assert _SHARED, f"run {name!r} was not started: is the test marked early({name!r})?"
    out = _SHARED[0] / f"early-{name}"
    deadline = time.monotonic() + timeout
    while not (out / "done").exists():
        assert out.exists(), f"run {name!r} was not started"
        assert time.monotonic() < deadline, f"run {name!r} did not finish in {timeout} s"
        time.sleep(0.2)
    if (out / "error.txt").exists():
        raise AssertionError(f"run {name!r} raised:\n" + (out / "error.txt").read_text())
    p = json.loads((out / "proc.json").read_text())
    proc = subprocess.CompletedProcess(p["args"], p["returncode"], p["stdout"], p["stderr"])
    return Run(proc, Path(p["reports"]), p["extra"])


# -- planted defects and spec mutations ------------------------------------------------------

EVERY = ("*",)       # Plant.spills of a defect that fails every test of its table


@dataclass(frozen=True)
class Plant:
    """A planted defect (or spec mutation) and a test that must fail with it."""
    key: str                     # the defect's name in BEHAVIOUR_DEFECTS, or a mutation's name
    node: str                    # the test that must fail (path::name, as results.jsonl has it)
    reason: str                  # words of the fail reason it gives, alone as in a batch
    spills: tuple[str, ...] = ()  # other tests of the table it fails too (measured), or EVERY


def plant_defects(tmp: Path, keys: list[str]) -> tuple[list[str], dict]:
    """The suite's arguments and environment that plant the named behaviour defects."""
    return ["--emulator-defects", defects_file(tmp, behaviour=keys)], {}


@dataclass
class Plants:
    """Planted defects run in batches, each defect still asserted on its own.

    A batch of several keys is one suite run with all of them planted, over *every* test of
    the table: each key's tests must fail with its reason, and every test that no key of the
    batch targets or spills onto must pass, so a key that breaks more than it declares, or
    masks another's verdict, fails the check. Two keys share a batch only when neither's
    tests are among the other's tests or spills (``spills``: the other tests of the table a
    key fails too, measured with it alone over the whole table) and they are not ``apart``
    (measured to change each other's verdicts together); a key that spills onto EVERY test
    runs alone, over its own tests only. ``plant(tmp, keys)`` gives the run's
    extra arguments and environment (default: ``--emulator-defects``)."""
    plants: list[Plant]
    plant: Callable[[Path, list[str]], tuple[list[str], dict]] = plant_defects
    apart: tuple[tuple[str, str], ...] = ()   # pairs of keys that change each other's verdicts (measured)
    _runs: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.by_key: dict[str, list[Plant]] = {}
        for p in self.plants:
            self.by_key.setdefault(p.key, []).append(p)
        self.every = list(dict.fromkeys(p.node for p in self.plants))
        self.batches: list[list[str]] = []
        for k in self.keys():
            if self.spills(k) is EVERY:
                continue
            home = next((b for b in self.batches if not any(self.conflict(k, x) for x in b)), None)
            if home is None:
                self.batches.append(home := [])
            home.append(k)
        self.batches += [[k] for k in self.keys() if self.spills(k) is EVERY]

    def keys(self) -> list[str]:
        return sorted(self.by_key)

    def own(self, key: str) -> set[str]:
        return {p.node for p in self.by_key[key]}

    def spills(self, key: str):
        s = {n for p in self.by_key[key] for n in p.spills}
        return EVERY if "*" in s else s

    def conflict(self, a: str, b: str) -> bool:
        """Whether keys ``a`` and ``b`` cannot share a run."""
        sa, sb = self.spills(a), self.spills(b)
        return (sa is EVERY or sb is EVERY or (a, b) in self.apart or (b, a) in self.apart
                or bool(self.own(a) & (self.own(b) | sb) or self.own(b) & sa))

    def batch_of(self, key: str) -> int:
        return next(i for i, b in enumerate(self.batches) if key in b)

    def nodes(self, i: int | None) -> list[str]:
        """The tests batch ``i`` runs (``None``: every test, nothing planted)."""
        if i is not None and len(self.batches[i]) == 1 and self.spills(self.batches[i][0]) is EVERY:
            return [p.node for p in self.by_key[self.batches[i][0]]]
        return self.every

    def controls(self, i: int) -> set[str]:
        """The tests of batch ``i``'s run that must pass."""
        out = set(self.nodes(i))
        for k in self.batches[i]:
            out -= self.own(k) | (set() if self.spills(k) is EVERY else self.spills(k))
        return out

    def run(self, tmp_path_factory, i: int | None) -> Run:
        """Batch ``i``'s suite run, or with ``None`` every test with nothing planted (once
        per session)."""
        if i not in self._runs:
            tmp = tmp_path_factory.mktemp(f"batch{i}")
            args, env = self.plant(tmp, self.batches[i]) if i is not None else ([], {})
            self._runs[i] = run(tmp / "reports", *self.nodes(i), *args, env=env)
        return self._runs[i]

    def check(self, tmp_path_factory, key: str) -> Run:
        """Assert that ``key`` fails its tests with its reason, and that the tests of its
        batch's run that no key targets or spills onto pass."""
        i = self.batch_of(key)
        r = self.run(tmp_path_factory, i)
        got = r.by_node
        for p in self.by_key[key]:
            g = got.get(p.node)
            assert g is not None, (key, p.node, "not run", r.tail())
            assert g["verdict"] == "fail" and p.reason in g["reason"], \
                (key, p.node, g["verdict"], g["reason"], "expected", p.reason, r.tail(2000))
        assert r.proc.returncode == 1, r.tail()
        not_pass = {n: (got[n]["verdict"], got[n]["reason"]) if n in got else "not run"
                    for n in self.controls(i) if got.get(n, {}).get("verdict") != "pass"}
        assert not not_pass, (f"batch {self.batches[i]}: tests none of its keys targets or spills onto", not_pass)
        return r

    def check_passes_without(self, tmp_path_factory, key: str) -> None:
        """Assert that ``key``'s tests pass in a run without it: a batch whose controls
        they are, else the run with nothing planted."""
        for node in self.own(key):
            i = next((i for i in range(len(self.batches)) if node in self.controls(i)), None)
            g = self.run(tmp_path_factory, i).by_node.get(node, {})
            assert g.get("verdict") == "pass", (key, node, i, g.get("reason"))

    def check_clean(self, tmp_path_factory) -> None:
        """Assert that every test of the table passes with nothing planted."""
        got = self.run(tmp_path_factory, None).by_node
        nodes = self.nodes(None)
        bad = {n: (got.get(n, {}).get("verdict"), got.get(n, {}).get("reason", "")[:300]) for n in nodes
               if got.get(n, {}).get("verdict") != "pass"}
        assert not bad, bad


class Mutations(Plants):
    """Spec mutations as planted defects: ``(rule, value, {test: reason}[, spills])`` changes
    one number of ``model``'s ``flow_chart:`` in a copy of the specs (``ATCONFORM_SPECS``);
    each test (a function of ``suite``) must fail with words of its reason. Keys are
    ``rule=value``; a batch mutates a rule once."""

    def __init__(self, model: str, suite: str, mutations: list[tuple]):
        self.model = model
        self.values = {f"{rule}={value}": (rule, value) for rule, value, *_ in mutations}
        super().__init__([Plant(f"{rule}={value}", f"{suite}::{test}", reason,
                                tuple(f"{suite}::{x}" for x in (more[0] if more else ())))
                          for rule, value, tests, *more in mutations for test, reason in tests.items()],
                         self._mutate)

    def _mutate(self, tmp: Path, keys: list[str]) -> tuple[list[str], dict]:
        specs = mutated_specs(tmp, self.model, dict(self.values[k] for k in keys))
        return [], {"ATCONFORM_SPECS": str(specs)}

    def conflict(self, a: str, b: str) -> bool:
        return self.values[a][0] == self.values[b][0] or super().conflict(a, b)

    def tests(self):
        """The module's three tests, by the names it binds them to: the batches are sound,
        the unmutated spec passes every rule test, each mutation fails its tests
        (parametrized by ``mutation``, ids ``rule=value``)."""
        def test_batches_mutate_a_rule_once():
            for b in self.batches:
                rules = [self.values[k][0] for k in b]
                assert len(rules) == len(set(rules)), b

        def test_unmutated_spec_passes_the_rules(tmp_path_factory):
            self.check_clean(tmp_path_factory)

        @pytest.mark.parametrize("mutation", list(self.values))
        def test_mutated_number_fails_its_rule(tmp_path_factory, mutation):
            self.check(tmp_path_factory, mutation)

        return test_batches_mutate_a_rule_once, test_unmutated_spec_passes_the_rules, test_mutated_number_fails_its_rule
