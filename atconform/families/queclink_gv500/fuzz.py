"""Fuzz inputs for the delimited framer and the emulated GV500, and the properties they
must keep (issue 9 §3). Used by ``tests/test_gv500_fuzz.py`` (seeded, bounded).

**Framer** (:func:`framer_inputs`, :func:`check_framer`): a command line the DTE sent
(a valid write or query, a malformed one, or none), then DCE bytes built from valid
replies (rendered from the spec's templates with valid values), echo, separators, ``$``
inside fields, random bytes and over-long frames, mutated (bits flipped, bytes inserted,
deleted, truncated) and cut into reads. Properties:

* ``feed`` never raises; neither does ``check_response`` on the transaction built from
  the events;
* the events are the same in one read, in the drawn reads and (up to 4 KiB) one byte per
  read;
* after every read at most ``max_line_length + 1`` bytes are held;
* event texts are ``str``, an Unparseable text at most 203 characters;
* resynchronisation: after a separator, a fresh command and its valid reply give exactly
  that reply as an :class:`InfoLine`.

**Emulator** (:func:`emulator_inputs`, :func:`check_emulator`): bytes written to the
unit (valid and mutated AT@BSS2 lines with the right password, partial lines, random
bytes, ``$`` and CR/LF bursts, over-long lines); then CR LF and a valid query. The unit
must answer that query with a reply the spec accepts, every byte it sent must frame into
replies the spec accepts, and no handler may raise.
"""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from atconform.emulator.runtime import Loop
from atconform.protocol.engine import AtEngine, Transaction, check_response
from atconform.protocol.framer import SHOWN, InfoLine, Unparseable
from atconform.spec import load_family
from atconform.spec.models import Family

MODEL = "queclink_gv500"
PASSWORD = "gv500cna"
LINES = (
    f"AT@BSS2={PASSWORD},,,192.168.1.12,590,0,,,012F",
    f"AT@BSS2={PASSWORD},,,127.0.0.1,590|5000,1,,,FFFF",
    f"AT@BSS2={PASSWORD},,,,30059,0,,,0000",
    f"AT@BSS2?{PASSWORD},,0C37",
    "AT@BSS2?wrongpass,,0C37",
    f"AT@BSS2={PASSWORD},,,1.2.3.4,65536,0,,,012F",
    f"AT@BSS2={PASSWORD},,,1.2.3.4,590,0,,,01a2",
)
ACK = "+ACK:BSS2,123456789012345,8203,3,0,,{seq},20210407101530,1234$"
QRY = "+QRY:BSS2,123456789012345,8203,3,0,1,1,,,{ip},{port},{mode},,,{seq},20210407101530,{count}$"
SPECIAL = (b"\r", b"\n", b"\r\n", b"$", b"$$", b"+", b"+ACK:", b"+QRY:", b"+NACK:", b"AT@", b"AT@BSS2=",
           b",", b"\x00", b"\xff", b"|", b"?")

_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 16), st.integers(0, 7)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 16), st.sampled_from(SPECIAL)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 16), st.integers(1, 8)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16), st.just(0)),
)


def mutate(data: bytes, mutations) -> bytes:
    """Apply ``(kind, position, argument)`` mutations; positions wrap around."""
    b = bytearray(data)
    for kind, pos, arg in mutations:
        i = pos % (len(b) + 1)
        if kind == "insert":
            b[i:i] = arg
        elif kind == "truncate":
            del b[i:]
        elif i < len(b):
            if kind == "flip":
                b[i] ^= 1 << arg
            else:
                del b[i:i + arg]
    return bytes(b)


_HEX4 = st.integers(0, 0xFFFF).map(lambda n: f"{n:04X}")
_PORT = st.one_of(st.integers(1, 65535).map(str),
                  st.tuples(st.integers(1, 65535), st.integers(1, 65535)).map(lambda t: f"{t[0]}|{t[1]}"))
_IP = st.sampled_from(["", "192.168.1.12", "127.0.0.1", "2001:db8::1", "backup.example.com"])


@st.composite
def _reply(draw) -> bytes:
    if draw(st.booleans()):
        return ACK.format(seq=draw(_HEX4)).encode()
    return QRY.format(ip=draw(_IP), port=draw(_PORT), mode=draw(st.sampled_from([0, 1])), seq=draw(_HEX4),
                      count=draw(_HEX4)).encode()


_PIECE = st.one_of(
    _reply(),
    st.sampled_from(SPECIAL),
    st.binary(max_size=64),
    st.sampled_from(LINES).map(lambda s: s.encode() + b"$"),                        # an echo
    st.integers(1, 3).map(lambda k: b"+QRY:BSS2," + b"7" * (k * 300)),              # long, no tail
    st.just(b"+QRY:BSS2," + b"9" * 5000 + b"$"),                                    # over-long
)


@dataclass(frozen=True)
class FramerInput:
    line: str | None
    data: bytes
    cuts: tuple[int, ...]


@st.composite
def framer_inputs(draw) -> FramerInput:
    line = draw(st.one_of(st.none(), st.sampled_from(LINES)))
    pieces = draw(st.lists(_PIECE, max_size=8))
    data = mutate(b"".join(pieces), draw(st.lists(_MUTATION, max_size=4)))
    cuts = tuple(sorted(set(draw(st.lists(st.integers(0, max(0, len(data))), max_size=6)))))
    return FramerInput(line, data, cuts)


def _events(family: Family, inp: FramerInput, cuts) -> tuple[list, AtEngine]:
    eng = AtEngine(family)
    if inp.line is not None:
        eng.command(inp.line)
    out, last = [], 0
    for c in [*cuts, len(inp.data)]:
        out += eng.feed(inp.data[last:c])
        last = c
        held = len(eng.framer._buf)
        if held > family.framing.max_line_length + 1:
            raise AssertionError(f"the framer holds {held} bytes")
    return out, eng


def check_framer(inp: FramerInput, family: Family | None = None) -> None:
    """The properties of the module docstring; AssertionError names the one broken."""
    family = family or load_family(MODEL)
    whole, _ = _events(family, inp, ())
    drawn, eng = _events(family, inp, inp.cuts)
    assert drawn == whole, ("events depend on the reads", inp.cuts)
    if len(inp.data) <= 4096:
        assert _events(family, inp, range(1, len(inp.data)))[0] == whole, "events differ one byte per read"
    for ev in whole:
        assert isinstance(getattr(ev, "text", ""), str)
        if isinstance(ev, Unparseable):
            assert len(ev.text) <= SHOWN + 3
    if inp.line is not None:
        m = AtEngine(family).match(inp.line)
        t = Transaction(inp.line, m, 0.0)
        for ev in whole:
            if t.add(ev, 0.0):
                break
        check_response(family, t.response)
    eng.feed(b"\r\n")
    line = LINES[3]
    eng.command(line)
    reply = QRY.format(ip="", port="30059", mode=0, seq="0C37", count="0001").encode()
    assert eng.feed(reply) == [InfoLine(reply.decode())], "no resynchronisation after a separator"


# --------------------------------------------------------------------------- emulator
_UNIT_PIECE = st.one_of(
    st.sampled_from(LINES).map(lambda s: s.encode() + b"$"),
    st.tuples(st.sampled_from(LINES), st.lists(_MUTATION, min_size=1, max_size=3)).map(
        lambda t: mutate(t[0].encode() + b"$", t[1])),
    st.sampled_from(LINES).map(lambda s: s.encode()),                               # no tail
    st.sampled_from(SPECIAL),
    st.binary(max_size=64),
    st.just(b"AT@BSS2?" + b"x" * 600),                                              # over-long
)


@st.composite
def emulator_inputs(draw) -> bytes:
    return b"".join(draw(st.lists(_UNIT_PIECE, max_size=8)))


class UnitRig:
    """A GV500 emulator driven in process (no pty, no loop thread): ``receive`` on the
    test's thread, output collected."""

    def __init__(self, family: Family | None = None):
        from atconform.families.queclink_gv500.emulator import Gv500
        self.family = family or load_family(MODEL)
        self.out = bytearray()
        self.unit = Gv500(self.family, Loop(), self.out.extend)

    def check(self, data: bytes) -> None:
        """Feed ``data``; then CR LF and a valid query must get a valid +QRY, and every
        byte the unit sent must frame into replies the spec accepts."""
        start = len(self.out)
        self.unit.receive(data)
        self.unit.receive(b"\r\n")
        query = f"AT@BSS2?{self.unit.config.password},,0C37"
        mark = len(self.out)
        self.unit.receive(query.encode() + b"$")
        assert not self.unit.handler_errors, self.unit.handler_errors
        eng = AtEngine(self.family)
        evs = eng.feed(bytes(self.out[start:mark]))
        assert not [e for e in evs if isinstance(e, Unparseable)], evs
        for ev in evs:
            assert ev.text.startswith(("+ACK:BSS2,", "+QRY:BSS2,")), ev
        eng.command(query)
        evs = eng.feed(bytes(self.out[mark:]))
        assert len(evs) == 1 and isinstance(evs[0], InfoLine), evs
        t = Transaction(query, eng.match(query), 0.0)
        assert t.add(evs[0], 0.0)
        assert check_response(self.family, t.response, expect_success=True) == []
