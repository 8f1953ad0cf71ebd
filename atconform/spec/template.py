"""The template language shared by command syntaxes, response lines and URCs.

Grammar (see :mod:`atconform.spec.models`)::

    template := item*
    item     := '<' name '>' | '(<' name '>)' | '[' template ']' | '\\' char | literal-char

(``\\(`` is a literal ``(``: ``\\(<ip url>)`` in a test response is the text ``(<ip url>)``.)

A compiled :class:`Template` can

* ``render(values)``: build a command line argument list or a response line; an optional
  group is written when any field inside it has a value;
* ``parse(text)``: match a whole line and return typed values, with every problem found
  (wrong type, out of range, missing quotes) listed rather than raised.

Pure: no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Union

from atconform.spec.models import Parameter, ParamType
from atconform.spec.values import (
    check_value, format_value, parse_supported, parse_token, render_supported,
)

ParamLookup = Callable[[str], Parameter]


@dataclass(frozen=True)
class Lit:
    text: str


@dataclass(frozen=True)
class Fld:
    name: str
    supported: bool = False   # "(<name>)": list of supported values


@dataclass(frozen=True)
class Opt:
    items: tuple["Node", ...]


Node = Union[Lit, Fld, Opt]


class TemplateError(ValueError):
    pass


class Raw(str):
    """A value inserted verbatim when rendering (used to build malformed command lines)."""


def _parse_nodes(src: str, literal_placeholders: bool) -> tuple[Node, ...]:
    pos = 0

    def seq(depth: int) -> list[Node]:
        nonlocal pos
        out: list[Node] = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                out.append(Lit("".join(buf)))
                buf.clear()

        while pos < len(src):
            c = src[pos]
            if c == "\\" and pos + 1 < len(src):
                # "\x": the character x as literal text (Fibocom test responses print
                # "(<ip url>)", which would otherwise open a supported-values field)
                buf.append(src[pos + 1])
                pos += 2
            elif src.startswith("(<", pos):
                end = src.find(">)", pos)
                if end < 0:
                    raise TemplateError(f"unclosed '(<' in {src!r}")
                flush()
                out.append(Fld(src[pos + 2:end], supported=True))
                pos = end + 2
            elif c == "<" and not literal_placeholders:
                end = src.find(">", pos)
                if end < 0:
                    raise TemplateError(f"unclosed '<' in {src!r}")
                flush()
                out.append(Fld(src[pos + 1:end]))
                pos = end + 1
            elif c == "[":
                flush()
                pos += 1
                inner = seq(depth + 1)
                out.append(Opt(tuple(inner)))
            elif c == "]":
                if depth == 0:
                    raise TemplateError(f"unbalanced ']' in {src!r}")
                flush()
                pos += 1
                return out
            else:
                buf.append(c)
                pos += 1
        if depth:
            raise TemplateError(f"unclosed '[' in {src!r}")
        flush()
        return out

    return tuple(seq(0))


def _fields(nodes: Iterable[Node]) -> list[Fld]:
    out: list[Fld] = []
    for n in nodes:
        if isinstance(n, Fld):
            out.append(n)
        elif isinstance(n, Opt):
            out.extend(_fields(n.items))
    return out


# A permissive token: typed checks come after the match, so errors can say what is wrong.
_TOKEN = r'(?:"[^"]*"|[^,"\r\n]*)'


def _typed_token(p: Parameter) -> str:
    """The characters a value of ``p`` is made of, as a regex (for fields that touch
    another field or a payload, where a permissive token would run on)."""
    if p.values:
        vals = sorted((str(v.value) for v in p.values), key=len, reverse=True)
        alt = "|".join(re.escape(v) for v in vals)
        return f'"(?:{alt})"' if p.quoted else f"(?:{alt})"
    if p.type in (ParamType.integer, ParamType.port):
        return "-?[0-9]+"
    if p.type is ParamType.ipv4 and not p.quoted:
        return "[0-9.]+"
    return '"[^"]*"' if p.quoted else '[^,:"\r\n]*?'
_SUPPORTED = r"\([^()]*\)"


@dataclass
class Parsed:
    """Result of :meth:`Template.parse`: typed ``values`` and the ``problems`` found."""

    values: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Template:
    """A compiled template. ``lookup`` maps a field name to its :class:`Parameter`."""

    def __init__(self, src: str, lookup: ParamLookup, *, literal_placeholders: bool = False):
        self.src = src
        self.lookup = lookup
        self.nodes = _parse_nodes(src, literal_placeholders)
        self.fields = _fields(self.nodes)
        for f in self.fields:
            lookup(f.name)  # fail at compile time on an unknown field
        self._groups: dict[str, Fld] = {}
        self._prefix: "re.Pattern[str] | None" = None
        pattern = self._regex(self.nodes)
        self.regex = re.compile(pattern, re.DOTALL)

    def __repr__(self) -> str:
        return f"Template({self.src!r})"

    # -- regex --------------------------------------------------------------------------
    def _regex(self, nodes: Iterable[Node]) -> str:
        parts: list[str] = []
        nodes = list(nodes)
        for i, n in enumerate(nodes):
            if isinstance(n, Lit):
                parts.append(re.escape(n.text))
            elif isinstance(n, Opt):
                parts.append(f"(?:{self._regex(n.items)})?")
            else:
                g = f"g{len(self._groups)}"
                self._groups[g] = n
                glued = any(0 <= j < len(nodes) and isinstance(nodes[j], Fld) for j in (i - 1, i + 1))
                if n.supported:
                    parts.append(f"(?P<{g}>{_SUPPORTED})")
                elif self.lookup(n.name).type is ParamType.raw:
                    parts.append(f"(?P<{g}>.*?)")
                elif glued:
                    # two fields with nothing between them (GSM "IPD<length><protocol>:"): only
                    # the value's own characters tell where one ends
                    parts.append(f"(?P<{g}>{_typed_token(self.lookup(n.name))})")
                else:
                    parts.append(f"(?P<{g}>{_TOKEN})")
        return "".join(parts)

    def prefix_regex(self) -> "re.Pattern[str]":
        """A regex of the template with every field's own characters only (integers digits,
        enumerations their values, addresses digits and dots), for finding a header glued
        to the bytes after it (``IPD30:<data>``: ``match`` at the start of the text)."""
        if self._prefix is None:
            parts = []

            def walk(nodes) -> str:
                out = []
                for n in nodes:
                    if isinstance(n, Lit):
                        out.append(re.escape(n.text))
                    elif isinstance(n, Opt):
                        out.append(f"(?:{walk(n.items)})?")
                    else:
                        out.append(f"(?:{_typed_token(self.lookup(n.name))})")
                return "".join(out)

            parts.append(walk(self.nodes))
            self._prefix = re.compile("".join(parts))
        return self._prefix

    @property
    def literal_prefix(self) -> str:
        """Leading literal text (e.g. ``+QIACT: ``), used to classify lines."""
        if self.nodes and isinstance(self.nodes[0], Lit):
            return self.nodes[0].text
        return ""

    def matches(self, text: str) -> bool:
        return self.regex.fullmatch(text) is not None

    def parse(self, text: str, *, check_ranges: bool = True) -> Parsed | None:
        """Typed values of ``text`` or None when its shape does not match at all."""
        m = self.regex.fullmatch(text)
        if m is None:
            return None
        out = Parsed()
        for g, fld in self._groups.items():
            raw = m.group(g)
            if raw is None:
                continue
            p = self.lookup(fld.name)
            name = fld.name if fld.name not in out.raw else f"{fld.name}#{len(out.raw)}"
            out.raw[name] = raw
            if fld.supported:
                try:
                    out.values[name] = parse_supported(raw)
                except ValueError as e:
                    out.problems.append(str(e))
                continue
            if raw == "" and p.optional:
                continue  # an omitted optional parameter: "AT+X=1,,3"
            value, problem = parse_token(p, raw)
            if problem:
                out.problems.append(problem)
                continue
            out.values[name] = value
            if check_ranges:
                why = check_value(p, value)
                if why:
                    out.problems.append(why)
        return out

    # -- rendering ----------------------------------------------------------------------
    def render(self, values: dict[str, Any]) -> str:
        """Write the template with ``values``; a :class:`Raw` value is written verbatim.

        Raises TemplateError when a mandatory field (outside any ``[...]``) has no value.
        """
        return self._render(self.nodes, values, top=True)

    def _has_value(self, nodes: Iterable[Node], values: dict[str, Any]) -> bool:
        return any(f.supported or values.get(f.name) is not None for f in _fields(nodes))

    def _render(self, nodes: Iterable[Node], values: dict[str, Any], top: bool) -> str:
        out: list[str] = []
        for n in nodes:
            if isinstance(n, Lit):
                out.append(n.text)
            elif isinstance(n, Opt):
                if any(values.get(f.name) is not None for f in _fields(n.items)):
                    out.append(self._render(n.items, values, top=False))
            else:
                p = self.lookup(n.name)
                if n.supported:
                    v = values.get(n.name)
                    out.append(v if isinstance(v, str) else render_supported(p))
                    continue
                v = values.get(n.name)
                if v is None:
                    if top:
                        raise TemplateError(f"{self.src!r}: no value for mandatory <{n.name}>")
                    v = Raw("")
                out.append(v if isinstance(v, Raw) else format_value(p, v))
        return "".join(out)


def compile_for(src: str, params: list[Parameter], *, literal_placeholders: bool = False,
                extra: dict[str, Parameter] | None = None) -> Template:
    """Compile ``src`` against a parameter list (a command's or a URC's)."""
    table = {p.name: p for p in params}
    if extra:
        for k, v in extra.items():
            table.setdefault(k, v)

    def lookup(name: str) -> Parameter:
        try:
            return table[name]
        except KeyError:
            raise TemplateError(f"template {src!r}: unknown field <{name}>") from None

    return Template(src, lookup, literal_placeholders=literal_placeholders)


def split_args(text: str) -> list[str]:
    """Split a command line's argument string on commas outside double quotes."""
    out, buf, q = [], [], False
    for c in text:
        if c == '"':
            q = not q
        if c == "," and not q:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(c)
    out.append("".join(buf))
    return out
