"""Template language: parse, render and typed checks, on the manual's own lines."""
import pytest

from atconform.spec import load_family
from atconform.spec.template import Raw, TemplateError, compile_for, split_args
from atconform.spec.values import parse_supported, render_supported


@pytest.fixture(scope="module")
def bg96():
    return load_family("bg96")


def tpl(fam, cmd, src, literal=False):
    return compile_for(src, fam.command(cmd).parameters, literal_placeholders=literal)


def test_qiact_read_line_parses_typed(bg96):
    t = tpl(bg96, "QIACT", "+QIACT: <contextID>,<context_state>,<context_type>[,<IP_address>]")
    p = t.parse('+QIACT: 1,1,1,"10.7.157.1"')  # §3.1.2
    assert p.ok and p.values == {"contextID": 1, "context_state": 1, "context_type": 1, "IP_address": "10.7.157.1"}
    p = t.parse("+QIACT: 1,0,1")
    assert p.ok and "IP_address" not in p.values


def test_out_of_range_and_bad_type_are_problems_not_exceptions(bg96):
    t = tpl(bg96, "QIACT", "+QIACT: <contextID>,<context_state>,<context_type>[,<IP_address>]")
    p = t.parse('+QIACT: 17,1,1,"10.7.157.1"')
    assert not p.ok and any("outside 1-16" in x for x in p.problems)
    p = t.parse('+QIACT: "1",1,1')
    assert not p.ok and any("quoted" in x for x in p.problems)
    p = t.parse('+QIACT: 1,1,1,"10.7.157"')
    assert not p.ok and any("IP address" in x for x in p.problems)
    assert t.parse("+QIACT 1,1,1") is None


def test_test_response_literal_placeholders_and_ranges(bg96):
    t = tpl(bg96, "QICSGP", "+QICSGP: (<contextID>),(<context_type>),<APN>,<username>,<password>,(<authentication>)", literal=True)
    p = t.parse("+QICSGP: (1-16),(1-3),<APN>,<username>,<password>,(0-3)")  # §2.1.1
    assert p.ok
    assert p.values == {"contextID": set(range(1, 17)), "context_type": {1, 2, 3}, "authentication": {0, 1, 2, 3}}
    assert t.render({}) == "+QICSGP: (1-16),(1-3),<APN>,<username>,<password>,(0-3)"


def test_render_quotes_by_type_and_optional_groups(bg96):
    c = bg96.command("QIOPEN")
    t = compile_for(c.form("write").variants[-1].syntax, c.parameters)
    line = t.render({"contextID": 1, "connectID": 0, "service_type": "TCP", "IP_address": "220.180.239.212",
                     "remote_port": 8009, "local_port": 0, "access_mode": 0})
    assert line == '1,0,"TCP","220.180.239.212",8009,0,0'  # §3.2.1
    assert t.render({"contextID": 1, "connectID": 0, "service_type": "TCP", "IP_address": "h", "remote_port": 1}) == '1,0,"TCP","h",1'
    with pytest.raises(TemplateError):
        t.render({"contextID": 1})
    assert t.render({"contextID": Raw("x"), "connectID": 0, "service_type": "TCP", "IP_address": "h", "remote_port": 1}).startswith("x,0")


def test_supported_values_round_trip():
    assert parse_supported("(1-16)") == set(range(1, 17))
    assert parse_supported("(0,1)") == {0, 1}
    assert parse_supported("(0-3,5)") == {0, 1, 2, 3, 5}
    with pytest.raises(ValueError):
        parse_supported("(3-1)")
    with pytest.raises(ValueError):
        parse_supported("1-16")


def test_render_supported_prefers_printed_test_range(bg96):
    p = bg96.command("QICLOSE").param("timeout")
    assert render_supported(p) == "(0-65535)"  # manual §2.1.5 test response
    assert not p.accepts(0) and p.accepts(1)    # parameter table: 1-65535


def test_split_args_respects_quotes():
    assert split_args('1,"a,b",3') == ["1", '"a,b"', "3"]
    assert split_args("") == [""]


def test_unknown_field_fails_at_compile(bg96):
    with pytest.raises(TemplateError):
        tpl(bg96, "QIACT", "+QIACT: <nosuch>")
