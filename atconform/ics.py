"""ICS: Implementation Conformance Statement (ISO/IEC 9646-7 style), one YAML per module
and firmware.

The ICS says what the module under test implements, within what its family's spec
(``specs/<model>.yaml``) allows: which commands and forms, which optional parameters, which
values of an enumeration or range (access modes, service types), and its answers to the
spec's declarations (``ics:`` of the spec, choices the manual leaves open). The IXIT stays
the lab's parameters (APN, peers, power).

Example (``atconform ics --model bg96`` writes a full one from the spec, with comments)::

    model: bg96
    firmware: BG96MAR02A07M1G          # free text: the firmware this statement is for
    identity: {AT+GMR: BG96MAR02A07M1G}  # answers the static review compares
    declarations: {}                   # spec ics: name -> the module's value
    commands:
      "+QIOPEN":
        supported: true
        forms: {test: true, write: true}
        parameters:
          access_mode: {values: [0, 1]}       # no transparent mode
          connectID: {range: {min: 0, max: 11}}
      "+QNWINFO": {supported: false}

What follows for a test purpose (:meth:`Ics.applicability`):

* a command, form or optional parameter declared absent, or a value outside the declared
  values: **not applicable**, with the ICS line as the reason;
* a command left out of the file, or a form left out of a command's ``forms``: **not
  stated**: the purpose is not run (verdict skipped) and the report says the ICS is
  incomplete. ``parameters`` are refinements: a parameter left out supports the spec's
  whole domain.

Unknown keys, commands, forms, parameters or declarations, and values outside the spec's
domain, are errors (:class:`~atconform.errors.BadInput`, one line).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from atconform.errors import BadInput, load_yaml, reading
from atconform.protocol.commands import _fields_of, response_templates, template_for
from atconform.spec.models import Command, Family, FormKind, Parameter, Range
from atconform.spec.values import IntervalSet, check_value, reported_values

__all__ = [
    "APPLICABLE", "NOT_APPLICABLE", "NOT_STATED",
    "Applicability", "CommandIcs", "Ics", "ParamIcs",
    "default_ics_text", "load_ics", "resolve_command",
]

Scalar = str | int | float | bool | None
FormName = Literal["test", "read", "write", "execute"]

_FORMS = {k.value for k in FormKind}
APPLICABLE = "applicable"
NOT_APPLICABLE = "not applicable"
NOT_STATED = "not stated"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParamIcs(_Strict):
    """What the module supports of one parameter: ``supported: false`` for an optional
    parameter it lacks; ``values`` (enumerations) or ``range`` (integers) for the subset of
    the spec's domain it takes."""

    supported: bool = True
    values: list[int | str] | None = None
    range: Range | None = None


class CommandIcs(_Strict):
    """One command's statement. ``forms`` None: every form of the spec."""

    supported: bool
    forms: dict[FormName, bool] | None = None
    parameters: dict[str, ParamIcs] = Field(default_factory=dict)


class Ics(_Strict):
    """An ICS file. ``commands`` are keyed by the spec's command name (``+QIOPEN``,
    ``BSS2``); ``identity`` maps an identity query (``ATI``, ``AT+GMR``, the family
    session's keys) to the text the module is declared to answer; ``declarations`` maps a
    spec ``ics:`` declaration name to the module's value."""

    model: str
    firmware: str | None = None
    identity: dict[str, str] = Field(default_factory=dict)
    declarations: dict[str, Scalar] = Field(default_factory=dict)
    commands: dict[str, CommandIcs] = Field(default_factory=dict)

    _path: str = PrivateAttr(default="ICS")
    _lines: dict[tuple, int] = PrivateAttr(default_factory=dict)

    # -- where a statement is written -----------------------------------------------
    @property
    def path(self) -> str:
        return self._path

    def where(self, *keys: Any) -> str:
        """``file:line: a.b.c`` for the deepest of ``keys`` the file spells out."""
        dotted = ".".join(str(k) for k in keys)
        for n in range(len(keys), 0, -1):
            line = self._lines.get(tuple(keys[:n]))
            if line is not None:
                return f"{self._path}:{line}: {dotted}"
        return f"{self._path}: {dotted}"

    # -- checks against the spec --------------------------------------------------------
    def problems(self, family: Family) -> list[tuple[str, str]]:
        """``(field, reason)`` for every statement the spec cannot have: another model, an
        unknown command, form, parameter or declaration, a value outside the spec's domain
        or a declaration's choices."""
        out: list[tuple[str, str]] = []
        if self.model != family.model:
            out.append(("model", f"{self.model!r} is not {family.model!r}"))
            return out
        names = {d.name: d for d in family.ics}
        for name, value in self.declarations.items():
            d = names.get(name)
            if d is None:
                out.append((f"declarations.{name}", f"the {family.model} spec declares no {name} "
                            f"(known: {', '.join(names) or 'none'})"))
            elif d.choices and value not in d.choices:
                out.append((f"declarations.{name}", f"not one of {d.choices}"))
        for key, st in self.commands.items():
            try:
                cmd = family.command(key)
            except KeyError:
                out.append((f"commands.{key}", f"no such command in specs/{family.model}.yaml"))
                continue
            if cmd.name != key:
                out.append((f"commands.{key}", f"write the spec's name {cmd.name!r}"))
            for form in (st.forms or {}):
                if cmd.form(form) is None:
                    out.append((f"commands.{key}.forms.{form}", f"{cmd.name} has no {form} form in the spec"))
            pnames = {p.name: p for p in cmd.parameters}
            for pname, pst in st.parameters.items():
                p = pnames.get(pname)
                where = f"commands.{key}.parameters.{pname}"
                if p is None:
                    out.append((where, f"{cmd.name} has no parameter <{pname}>"))
                    continue
                if pst.values is not None and pst.range is not None:
                    out.append((where, "give values or range, not both"))
                for v in pst.values or []:
                    if check_value(p, v) is not None:
                        out.append((f"{where}.values", f"{v!r} is outside the spec's domain of <{pname}>"))
                if pst.range is not None:
                    spec = reported_values(p)
                    if not isinstance(spec, range) or not p.is_numeric:
                        out.append((f"{where}.range", f"<{pname}> is not an integer range in the spec"))
                    elif pst.range.min not in spec or pst.range.max not in spec:
                        out.append((f"{where}.range", f"outside the spec's {spec.start}-{spec[-1]}"))
        return out

    # -- what a purpose may assume ------------------------------------------------------
    def statement(self, family: Family, command: str | None) -> tuple[Command | None, CommandIcs | None]:
        cmd = resolve_command(family, command)
        if cmd is None:
            return None, None
        return cmd, self.commands.get(cmd.name)

    def applicability(self, family: Family, *, command: str | None, form: str | None = None,
                      param: str | None = None, values: dict[str, Any] | None = None,
                      requires: list[str] | tuple[str, ...] = ()) -> "Applicability":
        """Whether a purpose on ``command`` (spec name or as written, ``AT+QIOPEN``),
        ``form`` (test/read/write/execute), ``param`` (the parameter it varies) with the
        concrete ``values`` it writes, and further ``requires`` (feature strings
        ``CMD``, ``CMD.form``, ``CMD.param``, ``CMD.param=value``) may run under this ICS.
        Placeholders (``{ixit.x}``) in values are not judged. A purpose on a command the
        spec does not know is applicable."""
        checks: list[tuple[str | None, str | None, str | None, dict]] = [(command, form, param, values or {})]
        for feature in requires:
            checks.append(_feature(feature))
        for cmd_name, f, p, vals in checks:
            verdict = self._one(family, cmd_name, f, p, vals)
            if verdict.status != APPLICABLE:
                return verdict
        return Applicability(APPLICABLE, "")

    def _one(self, family: Family, command, form, param, values) -> "Applicability":
        cmd, st = self.statement(family, command)
        if cmd is None:
            return Applicability(APPLICABLE, "")
        if st is None:
            return Applicability(NOT_STATED, f"ICS incomplete: {self._path} has no entry commands.{cmd.name}")
        if not st.supported:
            return Applicability(NOT_APPLICABLE, f"ICS {self.where('commands', cmd.name, 'supported')}: false")
        if form in _FORMS and st.forms is not None:    # scenario purposes carry other "forms"
            if form not in st.forms:
                return Applicability(NOT_STATED, f"ICS incomplete: {self.where('commands', cmd.name, 'forms')} "
                                                 f"does not state the {form} form")
            if not st.forms[form]:
                return Applicability(NOT_APPLICABLE, f"ICS {self.where('commands', cmd.name, 'forms', form)}: false")
        names = [param] if param else []
        names += [n for n in values if n not in names]
        for name in names:
            pst = st.parameters.get(name)
            if pst is None:
                continue
            base = ("commands", cmd.name, "parameters", name)
            if not pst.supported:
                return Applicability(NOT_APPLICABLE, f"ICS {self.where(*base, 'supported')}: false")
            if name not in values:
                continue
            v = values[name]
            if isinstance(v, str) and "{" in v:
                continue            # an IXIT placeholder: the lab's own value
            if pst.values is not None and v not in pst.values:
                return Applicability(NOT_APPLICABLE, f"ICS {self.where(*base, 'values')}: {_fmt(pst.values)} "
                                                     f"(no {v!r})")
            if pst.range is not None and isinstance(v, int) and not isinstance(v, bool) and v not in pst.range:
                return Applicability(NOT_APPLICABLE, f"ICS {self.where(*base, 'range')}: "
                                                     f"{pst.range.min}-{pst.range.max} (no {v})")
        return Applicability(APPLICABLE, "")

    def supported_values(self, cmd: Command, p: Parameter):
        """The values the module is declared to report for ``p`` in a test command: the
        ICS's values or range, else the spec's (:func:`reported_values`); None when the
        parameter has no finite domain."""
        st = self.commands.get(cmd.name)
        pst = st.parameters.get(p.name) if st else None
        if pst is not None and pst.values is not None:
            return IntervalSet.of(pst.values) if p.is_numeric else set(pst.values)
        if pst is not None and pst.range is not None:
            return IntervalSet([(pst.range.min, pst.range.max)])
        vals = reported_values(p)
        if vals is None:
            return None
        return IntervalSet.of(vals) if p.is_numeric else set(vals)

    def absent(self, family: Family) -> list[dict[str, Any]]:
        """Every feature declared absent or narrowed: ``{"feature", "where", "mandatory"}``
        (``mandatory``: the spec requires it of a conforming module)."""
        out = []
        for name, st in self.commands.items():
            try:
                cmd = family.command(name)
            except KeyError:
                continue
            if not st.supported:
                out.append({"feature": cmd.name, "where": self.where("commands", name, "supported"),
                            "mandatory": cmd.mandatory})
                continue
            for form, ok in (st.forms or {}).items():
                if not ok:
                    out.append({"feature": f"{cmd.name} {form}", "where": self.where("commands", name, "forms", form),
                                "mandatory": cmd.mandatory})
            for pname, pst in st.parameters.items():
                try:
                    p = cmd.param(pname)
                except KeyError:
                    continue
                base = ("commands", name, "parameters", pname)
                if not pst.supported:
                    out.append({"feature": f"{cmd.name} <{pname}>", "where": self.where(*base, "supported"),
                                "mandatory": cmd.mandatory and not p.optional})
                elif _narrower(p, pst):
                    what = _fmt(pst.values) if pst.values is not None else f"{pst.range.min}-{pst.range.max}"
                    out.append({"feature": f"{cmd.name} <{pname}> only {what}",
                                "where": self.where(*base, "values" if pst.values is not None else "range"),
                                "mandatory": False})
        return out

    def not_stated(self, family: Family) -> list[str]:
        """Commands (and ``command form``) of the spec this ICS leaves out."""
        out = []
        for cmd in family.commands:
            st = self.commands.get(cmd.name)
            if st is None:
                out.append(cmd.name)
            elif st.supported and st.forms is not None:
                out += [f"{cmd.name} {f.kind.value}" for f in cmd.forms if f.kind.value not in st.forms]
        return out

    def summary(self, family: Family) -> dict[str, Any]:
        """The JSON-able record the report shows: path, firmware, identity, declarations,
        features absent, what is not stated, and counts of commands."""
        return {"model": self.model, "path": self._path, "firmware": self.firmware,
                "identity": dict(self.identity), "declarations": dict(self.declarations),
                "absent": self.absent(family), "not_stated": self.not_stated(family),
                "commands_stated": len(self.commands), "commands_in_spec": len(family.commands)}


@dataclass(frozen=True)
class Applicability:
    """``status``: :data:`APPLICABLE`, :data:`NOT_APPLICABLE` or :data:`NOT_STATED`;
    ``reason``: the ICS line that decided it (``file:line: key.path: value``)."""

    status: str
    reason: str


def _narrower(p: Parameter, pst: ParamIcs) -> bool:
    """Whether the ICS's values or range leave out some of the spec's."""
    spec = reported_values(p)
    if spec is None or (pst.values is None and pst.range is None):
        return False
    if pst.values is not None:
        return (IntervalSet.of(pst.values) != IntervalSet.of(spec)) if p.is_numeric else set(pst.values) != set(spec)
    return IntervalSet([(pst.range.min, pst.range.max)]) != IntervalSet.of(spec)


def _fmt(values) -> str:
    return "[" + ", ".join(json.dumps(v) if isinstance(v, str) else str(v) for v in values) + "]"


def _feature(text: str) -> tuple[str, str | None, str | None, dict]:
    """``+QIOPEN.access_mode=2`` -> (command, form, param, values)."""
    head, eq, value = text.partition("=")
    cmd, _, rest = head.partition(".")
    if not rest:
        return cmd, None, None, {}
    if rest in {k.value for k in FormKind}:
        return cmd, rest, None, {}
    if not eq:
        return cmd, None, rest, {}
    try:
        v: Any = int(value)
    except ValueError:
        v = value
    return cmd, None, rest, {rest: v}


def reported_supported(cmd: Command, resp, name: str):
    """The supported values a test command's response (``resp``, an engine Response)
    reports for parameter ``name``: an :class:`IntervalSet` (numbers) or a set of
    strings; None when no information text line carries the list."""
    form = cmd.form(FormKind.test)
    if form is None:
        return None
    templates = [t for t in response_templates(cmd, form, form.variants[0])
                 if any(f.name == name and f.supported for f in t.fields)]
    parsed = (t.parse(line.text) for t in templates for line in resp.info)
    return next((v.values[name] for v in parsed if v is not None and name in v.values), None)


def resolve_command(family: Family, name: str | None) -> Command | None:
    """The spec command a purpose names: ``+QIOPEN``, ``AT+QIOPEN``, ``QIOPEN``,
    ``AT@BSS2``, ``BSS2``; None when the spec has none of that name."""
    if not name:
        return None
    candidates = [name]
    prefix = family.framing.prefix
    if prefix and name.upper().startswith(prefix.upper()) and len(name) > len(prefix):
        candidates.append(name[len(prefix):])
    if name[:2].upper() == "AT" and len(name) > 2:
        candidates.append(name[2:])
    for c in candidates:
        try:
            return family.command(c)
        except KeyError:
            continue
    return None


# -- reading --------------------------------------------------------------------------

def _key_lines(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Key path -> 1-based line of the key, for every mapping key in the document."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                here = path + (k.value,)
                out[here] = k.start_mark.line + 1
                _key_lines(v, here, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _key_lines(v, path + (i,), out)
    return out


def load_ics(path: str | Path, family: Family | None = None) -> Ics:
    """Read and validate an ICS file; with ``family``, also against its spec
    (:meth:`Ics.problems`). Raises :class:`BadInput` (``<file>: <field>: <reason>``)."""
    data = load_yaml(path)
    with reading(path):
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
        ics = Ics.model_validate(data if data is not None else {})
    ics._path = str(path)
    ics._lines = _key_lines(node) if node is not None else {}
    if family is not None:
        bad = ics.problems(family)
        if bad:
            raise BadInput(path, bad)
    return ics


# -- the generated default --------------------------------------------------------------

def _q(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)


def _key(name: str) -> str:
    # plain where YAML reads it back as the same string (+QIOPEN, BSS2); quoted otherwise (&W, "")
    return name if re.fullmatch(r"[A-Za-z0-9_+][A-Za-z0-9_+-]*", name) else _q(name)


def _statable(cmd: Command) -> list[Parameter]:
    """Parameters a module's statement can restrict: those of a command line's syntax and
    those a test command reports (not the fields of information text only)."""
    names: list[str] = []
    for form in cmd.forms:
        for v in form.variants:
            if form.kind is FormKind.test:
                for r in v.responses:
                    try:
                        names += [f.name for f in template_for(cmd, r.template, literal=True).fields if f.supported]
                    except Exception:
                        continue
            else:
                try:
                    names += [f.name for f in _fields_of(v)]
                except Exception:
                    continue
    return [p for p in cmd.parameters if p.name in names]


def _comment(text: str, indent: str, width: int = 92) -> list[str]:
    words = " ".join(str(text).split()).split(" ")
    lines, cur = [], ""
    for w in words:
        if cur and len(indent) + 2 + len(cur) + 1 + len(w) > width:
            lines.append(f"{indent}# {cur}")
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        lines.append(f"{indent}# {cur}")
    return lines


def _param_line(p: Parameter) -> str | None:
    vals = reported_values(p) if p.type.value != "port_pair" else None
    if p.values:
        meanings = "; ".join(f"{v.value}: {v.meaning}" for v in p.values)
        body = f"{{values: [{', '.join(_q(v.value) for v in p.values)}]}}"
        return f"{_key(p.name)}: {body}" + _short_comment(_opt(p, meanings))
    if isinstance(vals, range) and p.is_numeric:
        return f"{_key(p.name)}: {{range: {{min: {vals.start}, max: {vals[-1]}}}}}" + _short_comment(_opt(p, p.description))
    if p.optional:
        return f"{_key(p.name)}: {{supported: true}}" + _short_comment("optional: " + p.description)
    return None


def _opt(p: Parameter, text: str) -> str:
    return "; ".join(t for t in ("optional" if p.optional else "", " ".join(str(text or "").split())) if t)


def _short_comment(text: str, n: int = 90) -> str:
    text = " ".join(str(text or "").split())
    if not text:
        return ""
    return "   # " + (text if len(text) <= n else text[: n - 3] + "...")


def default_ics_text(family: Family) -> str:
    """A full ICS for ``family`` as YAML text with comments: every command and form of the
    spec supported, every enumeration and range at the spec's domain, every declaration at
    the spec's value. Loading it back gives an ICS under which every purpose applies."""
    out = [
        f"# ICS (Implementation Conformance Statement) for {family.title} ({family.model})",
        f"# Written by `atconform ics --model {family.model}` from specs/{family.model}.yaml: everything the",
        "# spec knows, declared supported. Edit it to state what the module under test implements:",
        "#   supported: false                    the module lacks the command: its purposes are not applicable",
        "#   forms: {write: false}               it lacks a form",
        "#   parameters: {p: {supported: false}} it lacks an optional parameter",
        "#   parameters: {p: {values: [...]}} or {p: {range: {min: a, max: b}}}  the values it supports",
        "# A command left out (or a form left out of forms) is not stated: its purposes are not run",
        "# and the report says the ICS is incomplete. A parameter left out supports the spec's domain.",
        "# Lacking a command the spec marks mandatory fails the static conformance review.",
        "# Use: pytest --ics THIS_FILE [--model ...]; the IXIT keeps the lab's parameters.",
        f"model: {family.model}",
        "firmware: null            # the firmware this statement is for (free text, shown in the report)",
        "identity: {}              # identity answers the static review compares, e.g.",
        "#  AT+GMR: BG96MAR02A07M1G  (keys: what the suite records as firmware identity)",
    ]
    if family.ics:
        out.append("declarations:            # behaviours the manual leaves open (spec ics:)")
        for d in family.ics:
            out += _comment(d.description, "  ")
            if d.choices:
                out.append(f"  # choices: {', '.join(_q(c) for c in d.choices)}" + (f"; unit: {d.unit}" if d.unit else ""))
            elif d.unit:
                out.append(f"  # unit: {d.unit}")
            out.append(f"  {_key(d.name)}: {_q(d.value)}")
    else:
        out.append("declarations: {}          # the spec declares no open behaviour (ics:)")
    out.append("commands:")
    for cmd in family.commands:
        tag = "" if cmd.mandatory else "; optional in the spec (mandatory: false)"
        out.append(f"  # {cmd.at_name if family.framing.style == 'v250' else family.framing.prefix + cmd.name}: "
                   f"{cmd.title} (§{cmd.source.section}{tag})")
        out.append(f"  {_key(cmd.name)}:")
        out.append("    supported: true")
        forms = ", ".join(f"{f.kind.value}: true" for f in cmd.forms)
        out.append(f"    forms: {{{forms}}}")
        plines = [line for p in _statable(cmd) if (line := _param_line(p))]
        if plines:
            out.append("    parameters:")
            out += [f"      {line}" for line in plines]
    return "\n".join(out) + "\n"
