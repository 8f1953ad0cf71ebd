"""Framer and checker features the Fibocom L610 spec needs, spec-driven and family-blind
(issue 12 item 2), on a small family built from the seed's tables (the seed has no
worked examples): two-stage answers (HEX-mode AT+MIPSEND: OK, +MIPPUSH, +MIPSEND, OK) and
error codes looked up in the table their result code carries."""
from __future__ import annotations

import pytest

from atconform.families.base import EngineHooks
from atconform.protocol.engine import AtEngine, Transaction, check_response
from atconform.protocol.framer import Final, Intermediate, Prompt
from atconform.spec.models import Family

SRC = {"document": "004", "section": "1.2.1"}

FAMILY = {
    "model": "mini", "title": "Mini", "vendor": "Nobody",
    "framing": {"prompt": ">\r\n"},
    "result_codes": [{"text": "OK", "numeric": 0, "kind": "ok"}, {"text": "ERROR", "numeric": 4, "kind": "error"},
                     {"text": "+CME ERROR: ", "kind": "cme_error", "prefix": True},
                     {"text": "+CMS ERROR: ", "kind": "cms_error", "prefix": True}],
    "error_tables": [
        {"name": "CME", "reported_as": "+CME ERROR: <err>", "result": "+CME ERROR: ", "source": SRC,
         "codes": [{"code": 3, "text": "operation not allowed"}]},
        {"name": "CMS", "reported_as": "+CMS ERROR: <err>", "result": "+CMS ERROR: ", "source": SRC,
         "codes": [{"code": 302, "text": "operation not allowed"}]},
        {"name": "TCP/IP", "reported_as": "+CME ERROR: <err>", "result": "+CME ERROR: ", "source": SRC,
         "codes": [{"code": 2024, "text": "TCPIP socket not opened"}]},
    ],
    "commands": [{
        "name": "+MIPSEND", "title": "send", "source": SRC,
        "parameters": [{"name": "socket_id", "type": "integer", "range": {"min": 1, "max": 6}},
                       {"name": "push_status", "type": "integer", "range": {"min": 0, "max": 2}},
                       {"name": "freesize", "type": "integer", "range": {"min": 0, "max": 2048}}],
        "forms": [{"kind": "write", "variants": [{
            "name": "hex-ctrl-z", "syntax": "<socket_id>", "data": "ctrl_z", "data_encoding": "hex", "stages": 2,
            "responses": [{"template": "+MIPPUSH: <socket_id>,<push_status>", "optional": True},
                          {"template": "+MIPSEND: <socket_id>,<push_status>,<freesize>"}]}]}],
    }],
}
HEX_ANSWER = b"\r\nOK\r\n\r\n+MIPPUSH: 1,0\r\n\r\n+MIPSEND: 1,0,2048\r\n\r\nOK\r\n"


def exchange(dce: bytes, line: str = "AT+MIPSEND=1", chunk: int | None = None):
    fam = Family.model_validate(FAMILY)
    eng = AtEngine(fam, EngineHooks(fam))
    _, m = eng.command(line)
    t = Transaction(line, m, 0.0)
    events, done = [], False
    pieces = [dce] if chunk is None else [dce[i:i + chunk] for i in range(0, len(dce), chunk)]
    for piece in pieces:
        for ev in eng.feed(piece):
            events.append(ev)
            done = t.add(ev, 1.0) or done
    return fam, t.response, events, done


@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_two_stage_answer_ends_at_the_second_ok(chunk):
    fam, resp, events, done = exchange(b"\r\n>\r\n" + HEX_ANSWER, chunk=chunk)
    assert done and resp.ok and resp.prompt
    kinds = [type(e) for e in events]
    assert kinds.count(Intermediate) == 1 and kinds.count(Final) == 1 and Prompt in kinds
    assert kinds.index(Intermediate) < kinds.index(Final)
    assert resp.lines == ["+MIPPUSH: 1,0", "+MIPSEND: 1,0,2048"]
    assert check_response(fam, resp, expect_success=True) == []


def test_first_ok_alone_does_not_end_the_command():
    fam, resp, events, done = exchange(b"\r\n>\r\n\r\nOK\r\n")
    assert not done and resp.final is None


def test_missing_stage_result_is_a_finding():
    fam, resp, _, done = exchange(b"\r\n>\r\n\r\n+MIPSEND: 1,0,2048\r\n\r\nOK\r\n\r\nOK\r\n")
    assert done     # the second OK ended it: the stage OK came late, after the +MIPSEND line
    fam, resp, _, done = exchange(b"\r\n>\r\n\r\n+MIPSEND: 1,0,2048\r\n\r\nOK\r\n")
    assert not done


def test_error_ends_a_two_stage_answer_at_once():
    fam, resp, _, done = exchange(b"\r\nERROR\r\n")
    assert done and resp.final.kind == "error"


def test_stage_count_checked():
    fam, resp, _, _ = exchange(b"\r\n>\r\n" + HEX_ANSWER)
    resp.intermediate.clear()
    problems = check_response(fam, resp, expect_success=True)
    assert [p.clause for p in problems] == ["stages"]


@pytest.mark.parametrize("final, ok", [(b"+CME ERROR: 2024", True), (b"+CME ERROR: 3", True),
                                       (b"+CMS ERROR: 302", True), (b"+CMS ERROR: 2024", False),
                                       (b"+CME ERROR: 302", False), (b"+CME ERROR: TCPIP socket not opened", True),
                                       (b"+CMS ERROR: TCPIP socket not opened", False)])
def test_error_code_from_the_table_its_result_carries(final, ok):
    fam, resp, _, done = exchange(b"\r\n" + final + b"\r\n")
    assert done
    clauses = [p.clause for p in check_response(fam, resp)]
    assert ("error-table" not in clauses) is ok, clauses


# ------------------------------------------------------------------ unframed data (IPRFMT 1)
UNFRAMED = {
    **{k: v for k, v in FAMILY.items() if k != "commands"},
    "commands": [
        {"name": "+GTSET", "title": "set", "source": SRC,
         "parameters": [{"name": "future", "type": "enum", "values": [{"value": "IPRFMT", "meaning": "format"}]},
                        {"name": "iprfmt", "type": "integer", "values": [{"value": v, "meaning": str(v)} for v in (0, 1, 2, 5)]}],
         "forms": [{"kind": "write", "variants": [{"syntax": "<future>,<iprfmt>"}]}]},
    ],
    "settings": [{"name": "IPRFMT", "command": "+GTSET", "parameter": "iprfmt", "default": 0}],
    "unframed_data": {"settings": {"IPRFMT": 1}},
    "urcs": [{"name": "mipstat", "template": "+MIPSTAT: <socket_id>,<status>", "source": SRC,
              "parameters": [{"name": "socket_id", "type": "integer", "range": {"min": 1, "max": 6}},
                             {"name": "status", "type": "integer", "range": {"min": 0, "max": 2}}]}],
}


def unframed_events(stream: bytes, chunk: int | None, iprfmt: int):
    from atconform.protocol.framer import Data, UrcLine
    fam = Family.model_validate(UNFRAMED)
    eng = AtEngine(fam, EngineHooks(fam))
    eng.settings.apply({"IPRFMT": iprfmt})
    pieces = [stream] if chunk is None else [stream[i:i + chunk] for i in range(0, len(stream), chunk)]
    data, lines = b"", []
    for piece in pieces:
        for ev in eng.feed(piece):
            if isinstance(ev, Data):
                data += ev.data
            elif isinstance(ev, UrcLine):
                lines.append(ev.text)
    return data, lines


@pytest.mark.parametrize("chunk", [None, 1, 2, 5])
def test_unframed_data_under_its_setting(chunk):
    """IPRFMT 1 (004 L1466): raw bytes with no header and no CR LF; a line still starts
    with its S3 S4 header. Every chunking gives the same data and lines."""
    stream = b"\r\n+MIPSTAT: 1,0\r\nraw bytes\r\n+MIPSTAT: 1,1\r\nmore raw\r\n+MIPSTAT: 2,0\r\n"
    data, lines = unframed_events(stream, chunk, 1)
    assert data == b"raw bytesmore raw"
    assert lines == ["+MIPSTAT: 1,0", "+MIPSTAT: 1,1", "+MIPSTAT: 2,0"]


def test_no_unframed_data_under_other_settings():
    data, lines = unframed_events(b"\r\n+MIPSTAT: 1,1\r\n", None, 0)
    assert data == b"" and lines == ["+MIPSTAT: 1,1"]
