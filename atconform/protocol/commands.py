"""Command lines from the spec: building them (DTE side) and matching them (DCE side).

The same functions serve the harness (to write a line), the emulator (to decide whether a
received line is valid) and the case generator (to prove a malformed line is invalid
under the spec before expecting ERROR). Pure: no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from atconform.spec.models import Command, Family, Form, FormKind, Variant
from atconform.spec.template import Parsed, Template, compile_for

_TEMPLATE_CACHE: dict[tuple[int, str, bool], Template] = {}


def template_for(owner: Any, src: str, *, literal: bool = False) -> Template:
    """Compiled template of a command or URC (cached per owner object)."""
    key = (id(owner), src, literal)
    t = _TEMPLATE_CACHE.get(key)
    if t is None:
        t = compile_for(src, owner.parameters, literal_placeholders=literal)
        _TEMPLATE_CACHE[key] = t
    return t


def response_templates(cmd: Command, form: Form, variant: Variant) -> list[Template]:
    literal = form.kind is FormKind.test
    return [template_for(cmd, r.template, literal=literal) for r in variant.responses]


def build_line(family: Family, cmd: Command, kind: FormKind | str,
               values: dict[str, Any] | None = None, *, variant: Variant | None = None,
               args: str | None = None) -> str:
    """The command line (without S3) for ``cmd`` in form ``kind``.

    ``values`` are rendered through the variant's syntax, quoting each by its type;
    ``args`` (write form, or a read form with a syntax) is used verbatim instead, to
    build malformed lines. A read form whose variant has a syntax takes arguments after
    the ``?`` (Queclink ``AT@BSS2?<password>,,<seq>``, seed 000 L8).
    Raises TemplateError if a mandatory value is missing, KeyError if the form is absent.
    """
    kind = FormKind(kind)
    prefix = family.framing.prefix
    if cmd.syntax == "escape":
        return family.framing.escape_sequence
    head = prefix + cmd.name
    if kind is FormKind.test:
        return head + "=?"
    if kind is FormKind.read:
        form = cmd.form(kind)
        if args is None and form is not None and any(v.syntax for v in form.variants):
            variant = variant or pick_variant_for_values(form, values or {})
            args = template_for(cmd, variant.syntax).render(values or {})
        return head + "?" + (args or "")
    if kind is FormKind.execute:
        return head
    if args is None:
        form = cmd.form(kind)
        if form is None:
            raise KeyError(f"{cmd.name} has no {kind.value} form")
        if variant is None:
            variant = pick_variant_for_values(form, values or {})
        args = template_for(cmd, variant.syntax).render(values or {})
    return head + ("" if cmd.syntax == "basic" else "=") + args


def pick_variant_for_values(form: Form, values: dict[str, Any]) -> Variant:
    """The first variant whose ``when`` matches ``values`` and whose syntax names exactly
    the parameters given (optional ones may be missing)."""
    given = {k for k, v in values.items() if v is not None}
    best: Variant | None = None
    for v in form.variants:
        if any(values.get(k) != want for k, want in v.when.items()):
            continue
        fields = {f.name for f in _fields_of(v)}
        if given <= fields:
            if best is None or len(fields) < len(_names(best)):
                best = v
    if best is None:
        raise KeyError(f"no {form.kind.value} variant takes {sorted(given)}")
    return best


def _names(v: Variant) -> set[str]:
    return {f.name for f in _fields_of(v)}


def _fields_of(v: Variant):
    from atconform.spec.template import _fields, _parse_nodes
    return _fields(_parse_nodes(v.syntax, False))


@dataclass
class Match:
    """A received command line matched against the spec."""

    command: Command
    form: Form
    variant: Variant | None = None
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    args: str = ""

    @property
    def ok(self) -> bool:
        return self.variant is not None and not self.problems


class UnknownCommand(ValueError):
    pass


_EXT = re.compile(r"^([+&@][A-Za-z0-9_]+|[+]{3})(=\?|\?|=)?(.*)$", re.DOTALL)
# Queclink AT@: the framing prefix ends with "@", the command word follows (seed 000 L31-45)
_WORD = re.compile(r"^([A-Za-z0-9]+)(=\?|\?|=)?(.*)$", re.DOTALL)


def match_line(family: Family, body: str, settings: Mapping[str, Any] | None = None) -> Match:
    """Match one command (the text after ``AT``, without S3) against the spec.

    Returns a :class:`Match`; ``match.ok`` is False with ``problems`` saying why when no
    variant accepts the arguments. Raises UnknownCommand when the name is not in the spec
    or the form does not exist for it. ``settings`` (name -> value, see
    :class:`SettingsTracker`): only variants whose ``Variant.settings`` hold are tried;
    None: every variant (the settings are not known).
    """
    if family.framing.style == "delimited":
        return _match_word(family, body)
    body = strip_spaces(body)
    if body == "":
        cmd = family.command("AT")
        return Match(cmd, cmd.form("execute"), cmd.form("execute").variants[0])
    m = _EXT.match(body)
    if m:
        name, op, rest = m.group(1), m.group(2) or "", m.group(3)
        try:
            cmd = family.command(name.upper() if name[0] == "+" else name)
        except KeyError:
            raise UnknownCommand(name) from None
        if op == "=?":
            kind = FormKind.test
        elif op == "?":
            kind = FormKind.read
        elif op == "=":
            kind = FormKind.write
        else:
            kind = FormKind.execute
        if op in ("=?", "?") and rest:
            raise UnknownCommand(body)
    else:
        # basic command: one letter (or &letter) glued to an optional number
        bm = re.fullmatch(r"(&?[A-Za-z])([0-9]*)", body)
        if not bm:
            raise UnknownCommand(body)
        try:
            cmd = family.command(bm.group(1).upper())
        except KeyError:
            raise UnknownCommand(body) from None
        rest = bm.group(2)
        kind = FormKind.write if cmd.form(FormKind.write) else FormKind.execute
    form = cmd.form(kind)
    if form is None:
        raise UnknownCommand(f"{cmd.name} has no {kind.value} form")
    if kind is not FormKind.write:
        variants = [v for v in form.variants if settings_hold(v.settings, settings)] or form.variants
        return Match(cmd, form, variants[0], args=rest)
    return match_args(cmd, form, rest, settings)


def strip_spaces(body: str) -> str:
    """``body`` (a V.250 command line without prefix and S3) with its formatting spaces
    removed. ITU-T V.250 §5.2.1 (command line general format): "Space characters (IA5
    2/0) are ignored and may be used freely for formatting purposes, unless they are
    embedded in numeric or string constants (see 5.4.2.1 or 5.4.2.2)". So spaces inside
    a double-quoted string constant (§5.4.2.2) stay, a space between two digits stays
    (it is embedded in a numeric constant, §5.4.2.1, which then no longer parses as one
    number), and every other space goes: ``+QIOPEN=1, 0, "UDP SERVICE"`` reads as
    ``+QIOPEN=1,0,"UDP SERVICE"``. An unterminated string keeps its spaces to the end."""
    if " " not in body:
        return body
    # segments alternate: unquoted text, then a string constant with its quotes
    parts = _STRINGS.split(body)
    for k in range(0, len(parts), 2):
        seg = parts[k]
        parts[k] = _SPACES.sub(lambda m: " " if _between_digits(m, seg) else "", seg)
    return "".join(parts)


_STRINGS = re.compile(r'("[^"]*"?)')
_SPACES = re.compile(r" +")


def _between_digits(m: re.Match, seg: str) -> bool:
    i, j = m.start(), m.end()
    return 0 < i and j < len(seg) and seg[i - 1] in "0123456789" and seg[j] in "0123456789"


def _match_word(family: Family, body: str) -> Match:
    """``BSS2=<args>`` or ``BSS2?<args>`` after the ``AT@`` prefix: the command word exactly
    as the spec writes it (upper case), ``=`` for the write form, ``?`` for the query
    (read) form; both take arguments by their variant's syntax."""
    m = _WORD.match(body)
    if not m or m.group(2) not in ("=", "?"):
        raise UnknownCommand(body[:40])
    name, op, rest = m.groups()
    cmd = next((c for c in family.commands if c.name == name), None)
    if cmd is None:
        raise UnknownCommand(name)
    form = cmd.form(FormKind.write if op == "=" else FormKind.read)
    if form is None:
        raise UnknownCommand(f"{cmd.name} has no {'write' if op == '=' else 'read'} form")
    return match_args(cmd, form, rest)


def match_args(cmd: Command, form: Form, args: str, settings: Mapping[str, Any] | None = None) -> Match:
    """Try each variant of ``form`` in order; the first whose shape, types, ranges and
    ``when`` values all fit wins (with ``settings`` given, only variants whose
    ``Variant.settings`` hold are tried). Problems of the closest miss are reported."""
    problems: list[str] = []
    for v in form.variants:
        if not settings_hold(v.settings, settings):
            continue
        parsed: Parsed | None = template_for(cmd, v.syntax).parse(args)
        if parsed is None:
            continue
        if any(parsed.values.get(k) != want for k, want in v.when.items()):
            continue
        if parsed.problems:
            problems = problems or parsed.problems
            continue
        # the manual's cross-parameter rules (Command.constraints): a line that breaks one
        # is invalid under the spec, whatever its syntax allows
        broken = [w for c in cmd.constraints if (w := c.broken_by(parsed.values))]
        if broken:
            problems = problems or broken
            continue
        return Match(cmd, form, v, parsed.values, [], args)
    if not problems:
        problems = [f"{cmd.name}={args!r} matches no syntax of the {form.kind.value} form"]
    return Match(cmd, form, None, {}, problems, args)



# ------------------------------------------------------------------ module settings
def settings_hold(required: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    """Whether ``current`` settings meet ``required`` (name -> value or list of values).
    True when ``current`` is None: nothing is known, nothing is ruled out."""
    if current is None:
        return True
    for name, want in required.items():
        have = current.get(name)
        if isinstance(want, list):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


class SettingsTracker:
    """The values of a family's module settings (``Family.settings``) as command lines set
    them, for the side that sends them (the DTE's engine) and the side that takes them
    (an emulated DCE). A setting with ``per`` keeps one value per value of that other
    setting. Pure: no I/O.

    :meth:`changes` says what a matched command line would set; :meth:`apply` takes it
    once the command ended with a success result code; :meth:`current` is name -> value
    for the values in force now."""

    def __init__(self, family: Family):
        self.family = family
        self.reset()

    def reset(self) -> None:
        """Every setting back to its default (power-on)."""
        self._values: dict[tuple[str, Any], Any] = {}

    def _key(self, name: str, values: Mapping[str, Any] | None = None) -> tuple[str, Any]:
        s = self.family.setting(name)
        if s.per is None:
            return (name, None)
        return (name, (values or {}).get(s.per, self.get(s.per)))

    def get(self, name: str, per: Any = None) -> Any:
        """The value of setting ``name`` in force now; ``per``: its copy for that value of
        the setting it is kept per (GSM: AT+QIMUX of context 1 while context 0 is in
        the foreground). Raises KeyError for an unknown name."""
        s = self.family.setting(name)
        key = self._key(name) if per is None or s.per is None else (name, per)
        return self._values.get(key, s.default)

    def current(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s in self.family.settings:
            out[s.name] = self.get(s.name)
        return out

    def changes(self, m: Match | None) -> dict[str, Any]:
        """Setting name -> value that ``m`` (a write of a setting's command) sets; empty
        for any other line."""
        if m is None or not m.ok or m.form.kind is not FormKind.write:
            return {}
        return {s.name: m.values[s.parameter] for s in self.family.settings
                if s.command == m.command.name and s.parameter in m.values}

    def apply(self, changes: Mapping[str, Any]) -> None:
        # a "per" setting changes first, so the others land in the copy it selects
        pers = {s.per for s in self.family.settings if s.per}
        for name in sorted(changes, key=lambda n: n not in pers):
            self._values[self._key(name, changes)] = changes[name]
