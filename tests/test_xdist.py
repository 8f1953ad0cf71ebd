"""The default run under pytest-xdist (issue 14 §1, fixtures/parallel.py): ``-n 2`` gives the
same verdicts and the same purposes in one complete compliance report as the run without
xdist, each family on one worker. Planted defects (the workers' records never reach the
controller; families split across workers by ``--dist load``) make the comparison fail.
"""
from __future__ import annotations

import importlib.util
import os
from collections import defaultdict

import pytest

from suite_run import run_suite

SELECTION = ("-k", "QIACT or BSS2")     # BG96 and GV500 purposes (and one Quectel GSM purpose)

# a plugin that drops the merge: the records the workers send ride on nothing
DROP_MERGE = '''
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report):
    if hasattr(report, "atconform_records"):
        del report.atconform_records
'''

# a plugin that kills the worker running one BG96 purpose, mid-run
CRASH_WORKER = '''
import os
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    if hasattr(item.config, "workerinput") and "BG96/QIACT/READ/response" in item.nodeid:
        os._exit(3)
'''


def _plugin(tmp_path, monkeypatch, name: str, text: str) -> None:
    (tmp_path / "plugins").mkdir(exist_ok=True)
    (tmp_path / "plugins" / f"{name}.py").write_text(text)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path / "plugins"),
                                                                 os.environ.get("PYTHONPATH")])))


def _need_xdist() -> None:
    if importlib.util.find_spec("xdist") is None:
        msg = "pytest-xdist is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(msg + ": CI must run the xdist self-test")
        pytest.skip(msg)


def purposes(report: dict) -> dict[str, tuple[str, str, str]]:
    """purpose id -> (family, verdict, nodeid) of a compliance report."""
    return {p["purpose"]: (fam["model"], p["verdict"], p["nodeid"]) for fam in report.get("families", [])
            for c in fam["commands"] for p in c["purposes"]}


def problems(serial: dict, parallel: dict, *, workers: int) -> list[str]:
    """How the ``-n`` run's report differs from the run without xdist (empty: the same)."""
    out = []
    if not parallel.get("complete"):
        out.append("the -n report is not complete")
    a, b = purposes(serial), purposes(parallel)
    if not a:
        out.append("the run without xdist reported no purpose")
    for pid in sorted(a.keys() - b.keys())[:5]:
        out.append(f"missing under -n: {pid}")
    for pid in sorted(b.keys() - a.keys())[:5]:
        out.append(f"only under -n: {pid}")
    for pid in sorted(a.keys() & b.keys()):
        if a[pid] != b[pid]:
            out.append(f"{pid}: {a[pid]} without xdist, {b[pid]} under -n")
    if parallel.get("total") != serial.get("total"):
        out.append(f"total {serial.get('total')} without xdist, {parallel.get('total')} under -n")
    on: dict[str, set] = defaultdict(set)
    for meta in parallel.get("runs", []):
        on[meta.get("model")].add(meta.get("worker"))
    for model, ws in sorted(on.items()):
        if len(ws) != 1 or None in ws:
            out.append(f"family {model} ran on workers {sorted(map(str, ws))}, not on one")
    used = set().union(*on.values()) if on else set()
    if len(used) > workers:
        out.append(f"{len(used)} workers recorded, -n {workers}")
    ends = {e.get("run_id") for e in parallel.get("ends", [])}
    for meta in parallel.get("runs", []):
        if meta.get("run_id") not in ends:
            out.append(f"worker {meta.get('worker')}'s run {meta.get('run_id')} has no end record")
    return out


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    proc, _, report = run_suite(tmp_path_factory.mktemp("serial"), *SELECTION)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert report.get("complete") and report.get("total", 0) > 10, report.get("total")
    return report


def test_n2_same_verdicts_and_purposes(serial, tmp_path):
    _need_xdist()
    proc, _, report = run_suite(tmp_path, "-n", "2", *SELECTION)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert problems(serial, report, workers=2) == []
    workers = {m["worker"] for m in report["runs"]}
    assert workers == {"gw0", "gw1"}, workers       # both workers did work
    assert "compliance report" in proc.stdout       # the controller wrote it
    # transcripts the workers wrote are where the merged report links them
    linked = [p["transcript"] for f in report["families"] for c in f["commands"] for p in c["purposes"]
              if p.get("transcript")]
    assert linked and all((tmp_path / t).is_file() for t in linked)


def test_planted_dropped_merge_is_caught(serial, tmp_path, monkeypatch):
    _need_xdist()
    _plugin(tmp_path, monkeypatch, "drop_merge", DROP_MERGE)
    proc, _, report = run_suite(tmp_path / "reports", "-p", "drop_merge", "-n", "2", *SELECTION)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]    # the tests themselves pass
    found = problems(serial, report, workers=2)
    assert any(p.startswith("missing under -n") for p in found), found


def test_crashed_worker_leaves_the_report_incomplete(serial, tmp_path, monkeypatch):
    _need_xdist()
    _plugin(tmp_path, monkeypatch, "crash_worker", CRASH_WORKER)
    proc, _, report = run_suite(tmp_path / "reports", "-p", "crash_worker", "-n", "2", *SELECTION)
    assert proc.returncode != 0
    assert report and report["complete"] is False, report.get("ends")
    assert any("no end record" in p for p in problems(serial, report, workers=2))


def test_planted_family_split_is_caught(serial, tmp_path):
    _need_xdist()
    proc, _, report = run_suite(tmp_path, "-n", "2", "--dist", "load", *SELECTION)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = problems(serial, report, workers=2)
    assert any("not on one" in p for p in found), found


def test_family_scope():
    from suite_run import REPO
    spec = importlib.util.spec_from_file_location("atconform_parallel", REPO / "fixtures" / "parallel.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    family_scope = mod.family_scope
    assert family_scope("suites/bg96/test_generated.py::test_purpose[BG96/QIACT/TEST/response]") == "bg96"
    assert family_scope("suites/queclink_gv500/test_scenarios.py::T::test_x") == "queclink_gv500"
    assert family_scope("suites/test_static_review.py::test_review[x]") is None


def test_port_with_dist_load_is_refused(tmp_path):
    _need_xdist()
    proc, _, _ = run_suite(tmp_path, "-n", "2", "--dist", "load", "--port", "/dev/null", "--model", "bg96")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "one worker owns the modem" in proc.stdout + proc.stderr
