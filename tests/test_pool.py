"""A modem pool on one host (issue 14 §1, ``--pool``): three emulators of two families, one
xdist worker each, give per modem the same purposes and verdicts as a separate run of
that modem's family; a report per modem and the pool summary; a bad pool file is one line
and exit 2. A planted defect (the workers' records never reach the controller) fails the
comparison."""
from __future__ import annotations

import importlib.util
import json
import os

import pytest

from suite_run import run_suite

SELECTION = ("-k", "QIACT or BSS2")
POOL = """\
modems:
  - name: bg96-a
    model: bg96
  - name: bg96-b
    model: bg96
    power: {off: "true", on: "true"}
  - name: gv500
    model: queclink_gv500
"""
DROP_MERGE = '''
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report):
    if hasattr(report, "atconform_records"):
        del report.atconform_records
'''


def _need_xdist() -> None:
    if importlib.util.find_spec("xdist") is None:
        msg = "pytest-xdist is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(msg + ": CI must run the pool self-test")
        pytest.skip(msg)


def verdicts(report: dict) -> dict[str, str]:
    return {p["purpose"]: p["verdict"] for f in report.get("families", []) for c in f["commands"]
            for p in c["purposes"]}


def problems(separate: dict[str, dict], reports, pool_models: dict[str, str]) -> list[str]:
    """How each modem's report differs from its family's separate run."""
    out = []
    workers = {}
    for name, model in pool_models.items():
        path = reports / name / "compliance.json"
        if not path.exists():
            out.append(f"{name}: no report")
            continue
        rep = json.loads(path.read_text())
        if not rep.get("complete"):
            out.append(f"{name}: report not complete")
        want, got = verdicts(separate[model]), verdicts(rep)
        if want != got:
            out.append(f"{name}: {len(set(want) ^ set(got))} purposes not in both, "
                       f"{sum(want[k] != got[k] for k in set(want) & set(got))} verdicts differ")
        models = {f["model"] for f in rep.get("families", [])}
        if models != {model}:
            out.append(f"{name}: families {sorted(models)}, not [{model}]")
        workers[name] = {r.get("worker") for r in rep.get("runs", [])}
    owners = [w for ws in workers.values() for w in ws]
    if len(owners) != len(set(owners)):
        out.append(f"a worker served two modems: {workers}")
    return out


@pytest.fixture(scope="module")
def separate(tmp_path_factory) -> dict[str, dict]:
    out = {}
    for model in ("bg96", "queclink_gv500"):
        proc, _, report = run_suite(tmp_path_factory.mktemp(model), "--model", model, *SELECTION)
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert report["complete"] and report["total"] > 5
        out[model] = report
    return out


def test_pool_of_three_emulators(separate, tmp_path):
    _need_xdist()
    (tmp_path / "pool.yaml").write_text(POOL)
    proc, _, _ = run_suite(tmp_path / "reports", "--pool", str(tmp_path / "pool.yaml"), *SELECTION)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    models = {"bg96-a": "bg96", "bg96-b": "bg96", "gv500": "queclink_gv500"}
    assert problems(separate, tmp_path / "reports", models) == []
    summary = json.loads((tmp_path / "reports" / "pool.json").read_text())
    assert summary["complete"] and [m["name"] for m in summary["modems"]] == list(models)
    assert all(m["total"] == len(verdicts(separate[models[m["name"]]])) for m in summary["modems"])
    page = (tmp_path / "reports" / "pool.html").read_text()
    assert 'href="bg96-a/compliance.html"' in page and "gv500" in page
    # each modem's transcripts are beside its report
    rep = json.loads((tmp_path / "reports" / "gv500" / "compliance.json").read_text())
    linked = [p["transcript"] for f in rep["families"] for c in f["commands"] for p in c["purposes"] if p.get("transcript")]
    assert linked and all((tmp_path / "reports" / "gv500" / t).is_file() for t in linked)


def test_planted_dropped_merge_is_caught(separate, tmp_path, monkeypatch):
    _need_xdist()
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "drop_merge.py").write_text(DROP_MERGE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path / "plugins"),
                                                                 os.environ.get("PYTHONPATH")])))
    (tmp_path / "pool.yaml").write_text(POOL)
    proc, _, _ = run_suite(tmp_path / "reports", "-p", "drop_merge", "--pool", str(tmp_path / "pool.yaml"), *SELECTION)
    found = problems(separate, tmp_path / "reports", {"bg96-a": "bg96", "gv500": "queclink_gv500"})
    assert any("purposes not in both" in p for p in found), found


@pytest.mark.parametrize("text, args, says", [
    ("modems: []\n", (), "modems"),
    ("modems:\n  - {name: a, model: nosuch}\n", (), "unknown model"),
    ("modems:\n  - {name: a, model: bg96}\n  - {name: a, model: bg96}\n", (), "unique"),
    ("modems:\n  - {name: a, model: bg96}\n", ("-n", "3"), "one worker each"),
])
def test_bad_pool_is_one_line_and_exit_2(tmp_path, text, args, says):
    _need_xdist()
    (tmp_path / "pool.yaml").write_text(text)
    proc, _, _ = run_suite(tmp_path / "reports", "--pool", str(tmp_path / "pool.yaml"), *args)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert says in proc.stdout + proc.stderr


def test_each_modem_is_gated_on_its_own_report(tmp_path):
    """A pool modem's ``gate:`` is judged on that modem's report alone: the modem whose
    gate asks for more purposes than it ran breaks the run (exit 1, the breach names it),
    the other's passes, and the pool summary shows both."""
    _need_xdist()
    easy, hard = tmp_path / "easy.yaml", tmp_path / "hard.yaml"
    easy.write_text("rules: {min_purposes_run: 1}\n")
    hard.write_text("rules: {min_purposes_run: 100000}\n")
    pool = tmp_path / "pool.yaml"
    pool.write_text(f"modems:\n  - {{name: a, model: bg96, gate: {easy}}}\n  - {{name: b, model: bg96, gate: {hard}}}\n")
    proc, _, _ = run_suite(tmp_path / "reports", "--pool", str(pool), *SELECTION)
    assert proc.returncode == 1, proc.stdout[-3000:]
    breaches = [line for line in proc.stdout.splitlines() if "min_purposes_run" in line]
    assert breaches and all(line.startswith("b: ") for line in breaches), proc.stdout[-3000:]
    summary = json.loads((tmp_path / "reports" / "pool.json").read_text())
    assert {r["name"]: r.get("gate") for r in summary["modems"]} == {"a": "passed", "b": "FAILED (1)"}
