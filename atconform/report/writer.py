"""Writing ``compliance.json`` and ``compliance.html`` atomically."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from atconform.redact import redact_data

from .builder import build_report
from .loader import load_records
from .render import render_html

__all__ = ["JSON_NAME", "HTML_NAME", "atomic_write_text", "write_report_files", "write_reports"]

JSON_NAME = "compliance.json"
HTML_NAME = "compliance.html"


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same directory,
    fsync, then ``os.replace``: readers see either the old file or the whole new one.

    The file gets mode 0644. The temporary file is removed if anything fails; the
    ``OSError`` is re-raised. Returns ``Path(path)``.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def write_reports(
    jsonl_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
) -> tuple[Path, Path]:
    """Load ``jsonl_path``, build the report and write ``out_dir/compliance.json`` and
    ``out_dir/compliance.html`` (each atomically; ``out_dir`` is created if needed).

    Returns ``(json_path, html_path)``. Raises ``OSError`` if the input cannot be read
    or the output cannot be written; malformed input lines are skipped and counted in
    the report's ``skipped_lines``.
    """
    records, bad = load_records(jsonl_path)
    report = build_report(records, skipped_lines=bad)
    return write_report_files(report, out_dir)


def write_report_files(report: dict[str, Any], out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write an already built ``report`` as ``compliance.json`` + ``compliance.html``
    in ``out_dir`` (created if needed), secrets registered in this process redacted
    (:mod:`atconform.redact`). Returns ``(json_path, html_path)``."""
    report = redact_data(report)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html = render_html(report)
    json_text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    json_path = atomic_write_text(out / JSON_NAME, json_text)
    html_path = atomic_write_text(out / HTML_NAME, html)
    return json_path, html_path
