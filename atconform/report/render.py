"""Rendering a compliance report as one self-contained HTML page (Jinja2).

The template is ``templates/compliance.html.j2`` (shipped as package data). All text
from the report is autoescaped; the page has inline CSS only and works without
JavaScript (a small inline script adds the verdict filter buttons).
"""
from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

import jinja2

from .builder import VERDICTS

__all__ = ["render_html", "verdict_slug", "format_duration", "command_label"]

_FIRST_IDENTITY_KEYS = ("ATI", "AT+GMR")


def verdict_slug(verdict: Any) -> str:
    """CSS/attribute-safe name of a verdict: ``"not applicable"`` -> ``"not-applicable"``."""
    return re.sub(r"[^a-z0-9]+", "-", str(verdict).lower()).strip("-") or "unknown"


def format_duration(seconds: Any) -> str:
    """``0.012`` -> ``"12 ms"``, ``3.456`` -> ``"3.46 s"``, ``125`` -> ``"2 min 5 s"``;
    ``None``/non-numbers -> ``"—"``."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s"


def command_label(command: Any) -> str:
    """``"+QIOPEN"`` -> ``"AT+QIOPEN"``; names not starting with ``+&%$^*#`` unchanged."""
    text = str(command)
    return "AT" + text if text[:1] in set("+&%$^*#") else text


def _segments(counts: Mapping[str, int], total: int) -> list[dict[str, Any]]:
    if not total:
        return []
    return [
        {"verdict": v, "n": n, "pct": 100.0 * n / total}
        for v, n in counts.items()
        if n
    ]


def _identity_items(identity: Mapping[str, Any]) -> list[tuple[str, str]]:
    keys = [k for k in _FIRST_IDENTITY_KEYS if k in identity]
    keys += [k for k in identity if k not in _FIRST_IDENTITY_KEYS]
    return [(k, str(identity[k])) for k in keys]


def _argv_text(argv: Any) -> str:
    if isinstance(argv, list):
        return shlex.join(str(a) for a in argv)
    return "" if argv is None else str(argv)


def _end_for(run: Mapping[str, Any], ends: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    rid = run.get("run_id")
    for end in reversed(ends):
        if rid and end.get("run_id") == rid:
            return end
    anonymous = [e for e in ends if not e.get("run_id")]
    return anonymous[-1] if anonymous else None


def _view(report: Mapping[str, Any]) -> dict[str, Any]:
    ends = list(report.get("ends", []) or [])
    runs = []
    for run in report.get("runs", []) or []:
        ixit = run.get("ixit")
        runs.append(
            {
                "meta": run,
                "end": _end_for(run, ends),
                "argv": _argv_text(run.get("argv")),
                "ixit": json.dumps(ixit, indent=2, ensure_ascii=False, sort_keys=True) if ixit else "",
            }
        )
    families = []
    for fam in report.get("families", []) or []:
        commands = []
        for cmd in fam.get("commands", []) or []:
            purposes = cmd.get("purposes", []) or []
            commands.append(
                {
                    "cmd": cmd,
                    "label": command_label(cmd.get("command", "")),
                    "open": any(p.get("verdict") != "pass" for p in purposes),
                    "segments": _segments(cmd.get("counts", {}) or {}, cmd.get("total") or len(purposes)),
                    "purposes": purposes,
                }
            )
        families.append(
            {
                "fam": fam,
                "identity": _identity_items(fam.get("firmware", {}) or {}),
                "segments": _segments(fam.get("counts", {}) or {}, fam.get("total") or 0),
                "commands": commands,
            }
        )
    counts = dict(report.get("counts", {}) or {})
    for v in VERDICTS:
        counts.setdefault(v, 0)
    total = report.get("total") or 0
    modes = sorted({str(r["meta"].get("mode")) for r in runs if r["meta"].get("mode")})
    return {
        "report": report,
        "complete": bool(report.get("complete", False)),
        "runs": runs,
        "ends": ends,
        "families": families,
        "counts": counts,
        "total": total,
        "segments": _segments(counts, total),
        "modes": modes,
        "verdicts": VERDICTS,
        "waivers": list(report.get("waivers", []) or []),
    }


_ENV: jinja2.Environment | None = None


def _env() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("atconform.report", "templates"),
            autoescape=True,  # the template is *.html.j2, which select_autoescape misses
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.ChainableUndefined,
        )
        env.filters["vslug"] = verdict_slug
        env.filters["duration"] = format_duration
        env.filters["pct"] = lambda x: f"{x:.3f}".rstrip("0").rstrip(".")
        _ENV = env
    return _ENV


def render_html(report: Mapping[str, Any]) -> str:
    """Render ``report`` (the dict of ``build_report``, or its JSON re-loaded) as a
    complete HTML document string. Missing keys render as empty; raises
    ``jinja2.TemplateError`` only if the packaged template itself is broken."""
    return _env().get_template("compliance.html.j2").render(**_view(report))
