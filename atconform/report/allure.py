"""Allure 3 rendering of ``allure-results/``: one self-contained HTML file.

Allure 3 is the ``allure`` package of the npm registry (a Node.js CLI). ``make allure``
installs it under ``.allure/`` when npm is present; ``atconform allure`` then writes an
``allurerc.json`` and runs ``allure generate``:

* the awesome report as a single file (``singleFile``), grouped family > command > form
  (the epic/feature/story labels the pytest plugin sets);
* categories by deviation kind (the ``deviation`` label of each fail:
  :mod:`atconform.report.deviations`), and the error verdict (allure "broken");
* history and trend across runs in a JSON-lines history file kept between runs;
* report variables: firmware identity per family, the ICS of each family, the IXIT
  without its secrets;
* links to the manual sections, AT transcripts and decision traces as attachments (set
  by the pytest plugin on each result).

Verdicts map to allure statuses: pass -> passed, fail and fail (waived) -> failed, error
-> broken, inconclusive, not applicable and skipped -> skipped.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .deviations import DEVIATION_KINDS

__all__ = ["ALLURE_STATUS", "AllureNotFound", "allure_config", "expected_statistic", "find_allure", "generate"]

#: The allure status each report verdict becomes.
ALLURE_STATUS = {"pass": "passed", "fail": "failed", "fail (waived)": "failed", "error": "broken",
                 "inconclusive": "skipped", "not applicable": "skipped", "skipped": "skipped"}
LOCAL_INSTALL = Path(".allure") / "node_modules" / ".bin" / "allure"
INSTALL_HINT = "npm install --prefix .allure allure@3 (or: make allure)"


class AllureNotFound(LookupError):
    """No Allure 3 command line: not installed, or only Allure 2."""


def _major(cmd: str) -> int | None:
    try:
        out = subprocess.run([cmd, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    digits = out.strip().split(".")[0].split()[-1] if out.strip() else ""
    return int(digits) if digits.isdigit() else None


def find_allure(explicit: str | None = None, root: str | os.PathLike[str] | None = None) -> str:
    """The Allure 3 command: ``explicit``, else ``$ATCONFORM_ALLURE``, else
    ``<root>/.allure/node_modules/.bin/allure`` (root: the working directory), else an
    ``allure`` on PATH whose ``--version`` is 3.x. Raises :class:`AllureNotFound`."""
    candidates = [explicit, os.environ.get("ATCONFORM_ALLURE"), str(Path(root or Path.cwd()) / LOCAL_INSTALL),
                  shutil.which("allure")]
    for c in candidates:
        if c and Path(c).exists() and _major(c) == 3:
            return c
    raise AllureNotFound(f"no Allure 3 command line found; install it with: {INSTALL_HINT}")


def _ixit_without_secrets(path: str) -> str:
    from atconform.ixit import Ixit
    try:
        ixit = Ixit.load(path)
    except Exception:
        return f"{path} (unreadable)"
    data = json.loads(ixit.model_dump_json())    # SecretStr dumps as "**********"
    return json.dumps(data, separators=(", ", ": "), sort_keys=True)


def _variables(report: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for fam in report.get("families", []) or []:
        model = fam.get("model", "")
        for key, value in (fam.get("firmware") or {}).items():
            out[f"{model} {key}"] = " ".join(str(value).split())
        ics = fam.get("ics")
        if ics:
            out[f"{model} ICS"] = (f"{ics.get('path')}: {len(ics.get('absent') or [])} feature(s) absent or narrowed"
                                   + (f", {len(ics.get('not_stated'))} not stated (incomplete)" if ics.get("not_stated") else ""))
        else:
            out[f"{model} ICS"] = "spec default (no --ics)"
    for run in (report.get("runs") or [])[:1]:
        ixit = run.get("ixit")
        if isinstance(ixit, str) and Path(ixit).is_file():
            out["IXIT"] = _ixit_without_secrets(ixit)
        elif ixit:
            out["IXIT"] = str(ixit)
        out["mode"] = str(run.get("mode", ""))
        out["atconform"] = str(run.get("atconform_version", ""))
    counts = report.get("counts") or {}
    out["compliance verdicts"] = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    return out


def allure_config(report: Mapping[str, Any], output: str | os.PathLike[str],
                  history: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The ``allurerc.json`` content for a compliance ``report`` (the dict of
    ``build_report``): single-file awesome report in ``output``, history in ``history``
    (None: no history), categories by deviation kind, report variables."""
    titles = " · ".join(f.get("title", f.get("model", "")) for f in report.get("families", []) or [])
    name = f"atconform: {titles}" if titles else "atconform"
    rules = [{"name": f"deviation: {kind}", "matchers": {"labels": {"deviation": kind}}} for kind in DEVIATION_KINDS]
    rules.append({"name": "harness error (verdict error)", "matchers": {"statuses": ["broken"]}})
    config: dict[str, Any] = {
        "name": name,
        "output": str(output),
        "plugins": {"awesome": {"options": {"singleFile": True, "reportName": name,
                                            "groupBy": ["epic", "feature", "story"]}}},
        "categories": {"rules": rules},
        "variables": _variables(report),
    }
    if history is not None:
        config["historyPath"] = str(history)
        config["appendHistory"] = True
    return config


def expected_statistic(report: Mapping[str, Any]) -> dict[str, int]:
    """The allure statistic a compliance report's verdicts should give: ``total`` and
    each status of :data:`ALLURE_STATUS`."""
    out = {"total": 0, "passed": 0, "failed": 0, "broken": 0, "skipped": 0}
    for verdict, n in (report.get("counts") or {}).items():
        status = ALLURE_STATUS.get(verdict, "unknown")
        out[status] = out.get(status, 0) + n
        out["total"] += n
    return out


def generate(results: str | os.PathLike[str], report: Mapping[str, Any], output: str | os.PathLike[str], *,
             history: str | os.PathLike[str] | None = None, allure: str | None = None,
             timeout: float = 600) -> Path:
    """Render ``results`` (an allure-results folder) with Allure 3 into ``output``
    (created; its ``allurerc.json`` written there). Returns the single HTML file.
    Raises :class:`AllureNotFound`, ``FileNotFoundError`` (no results folder) or
    ``RuntimeError`` (allure failed: its last output line)."""
    cmd = find_allure(allure)
    results = Path(results)
    if not results.is_dir():
        raise FileNotFoundError(f"{results}: no allure results folder (run pytest first)")
    out = Path(output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = out / "allurerc.json"
    hist = Path(history).resolve() if history is not None else None
    config.write_text(json.dumps(allure_config(report, out, hist), indent=2, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    proc = subprocess.run([cmd, "generate", "--config", str(config), str(results.resolve())],
                          capture_output=True, text=True, timeout=timeout)
    index = out / "index.html"
    if proc.returncode != 0 or not index.is_file():
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise RuntimeError(f"allure generate exited {proc.returncode}: {last}")
    return index
