"""The AT engine: spec-aware wrapper around the framer, and the response checker.

Sans-I/O: :class:`AtEngine` turns a command into bytes to write and DCE bytes into
events; :class:`Transaction` gathers the events of one command into a
:class:`Response`; :func:`check_response` and :func:`check_urc` say, in words, where a
response or a URC deviates from the spec. The transport (``atconform.transport``) does
the reading, writing and waiting.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from atconform.protocol.commands import (
    Match, SettingsTracker, UnknownCommand, match_line, response_templates, settings_hold, template_for,
)
from atconform.protocol.framer import Follow, FollowStep
from atconform.protocol.framer import (
    Echo, Event, Final, Framer, FreeText, InfoLine, Intermediate, Prompt, Unparseable, UrcLine,
)
from atconform.families.base import EngineHooks
from atconform.spec.models import Family, ResultCode, Urc
from atconform.spec.template import Template


@dataclass
class Response:
    """Everything the DCE sent for one command line. Times are clock seconds."""

    line: str
    match: Match | None = None
    echo: str | None = None
    info: list[InfoLine] = field(default_factory=list)
    urcs: list[UrcLine] = field(default_factory=list)
    prompt: bool = False
    final: Final | None = None
    unparseable: list[Unparseable] = field(default_factory=list)
    free_text: list[FreeText] = field(default_factory=list)        # not information text
    intermediate: list[Intermediate] = field(default_factory=list)  # CONNECT of an upload
    sent_at: float = 0.0
    final_at: float | None = None
    late: float | None = None      # the maximum time (s) its final came after, else None
    # lines after the final that belong to the command (Variant.follow), and why the one
    # still expected did not come (its deadline passed), else None
    after: list[Follow] = field(default_factory=list)
    after_missing: str | None = None

    @property
    def ok(self) -> bool:
        return self.final is not None and self.final.kind == "ok"

    @property
    def lines(self) -> list[str]:
        return [i.text for i in self.info]

    @property
    def elapsed(self) -> float | None:
        return None if self.final_at is None else self.final_at - self.sent_at

    def __str__(self) -> str:
        if self.final is not None and self.final.result in (REPLY, OTHER_REPLY):
            return " | ".join(self.lines)      # the reply is the final: once is enough
        parts = [*self.lines, self.final.text if self.final else "<no final result>"]
        return " | ".join(parts)


class AtEngine:
    """Spec-driven protocol state for one DTE-DCE link."""

    def __init__(self, family: Family, hooks: "EngineHooks | None" = None):
        self.family = family
        self.urc_templates: list[tuple[Urc, Template]] = [
            (u, template_for(u, u.template)) for u in family.urcs
        ]
        # the family's own framing state (payload rules, settings that change framing)
        self.hooks = hooks if hooks is not None else family_hooks(family)
        self.framer = make_framer(family, self.urc_templates, self.hooks.urc_payload)
        self.hooks.framer = self.framer
        # the module settings the DTE has set (Family.settings): they select variants,
        # follow lines and URC shapes; the framer reads them too
        self.settings = SettingsTracker(family) if family.settings else None
        self._setting_change: dict[str, Any] = {}
        if self.settings is not None and isinstance(self.framer, Framer):
            self.framer.settings = self.settings.current

    def match(self, line: str) -> Match | None:
        """The spec's reading of a command line (``AT...``), or None if unknown."""
        prefix = self.family.framing.prefix
        if not line.upper().startswith(prefix.upper()):
            return None
        try:
            return match_line(self.family, line[len(prefix):],
                              self.settings.current() if self.settings is not None else None)
        except UnknownCommand:
            return None

    def command(self, line: str, *, prompt: bool = False) -> tuple[bytes, Match | None]:
        """Bytes to write for ``line`` (S3 appended) and its spec match. Arms the framer
        with the command's information-text templates, its prompt expectation (the spec
        says it is a data command, or the caller marks it one with ``prompt``, spec entry
        or not) and the result code with which it enters data mode (the variant's
        ``data_mode_entry``; for a line no variant accepts, any variant's)."""
        m = self.match(line)
        templates: list[tuple[Template, str | None]] = []
        entry = None
        stages = 1
        if m is not None:
            variants = [m.variant] if m.variant is not None else m.form.variants
            for v in variants:
                for tpl, r in zip(response_templates(m.command, m.form, v), v.responses):
                    templates.append((tpl, r.payload.length_field if r.payload else None))
                prompt = prompt or v.data is not None
                entry = entry or v.data_mode_entry
                stages = max(stages, v.stages)
        if isinstance(self.framer, Framer):
            self.framer.command_sent(line, templates, prompt=prompt, known=m is not None, data_mode_entry=entry,
                                     **({"stages": stages} if stages > 1 else {}))
        else:   # the delimited framer has no free text or data mode
            self.framer.command_sent(line, templates, prompt=prompt)
        if isinstance(self.framer, Framer):
            self.framer.after_final(self._follow_of(m), _reply_templates(m) is not None)
        # a setting it sets takes effect with its success final (feed)
        self._setting_change = self.settings.changes(m) if self.settings is not None else {}
        if m is not None:
            self.hooks.command_sent(m)
        return (line + self.family.framing.terminator).encode("latin-1"), m

    def feed(self, data: bytes) -> list[Event]:
        events = self.framer.feed(data)
        if self._setting_change:
            for ev in events:
                if isinstance(ev, Final):
                    if ev.kind == "ok":
                        self.settings.apply(self._setting_change)
                    self._setting_change = {}
                    break
        return events

    def _follow_of(self, m: Match | None) -> tuple[FollowStep, ...]:
        """The follow lines of ``m``'s variant, alternatives under the settings in force."""
        if m is None or m.variant is None or not m.variant.follow:
            return ()
        cur = self.settings.current() if self.settings is not None else None
        return tuple(FollowStep(tuple((template_for(m.command, a.template), a.repeat) for a in fl.alternatives
                                      if settings_hold(a.settings, cur)),
                                fl.count, fl.max_time, fl.data_mode_entry)
                     for fl in m.variant.follow)

    def reset_settings(self) -> None:
        """The DCE powered on again: its settings are back to their defaults."""
        if self.settings is not None:
            self.settings.reset()
        self._setting_change = {}


def family_hooks(family: Family) -> EngineHooks:
    """The registered family's engine hooks; the defaults for a spec with no plug-in."""
    from atconform import families
    try:
        return families.get(family.model).make_engine_hooks(family)
    except families.UnknownFamily:
        return EngineHooks(family)


FRAMERS = {"v250": "atconform.protocol.framer:Framer",
           "delimited": "atconform.protocol.delimited:DelimitedFramer"}


def make_framer(family: Family, urc_templates, urc_payload):
    """The framer for ``family.framing.style``: V.250 lines, or ``$``-delimited replies."""
    ref = FRAMERS[family.framing.style]
    mod, _, attr = ref.partition(":")
    cls = Framer if attr == "Framer" else getattr(importlib.import_module(mod), attr)
    return cls(family, urc_templates, urc_payload)


# A variant with ``final: []`` has no final result code: its reply line itself ends the
# command (Queclink ``+ACK:...$``, seed 000). The Transaction records that line as the
# response's ``final`` too, with one of these results, so "answered" reads the same for
# every family: kind "ok" when the line has the shape of one of the variant's replies.
REPLY = ResultCode(text="<reply>", kind="ok",
                   description="a reply line of the command ended it (final: [])")
OTHER_REPLY = ResultCode(text="<other reply>", kind="other",
                         description="a line that is none of the command's replies ended it (final: [])")


def _reply_templates(match: Match | None) -> list[Template] | None:
    """The reply templates when ``match``'s variants end with a reply line (every
    candidate variant has ``final: []``), else None."""
    if match is None:
        return None
    variants = [match.variant] if match.variant is not None else match.form.variants
    if not variants or any(v.final for v in variants):
        return None
    return [t for v in variants for t in response_templates(match.command, match.form, v)]


class Transaction:
    """Collects the events of one command into a :class:`Response`. ``add`` returns True
    once the final result code has arrived, or, for a variant with ``final: []``, the
    first information line (the reply ends the command)."""

    def __init__(self, line: str, match: Match | None, sent_at: float):
        self.response = Response(line, match, sent_at=sent_at)
        self._replies = _reply_templates(match)
        # seconds within which the next follow line must come (Variant.follow), else None
        self.follow_within: float | None = None

    def add(self, ev: Event, now: float) -> bool:
        r = self.response
        if isinstance(ev, Echo):
            r.echo = ev.text
        elif isinstance(ev, InfoLine):
            r.info.append(ev)
            if self._replies is not None:
                shaped = any(t.matches(ev.text) for t in self._replies)
                r.final = Final(ev.text, REPLY if shaped else OTHER_REPLY)
                r.final_at = now
                return True
        elif isinstance(ev, UrcLine):
            r.urcs.append(ev)
        elif isinstance(ev, Prompt):
            r.prompt = True
        elif isinstance(ev, Unparseable):
            r.unparseable.append(ev)
        elif isinstance(ev, FreeText):
            r.free_text.append(ev)
        elif isinstance(ev, Intermediate):
            r.intermediate.append(ev)
        elif isinstance(ev, Follow):
            r.after.append(ev)
            self.follow_within = None if ev.done else ev.within
            return ev.done
        elif isinstance(ev, Final):
            r.final = ev
            r.final_at = now
            if ev.follows is not None:       # lines of the command follow its OK
                self.follow_within = ev.follows
                return False
            return True
        return False


# --------------------------------------------------------------------------- checking
class Problem(str):
    """One deviation the checker found. As a ``str`` it is the message in words (so it
    joins and prints as before); typed, it has ``clause`` (which rule: "final-result",
    "field", "info-template", "missing", "repeat", "payload-length", "echo",
    "unparseable", "free-text", "framing", "late-final", "no-final", "expected-success",
    "expected-failure", "stages", "error-table", "urc-unknown",
    "urc-template", "urc-field"), ``line`` (the command line, "" for a URC) and ``text``
    (the DCE text concerned)."""

    __slots__ = ("clause", "line", "text")

    def __new__(cls, message: str, clause: str, line: str = "", text: str = ""):
        self = super().__new__(cls, message)
        self.clause, self.line, self.text = clause, line, text
        return self

    def __reduce__(self):       # pickles (xdist) as the typed value
        return (Problem, (str(self), self.clause, self.line, self.text))


def success_results(variant_final: list[str]) -> list[str]:
    """The variant's success codes: its ``final`` list minus error results."""
    return [f for f in variant_final if f not in ("ERROR", "SEND FAIL", "NO CARRIER")]


def check_response(family: Family, resp: Response, *, expect_success: bool | None = None) -> list[Problem]:
    """Problems with ``resp`` against the spec (:class:`Problem`: words, clause, line,
    text); empty when it conforms.

    Checks: a final result code arrived and is one the variant allows (for ``final: []``:
    a reply line of the variant ended the command); each information text line parses by
    one of the variant's templates with its fields in range, and repeats the command's
    value of each field its response line ``echoes`` (Queclink ``<seq>``); a
    non-repeating line appears at most once; a mandatory line is present on success.
    ``expect_success`` True/False also requires success/failure.
    """
    problems: list[Problem] = [Problem(f"{resp.line}: unparseable line {u.text!r}: {u.reason}", "unparseable", resp.line, u.text)
                               for u in resp.unparseable]
    problems += [Problem(f"{resp.line}: {t.reason}: {t.text!r}", "free-text", resp.line, t.text) for t in resp.free_text]
    if resp.final is not None and resp.final.framing:
        problems.append(Problem(f"{resp.line}: {resp.final.framing}", "framing", resp.line, resp.final.text))
    if resp.late is not None and resp.elapsed is not None:
        problems.append(Problem(f"{resp.line}: final result code {resp.final.text!r} came after "
                                f"{resp.elapsed:.3g} s, the maximum response time is {resp.late:g} s",
                                "late-final", resp.line, resp.final.text))
    m = resp.match
    replies_end = _reply_templates(m) is not None
    if resp.final is None:
        return problems + [Problem(f"{resp.line}: " + ("no reply" if replies_end else "no final result code"),
                                   "no-final", resp.line)]
    if m is None:
        return problems
    variant = m.variant or m.form.variants[0]
    if replies_end:
        # final: [] -- the reply line is the whole answer; its templates are checked below
        success = resp.final.result is REPLY
        if expect_success is True and not success:
            problems.append(Problem(f"{resp.line}: expected one of the replies {[r.template for r in variant.responses]}, "
                                    f"got {resp.final.text!r}", "expected-success", resp.line, resp.final.text))
        if expect_success is False and resp.final is not None:
            problems.append(Problem(f"{resp.line}: expected no reply, got {resp.final.text!r}", "expected-failure",
                                    resp.line, resp.final.text))
    else:
        allowed = list(variant.final)
        if "ERROR" in allowed:
            allowed.append("+CME ERROR: ")  # AT+CMEE=1/2 turns ERROR into +CME ERROR: <n>
        final_text = resp.final.result.text if resp.final.result else resp.final.text
        if final_text not in allowed:
            problems.append(Problem(f"{resp.line}: final result {resp.final.text!r} is not one of {variant.final}",
                                    "final-result", resp.line, resp.final.text))
        success = final_text in success_results(variant.final)
        if expect_success is True and not success:
            problems.append(Problem(f"{resp.line}: expected {success_results(variant.final)}, got {resp.final.text!r}",
                                    "expected-success", resp.line, resp.final.text))
        if expect_success is False and success:
            problems.append(Problem(f"{resp.line}: expected an error result, got {resp.final.text!r}",
                                    "expected-failure", resp.line, resp.final.text))
    problems += _check_stages(resp, variant, success) + _check_error_table(family, resp)
    problems += _check_result_index(resp, variant, success) + _check_follow(resp, m, variant)
    templates = response_templates(m.command, m.form, variant)
    seen: dict[int, int] = {}
    for line in resp.info:
        matched = False
        for i, tpl in enumerate(templates):
            parsed = tpl.parse(line.text)
            if parsed is None:
                continue
            matched = True
            seen[i] = seen.get(i, 0) + 1
            problems.extend(Problem(f"{resp.line}: {line.text!r}: {p}", "field", resp.line, line.text)
                            for p in parsed.problems)
            rl = variant.responses[i]
            for name in rl.echoes:
                # the reply must repeat the command's value (Queclink <seq>: which command it answers)
                if name in m.values and parsed.raw.get(name) != str(m.values[name]):
                    problems.append(Problem(f"{resp.line}: {line.text!r}: <{name}> is {parsed.raw.get(name)!r}, "
                                            f"the command sent {m.values[name]!r}", "echo", resp.line, line.text))
            if rl.payload is not None:
                n = parsed.values.get(rl.payload.length_field, 0)
                got = len(line.payload or b"")
                hex_digits = got == 2 * n and bytes(line.payload or b"").isalnum()
                if got != n and not hex_digits:   # hex dataformat: 2n digits for n bytes
                    problems.append(Problem(f"{resp.line}: announced {n} payload bytes, got {got}", "payload-length",
                                            resp.line, line.text))
            break
        if not matched:
            problems.append(Problem(f"{resp.line}: information text {line.text!r} matches no response of "
                                    f"{m.command.name} ({variant.name})", "info-template", resp.line, line.text))
    for i, rl in enumerate(variant.responses):
        n = seen.get(i, 0)
        if n > 1 and not rl.repeat:
            problems.append(Problem(f"{resp.line}: {rl.template!r} appeared {n} times", "repeat", resp.line))
        if n == 0 and success and not (rl.repeat or rl.optional):
            problems.append(Problem(f"{resp.line}: missing information text {rl.template!r}", "missing", resp.line))
    return problems


def _check_stages(resp: Response, variant, success: bool) -> list[Problem]:
    """A two-stage answer (``Variant.stages``, OK ... OK) that succeeded closed each stage
    with a success result code before its final."""
    if variant.stages <= 1 or not success:
        return []
    got = sum(1 for i in resp.intermediate if i.result is not None and i.result.kind == "ok")
    if got == variant.stages - 1:
        return []
    return [Problem(f"{resp.line}: {got} stage result code(s) before the final, the answer has "
                    f"{variant.stages} stages (OK ... OK)", "stages", resp.line, resp.final.text)]


def _check_error_table(family: Family, resp: Response) -> list[Problem]:
    """A ``+CME ERROR: <err>``-style final carries a code of a table that result carries
    (``ErrorTable.result``; tables overlap, so each is looked up by its own result).
    Nothing to check when no table names the result."""
    f = resp.final
    if f is None or f.result is None or not f.result.prefix or not family.error_tables_of(f.result.text):
        return []
    code = f.code if f.code is not None else f.text[len(f.result.text):]
    if family.error_entry(f.result.text, code) is not None:
        return []
    tables = ", ".join(t.name for t in family.error_tables_of(f.result.text))
    return [Problem(f"{resp.line}: {f.text!r}: {code!r} is no code of the tables {f.result.text.strip()} "
                    f"carries ({tables})", "error-table", resp.line, f.text)]


def _check_result_index(resp: Response, variant, success: bool) -> list[Problem]:
    """An index-prefixed final (``0, CLOSE OK``, Framing.result_index_prefix) repeats the
    request's ``Variant.result_index`` value; a command without one carries no prefix."""
    name, idx, m = variant.result_index, resp.final.index, resp.match
    want = m.values.get(name) if name is not None else None
    text = resp.final.result.text if resp.final.result else resp.final.text
    if want is not None and success and idx != want:
        got = "no index" if idx is None else f"index {idx}"
        return [Problem(f"{resp.line}: final result {resp.final.text!r} has {got}; <{name}> was {want}, "
                        f"expected '{want}, {text}'", "result-index", resp.line, resp.final.text)]
    if idx is not None and want is None:
        return [Problem(f"{resp.line}: final result {resp.final.text!r} carries an index the request has none of",
                        "result-index", resp.line, resp.final.text)]
    return []


def _check_follow(resp: Response, m: Match, variant) -> list[Problem]:
    """Lines after the final (``Variant.follow``): each parses by an alternative of its
    step with its fields in range and repeats the request's ``echoes`` fields; none
    missing within its time (``Response.after_missing``)."""
    out: list[Problem] = []
    if resp.after_missing:
        out.append(Problem(f"{resp.line}: {resp.after_missing}", "follow-missing", resp.line))
    for ev in resp.after:
        if ev.step >= len(variant.follow):
            continue
        for alt in variant.follow[ev.step].alternatives:
            parsed = template_for(m.command, alt.template).parse(ev.text)
            if parsed is None:
                continue
            out.extend(Problem(f"{resp.line}: {ev.text!r}: {p}", "field", resp.line, ev.text) for p in parsed.problems)
            for name in alt.echoes:
                if name in m.values and parsed.values.get(name) != m.values[name]:
                    out.append(Problem(f"{resp.line}: {ev.text!r}: <{name}> is {parsed.raw.get(name)!r}, "
                                       f"the command sent {m.values[name]!r}", "echo", resp.line, ev.text))
            break
    return out


def check_urc(family: Family, urc: UrcLine) -> list[Problem]:
    """Problems with a URC: unknown (no declared template) or fields out of range."""
    if urc.urc is None:
        return [Problem(f"unknown URC {urc.text!r}", "urc-unknown", text=urc.text)]
    tpl = template_for(urc.urc, urc.urc.template)
    parsed = tpl.parse(urc.text)
    if parsed is None:
        return [Problem(f"URC {urc.text!r} does not match {urc.urc.template!r}", "urc-template", text=urc.text)]
    out = [Problem(f"URC {urc.text!r}: {p}", "urc-field", text=urc.text) for p in parsed.problems]
    if urc.urc.payload is not None and urc.payload is not None:
        n = parsed.values.get(urc.urc.payload.length_field)
        if n != len(urc.payload):
            out.append(Problem(f"URC {urc.text!r} announced {n} bytes, carried {len(urc.payload)}", "payload-length",
                               text=urc.text))
    return out


def parse_info(resp: Response, index: int = 0) -> dict[str, Any]:
    """Typed values of information line ``index`` by the first template it matches.
    Raises ValueError when it matches none."""
    m = resp.match
    if m is None:
        raise ValueError(f"{resp.line}: not a spec command")
    variant = m.variant or m.form.variants[0]
    line = resp.info[index].text
    for tpl in response_templates(m.command, m.form, variant):
        p = tpl.parse(line)
        if p is not None:
            return p.values
    raise ValueError(f"{line!r} matches no response template of {m.command.name}")
