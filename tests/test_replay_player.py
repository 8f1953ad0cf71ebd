"""The sans-I/O replay player (atconform.replay.player) and the recording format: the
DTE's bytes in every chunking (whole, one at a time, random cuts) give the same DCE bytes
at the same times, a divergence names what was expected and what came, secrets match
redacted, and a bad file or format version is one BadInput line."""
from __future__ import annotations

import json

import pytest

from atconform import redact
from atconform.errors import BadInput
from atconform.replay import recording as fmt
from atconform.replay.player import Player
from atconform.transport.transcript import Entry
from test_framer import chunkings     # whole, one byte at a time, random cuts

SECRET = "pw-Replay-7Qx"        # registered process-wide: unique to this file
OK = b"\r\nOK\r\n"


def make(tmp_path, prologue, tests, name="bg96.jsonl") -> fmt.Recording:
    """A recording file from ``prologue`` (entries) and ``tests`` ((nodeid, entries,
    emulator_only)), read back."""
    w = fmt.Writer(tmp_path / name, "bg96", {"clock": "virtual", "peers": {}})
    w.io([Entry(t, d, x) for t, d, x in prologue])
    for nodeid, entries, emu in tests:
        w.test(nodeid, "P/" + nodeid, emu)
        w.io([Entry(t, d, x) for t, d, x in entries])
        w.verdict(nodeid, "P/" + nodeid, "pass", "")
    w.close()
    return fmt.load(tmp_path / name)


PROLOGUE = [(0.0, "tx", b"AT\r"), (0.0, "rx", OK)]
TEST_A = [(1.0, "tx", b"AT+X=1\r"), (1.0, "rx", OK), (3.5, "rx", b"\r\n+URC: 1\r\n"),
          (4.0, "tx", b"AT+Y\r"), (4.25, "rx", OK)]


def play(p: Player, chunks, now: float, *, until: float | None = None):
    """Feed ``chunks`` at ``now``; then take what is due up to ``until``; returns
    (divergence or None, [(due time, bytes)])."""
    div = None
    for c in chunks:
        div = p.receive(c, now) or div
    out = []
    while p.next_due() is not None and (until is None or p.next_due() <= until):
        t = max(now, p.next_due())
        out.append((t, p.take(t)))
    return div, out


def test_dce_bytes_at_the_recorded_offsets_in_every_chunking(tmp_path):
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False)])
    for chunks in chunkings(b"AT\r"):
        p = Player(rec, sequential=False)
        assert play(p, chunks, 10.0) == (None, [(10.0, OK)])
        p.begin("t::a", 20.0)
        div, out = play(p, [bytes([b]) for b in b"AT+X=1\r"], 20.0)
        assert div is None
        # OK at once, the URC 2.5 s after the command as recorded
        assert out == [(20.0, OK), (22.5, b"\r\n+URC: 1\r\n")]
        assert play(p, [b"AT+Y\r"], 30.0) == (None, [(30.25, OK)])
        assert p.finish(31.0) is None


def test_chunking_of_the_command_does_not_matter(tmp_path):
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False)])
    results = set()
    for chunks in chunkings(b"AT+X=1\r"):
        p = Player(rec, sequential=False)
        play(p, [b"AT\r"], 0.0)
        p.begin("t::a", 5.0)
        div, out = play(p, chunks, 5.0)
        results.add((div, tuple(out)))
    assert results == {(None, ((5.0, OK), (7.5, b"\r\n+URC: 1\r\n")))}


def test_the_next_command_brings_what_the_recording_had_before_it(tmp_path):
    # the DTE is quicker than the recorded URC: the URC goes first, at once, as recorded
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False)])
    p = Player(rec, sequential=False)
    play(p, [b"AT\r"], 0.0)
    p.begin("t::a", 5.0)
    assert p.receive(b"AT+X=1\r", 5.0) is None
    assert p.take(5.0) == OK
    assert p.next_due() == 7.5
    assert p.receive(b"A", 6.0) is None
    assert p.take(6.0) == b"\r\n+URC: 1\r\n"
    assert play(p, [b"T+Y\r"], 6.5) == (None, [(6.75, OK)])


@pytest.mark.parametrize("sent", [b"AT+X=2\r", b"AT+X=1;\r", b"AT+Z\r"])
def test_divergence_names_what_was_expected_and_what_came(tmp_path, sent):
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False)])
    seen = set()
    for chunks in chunkings(sent):
        p = Player(rec, sequential=False)
        play(p, [b"AT\r"], 0.0)
        p.begin("t::a", 5.0)
        div, out = play(p, chunks, 5.0)
        assert div is not None and out == []         # nothing answers a divergent line
        assert p.divergence is div and p.divergences == [div]
        seen.add((div.segment, div.purpose, div.expected, bytes(div.received), div.offset, str(div)))
    assert len(seen) == 1, "the divergence depends on how the bytes were split"
    segment, purpose, expected, received, offset, text = seen.pop()
    assert (segment, purpose, expected, received) == ("t::a", "P/t::a", b"AT+X=1\r", sent)
    assert sent[offset] != expected[offset] and sent[:offset] == expected[:offset]
    assert "expected 'AT+X=1<CR>'" in text and f"got '{sent[:-1].decode()}<CR>'" in text and "P/t::a" in text


def test_bytes_after_the_recorded_test_diverge(tmp_path):
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A[:2], False)])
    p = Player(rec, sequential=False)
    play(p, [b"AT\r"], 0.0)
    p.begin("t::a", 1.0)
    play(p, [b"AT+X=1\r"], 1.0)
    div, out = play(p, [b"AT\r"], 2.0)
    assert div.expected == b"" and bytes(div.received) == b"AT\r" and "expected nothing more" in str(div)


def test_a_test_the_recording_lacks_diverges_at_its_first_byte(tmp_path):
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False)])
    p = Player(rec, sequential=False)
    play(p, [b"AT\r"], 0.0)
    p.begin("t::new", 1.0)
    div, _ = play(p, [b"AT+X=1\r"], 1.0)
    assert div.segment == "t::new" and div.expected == b""


def test_finish_reports_recorded_bytes_that_did_not_come(tmp_path):
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False), ("t::b", TEST_A, False)])
    p = Player(rec, sequential=False)
    play(p, [b"AT\r"], 0.0)
    p.begin("t::a", 1.0)
    play(p, [b"AT+X=1\r", b"AT+"], 1.0)
    div = p.begin("t::b", 2.0)      # the earlier test ends without its AT+Y
    assert div.missing and div.segment == "t::a" and div.expected == b"AT+Y\r"
    assert "the recording has the DTE send 'AT+Y<CR>' (from byte 3), nothing came" in str(div)
    assert play(p, [b"AT+X=1\r"], 3.0)[0] is None       # the next test plays as recorded


def test_after_a_divergence_nothing_until_the_next_test(tmp_path):
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False), ("t::b", TEST_A, False)])
    p = Player(rec, sequential=False)
    play(p, [b"AT\r"], 0.0)
    p.begin("t::a", 1.0)
    play(p, [b"AT+X=9\r"], 1.0)
    assert play(p, [b"AT+Y\r"], 2.0) == (None, [])
    assert p.finish(3.0) is None            # already told
    p.begin("t::b", 4.0)
    assert play(p, [b"AT+X=1\r"], 4.0) == (None, [(4.0, OK), (6.5, b"\r\n+URC: 1\r\n")])


def test_a_sync_again_after_a_divergence_in_the_prologue_plays_it_again(tmp_path):
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False)])
    p = Player(rec, sequential=False)
    assert p.begin("prologue", 0.0) is None         # the first sync: nothing to check yet
    div, _ = play(p, [b"ATZ\r"], 0.0)
    assert div.segment == "prologue"
    assert p.begin("prologue", 1.0) is None
    assert play(p, [b"AT\r"], 1.0) == (None, [(1.0, OK)])
    p.begin("t::a", 2.0)
    assert play(p, [b"AT+X=1\r"], 2.0)[0] is None


def test_sequential_plays_the_tests_in_order_leaving_out_emulator_only(tmp_path):
    emu = [(10.0, "tx", b"AT+QPOWD\r"), (10.0, "rx", OK)]
    b = [(20.0, "tx", b"AT+B\r"), (20.5, "rx", OK)]
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False), ("t::emu", emu, True), ("t::b", b, False)])
    for chunks in chunkings(b"AT\rAT+X=1\rAT+Y\rAT+B\r"):
        p = Player(rec)
        div, out = play(p, chunks, 0.0)
        assert div is None and b"".join(o for _, o in out) == OK + OK + b"\r\n+URC: 1\r\n" + OK + OK
        assert p.finished


def test_sequential_resume_goes_on_at_the_next_test(tmp_path):
    b = [(20.0, "tx", b"AT+B\r"), (20.5, "rx", OK)]
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False), ("t::b", b, False)])
    p = Player(rec)
    play(p, [b"AT\r"], 0.0)
    div, _ = play(p, [b"AT+X=5\r"], 1.0)
    assert div.segment == "t::a"
    p.resume(2.0)            # the port hung up; the harness reopens it for its next test
    assert p.segment == "t::b"
    assert play(p, [b"AT+B\r"], 3.0) == (None, [(3.5, OK)])
    assert p.finished


def test_a_secret_matches_the_recorded_mask_in_every_chunking(tmp_path):
    redact.register(SECRET)
    line = f'AT+QICSGP=1,1,"apn","","{SECRET}",0\r'.encode()
    rec = make(tmp_path, PROLOGUE, [("t::a", [(1.0, "tx", line), (1.0, "rx", OK)], False)])
    assert rec.tests[0].entries[0].data == b'AT+QICSGP=1,1,"apn","","***",0\r'   # recorded redacted
    for sent in (line, b'AT+QICSGP=1,1,"apn","","other-secret",0\r'):   # known, or not to this process
        for chunks in chunkings(sent):
            p = Player(rec, sequential=False)
            play(p, [b"AT\r"], 0.0)
            p.begin("t::a", 1.0)
            assert play(p, chunks, 1.0) == (None, [(1.0, OK)])
    for chunks in chunkings(b'AT+QICSGP=1,1,"apn","","",0\r'):   # no secret where one was
        p = Player(rec, sequential=False)
        play(p, [b"AT\r"], 0.0)
        p.begin("t::a", 1.0)
        div, _ = play(p, chunks, 1.0)
        assert div is not None and bytes(div.received) == b'AT+QICSGP=1,1,"apn","","",0\r'


def test_a_secret_sent_as_data_is_redacted_before_the_comparison(tmp_path):
    # a *** with nothing after it in its write matches the redacted bytes only: the DTE's
    # bytes are redacted first, with a secret split across reads held until it is whole
    redact.register(SECRET)
    entries = [(1.0, "tx", b"AT+QISEND=0,13\r"), (1.0, "rx", b"\r\n> "), (1.0, "tx", SECRET.encode()),
               (1.0, "rx", b"\r\nSEND OK\r\n")]
    rec = make(tmp_path, PROLOGUE, [("t::a", entries, False)])
    for chunks in chunkings(SECRET.encode()):
        p = Player(rec, sequential=False)
        play(p, [b"AT\r"], 0.0)
        p.begin("t::a", 1.0)
        play(p, [b"AT+QISEND=0,13\r"], 1.0)
        assert play(p, chunks, 2.0) == (None, [(2.0, b"\r\nSEND OK\r\n")])
    p = Player(rec, sequential=False)
    play(p, [b"AT\r"], 0.0)
    p.begin("t::a", 1.0)
    play(p, [b"AT+QISEND=0,13\r"], 1.0)
    div, _ = play(p, [b"pw-Replay-7Qy"], 2.0)
    assert div is not None and SECRET.encode() not in bytes(div.received)


def test_format_round_trip_and_bad_files(tmp_path):
    rec = make(tmp_path, PROLOGUE, [("t::a", TEST_A, False)])
    assert rec.model == "bg96" and rec.complete and rec.verdicts == {"t::a": ("pass", "")}
    assert [e.data for e in rec.tests[0].entries] == [x for _, _, x in TEST_A]
    assert rec.tests[0].t_before == 0.0 and rec.segment("t::a") is rec.tests[0]
    lines = (tmp_path / "bg96.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    assert (header["format"], header["version"]) == ("atconform-recording", 1)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "bg96.jsonl").write_text(json.dumps({**header, "version": 99}) + "\n" + "\n".join(lines[1:]))
    with pytest.raises(BadInput, match=r"bg96.jsonl: line 1: version: unknown format version 99 \(this atconform reads version 1"):
        fmt.load_dir(bad)
    (bad / "bg96.jsonl").write_text('{"results": 1}\n')
    with pytest.raises(BadInput, match="not an atconform recording"):
        fmt.load_dir(bad)
    (bad / "bg96.jsonl").write_text(lines[0] + '\n{"type": "io", "t": 1, "dir": "up", "data": ""}\n')
    with pytest.raises(BadInput, match=r"line 2: dir: expected"):
        fmt.load_dir(bad)
    with pytest.raises(BadInput, match="no recording of quectel_gsm"):
        fmt.load_dir(tmp_path, "quectel_gsm")
    with pytest.raises(BadInput, match="no such directory"):
        fmt.load_dir(tmp_path / "none")
    assert "\n" not in str(BadInput(bad, [("", "x")]))
