"""Turning result records into the compliance report dictionary.

Report shape (schema ``atconform.compliance/1``; every value is JSON-serialisable)::

    {
      "schema": "atconform.compliance/2",
      "complete": bool,            # False if the run was interrupted (see run_complete)
      "runs": [meta, ...],         # the meta records in file order, without "type"
      "ends": [end, ...],          # the end records in file order, without "type"
      "skipped_lines": int,        # malformed lines skipped while loading
      "families": [
        {
          "model": "bg96",
          "title": "Quectel BG96",           # meta "family_title", else the model
          "firmware": {"ATI": "...", "AT+GMR": "..."},  # last firmware identity, or {}
          "counts": {verdict: n, ...},
          "total": n,
          "commands": [
            {
              "command": "+QIOPEN",
              "section": "2.1.4",             # lowest section among its purposes
              "counts": {verdict: n, ...},
              "total": n,
              "purposes": [
                {"purpose", "title", "form", "verdict", "reason", "duration",
                 "section", "source", "nodeid", "emulator_only", "finished",
                 "runs", "trace"},             # runs: times recorded; trace: decision trace text or ""
                ...
              ],
            }, ...
          ],
        }, ...
      ],
      "counts": {verdict: n, ...},   # over all families
      "total": n,                    # number of distinct purposes reported
      "generated": "2026-11-21T05:03:00Z",
    }

Every ``counts`` dict lists the known verdicts (:data:`VERDICTS`, in that order, zeros
included: the six of the verdicts contract and ``fail (waived)``), then any unknown
verdict strings met in the records.

Schema 2 adds (all optional for readers of schema 1):

* per purpose: ``kind``, ``severity`` (critical/normal/minor, from the kind), for a
  fail ``deviation`` (:func:`~atconform.report.deviations.deviation_kind`),
  ``transcript`` (path of the purpose's AT transcript, relative to the report), and for a
  waived failure ``raw_verdict: "fail"`` and ``waiver`` (see :mod:`atconform.waivers`);
* per family: ``ics`` (the ICS summary the run recorded, or None);
* top level: ``waivers`` (each waiver with its status), ``waiver_files``.

Command names are the spec's as a user writes them (``AT+QIOPEN``, ``AT@BSS2``): a test
file that names ``+QIOPEN`` and one that names ``AT+QIOPEN`` share one command entry, with
the spec's section.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from atconform.waivers import WAIVED, apply_waivers, waiver_status_counts

from .deviations import deviation_kind

__all__ = [
    "SCHEMA",
    "SCHEMAS",
    "VERDICTS",
    "build_report",
    "canonical_command",
    "recount",
    "run_complete",
    "section_key",
    "utc_now_iso",
]

SCHEMA = "atconform.compliance/2"
#: Report schemas this code reads (``--diff`` of an older report).
SCHEMAS = ("atconform.compliance/1", SCHEMA)

#: The verdicts of the report, in report order: a result record's six, and a failure a
#: waiver covers (:data:`atconform.waivers.WAIVED`), which never counts as pass.
VERDICTS: tuple[str, ...] = ("pass", "fail", WAIVED, "inconclusive", "error", "not applicable", "skipped")

#: Severity of a purpose by its kind (the allure severity the plugin sets).
SEVERITY_OF_KIND = {"write-ok": "critical", "scenario": "critical", "ics-review": "critical",
                    "flowchart": "critical", "timing": "critical", "integrity": "critical",
                    "test-response": "minor"}

UNKNOWN_FAMILY = "unknown"
NO_COMMAND = "(no command)"


def utc_now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def section_key(section: str | None) -> tuple:
    """Sort key for manual section numbers: ``"2.1.10"`` after ``"2.1.9"``; empty last."""
    if not section:
        return (1, ())
    parts = re.split(r"(\d+)", section)
    return (0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p))


def _zero_counts() -> dict[str, int]:
    return {v: 0 for v in VERDICTS}


def _count(counts: dict[str, int], verdict: str) -> None:
    counts[verdict] = counts.get(verdict, 0) + 1


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def canonical_command(model: str, command: str) -> tuple[str, str]:
    """``(name, section)`` of a result's command as the family's spec names it
    (``+QIOPEN`` -> ``("AT+QIOPEN", "2.1.4")``); unknown to the spec: the name with
    ``AT`` before a ``+&@%$^*#`` prefix, and section ``""``."""
    return _canonical(model, command)


@functools.lru_cache(maxsize=4096)
def _canonical(model: str, command: str) -> tuple[str, str]:
    if command and command != NO_COMMAND and model and model != UNKNOWN_FAMILY:
        try:
            from atconform.ics import resolve_command
            from atconform.spec import load_family
            fam = load_family(model)
            cmd = resolve_command(fam, command)
            if cmd is not None:
                name = cmd.at_name if fam.framing.style == "v250" else fam.framing.prefix + cmd.name
                return name, cmd.source.section
        except Exception:   # no spec for this model here: the record's own name
            pass
    if command[:1] in set("+&@%$^*#"):
        return "AT" + command, ""
    return command, ""


def run_complete(records: Iterable[Mapping[str, Any]]) -> bool:
    """Whether every run in ``records`` wrote its ``end`` record.

    * No ``end`` record at all: incomplete.
    * ``end`` records carrying a ``run_id`` close the run with that id; each ``end``
      without a ``run_id`` closes one otherwise unclosed run. The session is complete
      when no distinct meta ``run_id`` is left unclosed. So one session with one meta
      per family (same ``run_id``) and a single ``end`` is complete, while two worker
      processes with distinct run ids and only one ``end`` are not.
    """
    run_ids: list[str] = []
    closed: set[str] = set()
    anonymous_ends = 0
    any_end = False
    for rec in records:
        kind = rec.get("type")
        if kind == "meta":
            rid = _str(rec.get("run_id"))
            if rid not in run_ids:
                run_ids.append(rid)
        elif kind == "end":
            any_end = True
            rid = rec.get("run_id")
            if isinstance(rid, str) and rid:
                closed.add(rid)
            else:
                anonymous_ends += 1
    if not any_end:
        return False
    unclosed = [rid for rid in run_ids if rid not in closed]
    return len(unclosed) <= anonymous_ends


def build_report(
    records: Iterable[Mapping[str, Any]],
    *,
    skipped_lines: int = 0,
    generated: str | None = None,
    waivers: Iterable[Mapping[str, Any]] | None = None,
    today: str | None = None,
) -> dict[str, Any]:
    """Build the compliance report (shape in the module docstring) from loaded records.

    ``records`` are dicts as returned by :func:`~atconform.report.load_records`, in
    file order. Families appear in order of first mention (meta ``model``, firmware
    ``model`` or result ``family``; a result without one goes to ``"unknown"``).
    Commands are sorted by section (numerically, ``2.1.10`` after ``2.1.9``; no section
    last) then by name. Purposes keep the order they first ran; when a purpose
    (same family) is recorded again, e.g. a re-run, the last record wins, keeps the
    first one's place, and its ``runs`` field counts the records. Result records are
    keyed by ``purpose``, or ``nodeid`` when ``purpose`` is empty.

    ``waivers``: waiver files (``{"path", "firmware", "waivers": [...]}``) to apply
    instead of the ``waivers`` records of the run; ``today`` (``YYYY-MM-DD``) the day
    expiry is judged on (default: the generation day, UTC).

    ``skipped_lines`` is copied to the report (the ``bad`` count of ``load_records``).
    ``generated`` overrides the generation timestamp (default: now, UTC).
    Unknown record types are ignored; missing optional fields become ``""``/``None``.
    Never raises for odd field values.
    """
    records = list(records)
    runs: list[dict[str, Any]] = []
    ends: list[dict[str, Any]] = []
    family_order: list[str] = []
    titles: dict[str, str] = {}
    firmware: dict[str, dict[str, Any]] = {}
    ics: dict[str, dict[str, Any]] = {}
    waiver_files: list[dict[str, Any]] = []
    # (family, purpose key) -> purpose dict, insertion order = first run order
    results: dict[tuple[str, str], dict[str, Any]] = {}
    result_meta: dict[tuple[str, str], tuple[str, str]] = {}  # key -> (command, spec section)

    def note_family(model: str) -> None:
        if model not in family_order:
            family_order.append(model)

    for rec in records:
        kind = rec.get("type")
        if kind == "meta":
            runs.append({k: v for k, v in rec.items() if k != "type"})
            model = _str(rec.get("model"))
            if model:
                note_family(model)
                if rec.get("family_title"):
                    titles[model] = _str(rec["family_title"])
        elif kind == "firmware":
            model = _str(rec.get("model")) or UNKNOWN_FAMILY
            note_family(model)
            ident = rec.get("identity")
            if isinstance(ident, Mapping):
                firmware[model] = {_str(k): _str(v) for k, v in ident.items()}
        elif kind == "ics":
            model = _str(rec.get("model"))
            if model:
                ics[model] = {k: v for k, v in rec.items() if k not in ("type", "run_id")}
        elif kind == "waivers":
            if isinstance(rec.get("waivers"), list):
                waiver_files.append({k: v for k, v in rec.items() if k != "type"})
        elif kind == "end":
            ends.append({k: v for k, v in rec.items() if k != "type"})
        elif kind == "result":
            model = _str(rec.get("family")) or UNKNOWN_FAMILY
            note_family(model)
            name = _str(rec.get("purpose")) or _str(rec.get("nodeid"))
            key = (model, name)
            previous = results.get(key)
            pkind = _str(rec.get("kind"))
            results[key] = {
                "purpose": name,
                "title": _str(rec.get("title")),
                "form": _str(rec.get("form")),
                "verdict": _str(rec.get("verdict")),
                "reason": _str(rec.get("reason")),
                "duration": _as_float(rec.get("duration")),
                "section": _str(rec.get("section")),
                "source": _str(rec.get("source")),
                "nodeid": _str(rec.get("nodeid")),
                "emulator_only": bool(rec.get("emulator_only", False)),
                "finished": _str(rec.get("finished")),
                "runs": (previous["runs"] + 1) if previous else 1,
                "trace": _str(rec.get("trace")),   # a policy's decision trace, when the test ran one
                "kind": pkind,
                "severity": _str(rec.get("severity")) or SEVERITY_OF_KIND.get(pkind, "normal"),
                "transcript": _str(rec.get("transcript")),
            }
            result_meta[key] = _canonical(model, _str(rec.get("command")) or NO_COMMAND)

    families: list[dict[str, Any]] = []
    for model in family_order:
        by_command: dict[str, list[dict[str, Any]]] = {}
        spec_section: dict[str, str] = {}
        for (fam, _), purpose in results.items():
            if fam == model:
                command, section = result_meta[(fam, purpose["purpose"])]
                by_command.setdefault(command, []).append(purpose)
                if section:
                    spec_section[command] = section
        commands = []
        for command, purposes in by_command.items():
            sections = [p["section"] for p in purposes if p["section"]]
            section = spec_section.get(command) or (min(sections, key=section_key) if sections else "")
            commands.append({"command": command, "section": section, "counts": {}, "total": len(purposes),
                             "purposes": purposes})
        commands.sort(key=lambda c: (section_key(c["section"]), c["command"]))
        families.append(
            {
                "model": model,
                "title": titles.get(model, model),
                "firmware": firmware.get(model, {}),
                "ics": ics.get(model),
                "counts": {},
                "total": sum(c["total"] for c in commands),
                "commands": commands,
            }
        )

    report: dict[str, Any] = {
        "schema": SCHEMA,
        "complete": run_complete(records),
        "runs": runs,
        "ends": ends,
        "skipped_lines": int(skipped_lines),
        "families": families,
        "counts": {},
        "total": len(results),
        "generated": generated or utc_now_iso(),
    }
    files = list(waivers) if waivers is not None else waiver_files
    report["waiver_files"] = [{k: v for k, v in f.items() if k != "waivers"} for f in files]
    report["waivers"] = apply_waivers(report, files, today or report["generated"][:10])
    report["waiver_counts"] = waiver_status_counts(report["waivers"])
    for fam in families:
        for cmd in fam["commands"]:
            for p in cmd["purposes"]:
                if p["verdict"] in ("fail", WAIVED):
                    p["deviation"] = deviation_kind(p["reason"])
    recount(report)
    return report


def recount(report: dict[str, Any]) -> dict[str, Any]:
    """Set every ``counts`` of a report (command, family, total) from its purposes'
    verdicts, in place; returns the report."""
    total = _zero_counts()
    for fam in report.get("families", []):
        fam_counts = _zero_counts()
        for cmd in fam.get("commands", []):
            counts = _zero_counts()
            for p in cmd.get("purposes", []):
                for c in (counts, fam_counts, total):
                    _count(c, p.get("verdict", ""))
            cmd["counts"] = counts
        fam["counts"] = fam_counts
    report["counts"] = total
    return report
