"""Test purposes generated from a family spec.

For every command and form (see issue 2, item 7):

* TEST: the response parses (``<ID>/TEST/response``) and each reported supported-values
  list equals the spec's (``<ID>/TEST/range/<param>``);
* READ / EXECUTE: the response parses and every field is in range;
* WRITE, per variant: each boundary value (``min``, ``max``, ``default``) succeeds once
  the preconditions hold; ``below-min``, ``above-max``, ``not-in-set``, ``wrong-type``,
  ``missing-mandatory``, ``too-many``, ``overlong`` get ERROR (and, for TCP/IP commands,
  AT+QIGETERROR 552) and leave the DCE responsive.

Every malformed line is first proven invalid *under the spec* (the same matcher the
emulator uses), so a case never expects ERROR for a line the manual allows.
Pure: builds :class:`Purpose` objects; :mod:`atconform.casegen.execute` runs them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from atconform.protocol.commands import _fields_of, match_args, template_for
from atconform.spec.models import Command, Family, Form, FormKind, Parameter, Variant
from atconform.spec.template import Raw, TemplateError
from atconform.spec.values import bounds, reported_values


@dataclass(frozen=True)
class Purpose:
    """One test purpose. ``values`` may hold ``{ixit.x}``/``{peer.y.z}`` placeholders that
    the executor resolves; ``args`` (a malformed argument string) replaces ``values``."""

    id: str
    family: str
    command: str
    form: str
    kind: str                  # test-response|test-range|read|execute|write-ok|write-error
    title: str
    section: str
    source: str
    variant: str | None = None
    param: str | None = None
    label: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    args: str | None = None
    preconditions: tuple[str, ...] = ()
    cleanup: tuple[str, ...] = ()
    expect_urc: str | None = None
    emulator_only: str | None = None
    skip: str | None = None
    # False: the line is sent without its terminator (CaseHints.unterminated), and
    # ``args`` may hold placeholders (``{ixit.device_password}``) for the executor
    terminated: bool = True


def _pid(family: Family, cmd: Command, *parts: str) -> str:
    return "/".join([family.model.upper(), cmd.key, *parts])


def _line_name(cmd: Command, family: Family | None = None) -> str:
    if cmd.syntax == "escape":
        return cmd.name
    return (family.framing.prefix if family is not None else "AT") + cmd.name


def generate(family: Family) -> list[Purpose]:
    """All test purposes of ``family``, in manual order. Ids are unique."""
    out: list[Purpose] = []
    for cmd in family.commands:
        if cmd.syntax == "escape":
            continue  # +++ has guard times, not a syntax: the scenario suites test it
        for form in cmd.forms:
            out.extend(_for_form(family, cmd, form))
        out.extend(_persistence_cases(family, cmd))
    ids = [p.id for p in out]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate test purpose ids: {sorted(dup)}")
    return out


def _common(family: Family, cmd: Command) -> dict[str, Any]:
    return {"family": family.model, "command": cmd.name, "section": cmd.source.section,
            "source": str(cmd.source)}


def _for_form(family: Family, cmd: Command, form: Form) -> list[Purpose]:
    c = _common(family, cmd)
    hints = cmd.casegen
    name = _line_name(cmd, family)
    k = form.kind
    if k is FormKind.test:
        out = [Purpose(_pid(family, cmd, "TEST", "response"), form="test", kind="test-response",
                       title=f"{name}=? answers OK with the manual's test response", **c)]
        for f in _test_fields(cmd, form):
            p = cmd.param(f)
            out.append(Purpose(_pid(family, cmd, "TEST", "range", f), form="test", kind="test-range", param=f,
                               title=f"{name}=? reports <{f}> as {_describe(p)}", **c))
        return out
    if k is FormKind.read and any(v.syntax for v in form.variants):
        return _read_with_args(family, cmd, form, c)
    if k in (FormKind.read, FormKind.execute):
        suffix = "?" if k is FormKind.read else ""
        v0 = form.variants[0]
        # write cleanups name write parameters; only value-free steps apply here, unless the
        # variant gives its own (a query that needs a state first: GSM AT+QIACT in IP START)
        vh = v0.casegen
        pre = tuple(vh.preconditions) if vh else ()
        clean = tuple(vh.cleanup) if vh and vh.cleanup else tuple(s for s in hints.cleanup if "{" not in s)
        set_pre, set_clean = _setting_steps(family, v0)
        return [Purpose(_pid(family, cmd, k.value.upper(), "response"), form=k.value, kind=k.value,
                        title=f"{name}{suffix} answers with well-formed information text, fields in range",
                        emulator_only=hints.emulator_only, preconditions=set_pre + pre,
                        cleanup=clean + set_clean, **c)]
    out = []
    if hints.skip:
        return [Purpose(_pid(family, cmd, "WRITE"), form="write", kind="write-ok", skip=hints.skip,
                        title=f"{name}=... write cases", **c)]
    multi = len(form.variants) > 1
    for v in form.variants:
        out.extend(_write_cases(family, cmd, form, v, multi, c))
    return out


def _read_with_args(family: Family, cmd: Command, form: Form, c: dict) -> list[Purpose]:
    """A query with arguments (Queclink ``AT@BSS2?<password>,,<seq>``): the response
    purpose with the base values, then the same argument cases as a write (boundaries
    succeed, bad input is rejected), under ``READ``."""
    hints = cmd.casegen
    v = form.variants[0]
    fields = [f.name for f in _fields_of(v)]
    values = {k: hints.base[k] for k in fields if hints.base.get(k) is not None}
    out = [Purpose(_pid(family, cmd, "READ", "response"), form="read", kind="read", values=values,
                   title=f"{_line_name(cmd, family)}?{v.syntax} answers with well-formed information text, fields in range",
                   emulator_only=hints.emulator_only,
                   cleanup=tuple(s for s in hints.cleanup if "{" not in s), **c)]
    for variant in form.variants:
        out.extend(_write_cases(family, cmd, form, variant, len(form.variants) > 1, c))
    return out


def _test_fields(cmd: Command, form: Form) -> list[str]:
    seen: list[str] = []
    for v in form.variants:
        for r in v.responses:
            for f in template_for(cmd, r.template, literal=True).fields:
                if f.supported and f.name not in seen:
                    seen.append(f.name)
    return seen


def _describe(p: Parameter) -> str:
    vals = reported_values(p)
    if isinstance(vals, range):
        return f"{vals.start}-{vals[-1]}" if len(vals) > 2 else ",".join(map(str, vals))
    if vals and all(isinstance(v, int) for v in vals):
        lo, hi = bounds(vals)
        return f"{lo}-{hi}" if len(vals) == hi - lo + 1 and len(vals) > 2 else ",".join(map(str, vals))
    return ",".join(map(str, vals or []))


def _setting_steps(family: Family, v: Variant) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Steps that put the module settings a variant needs (``Variant.settings``) in force,
    and those that restore their defaults: ``setting:<name>=<value>`` (the family's
    session runs them; a list of values takes its first)."""
    if not v.settings:
        return (), ()
    pre, clean = [], []
    for k, want in v.settings.items():
        val = want[0] if isinstance(want, list) else want
        pre.append(f"setting:{k}={val}")
        default = family.setting(k).default
        if default != val:
            clean.append(f"setting:{k}={default}")
    return tuple(pre), tuple(clean)


def variant_settings(family: Family, v: Variant) -> dict[str, Any] | None:
    """The settings under which ``v`` is proven to (not) accept a line: the defaults with
    the variant's own over them; None when the variant needs none (every setting possible)."""
    if not v.settings:
        return None
    out: dict[str, Any] = {s.name: s.default for s in family.settings}
    out.update({k: (w[0] if isinstance(w, list) else w) for k, w in v.settings.items()})
    return out


def _hints_for(cmd: Command, v: Variant):
    h = cmd.casegen
    vh = v.casegen
    pre = tuple(vh.preconditions if vh and vh.preconditions else h.preconditions)
    clean = tuple(vh.cleanup if vh and vh.cleanup else h.cleanup)
    base = dict(h.base)
    if vh:
        base.update(vh.base)
    vary = (vh.vary if vh and vh.vary is not None else h.vary)
    return base, pre, clean, vary, (vh.expect_urc if vh and vh.expect_urc else h.expect_urc)


def _boundaries(p: Parameter) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    vals = p.supported_values()
    if p.type.value == "port_pair" and p.range is not None:
        lo, hi = p.range.min, p.range.max
        out = [("min", str(lo)), ("max", str(hi)), ("pair-min", f"{lo}|{lo}"), ("pair-max", f"{hi}|{hi}")]
    elif p.type.value == "hexdigits" and p.max_length:
        out = [("min", "0" * (p.min_length or p.max_length)), ("max", "F" * p.max_length)]
    elif p.is_numeric and vals:
        lo, hi = bounds(vals)
        out = [("min", lo), ("max", hi)]
    elif p.values:
        out = [(f"value-{v.value}".replace(" ", "_"), v.value) for v in p.values]
    if p.default is not None and all(p.default != x for _, x in out):
        out.append(("default", p.default))
    return out


_HEXCHARS = "0123456789ABCDEF"


def _filler(p: Parameter, n: int) -> str:
    """A value of ``n`` characters that is valid for ``p`` in everything but its length
    (for the Queclink types and host names; "x"s otherwise)."""
    t = p.type.value
    if t == "hexdigits":
        return (_HEXCHARS * (n // 16 + 1))[:n]
    if t == "port_pair":
        return "0" * max(0, n - 3) + "1|1"
    if t == "host":
        labels, left = [], n
        while left > 0:
            k = min(63, left)
            if left - k == 1:        # no empty last label: shorten this one
                k -= 1
            labels.append("a" * k)
            left -= k + 1
        return ".".join(labels)
    return "x" * n


def _length_cases(p: Parameter) -> tuple[list[tuple[str, Any]], list[tuple[str, str, str]]]:
    """(valid length cases, too-short case) of a parameter named in ``CaseHints.lengths``."""
    lo, hi = p.min_length or 0, p.max_length
    ok: list[tuple[str, Any]] = []
    if hi is not None and lo != hi:
        ok = [("min-length", _filler(p, lo)), ("max-length", _filler(p, hi))]
    bad = [("too-short", _filler(p, lo - 1), f"{lo - 1} characters (min {lo})")] if lo >= 1 else []
    return ok, bad


def _invalid_values(p: Parameter) -> list[tuple[str, str, str]]:
    """(label, raw token, why) for values outside the domain."""
    out: list[tuple[str, str, str]] = []
    if p.type.value == "port_pair" and p.range is not None:
        lo, hi = p.range.min, p.range.max
        out += [("below-min", str(lo - 1), f"{lo - 1} (min-1)"), ("above-max", str(hi + 1), f"{hi + 1} (max+1)"),
                ("local-below-min", f"{lo}|{lo - 1}", f"local port {lo - 1} (min-1)"),
                ("local-above-max", f"{lo}|{hi + 1}", f"local port {hi + 1} (max+1)"),
                ("three-parts", f"{lo}|{lo}|{lo}", "three '|'-separated ports"),
                ("not-a-number", "A", "a letter for a port")]
    if p.type.value == "hexdigits" and p.max_length:
        n = p.max_length
        out += [("lower-case", ("c" + _filler(p, n))[:n], "a lower-case hex digit"),
                ("non-hex", ("G" + _filler(p, n))[:n], "a non-hex digit 'G'")]
    if p.is_numeric:
        vals = p.supported_values() or []
        if vals:
            lo, hi = bounds(vals)
            out.append(("below-min", str(lo - 1), f"{lo - 1} (min-1)"))
            out.append(("above-max", str(hi + 1), f"{hi + 1} (max+1)"))
            gaps = [] if isinstance(vals, range) else [x for x in range(lo, hi + 1) if x not in vals]
            if gaps:
                out.append(("not-in-set", str(gaps[0]), f"{gaps[0]}, a gap in {_describe(p)}"))
        out.append(("wrong-type", '"A"', 'a quoted string "A" for an integer'))
    elif p.values:
        out.append(("not-in-set", f'"{p.values[0].value}X"', f"\"{p.values[0].value}X\", not one of the values"))
    if p.type.value == "hex":
        out.append(("odd-length", '"313"', 'an odd number of hex digits "313"'))
        out.append(("non-hex", '"3G"', 'a non-hex digit "3G"'))
    if p.max_length is not None:
        n = p.max_length + (2 if p.type.value == "hex" else 1)
        filler = "31" * (n // 2) if p.type.value == "hex" else _filler(p, n) if not p.quoted else "x" * n
        out.append(("overlong", f'"{filler}"' if p.quoted else filler, f"{n} characters (max {p.max_length})"))
    return out


def _write_cases(family: Family, cmd: Command, form: Form, v: Variant, multi: bool, c: dict) -> list[Purpose]:
    base, pre, clean, vary, expect_urc = _hints_for(cmd, v)
    hints = cmd.casegen
    fields = [f.name for f in _fields_of(v)]
    kind = form.kind.value
    prefix = [kind.upper()] + ([v.name] if multi else [])
    op = "?" if form.kind is FormKind.read else "="
    name = _line_name(cmd, family)
    emu_only = cmd.casegen.emulator_only
    out: list[Purpose] = []
    set_pre, set_clean = _setting_steps(family, v)
    settings = variant_settings(family, v)
    pre, clean = set_pre + pre, clean + set_clean
    common = dict(form=kind, variant=v.name, preconditions=pre, cleanup=clean,
                  emulator_only=emu_only, **c)
    # bad input needs only the settings that make it bad (no other precondition)
    bad_common = {**common, "preconditions": set_pre, "cleanup": set_clean}
    values0 = {k: base.get(k) for k in fields if base.get(k) is not None}
    for k, want in v.when.items():
        values0[k] = want
    # a variant whose syntax has no field: one case, the line itself
    if not fields:
        out.append(Purpose("/".join([_pid(family, cmd, *prefix), "response"]), kind="write-ok",
                           title=f"{name}{op}{v.syntax} answers with well-formed information text",
                           values={}, expect_urc=expect_urc, **common))
        return out
    varied = [f for f in fields if f not in v.when and f not in cmd.casegen.fixed
              and (vary is None or f in vary)]
    for f in varied:
        p = cmd.param(f)
        extra = list(hints.examples.get(f, {}).items())
        if f in hints.lengths:
            extra += _length_cases(p)[0]
        for label, value in _boundaries(p) + extra:
            vals = dict(values0)
            vals[f] = value
            if not _selects(cmd, form, v, vals, settings):
                continue
            out.append(Purpose("/".join([_pid(family, cmd, *prefix), f, label]), kind="write-ok", param=f,
                               label=label, values=vals, expect_urc=expect_urc,
                               title=f"{name}{op} with <{f}>={value!r} ({label}) succeeds", **common))
    # bad input: each parameter of the syntax, then shape errors
    sent = _sent_values(cmd, v, values0)
    for f in fields:
        if f in v.when:
            continue
        p = cmd.param(f)
        bad = _invalid_values(p) + (_length_cases(p)[1] if f in hints.lengths else [])
        for label, token, why in bad:
            vals = {k: (Raw(token) if k == f else val) for k, val in _example_values(cmd, v, values0).items()}
            vals[f] = Raw(token)
            try:
                args = template_for(cmd, v.syntax).render(vals)
            except TemplateError:
                continue
            if match_args(cmd, form, args, settings).ok:
                continue  # another syntax accepts it: not an error under the spec
            if hints.bad_lines_use_base:
                args = template_for(cmd, v.syntax).render({**sent, f: Raw(token)})
            out.append(Purpose("/".join([_pid(family, cmd, *prefix), f, label]), kind="write-error", param=f,
                               label=label, args=args,
                               title=f"{name}{op} with <{f}>={why} {_rejected(family)}", **bad_common))
        for label, value in hints.refused.get(f, {}).items():
            # valid under the syntax, refused by the DCE's state (a wrong password)
            args = template_for(cmd, v.syntax).render({**sent, f: value})
            out.append(Purpose("/".join([_pid(family, cmd, *prefix), f, label]), kind="write-error", param=f,
                               label=label, args=args,
                               title=f"{name}{op} with <{f}>={value!r} ({label}) {_rejected(family)}",
                               **bad_common))
    full = _example_values(cmd, v, values0)
    try:
        args = template_for(cmd, v.syntax).render(full)
    except TemplateError:
        return out
    if hints.unterminated:
        line = template_for(cmd, v.syntax).render(sent if hints.bad_lines_use_base else full)
        out.append(Purpose("/".join([_pid(family, cmd, *prefix), "unterminated"]), kind="write-error",
                           label="unterminated", args=line, terminated=False,
                           title=f"{name}{op}... without its terminator {family.framing.terminator!r} "
                                 f"{_rejected(family)}", **bad_common))
    shown = sent if hints.bad_lines_use_base else full
    mandatory = _mandatory(v)
    if mandatory:
        shorter = _render_without(cmd, v, full, mandatory[-1])
        if shorter is not None and not match_args(cmd, form, shorter, settings).ok:
            shorter = _render_without(cmd, v, shown, mandatory[-1])
            out.append(Purpose("/".join([_pid(family, cmd, *prefix), mandatory[-1], "missing-mandatory"]),
                               kind="write-error", param=mandatory[-1], label="missing-mandatory", args=shorter,
                               title=f"{name}{op} without mandatory <{mandatory[-1]}> {_rejected(family)}", **bad_common))
    longest = _render_all_optional(cmd, v, full)
    if longest is not None:
        extra = longest + ",1"
        if not match_args(cmd, form, extra, settings).ok:
            extra = _render_all_optional(cmd, v, shown) + ",1"
            out.append(Purpose("/".join([_pid(family, cmd, *prefix), "too-many"]), kind="write-error",
                               label="too-many", args=extra,
                               title=f"{name}{op} with one parameter too many {_rejected(family)}", **bad_common))
    out.extend(_rule_cases(family, cmd, form, v, prefix, values0, common))
    return out


def _rule_cases(family: Family, cmd: Command, form: Form, v: Variant, prefix: list[str],
                values0: dict, common: dict) -> list[Purpose]:
    """Purposes from the command's cross-parameter rules (:class:`Constraint`), under
    ``.../rule/<name>``: a line with a ``requires`` parameter missing, or with a
    ``forbids`` parameter given, gets ERROR (each first proven invalid under the spec
    only because of the rule); a ``state`` rule's line, sent once that state holds, is
    refused (``refused_with`` field values, else an error result)."""
    out: list[Purpose] = []
    fields = [f.name for f in _fields_of(v)]
    name, op = _line_name(cmd, family), "?" if form.kind is FormKind.read else "="
    # bad lines need no precondition but the settings that make them bad
    bad = {**common, "preconditions": tuple(s for s in common["preconditions"] if s.startswith("setting:"))}
    for c in cmd.constraints:
        when = {k: (w[0] if isinstance(w, list) else w) for k, w in c.when.items()}
        if any(k not in fields for k in when) or any(v.when.get(k, w) != w for k, w in when.items()):
            continue
        pid = "/".join([_pid(family, cmd, *prefix), "rule", c.name])
        if c.requires and set(c.requires) <= set(fields):
            # the rule's trigger and the syntax's mandatory fields only: the line parses,
            # and lacks what the rule requires
            keep = set(_mandatory(v)) | set(when)
            vals = {k: val for k, val in _example_values(cmd, v, {**values0, **when}).items()
                    if k in keep and k not in c.requires}
            args = _render_all_optional(cmd, v, vals)
            if args is not None and _rule_alone_rejects(cmd, form, v, args):
                out.append(Purpose(pid, kind="write-error", label=f"rule/{c.name}", args=args,
                                   title=f"{name}{op} breaking rule {c.name} (L{c.line}: {c.quote}) "
                                         f"{_rejected(family)}", **bad))
        if c.forbids and set(c.forbids) & set(fields):
            args = _render_all_optional(cmd, v, _example_values(cmd, v, {**values0, **when}))
            if args is not None and _rule_alone_rejects(cmd, form, v, args):
                out.append(Purpose(pid, kind="write-error", label=f"rule/{c.name}", args=args,
                                   title=f"{name}{op} breaking rule {c.name} (L{c.line}: {c.quote}) "
                                         f"{_rejected(family)}", **bad))
        if c.state:
            # the base values with the rule's trigger; else the trigger and the mandatory
            # fields alone (other rules may forbid the rest: MPING <mode> 0)
            keep = set(_mandatory(v)) | set(when)
            vals = next((x for x in ({**values0, **when},
                                     {k: val for k, val in {**values0, **when}.items() if k in keep})
                         if _accepted_as_given(cmd, form, v, x)), None)
            if vals is None:
                continue
            got = ", ".join(f"<{k}> {w}" for k, w in c.refused_with.items()) or "an error result"
            out.append(Purpose(pid, kind="write-refused", label=f"rule/{c.name}", values=vals,
                               title=f"{name}{op} in state {c.state} is refused with {got} "
                                     f"(L{c.line}: {c.quote})",
                               **{**common, "preconditions": common["preconditions"] + (c.state,)}))
    return out


# what happens between the write and the read of a persistence purpose (steps of the session)
PERSISTENCE_EVENTS = {"power-cycle": ("power_cycle",), "pdp-deactivation": ("context_inactive", "context_active")}


def _persistence_cases(family: Family, cmd: Command) -> list[Purpose]:
    """From the command's attribute table (:class:`Attributes`): set values that differ
    from the defaults, power-cycle the module (``persistent``) or take the link down and
    up (``survives_pdp_deactivation``), read them back: kept when the attribute says they
    survive, else gone (the default, or at least not the value set). Kind
    "persistence", label the event; nothing when the read form prints none of the write
    form's fields."""
    a, write, read = cmd.attributes, cmd.form(FormKind.write), cmd.form(FormKind.read)
    if a is None or write is None or read is None or cmd.casegen.skip:
        return []
    events = [(e, s) for e, s in (("power-cycle", a.persistent), ("pdp-deactivation", a.survives_pdp_deactivation))
              if s is not None]
    read_tpls = [template_for(cmd, r.template) for v in read.variants for r in v.responses]
    read_fields = [f.name for t in read_tpls for f in t.fields]
    for v in write.variants:
        base, pre, clean, _, _ = _hints_for(cmd, v)
        fields = [f.name for f in _fields_of(v)]
        values = {k: base[k] for k in fields if base.get(k) is not None}
        values.update(v.when)
        # the read line's leading field names the entry (a socket id): it selects, it is not compared
        keys = [t.fields[0].name for t in read_tpls if t.fields and t.fields[0].name in values]
        compared = [f for f in fields if f in read_fields and f not in keys and f not in v.when]
        for f in compared:
            p = cmd.param(f)
            vals = p.supported_values()
            if p.is_numeric and vals and values.get(f) == p.default:
                lo, hi = bounds(vals)
                values[f] = hi if hi != p.default else lo     # a value the default cannot pass for
        if not compared or not _accepted_as_given(cmd, write, v, values):
            continue
        c = _common(family, cmd)
        name = _line_name(cmd, family)
        return [Purpose(_pid(family, cmd, "PERSIST", event), form="write", kind="persistence", variant=v.name,
                        label=event, values=dict(values), preconditions=pre, cleanup=clean,
                        title=f"{name}= values {'survive' if kept else 'do not survive'} a {event.replace('-', ' ')} "
                              f"(attributes table L{a.line}: <{'>, <'.join(compared)}> read back with {name}?)", **c)
                for event, kept in events]
    return []


def _accepted_as_given(cmd: Command, form: Form, v: Variant, values: dict) -> bool:
    """``v`` takes the line of exactly ``values`` (placeholders as examples, the fields not
    given left out)."""
    given = {k: val for k, val in _example_values(cmd, v, values, lab_high=True).items() if k in values}
    args = _render_all_optional(cmd, v, given)
    m = match_args(cmd, form, args) if args is not None else None
    return m is not None and m.ok and m.variant is v


def _rule_alone_rejects(cmd: Command, form: Form, v: Variant, args: str) -> bool:
    """``args`` parse by ``v``'s syntax with no problem, yet no variant accepts them: a
    cross-parameter rule is what makes the line invalid."""
    parsed = template_for(cmd, v.syntax).parse(args)
    return parsed is not None and parsed.ok and not match_args(cmd, form, args).ok


def _rejected(family: Family) -> str:
    """How a purpose title says the DCE refuses a line: V.250 ``gets ERROR``; a family
    with no result codes (Queclink) has no error reply to name."""
    return "gets ERROR" if family.result_codes else "is rejected"


def _sent_values(cmd: Command, v: Variant, values: dict) -> dict:
    """The values bad-input lines carry when ``CaseHints.bad_lines_use_base``: the base
    values, placeholders kept for the executor (a device password), examples elsewhere."""
    out = _example_values(cmd, v, values)
    for k, val in values.items():
        if isinstance(val, str) and "{" in val:
            out[k] = Raw(val)
    return out


def _selects(cmd: Command, form: Form, v: Variant, values: dict, settings: dict | None = None) -> bool:
    """True when ``values`` rendered through ``v`` are accepted by ``v`` itself (not by
    another variant first, under ``settings`` when given), placeholders standing for
    valid values."""
    probe = _example_values(cmd, v, values, lab_high=True)
    try:
        args = template_for(cmd, v.syntax).render(probe)
    except TemplateError:
        return False
    m = match_args(cmd, form, args, settings)
    # variants that share a line and differ only in how the DTE ends its data after the
    # prompt (Fibocom HEX mode: Ctrl-Z, or the SENDTIME timer) are each selected by it
    return m.ok and (m.variant is v or (m.variant.syntax == v.syntax and m.variant.data is not None
                                        and v.data is not None))


_EXAMPLE = {"ipv4": "10.0.0.1", "ipv6": "2001:db8::1", "ip": "10.0.0.1", "host": "example.com",
            "hex": "3132", "time": "2024/01/01,00:00:00+00", "string": "x", "raw": "x",
            "port_pair": "1", "digits": "0", "timestamp": "20240101000000"}


def _example_values(cmd: Command, v: Variant, values: dict, lab_high: bool = False) -> dict:
    """``values`` with placeholders and gaps filled by valid examples (for proving a line
    valid or invalid under the spec)."""
    out = {}
    for f in (x.name for x in _fields_of(v)):
        p = cmd.param(f)
        val = values.get(f)
        placeholder = isinstance(val, str) and "{" in val
        if placeholder:
            val = None
        if val is None:
            if p.is_numeric:
                vals = p.supported_values()
                val = p.default if p.default is not None else (vals[0] if vals else 1)
                if placeholder and lab_high and p.default is None and vals:
                    # a lab value ({peer.tcp_echo.port}) stands for an ordinary one, never the
                    # low end a variant may single out (Fibocom <remote_port> 0: listen)
                    val = bounds(vals)[1]
            elif p.values:
                val = p.values[0].value
            elif p.type.value in ("hexdigits", "digits") or (p.type.value == "string" and p.min_length and not p.quoted):
                val = _filler(p, p.min_length or 1) if p.type.value != "digits" else "0" * (p.min_length or 1)
            else:
                val = _EXAMPLE.get(p.type.value, "x")
        out[f] = val
    return out


def _mandatory(v: Variant) -> list[str]:
    from atconform.spec.template import Fld, _parse_nodes
    return [n.name for n in _parse_nodes(v.syntax, False) if isinstance(n, Fld)]


def _render_without(cmd: Command, v: Variant, values: dict, drop: str) -> str | None:
    """The line with mandatory ``drop`` (a top-level field) and everything after it left
    out, and the separator before it."""
    src = v.syntax[:v.syntax.index(f"<{drop}>")]
    if src.endswith(","):
        src = src[:-1]
    try:
        return template_for(cmd, src).render(values)
    except TemplateError:
        return None


def _render_all_optional(cmd: Command, v: Variant, values: dict) -> str | None:
    try:
        return template_for(cmd, v.syntax).render(values)
    except TemplateError:
        return None

