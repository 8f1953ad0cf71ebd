"""Waivers: known deviations a lab accepts for a while, with a ticket and an expiry date.

One YAML file per firmware::

    firmware: BG96MAR02A07M1G      # free text, shown in the report
    waivers:
      - purpose: BG96/QIACT/WRITE/*       # a test purpose id, or a glob (fnmatch: * ? [..])
        reason: QIACT on an already active context answers ERROR
        ticket: FW-1234
        expires: 2027-03-31              # the last day it applies (a date)
        observed: "got ERROR"            # optional: text today's failure reason must contain

Effect on the compliance report (:func:`apply_waivers`): a purpose whose verdict is
``fail`` and that a waiver covers becomes ``fail (waived)``: never pass, counted in its
own column, the waiver shown beside it. A waiver covers a failure when its ``purpose``
matches the id, it has not expired (``expires`` is on or after the report's day) and,
when it gives ``observed``, the failure's reason contains that text (whitespace folded).
Every waiver gets a status in the report: ``applied``, ``expired`` (no longer applies),
``stale`` (the purposes it names now pass), ``observed differs`` (today's failure is
another one), ``not exercised`` (its purposes did not run to a verdict) or ``unmatched``
(no purpose of the run has that id).
"""
from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from atconform.errors import load_yaml_model

__all__ = ["WAIVED", "Waiver", "WaiverFile", "apply_waivers", "load_waivers", "waiver_status_counts"]

#: The report verdict of a failure a waiver covers.
WAIVED = "fail (waived)"
STATUSES = ("applied", "expired", "stale", "observed differs", "not exercised", "unmatched")


class Waiver(BaseModel):
    """One accepted deviation. ``expires``: the last day it applies."""

    model_config = ConfigDict(extra="forbid")
    purpose: str
    reason: str
    ticket: str
    expires: dt.date
    observed: str | None = None

    @field_validator("purpose", "reason", "ticket")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    def matches(self, purpose: str) -> bool:
        return purpose == self.purpose or fnmatch.fnmatchcase(purpose, self.purpose)

    def observed_in(self, reason: str) -> bool:
        if self.observed is None:
            return True
        return " ".join(self.observed.split()) in " ".join(str(reason).split())


class WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    firmware: str | None = None
    waivers: list[Waiver] = Field(default_factory=list)


def load_waivers(path: str | Path) -> WaiverFile:
    """Read and validate a waivers file. Raises :class:`~atconform.errors.BadInput`
    (``<file>: waivers[2].expires: <reason>``)."""
    return load_yaml_model(path, WaiverFile)


def as_records(path: str | Path, wf: WaiverFile) -> dict[str, Any]:
    """The ``waivers`` record the pytest plugin writes to results.jsonl (JSON-able)."""
    return {"type": "waivers", "path": str(path), "firmware": wf.firmware,
            "waivers": [w.model_dump(mode="json") for w in wf.waivers]}


def _today(today: dt.date | str | None) -> dt.date:
    if isinstance(today, dt.date):
        return today
    if isinstance(today, str) and today:
        return dt.date.fromisoformat(today[:10])
    return dt.datetime.now(dt.timezone.utc).date()


def apply_waivers(report: dict[str, Any], files: Iterable[Mapping[str, Any]],
                  today: dt.date | str | None = None) -> list[dict[str, Any]]:
    """Apply waivers to a built report, in place, and return their statuses.

    ``files``: ``{"path", "firmware", "waivers": [waiver dicts]}`` (the ``waivers``
    records). Each purpose dict whose ``verdict`` is ``fail`` and that an applicable waiver
    covers gets ``verdict`` :data:`WAIVED`, ``raw_verdict`` ``"fail"`` and ``waiver``
    (the waiver's fields plus ``file``); the first applicable waiver in file order wins.
    ``today`` (date or ISO text; default the current UTC day) decides expiry. Counts are
    not touched (the builder counts after this). Returns one dict per waiver: its fields,
    ``file``, ``status`` (one of :data:`STATUSES`), ``purposes`` (ids it covered or would
    have) and ``note``. Invalid waiver entries are reported with status ``unmatched``
    and a note; never raises for a report of this schema.
    """
    day = _today(today)
    purposes = [p for fam in report.get("families", []) or [] for c in fam.get("commands", []) or []
                for p in c.get("purposes", []) or []]
    out: list[dict[str, Any]] = []
    entries: list[tuple[Waiver | None, dict[str, Any]]] = []
    for f in files:
        for raw in f.get("waivers", []) or []:
            base = {**{k: (str(v) if k == "expires" else v) for k, v in dict(raw).items()}, "file": f.get("path", "")}
            try:
                entries.append((Waiver.model_validate(raw), base))
            except Exception as e:   # a hand-edited record: say so instead of failing the report
                entries.append((None, {**base, "note": f"invalid waiver: {' '.join(str(e).split())[:200]}"}))
    for w, base in entries:
        if w is None:
            out.append({**base, "status": "unmatched", "purposes": []})
            continue
        matched = [p for p in purposes if w.matches(p.get("purpose", ""))]
        failing = [p for p in matched if p.get("verdict") in ("fail", WAIVED)]
        rec = {**base, "purposes": [], "note": ""}
        if not matched:
            rec.update(status="unmatched", note="no purpose of this run has this id")
        elif w.expires < day:
            rec.update(status="expired", purposes=[p["purpose"] for p in failing],
                       note=f"expired {w.expires.isoformat()}; {len(failing)} failure(s) it named count as fail")
        elif not failing:
            if all(p.get("verdict") == "pass" for p in matched):
                rec.update(status="stale", purposes=[p["purpose"] for p in matched],
                           note="the purposes it names pass now: remove the waiver")
            else:
                rec.update(status="not exercised", purposes=[p["purpose"] for p in matched],
                           note="its purposes did not run to pass or fail")
        else:
            covered = [p for p in failing if w.observed_in(p.get("reason", ""))]
            if not covered:
                rec.update(status="observed differs", purposes=[p["purpose"] for p in failing],
                           note="today's failure is not the one waived: "
                                + "; ".join(p.get("reason", "")[:200] for p in failing[:3]))
            else:
                rec.update(status="applied", purposes=[p["purpose"] for p in covered])
                for p in covered:
                    if p.get("verdict") == "fail":
                        p["verdict"] = WAIVED
                        p["raw_verdict"] = "fail"
                        p["waiver"] = {k: base.get(k) for k in ("purpose", "reason", "ticket", "expires", "observed", "file")}
        out.append(rec)
    return out


def waiver_status_counts(statuses: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Status -> number of waivers, every status listed."""
    counts = {s: 0 for s in STATUSES}
    for s in statuses:
        counts[s.get("status", "unmatched")] = counts.get(s.get("status", "unmatched"), 0) + 1
    return counts
