"""Run one generated test purpose against a :class:`ModemSession` (any modem).

Raises :class:`Deviation` (verdict fail) with the spec clause broken, or
:class:`Inconclusive` when a precondition cannot be reached. Returns normally on pass.
"""
from __future__ import annotations

from atconform.casegen import Purpose
from atconform.protocol.commands import build_line, response_templates
from atconform.protocol.engine import Response, parse_info
from atconform.session import ModemSession
from atconform.spec.models import FormKind
from atconform.spec.values import IntervalSet, reported_values
from atconform.verdicts import Deviation


def run(p: Purpose, modem: ModemSession) -> Response | None:
    fam = modem.family
    cmd = fam.command(p.command)
    form = cmd.form(p.form)
    if p.kind in ("test-response", "test-range"):
        resp = modem.answered(build_line(fam, cmd, FormKind.test))
        modem.check(resp, expect_success=True)
        if p.kind == "test-range":
            _check_range(modem, cmd, form, resp, p.param)
        return resp
    if p.kind in ("read", "execute"):
        for step in p.preconditions:      # a state the query needs (GSM AT+QIACT: IP START)
            modem.step(step, {})
        # a query with arguments (Queclink AT@BSS2?<password>,,<seq>) takes the purpose's values
        line = build_line(fam, cmd, FormKind(p.form), modem.resolver.values(p.values))
        variant = form.variants[0]
        try:
            resp = modem.answered(line, **_data_kw(variant, {}))
            modem.check(resp)
            if resp.final.kind not in ("ok", "connect", "no_carrier", "send_ok"):
                raise Deviation(f"{resp.line}: got {resp.final.text}")
            _leave_data_mode(modem, resp)
        except Exception:
            try:
                _cleanup(modem, p, {})
            except Exception:
                pass
            raise
        _cleanup(modem, p, {})
        return resp
    if p.kind == "write-refused":
        return _run_refused(p, modem)
    if p.kind == "persistence":
        return _run_persistence(p, modem)
    if p.kind == "write-error":
        for step in p.preconditions:      # only the settings that make the line bad
            modem.step(step, {})
        # args may name the device password ({ixit.device_password}); the form may be a query
        line = build_line(fam, cmd, FormKind(p.form), args=modem.resolver.value(p.args))
        if not p.terminated:        # the line goes without its terminator (CaseHints.unterminated)
            resp = modem.expect_rejected(line, p.title.split(" with ", 1)[-1], terminated=False)
        else:
            resp = modem.expect_rejected(line, p.title.split(" with ", 1)[-1])
        _cleanup(modem, p, {})
        return resp
    # write-ok: boundary value with preconditions
    values = modem.resolver.values(p.values)
    variant = next(v for v in form.variants if v.name == p.variant)
    for step in p.preconditions:
        modem.step(step, values)
    line = build_line(fam, cmd, FormKind(p.form), values, variant=variant)
    try:
        resp = modem.answered(line, **_data_kw(variant, values))
        if variant.data and not resp.prompt and resp.final.kind not in ("error", "cme_error"):
            raise Deviation(f"{line}: no '>' prompt before {resp.final.text}")
        modem.check(resp, expect_success=True)
        if _leave_data_mode(modem, resp):
            pass    # the write entered data mode: CONNECT is its outcome, instead of a URC
        elif p.expect_urc:
            _await_urc(modem, cmd, variant, values, p.expect_urc)
    except Exception:
        # the verdict found so far stands: a failing cleanup must not turn a fail
        # into inconclusive, so after an exception the cleanup is best effort
        try:
            _cleanup(modem, p, values)
        except Exception:
            pass
        raise
    _cleanup(modem, p, values)
    return resp


def _data_kw(variant, values: dict) -> dict:
    """The payload a data command's purpose writes after ``>``: its fixed length of "x",
    or "test" and Ctrl-Z."""
    # typed as two hex digits a byte when the variant says so (Variant.data_encoding)
    enc = (lambda b: b.hex().upper().encode()) if variant.data_encoding == "hex" else (lambda b: b)
    if variant.data == "fixed":
        return {"data": enc(b"x" * int(values.get(variant.data_length, 0)))}
    if variant.data == "ctrl_z":
        return {"data": enc(b"test"), "ctrl_z": True}
    if variant.data == "timer":
        # no Ctrl-Z: the input ends when the module's timer (Variant.data_timer) runs out;
        # wait the variant's own time (its line is another variant's too)
        return {"data": enc(b"test"), "timeout": variant.max_response_time}
    return {}


def _leave_data_mode(modem: ModemSession, resp: Response) -> bool:
    """Back to command mode with ``+++`` when the command entered data mode (a CONNECT
    final, or a CONNECT line that followed its OK); True when it had."""
    if resp.final is not None and resp.final.kind == "connect" or modem.ch.engine.framer.data_mode:
        modem.escape_data_mode()
        return True
    return False


def _run_refused(p: Purpose, modem: ModemSession) -> Response:
    """A line valid under the syntax, sent once the state a cross-parameter rule names
    holds (``Constraint.state``): the DCE refuses it, with the rule's ``refused_with``
    information-text values (Fibocom "+MIPSETS: 3") or an error result."""
    fam = modem.family
    cmd = fam.command(p.command)
    form = cmd.form(p.form)
    rule = next(c for c in cmd.constraints if f"rule/{c.name}" == p.label)
    values = modem.resolver.values(p.values)
    variant = next(v for v in form.variants if v.name == p.variant)
    why = f"(L{rule.line}: {rule.quote})"
    try:
        for step in p.preconditions:
            modem.step(step, values)
        line = build_line(fam, cmd, FormKind(p.form), values, variant=variant)
        resp = modem.answered(line)
        if rule.refused_with:
            modem.check(resp)
            got: dict = {}
            for i in range(len(resp.info)):
                got.update(parse_info(resp, i))
            bad = {k: got.get(k) for k, want in rule.refused_with.items() if got.get(k) != want}
            if bad:
                raise Deviation(f"{line} in state {rule.state}: {bad}, expected {rule.refused_with} {why}")
        elif resp.final.kind not in ("error", "cme_error"):
            raise Deviation(f"{line} in state {rule.state} got {resp.final.text}, expected an error result {why}")
    except Exception:
        try:
            _cleanup(modem, p, values)
        except Exception:
            pass
        raise
    _cleanup(modem, p, values)
    return resp


def _run_persistence(p: Purpose, modem: ModemSession) -> Response:
    """Set values, let the purpose's event happen (a power cycle, the link down and up:
    ``PERSISTENCE_EVENTS``), read them back with the read form: the entry the read line's
    leading field names (a socket id) keeps the values when the command's attribute
    table says they survive, else shows the defaults (or at least not the values set)."""
    from atconform.casegen import PERSISTENCE_EVENTS

    fam = modem.family
    cmd = fam.command(p.command)
    a = cmd.attributes
    kept = a.persistent if p.label == "power-cycle" else a.survives_pdp_deactivation
    values = modem.resolver.values(p.values)
    variant = next(v for v in cmd.form("write").variants if v.name == p.variant)
    try:
        for step in p.preconditions:
            modem.step(step, values)
        r = modem.answered(build_line(fam, cmd, FormKind.write, values, variant=variant))
        modem.check(r, expect_success=True)
        for step in PERSISTENCE_EVENTS[p.label]:
            modem.step(step, values)
        r = modem.answered(build_line(fam, cmd, FormKind.read))
        modem.check(r, expect_success=True)
        rows = [parse_info(r, i) for i in range(len(r.info))]
        tpls = response_templates(cmd, cmd.form("read"), cmd.form("read").variants[0])
        keys = [t.fields[0].name for t in tpls if t.fields and t.fields[0].name in values]
        row = next((x for x in rows if all(x.get(k) == values[k] for k in keys)), None)
        for f, want in values.items():
            if f in keys or f in variant.when:
                continue
            got = None if row is None else row.get(f)
            if kept and got != want:
                raise Deviation(f"after a {p.label}: <{f}> reads {got!r}, set to {want!r}; the attribute table "
                                f"(L{a.line}) says it survives")
            default = cmd.param(f).default
            if not kept and got is not None and (got == want or (default is not None and got != default)):
                raise Deviation(f"after a {p.label}: <{f}> reads {got!r} (set to {want!r}, default {default!r}); "
                                f"the attribute table (L{a.line}) says it does not survive")
    except Exception:
        try:
            _cleanup(modem, p, values)
        except Exception:
            pass
        raise
    _cleanup(modem, p, values)
    return r


def _check_range(modem, cmd, form, resp: Response, name: str) -> None:
    p = cmd.param(name)
    vals = reported_values(p)
    want = IntervalSet.of(vals) if p.is_numeric else set(vals)
    for tpl in response_templates(cmd, form, form.variants[0]):
        if not any(f.name == name and f.supported for f in tpl.fields):
            continue
        for line in resp.info:
            parsed = tpl.parse(line.text)
            if parsed is not None and name in parsed.values:
                got = parsed.values[name]
                if got != want:
                    raise Deviation(f"{resp.line}: <{name}> reported as {_fmt(got)}, the manual says {_fmt(want)}")
                return
    raise Deviation(f"{resp.line}: no supported-values list for <{name}> in {resp.lines}")


def _fmt(s) -> str:
    if isinstance(s, IntervalSet):
        return repr(s)
    vals = sorted(s)
    if vals and all(isinstance(v, int) for v in vals) and vals == list(range(vals[0], vals[-1] + 1)) and len(vals) > 2:
        return f"({vals[0]}-{vals[-1]})"
    return "(" + ",".join(map(str, vals)) + ")"


def _await_urc(modem: ModemSession, cmd, variant, values, name: str) -> None:
    limit = modem.urc_wait_limit(cmd, variant, values)
    if modem.ch.wait_urc(modem.urc_of(name, values), limit) is None:
        raise Deviation(f"no {name} URC within {limit:g} s after {cmd.name}")


def _cleanup(modem: ModemSession, p: Purpose, values: dict) -> None:
    for step in p.cleanup:
        modem.step(step, values)
