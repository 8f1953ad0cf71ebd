"""Compliance report: JSON and self-contained HTML built from the results JSON-lines file.

Pipeline::

    records, bad = load_records("reports/results.jsonl")   # never raises on bad lines
    report = build_report(records, skipped_lines=bad)        # plain JSON-able dict
    html = render_html(report)                               # one HTML document
    write_reports("reports/results.jsonl", "reports/")      # both files, atomically
    diff_reports(old_report, new_report)                     # firmware-to-firmware changes
    render_diff_html(diff)                                   # ... as one HTML page (diff.py)
    evaluate(load_gate("gate.yaml"), report, baseline)       # quality gate breaches (gate.py)
    generate("allure-results", report, "reports/allure")     # Allure 3 single file (allure.py)

``main_report(argv)`` implements the ``atconform report`` command line.
"""
from .builder import SCHEMA, VERDICTS, build_report, run_complete
from .cli import main_report
from .diff import diff_reports, format_diff, render_diff_html
from .loader import load_records
from .render import render_html
from .writer import atomic_write_text, write_report_files, write_reports

__all__ = [
    "SCHEMA",
    "VERDICTS",
    "atomic_write_text",
    "build_report",
    "diff_reports",
    "format_diff",
    "render_diff_html",
    "load_records",
    "main_report",
    "render_html",
    "run_complete",
    "write_report_files",
    "write_reports",
]
