"""Sans-I/O framer for ``$``-delimited protocols: Queclink ``AT@...$`` (seed 000).

A DCE frame is ``<reply word>:<fields><terminator>``, for example
``+ACK:BSS2,123456789012345,8203,3,0,,012F,20210407101530,1234$`` (seed 000 L7, L9), with
or without S3/S4 (CR, LF) around it. The reply words (``+ACK``, ``+QRY``), the
terminator (``$``), the command prefix (``AT@``, whose frames are an echo) and the
separators come from the spec's :class:`~atconform.spec.models.Framing`, never literals.

Events are the V.250 framer's (:mod:`atconform.protocol.framer`):

* :class:`InfoLine` for a reply while a command is pending. One reply answers one
  command, so the reply also ends the pending command (the spec's ``final: []``);
  the :class:`~atconform.protocol.engine.Transaction` ends on it. Its ``text`` keeps the
  terminator, as the manual prints replies.
* :class:`UrcLine` for a reply with no command pending (``urc`` None unless a declared
  URC template matches);
* :class:`Echo` for the pending command line coming back;
* :class:`Unparseable` for everything else: bytes that start no frame, a frame cut by a
  separator or by the next frame before its terminator, a frame longer than
  ``Framing.max_line_length``. Bad input never raises; the framer resynchronises at the
  next separator, terminator or reply word.

Events do not depend on how the bytes are split into reads: nothing is emitted before
the byte that delimits it has arrived. At most ``max_line_length + 1`` unframed bytes
are held; unterminated input is scanned once, however it is chunked.
"""
from __future__ import annotations

from typing import Sequence

from atconform.protocol.framer import (
    SHOWN, Echo, Event, InfoLine, Pending, PayloadRule, Unparseable, UrcLine,
)
from atconform.spec.models import Family, Framing, Urc
from atconform.spec.template import Template

# Framing fields the delimited framer reads; any other one a spec sets is refused at load
IMPLEMENTED = frozenset({"style", "prefix", "terminator", "s3", "s4", "max_line_length", "reply_words"})
# and the fields only the delimited framer reads (the V.250 framer refuses them)
DELIMITED_ONLY = frozenset({"reply_words"})
# declared in the model for families still to come, not yet read by the V.250 framer:
# quoted-prefix URCs (index-prefixed results, "0, CLOSE OK", are read since the Quectel GSM family)
V250_NOT_YET = frozenset({"quoted_prefix_urcs"})


def unsupported_fields(framing: Framing) -> list[str]:
    """``framing.<field>: <reason>`` for each field the style's framer does not
    implement but the spec sets; empty when the framer can honour all of them. Called
    by the spec models when a spec loads."""
    out = []
    given = framing.model_fields_set
    if framing.style == "delimited":
        for name in sorted(given - IMPLEMENTED):
            out.append(f"framing.{name}: set, but the delimited framer does not implement it")
        if not framing.reply_words:
            out.append("framing.reply_words: the delimited framer needs the words that start a reply (+ACK)")
        if not framing.terminator:
            out.append("framing.terminator: the delimited framer needs the reply terminator ($)")
    else:
        for name in sorted(given & (DELIMITED_ONLY | V250_NOT_YET)):
            if getattr(framing, name):
                out.append(f"framing.{name}: set, but the {framing.style} framer does not implement it")
    return out


def unsupported_elements(family: Family) -> list[str]:
    """Spec elements (path: reason) a delimited family cannot have: result codes, final
    result codes of a variant, data prompts and payloads. Empty for other styles."""
    if family.framing.style != "delimited":
        return []
    out = []
    if family.result_codes:
        out.append("result_codes: the delimited framer frames no result codes (a reply ends a command)")
    for i, c in enumerate(family.commands):
        for j, form in enumerate(c.forms):
            for k, v in enumerate(form.variants):
                where = f"commands[{i}] ({c.name}).forms[{j}].variants[{k}]"
                if v.final:
                    out.append(f"{where}.final: must be [] with the delimited framer (the reply itself ends the command)")
                if v.data is not None:
                    out.append(f"{where}.data: the delimited framer has no data prompt")
                for n, r in enumerate(v.responses):
                    if r.payload is not None:
                        out.append(f"{where}.responses[{n}].payload: the delimited framer frames no payload")
    for i, u in enumerate(family.urcs):
        if u.payload is not None:
            out.append(f"urcs[{i}] ({u.name}).payload: the delimited framer frames no payload")
    return out


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


class DelimitedFramer:
    """Turns DCE bytes into events for a ``style: delimited`` family. Same interface as
    :class:`atconform.protocol.framer.Framer`: ``command_sent``, ``feed``,
    ``escape_written``, ``reset_input``; ``pending``, ``data_mode`` (always False),
    ``payload_scale``, ``max_line`` (bytes)."""

    def __init__(self, family: Family, urc_templates: Sequence[tuple[Urc, Template]],
                 urc_payload: PayloadRule | None = None):
        fr = family.framing
        self.family = family
        self.fr = fr
        self.urc_templates = list(urc_templates)
        self.pending: Pending | None = None
        self.data_mode = False
        self.payload_scale = 1
        self.max_line = fr.max_line_length
        self.tail = fr.terminator.encode("latin-1")
        self.separators = frozenset(b for s in (fr.s3, fr.s4) for b in s.encode("latin-1"))
        self.reply_starts = tuple(w.encode("latin-1") + b":" for w in fr.reply_words)
        self.echo_start = fr.prefix.encode("latin-1")
        self.starts = tuple(s for s in (*self.reply_starts, self.echo_start) if s)
        self._longest = max(len(s) for s in self.starts)
        self._buf = bytearray()
        self._scanned = 0          # bytes of _buf (after its first) known to hold no delimiter
        self._discarding = False   # inside an over-long frame: drop to its end

    # -- DTE side ------------------------------------------------------------------
    def command_sent(self, line: str, templates: Sequence[tuple[Template, str | None]] = (),
                     *, prompt: bool = False, known: bool = False,
                     data_mode_entry: str | None = None) -> None:
        """The DTE wrote ``line`` (without the terminator). The V.250 framer's keywords
        are taken and ignored: every reply while a command is pending is its reply, and
        this protocol has no data mode."""
        self.pending = Pending(line, tuple(templates), prompt)

    def escape_written(self) -> None:
        """No data mode in this protocol: nothing to do."""

    def reset_input(self) -> None:
        """Forget buffered, unframed DCE bytes; the pending command is kept."""
        self._buf.clear()
        self._scanned = 0
        self._discarding = False

    # -- DCE bytes -------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        out: list[Event] = []
        while True:
            ev = self._step()
            if ev is None:
                return out
            if ev is not _CONTINUE:
                out.append(ev)

    def _start_at(self, i: int) -> bytes | None:
        buf = self._buf
        for s in self.starts:
            if buf.startswith(s, i):
                return s
        return None

    def _partial_start(self, i: int) -> bool:
        """``_buf[i:]`` is a proper prefix of a frame start (more bytes may complete it)."""
        if len(self._buf) - i >= self._longest:
            return False
        rest = bytes(self._buf[i:])
        return any(len(rest) < len(s) and s.startswith(rest) for s in self.starts)

    def _tail_keep(self) -> int:
        """How many bytes at the end of the buffer may begin a frame start ("...+AC")."""
        n = len(self._buf)
        for i in range(max(0, n - self._longest + 1), n):
            if self._partial_start(i):
                return n - i
        return 0

    def _delimiter(self, frm: int) -> tuple[int, str]:
        """First delimiter at or after ``frm``: the terminator (``"tail"``), a separator
        (``"sep"``) or a frame start (``"start"``), as (index, kind); (-1, "") when none
        has arrived yet. Bytes already searched are not searched again."""
        buf = self._buf
        start = max(frm, self._scanned)
        best, kind = -1, ""
        k = buf.find(self.tail, start)
        if k >= 0:
            best, kind = k, "tail"
        stop = best if best >= 0 else len(buf)
        for sep in self.separators:
            k = buf.find(bytes((sep,)), start, stop)
            if k >= 0 and (best < 0 or k < best):
                best, kind, stop = k, "sep", k
        for s in self.starts:
            k = buf.find(s, start, stop + len(s) - 1 if best >= 0 else len(buf))
            if k >= 0 and (best < 0 or k < best):
                best, kind, stop = k, "start", k
        if best < 0:
            # a frame start may be cut at the end of the buffer: search its bytes again
            self._scanned = max(frm, len(buf) - self._longest + 1)
        return best, kind

    def _step(self):
        buf = self._buf
        if not buf:
            return None
        if buf[0] in self.separators:
            i = 0
            while i < len(buf) and buf[i] in self.separators:
                i += 1
            del buf[:i]
            self._scanned = 0
            self._discarding = False     # an over-long frame ends at a separator
            return _CONTINUE
        word = self._start_at(0)
        if word is not None and self._discarding:
            self._discarding = False     # an over-long frame ends where the next one starts
        if word is None and self._partial_start(0):
            return None                  # "+AC": wait for the rest of the word
        # a frame's end is after its start word; garbage's after its first byte; the end of
        # an over-long frame being dropped may be the very next byte
        end, kind = self._delimiter(len(word) if word else 0 if self._discarding else 1)
        if end < 0:
            if self._discarding:
                keep = self._tail_keep()
                del buf[:len(buf) - keep]
                self._scanned = 0
                return None
            if len(buf) > self.max_line:
                head = bytes(buf[:SHOWN]).decode("latin-1")
                keep = self._tail_keep()
                del buf[:len(buf) - keep]
                self._scanned = 0
                self._discarding = True
                return self._too_long(head)
            return None
        size = end + len(self.tail) if kind == "tail" else end
        raw = bytes(buf[:size])
        del buf[:size]
        self._scanned = 0
        if self._discarding:
            self._discarding = False
            return _CONTINUE
        if len(raw) > self.max_line:
            return self._too_long(raw[:SHOWN].decode("latin-1"))
        text = raw.decode("latin-1")
        if word is None:
            return Unparseable(_cut(text), "bytes that start no frame: no reply word "
                               f"({', '.join(s.decode('latin-1') for s in self.reply_starts)}) before them")
        if kind != "tail":
            why = "a separator" if kind == "sep" else "the next frame"
            return Unparseable(_cut(text), f"frame cut by {why} before its {self.fr.terminator!r} tail")
        if word == self.echo_start and word not in self.reply_starts:
            return self._echo(text)
        return self._reply(text)

    def _too_long(self, head: str) -> Unparseable:
        return Unparseable(head + "...", f"frame longer than {self.max_line} bytes (Framing.max_line_length)")

    def _echo(self, text: str):
        p = self.pending
        body = text[:-len(self.fr.terminator)]
        if p is not None and not p.echo_seen and body == p.line:
            p.echo_seen = True
            return Echo(body)
        return Unparseable(_cut(text), "a command line from the DCE that is not the echo of the pending command")

    def _reply(self, text: str):
        if self.pending is not None:
            # one reply answers one command: a second one is unsolicited
            self.pending = None
            return InfoLine(text)
        for urc, tpl in self.urc_templates:
            if tpl.matches(text):
                return UrcLine(text, urc)
        return UrcLine(text, None)


class _Continue:
    pass


_CONTINUE = _Continue()
