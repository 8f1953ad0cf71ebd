"""Static conformance review (ISO/IEC 9646-1: the ICS checked before the dynamic tests).

Runs for each family given an ICS (``pytest --ics FILE``); without one nothing is
collected here. Each mismatch is its own failing purpose:

* ``<MODEL>/ICS/<CMD>/mandatory``: the ICS declares absent a command, form or parameter
  that the spec requires of a conforming module (``mandatory: true``; a parameter that is
  not ``optional``);
* ``<MODEL>/ICS/<CMD>/TEST/<param>``: what the module's test command (``=?``) reports for
  ``<param>`` equals the ICS's values (the spec's when the ICS narrows nothing);
* ``<MODEL>/ICS/identity/<key>``: the module's identity answer (``AT+GMR``...) is the
  one the ICS declares.
"""
from __future__ import annotations

import pytest

from atconform.casegen import _test_fields
from atconform.casegen.suite import command_name
from atconform.ics import reported_supported
from atconform.protocol.commands import build_line
from atconform.spec import load_family
from atconform.spec.models import FormKind
from atconform.verdicts import Deviation
from fixtures.ics import statements


def _mark(model: str, pid: str, title: str, command: str | None, section: str, source: str):
    return [pytest.mark.family(model),
            pytest.mark.purpose(pid, title=title, family=model, command=command, form="test" if "/TEST/" in pid else None,
                                section=section, source=source, kind="ics-review")]


def review_params(config) -> list:
    """``pytest.param`` per static review purpose of every family with an ICS."""
    out = []
    for model, ics in sorted(statements(config).items()):
        fam = load_family(model)
        M = model.upper()
        for a in ics.absent(fam):
            if not a["mandatory"]:
                continue
            cmd = fam.command(a["feature"].split(" ")[0])
            pid = f"{M}/ICS/{cmd.key}/mandatory"
            if any(p.id == pid for p in out):
                continue
            out.append(pytest.param(("mandatory", model, cmd.name, a), id=pid, marks=_mark(
                model, pid, f"the ICS declares present what the spec makes mandatory in {command_name(fam, cmd.name)}",
                command_name(fam, cmd.name), cmd.source.section, str(cmd.source))))
        for cmd in fam.commands:
            st = ics.commands.get(cmd.name)
            form = cmd.form(FormKind.test)
            if st is None or not st.supported or form is None or (st.forms is not None and not st.forms.get("test")):
                continue
            for name in _test_fields(cmd, form):
                p = cmd.param(name)
                if ics.supported_values(cmd, p) is None:
                    continue
                pid = f"{M}/ICS/{cmd.key}/TEST/{name}"
                out.append(pytest.param(("range", model, cmd.name, name), id=pid, marks=_mark(
                    model, pid, f"{command_name(fam, cmd.name)}=? reports <{name}> as the ICS declares",
                    command_name(fam, cmd.name), cmd.source.section, str(cmd.source))))
        for key in ics.identity:
            pid = f"{M}/ICS/identity/{key}"
            out.append(pytest.param(("identity", model, None, key), id=pid, marks=_mark(
                model, pid, f"the module's identity {key} is the ICS's", None, "", "")))
    return out


def pytest_generate_tests(metafunc):
    if "check" in metafunc.fixturenames:
        metafunc.parametrize("check", review_params(metafunc.config))


def test_static_review(check, modem, pytestconfig):
    what, model, command, arg = check
    ics = statements(pytestconfig)[model]
    fam = modem.family
    if what == "mandatory":
        raise Deviation(f"ICS {arg['where']}: declares {arg['feature']} absent; specs/{model}.yaml makes it "
                        f"mandatory for a conforming module")
    if what == "identity":
        got = modem.identity().get(arg)
        want = ics.identity[arg]
        if got is None:
            raise Deviation(f"ICS {ics.where('identity', arg)}: the suite reads no identity {arg!r} "
                            f"(it reads: {', '.join(modem.identity())})")
        if " ".join(got.split()) != " ".join(want.split()):
            raise Deviation(f"ICS {ics.where('identity', arg)}: declares {want!r}, the module answers {got!r}")
        return
    cmd = fam.command(command)
    p = cmd.param(arg)
    want = ics.supported_values(cmd, p)
    resp = modem.answered(build_line(fam, cmd, FormKind.test))
    modem.check(resp, expect_success=True)
    got = reported_supported(cmd, resp, arg)
    if got is None:
        raise Deviation(f"{resp.line}: no supported-values list for <{arg}> in {resp.lines}")
    if got != want:
        raise Deviation(f"{resp.line}: <{arg}> reported as {_fmt(got)}; "
                        f"ICS {ics.where('commands', cmd.name, 'parameters', arg)} declares {_fmt(want)}")


def _fmt(s) -> str:
    from atconform.casegen.execute import _fmt as fmt
    return fmt(s)
