"""The generic framer and checker features the Quectel GSM spec needs (seed 003), driven by
the spec alone: index-prefixed result codes, lines that follow the final OK, a reply with
no final result code, headers glued to their data, data with no header, URCs that enter
or end data mode, and module settings that select all of these. Every byte stream is also
fed one byte at a time: the events must not depend on the chunking."""
from __future__ import annotations

import pytest

from atconform.protocol.engine import AtEngine, Transaction, check_response
from atconform.protocol.framer import Final, Follow, InfoLine, Mode, UrcLine
from atconform.spec import load_family


@pytest.fixture()
def gsm():
    return load_family("quectel_gsm")


def _feed(eng: AtEngine, data: bytes, bytewise: bool):
    if not bytewise:
        return eng.feed(data)
    out = []
    for i in range(len(data)):
        out += eng.feed(data[i:i + 1])
    return out


def _run(fam, line: str, dce: bytes, *, setup=(), bytewise=False):
    """Send ``setup`` lines (each answered OK), then ``line``; feed ``dce``; the
    Transaction's response, every event, and the engine."""
    eng = AtEngine(fam)
    for s in setup:
        eng.command(s)
        eng.feed(b"\r\nOK\r\n")
    _, m = eng.command(line)
    t = Transaction(line, m, 0.0)
    done = False
    events = _feed(eng, dce, bytewise)
    for ev in events:
        if not done:
            done = t.add(ev, 1.0)
    return t.response, events, eng, done


BYTEWISE = pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])


# -- index-prefixed result codes (§5.4 L551) ----------------------------------------------
@BYTEWISE
def test_index_prefixed_close_ok_repeats_the_request_index(gsm, bytewise):
    r, evs, _, done = _run(gsm, "AT+QICLOSE=0", b"\r\n0, CLOSE OK\r\n", setup=["AT+QIMUX=1"], bytewise=bytewise)
    assert done and r.final.index == 0 and r.final.kind == "ok"
    assert check_response(gsm, r, expect_success=True) == []


@pytest.mark.parametrize("dce, why", [(b"\r\nCLOSE OK\r\n", "no index"), (b"\r\n3, CLOSE OK\r\n", "index 3")])
def test_a_missing_or_wrong_index_prefix_is_a_deviation(gsm, dce, why):
    r, _, _, _ = _run(gsm, "AT+QICLOSE=0", dce, setup=["AT+QIMUX=1"])
    problems = check_response(gsm, r)
    assert [p.clause for p in problems] == ["result-index"] and why in problems[0]


def test_an_index_where_the_request_has_none_is_a_deviation(gsm):
    r, _, _, _ = _run(gsm, "AT+QICLOSE", b"\r\n0, CLOSE OK\r\n")
    assert [p.clause for p in check_response(gsm, r)] == ["result-index"]


def test_bg96_finals_are_never_index_prefixed():
    bg = load_family("bg96")
    r, evs, _, _ = _run(bg, "AT", b"\r\n0, OK\r\n\r\nOK\r\n")
    assert r.final.text == "OK" and r.final.index is None


# -- lines after OK (Variant.follow) --------------------------------------------------------
@BYTEWISE
def test_connect_ok_follows_the_ok_of_qiopen(gsm, bytewise):
    r, evs, eng, done = _run(gsm, 'AT+QIOPEN="TCP","10.0.0.1",7007', b"\r\nOK\r\n\r\nCONNECT OK\r\n", bytewise=bytewise)
    assert done and r.final.text == "OK" and [a.text for a in r.after] == ["CONNECT OK"]
    assert check_response(gsm, r, expect_success=True) == []
    assert not eng.framer.following


def test_the_ok_alone_leaves_the_command_waiting_for_its_follow_line(gsm):
    r, evs, _, done = _run(gsm, 'AT+QIOPEN="TCP","10.0.0.1",7007', b"\r\nOK\r\n")
    assert not done and evs[-1].follows == 60          # the follow line's deadline (s)
    r.after_missing = "no line followed 'OK' within 60 s"      # what the channel sets then
    assert [p.clause for p in check_response(gsm, r)] == ["follow-missing"]


def test_mux_connect_ok_must_repeat_the_index(gsm):
    r, _, _, done = _run(gsm, 'AT+QIOPEN=2,"TCP","10.0.0.1",7007', b"\r\nOK\r\n\r\n2, CONNECT OK\r\n", setup=["AT+QIMUX=1"])
    assert done and check_response(gsm, r) == []
    r, _, _, done = _run(gsm, 'AT+QIOPEN=2,"TCP","10.0.0.1",7007', b"\r\nOK\r\n\r\n1, CONNECT OK\r\n", setup=["AT+QIMUX=1"])
    assert done and [p.clause for p in check_response(gsm, r)] == ["echo"]


@BYTEWISE
def test_transparent_connect_after_ok_enters_data_mode(gsm, bytewise):
    r, evs, eng, done = _run(gsm, 'AT+QIOPEN="TCP","10.0.0.1",7007', b"\r\nOK\r\n\r\nCONNECT\r\nhello OK",
                             setup=["AT+QIMODE=1"], bytewise=bytewise)
    assert done and [a.text for a in r.after] == ["CONNECT"]
    assert eng.framer.mode is Mode.DATA
    assert b"".join(e.data for e in evs if type(e).__name__ == "Data") == b"hello OK"


def test_error_instead_of_ok_expects_no_follow_line(gsm):
    r, _, _, done = _run(gsm, 'AT+QIOPEN="TCP","10.0.0.1",7007', b"\r\nERROR\r\n")
    assert done and r.final.kind == "error" and r.after == []


@BYTEWISE
def test_qistate_state_line_then_six_connection_lines(gsm, bytewise):
    lines = b"\r\nOK\r\n\r\nSTATE: IP INITIAL\r\n" + b"".join(
        b'\r\n+QISTATE: %d,"","",,"INITIAL"\r\n' % i for i in range(6))
    r, _, eng, done = _run(gsm, "AT+QISTATE", lines, bytewise=bytewise)
    assert done and len(r.after) == 7 and r.after[-1].done
    assert check_response(gsm, r) == []
    # a seventh +QISTATE line is no line of the command: an undeclared URC
    evs = eng.feed(b'\r\n+QISTATE: 6,"","",,"INITIAL"\r\n')
    assert isinstance(evs[0], UrcLine) and evs[0].urc is None


def test_a_second_server_ok_is_an_undeclared_urc(gsm):
    r, _, eng, done = _run(gsm, "AT+QISERVER", b"\r\nOK\r\n\r\nSERVER OK\r\n")
    assert done and [a.text for a in r.after] == ["SERVER OK"]
    evs = eng.feed(b"\r\nSERVER OK\r\n")
    assert isinstance(evs[0], UrcLine) and evs[0].urc is None


def test_qidnsgip_addresses_repeat_and_error_is_an_alternative(gsm):
    r, evs, eng, done = _run(gsm, 'AT+QIDNSGIP="www.google.com"',
                             b"\r\nOK\r\n\r\n64.233.189.99\r\n\r\n64.233.189.104\r\n\r\n64.233.189.147\r\n")
    assert done and [type(e) for e in evs].count(Follow) == 3        # L770
    assert eng.framer.following          # more addresses may come
    r, _, eng, done = _run(gsm, 'AT+QIDNSGIP="nowhere.test"', b"\r\nOK\r\n\r\nERROR\r\n")
    assert done and [a.text for a in r.after] == ["ERROR"] and r.final.text == "OK"


def test_a_urc_during_the_follow_wait_is_not_taken_for_an_address(gsm):
    r, evs, _, done = _run(gsm, 'AT+QIDNSGIP="www.google.com"', b"\r\nOK\r\n\r\nCLOSED\r\n\r\n64.233.189.99\r\n")
    assert done and [a.text for a in r.after] == ["64.233.189.99"]
    assert [u.urc.name for u in r.urcs] == ["closed"]


# -- a reply with no final result code (QILOCIP, L149-151) -----------------------------------
@BYTEWISE
def test_qilocip_address_ends_the_command(gsm, bytewise):
    r, evs, eng, done = _run(gsm, "AT+QILOCIP", b"\r\n10.180.217.206\r\n\r\nCLOSED\r\n", bytewise=bytewise)
    assert done and r.lines == ["10.180.217.206"] and check_response(gsm, r, expect_success=True) == []
    assert isinstance(evs[-1], UrcLine) and evs[-1].urc.name == "closed"   # not more of its reply
    assert eng.framer.pending is None


def test_qilocip_error_is_its_failure(gsm):
    r, _, _, done = _run(gsm, "AT+QILOCIP", b"\r\nERROR\r\n")
    assert done and r.final.kind == "error"
    assert [p.clause for p in check_response(gsm, r, expect_success=True)] == ["expected-success"]


# -- received data as the header settings print it (§5.3.1) -----------------------------------
@BYTEWISE
def test_ipd_header_glued_to_its_data(gsm, bytewise):
    eng = AtEngine(gsm)
    for s in ("AT+QIHEAD=1", "AT+QISHOWPT=1"):
        eng.command(s)
        eng.feed(b"\r\nOK\r\n")
    evs = _feed(eng, b"\r\nIPD30TCP:Welcome to use Quectel module.\r\nOK\r\n", bytewise)
    assert evs[0] == UrcLine("IPD30TCP:", gsm.urc("ipd-protocol"), b"Welcome to use Quectel module.")  # L534
    evs = _feed(eng, b"IPD12UDP:line1\r\nline2\r\n", bytewise)
    assert evs[0].payload == b"line1\r\nline2" and evs[0].urc.name == "ipd-protocol"


def test_ipd_without_protocol_and_recv_from_to_lines(gsm):
    eng = AtEngine(gsm)
    for s in ("AT+QIHEAD=1", "AT+QISHOWRA=1", "AT+QISHOWLA=1"):
        eng.command(s)
        eng.feed(b"\r\nOK\r\n")
    evs = eng.feed(b"\r\nRECV FROM:10.0.0.9:7007\r\n\r\nTO:10.0.0.2\r\n\r\nIPD3:a:b")
    assert [(e.urc.name, e.payload) for e in evs] == [("recv from", None), ("to", None), ("ipd", b"a:b")]


@BYTEWISE
def test_receive_line_then_data_with_qimux_1(gsm, bytewise):
    eng = AtEngine(gsm)
    eng.command("AT+QIMUX=1")
    eng.feed(b"\r\nOK\r\n")
    evs = _feed(eng, b"\r\n+RECEIVE: 0, 30\r\nWelcome to use Quectel module.", bytewise)   # L268
    assert evs == [UrcLine("+RECEIVE: 0, 30", gsm.urc("receive"), b"Welcome to use Quectel module.")]


def test_data_with_no_header_is_raw_data_only_under_its_settings(gsm):
    eng = AtEngine(gsm)
    evs = eng.feed(b"Welcome to use Quectel module.\r\n")       # default: no header (L523)
    assert evs[0].urc.name == "raw data" and evs[0].text == "Welcome to use Quectel module."
    eng.command("AT+QIHEAD=1")
    eng.feed(b"\r\nOK\r\n")
    evs = eng.feed(b"\r\nWelcome\r\n")
    assert evs[0].urc is None           # with a header on, a bare line is no declared shape


def test_qirdi_then_qird_blocks(gsm):
    eng = AtEngine(gsm)
    eng.command("AT+QINDI=1")
    eng.feed(b"\r\nOK\r\n")
    evs = eng.feed(b"\r\n+QIRDI:0,1,0\r\n")                   # L540
    assert evs[0].urc.name == "qirdi"
    _, m = eng.command("AT+QIRD=0,1,0,1024")
    t = Transaction("AT+QIRD=0,1,0,1024", m, 0)
    data = b"1234567890abcdefghijklmnopqrstuvwxyz"
    for ev in eng.feed(b"\r\n+QIRD:116.228.146.250:7070,TCP,36\r\n" + data + b"\r\n\r\nOK\r\n"):   # L544
        t.add(ev, 1)
    assert t.response.info == [InfoLine("+QIRD:116.228.146.250:7070,TCP,36", data)]
    assert check_response(gsm, t.response) == []


# -- data mode: URCs that enter and end it (§4, §5.1, §6.3) ------------------------------------
def test_closed_in_data_mode_returns_to_command_mode(gsm):
    eng = AtEngine(gsm)
    eng.command("AT+QIMODE=1")
    eng.feed(b"\r\nOK\r\n")
    eng.command('AT+QIOPEN="TCP","10.0.0.1",7007')
    eng.feed(b"\r\nOK\r\n\r\nCONNECT\r\n")
    assert eng.framer.data_mode
    evs = eng.feed(b"abc\r\nCLOSED\r\n")
    assert [type(e).__name__ for e in evs] == ["Data", "UrcLine"] and evs[1].urc.name == "closed"
    assert eng.framer.mode is Mode.COMMAND


def test_unsolicited_connect_after_remote_ip_enters_data_mode_in_transparent_mode(gsm):
    eng = AtEngine(gsm)
    eng.command("AT+QIMODE=1")
    eng.feed(b"\r\nOK\r\n")
    evs = eng.feed(b"\r\nREMOTE IP: 10.79.141.26\r\n\r\nCONNECT\r\nxyz")      # L444
    assert [getattr(e, "urc", None) and e.urc.name for e in evs[:2]] == ["remote ip", "connect"]
    assert eng.framer.data_mode and evs[2].data == b"xyz"
    # non-transparent: a CONNECT with nothing pending is no data mode
    eng2 = AtEngine(gsm)
    eng2.feed(b"\r\nCONNECT\r\n")
    assert not eng2.framer.data_mode


# -- settings take effect with the success final ---------------------------------------------
def test_a_refused_setting_changes_nothing(gsm):
    eng = AtEngine(gsm)
    eng.command("AT+QIMUX=1")
    eng.feed(b"\r\nERROR\r\n")
    assert eng.settings.get("mux") == 0
    assert eng.match("AT+QISEND=5").variant.name == "length"
    eng.command("AT+QIMUX=1")
    eng.feed(b"\r\nOK\r\n")
    assert eng.match("AT+QISEND=5").variant.name == "index"
    eng.reset_settings()
    assert eng.settings.get("mux") == 0


def test_final_event_defaults_keep_other_families_equal():
    assert Final("OK", None) == Final("OK", None, None, None, None, None)
