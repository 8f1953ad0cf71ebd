"""Reading the JSON-lines results file that the pytest plugin appends to.

The file holds one JSON object per line; each has a string ``"type"``:

* ``meta``     one per test session (or per family / per worker process): run metadata;
* ``firmware`` the identity strings a modem family answered (``ATI``, ``AT+GMR``, ...);
* ``result``   one per finished test;
* ``end``      written when the session finishes; its absence means the run was cut short.

Records of other types are kept and ignored by :func:`~atconform.report.build_report`,
so the plugin may add types without breaking older report code.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["load_records", "parse_line"]


def parse_line(raw: bytes | str) -> dict[str, Any] | None:
    """Decode one line of the results file.

    Returns the record, or ``None`` if the line is malformed: not UTF-8, not JSON,
    not a JSON object, without a string ``"type"``, or a ``result`` record without a
    string ``"verdict"`` or without a string ``"purpose"``/``"nodeid"`` to name it.
    Never raises.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        rec = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(rec, dict) or not isinstance(rec.get("type"), str):
        return None
    if rec["type"] == "result":
        if not isinstance(rec.get("verdict"), str):
            return None
        if not (isinstance(rec.get("purpose"), str) and rec["purpose"]) and not (
            isinstance(rec.get("nodeid"), str) and rec["nodeid"]
        ):
            return None
    return rec


def load_records(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], int]:
    """Read a results JSON-lines file.

    Returns ``(records, bad)``: the well-formed records in file order, and the number
    of malformed lines skipped (see :func:`parse_line`; a half-written last line after
    a crash is the usual case). Blank lines are ignored and not counted as bad.

    Raises ``OSError`` (e.g. ``FileNotFoundError``) if the file cannot be read; never
    raises for bad content.
    """
    data = Path(path).read_bytes()
    records: list[dict[str, Any]] = []
    bad = 0
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        rec = parse_line(raw)
        if rec is None:
            bad += 1
        else:
            records.append(rec)
    return records, bad
