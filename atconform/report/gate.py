"""Quality gate: rules a CI job applies to a compliance report to pass or block a firmware.

``gate.yaml`` (unknown keys are an error)::

    baseline: reports-fw1/compliance.json   # optional; ``--diff OLD NEW`` gives OLD instead
    rules:
      no_new_failures: true                 # nothing newly fail/error against the baseline
      no_failures_of_severity: [critical]   # no fail/error of these severities (critical, normal, minor)
      no_expired_waivers: true
      no_stale_waivers: false
      min_purposes_run: 500                 # purposes that ran to pass, fail, fail (waived), inconclusive
      complete_run: true                    # the run wrote its end record
      max_failures: null                    # at most N fail/error verdicts

A failure a waiver covers (``fail (waived)``) breaks none of these rules; once its waiver
has expired it is a ``fail`` again. :func:`evaluate` returns one :class:`Breach` per
broken rule and culprit; a CLI prints each as one line, ``gate: <rule>: <detail>``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from atconform.errors import load_yaml_model

from .diff import BAD, diff_reports

__all__ = ["Breach", "Gate", "GateRules", "evaluate", "load_gate"]

Severity = Literal["critical", "normal", "minor"]
RAN = frozenset({"pass", "fail", "fail (waived)", "inconclusive", "error"})


class GateRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    no_new_failures: bool = False
    no_failures_of_severity: list[Severity] = Field(default_factory=list)
    no_expired_waivers: bool = False
    no_stale_waivers: bool = False
    min_purposes_run: int | None = Field(default=None, ge=0)
    complete_run: bool = False
    max_failures: int | None = Field(default=None, ge=0)


class Gate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    baseline: str | None = None
    rules: GateRules = Field(default_factory=GateRules)


@dataclass(frozen=True)
class Breach:
    """A broken rule: ``rule`` (the gate file's key) and ``detail`` (one line)."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"gate: {self.rule}: {self.detail}"


def load_gate(path: str | Path) -> Gate:
    """Read a gate file; a relative ``baseline`` is taken from the gate file's folder.
    Raises :class:`~atconform.errors.BadInput`."""
    gate = load_yaml_model(path, Gate)
    if gate.baseline and not Path(gate.baseline).is_absolute():
        gate.baseline = str(Path(path).parent / gate.baseline)
    return gate


def _purposes(report: Mapping[str, Any]):
    for fam in report.get("families", []) or []:
        for cmd in fam.get("commands", []) or []:
            for p in cmd.get("purposes", []) or []:
                yield fam.get("model", ""), p


def evaluate(gate: Gate, report: Mapping[str, Any], baseline: Mapping[str, Any] | None = None) -> list[Breach]:
    """The breaches of ``gate``'s rules by ``report`` (``baseline``: the report that
    ``no_new_failures`` compares with). Raises ValueError when ``no_new_failures`` is set
    and no baseline is given."""
    r = gate.rules
    out: list[Breach] = []
    if r.no_new_failures:
        if baseline is None:
            raise ValueError("rule no_new_failures needs a baseline (gate baseline: or --diff OLD NEW)")
        for c in diff_reports(baseline, report)["newly_failing"]:
            out.append(Breach("no_new_failures", f"{c['purpose']}: {c['old']} -> {c['new']}"
                                                 + (f" ({c['new_reason'][:160]})" if c["new_reason"] else "")))
    if r.no_failures_of_severity:
        for _, p in _purposes(report):
            if p.get("verdict") in BAD and (p.get("severity") or "normal") in r.no_failures_of_severity:
                out.append(Breach("no_failures_of_severity",
                                  f"{p.get('purpose')}: {p.get('verdict')}, severity {p.get('severity') or 'normal'}"))
    for w in report.get("waivers", []) or []:
        if r.no_expired_waivers and w.get("status") == "expired":
            out.append(Breach("no_expired_waivers", f"{w.get('purpose')} ({w.get('ticket')}) expired {w.get('expires')}"))
        if r.no_stale_waivers and w.get("status") == "stale":
            out.append(Breach("no_stale_waivers", f"{w.get('purpose')} ({w.get('ticket')}): its purposes pass now"))
    if r.min_purposes_run is not None:
        ran = sum(1 for _, p in _purposes(report) if p.get("verdict") in RAN)
        if ran < r.min_purposes_run:
            out.append(Breach("min_purposes_run", f"{ran} purposes ran, the gate needs at least {r.min_purposes_run}"))
    if r.complete_run and not report.get("complete", False):
        out.append(Breach("complete_run", "the run did not write its end record (interrupted)"))
    if r.max_failures is not None:
        n = sum(1 for _, p in _purposes(report) if p.get("verdict") in BAD)
        if n > r.max_failures:
            out.append(Breach("max_failures", f"{n} fail/error verdicts, the gate allows {r.max_failures}"))
    return out
