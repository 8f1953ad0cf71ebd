"""The sans-I/O engine fed with the BG96 manual's chapter 3 examples, byte for byte.

Each example is the DCE side of the manual's transcript, framed as a BG96 frames it with
ATE1 and ATV1: echo "<line><CR>", then "<CR><LF>text<CR><LF>" per line.
"""
import random

import pytest

from atconform.protocol.engine import AtEngine, Transaction, check_response, check_urc
from atconform.protocol.framer import Data, Echo, Final, InfoLine, Prompt, UrcLine
from atconform.spec import load_family

BG96 = load_family("bg96")


def v1(*lines: str) -> bytes:
    return b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines)


def chunkings(data: bytes):
    yield [data]
    yield [bytes([b]) for b in data]
    rnd = random.Random(7)
    for _ in range(20):
        cuts = sorted(rnd.sample(range(1, len(data)), min(len(data) - 1, rnd.randint(1, 6))))
        yield [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


def run(line: str, dce: bytes, echo=True):
    """Send ``line``, feed ``dce`` in many chunkings; return events (all chunkings agree)."""
    results = []
    for chunks in chunkings((line.encode() + b"\r" if echo else b"") + dce):
        eng = AtEngine(BG96)
        eng.command(line)
        evs = []
        for c in chunks:
            evs += eng.feed(c)
        results.append(evs)
    assert all(r == results[0] for r in results), "events depend on how the bytes were split"
    return results[0]


def transaction(line, events):
    eng = AtEngine(BG96)
    _, m = eng.command(line)
    t = Transaction(line, m, 0.0)
    done = False
    for e in events:
        done = t.add(e, 1.0) or done
    assert done
    return t.response


# (section, command line, DCE information text lines, final)
EXAMPLES = [
    ("3.1.1", 'AT+QICSGP=1,1,"UNINET","",""', [], "OK"),
    ("3.1.2", "AT+QIACT=1", [], "OK"),
    ("3.1.2", "AT+QIACT?", ['+QIACT: 1,1,1,"10.7.157.1"'], "OK"),
    ("3.1.3", "AT+QIDEACT=1", [], "OK"),
    ("3.2.1", 'AT+QIOPEN=1,0,"TCP","220.180.239.212",8009,0,0', [], "OK"),
    ("3.2.1", "AT+QISTATE=1,0", ['+QISTATE: 0,"TCP","220.180.239.201",8705,65514,2,1,0,0,"usbmodem"'], "OK"),
    ("3.2.2", "AT+QISEND=0,0", ["+QISEND: 9,9,0"], "OK"),
    ("3.2.2", 'AT+QISENDEX=0,"3132333435"', [], "SEND OK"),
    ("3.2.3", "AT+QIRD=0,1500", ["+QIRD: 0"], "OK"),
    ("3.2.3", "AT+QIRD=0,0", ["+QIRD: 5,5,0"], "OK"),
    ("3.2.4", "AT+QICLOSE=0", [], "OK"),
    ("3.5.1", 'AT+QIOPEN=1,1,"TCP LISTENER","127.0.0.1",0,2020,0', [], "OK"),
    ("3.5.1", "AT+QISTATE=0,1", ['+QISTATE: 1,"TCP LISTENER","10.7.157.1",0,2020,3,1,1,0,"usbmodem"'], "OK"),
    ("3.5.3", "AT+QIRD=11,0", ["+QIRD: 4,4,0"], "OK"),
    ("3.6.1", "AT+QISTATE=0,1", ['+QISTATE: 2,"UDP SERVICE","10.7.157.1",0,3030,2,1,2,0,"usbmodem"'], "OK"),
    ("3.7", 'AT+QPING=1,"www.baidu.com"', [], "OK"),
    ("3.8", 'AT+QNTP=1,"202.120.2.101",123', [], "OK"),
    ("3.9", 'AT+QIOPEN=1,"TCP","220.180.239.212",8009,0,1', [], "ERROR"),
    ("3.9", "AT+QIGETERROR", ["+QIGETERROR: 552, invalid parameters"], "OK"),
]


@pytest.mark.parametrize("section,line,info,final", EXAMPLES, ids=[f"{e[0]}:{e[1]}" for e in EXAMPLES])
def test_chapter3_examples_frame_and_conform(section, line, info, final):
    evs = run(line, v1(*info, final))
    assert evs[0] == Echo(line)
    assert [e.text for e in evs if isinstance(e, InfoLine)] == info
    assert isinstance(evs[-1], Final) and evs[-1].text == final
    resp = transaction(line, evs)
    assert check_response(BG96, resp) == []


def test_qird_payload_may_contain_ok_crlf():
    # §3.2.3 with a payload that looks like a final result code
    payload = b"OK\r\n\r\nERROR\r\n"
    dce = b"\r\n+QIRD: %d\r\n" % len(payload) + payload + b"\r\n\r\nOK\r\n"
    evs = run("AT+QIRD=0,1500", dce)
    info = [e for e in evs if isinstance(e, InfoLine)]
    assert info == [InfoLine(f"+QIRD: {len(payload)}", payload)]
    assert evs[-1].text == "OK"
    assert check_response(BG96, transaction("AT+QIRD=0,1500", evs)) == []


def test_urc_between_echo_and_final_is_separated():
    # §3.2.3: "+QIURC: "recv",0" can arrive while another command is pending
    dce = v1('+QIURC: "recv",0', '+QISTATE: 0,"TCP","10.0.0.1",80,1024,2,1,0,0,"usbmodem"', '+QIURC: "closed",0', "OK")
    evs = run("AT+QISTATE=1,0", dce)
    urcs = [e for e in evs if isinstance(e, UrcLine)]
    assert [u.urc.name for u in urcs] == ["recv", "closed"]
    assert all(check_urc(BG96, u) == [] for u in urcs)
    assert len([e for e in evs if isinstance(e, InfoLine)]) == 1


def test_qiopen_urc_after_ok_and_test_response_is_info():
    evs = run("AT+QIOPEN=?", v1('+QIOPEN: (1-16),(0-11),"TCP/UDP/TCP LISTENER/UDP SERVICE","<IP_address>/<domain_name>",(0-65535),(0-65535),(0-2)', "OK"))
    assert isinstance(evs[1], InfoLine)
    eng = AtEngine(BG96)
    eng.command("AT+QIOPEN=1,0,\"TCP\",\"1.2.3.4\",80,0,0")
    evs = eng.feed(b'AT+QIOPEN=1,0,"TCP","1.2.3.4",80,0,0\r' + v1("OK", "+QIOPEN: 0,0"))
    assert isinstance(evs[-2], Final) and isinstance(evs[-1], UrcLine) and evs[-1].urc.name == "qiopen"


def test_prompt_and_send_ok():
    evs = run("AT+QISEND=0,4", b"\r\n> ")
    assert evs[-1] == Prompt()
    eng = AtEngine(BG96)
    eng.command("AT+QISEND=0,4")
    assert eng.feed(b"AT+QISEND=0,4\r\r\n> ") == [Echo("AT+QISEND=0,4"), Prompt()]
    assert eng.feed(b"\r\nSEND OK\r\n") == [Final("SEND OK", BG96.result_code("SEND OK"))]


def test_atv0_numeric_result_codes_and_no_echo():
    eng = AtEngine(BG96)
    eng.command("ATV0")
    assert [type(e) for e in eng.feed(b"ATV0\r0\r")] == [Echo, Final]
    eng.command("AT+QIACT?")
    evs = eng.feed(b'AT+QIACT?\r+QIACT: 1,1,1,"10.1.1.1"\r\n0\r')
    assert evs[1] == InfoLine('+QIACT: 1,1,1,"10.1.1.1"')
    assert evs[2].text == "0" and evs[2].kind == "ok"
    eng.command("AT+QIACT=0")
    assert eng.feed(b"AT+QIACT=0\r4\r")[-1].kind == "error"


def test_cme_error_code():
    evs = run("AT+CPIN?", v1("+CME ERROR: 10"))
    assert evs[-1].kind == "cme_error" and evs[-1].code == 10


def test_direct_push_payload_only_for_push_sockets():
    eng = AtEngine(BG96)
    eng.command('AT+QIOPEN=1,0,"TCP","1.2.3.4",80,0,1')
    eng.feed(b'AT+QIOPEN=1,0,"TCP","1.2.3.4",80,0,1\r' + v1("OK", "+QIOPEN: 0,0"))
    evs = eng.feed(b'\r\n+QIURC: "recv",0,4\r\ntest' + v1('+QIURC: "recv",1,3'))  # §3.4.3
    assert evs[0] == UrcLine('+QIURC: "recv",0,4', BG96.urc("recv-push"), b"test")
    assert evs[1].payload is None  # socket 1 is not in direct push mode (recvind=1 form)


def test_transparent_mode_data_until_no_carrier():
    eng = AtEngine(BG96)
    eng.command('AT+QIOPEN=1,0,"TCP","1.2.3.4",80,0,2')
    evs = eng.feed(b'AT+QIOPEN=1,0,"TCP","1.2.3.4",80,0,2\r\r\nCONNECT\r\n')
    assert evs[-1].kind == "connect" and eng.framer.data_mode
    got = b""
    stream = b"Test 1\r\nOK\r\n raw \r\nNO CA" + b"RRIER\r\n"
    for b in stream:
        for e in eng.feed(bytes([b])):
            if isinstance(e, Data):
                got += e.data
            else:
                assert isinstance(e, Final) and e.kind == "no_carrier"
    assert got == b"Test 1\r\nOK\r\n raw "  # "OK" is data unless +++ was written
    assert not eng.framer.data_mode


def test_escape_ok_ends_data_mode():
    eng = AtEngine(BG96)
    eng.command("ATO")
    eng.feed(b"ATO\r\r\nCONNECT\r\n")
    eng.framer.escape_written()
    evs = eng.feed(b"abc\r\nOK\r\n")
    assert evs == [Data(b"abc"), Final("OK", BG96.result_code("OK"))]


def test_unknown_urc_is_reported_not_dropped():
    eng = AtEngine(BG96)
    evs = eng.feed(v1("+QIURC: \"bogus\",1"))
    assert evs == [UrcLine('+QIURC: "bogus",1', None)]
    assert check_urc(BG96, evs[0]) == ["unknown URC '+QIURC: \"bogus\",1'"]
    ev = eng.feed(v1('+QIURC: "closed",12'))[0]
    assert check_urc(BG96, ev) and "outside 0-11" in check_urc(BG96, ev)[0]


def test_unknown_urc_during_a_command_is_a_urc_not_its_information_text():
    # the bogus URC lands after AT was sent: "+QIURC:" is not AT's prefix (27.007 §4.1)
    evs = run("AT", v1('+QIURC: "bogus",1', "OK"))
    assert UrcLine('+QIURC: "bogus",1', None) in evs and not any(isinstance(e, InfoLine) for e in evs)
    # a line with the command's own prefix stays information text, for the checker to judge
    evs = run("AT+QISTATE?", v1("+QISTATE: garbage", "OK"))
    assert InfoLine("+QISTATE: garbage") in evs


def test_checker_flags_wrong_range_and_missing_line():
    evs = run("AT+QIACT=?", v1("+QIACT: (1-15)", "OK"))
    assert check_response(BG96, transaction("AT+QIACT=?", evs)) == []  # shape ok; range is casegen's
    evs = run("AT+QIACT?", v1('+QIACT: 1,1,3,"10.1.1.1"', "OK"))
    assert any("context_type" in p for p in check_response(BG96, transaction("AT+QIACT?", evs)))
    evs = run("AT+QIGETERROR", v1("OK"))
    assert any("missing" in p for p in check_response(BG96, transaction("AT+QIGETERROR", evs)))


def test_prompt_split_after_the_gt_sign():
    # "> " may arrive as ">" then " ": the space belongs to the prompt, not to the next line
    eng = AtEngine(BG96)
    eng.command("AT+QISEND=0,4")
    assert eng.feed(b"AT+QISEND=0,4\r\r\n>") == [Echo("AT+QISEND=0,4"), Prompt()]
    assert eng.feed(b" ") == []
    assert eng.feed(b"\r\nSEND OK\r\n") == [Final("SEND OK", BG96.result_code("SEND OK"))]
