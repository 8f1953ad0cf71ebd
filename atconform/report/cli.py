"""``atconform report``: build the compliance report, diff two reports, apply a quality gate."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datetime import date

from atconform.errors import BadInput, OneLineArgumentParser
from atconform.waivers import as_records, load_waivers

from .builder import SCHEMA, SCHEMAS, VERDICTS, build_report, utc_now_iso
from .diff import diff_reports, format_diff, has_changes, link_transcripts, render_diff_html
from .gate import evaluate, load_gate
from .loader import load_records
from .writer import atomic_write_text, write_report_files

__all__ = ["main_report", "build_parser", "load_report"]

DEFAULT_JSONL = Path("reports/results.jsonl")
DEFAULT_OUT = Path("reports")


def build_parser(prog: str = "atconform report") -> argparse.ArgumentParser:
    """The argument parser of ``atconform report`` (exposed for the top-level CLI)."""
    p = OneLineArgumentParser(
        prog=prog,
        description="Build compliance.json and compliance.html from a results JSON-lines "
        "file, or compare two compliance reports (firmware diff), and apply a quality gate.",
    )
    p.add_argument("jsonl", nargs="?", type=Path, default=None,
                   help=f"results file written by the pytest plugin (default: {DEFAULT_JSONL})")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help=f"output directory (default: {DEFAULT_OUT}/; with --diff: the NEW report's folder)")
    p.add_argument("--diff", nargs=2, type=Path, metavar=("OLD", "NEW"),
                   help="compare two compliance.json files (a results .jsonl is accepted too): print the "
                   "changes and write diff.html and diff.json; exit 0 if identical, 1 if different "
                   "(with --gate: the gate's status)")
    p.add_argument("--json", action="store_true", help="with --diff: print the diff as JSON")
    p.add_argument("--waivers", type=Path, action="append", default=[], metavar="FILE",
                   help="waivers YAML to apply instead of the ones the run recorded (repeatable)")
    p.add_argument("--today", metavar="YYYY-MM-DD", help="the day waiver expiry is judged on (default: today, UTC)")
    p.add_argument("--gate", type=Path, metavar="FILE",
                   help="quality gate YAML: print one line per broken rule; exit 1 if any broke")
    return p


def load_report(path: Path) -> dict[str, Any]:
    """Read a report for ``--diff``: a ``compliance.json`` (schema checked), or a
    results ``.jsonl`` built on the fly. Raises ``OSError`` or ``ValueError``."""
    if path.suffix == ".jsonl":
        records, bad = load_records(path)
        return build_report(records, skipped_lines=bad)
    report = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(report, dict) or report.get("schema") not in SCHEMAS:
        raise ValueError(f"{path}: not an {SCHEMA} report")
    return report


def _summary(report: dict[str, Any]) -> str:
    counts = report["counts"]
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts.get(v)]
    parts += [f"{n} {v}" for v, n in counts.items() if v not in VERDICTS and n]
    text = f"{report['total']} purposes: " + (", ".join(parts) if parts else "none")
    if not report["complete"]:
        text += "  [INCOMPLETE run: no end record]"
    if report.get("skipped_lines"):
        text += f"  [{report['skipped_lines']} malformed line(s) skipped]"
    bad = {k: n for k, n in (report.get("waiver_counts") or {}).items() if n and k != "applied"}
    if bad:
        text += "  [waivers: " + ", ".join(f"{n} {k}" for k, n in bad.items()) + "]"
    return text


def _err(msg: str) -> int:
    print(f"atconform report: error: {' '.join(str(msg).split())}", file=sys.stderr)
    return 2


def _read(path: Path) -> dict[str, Any]:
    """load_report with its errors as one-line BadInput."""
    try:
        return load_report(path)
    except OSError as exc:
        raise BadInput(path, [("", f"cannot read: {exc.strerror or exc}")]) from None
    except ValueError as exc:   # a JSON error does not say which file
        why = " ".join(str(exc).split())
        raise BadInput(path, [("", why[len(str(path)) + 2:] if why.startswith(str(path)) else why)]) from None


def _gate(args, gate, report: dict[str, Any], baseline: dict[str, Any] | None) -> int:
    """Print the breaches of ``gate`` (read from --gate); 1 if any, 0 if none. Raises BadInput."""
    if baseline is None and gate.baseline:
        baseline = _read(Path(gate.baseline))
    try:
        breaches = evaluate(gate, report, baseline)
    except ValueError as e:
        raise BadInput(args.gate, [("rules.no_new_failures", str(e))]) from None
    for b in breaches:
        print(str(b))
    print(f"gate {args.gate}: " + (f"FAILED ({len(breaches)} breach{'es' if len(breaches) != 1 else ''})"
                                   if breaches else "passed"))
    return 1 if breaches else 0


def main_report(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``atconform report``; ``argv`` excludes the program and sub-command.

    * ``[JSONL] [--out DIR] [--waivers FILE]... [--today D] [--gate FILE]``: write
      ``DIR/compliance.json`` and ``DIR/compliance.html`` (defaults
      ``reports/results.jsonl`` and ``reports/``), print their paths and a one-line
      summary. Returns 0 when written (whatever the verdicts; with ``--gate``: 1 when a
      rule broke), 2 if the input cannot be read or the output cannot be written.
    * ``--diff OLD NEW [--out DIR] [--json] [--gate FILE]``: print the changes (text, or
      JSON with ``--json``) and write ``diff.html`` and ``diff.json`` in DIR (default:
      NEW's folder). Returns 0 if there are no changes, 1 if there are (with ``--gate``:
      the gate's 0/1 with OLD as the baseline), 2 on unreadable/invalid input.

    Usage errors return 2 (one line on stderr); ``--help`` returns 0.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse exits on --help / usage errors
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _main(args)
    except BadInput as e:
        return _err(e)


def _main(args) -> int:
    gate = None
    if args.gate:       # checked before anything is written
        gate = load_gate(args.gate)
        if gate.rules.no_new_failures and not gate.baseline and not args.diff:
            raise BadInput(args.gate, [("rules.no_new_failures", "needs a baseline (gate baseline: or --diff OLD NEW)")])
    if args.diff:
        if args.jsonl is not None or args.waivers:
            return _err("--diff takes no JSONL or --waivers (see atconform report -h)")
        old_path, new_path = args.diff
        old, new = _read(old_path), _read(new_path)
        diff = diff_reports(old, new)
        out = args.out if args.out is not None else new_path.parent
        link_transcripts(diff, old_path.parent, new_path.parent, out)
        html = render_diff_html(diff, old_name=str(old_path), new_name=str(new_path), generated=utc_now_iso())
        try:
            out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out / "diff.json", json.dumps(diff, indent=2, ensure_ascii=False) + "\n")
            atomic_write_text(out / "diff.html", html)
        except OSError as exc:
            return _err(f"cannot write to {out}: {exc.strerror or exc}")
        if args.json:
            print(json.dumps(diff, indent=2, ensure_ascii=False))
        else:
            sys.stdout.write(format_diff(diff))
            print(f"wrote {out / 'diff.html'}")
            print(f"wrote {out / 'diff.json'}")
        if gate is not None:
            return _gate(args, gate, new, old)
        return 1 if has_changes(diff) else 0

    if args.json:
        return _err("--json needs --diff (see atconform report -h)")
    jsonl = args.jsonl if args.jsonl is not None else DEFAULT_JSONL
    out = args.out if args.out is not None else DEFAULT_OUT
    try:
        records, bad = load_records(jsonl)
    except OSError as exc:
        return _err(f"cannot read {jsonl}: {exc.strerror or exc}")
    waivers = [as_records(w, load_waivers(w)) for w in args.waivers] or None
    if args.today:
        try:
            date.fromisoformat(args.today)
        except ValueError:
            return _err(f"--today {args.today}: not a YYYY-MM-DD date")
    report = build_report(records, skipped_lines=bad, waivers=waivers, today=args.today)
    try:
        json_path, html_path = write_report_files(report, out)
    except OSError as exc:
        return _err(f"cannot write to {out}: {exc}")
    print(f"wrote {json_path}")
    print(f"wrote {html_path}")
    print(_summary(report))
    if gate is not None:
        return _gate(args, gate, report, None)
    return 0
