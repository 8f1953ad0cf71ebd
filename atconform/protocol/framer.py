"""Sans-I/O response framer: bytes from the DCE in, protocol events out.

Implements the DCE response format of ITU-T V.250 §5.7 as BG96-family modems use it:

* verbose (ATV1): ``<S3><S4>text<S3><S4>`` for information text and result codes;
* numeric (ATV0): information text ``text<S3><S4>``, result codes ``<code><S3>``;
* echo (ATE1) of the command line as typed, terminated by S3;
* the ``>`` prompt of data commands (AT+QISEND) with no line terminator;
* URCs at any point, including between a command's echo and its final result code;
* information text followed by a raw payload whose length a field announces
  (``+QIRD: 5<CR><LF>`` then 5 bytes, which may themselves contain ``OK<CR><LF>``);
* transparent data mode after CONNECT: bytes pass through as :class:`Data` until
  ``NO CARRIER`` or, after the DTE's escape sequence, ``OK``.

Bad input from the DCE is a finding, never an exception: a line longer than
``Framing.max_line_length``, or one announcing a payload length outside its parameter's
range, becomes an :class:`Unparseable` event and the framer resynchronises at the next
line. Numbers are ASCII digits only (``str.isdigit`` also accepts ``²``), bounded in
length before conversion. Unterminated input is scanned once, however it is chunked.

Feed bytes in any chunking with :meth:`Framer.feed`; tell it what the DTE sent with
:meth:`Framer.command_sent`. No clock, no I/O.
"""
from __future__ import annotations

import enum
import re

from dataclasses import dataclass
from typing import Callable, Sequence

from atconform.protocol.commands import settings_hold
from atconform.spec.models import Family, ResultCode, Urc
from atconform.spec.template import Lit, Template, TemplateError
from atconform.spec.values import check_value


# ------------------------------------------------------------------------------ events
@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class Echo(Event):
    text: str


@dataclass(frozen=True)
class InfoLine(Event):
    """Information text of the pending command; ``payload`` when a length was announced."""

    text: str
    payload: bytes | None = None


@dataclass(frozen=True)
class UrcLine(Event):
    """An unsolicited result code; ``urc`` is None when no declared template matches."""

    text: str
    urc: Urc | None = None
    payload: bytes | None = None


@dataclass(frozen=True)
class Final(Event):
    """A final result code. ``code`` is the number of ``+CME ERROR: <n>``, or the numeric
    form under ATV0; ``result`` is the spec's result code."""

    text: str
    result: ResultCode | None
    code: int | None = None
    framing: str | None = None    # how its framing deviates from V.250 §5.7.1, or None
    # the connection index before the result code ("0, CLOSE OK", Framing.result_index_prefix)
    index: int | None = None
    # lines that belong to the command follow it within this many seconds (Variant.follow)
    follows: float | None = None

    @property
    def kind(self) -> str:
        return self.result.kind if self.result else "other"


@dataclass(frozen=True)
class Intermediate(Event):
    """A result code that does not end the pending command: a CONNECT of a command whose
    spec variant does not name it ``data_mode_entry`` (an AT+QFUPL-style fixed-size
    upload, which returns to command mode by itself), or the OK closing a stage of a
    two-stage answer (``Variant.stages``, Fibocom HEX-mode AT+MIPSEND). The framer stays
    in command mode and the command stays pending; the DTE may write its upload now."""

    text: str
    result: ResultCode | None


@dataclass(frozen=True)
class FreeText(Event):
    """Unsolicited text: a line that arrived while a spec command was pending, matches
    none of that command's response templates (a raw ``<text>`` template matches
    anything) and no URC (boot debug output, another layer's log). Not part of the
    response; the running test fails with it (``reason`` in words), the link goes on."""

    text: str
    reason: str


@dataclass(frozen=True)
class Follow(Event):
    """A line that came after the pending command's success final result code and belongs
    to it (``Variant.follow``: GSM OK, then ``CONNECT OK``). ``step``: the index of the
    variant's follow line it is; ``done``: the command's follow lines are complete with
    it (a repeating one may still go on); ``within``: seconds in which the next must come
    when not done."""

    text: str
    step: int
    done: bool
    within: float | None = None


@dataclass(frozen=True)
class Prompt(Event):
    text: str = "> "


@dataclass(frozen=True)
class Data(Event):
    """Raw bytes in transparent data mode."""

    data: bytes


@dataclass(frozen=True)
class Unparseable(Event):
    """A DCE line the framer could not take as the spec allows: ``text`` (at most
    :data:`SHOWN` characters of it, latin-1) and ``reason`` in words. The test that was
    running fails with it; the link goes on."""

    text: str
    reason: str


SHOWN = 200                     # characters of an unparseable line kept for the report
# Announced payload lengths are bounded by their parameter's range; a length field with
# no range in the spec is bounded by this (bytes), so a bad header never swallows the link.
DEFAULT_MAX_PAYLOAD = 1 << 20
_DIGITS = re.compile(r"[0-9]{1,6}")     # ASCII digits only, bounded before int()


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


# ------------------------------------------------------------------------------ modes
class Mode(enum.Enum):
    """What the framer takes the next DCE bytes to be."""

    COMMAND = "command"      # lines: echo, information text, result codes, URCs, '>'
    PAYLOAD = "payload"      # the n bytes a header line announced
    DATA = "data"            # transparent data mode, after CONNECT (V.250 §5.7, §6.3.7)
    ESCAPING = "escaping"    # data mode after the DTE's escape sequence: OK ends it


class FramerStateError(RuntimeError):
    """An event the current mode has no transition for (a bug of the caller)."""


# (mode, event) -> next mode, in the manner of h11's _state.py: every mode change goes
# through this table. DTE-side events ("escape_written", "reset") come from the engine;
# DCE-side ones from the bytes themselves.
TRANSITIONS: dict[tuple[Mode, str], Mode] = {
    (Mode.COMMAND, "connect"): Mode.DATA,
    (Mode.COMMAND, "payload"): Mode.PAYLOAD,
    (Mode.PAYLOAD, "payload_done"): Mode.COMMAND,
    (Mode.DATA, "escape_written"): Mode.ESCAPING,
    (Mode.DATA, "no_carrier"): Mode.COMMAND,
    (Mode.ESCAPING, "escape_written"): Mode.ESCAPING,
    (Mode.ESCAPING, "ok"): Mode.COMMAND,
    (Mode.ESCAPING, "no_carrier"): Mode.COMMAND,
    # a URC that means the DCE left data mode by itself (Urc.ends_data_mode: GSM CLOSED)
    (Mode.DATA, "urc_exit"): Mode.COMMAND,
    (Mode.ESCAPING, "urc_exit"): Mode.COMMAND,
    **{(m, "reset"): Mode.COMMAND for m in Mode},
}


# ------------------------------------------------------------------------------ framer
@dataclass
class Pending:
    """What the DTE expects after sending a command line."""

    line: str
    templates: Sequence[tuple[Template, str | None]] = ()   # (template, payload length field)
    prompt: bool = False
    echo_seen: bool = False
    known: bool = False              # the spec has the command: its templates judge its text
    data_mode_entry: str | None = None   # the result code that enters data mode (CONNECT)
    prompted: bool = False           # its '>' came: lines now may echo the data (AT+QISDE)
    echo_expected: bool = False      # echo was on when it was sent: its echo comes first
    follow: tuple["FollowStep", ...] = ()   # lines after its success final (Variant.follow)
    reply_ends: bool = False         # its reply line ends it (final: []); then nothing is pending
    stages: int = 1                  # success finals still to come (Variant.stages)


PayloadRule = Callable[[Urc, dict], "int | None"]
_INDEX_PREFIX = re.compile(r"([0-9]{1,2}), (.+)")      # "0, CLOSE OK" (result_index_prefix)
_GLUED_HEAD = 64          # bytes searched for a header glued to its data (IPD30TCP:)


@dataclass(frozen=True)
class FollowStep:
    """One ``Variant.follow`` line compiled: its alternatives (template, repeats) under
    the settings in force, ``count``, ``max_time`` (seconds) and ``data_mode_entry``."""

    alternatives: tuple[tuple[Template, bool], ...]
    count: int | None = None
    max_time: float = 60.0
    data_mode_entry: str | None = None

    def match(self, text: str) -> tuple[Template, bool] | None:
        for tpl, repeat in self.alternatives:
            # a template that is one bare field ("<ip>") takes a line only when its value
            # is valid: otherwise any URC would pass for it
            if tpl.matches(text) and (tpl.literal_prefix or not tpl.parse(text).problems):
                return tpl, repeat
        return None


class _Following:
    """The follow lines still expected after a final result code."""

    def __init__(self, steps: Sequence[FollowStep]):
        self.steps = list(steps)
        self.i = 0
        self.n = 0
        self.repeat_ok = False       # the current step is a repeating line seen once: may end

    @property
    def over(self) -> bool:
        return self.i >= len(self.steps)

    def _advance(self) -> None:
        self.i, self.n, self.repeat_ok = self.i + 1, 0, False

    def take(self, text: str) -> tuple[int, bool, float | None, bool] | None:
        """(step, done, within, enters data mode) when ``text`` is the next follow line."""
        for attempt in range(2):
            if self.over:
                return None
            st = self.steps[self.i]
            hit = st.match(text)
            if hit is None:
                if self.repeat_ok and attempt == 0:
                    self._advance()          # a satisfied repeat: the next step may take it
                    continue
                return None
            tpl, repeat = hit
            step = self.i
            self.n += 1
            if st.count is not None:
                if self.n >= st.count:
                    self._advance()
            elif repeat:
                self.repeat_ok = True
            else:
                self._advance()
            last_repeat = self.i == len(self.steps) - 1 and self.repeat_ok
            done = self.over or last_repeat
            within = None if done else self.steps[min(self.i + (1 if self.repeat_ok else 0), len(self.steps) - 1)].max_time
            return step, done, within, st.data_mode_entry is not None and tpl.src == st.data_mode_entry
        return None

_PLUS_PREFIX = re.compile(r"\+[A-Za-z0-9]+(?=:)")


def _foreign_prefix(text: str, p: Pending) -> bool:
    """``text`` starts with "+NAME:" and NAME is neither the pending command's name nor
    the prefix of one of its response templates."""
    m = _PLUS_PREFIX.match(text)
    if m is None:
        return False
    own = {t.src.split(":", 1)[0] for t, _ in p.templates if t.src.startswith("+")}
    cmd = re.match(r"(?i)AT(\+[A-Za-z0-9]+)", p.line)
    if cmd:
        own.add(cmd.group(1).upper())
    return m.group(0).upper() not in {o.upper() for o in own}


class Framer:
    """Turns DCE bytes into events. ``family`` gives result codes and URC templates;
    ``urc_payload`` decides how many payload bytes follow a URC (default: the URC's
    declared payload field)."""

    def __init__(self, family: Family, urc_templates: Sequence[tuple[Urc, Template]],
                 urc_payload: PayloadRule | None = None):
        self.family = family
        self.fr = family.framing
        self.urc_templates = list(urc_templates)
        self.urc_payload = urc_payload or self._declared_payload
        self.verbose = family.framing.verbose_default
        # echo (V.250 §6.2.4) as last seen: True once the DCE echoed a line or after ATE1,
        # False after ATE0, None before either is known
        self.echo: bool | None = None
        self.pending: Pending | None = None
        self.mode = Mode.COMMAND
        self.payload_scale = 1                 # 2 while payloads are hex digits (BG96 dataformat)
        self._prompt_space = False
        self._buf = bytearray()
        self._scanned = 0                      # leading bytes of _buf known to hold no CR/LF
        self._discarding = False               # inside an over-long line: drop to its end
        self.max_line = family.framing.max_line_length
        self._need: int | None = None          # payload bytes still expected
        self._payload_owner: InfoLine | UrcLine | None = None
        self._payload = bytearray()
        self._numeric = {r.numeric: r for r in family.result_codes if r.numeric is not None}
        # S3/S4 and the prompt from the spec (V.250 §6.2.1-6.2.2: S3 13, S4 10 by default)
        self._s3b, self._s4b = self.fr.s3.encode("latin-1"), self.fr.s4.encode("latin-1")
        self._s3, self._s4 = self._s3b[0], self._s4b[0]
        prompt = self.fr.prompt.encode("latin-1")
        self._prompt_head, self._prompt_rest = prompt[:1], prompt[1:2]
        # what ends transparent data mode, framed as the spec's S3/S4 frame verbose codes
        eol = (self.fr.s3 + self.fr.s4).encode("latin-1")
        self._markers = {kind: eol + next((r.text for r in family.result_codes if r.kind == kind), default).encode("latin-1") + eol
                         for kind, default in (("ok", "OK"), ("no_carrier", "NO CARRIER"))}
        self._finals = sorted((r for r in family.result_codes if r.final),
                              key=lambda r: -len(r.text))
        # module settings (Family.settings) in force, name -> value; None: unknown (every
        # URC shape possible). The engine sets it.
        self.settings: Callable[[], dict] | None = None
        self._line_start = True        # the next bytes start a line (after S3 S4, or at the start)
        self._following: _Following | None = None
        # headers glued to their data (DataPayload.separator "", GSM IPD30TCP:<data>),
        # URCs that enter data mode (GSM CONNECT after REMOTE IP) and those that end it
        self._glued = [(u, t) for u, t in self.urc_templates if u.payload is not None and u.payload.separator == ""
                       and t.nodes and isinstance(t.nodes[-1], Lit)]
        self._entry_urcs = [(u, t) for u, t in self.urc_templates if u.data_mode_entry]
        # lines the spec declares for some command (responses, follow lines with a literal
        # head): never data of a catch-all "<data>" URC (GSM raw data), so a misplaced
        # "SERVER OK" stays an undeclared URC
        self._declared: list[Template] = []
        if any(_catch_all(t) for _, t in self.urc_templates):
            from atconform.protocol.commands import template_for
            for c in family.commands:
                for f in c.forms:
                    if f.kind.value == "test":
                        continue
                    for v in f.variants:
                        srcs = [r.template for r in v.responses] + [a.template for fl in v.follow for a in fl.alternatives]
                        self._declared += [t for t in (template_for(c, s) for s in srcs) if t.literal_prefix]
        self._exit_urcs: list[tuple[bytes, Urc, str]] = []
        for u, t in self.urc_templates:
            if u.ends_data_mode:
                try:
                    shown = t.render({})
                except TemplateError:
                    continue
                self._exit_urcs.append((eol + shown.encode("latin-1") + eol, u, shown))

    # -- DTE side notifications ----------------------------------------------------
    def command_sent(self, line: str, templates: Sequence[tuple[Template, str | None]] = (),
                     *, prompt: bool = False, known: bool = False,
                     data_mode_entry: str | None = None, stages: int = 1) -> None:
        """The DTE wrote ``line`` (without S3). ``templates`` are the information-text
        templates of the command (with the payload length field, if any); ``known``: the
        spec has the command, so a line none of them matches is :class:`FreeText`, not
        its information text; ``prompt``: a ``>`` may come; ``data_mode_entry``: the
        result code (``CONNECT``) with which it enters transparent data mode (any other
        CONNECT is an :class:`Intermediate`); ``stages``: how many success result codes end
        it (a two-stage answer, OK ... OK: the first is an :class:`Intermediate`)."""
        self.pending = Pending(line, tuple(templates), prompt, known=known, data_mode_entry=data_mode_entry,
                               echo_expected=bool(self.echo), stages=stages)
        self._following = None
        self._track_settings(line)

    def after_final(self, follow: Sequence[FollowStep] = (), reply_ends: bool = False) -> None:
        """What follows the pending command's final result code: ``follow`` lines
        (:class:`Follow` events), or, with ``reply_ends``, no final at all (its first reply
        line ends it: GSM AT+QILOCIP). Called right after :meth:`command_sent`."""
        if self.pending is not None:
            self.pending.follow = tuple(follow)
            self.pending.reply_ends = reply_ends
        self._following = None

    @property
    def following(self) -> bool:
        """Lines of the last command may still follow its final (a repeating follow line)."""
        return self._following is not None

    def _active(self, urc: Urc) -> bool:
        """``urc`` can come under the settings in force (Urc.settings)."""
        return not urc.settings or self.settings is None or settings_hold(urc.settings, self.settings())

    # -- mode --------------------------------------------------------------------------
    def _to(self, event: str) -> None:
        try:
            self.mode = TRANSITIONS[(self.mode, event)]
        except KeyError:
            raise FramerStateError(f"{event!r} in mode {self.mode.value}") from None

    @property
    def data_mode(self) -> bool:
        """Transparent data mode (after CONNECT, until NO CARRIER or OK after +++)."""
        return self.mode in (Mode.DATA, Mode.ESCAPING)

    @property
    def escape_sent(self) -> bool:
        return self.mode is Mode.ESCAPING

    def reset_input(self) -> None:
        """Forget buffered, unframed DCE bytes (after the channel caught a framer bug, so
        the same bytes cannot raise again). Modes and the pending command are kept."""
        self._buf.clear()
        self._scanned = 0
        self._discarding = False
        self._need = None
        self._payload_owner = None
        self._payload = bytearray()
        if self.mode is Mode.PAYLOAD:
            self._to("reset")

    def escape_written(self) -> None:
        """The DTE wrote the escape sequence (+++) in data mode: an OK ends data mode.
        Raises FramerStateError outside data mode."""
        self._to("escape_written")

    def _track_settings(self, line: str) -> None:
        # ATV0/ATV1 change the format of every later response, including this one's.
        body = line[2:] if line[:2].upper() == "AT" else line
        i = 0
        up = body.upper()
        while i < len(up):
            c = up[i]
            if c in "+&@":  # extended command: no more basic commands on this line
                break
            j = i + 1
            while j < len(up) and up[j] in "0123456789":
                j += 1
            if j < len(up) and not (up[j].isalpha() or up[j] in "+&@"):
                break   # a malformed line ('ATE"A"', 'ATE1,1'): the DCE rejects it, nothing changes
            # V.250 §5.3.1: an omitted value is 0; E and V take 0 or 1 (ATE2 is rejected)
            value = up[i + 1:j] or "0"
            if c == "V" and value in ("0", "1"):
                self.verbose = value == "1"
            elif c == "E" and value in ("0", "1"):
                self.echo = value == "1"
            i = j

    # -- DCE bytes -----------------------------------------------------------------
    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        out: list[Event] = []
        while True:
            ev = self._step()
            if ev is None:
                break
            if ev is not _CONTINUE:
                out.append(ev)
        return out

    def _step(self):
        buf = self._buf
        if not buf:
            return None
        if self.mode is not Mode.COMMAND:
            self._scanned = 0            # these consume from the front: rescan after them
            return self._take_payload() if self.mode is Mode.PAYLOAD else self._data_mode_step()
        # skip line separators
        i = 0
        while i < len(buf) and buf[i] in (self._s3, self._s4):
            i += 1
        if i:
            del buf[:i]
            self._scanned = 0
            self._discarding = False     # the over-long line ended at these separators
            self._line_start = True      # a header: what follows is a line
            return _CONTINUE
        if self._prompt_space:
            # the space of "> " that arrived after the ">"
            self._prompt_space = False
            if self._prompt_rest and buf[:1] == self._prompt_rest:
                del buf[:1]
                self._scanned = 0        # consumed from the front: rescan
                return _CONTINUE
        if self._glued and not self._discarding:
            ev = self._glued_header()
            if ev is not None:
                return ev
        # (a '>' inside an over-long line being dropped is part of that line)
        if self.pending and self.pending.prompt and not self._discarding and buf[:1] == self._prompt_head:
            del buf[:1]
            self._scanned = 0
            self._prompt_space = True
            self.pending.prompt = False
            self.pending.prompted = True
            return Prompt(self.fr.prompt)
        if not self._line_start and not self._discarding and self._unframed():
            # Family.unframed_data (Fibocom IPRFMT 1): bytes where no line starts (no S3 S4
            # header before them) are received data, up to the next S3
            k = buf.find(self._s3b)
            data = bytes(buf if k < 0 else buf[:k])
            del buf[:len(data)]
            self._scanned = 0
            return Data(data)
        end = self._line_end()
        if end < 0:
            if self._discarding:
                del buf[:]                # more of a line already reported
                self._scanned = 0
                return None
            if len(buf) > self.max_line:
                # no terminator within the limit: report once, drop up to the line's end
                text = bytes(buf[:SHOWN]).decode("latin-1")
                del buf[:]
                self._scanned = 0
                self._discarding = True
                return self._too_long(text)
            return None
        cr = end if buf[end] == self._s3 else -1
        raw = bytes(buf[:end])
        # a line ended by a lone CR, with the next byte unknown yet
        lone_cr = end == cr and (end + 1 >= len(buf) or buf[end + 1] != self._s4)
        # (an over-long line is not held for it: it is reported now, the LF is a separator)
        if lone_cr and end + 1 >= len(buf) and not self._discarding and len(raw) <= self.max_line:
            if not self._may_end_at_cr(raw.decode("latin-1")):
                self._scanned = end
                return None  # wait: LF may follow
        consumed = end + 1
        if end == cr and end + 1 < len(buf) and buf[end + 1] == self._s4:
            consumed += 1
        del buf[:consumed]
        self._scanned = 0
        self._line_start = False
        if self._discarding:
            self._discarding = False     # the rest of an over-long line, already reported
            return _CONTINUE
        if len(raw) > self.max_line:
            return self._too_long(raw[:SHOWN].decode("latin-1"))
        # S4 alone ended it (no S3 before it): V.250 §5.7.1 frames a verbose result code
        # as <S3><S4>text<S3><S4>, so a final so framed is a deviation, parsed on
        return self._line(raw.decode("latin-1"), lone_cr, lf_alone=end != cr)

    def _glued_header(self):
        """A header glued to its data at the start of the buffer (``IPD30TCP:``): the
        payload starts right after it. None when no active glued URC starts here (yet)."""
        head = bytes(self._buf[:_GLUED_HEAD]).decode("latin-1")
        for urc, tpl in self._glued:
            if not self._active(urc):
                continue
            m = tpl.prefix_regex().match(head)
            if m is None:
                continue
            header = m.group(0)
            parsed = tpl.parse(header, check_ranges=False)
            n = parsed.values.get(urc.payload.length_field) if parsed is not None else None
            if not isinstance(n, int):
                continue
            del self._buf[:len(header)]
            self._scanned = 0
            why = self._bad_length(tpl, urc.payload.length_field, n)
            if why:
                return Unparseable(_cut(header), why)
            if n <= 0:
                return UrcLine(header, urc, b"")
            return self._start_payload(UrcLine(header, urc), n * self.payload_scale)
        return None

    def _too_long(self, head: str) -> Unparseable:
        # the same event whether the line's end was in this read or not
        return Unparseable(head + "...", f"line longer than {self.max_line} bytes "
                           "(Framing.max_line_length)")

    def _line_end(self) -> int:
        """Index of the first CR or LF in the buffer, or -1; bytes already searched are
        not searched again (one byte per read must not cost the whole buffer)."""
        buf = self._buf
        start = self._scanned
        cr = buf.find(self._s3b, start)
        lf = buf.find(self._s4b, start, cr if cr >= 0 else len(buf))
        end = lf if lf >= 0 else cr
        if end < 0:
            self._scanned = len(buf)
        return end

    def _may_end_at_cr(self, text: str) -> bool:
        # echo and ATV0 result codes end with a bare S3; everything else ends with S3 S4
        p = self.pending
        if p and not p.echo_seen and text == p.line:
            return True
        return not self.verbose and _DIGITS.fullmatch(text) is not None

    def _line(self, text: str, lone_cr: bool, lf_alone: bool = False):
        p = self.pending
        if p and not p.echo_seen and text == p.line:
            p.echo_seen = True
            if self.echo is None:
                self.echo = True
            return Echo(text)
        if self._following is not None:
            hit = self._following.take(text)
            if hit is not None:
                step, done, within, enters = hit
                if self._following.over:
                    self._following = None
                if enters and self.mode is Mode.COMMAND:
                    self._following = None
                    self._to("connect")     # V.250 §6.3.1: online data state after CONNECT
                return Follow(text, step, done, within)
        if p is None and self.mode is Mode.COMMAND:
            for urc, tpl in self._entry_urcs:
                if self._active(urc) and tpl.matches(text):
                    self._to("connect")     # an unsolicited CONNECT (Urc.data_mode_entry)
                    return UrcLine(text, urc)
        if not self.verbose and lone_cr and _DIGITS.fullmatch(text) and int(text) in self._numeric:
            return self._final(text, self._numeric[int(text)], int(text))
        result, code = self._match_final(text)
        index = None
        if result is None and self.fr.result_index_prefix:
            im = _INDEX_PREFIX.fullmatch(text)
            if im is not None:
                result, code = self._match_final(im.group(2))
                index = int(im.group(1)) if result is not None else None
        if result is not None:
            framing = None
            if lf_alone and self.verbose:
                framing = (f"final result code {text!r} ends in S4 alone; V.250 §5.7.1 frames "
                           "it <S3><S4>text<S3><S4>")
            return self._final(text, result, code, framing, index)
        # Classification needs a line's shape only; values are parsed just for a payload
        # length (typed checks are the checker's job, off the reader thread).
        if p is not None:
            for tpl, length_field in p.templates:
                if not tpl.matches(text):
                    continue
                if p.reply_ends and not tpl.literal_prefix and tpl.parse(text).problems:
                    continue        # a bare "<ip>" reply takes only a valid value, not any URC
                ev = InfoLine(text)
                if p.reply_ends:
                    self.pending = None     # the reply ended the command (final: [])
                if length_field:
                    parsed = tpl.parse(text, check_ranges=False)
                    n = parsed.values.get(length_field)
                    why = self._bad_length(tpl, length_field, n) or (
                        "; ".join(parsed.problems) if length_field in parsed.raw and n is None else None)
                    if why:
                        return Unparseable(_cut(text), why)
                    if isinstance(n, int) and n > 0:
                        return self._start_payload(ev, n * self.payload_scale)
                return ev
        # Same-shaped URCs (BG96 "recv",<id>,<len> with and without payload) are told
        # apart by the payload rule: a payload URC wins only when its rule gives a length.
        matches = []
        bad_length = None         # a payload URC whose length field is no usable number
        for urc, tpl in self.urc_templates:
            if not self._active(urc):
                continue
            if _catch_all(tpl) and self._declared_elsewhere(text):
                continue
            if tpl.matches(text):
                values = {}
                if urc.payload:
                    parsed = tpl.parse(text, check_ranges=False)
                    values = parsed.values
                    if urc.payload.length_field in parsed.raw and urc.payload.length_field not in values:
                        bad_length = "; ".join(parsed.problems)
                matches.append((urc, values))
        for urc, values in matches:
            if urc.payload and bad_length and self.urc_payload(urc, {**values, urc.payload.length_field: 1}):
                return Unparseable(_cut(text), f"announced payload length: {bad_length}")
            n = self.urc_payload(urc, values) if urc.payload else None
            if n:
                tpl = next(t for u, t in self.urc_templates if u is urc)
                why = self._bad_length(tpl, urc.payload.length_field, values.get(urc.payload.length_field))
                if why:
                    return Unparseable(_cut(text), why)
                return self._start_payload(UrcLine(text, urc), n)
        for urc, _ in matches:
            if urc.payload is None:
                return UrcLine(text, urc)
        fallback = matches[0][0] if matches else None
        if fallback is not None:
            return UrcLine(text, fallback)
        if p is not None and not _foreign_prefix(text, p) and not self._urc_prefixed(text, p):
            if p.known and not p.prompted and _PLUS_PREFIX.match(text) is None:
                # the spec gives this command's responses and this is none of them (a raw
                # "<text>" template would have matched above), nor does it carry the
                # command's own "+NAME:" (that is its information text, malformed, for
                # the checker to judge): not its information text
                return FreeText(_cut(text), f"unsolicited text while {p.line!r} was pending: "
                                "it matches no response of the command and no URC")
            # a command the spec lacks cannot be judged; after '>' the DCE may echo the
            # data (AT+QISDE=1, §2.1.16)
            return InfoLine(text)
        # No command pending, a "+NAME:" line that is none of the pending command's
        # (27.007 §4.1: information text carries the command's own prefix), or a line
        # with one of the spec's URC prefixes (Framing.urc_prefixes) that no URC template
        # matched: an undeclared URC, which the URC monitor reports instead of losing it.
        return UrcLine(text, None)

    def _declared_elsewhere(self, text: str) -> bool:
        """``text`` has a shape the spec gives another meaning: a result code, a URC
        prefix, a ``+NAME:`` information text, a command's response or follow line."""
        if self._match_final(text)[0] is not None or _PLUS_PREFIX.match(text) is not None:
            return True
        if any(text.startswith(px) for px in self.fr.urc_prefixes):
            return True
        return any(t.matches(text) for t in self._declared)

    def _unframed(self) -> bool:
        """Data with no header may come now: the family has unframed data
        (``Family.unframed_data``) under the settings in force, and no echo of the pending
        command is due (its echo has no header either)."""
        uf = self.family.unframed_data
        if uf is None or self.settings is None or not settings_hold(uf.settings, self.settings()):
            return False
        p = self.pending
        return not (p is not None and not p.echo_seen and self._buf.startswith(p.line.encode("latin-1")[:len(self._buf)]))

    def _urc_prefixed(self, text: str, p: Pending) -> bool:
        """``text`` starts with one of ``framing.urc_prefixes`` that is not the pending
        command's own information-text prefix."""
        own = {t.src.split(":", 1)[0] for t, _ in p.templates if ":" in t.src}
        return any(text.startswith(px) and px.split(":", 1)[0] not in own for px in self.fr.urc_prefixes)

    @staticmethod
    def _bad_length(tpl: Template, field: str, n) -> str | None:
        """Why an announced payload length ``n`` cannot be waited for, or None."""
        if not isinstance(n, int):
            return None
        p = tpl.lookup(field)
        why = check_value(p, n)
        if why:
            return f"announced payload length: {why}"
        if p.range is None and not 0 <= n <= DEFAULT_MAX_PAYLOAD:
            return f"announced payload length {n} is outside 0-{DEFAULT_MAX_PAYLOAD} (no range in the spec)"
        return None

    def _match_final(self, text: str) -> tuple[ResultCode | None, int | None]:
        for r in self._finals:
            if r.prefix:
                if text.startswith(r.text):
                    tail = text[len(r.text):].strip()
                    # "+CME ERROR: ²" is verbose text (AT+CMEE=2), not a number
                    return r, int(tail) if _DIGITS.fullmatch(tail) else None
            elif text == r.text:
                return r, None
        return None, None

    def _final(self, text: str, result: ResultCode, code: int | None, framing: str | None = None,
               index: int | None = None):
        if result is not None and result.kind == "connect" and self.mode is Mode.COMMAND:
            # Rule: only the result code the pending command's spec names
            # ``data_mode_entry`` enters data mode. Any other CONNECT (a fixed-size
            # upload such as AT+QFUPL, a command the spec lacks, none pending) is an
            # intermediate result: command mode and the pending command stay, so the
            # session's later responses are never taken for data.
            p = self.pending
            if p is None or p.data_mode_entry is None or p.data_mode_entry != result.text:
                return Intermediate(text, result)
            self._to("connect")
        p = self.pending
        if (result is not None and result.kind == "ok" and p is not None and p.stages > 1
                and not (p.echo_expected and not p.echo_seen)):
            # a stage of a two-stage answer (Variant.stages: OK, +MIPPUSH, +MIPSEND, OK): the
            # command stays pending; an error result would end it at once
            p.stages -= 1
            return Intermediate(text, result)
        ev = Final(text, result, code, framing, index, self._follow_after(result))
        if not (p is not None and p.echo_expected and not p.echo_seen):
            self.pending = None
        # else: with echo on, a final before the pending command's echo answers an earlier
        # command (one that outlived its maximum time): the pending one still waits
        return ev

    def _follow_after(self, result: ResultCode | None) -> float | None:
        """Start expecting the pending command's follow lines after its success final;
        seconds within which the first must come, or None."""
        p = self.pending
        # (whatever the framer believes of echo: a line it could not read, ATE"A", may have
        # left that belief wrong, and a missed follow line would be an undeclared URC)
        if p is None or not p.follow or result is None or result.kind != "ok":
            return None
        self._following = _Following(p.follow)
        return p.follow[0].max_time

    @staticmethod
    def _declared_payload(urc: Urc, values: dict) -> int | None:
        if urc.payload is None:
            return None
        n = values.get(urc.payload.length_field)
        return n if isinstance(n, int) else None

    def _start_payload(self, owner, n: int):
        # the separator (CR LF) after the header line was consumed with the line
        self._need = n
        self._payload_owner = owner
        self._payload = bytearray()
        self._to("payload")
        return _CONTINUE

    def _take_payload(self):
        take = min(self._need, len(self._buf))
        self._payload += self._buf[:take]
        del self._buf[:take]
        self._need -= take
        if self._need:
            return None if not self._buf else _CONTINUE
        owner = self._payload_owner
        self._line_start = False
        self._need = None
        self._payload_owner = None
        self._to("payload_done")
        data = bytes(self._payload)
        if isinstance(owner, InfoLine):
            return InfoLine(owner.text, data)
        return UrcLine(owner.text, owner.urc, data)

    # transparent data mode: everything is data until NO CARRIER, or OK after +++
    def _data_mode_step(self):
        markers = [self._markers["no_carrier"]] + [m for m, _, _ in self._exit_urcs]
        if self.mode is Mode.ESCAPING:
            markers.insert(0, self._markers["ok"])
        buf = self._buf
        best = None
        for m in markers:
            k = buf.find(m)
            if k >= 0 and (best is None or k < best[0]):
                best = (k, m)
        if best is not None:
            k, m = best
            if k:
                data = bytes(buf[:k])
                del buf[:k]
                return Data(data)
            del buf[:len(m)]
            for marker, urc, shown in self._exit_urcs:
                if m == marker:
                    self._to("urc_exit")     # the DCE left data mode (Urc.ends_data_mode)
                    return UrcLine(shown, urc)
            kind = "ok" if m == self._markers["ok"] else "no_carrier"
            self._to(kind)
            text = m.strip().decode("latin-1")
            return self._final(text, self.family.result_code(text), None)
        # keep back a tail that may be the start of a marker
        keep = 0
        for m in markers:
            for n in range(min(len(m) - 1, len(buf)), 0, -1):
                if buf.endswith(m[:n]):
                    keep = max(keep, n)
                    break
        if len(buf) > keep:
            data = bytes(buf[:len(buf) - keep])
            del buf[:len(buf) - keep]
            return Data(data)
        return None


def _catch_all(tpl: Template) -> bool:
    """A template that is one raw field and nothing else ("<data>"): it takes any line."""
    return len(tpl.nodes) == 1 and not isinstance(tpl.nodes[0], Lit) and tpl.literal_prefix == "" \
        and tpl.lookup(tpl.fields[0].name).type.value == "raw"


class _Continue:
    pass


_CONTINUE = _Continue()
