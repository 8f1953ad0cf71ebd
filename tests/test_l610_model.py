"""Model extensions the Fibocom L610 spec needs (issue 12), each on a small family of its
own so the other families' specs are untouched: attribute tables, cross-parameter rules
(the matcher and the generator), time units with a scale, error tables looked up by the
result code that carries them, literal "(" in test responses, timer-ended data variants."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from atconform.casegen import generate
from atconform.protocol.commands import match_args
from atconform.spec.models import Family, Parameter
from atconform.spec.template import compile_for

SRC = {"document": "d", "section": "1"}


def family(*commands, **over) -> Family:
    data = {"model": "mini", "title": "Mini", "vendor": "Nobody",
            "result_codes": [{"text": "OK", "numeric": 0, "kind": "ok"}, {"text": "ERROR", "numeric": 4, "kind": "error"},
                             {"text": "+CME ERROR: ", "kind": "cme_error", "prefix": True},
                             {"text": "+CMS ERROR: ", "kind": "cms_error", "prefix": True}],
            "commands": list(commands)}
    data.update(over)
    return Family.model_validate(data)


PING = {
    "name": "+MPING", "title": "ping", "source": SRC,
    "attributes": {"pin_restricted": True, "persistent": False, "sync_mode": False, "time_of_duration": 1, "line": 821},
    "parameters": [
        {"name": "mode", "type": "integer", "values": [{"value": 0, "meaning": "abort"}, {"value": 1, "meaning": "v4"},
                                                       {"value": 2, "meaning": "v6"}]},
        {"name": "destination", "type": "host"},
        {"name": "count", "type": "integer", "range": {"min": 1, "max": 255}, "default": 4},
    ],
    "constraints": [
        {"name": "abort-takes-nothing-after", "when": {"mode": 0}, "forbids": ["destination", "count"],
         "quote": "no parameters trailing <mode>", "line": 802},
        {"name": "launch-needs-destination", "when": {"mode": [1, 2]}, "requires": ["destination"],
         "quote": "ERROR will be displayed if parameter is not supplied", "line": 827},
        {"name": "one-at-a-time", "when": {"mode": [1, 2]}, "state": "ping_running",
         "quote": "Only one ping request execution will be allowed", "line": 800},
    ],
    "casegen": {"base": {"mode": 1, "destination": "{peer.ping.host}", "count": 1}, "vary": ["count"]},
    "forms": [{"kind": "write", "variants": [{"syntax": "<mode>[,<destination>[,<count>]]"}]}],
}


def test_constraints_decide_what_the_matcher_accepts():
    fam = family(PING)
    cmd = fam.command("+MPING")
    form = cmd.form("write")
    assert match_args(cmd, form, "0").ok
    assert match_args(cmd, form, '1,"10.0.0.1",3').ok
    bad = match_args(cmd, form, '0,"10.0.0.1"')
    assert not bad.ok and "abort-takes-nothing-after" in bad.problems[0] and "<destination>" in bad.problems[0]
    bad = match_args(cmd, form, "2")          # a list in ``when``: any of its values
    assert not bad.ok and "launch-needs-destination" in bad.problems[0]


def test_generator_makes_rule_cases_proven_invalid_only_by_the_rule():
    fam = family(PING)
    by_id = {p.id: p for p in generate(fam)}
    forbids = by_id["MINI/MPING/WRITE/rule/abort-takes-nothing-after"]
    assert forbids.kind == "write-error" and forbids.args.startswith("0,")
    requires = by_id["MINI/MPING/WRITE/rule/launch-needs-destination"]
    assert requires.kind == "write-error" and requires.args == "1"
    state = by_id["MINI/MPING/WRITE/rule/one-at-a-time"]
    assert state.kind == "write-refused" and state.preconditions[-1] == "ping_running"
    assert state.values["mode"] == 1 and "L800" in state.title
    cmd = fam.command("+MPING")
    for p in (forbids, requires):
        parsed = compile_for(cmd.form("write").variants[0].syntax, cmd.parameters).parse(p.args)
        assert parsed is not None and parsed.ok            # the syntax takes it ...
        assert not match_args(cmd, cmd.form("write"), p.args).ok   # ... the rule does not


def test_state_rule_with_in_band_refusal():
    sets = {"name": "+MIPSETS", "title": "sets", "source": SRC,
            "parameters": [{"name": "socket_id", "type": "integer", "range": {"min": 1, "max": 6}},
                           {"name": "status", "type": "integer", "values": [{"value": 0, "meaning": "ok"},
                                                                            {"value": 3, "meaning": "not allowed"}]}],
            "constraints": [{"name": "refused-while-buffered", "state": "data_buffered:{socket_id}",
                             "refused_with": {"status": 3}, "quote": "will be rejected", "line": 335}],
            "casegen": {"base": {"socket_id": 1}, "preconditions": ["socket_open:{socket_id}"]},
            "forms": [{"kind": "write", "variants": [{"syntax": "<socket_id>", "responses": [{"template": "+MIPSETS: <status>"}]}]}]}
    p = {p.id: p for p in generate(family(sets))}["MINI/MIPSETS/WRITE/rule/refused-while-buffered"]
    assert p.preconditions == ("socket_open:{socket_id}", "data_buffered:{socket_id}")
    assert "<status> 3" in p.title


def test_attribute_table_gives_the_maximum_response_time():
    fam = family(PING, {**PING, "name": "+MX", "attributes": None,
                        "forms": [{"kind": "write", "variants": [
                            {"name": "slow", "syntax": "<mode>", "attributes": {"time_of_duration": 12, "line": 1372}}]}]})
    ping = fam.command("+MPING")
    assert ping.attributes.sync_mode is False and ping.attributes.line == 821
    assert fam.max_response_time(ping) == 1
    mx = fam.command("+MX")
    assert fam.max_response_time(mx, mx.form("write").variants[0]) == 12
    assert fam.max_response_time(mx) == fam.timing.default_max_response_time
    with pytest.raises(ValidationError):
        family({**PING, "attributes": {"time_of_duration": 0}})


def test_time_parameters_have_a_scale():
    min_to = Parameter(name="min_to", type="integer", range={"min": 1, "max": 10}, default=5, unit="100ms", scale=0.1)
    assert min_to.seconds(min_to.default) == pytest.approx(0.5)       # "Default: 5*100ms"
    timeout = Parameter(name="timeout", type="integer", range={"min": 0, "max": 1000}, unit="ms", scale=0.001)
    assert timeout.seconds(1000) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        Parameter(name="n", type="integer").seconds(1)
    with pytest.raises(ValidationError):
        Parameter(name="n", type="integer", scale=0)


def test_error_codes_are_looked_up_in_the_tables_their_result_carries():
    tables = [
        {"name": "CME", "reported_as": "+CME ERROR: <err>", "result": "+CME ERROR: ", "source": SRC,
         "codes": [{"code": 1, "text": "no connection to phone"}, {"code": 3, "text": "operation not allowed"}]},
        {"name": "CMS", "reported_as": "+CMS ERROR: <err>", "result": "+CMS ERROR: ", "source": SRC,
         "codes": [{"code": 1, "text": "Unassigned (unallocated) number"}]},
        {"name": "TCP/IP", "reported_as": "+CME ERROR: <err>", "result": "+CME ERROR: ", "source": SRC,
         "codes": [{"code": 2003, "text": "TCPIP socket number limited"}]},
    ]
    fam = family(PING, error_tables=tables)
    assert fam.error_entry("+CME ERROR: ", 1).text == "no connection to phone"
    assert fam.error_entry("+CMS ERROR: ", 1).text == "Unassigned (unallocated) number"
    assert fam.error_entry("+CME ERROR: ", 2003).text == "TCPIP socket number limited"
    assert fam.error_entry("+CMS ERROR: ", 2003) is None          # the wrong table
    assert fam.error_entry("+CME ERROR: ", "Operation not allowed ").code == 3   # AT+CMEE=2 text
    assert [t.name for t in fam.error_tables_of("+CME ERROR: ")] == ["CME", "TCP/IP"]


def test_backslash_makes_a_literal_parenthesis_in_test_responses():
    params = [Parameter(name="socket_id", type="integer", range={"min": 1, "max": 6})]
    t = compile_for(r"+MIPOPEN: (<socket_id>),\(<ip url>),(<socket_id>)", params, literal_placeholders=True)
    assert t.render({}) == "+MIPOPEN: (1-6),(<ip url>),(1-6)"
    assert t.parse("+MIPOPEN: (1-6),(<ip url>),(1-6)").ok
    assert not t.matches("+MIPOPEN: (1-6),<ip url>),(1-6)")


def test_variants_sharing_a_line_each_get_purposes():
    send = {"name": "+MIPSEND", "title": "send", "source": SRC,
            "parameters": [{"name": "socket_id", "type": "integer", "range": {"min": 1, "max": 6}}],
            "casegen": {"base": {"socket_id": 1}},
            "forms": [{"kind": "write", "variants": [
                {"name": "hex-ctrl-z", "syntax": "<socket_id>", "data": "ctrl_z", "data_encoding": "hex", "stages": 2},
                {"name": "hex-timeout", "syntax": "<socket_id>", "data": "timer", "data_timer": "SENDTIME",
                 "data_encoding": "hex", "stages": 2}]}]}
    ids = {p.id for p in generate(family(send)) if p.kind == "write-ok"}
    assert {"MINI/MIPSEND/WRITE/hex-ctrl-z/socket_id/min", "MINI/MIPSEND/WRITE/hex-timeout/socket_id/min"} <= ids


def test_lab_placeholder_is_not_taken_for_a_special_low_value():
    """A variant singled out by <remote_port> 0 (listen) does not swallow the generic
    variant's purposes, whose port is a lab value ({peer.tcp_echo.port})."""
    opn = {"name": "+MIPOPEN", "title": "open", "source": SRC,
           "parameters": [{"name": "socket_id", "type": "integer", "range": {"min": 1, "max": 6}},
                          {"name": "remote_port", "type": "port"}],
           "casegen": {"base": {"socket_id": 1, "remote_port": "{peer.tcp_echo.port}"}, "vary": ["socket_id"]},
           "forms": [{"kind": "write", "variants": [
               {"name": "listen", "syntax": "<socket_id>,<remote_port>", "when": {"remote_port": 0}},
               {"name": "default", "syntax": "<socket_id>,<remote_port>"}]}]}
    ok = {p.id: p for p in generate(family(opn)) if p.kind == "write-ok"}
    assert ok["MINI/MIPOPEN/WRITE/default/socket_id/min"].values["remote_port"] == "{peer.tcp_echo.port}"
    assert ok["MINI/MIPOPEN/WRITE/listen/socket_id/min"].values["remote_port"] == 0
