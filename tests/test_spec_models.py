"""Spec files and models: every family spec loads, compiles and cites its sources; the models
reject malformed specs; the committed JSON schema is current."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from atconform import MODELS
from atconform.spec import Family, load_family, load_path, specs_dir
from atconform.spec.models import Parameter, Range
from atconform.spec.schema import SCHEMA_FILE, family_schema, render_schema
from atconform.spec.template import compile_for

SPEC_FILES = sorted(specs_dir().glob("*.yaml"))
STANDARDS = ("ITU-T V.250", "3GPP TS 27.007", "3GPP TS 27.005")
QUECTEL_AT_MANUAL = "Quectel BG96 AT Commands Manual"   # general commands the seeds lack, cited by name


def _ids(paths):
    return [p.stem for p in paths]


@pytest.fixture(scope="module", params=SPEC_FILES, ids=_ids(SPEC_FILES))
def family(request) -> Family:
    return load_path(request.param)


# -- the spec files -----------------------------------------------------------------------
def test_every_model_has_a_spec_file():
    assert {p.stem for p in SPEC_FILES} >= set(MODELS)


def test_spec_model_matches_file_name(family):
    assert (specs_dir() / f"{family.model}.yaml").is_file()


def test_every_template_compiles(family):
    """The lead's compile check, plus: a test response can be rendered (its supported-values
    fields have finite domains)."""
    for c in family.commands:
        for fo in c.forms:
            test_form = fo.kind.value == "test"
            for v in fo.variants:
                compile_for(v.syntax, c.parameters)
                for r in v.responses:
                    t = compile_for(r.template, c.parameters, literal_placeholders=test_form)
                    if test_form:
                        t.render({})
    for u in family.urcs:
        compile_for(u.template, u.parameters)


def test_every_definition_cites_a_document_and_section(family):
    known = set(family.documents) | set(STANDARDS)
    sources = [(f"command {c.name or 'AT'}", c.source) for c in family.commands]
    sources += [(f"{c.name} {fo.kind.value} form", fo.source) for c in family.commands for fo in c.forms if fo.source]
    sources += [(f"URC {u.name}", u.source) for u in family.urcs]
    sources += [(f"error table {t.name}", t.source) for t in family.error_tables]
    for what, src in sources:
        assert src.section.strip(), f"{family.model}: {what} has no section"
        assert src.document in known, f"{family.model}: {what} cites unknown document {src.document!r}"


def test_references_resolve(family):
    """URC names in commands, variants' final result codes and data_length fields exist."""
    urcs = {u.name for u in family.urcs}
    results = {r.text for r in family.result_codes}
    for c in family.commands:
        for name in c.urcs + ([c.casegen.expect_urc] if c.casegen.expect_urc else []):
            assert name in urcs, f"{c.name}: unknown URC {name!r}"
        for fo in c.forms:
            for v in fo.variants:
                for text in v.final:
                    assert text in results, f"{c.name} {v.name}: final {text!r} is not a result code"
                if v.data_length:
                    c.param(v.data_length)
    for u in family.urcs:
        if u.payload:
            u.param(u.payload.length_field)


def test_error_tables_have_unique_codes(family):
    for t in family.error_tables:
        codes = [c.code for c in t.codes]
        assert len(codes) == len(set(codes)), f"{t.name}: duplicate codes"
        assert all(c.text.strip() == c.text and c.text for c in t.codes)


def test_bg96_sections_are_chapter_2_or_basic():
    """TCP/IP commands cite chapter 2 of the manual; the rest cite V.250/27.007 or the manual's
    chapter 1 (flow chart, data access modes: AT+QPOWD, ATO, +++)."""
    bg96 = load_family("bg96")
    for c in bg96.commands:
        sec = c.source.section
        if c.source.document in STANDARDS or c.source.document == QUECTEL_AT_MANUAL:
            assert c.syntax == "basic" or not c.tcpip, c.name
            continue
        if c.tcpip and c.syntax == "extended":
            assert sec.startswith("2."), f"{c.name} cites §{sec}"
        else:
            assert sec.startswith("1."), f"{c.name} cites §{sec}"


# the Quectel GSM spec's own checks: tests/test_gsm_spec.py


def test_fibocom_hex_payload_and_error_tables():
    fib = load_family("fibocom_l610")
    send = fib.command("MIPSEND")
    assert send.param("data").type.value == "hex"
    t = compile_for(send.form("write").variants[0].syntax, send.parameters)
    assert t.render({"socket_id": 1, "data": "48656C6C6F"}) == '1,"48656C6C6F"'
    assert not t.parse('1,"4865ZZ"').ok
    tables = {t.name: t for t in fib.error_tables}
    tcpip = [c.code for c in tables["TCP/IP error codes"].codes]
    assert tcpip == list(range(2000, 2034))
    assert len(tables["CME error codes"].codes) == 112 and len(tables["CMS error codes"].codes) == 106
    assert tables["CME error codes"].text_of(6) == "PH-FSIM PIN required"
    rtcp = fib.urc("miprtcp")
    assert compile_for(rtcp.template, rtcp.parameters).parse("+MIPRTCP: 1,0,48656C6C6F").ok


def test_queclink_framing_and_examples():
    """The examples of seed 000 parse with the command's templates."""
    ql = load_family("queclink_gv500")
    assert (ql.framing.style, ql.framing.prefix, ql.framing.terminator) == ("delimited", "AT@", "$")
    c = ql.command("BSS2")
    write, query = c.form("write").variants[0], c.form("read").variants[0]
    w = compile_for(write.syntax, c.parameters).parse("gv500cna,,,192.168.1.12,590,0,,,012F")
    assert w.ok and w.values == {"password": "gv500cna", "ip": "192.168.1.12", "port": "590", "mode": 0, "seq": "012F"}
    q = compile_for(query.syntax, c.parameters).parse("gv500cna,,0C37")
    assert q.ok and q.values == {"password": "gv500cna", "seq": "0C37"}
    ack = compile_for(write.responses[0].template, c.parameters)
    assert ack.parse("+ACK:BSS2,123456789012345,8203,3,0,,012F,20210407101530,1234$").ok
    qry = compile_for(query.responses[0].template, c.parameters)
    p = qry.parse("+QRY:BSS2,123456789012345,8203,3,0,1,1,,,192.168.1.12,590,0,,,0C37,20210407101530,1234$")
    assert p.ok and p.values["ip"] == "192.168.1.12" and p.values["seq"] == "0C37"
    assert not c.param("password").accepts("short")
    assert not c.param("seq").accepts("12345") and not c.param("mode").accepts(2)


# -- the models reject bad specs ----------------------------------------------------------
def _family(**over) -> dict:
    data = {
        "model": "bad",
        "title": "Bad",
        "vendor": "Nobody",
        "result_codes": [{"text": "OK", "numeric": 0, "kind": "ok"}],
        "commands": [
            {"name": "+X", "title": "x", "source": {"document": "d", "section": "1"},
             "forms": [{"kind": "execute", "variants": [{"name": "default"}]}]},
        ],
    }
    data.update(over)
    return data


def test_minimal_family_is_valid():
    Family.model_validate(_family())


def test_duplicate_command_names_are_rejected():
    data = _family()
    data["commands"] = data["commands"] * 2
    with pytest.raises(ValidationError, match="duplicate commands"):
        Family.model_validate(data)


def test_duplicate_urc_names_are_rejected():
    urc = {"name": "u", "template": "+U", "source": {"document": "d", "section": "1"}}
    with pytest.raises(ValidationError, match="duplicate URCs"):
        Family.model_validate(_family(urcs=[urc, urc]))


def test_enum_default_outside_values_is_rejected():
    with pytest.raises(ValidationError, match="outside its own domain"):
        Parameter(name="mode", type="integer", values=[{"value": 0, "meaning": "a"}, {"value": 1, "meaning": "b"}], default=2)
    data = _family()
    data["commands"][0]["parameters"] = [
        {"name": "svc", "type": "enum", "values": [{"value": "TCP", "meaning": "t"}], "default": "UDP"}]
    with pytest.raises(ValidationError, match="outside its own domain"):
        Family.model_validate(data)


def test_bad_range_is_rejected():
    with pytest.raises(ValidationError, match="min 5 > max 1"):
        Range(min=5, max=1)
    data = _family()
    data["commands"][0]["parameters"] = [{"name": "n", "type": "integer", "range": {"min": 16, "max": 1}}]
    with pytest.raises(ValidationError, match="range min 16 > max 1"):
        Family.model_validate(data)


def test_unknown_fields_are_rejected():
    data = _family()
    data["commands"][0]["sourse"] = {"document": "d", "section": "1"}
    with pytest.raises(ValidationError):
        Family.model_validate(data)


def test_enum_without_values_is_rejected():
    with pytest.raises(ValidationError, match="has no values"):
        Parameter(name="e", type="enum")


# -- JSON schema ----------------------------------------------------------------------------
def test_committed_schema_is_current():
    path = specs_dir() / SCHEMA_FILE
    assert path.is_file(), f"{path} is missing: run .venv/bin/python -m atconform.spec.schema"
    committed = path.read_text(encoding="utf-8")
    assert json.loads(committed) == family_schema(), (
        f"{path} is stale: run .venv/bin/python -m atconform.spec.schema")
    assert committed == render_schema()


def test_export_schema_writes_file(tmp_path):
    from atconform.spec.schema import export_schema

    out = export_schema(tmp_path / "sub" / SCHEMA_FILE)
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "Family"
