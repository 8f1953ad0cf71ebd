"""Offline transcript check: judge a capture from a lab or the field with the suite's engine
and spec, no modem attached (``atconform check TRANSCRIPT --model M``).

Input, recognised line by line (one file may mix them):

* the suite's own transcripts (``reports/transcripts/*.txt``, the AT transcript of a
  failing test): ``   +0.012 tx  AT+QIACT=1<CR>``, continuation lines indented, bytes as
  ``<CR>``, ``<LF>``, ``<SUB>``, ``<ESC>``, ``<1B>``;
* a logger dump with timestamps: ``[12:00:01.123] > AT+QIACT=1``,
  ``2024-05-01 12:00:01,123 RX: OK``, ``+12.5 <- OK``, ``0.031 TX AT`` (a time first, then a
  direction: ``>``/``<``, ``->``/``<-``, ``>>``/``<<``, ``TX``/``RX``, ``DTE``/``DCE``);
* a terminal paste: no time, no direction. A line that starts with the command prefix
  (``AT``, ``AT@``), ``+++`` or ``A/`` is the DTE's; anything else the DCE's. ``>`` starting a
  DCE line of a data command is its prompt, what follows it the DTE's payload
  (``>test1<ctrl+Z>``).

Lines starting with ``#`` are comments, and so is a tail `` // ...`` after blanks.

Every DCE line is typed by the same framer, response checker and URC checker the suites
use (:mod:`atconform.protocol.engine`). Per command line: **pass**, or **fail** with the
problems (a field out of range, information text that matches no response of the
command, a wrong or missing final result code, the final after the maximum response
time where the capture has times); a command the spec does not know is **skipped**.
Each unsolicited line gets its own verdict (an undeclared URC fails). The result is a
results JSON-lines file and the compliance JSON/HTML, ``atconform report``'s format.

A line that cannot be read (not text, a malformed ``<..>`` escape, a time that goes
backwards) is reported with its line number and left out; nothing in the input raises.
"""
from __future__ import annotations

import datetime as dt
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import atconform
from atconform.casegen.suite import command_name
from atconform.protocol.engine import AtEngine, Transaction, check_response, check_urc
from atconform.protocol.framer import Final, Prompt, Unparseable, UrcLine
from atconform.spec.models import Family

__all__ = ["CaptureLine", "CheckResult", "check_capture", "parse_capture"]

MAX_LINE = 64 * 1024        # longer physical lines are cut (and reported): a capture, not a file dump


@dataclass
class CaptureLine:
    """One line of a capture: ``no`` (1-based line in the file), ``t`` (seconds, None when
    the capture has no times), ``direction`` ("tx": DTE to DCE, "rx": DCE to DTE, or
    None: decided by its text), ``data`` (the bytes; for text formats the line without its
    end), ``raw`` (True: ``data`` is the exact bytes of the suite's transcript format)."""

    no: int
    t: float | None
    direction: str | None
    data: bytes
    raw: bool = False


_SUITE = re.compile(r"^\s*([+-]?\d+\.\d+) (tx|rx)  (.*)$")
_CONT = re.compile(r"^ {14}(.*)$")
_TOKEN = re.compile(r"<([^<>]{1,12})>")
_NAMED = {"CR": b"\r", "LF": b"\n", "SUB": b"\x1a", "ESC": b"\x1b", "CTRL+Z": b"\x1a", "CTRL-Z": b"\x1a",
          "CTRL Z": b"\x1a", "^Z": b"\x1a"}
_TS = (r"(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?|\d\d:\d\d:\d\d(?:[.,]\d+)?|[+]?\d+(?:\.\d+)?)")
_DIR = r"(?P<dir>>>|<<|->|<-|>|<|TX:?|RX:?|tx:?|rx:?|DTE:?|DCE:?)"
_LOGGED = re.compile(r"^\s*\[?" + _TS + r"\]?\s+" + _DIR + r"\s?(?P<text>.*)$")
_COMMENT = re.compile(r"\s+//.*$")     # "AT+QIACT=1   // activate": an application note's comment
_TX_DIRS = {">>", "->", ">", "TX", "tx", "DTE"}


class CaptureError(ValueError):
    """An input that is not a capture at all (no line could be read)."""


def _decode_tokens(text: str, no: int, problems: list[tuple[int, str]]) -> bytes | None:
    out = bytearray()
    pos = 0
    for m in _TOKEN.finditer(text):
        name = m.group(1).upper()
        if name in _NAMED:
            b = _NAMED[name]
        elif re.fullmatch(r"[0-9A-F]{2}", name):
            b = bytes([int(name, 16)])
        else:
            continue            # "<connectID>" in a manual's text stays text
        out += text[pos:m.start()].encode("latin-1", "replace")
        out += b
        pos = m.end()
    out += text[pos:].encode("latin-1", "replace")
    return bytes(out)


def _seconds(ts: str) -> float | None:
    ts = ts.replace(",", ".")
    try:
        if re.fullmatch(r"[+]?\d+(?:\.\d+)?", ts):
            return float(ts)
        if "-" in ts[:10] and len(ts) >= 19:
            d = dt.datetime.fromisoformat(ts.replace(" ", "T"))
            return d.timestamp() if d.tzinfo else d.replace(tzinfo=dt.timezone.utc).timestamp()
        h, m, s = ts.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        return None


def parse_capture(data: bytes) -> tuple[list[CaptureLine], list[tuple[int, str]]]:
    """Split a capture into lines (see the module docstring). Returns ``(lines,
    problems)``: ``problems`` are ``(line number, reason)`` for lines left out. Never
    raises."""
    problems: list[tuple[int, str]] = []
    lines: list[CaptureLine] = []
    if b"\x00" in data[:4096]:
        problems.append((1, "binary data (NUL bytes): not a text capture"))
        return [], problems
    text = data.decode("utf-8", "replace")
    last_t: float | None = None
    suite_open = False
    for no, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if len(line) > MAX_LINE:
            problems.append((no, f"line of {len(line)} characters cut to {MAX_LINE}"))
            line = line[:MAX_LINE]
        if "\ufffd" in line:
            problems.append((no, "not UTF-8 text: undecodable bytes replaced"))
        m = _SUITE.match(line)
        if m:
            t = float(m.group(1))
            payload = _decode_tokens(m.group(3), no, problems)
            lines.append(CaptureLine(no, t, m.group(2), payload or b"", raw=True))
            suite_open = True
            continue
        if suite_open:
            c = _CONT.match(line)
            if c and lines:
                lines[-1].data += _decode_tokens(c.group(1), no, problems) or b""
                continue
            suite_open = False
        if not line.strip() or line.lstrip().startswith("#"):
            continue            # blank, or a comment line
        line = _COMMENT.sub("", line)
        m = _LOGGED.match(line)
        if m and (m.group("dir") not in (">", "<") or any(ch in m.group("ts") for ch in ":.")):
            t = _seconds(m.group("ts"))
            if t is None:
                problems.append((no, f"unreadable time {m.group('ts')!r}"))
                continue
            if last_t is not None and t < last_t - 1e-6 and t >= 0:
                problems.append((no, f"time {m.group('ts')} goes backwards: line left out"))
                continue
            last_t = t
            direction = "tx" if m.group("dir").rstrip(":") in _TX_DIRS else "rx"
            lines.append(CaptureLine(no, t, direction, _decode_tokens(m.group("text"), no, problems) or b""))
            continue
        lines.append(CaptureLine(no, None, None, _decode_tokens(line.strip(), no, problems) or b""))
    return lines, problems


@dataclass
class Verdict:
    no: int
    kind: str           # "command" | "urc" | "line"
    text: str
    command: str | None
    form: str | None
    verdict: str
    reason: str
    section: str = ""
    source: str = ""
    key: str = ""       # the spec command's key for purpose ids (QIOPEN, ESCAPE)


@dataclass
class CheckResult:
    """The verdicts of a capture (one per command line and per unsolicited line), the
    lines left out (``(line number, reason)``) and the capture's lines in order."""

    verdicts: list[Verdict] = field(default_factory=list)
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    lines: int = 0

    def records(self, family: Family, source: str) -> list[dict[str, Any]]:
        """Result records (``atconform report``'s results JSON-lines format)."""
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        out: list[dict[str, Any]] = [{"type": "meta", "run_id": "check", "started": now, "model": family.model,
                                      "family_title": family.title, "mode": "offline check", "port": source,
                                      "argv": ["atconform", "check", source, "--model", family.model],
                                      "atconform_version": atconform.__version__, "python": platform.python_version()}]
        M = family.model.upper()
        for v in self.verdicts:
            key = (v.key or "UNKNOWN") if v.kind == "command" else v.kind.upper()
            pid = f"{M}/CHECK/L{v.no}/{key}" + (f"/{v.form.upper()}" if v.form else "")
            out.append({"type": "result", "purpose": pid, "title": f"line {v.no}: {v.text[:120]}",
                        "family": family.model, "command": v.command or ("(URCs)" if v.kind == "urc" else "(other lines)"),
                        "form": v.form, "section": v.section, "source": v.source, "kind": f"check-{v.kind}",
                        "verdict": v.verdict, "reason": v.reason, "duration": None, "finished": now})
        out.append({"type": "end", "run_id": "check", "finished": now})
        return out


def _text(b: bytes) -> str:
    return b.decode("latin-1").strip()


class _Checker:
    def __init__(self, family: Family):
        self.family = family
        self.engine = AtEngine(family)
        self.framer = self.engine.framer
        self.prefix = family.framing.prefix.upper()
        self.v250 = family.framing.style == "v250"
        self.result = CheckResult()
        self.pending: tuple[CaptureLine, Transaction] | None = None
        self.escaping: CaptureLine | None = None

    # -- DTE lines -------------------------------------------------------------------
    def is_tx(self, line: CaptureLine) -> bool:
        if line.direction is not None:
            return line.direction == "tx"
        t = _text(line.data).upper()
        return t.startswith(self.prefix) or t in ("+++", "A/")

    def tx(self, line: CaptureLine) -> None:
        text = line.data.decode("latin-1")
        if self.pending is not None and self.pending[1].response.prompt and self.pending[1].response.final is None:
            return      # the payload of a data command after its '>'
        if text.strip() == self.family.framing.escape_sequence and getattr(self.framer, "data_mode", False):
            try:
                self.framer.escape_written()
                self.escaping = line    # the OK that ends data mode answers this
            except Exception:
                pass
            return
        self.close_pending(line.t)
        cmd_line = text.rstrip("\r\n")
        term = self.family.framing.terminator
        if line.raw:        # the exact bytes: a terminator ends the command line
            cmd_line = cmd_line.split(term)[0]
        elif term != "\r" and cmd_line.strip().endswith(term):
            cmd_line = cmd_line.strip()[: -len(term)]     # AT@...$: the engine adds the "$"
        try:
            _, match = self.engine.command(cmd_line.strip() if not line.raw else cmd_line)
        except Exception as e:          # never let one odd line stop the check
            self.add(line, "command", None, None, "error", f"the engine could not take this line: {e}")
            return
        t = Transaction(cmd_line.strip(), match, line.t or 0.0)
        self.pending = (line, t)
        if not line.raw and self.v250 and getattr(self.framer, "echo", False):
            self.feed(cmd_line.strip().encode("latin-1") + b"\r", line)   # a paste shows the echo

    # -- DCE lines -------------------------------------------------------------------
    def rx(self, line: CaptureLine) -> None:
        if line.raw:
            self.feed(line.data, line)
            return
        text = line.data
        p = self.pending
        if (p is not None and text.startswith(b">") and not p[1].response.prompt
                and p[1].response.final is None and self.v250):
            self.feed(self.family.framing.prompt.encode("latin-1"), line)
            return          # what follows the prompt is the DTE's payload
        if not self.v250:
            self.feed(text + b"\r\n", line)
        elif getattr(self.framer, "mode", None) is not None and self.framer.mode.name in ("PAYLOAD", "DATA"):
            self.feed(text + self.family.framing.s3.encode() + self.family.framing.s4.encode(), line)
        else:
            s = (self.family.framing.s3 + self.family.framing.s4).encode()
            self.feed(s + text + s, line)

    def feed(self, data: bytes, line: CaptureLine) -> None:
        try:
            events = self.engine.feed(data)
        except Exception as e:
            self.add(line, "line", None, None, "error", f"the framer could not take this line: {e}")
            try:
                self.framer.reset_input()
            except Exception:
                pass
            return
        for ev in events:
            p = self.pending
            if isinstance(ev, UrcLine):
                problems = check_urc(self.family, ev)
                name = ev.urc.name if ev.urc is not None else None
                self.add(line, "urc", f"URC {name}" if name else "undeclared URCs", None, "fail" if problems else "pass",
                         "; ".join(problems), text=ev.text)
                continue
            if p is None and self.escaping is not None and isinstance(ev, Final):
                esc, self.escaping = self.escaping, None
                cmd = next((c for c in self.family.commands if c.syntax == "escape"), None)
                ok = ev.kind == "ok"
                self.add(esc, "command", cmd.name if cmd else None, None, "pass" if ok else "fail",
                         "" if ok else f"{self.family.framing.escape_sequence}: data mode ended with {ev.text!r}, "
                                       "expected OK", text=self.family.framing.escape_sequence, cmd=cmd)
                continue
            if p is None:
                if isinstance(ev, Unparseable):
                    self.add(line, "line", None, None, "fail", f"unparseable line {ev.text!r}: {ev.reason}")
                elif isinstance(ev, Final):
                    self.add(line, "line", None, None, "fail", f"final result code {ev.text!r} with no command pending")
                elif getattr(ev, "text", None) and not isinstance(ev, Prompt):
                    self.add(line, "line", None, None, "fail", f"line {ev.text!r} with no command pending")
                continue
            if p[1].add(ev, line.t or 0.0):
                self.finish(p, line.t)

    # -- verdicts ----------------------------------------------------------------------
    def finish(self, p, now: float | None) -> None:
        line, t = p
        self.pending = None
        r = t.response
        m = r.match
        if m is None:
            self.add(line, "command", None, None, "skipped", f"{r.line!r} is not a command of specs/{self.family.model}.yaml: "
                     "not judged", text=r.line)
            return
        problems = [str(x) for x in check_response(self.family, r)]
        limit = self.family.max_response_time(m.command, m.variant)
        if line.t is not None and r.final_at is not None and r.final_at - line.t > limit:
            problems.append(f"{r.line}: final result code after {r.final_at - line.t:.3f} s, "
                            f"the maximum response time is {limit:g} s")
        self.add(line, "command", m.command.name, m.form.kind.value, "fail" if problems else "pass",
                 "; ".join(problems), text=r.line, cmd=m.command)

    def close_pending(self, now: float | None) -> None:
        if self.pending is None:
            return
        line, t = self.pending
        if t.response.final is not None:          # a final came, follow lines did not
            self.finish(self.pending, now)
            return
        self.pending = None
        m = t.response.match
        reason = f"{t.response.line}: no final result code before the next command line"
        if m is None:
            self.add(line, "command", None, None, "skipped", f"{t.response.line!r} is not a command of "
                     f"specs/{self.family.model}.yaml: not judged ({reason})", text=t.response.line)
        else:
            self.add(line, "command", m.command.name, m.form.kind.value, "fail", reason, text=t.response.line,
                     cmd=m.command)

    def add(self, line: CaptureLine, kind: str, command, form, verdict: str, reason: str, *, text: str | None = None,
            cmd=None) -> None:
        label = command_name(self.family, cmd.name) if cmd is not None else command
        self.result.verdicts.append(Verdict(
            line.no, kind, text if text is not None else _text(line.data), label, form, verdict, reason,
            section=cmd.source.section if cmd is not None else "", source=str(cmd.source) if cmd is not None else "",
            key=cmd.key if cmd is not None else ""))


def check_capture(family: Family, data: bytes) -> CheckResult:
    """Judge a capture (bytes of a file) against ``family``'s spec. Never raises for any
    input; lines that cannot be read are in ``unreadable``."""
    lines, problems = parse_capture(data)
    c = _Checker(family)
    c.result.unreadable = problems
    c.result.lines = len(lines)
    for line in lines:
        try:
            c.tx(line) if c.is_tx(line) else c.rx(line)
        except Exception as e:      # a checker bug must cost one line, not the check
            c.result.unreadable.append((line.no, f"internal error on this line: {type(e).__name__}: {e}"))
    try:
        c.close_pending(None)
    except Exception as e:
        c.result.unreadable.append((0, f"internal error at the end: {type(e).__name__}: {e}"))
    return c.result


def check_file(path: str | Path, family: Family) -> CheckResult:
    """:func:`check_capture` of a file. Raises OSError when it cannot be read."""
    return check_capture(family, Path(path).read_bytes())
