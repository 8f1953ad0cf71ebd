"""``atconform report``: build the compliance report, or diff two reports."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atconform.errors import OneLineArgumentParser

from .builder import SCHEMA, VERDICTS, build_report
from .diff import diff_reports, format_diff
from .loader import load_records
from .writer import write_report_files

__all__ = ["main_report", "build_parser", "load_report"]

DEFAULT_JSONL = Path("reports/results.jsonl")
DEFAULT_OUT = Path("reports")


def build_parser(prog: str = "atconform report") -> argparse.ArgumentParser:
    """The argument parser of ``atconform report`` (exposed for the top-level CLI)."""
    p = OneLineArgumentParser(
        prog=prog,
        description="Build compliance.json and compliance.html from a results JSON-lines "
        "file, or compare two compliance reports.",
    )
    p.add_argument("jsonl", nargs="?", type=Path, default=None,
                   help=f"results file written by the pytest plugin (default: {DEFAULT_JSONL})")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help=f"output directory (default: {DEFAULT_OUT}/)")
    p.add_argument("--diff", nargs=2, type=Path, metavar=("OLD", "NEW"),
                   help="print the verdict changes between two compliance.json files "
                   "(a results .jsonl is accepted too); exit 0 if identical, 1 if different")
    p.add_argument("--json", action="store_true", help="with --diff: print the diff as JSON")
    return p


def load_report(path: Path) -> dict[str, Any]:
    """Read a report for ``--diff``: a ``compliance.json`` (schema checked), or a
    results ``.jsonl`` built on the fly. Raises ``OSError`` or ``ValueError``."""
    if path.suffix == ".jsonl":
        records, bad = load_records(path)
        return build_report(records, skipped_lines=bad)
    report = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
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
    return text


def main_report(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``atconform report``; ``argv`` excludes the program and sub-command.

    * ``[JSONL] [--out DIR]``: write ``DIR/compliance.json`` and ``DIR/compliance.html``
      (defaults ``reports/results.jsonl`` and ``reports/``), print their paths and a
      one-line summary. Returns 0 when written (whatever the verdicts), 2 if the input
      cannot be read or the output cannot be written.
    * ``--diff OLD NEW [--json]``: print the changes (text, or JSON with ``--json``).
      Returns 0 if there are no changes, 1 if there are, 2 on unreadable/invalid input.

    Usage errors return 2 (one line on stderr); ``--help`` returns 0.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse exits on --help / usage errors
        return exc.code if isinstance(exc.code, int) else 2

    if args.diff:
        if args.jsonl is not None or args.out is not None:
            print("atconform report: error: --diff takes no JSONL or --out (see atconform report -h)",
                  file=sys.stderr)
            return 2
        reports = []
        for path in args.diff:
            try:
                reports.append(load_report(path))
            except OSError as exc:
                print(f"atconform report: error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
                return 2
            except ValueError as exc:   # a JSON error does not say which file
                why = " ".join(str(exc).split())
                print(f"atconform report: error: {why if why.startswith(str(path)) else f'{path}: {why}'}",
                      file=sys.stderr)
                return 2
        old, new = reports
        diff = diff_reports(old, new)
        if args.json:
            print(json.dumps(diff, indent=2, ensure_ascii=False))
        else:
            sys.stdout.write(format_diff(diff))
        return 1 if (diff["changed"] or diff["added"] or diff["removed"]) else 0

    if args.json:
        print("atconform report: error: --json needs --diff (see atconform report -h)", file=sys.stderr)
        return 2
    jsonl = args.jsonl if args.jsonl is not None else DEFAULT_JSONL
    out = args.out if args.out is not None else DEFAULT_OUT
    try:
        records, bad = load_records(jsonl)
    except OSError as exc:
        print(f"atconform report: error: cannot read {jsonl}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    report = build_report(records, skipped_lines=bad)
    try:
        json_path, html_path = write_report_files(report, out)
    except OSError as exc:
        print(f"atconform report: error: cannot write to {out}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {json_path}")
    print(f"wrote {html_path}")
    print(_summary(report))
    return 0
