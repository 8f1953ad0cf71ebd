"""Reports looked at as a person does: Allure 3 and the compliance HTML in headless Chromium.

A run with every kind of verdict (two planted range defects, one of them waived, an ICS
feature declared absent) is rendered by Allure 3 (``atconform allure``, the npm package
installed by ``make allure``); Chromium opens the single-file page and the numbers it
shows (total, passed, failed, broken, skipped) are the compliance report's verdicts as
allure statuses. Both pages are screenshotted. Skipped, with the reason, when Allure 3 or
Chromium is not installed. Also pure: deviation kinds and the allurerc content.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

import suite_run
from atconform.ics import default_ics_text
from atconform.report.allure import AllureNotFound, allure_config, expected_statistic, find_allure
from atconform.report.deviations import DEVIATION_KINDS, deviation_kind
from atconform.spec import load_family

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("ATCONFORM_E2E_INNER"):
    pytest.skip("inside an end-to-end run", allow_module_level=True)


@pytest.mark.parametrize("reason, kind", [
    ("AT+QIOPEN=?: <connectID> reported as (0-12), the manual says (0-11)", "range"),
    ("AT+QIOPEN=1,0,\"TCP\": a malformed line (x) was accepted with OK", "range"),
    ("DCE output monitor: unknown URC '+FOO: 1'", "undeclared URC"),
    ("AT+QIACT=1: no final result code within the maximum response time 150 s (got [])", "missing final result"),
    ("+++ after 0.5 s of silence got OK", "timing"),
    ("AT+QIRD returned b'x', the peer echoed b'y'", "data integrity"),
    ("ATO after +++ got ERROR, expected CONNECT (§1.2 item 5.2)", "wrong result code"),
    ("ICS /x.yaml:3: declares 'X', the module answers 'Y'", "ICS mismatch"),
    ("something odd", "other deviation"),
])
def test_deviation_kinds(reason, kind):
    assert deviation_kind(reason) == kind and kind in DEVIATION_KINDS


def test_allure_config_has_categories_history_and_variables(tmp_path):
    ixit = tmp_path / "lab.yaml"
    ixit.write_text('apn: internet\npassword: "hunter22"\nsim_pin: "1234"\n')
    report = {"families": [{"model": "bg96", "title": "Quectel BG96", "firmware": {"AT+GMR": "BG96MAR02A07M1G"},
                            "ics": {"path": "bg96.ics.yaml", "absent": [{}], "not_stated": []}}],
              "runs": [{"ixit": str(ixit), "mode": "port"}], "counts": {"pass": 3, "fail": 1}}
    cfg = allure_config(report, tmp_path / "out", tmp_path / "h.jsonl")
    assert cfg["plugins"]["awesome"]["options"]["singleFile"] is True
    assert cfg["historyPath"] == str(tmp_path / "h.jsonl") and cfg["appendHistory"] is True
    names = [r["name"] for r in cfg["categories"]["rules"]]
    assert "deviation: range" in names and "deviation: undeclared URC" in names
    v = cfg["variables"]
    assert v["bg96 AT+GMR"] == "BG96MAR02A07M1G" and "1 feature(s) absent" in v["bg96 ICS"]
    assert "hunter22" not in json.dumps(cfg) and "1234" not in v["IXIT"] and '"apn": "internet"' in v["IXIT"]
    assert expected_statistic({"counts": {"pass": 3, "fail": 1, "fail (waived)": 1, "error": 2, "skipped": 1,
                                          "not applicable": 1, "inconclusive": 1}}) == \
        {"total": 10, "passed": 3, "failed": 2, "broken": 2, "skipped": 3}


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def chromium(url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Headless Chromium, offline: no background networking, its own profile."""
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def shown_statistic(dom: str) -> dict[str, int]:
    """The first "Total N ... Passed N ..." statistic a rendered Allure 3 page shows."""
    text = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)
    words = [w.strip() for w in re.sub(r"<[^>]+>", "\n", text).splitlines() if w.strip()]
    start = words.index("Total")
    out = {"total": int(words[start + 1])}
    for label, value in zip(words[start + 2:start + 14], words[start + 3:start + 15]):
        if label in ("Passed", "Failed", "Broken", "Skipped", "Unknown") and value.isdigit():
            out.setdefault(label.lower(), int(value))
    return out


def test_allure_and_compliance_pages_in_chromium_agree(tmp_path):
    try:
        find_allure(root=REPO)
    except AllureNotFound as e:
        pytest.skip(f"{e}")
    if _chromium() is None:
        pytest.skip("no chromium for the headless look")
    defects = tmp_path / "defects.yaml"
    defects.write_text(yaml.safe_dump({"test_ranges": {"+QIOPEN": {"connectID": "(0-12)"},
                                                       "+QICLOSE": {"connectID": "(0-5)"}}}))
    ics = tmp_path / "bg96.ics.yaml"
    ics.write_text(default_ics_text(load_family("bg96")).replace("  +QNWINFO:\n    supported: true",
                                                                 "  +QNWINFO:\n    supported: false"))
    reports, results = tmp_path / "reports", tmp_path / "allure-results"
    proc, _, report = suite_run.run_suite(reports, "--alluredir", str(results), "--clean-alluredir",
                                          "--emulator-defects", str(defects), "--ics", str(ics),
                                          "--waivers", str(REPO / "examples" / "waivers_bg96.yaml"),
                                          "suites/bg96/test_generated.py", "suites/queclink_gv500/test_generated.py")
    assert proc.returncode == 1, proc.stdout[-2000:]
    c = report["counts"]
    assert c["fail"] == 1 and c["fail (waived)"] == 1 and c["not applicable"] == 2 and c["pass"] > 500
    out = tmp_path / "allure"
    r = subprocess.run([sys.executable, "-m", "atconform", "allure", "--results", str(results),
                        "--report", str(reports / "compliance.json"), "--out", str(out),
                        "--history", str(tmp_path / "history.jsonl")], cwd=REPO, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    index = out / "index.html"
    assert index.is_file() and not (out / "data").exists()     # one self-contained file
    dom = chromium(index.as_uri(), "--virtual-time-budget=20000", "--dump-dom").stdout
    shown = shown_statistic(dom)
    want = expected_statistic(report)
    assert shown == {k: n for k, n in want.items() if n}, (shown, want)
    assert "BG96MAR02A07M1G" in dom and "bg96 ICS" in dom                 # report variables
    categories = chromium(index.as_uri() + "#categories", "--virtual-time-budget=20000", "--dump-dom").stdout
    assert "deviation: range" in categories                                  # deviation kinds
    # the history file grows by one run per report: the trend's source
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
    for page, png in ((index, tmp_path / "allure.png"), (reports / "compliance.html", tmp_path / "compliance.png")):
        chromium(page.as_uri(), "--virtual-time-budget=10000", f"--screenshot={png}", "--window-size=1400,2000")
        assert png.is_file() and png.stat().st_size > 20_000
    html = (reports / "compliance.html").read_text()
    assert f'<div class="n">{c["pass"]}</div><div class="l">pass</div>' in html
