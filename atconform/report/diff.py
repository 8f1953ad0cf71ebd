"""Firmware-to-firmware comparison of two compliance reports (OLD: the baseline firmware's
run, NEW: the candidate's).

:func:`diff_reports` gives the changes as a JSON-able dict, :func:`format_diff` as text,
:func:`render_diff_html` as one self-contained HTML page grouped by family and command,
with links to each side's AT transcript (:func:`link_transcripts`).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["BAD", "CATEGORIES", "diff_reports", "format_diff", "link_transcripts", "render_diff_html"]

#: Verdicts that mean the modem (or the harness) did not do what the manual says, and no
#: waiver accepts it.
BAD = frozenset({"fail", "error"})
_BAD = BAD

#: The sections of a diff, in page order: (key, heading).
CATEGORIES = (
    ("newly_failing", "Newly failing"),
    ("fixed", "Fixed"),
    ("reason_changed", "Same verdict, changed reason"),
    ("other_changes", "Other verdict changes"),
    ("added", "New purposes"),
    ("removed", "Removed purposes"),
)


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
                    "section": p.get("section", "") or cmd.get("section", ""),
                    "severity": p.get("severity", "") or "normal",
                    "transcript": p.get("transcript", ""),
                    "waiver": p.get("waiver"),
                }
    return out


def _kind(old: str, new: str) -> str:
    if new == "pass":
        return "fixed"
    if old == "pass" or (new in _BAD and old not in _BAD):
        return "regression"
    return "changed"


def _waiver_key(w: Mapping[str, Any]) -> tuple[str, str]:
    return (str(w.get("purpose", "")), str(w.get("ticket", "")))


def _waiver_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    a = {_waiver_key(w): w for w in old.get("waivers", []) or []}
    b = {_waiver_key(w): w for w in new.get("waivers", []) or []}
    out = []
    for key, w in b.items():
        o = a.get(key)
        if o is None:
            out.append({"purpose": key[0], "ticket": key[1], "change": "added", "old": "", "new": w.get("status", ""),
                        "expires": w.get("expires", ""), "reason": w.get("reason", ""), "note": w.get("note", "")})
        elif o.get("status") != w.get("status"):
            out.append({"purpose": key[0], "ticket": key[1], "change": "status", "old": o.get("status", ""),
                        "new": w.get("status", ""), "expires": w.get("expires", ""), "reason": w.get("reason", ""),
                        "note": w.get("note", "")})
    for key, o in a.items():
        if key not in b:
            out.append({"purpose": key[0], "ticket": key[1], "change": "removed", "old": o.get("status", ""), "new": "",
                        "expires": o.get("expires", ""), "reason": o.get("reason", ""), "note": ""})
    return out


def diff_reports(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Compare two compliance reports (as built by ``build_report`` / read from JSON).

    Purposes are matched by ``(family model, purpose id)``. Returns::

        {
          "changed": [{"family", "command", "purpose", "title", "section", "severity",
                       "old", "new",               # verdicts
                       "old_reason", "new_reason",
                       "old_transcript", "new_transcript",   # paths relative to each report
                       "kind"}, ...],              # "regression" | "fixed" | "changed"
          "newly_failing": [...], "fixed": [...], "other_changes": [...],   # changed, split
          "reason_changed": [...],   # same verdict (not pass), different reason; same fields
          "added":   [{"family", "command", "purpose", "title", "verdict", "reason", ...}, ...],
          "removed": [{...}, ...],
          "waiver_changes": [{"purpose", "ticket", "change": "added"|"removed"|"status",
                              "old", "new", "expires", "reason", "note"}, ...],
          "counts":  {"old": {verdict: n}, "new": {verdict: n}},
          "old_complete": bool, "new_complete": bool,
          "old_firmware": {model: identity}, "new_firmware": {model: identity},
        }

    ``kind`` is ``"fixed"`` when the new verdict is ``pass``; ``"regression"`` when a
    ``pass`` became anything else or a verdict became ``fail``/``error``; else
    ``"changed"``. ``newly_failing`` holds the changes to ``fail``/``error`` from any
    other verdict (a waived failure whose waiver expired included); ``fixed`` those to
    ``pass``; ``other_changes`` the rest. ``changed`` and ``added`` follow the new
    report's order, ``removed`` the old one's. Missing keys in either report are treated
    as empty; never raises for report dicts of schema 1 or 2.
    """
    a, b = _index(old), _index(new)
    changed: list[dict[str, Any]] = []
    reason_changed: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for key, nb in b.items():
        oa = a.get(key)
        if oa is None:
            added.append(nb)
            continue
        entry = {
            "family": nb["family"], "command": nb["command"], "purpose": nb["purpose"], "title": nb["title"],
            "section": nb["section"], "severity": nb["severity"],
            "old": oa["verdict"], "new": nb["verdict"], "old_reason": oa["reason"], "new_reason": nb["reason"],
            "old_transcript": oa["transcript"], "new_transcript": nb["transcript"],
            "waiver": nb["waiver"] or oa["waiver"],
        }
        if oa["verdict"] != nb["verdict"]:
            changed.append({**entry, "kind": _kind(oa["verdict"], nb["verdict"])})
        elif nb["verdict"] != "pass" and " ".join(oa["reason"].split()) != " ".join(nb["reason"].split()):
            reason_changed.append({**entry, "kind": "reason"})
    removed = [oa for key, oa in a.items() if key not in b]
    newly = [c for c in changed if c["new"] in BAD and c["old"] not in BAD]
    fixed = [c for c in changed if c["new"] == "pass"]
    other = [c for c in changed if c not in newly and c not in fixed]
    return {
        "changed": changed,
        "newly_failing": newly,
        "fixed": fixed,
        "other_changes": other,
        "reason_changed": reason_changed,
        "added": added,
        "removed": removed,
        "waiver_changes": _waiver_changes(old, new),
        "counts": {"old": dict(old.get("counts", {}) or {}), "new": dict(new.get("counts", {}) or {})},
        "old_complete": bool(old.get("complete", False)),
        "new_complete": bool(new.get("complete", False)),
        "old_firmware": {f.get("model", ""): f.get("firmware", {}) for f in old.get("families", []) or []},
        "new_firmware": {f.get("model", ""): f.get("firmware", {}) for f in new.get("families", []) or []},
    }


def has_changes(diff: Mapping[str, Any]) -> bool:
    """Whether a diff has any verdict change, added or removed purpose."""
    return bool(diff["changed"] or diff["added"] or diff["removed"])


def link_transcripts(diff: dict[str, Any], old_dir: str | os.PathLike[str] | None,
                     new_dir: str | os.PathLike[str] | None, out_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Add ``old_href``/``new_href`` to every diff entry whose side recorded a transcript:
    the transcript's path relative to ``out_dir`` (where the diff page is written), when
    the file exists. ``old_dir``/``new_dir``: the folders of the two reports (None: that
    side's report was built from elsewhere and has no files). In place; returns ``diff``."""
    out = Path(out_dir).resolve()

    def href(base, rel: str) -> str:
        if not base or not rel:
            return ""
        path = (Path(base) / rel).resolve()
        if not path.is_file():
            return ""
        return Path(os.path.relpath(path, out)).as_posix()

    for key in ("changed", "reason_changed"):
        for c in diff.get(key, []):
            c["old_href"] = href(old_dir, c.get("old_transcript", ""))
            c["new_href"] = href(new_dir, c.get("new_transcript", ""))
    for c in diff.get("added", []):
        c["new_href"] = href(new_dir, c.get("transcript", ""))
    for c in diff.get("removed", []):
        c["old_href"] = href(old_dir, c.get("transcript", ""))
    return diff


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
    if diff.get("reason_changed"):
        lines.append("")
        lines.append("Same verdict, changed reason:")
        lines.extend(f"  ~ [{c['family']}] {c['purpose']}: {c['new']}  ({c['new_reason']})" for c in diff["reason_changed"])
    if added:
        lines.append("")
        lines.append("Added:")
        lines.extend(f"  + [{p['family']}] {p['purpose']}: {p['verdict']}" for p in added)
    if removed:
        lines.append("")
        lines.append("Removed:")
        lines.extend(f"  - [{p['family']}] {p['purpose']}: {p['verdict']}" for p in removed)
    if diff.get("waiver_changes"):
        lines.append("")
        lines.append("Waiver changes:")
        lines.extend(f"  * {w['purpose']} ({w['ticket']}): {w['old'] or '-'} -> {w['new'] or '-'}"
                     for w in diff["waiver_changes"])
    return "\n".join(lines) + "\n"


def _grouped(entries: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """[{family, commands: [{command, entries}]}] in first-seen order."""
    fams: dict[str, dict[str, list]] = {}
    for e in entries:
        fams.setdefault(e.get("family", ""), {}).setdefault(e.get("command", ""), []).append(e)
    return [{"family": f, "commands": [{"command": c, "entries": es} for c, es in cmds.items()]}
            for f, cmds in fams.items()]


def render_diff_html(diff: Mapping[str, Any], *, old_name: str = "OLD", new_name: str = "NEW",
                     generated: str = "") -> str:
    """One self-contained HTML page of a diff (autoescaped): summary tiles, firmware of
    both sides, then each category of :data:`CATEGORIES` and the waiver changes, grouped
    by family and command, each entry linking to its transcripts when
    :func:`link_transcripts` found them."""
    from .render import _env

    sections = [{"key": k, "title": t, "groups": _grouped(list(diff.get(k, []))), "n": len(diff.get(k, []))}
                for k, t in CATEGORIES]
    return _env().get_template("diff.html.j2").render(
        diff=diff, sections=sections, old_name=old_name, new_name=new_name, generated=generated)
