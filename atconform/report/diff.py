"""Run-to-run comparison of two compliance reports."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["diff_reports", "format_diff"]

#: Verdicts that mean the modem (or the harness) did not do what the manual says.
_BAD = frozenset({"fail", "error"})


def _index(report: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for fam in report.get("families", []) or []:
        model = fam.get("model", "")
        for cmd in fam.get("commands", []) or []:
            for p in cmd.get("purposes", []) or []:
                out[(model, p.get("purpose", ""))] = {
                    "family": model,
                    "command": cmd.get("command", ""),
                    "purpose": p.get("purpose", ""),
                    "title": p.get("title", ""),
                    "verdict": p.get("verdict", ""),
                    "reason": p.get("reason", ""),
                }
    return out


def _kind(old: str, new: str) -> str:
    if new == "pass":
        return "fixed"
    if old == "pass" or (new in _BAD and old not in _BAD):
        return "regression"
    return "changed"


def diff_reports(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Compare two compliance reports (as built by ``build_report`` / read from JSON).

    Purposes are matched by ``(family model, purpose id)``. Returns::

        {
          "changed": [{"family", "command", "purpose", "title",
                       "old", "new",               # verdicts
                       "old_reason", "new_reason",
                       "kind"}, ...],              # "regression" | "fixed" | "changed"
          "added":   [{"family", "command", "purpose", "title", "verdict", "reason"}, ...],
          "removed": [{"family", "command", "purpose", "title", "verdict", "reason"}, ...],
          "counts":  {"old": {verdict: n}, "new": {verdict: n}},
          "old_complete": bool, "new_complete": bool,
        }

    ``kind`` is ``"fixed"`` when the new verdict is ``pass``; ``"regression"`` when a
    ``pass`` became anything else or a verdict became ``fail``/``error``; else
    ``"changed"``. ``changed`` and ``added`` follow the new report's order, ``removed``
    the old one's. A purpose whose verdict is equal but whose reason changed is not
    listed. Missing keys in either report are treated as empty; never raises for
    report dicts of this schema.
    """
    a, b = _index(old), _index(new)
    changed: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for key, nb in b.items():
        oa = a.get(key)
        if oa is None:
            added.append(nb)
        elif oa["verdict"] != nb["verdict"]:
            changed.append(
                {
                    "family": nb["family"],
                    "command": nb["command"],
                    "purpose": nb["purpose"],
                    "title": nb["title"],
                    "old": oa["verdict"],
                    "new": nb["verdict"],
                    "old_reason": oa["reason"],
                    "new_reason": nb["reason"],
                    "kind": _kind(oa["verdict"], nb["verdict"]),
                }
            )
    removed = [oa for key, oa in a.items() if key not in b]
    return {
        "changed": changed,
        "added": added,
        "removed": removed,
        "counts": {"old": dict(old.get("counts", {}) or {}), "new": dict(new.get("counts", {}) or {})},
        "old_complete": bool(old.get("complete", False)),
        "new_complete": bool(new.get("complete", False)),
    }


def format_diff(diff: Mapping[str, Any]) -> str:
    """Human-readable text of a :func:`diff_reports` result (ends with a newline)."""
    lines: list[str] = []
    changed, added, removed = diff["changed"], diff["added"], diff["removed"]
    n_reg = sum(1 for c in changed if c["kind"] == "regression")
    n_fix = sum(1 for c in changed if c["kind"] == "fixed")
    if not (changed or added or removed):
        lines.append("no changes")
    else:
        lines.append(
            f"{len(changed)} changed ({n_reg} regression{'s' if n_reg != 1 else ''}, {n_fix} fixed), "
            f"{len(added)} added, {len(removed)} removed"
        )
    if not diff.get("old_complete", True):
        lines.append("note: the OLD report is from an INCOMPLETE run")
    if not diff.get("new_complete", True):
        lines.append("note: the NEW report is from an INCOMPLETE run")
    marks = {"regression": "!", "fixed": "+", "changed": "~"}
    if changed:
        lines.append("")
        lines.append("Changed verdicts:")
        for c in changed:
            line = f"  {marks[c['kind']]} [{c['family']}] {c['purpose']}: {c['old']} -> {c['new']}"
            if c["new_reason"] and c["new"] != "pass":
                line += f"  ({c['new_reason']})"
            lines.append(line)
    if added:
        lines.append("")
        lines.append("Added:")
        lines.extend(f"  + [{p['family']}] {p['purpose']}: {p['verdict']}" for p in added)
    if removed:
        lines.append("")
        lines.append("Removed:")
        lines.extend(f"  - [{p['family']}] {p['purpose']}: {p['verdict']}" for p in removed)
    return "\n".join(lines) + "\n"
