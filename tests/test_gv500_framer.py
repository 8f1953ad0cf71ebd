"""The delimited framer (atconform.protocol.delimited) on Queclink GV500 replies, the
engine's line building and matching for AT@BSS2, the checker's reply-belongs-to-command
rules, and the spec load refusing framing fields a framer does not implement."""
import random

import pytest
from pydantic import ValidationError

from atconform.errors import BadInput, reading
from atconform.protocol.commands import UnknownCommand, build_line, match_line
from atconform.protocol.delimited import DelimitedFramer
from atconform.protocol.engine import REPLY, AtEngine, Transaction, check_response
from atconform.protocol.framer import Echo, InfoLine, Unparseable, UrcLine
from atconform.spec import load_family, load_path
from atconform.spec.models import Family, FormKind

GV = load_family("queclink_gv500")
BSS2 = GV.command("BSS2")
# seed 000 L6-9, byte for byte
WRITE = "AT@BSS2=gv500cna,,,192.168.1.12,590,0,,,012F"
ACK = b"+ACK:BSS2,123456789012345,8203,3,0,,012F,20210407101530,1234$"
QUERY = "AT@BSS2?gv500cna,,0C37"
QRY = b"+QRY:BSS2,123456789012345,8203,3,0,1,1,,,192.168.1.12,590,0,,,0C37,20210407101530,1234$"


def feed_all(line, data: bytes, cuts=()):
    """Events for ``data`` after ``line`` was sent, cut into reads at ``cuts``."""
    eng = AtEngine(GV)
    eng.command(line)
    out, last = [], 0
    for c in [*sorted(set(cuts)), len(data)]:
        out += eng.feed(data[last:c])
        last = c
    return out, eng


def transact(line, data: bytes):
    eng = AtEngine(GV)
    _, m = eng.command(line)
    t = Transaction(line, m, 0.0)
    done = False
    for ev in eng.feed(data):
        done = t.add(ev, 1.0) or done
    return t.response, done


# ------------------------------------------------------------------ lines and matching
def test_the_seed_examples_build_and_match():
    assert AtEngine(GV).command(WRITE)[0] == WRITE.encode() + b"$"
    vals = {"password": "gv500cna", "ip": "192.168.1.12", "port": "590", "mode": 0, "seq": "012F"}
    assert build_line(GV, BSS2, FormKind.write, vals) == WRITE
    assert build_line(GV, BSS2, FormKind.read, {"password": "gv500cna", "seq": "0C37"}) == QUERY
    q = match_line(GV, QUERY[3:])
    assert q.ok and q.form.kind is FormKind.read and q.values == {"password": "gv500cna", "seq": "0C37"}
    w = match_line(GV, WRITE[3:])
    assert w.ok and w.values["port"] == "590"


@pytest.mark.parametrize("args, why", [
    ("gv500cn,,,1.2.3.4,590,0,,,012F", "shorter than 8"),
    ("gv500cnagv500cnax,,,1.2.3.4,590,0,,,012F", "longer than 16"),
    ("gv500cna,,,1.2.3.4,65536,0,,,012F", "server port"),
    ("gv500cna,,,1.2.3.4,0,0,,,012F", "server port"),
    ("gv500cna,,,1.2.3.4,590|0,0,,,012F", "local port"),
    ("gv500cna,,,1.2.3.4,590|65536,0,,,012F", "local port"),
    ("gv500cna,,,1.2.3.4,590,2,,,012F", "not one of"),
    ("gv500cna,,,1.2.3.4,590,0,,,012f", "upper-case"),
    ("gv500cna,,,1.2.3.4,590,0,,,12F", "shorter than 4"),
    ("gv500cna,x,,1.2.3.4,590,0,,,012F", "matches no syntax"),
])
def test_bad_fields_are_refused_by_the_matcher(args, why):
    m = match_line(GV, "BSS2=" + args)
    assert not m.ok and why in " ".join(m.problems)


def test_port_pair_and_ip_boundaries_are_accepted():
    for port in ("1", "65535", "1|1", "65535|65535", "590|5000"):
        assert match_line(GV, f"BSS2=gv500cna,,,1.2.3.4,{port},1,,,FFFF").ok, port
    assert match_line(GV, "BSS2=gv500cna,,,,590,0,,,0000").ok            # empty: no backup server
    assert match_line(GV, "BSS2=gv500cna,,,2001:db8::1,590,0,,,0000").ok


@pytest.mark.parametrize("body", ["bss2=gv500cna,,0C37", "BSS2=?", "BSS", "BSS2", "XYZ?a,,0000"])
def test_unknown_words_and_forms(body):
    with pytest.raises(UnknownCommand):
        match_line(GV, body)


# ------------------------------------------------------------------------- framing
@pytest.mark.parametrize("pre, post", [(b"", b""), (b"\r\n", b"\r\n"), (b"\r\n", b""), (b"", b"\r\n"), (b"\n\n", b"\r")])
def test_replies_with_or_without_crlf(pre, post):
    evs, eng = feed_all(WRITE, pre + ACK + post)
    assert evs == [InfoLine(ACK.decode())]
    assert eng.framer.pending is None       # the reply ended the command


def test_every_split_of_two_replies_gives_the_same_events():
    data = b"\r\n" + ACK + QRY + b"\r\n"
    whole, _ = feed_all(WRITE, data)
    assert whole == [InfoLine(ACK.decode()), UrcLine(QRY.decode(), None)]
    for i in range(len(data) + 1):
        for j in (i, min(len(data), i + 7), min(len(data), i + 61)):
            assert feed_all(WRITE, data, [i, j])[0] == whole, (i, j)
    assert feed_all(WRITE, data, range(len(data)))[0] == whole       # one byte per read


def test_reply_then_transaction_then_checker():
    resp, done = transact(WRITE, ACK)
    assert done and resp.final.result is REPLY and resp.ok
    assert check_response(GV, resp, expect_success=True) == []
    assert str(resp) == ACK.decode()
    resp, done = transact(QUERY, QRY)
    assert done and check_response(GV, resp, expect_success=True) == []


@pytest.mark.parametrize("reply, problem", [
    (ACK.replace(b"012F", b"0130"), "<seq> is '0130', the command sent '012F'"),
    (ACK.replace(b"123456789012345", b"12345678901234"), "shorter than 15"),
    (ACK.replace(b"123456789012345", b"12345678901234x"), "not decimal digits"),
    (ACK.replace(b"20210407101530", b"20211307101530"), "not a valid date"),
    (ACK.replace(b"20210407101530", b"2021040710153"), "YYYYMMDDHHMMSS"),
    (ACK.replace(b",1234$", b",12g4$"), "upper-case hex"),
    (ACK.replace(b",1234$", b",123$"), "shorter than 4"),
    (ACK.replace(b"+ACK:BSS2", b"+ACK:BSS1"), "matches no response"),
    (QRY, "matches no response"),
])
def test_the_checker_says_why_a_reply_does_not_belong(reply, problem):
    resp, done = transact(WRITE, reply)
    assert done
    assert problem in " ".join(check_response(GV, resp, expect_success=True))


def test_a_nack_ends_the_command_but_is_no_success():
    resp, done = transact(WRITE, b"+NACK:BSS2,123456789012345,012F,20210407101530,0001$")
    assert done and not resp.ok and resp.final.kind == "other"
    assert "expected one of the replies" in " ".join(check_response(GV, resp, expect_success=True))


def test_echo_is_recognised():
    evs, _ = feed_all(WRITE, WRITE.encode() + b"$\r\n" + ACK)
    assert evs == [Echo(WRITE), InfoLine(ACK.decode())]


# ------------------------------------------------------------------------ bad input
def test_frames_without_tail_and_garbage_are_unparseable_and_resync():
    data = b"+ACK:BSS2,1234\r\n" + b"noise$" + b"xx" + ACK
    evs, _ = feed_all(WRITE, data)
    assert [type(e) for e in evs] == [Unparseable, Unparseable, Unparseable, InfoLine]
    assert "cut by a separator" in evs[0].reason and evs[1].text == "noise$" and evs[2].text == "xx"
    # a frame cut by the next frame
    evs, _ = feed_all(WRITE, b"+ACK:BSS2,12" + ACK)
    assert "cut by the next frame" in evs[0].reason and evs[1] == InfoLine(ACK.decode())


def test_dollar_inside_a_field_ends_the_frame_there():
    bad = QRY.replace(b"192.168.1.12", b"192.168$1.12")
    evs, _ = feed_all(QUERY, bad)
    assert isinstance(evs[0], InfoLine) and evs[0].text.endswith("192.168$")
    assert isinstance(evs[1], Unparseable)
    resp, _ = transact(QUERY, bad)
    assert "matches no response" in " ".join(check_response(GV, resp))


@pytest.mark.parametrize("size", [GV.framing.max_line_length + 1, 1 << 20])
def test_over_long_frames_are_one_finding_in_any_chunking(size):
    big = b"+QRY:BSS2," + b"7" * size + b"$"
    data = big + b"\r\n" + ACK
    want = None
    for chunk in (len(data), 4096, 1000, 7):
        eng = AtEngine(GV)
        eng.command(WRITE)
        evs = []
        for i in range(0, len(data), chunk):
            evs += eng.feed(data[i:i + chunk])
            assert len(eng.framer._buf) <= GV.framing.max_line_length + 1
        assert [type(e) for e in evs] == [Unparseable, InfoLine], chunk
        assert "longer than" in evs[0].reason and len(evs[0].text) <= 203
        want = want or evs
        assert evs == want


def test_random_bytes_never_raise_and_stay_bounded():
    rng = random.Random(0)
    alphabet = b"+ACKQRY:$,\r\n0123456789ABCDEF@T\x00\xff"
    for _ in range(300):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randrange(2000)))
        eng = AtEngine(GV)
        eng.command(QUERY)
        whole = eng.feed(data)
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data), 5)))
        assert feed_all(QUERY, data, cuts)[0] == whole
        assert len(eng.framer._buf) <= GV.framing.max_line_length + 1


def test_reset_input_forgets_buffered_bytes():
    f = AtEngine(GV).framer
    assert isinstance(f, DelimitedFramer)
    f.command_sent(WRITE)
    assert f.feed(b"+ACK:BSS2,partial") == []
    f.reset_input()
    assert f.feed(ACK) == [InfoLine(ACK.decode())]


# ------------------------------------------------------------------ spec refusals
def _gv_data(**framing):
    import yaml
    from atconform.spec import specs_dir
    data = yaml.safe_load((specs_dir() / "queclink_gv500.yaml").read_text())
    data["framing"].update(framing)
    return data


@pytest.mark.parametrize("field, value", [("prompt", "> "), ("echo_default", False), ("escape_sequence", "+++"),
                                          ("urc_prefixes", ["+RESP"]), ("result_index_prefix", True)])
def test_a_framing_field_the_delimited_framer_ignores_fails_the_load(field, value):
    with pytest.raises(ValidationError, match=f"framing.{field}: set, but the delimited"):
        Family.model_validate(_gv_data(**{field: value}))


def test_reply_words_fail_a_v250_spec_and_final_codes_a_queclink_one(tmp_path):
    import yaml
    from atconform.spec import specs_dir
    bg = yaml.safe_load((specs_dir() / "bg96.yaml").read_text())
    bg["framing"]["reply_words"] = ["+ACK"]
    with pytest.raises(ValidationError, match="framing.reply_words: set, but the v250 framer"):
        Family.model_validate(bg)
    data = _gv_data()
    data["commands"][0]["forms"][0]["variants"][0]["final"] = ["OK"]
    path = tmp_path / "queclink_gv500.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(BadInput) as e:
        with reading(path):
            load_path(path)
    assert str(path) in str(e.value) and "variants[0].final: must be []" in str(e.value)
