"""The recording of a run's modem links (``pytest --record DIR``): format version 1.

One JSON-lines file per model, ``DIR/<model>.jsonl``, written as each test ends (an
interrupted run leaves a file that replays up to its last test). Line 1 is the header::

    {"format": "atconform-recording", "version": 1, "model": "bg96", "clock": "virtual",
     "peers": {"tcp_echo": {"host": "127.0.0.1", "port": 40123}, ...},
     "started": "2025-01-01T00:00:00Z", "atconform_version": "0.1.0"}

then, in the order the bytes crossed the link::

    {"type": "prologue"}            bytes before the first test (sync, identity reads)
    {"type": "test", "nodeid": "suites/...::test_purpose[...]", "purpose": "BG96/...",
     "emulator_only": false}        the bytes of this test follow
    {"type": "io", "t": 12.5, "dir": "tx", "data": "AT+QIACT=1\\r"}
    {"type": "io", "t": 12.5, "dir": "rx", "data": "\\r\\nOK\\r\\n"}
    {"type": "verdict", "nodeid": "...", "purpose": "...", "verdict": "pass", "reason": ""}
    {"type": "end", "tests": 744}   the run finished

``io``: ``t`` in seconds on the link's clock (virtual seconds on the built-in emulator)
since its transcript began; ``dir`` ``tx`` (DTE to DCE) or ``rx``; ``data`` the bytes as
Latin-1 text (JSON escapes the control characters), secrets replaced by ``***`` as in
the reports' transcripts (:meth:`atconform.transport.transcript.Transcript.runs`). An
``io`` line belongs to the last ``prologue``/``test`` line before it (bytes between two
tests are the earlier test's). ``peers``: the endpoints the recorded run's command lines
named, which a replay must name again (``DIR/ixit.yaml`` holds them as an IXIT).

A file that is not a recording, or of another format version, is :class:`BadInput`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from atconform import redact
from atconform.errors import BadInput
from atconform.transport.transcript import Entry

FORMAT = "atconform-recording"
VERSION = 1
PROLOGUE = "prologue"       # the name of the segment before the first test


@dataclass
class Segment:
    """The bytes of one test (or the prologue) in link order. ``t_before``: the recorded
    time (s) of the last byte before the segment, where its timing is anchored."""

    name: str                       # the test's nodeid, or PROLOGUE
    purpose: str | None = None
    emulator_only: bool = False
    entries: list[Entry] = field(default_factory=list)
    t_before: float = 0.0


@dataclass
class Recording:
    """One model's recording: ``prologue``, ``tests`` in run order, ``verdicts``
    (nodeid -> (verdict, reason)), ``complete`` when the run's end was recorded."""

    path: str
    model: str
    header: dict[str, Any]
    prologue: Segment
    tests: list[Segment]
    verdicts: dict[str, tuple[str, str]]
    complete: bool

    @property
    def peers(self) -> dict[str, dict]:
        return dict(self.header.get("peers") or {})

    def segment(self, name: str) -> Segment | None:
        """The test named ``name`` (a nodeid), or the prologue; None when not recorded."""
        if name == PROLOGUE:
            return self.prologue
        return next((s for s in self.tests if s.name == name), None)


def _bad(path: str | Path, no: int, field_: str, reason: str) -> BadInput:
    return BadInput(path, [(f"line {no}" + (f": {field_}" if field_ else ""), reason)])


def _text(obj: dict, key: str, path, no: int, *, optional: bool = False) -> str | None:
    v = obj.get(key)
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise _bad(path, no, key, "expected a string")
    return v


def load(path: str | Path) -> Recording:
    """Read one recording file. Raises BadInput naming the file, the line and the reason:
    not a recording, an unknown format version, a malformed line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput.from_error(path, e) from None
    if not lines:
        raise BadInput(path, [("", "empty: not an atconform recording")])
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _bad(path, 1, "", f"not an atconform recording (no \"format\": \"{FORMAT}\" header)")
    if header.get("version") != VERSION:
        raise _bad(path, 1, "version", f"unknown format version {header.get('version')!r} "
                   f"(this atconform reads version {VERSION}; record the run again)")
    model = _text(header, "model", path, 1)
    prologue = Segment(PROLOGUE)
    current, tests, verdicts, complete, last_t = prologue, [], {}, False, 0.0
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise _bad(path, no, "", f"invalid JSON: {e.msg}") from None
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "io":
            d, t = obj.get("dir"), obj.get("t")
            if d not in ("tx", "rx"):
                raise _bad(path, no, "dir", "expected \"tx\" or \"rx\"")
            if not isinstance(t, (int, float)) or isinstance(t, bool):
                raise _bad(path, no, "t", "expected seconds (a number)")
            try:
                data = _text(obj, "data", path, no).encode("latin-1")
            except UnicodeEncodeError:
                raise _bad(path, no, "data", "expected bytes as Latin-1 text (characters up to U+00FF)") from None
            current.entries.append(Entry(float(t), d, data))
            last_t = float(t)
        elif kind == "test":
            current = Segment(_text(obj, "nodeid", path, no), _text(obj, "purpose", path, no, optional=True),
                              bool(obj.get("emulator_only", False)), t_before=last_t)
            tests.append(current)
        elif kind == "verdict":
            verdicts[_text(obj, "nodeid", path, no)] = (_text(obj, "verdict", path, no),
                                                       _text(obj, "reason", path, no, optional=True) or "")
        elif kind == "end":
            complete = True
        elif kind != "prologue":
            raise _bad(path, no, "type", f"unknown line type {kind!r}")
    return Recording(str(path), model, header, prologue, tests, verdicts, complete)


def load_dir(directory: str | Path, model: str | None = None) -> dict[str, Recording]:
    """The recordings in ``directory`` (``<model>.jsonl``), by model; only ``model``'s
    when given. Raises BadInput when the directory has none (or not ``model``'s) or one
    of them is bad."""
    d = Path(directory)
    if not d.is_dir():
        raise BadInput(d, [("", "no such directory (record one with pytest --record DIR)")])
    files = sorted(d.glob("*.jsonl")) if model is None else [d / f"{model}.jsonl"]
    out = {}
    for p in files:
        if not p.exists():
            raise BadInput(d, [("", f"no recording of {model} ({p.name}; record one with pytest --record DIR)")])
        rec = load(p)
        out[rec.model] = rec
    if not out:
        raise BadInput(d, [("", "no recording in it (*.jsonl; record one with pytest --record DIR)")])
    return out


class Writer:
    """Appends a model's recording, one line at a time, flushed at once (an interrupted
    run keeps what was recorded). ``header``: the header's extra fields (``clock``,
    ``peers``, ...). Every string is redacted (:mod:`atconform.redact`) once more on the way out."""

    def __init__(self, path: str | Path, model: str, header: dict[str, Any]):
        self.path = Path(path)
        self.f: IO[str] = open(self.path, "w", encoding="utf-8")
        self.tests = 0
        self._line({"format": FORMAT, "version": VERSION, "model": model, **header})
        self._line({"type": "prologue"})

    def _line(self, obj: dict) -> None:
        self.f.write(json.dumps(redact.redact_data(obj)) + "\n")
        self.f.flush()

    def io(self, entries: list[Entry]) -> None:
        """Entries already redacted (``Transcript.runs``); notes are not link bytes."""
        for e in entries:
            if e.direction in ("tx", "rx"):
                # latin-1 maps bytes 1:1 to characters, so the text is the bytes
                self._line({"type": "io", "t": round(e.t, 6), "dir": e.direction, "data": e.data.decode("latin-1")})

    def test(self, nodeid: str, purpose: str | None, emulator_only: bool) -> None:
        self.tests += 1
        self._line({"type": "test", "nodeid": nodeid, "purpose": purpose, "emulator_only": emulator_only})

    def verdict(self, nodeid: str, purpose: str | None, verdict: str, reason: str) -> None:
        self._line({"type": "verdict", "nodeid": nodeid, "purpose": purpose, "verdict": verdict, "reason": reason})

    def close(self) -> None:
        if not self.f.closed:
            self._line({"type": "end", "tests": self.tests})
            self.f.close()
