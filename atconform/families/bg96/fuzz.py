"""BG96 fuzz inputs for the AT engine and the emulated BG96 DCE, and the properties they must keep
(issue 8 item 6). One source for ``tests/test_fuzz.py`` (a few hundred seeded examples)
and ``python -m bench.fuzz`` (``make fuzz``: the long campaign).

**Engine** (:func:`engine_inputs`, :func:`check_engine`). An input is up to three steps,
each an optional command line from the spec (every line the case generator builds, and
lines that arm a payload, a prompt, data mode, ATV0, direct push or hex payloads), then
DCE bytes: spec responses and URCs rendered with valid values, result codes, echo,
prompts, random bytes, over-long lines, huge numbers and lengths, then mutated (bits
flipped, bytes inserted and deleted, digits replaced by non-ASCII digits or by 4,301 of
them, truncation), cut into reads where hypothesis says. Properties:

* ``feed`` never raises; neither do ``check_response``, ``check_urc`` and
  ``Template.parse`` on what comes out, nor ``parse_info`` (ValueError is documented);
* the events are the same whether each step's bytes come in one read, in the drawn
  reads, or (up to 4 KiB) one byte per read, adjacent :class:`Data` merged. Narrowed
  under ATV0: no read ends between a CR and the LF after it, because a numeric result
  code ends with a bare S3 (V.250 §5.7.1): ``0<CR>`` is complete when the CR arrives,
  and a LF in a later read cannot be known to belong to it;
* after every read the framer holds at most ``max_line_length + 1`` unframed bytes and
  waits for no more payload than the spec's largest announced length allows;
* event texts are ``str``, payloads ``bytes``, an Unparseable text at most 203 characters;
* resynchronisation: once the DCE ends what it started (``NO CARRIER`` in data mode, the
  announced payload bytes in a payload, ``<CR><LF>`` after an unterminated line), a fresh
  ``AT`` answered ``<CR><LF>OK<CR><LF>`` gives exactly one Final OK.

**Emulator** (:func:`emulator_batches`, :class:`EmulatorRig`). A batch sets up a state
(nothing, an active context, a socket to the echo peer in buffer, push or transparent
mode), then writes garbage lines, binary after ``AT``, mutated spec lines, prompts left
hanging, Ctrl-Z/ESC, ``+++`` bursts with and without guard times and over-long lines to
a fresh emulator over its real pty. Then the rig brings the DCE back the way a DTE would
(guard time, ``+++``, guard time in data mode; ESC or the missing payload bytes at a
``>`` prompt; S3 after a partial line; waiting out an AT+CFUN=1,1 reboot; ATQ0 and
S3/S4/S5 set back by lines ended with the S3 in force, or on the loop when S3 or S5 is
a character those lines need), lets the batch's output drain, and checks on a fresh
channel that ``ATV1`` and ``AT`` get OK (a finding says the DCE's state, what the
channel read, and whether a second AT 1 s later was answered), that
no loop callback or handler raised, and that the channel's engine did not raise. The
escape guard time is 50 ms instead of 1 s so that a batch in transparent mode costs
0.1 s. Sandbox: a line the spec accepts that would power the DCE down (AT+QPOWD) or
reach beyond loopback (an address parameter that is not a loopback IP literal) is
answered as ``AT`` instead, and counted; the DNS port is 9 (discard) on loopback.
"""
from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass, field

from hypothesis import strategies as st

from atconform.casegen import generate
from atconform.protocol.commands import UnknownCommand, build_line, match_line
from atconform.protocol.engine import AtEngine, Transaction, check_response, check_urc, parse_info
from atconform.protocol.framer import DEFAULT_MAX_PAYLOAD, SHOWN, Data, Final, Unparseable, UrcLine
from atconform.spec.models import Family, FormKind, ParamType
from atconform.spec.template import Raw, Template, TemplateError


class FuzzFinding(AssertionError):
    """A fuzz property broken (a crash is the exception itself)."""


# ------------------------------------------------------------------- command lines
_PLACEHOLDER = re.compile(r"\{([^}]*)\}")

# lines that change what the framer expects next (payload, prompt, data mode, ATV0, push, hex)
ARMING = ("AT", "AT+QIRD=0,1500", "AT+QIRD=0", "AT+QIRD=0,10", "AT+QISEND=0,5", "AT+QISEND=0",
          "AT+QISEND=0,1460", 'AT+QIOPEN=1,0,"TCP","127.0.0.1",7,0,1', 'AT+QIOPEN=1,0,"TCP","127.0.0.1",7,0,2',
          'AT+QICFG="dataformat",0,1', 'AT+QICFG="dataformat",0,0', "AT+QISWTMD=0,1", "AT+QISWTMD=0,2",
          "ATO", "ATV0", "ATV1", "ATE0", "ATE1", "AT+CMEE=2")


def _resolve(v, port: int):
    if not isinstance(v, str) or "{" not in v:
        return v
    whole = _PLACEHOLDER.fullmatch(v)
    if whole and whole.group(1).endswith(".port"):
        return port

    def one(key: str) -> str:
        if key.endswith(".port"):
            return str(port)
        if key.endswith(".host"):
            return "127.0.0.1"
        if key.endswith(".name"):
            return "localhost"
        return "internet" if key == "ixit.apn" else ""
    return _PLACEHOLDER.sub(lambda m: one(m.group(1)), v)


def command_lines(family: Family, port: int = 7) -> list[str]:
    """Every line the case generator builds for ``family`` (test, read and execute
    forms, each boundary value and each malformed write), placeholders filled with
    loopback values and ``port``, plus :data:`ARMING` lines the spec knows. Sorted."""
    out: set[str] = set()
    for p in generate(family):
        cmd = family.command(p.command)
        try:
            if p.form in ("test", "read", "execute"):
                out.add(build_line(family, cmd, p.form))
            elif p.args is not None:
                out.add(build_line(family, cmd, FormKind.write, args=p.args))
            elif not p.skip:
                vals = {k: _resolve(v, port) for k, v in p.values.items()}
                variant = next(v for v in cmd.form("write").variants if v.name == p.variant)
                out.add(build_line(family, cmd, FormKind.write, vals, variant=variant))
        except (TemplateError, KeyError, ValueError, StopIteration):
            continue
    eng = AtEngine(family)
    out.update(line for line in ARMING if eng.match(line) is not None)
    return sorted(out)


# ------------------------------------------------------------- DCE byte strategies
SPECIAL = (b"\r", b"\n", b"\r\n", b"\n\r", b"\r\r\n", b">", b"> ", b"\r\n> ", b"\x1a", b"\x1b",
           b"\x00", b"\xff", b"+++", b"\x08", b" ", b'"', b",")
# digits that are not ASCII: latin-1 "²" "³" "¹" (str.isdigit is True), UTF-8 "²" "٣" "１"
NON_ASCII_DIGITS = (b"\xb2", b"\xb3", b"\xb9", "²".encode(), "٣".encode(), "１".encode())
HUGE_NUMBERS = (b"1501", b"65536", b"999999999", b"9" * 21, b"9" * 4301, b"-1", b"-0", b"0" * 30 + b"5",
                b"1" * 5000)

_MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.sampled_from(SPECIAL + NON_ASCII_DIGITS)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 8)),
    st.tuples(st.just("digit"), st.integers(0, 1 << 20), st.sampled_from(NON_ASCII_DIGITS)),
    st.tuples(st.just("bignum"), st.integers(0, 1 << 20), st.sampled_from(HUGE_NUMBERS)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20), st.just(0)),
)


def mutate(data: bytes, mutations) -> bytes:
    """Apply ``(kind, position, argument)`` mutations; positions wrap around."""
    b = bytearray(data)
    for kind, pos, arg in mutations:
        if kind in ("digit", "bignum"):
            runs = [m.span() for m in re.finditer(rb"[0-9]+", b)]
            if not runs:
                continue
            s, e = runs[pos % len(runs)]
            if kind == "digit":
                i = s + pos % (e - s)
                b[i:i + 1] = arg
            else:
                b[s:e] = arg
            continue
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


_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"'), max_size=12)


def _by_id(fn):
    """Cache ``fn(obj)`` by the object's identity (spec models are not hashable)."""
    cache: dict = {}

    def wrapper(obj):
        key = id(obj)
        if key not in cache:
            cache[key] = (obj, fn(obj))
        return cache[key][1]
    return wrapper


@_by_id
def _value(p) -> st.SearchStrategy:
    """Valid values of parameter ``p``."""
    if p.values:
        return st.sampled_from([e.value for e in p.values])
    if p.is_numeric:
        if p.range is not None:
            return st.one_of(st.sampled_from([p.range.min, p.range.max]), st.integers(p.range.min, p.range.max))
        return st.integers(0, 65535)
    t = p.type
    if t in (ParamType.ipv4, ParamType.ip):
        return st.sampled_from(["10.7.157.1", "127.0.0.1", "0.0.0.0"])
    if t is ParamType.ipv6:
        return st.just("2001:db8::1")
    if t is ParamType.host:
        return st.sampled_from(["example.com", "127.0.0.1"])
    if t is ParamType.hex:
        return st.binary(max_size=8).map(lambda b: b.hex().upper())
    if t is ParamType.time:
        return st.just("2024/01/01,00:00:00+00")
    n = p.max_length if p.max_length is not None else 12
    return _TEXT.map(lambda s: s[:n])


# Strategies are built once: a strategy made per draw stays in hypothesis's caches, and
# 100,000 inputs made the campaign grow by tens of MiB.
_DELTA = st.sampled_from([0, 0, 0, -1, 1, 5])
_UNIT = st.binary(min_size=1, max_size=8)
_SMALL = st.integers(0, 24)
_KEEP = st.integers(0, 5)
_HEAD = st.sampled_from([b"\r\n", b"\r\n", b""])           # "" = ATV0 information text
_BAD_LENGTH = st.sampled_from(HUGE_NUMBERS + NON_ASCII_DIGITS)
_MUTATIONS = st.lists(_MUTATION, max_size=4)
_CUTS = st.lists(st.integers(0, 1 << 20), max_size=12)


@_by_id
def _one_of_these(choices: tuple) -> st.SearchStrategy:
    return st.sampled_from(choices)


@_by_id
def _length_value(p) -> st.SearchStrategy:
    return st.one_of(_SMALL, st.just(p.range.max if p.range else 0))


@st.composite
def _rendered(draw, choices: tuple, huge: bool = False) -> bytes:
    """One of ``choices`` (template, payload length field) rendered with valid values
    (optional parts left out at random), framed, with a payload of about the announced
    length when there is a length field (or, ``huge``, an announced length out of range
    or no number at all)."""
    tpl, length_field = draw(_one_of_these(choices))
    vals: dict = {}
    n = None
    for f in tpl.fields:
        if f.supported:
            continue
        p = tpl.lookup(f.name)
        if f.name == length_field and huge:
            vals[f.name] = Raw(draw(_BAD_LENGTH).decode("latin-1"))
        elif f.name == length_field:
            n = vals[f.name] = draw(_length_value(p))
        elif draw(_KEEP):
            vals[f.name] = draw(_value(p))
    try:
        text = tpl.render(vals)
    except (TemplateError, ValueError):
        try:
            text = tpl.render({f.name: draw(_value(tpl.lookup(f.name))) for f in tpl.fields if not f.supported}
                              | ({length_field: n} if n is not None else {}))
        except (TemplateError, ValueError):
            text = tpl.src          # e.g. a supported-values list with no finite domain
    out = draw(_HEAD) + text.encode("latin-1", "replace") + b"\r\n"
    if n is not None:
        m = max(0, n + draw(_DELTA))
        unit = draw(_UNIT)
        out += (unit * (m // len(unit) + 1))[:m]
    return out


_LONG_LINE = st.builds(
    lambda head, unit, n, tail: head + (unit * n)[:n] + tail,
    st.sampled_from([b"", b"\r\n", b"\r\n+QIRD: ", b'\r\n+QIURC: "recv",0,', b"\r\n+CME ERROR: ",
                     b'\r\n+QISTATE: 0,"TCP",', b"\r\n+QIOPEN: ("]),
    st.sampled_from([b"x", b"9", b",", b'"', b"\x00", b"\xff", b"\xb2", b'",', b"ab,", b"1 ", b"(1-"]),
    st.sampled_from([4095, 4096, 4097, 4301, 6000, 20000]),
    st.sampled_from([b"", b"\r\n", b"\r", b"\n", b"\r\n\r\nOK\r\n"]))

_HUGE_LENGTH = st.builds(
    lambda head, num, tail: head + num + tail,
    st.sampled_from([b"\r\n+QIRD: ", b'\r\n+QIURC: "recv",0,', b'\r\n+QIURC: "recv",1,',
                     b'\r\n+QIURC: "recv",0,5,"10.0.0.1",', b'\r\n+QIRD: 5,"10.0.0.1",', b"\r\n+CME ERROR: ",
                     b"\r\n+QISEND: ", b"\r\n"]),
    st.sampled_from(HUGE_NUMBERS), st.sampled_from([b"\r\n", b"\r\nabc\r\n\r\nOK\r\n", b"", b"\r"]))


@_by_id
def _finals(family: Family) -> tuple[bytes, ...]:
    out = [b"\r\n+CME ERROR: 14\r\n", b"\r\n+CME ERROR: SIM busy\r\n", b"\r\n+CMS ERROR: 500\r\n"]
    for r in family.result_codes:
        if not r.prefix:
            out.append(b"\r\n" + r.text.encode() + b"\r\n")
        if r.numeric is not None:
            out.append(b"%d\r" % r.numeric)
    return tuple(out)


class EngineStrategies:
    """Hypothesis strategies for one family (built once; they are reusable)."""

    def __init__(self, family: Family, lines: list[str] | None = None):
        self.family = family
        self.lines = lines or command_lines(family)
        eng = AtEngine(family)
        self.urc_templates = [(t, u.payload.length_field if u.payload else None) for u, t in eng.urc_templates]
        self._templates: dict[str, tuple] = {}
        every: dict[int, tuple] = {}
        for line in self.lines:
            for t in self.templates_of(line):
                every[id(t[0])] = t
        self.every_template = list(every.values())
        arming = [line for line in ARMING if line in self.lines]
        self.line = st.one_of(st.none(), st.sampled_from(arming), st.sampled_from(self.lines))
        urcs = _rendered(tuple(self.urc_templates))
        # one_of picks a branch uniformly: repeated branches weigh more
        self._common = [
            st.sampled_from(_finals(family)), st.sampled_from(_finals(family)),
            st.sampled_from(SPECIAL),
            st.binary(max_size=48),
            st.one_of(_LONG_LINE, _HUGE_LENGTH),
            urcs, urcs,
            _rendered(tuple(self.every_template)),
        ]
        self._pieces: dict[str | None, st.SearchStrategy] = {}

    def templates_of(self, line: str | None) -> tuple:
        """(template, payload length field) of ``line``'s information text."""
        return self._armed(line)[0]

    def _armed(self, line: str | None) -> tuple[tuple, bool]:
        if line is None:
            return (), False
        if line not in self._templates:
            eng = AtEngine(self.family)
            eng.command(line)
            self._templates[line] = (tuple(eng.framer.pending.templates), eng.framer.pending.prompt)
        return self._templates[line]

    def pieces(self, line: str | None) -> st.SearchStrategy:
        """Lists of what the DCE may send after ``line``: common pieces, and ``line``'s own
        responses (also with a bad announced length), its echo and its prompt."""
        if line not in self._pieces:
            own = list(self._common)
            tpls, prompt = self._armed(line)
            if tpls:
                own += [_rendered(tuple(tpls))] * 3
            with_length = tuple(t for t in tpls if t[1])
            if with_length:
                own.append(_rendered(with_length, huge=True))
            if prompt:
                own += [st.sampled_from([b"\r\n> ", b"> ", b">", b"\r\n>", b"\r\n> \r\n"])] * 2
            if line is not None:
                own.append(st.just(line.encode("latin-1") + b"\r"))
            self._pieces[line] = st.lists(st.one_of(own), max_size=8)
        return self._pieces[line]


@dataclass(frozen=True)
class Step:
    line: str | None          # command line sent before the bytes (None: no command pending)
    data: bytes               # what the DCE sends
    cuts: tuple[int, ...]     # read boundaries (wrapped into the data's length)


@dataclass(frozen=True)
class EngineInput:
    steps: tuple[Step, ...]
    bytewise: bool = False    # also feed one byte per read (inputs up to 4 KiB)

    @property
    def size(self) -> int:
        return sum(len(s.data) for s in self.steps)


@st.composite
def _step(draw, s: EngineStrategies) -> Step:
    line = draw(s.line)
    data = b"".join(draw(s.pieces(line)))
    data = mutate(data, draw(_MUTATIONS))
    cuts = tuple(draw(_CUTS))
    return Step(line, data, cuts)


def engine_inputs(family: Family, strategies: EngineStrategies | None = None) -> st.SearchStrategy:
    s = strategies or EngineStrategies(family)
    return st.builds(EngineInput, st.lists(_step(s), min_size=1, max_size=3).map(tuple), st.booleans())


# ---------------------------------------------------------------- engine properties
@dataclass
class EngineStats:
    events: int = 0
    max_buffer: int = 0        # unframed bytes held after a read
    max_payload: int = 0       # payload bytes collected + still awaited


@_by_id
def payload_bound(family: Family) -> int:
    """Most payload bytes any announced length may make the framer wait for (hex: 2n)."""
    fields = []
    for c in family.commands:
        for form in c.forms:
            for v in form.variants:
                fields += [c.param(r.payload.length_field) for r in v.responses if r.payload]
    for u in family.urcs:
        if u.payload:
            fields.append(next(p for p in u.parameters if p.name == u.payload.length_field))
    return 2 * max((p.range.max if p.range is not None else DEFAULT_MAX_PAYLOAD) for p in fields)


def _reads(data: bytes, cuts, verbose: bool) -> list[bytes]:
    pos = sorted({c % (len(data) + 1) for c in cuts} - {0, len(data)})
    if not verbose:   # ATV0: no read ends between CR and LF (see the module docstring)
        pos = [i for i in pos if data[i - 1:i + 1] != b"\r\n"]
    return [data[a:b] for a, b in zip([0, *pos], [*pos, len(data)])]


def _merged(events: list) -> list:
    out: list = []
    for e in events:
        if isinstance(e, Data) and out and isinstance(out[-1], Data):
            out[-1] = Data(out[-1].data + e.data)
        else:
            out.append(e)
    return out


def _feed_all(family: Family, inp: EngineInput, how: str, stats: EngineStats):
    eng = AtEngine(family)
    fr = eng.framer
    bound = payload_bound(family)
    per_step = []
    for step in inp.steps:
        match = eng.command(step.line)[1] if step.line is not None else None
        if how == "whole":
            reads = [step.data]
        elif how == "bytewise":
            reads = _reads(step.data, range(len(step.data) + 1), fr.verbose)
        else:
            reads = _reads(step.data, step.cuts, fr.verbose)
        events: list = []
        for r in reads:
            events += eng.feed(r)
            held, waiting = len(fr._buf), len(fr._payload) + (fr._need or 0)
            stats.max_buffer = max(stats.max_buffer, held)
            stats.max_payload = max(stats.max_payload, waiting)
            if held > fr.max_line + 1:
                raise FuzzFinding(f"{how}: the framer holds {held} unframed bytes after a read "
                                  f"(max_line_length {fr.max_line})")
            if waiting > bound:
                raise FuzzFinding(f"{how}: the framer waits for {waiting} payload bytes (bound {bound})")
        per_step.append((step.line, match, events))
    return eng, per_step


def _first_difference(a: list, b: list) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"event {i}: {x!r} != {y!r}"
    return f"{len(a)} events != {len(b)} events"


def check_events(family: Family, line: str | None, match, events: list, templates=()) -> None:
    """Event types, and the checkers on them: nothing may raise (parse_info: ValueError)."""
    for ev in events:
        if isinstance(ev, Data):
            if not isinstance(ev.data, bytes) or not ev.data:
                raise FuzzFinding(f"bad Data event {ev!r}")
            continue
        if not isinstance(ev.text, str):
            raise FuzzFinding(f"event text is not a str: {ev!r}")
        if getattr(ev, "payload", None) is not None and not isinstance(ev.payload, bytes):
            raise FuzzFinding(f"payload is not bytes: {ev!r}")
        if isinstance(ev, Unparseable) and (len(ev.text) > SHOWN + 3 or not isinstance(ev.reason, str)):
            raise FuzzFinding(f"Unparseable text of {len(ev.text)} characters")
        if isinstance(ev, Final) and ev.code is not None and not isinstance(ev.code, int):
            raise FuzzFinding(f"Final code is not an int: {ev!r}")
        for tpl, _ in templates:
            tpl.parse(ev.text)
            tpl.parse(ev.text, check_ranges=False)
    t = Transaction(line or "", match, 0.0)
    for ev in events:
        t.add(ev, 1.0)
    for expect in (None, True, False):
        problems = check_response(family, t.response, expect_success=expect)
        if not all(isinstance(p, str) for p in problems):
            raise FuzzFinding(f"check_response gave a non-str problem: {problems!r}")
    for i in range(len(t.response.info)):
        try:
            parse_info(t.response, i)
        except ValueError:
            pass
    for ev in events:
        if isinstance(ev, UrcLine):
            check_urc(family, ev)


def resync(eng: AtEngine) -> list:
    """Let the DCE end what it started, then answer a fresh ``AT`` with OK; the events
    of that OK (see the module docstring for the rule)."""
    fr = eng.framer
    for _ in range(8):
        if fr.data_mode:
            eng.feed(b"\r\nNO CARRIER\r\n")
        elif fr._need:
            eng.feed(b"0" * fr._need)
        elif fr._buf or fr._discarding:
            eng.feed(b"\r\n")
        else:
            break
    else:
        raise FuzzFinding("the framer does not come back to an empty line state")
    eng.command("AT")
    return eng.feed(b"\r\nOK\r\n")


def check_engine(family: Family, inp: EngineInput, strategies: EngineStrategies | None = None) -> EngineStats:
    """Run every property on ``inp``. Raises FuzzFinding when a property breaks; any
    other exception is a crash of the code under test."""
    stats = EngineStats()
    hows = ["whole", "chunked"] + (["bytewise"] if inp.bytewise and inp.size <= 4096 else [])
    runs = [(how, *_feed_all(family, inp, how, stats)) for how in hows]
    base = [_merged(evs) for _, _, evs in runs[0][2]]
    for how, _, per_step in runs[1:]:
        for i, ((_, _, evs), want) in enumerate(zip(per_step, base)):
            got = _merged(evs)
            if got != want:
                raise FuzzFinding(f"step {i}: events differ between one read and {how} reads: "
                                  + _first_difference(want, got))
    urc_tpls = strategies.urc_templates if strategies else [(t, None) for _, t in AtEngine(family).urc_templates]
    for line, match, evs in runs[0][2]:
        stats.events += len(evs)
        own = strategies.templates_of(line) if strategies else ()
        check_events(family, line, match, evs, [*own, *urc_tpls])
    ok = Final("OK", family.result_code("OK"))
    for how, eng, _ in runs:
        got = resync(eng)
        if got != [ok]:
            raise FuzzFinding(f"{how}: after resynchronising, AT answered OK gave {got!r}")
    return stats


# ---------------------------------------------------------------------- emulator
_ADDRESS_TYPES = (ParamType.ip, ParamType.ipv4, ParamType.ipv6, ParamType.host)
# address parameters that are not a destination: the name asked of the (loopback) DNS
# servers, and a setting
_NOT_DESTINATIONS = {("+QIDNSGIP", "hostname"), ("+QICFG", "ipv6_prefix")}


def _loopback(v) -> bool:
    """An IP literal on loopback. A host name is not: its lookup (over the emulator's
    DNS, which has no server here) may keep a transparent-mode open busy for 60 s."""
    if not isinstance(v, str):
        return False
    try:
        return ipaddress.ip_address(v).is_loopback
    except ValueError:
        return False


def leaves_sandbox(family: Family, raw: bytes) -> str | None:
    """Why the emulator must not run command line ``raw`` in a fuzz run (it would power
    the DCE down, or reach beyond loopback); None when it may."""
    text = bytes(raw).decode("latin-1").strip()
    prefix = family.framing.prefix
    if text[:len(prefix)].upper() != prefix.upper():
        return None
    try:
        m = match_line(family, text[len(prefix):])
    except UnknownCommand:
        return None
    if not m.ok:
        return None
    if m.command.name == "+QPOWD":
        return "powers the DCE down"
    for p in m.command.parameters:
        if (p.type in _ADDRESS_TYPES and p.name in m.values and (m.command.name, p.name) not in _NOT_DESTINATIONS
                and not _loopback(m.values[p.name])):
            return f"<{p.name}>={m.values[p.name]!r} is not loopback"
    return None


@dataclass(frozen=True)
class Action:
    kind: str                 # write | escape (guard, bytes, guard) | sleep
    data: bytes = b""
    seconds: float = 0.0


@dataclass(frozen=True)
class Batch:
    setup: str                # none | context | buffer | push | transparent
    actions: tuple[Action, ...]

    @property
    def inputs(self) -> int:
        return sum(a.kind != "sleep" for a in self.actions)


SETUPS = ("none", "context", "buffer", "push", "transparent")
CONTROL = (b"\x1a", b"\x1b", b"+++", b"+", b"++", b"\r", b"\n", b"\r\n", b"\x08", b"\x08" * 5, b"\x00",
           b"\xff", b"A", b"AT", b"at", b"AT\r", b"\x1b\r", b"\x1a\r", b"a\x08T\r")
STATEFUL = (b"AT+QISEND=0\r", b"AT+QISEND=0,5\r", b"AT+QISEND=0,1460\r", b"AT+QISEND=0,0\r", b"AT+QISEND=1,5\r",
            b"AT+QISEND=0,1461\r", b'AT+QICFG="dataformat",1,1\r', b'AT+QICFG="dataformat",0,0\r',
            b"AT+QISDE=1\r", b"ATE1\r", b"ATE0\r", b"ATV0\r", b"ATV1\r", b"AT+QISWTMD=0,2\r",
            b"AT+QISWTMD=0,1\r", b"ATO\r", b"AT+QIRD=0,1500\r", b"AT+QIRD=0\r", b"AT+CMEE=2\r",
            b"AT+QICLOSE=0\r", b"AT+QIDEACT=1\r", b"ATQ1\r", b"ATS3=0\r", b"ATS3=65\r", b"ATS4=13\r",
            b"ATS5=84\r", b"ATS5=48\r", b"ATS3?\r", b"A/\r", b"AT+CFUN=1,1\r", b"AT+CFUN=0\r", b"AT&W\r", b"ATZ\r")


def _action(lines: list[str]) -> st.SearchStrategy:
    write = lambda b: Action("write", b)  # noqa: E731
    return st.one_of(
        st.binary(max_size=64).map(lambda b: write(b + b"\r")),
        st.tuples(st.binary(max_size=64), st.sampled_from([b"\r", b""])).map(lambda t: write(b"AT" + t[0] + t[1])),
        st.tuples(st.sampled_from(lines), st.lists(_MUTATION, max_size=2)).map(
            lambda t: write(mutate(t[0].encode("latin-1"), t[1]) + b"\r")),
        st.sampled_from(CONTROL).map(write),
        st.sampled_from(STATEFUL).map(write),
        st.builds(lambda head, unit, n, tail: write(head + (unit * n)[:n] + tail),
                  st.sampled_from([b"", b"AT", b"AT+QIRD=", b"AT+QISEND=0,", b'AT+QICSGP=1,1,"']),
                  st.sampled_from([b"x", b"9", b",", b"\xb2"]),
                  st.sampled_from([4095, 4096, 4097, 4301, 9000]), st.sampled_from([b"\r", b""])),
        st.integers(1, 9).map(lambda n: Action("escape", b"+" * n)),
        st.binary(max_size=256).map(write),
        st.sampled_from([0.01, 0.07]).map(lambda s: Action("sleep", seconds=s)),
    )


def emulator_batches(lines: list[str], max_actions: int = 8) -> st.SearchStrategy:
    return st.builds(Batch, st.sampled_from(SETUPS),
                     st.lists(_action(lines), min_size=1, max_size=max_actions).map(tuple))


# the lines that set ATQ and S3/S4/S5 back to their defaults (S3 last: the others end
# with the S3 in force)
_RESTORE = (b"ATQ0", b"ATS4=10", b"ATS5=8", b"ATS3=13")
_RESTORE_CHARS = set(b"".join(_RESTORE))


@dataclass
class BatchResult:
    inputs: int = 0
    problems: list[str] = field(default_factory=list)
    slowest_input_s: float = 0.0      # write until the emulator has read and handled it
    slowest_input: bytes = b""
    sandboxed: int = 0
    at_answered: bool = False
    details: list[str] = field(default_factory=list)    # diagnostics of the problems
    settings_reset: int = 0       # S3/S5 no line could set back: reset on the loop


class EmulatorRig:
    """One fresh emulator on a pty for one batch (see the module docstring)."""

    GUARD = 0.05

    def __init__(self, family: Family, echo_port: int):
        self.family = family
        self.echo_port = echo_port
        self.emu = None
        self.ch = None

    def start(self) -> "EmulatorRig":
        from atconform.emulator import Emulator
        from atconform.transport.channel import Channel
        self.emu = emu = Emulator(self.family.model, dns_port=9).start()
        m = emu.modem
        self.sandboxed = 0
        real = m._execute_line

        def sandboxed(raw: bytes) -> None:
            if leaves_sandbox(self.family, raw):
                self.sandboxed += 1
                raw = b"AT"
            real(raw)

        # bytes through the pty, counted at the emulator's end: a write has arrived when
        # the count reaches what the channel sent (the pty hands bytes over on a kernel
        # worker, so an empty input queue alone does not say they were read)
        self.dce_in = self.dce_out = 0
        port = emu.port
        read, write = port.on_input, port.write

        def counted_in(data: bytes) -> None:
            self.dce_in += len(data)
            read(data)

        def counted_out(data: bytes) -> None:
            self.dce_out += len(data)
            write(data)

        def prepare() -> None:
            m.fr = m.fr.model_copy(update={"escape_guard_time": self.GUARD})
            m._execute_line = sandboxed
            port.on_input, port.write = counted_in, counted_out
        emu.loop.call(prepare)
        self.engine_problems: list[str] = []
        self.ch = Channel(self.family, emu.path).open()
        self.ch.add_problem_listener(self._problem)
        return self

    def _problem(self, ev: Unparseable) -> None:
        if "raised" in ev.reason:       # the engine or a listener raised: a bug of ours
            self.engine_problems.append(ev.reason)

    def stop(self) -> None:
        if self.ch is not None:
            self.ch.close()
        if self.emu is not None:
            try:
                self.emu.loop.call(lambda: self.emu.modem.power_off(), timeout=5)   # close its sockets
            except Exception:
                pass
            self.emu.stop()

    # -- helpers ------------------------------------------------------------------
    def _state(self) -> tuple:
        m = self.emu.modem
        defaults = {3: ord(m.fr.s3), 4: ord(m.fr.s4), 5: 0x08}

        def get():
            p = m._prompt if m.mode == "prompt" else None
            need = None if p is None or p["length"] is None else p["length"] * (2 if p["hex"] else 1) - len(p["buf"])
            partial = bool(getattr(m, "_in_line", m._line)) or m._overflow
            settings = m.quiet or m.sregs != defaults       # ATQ1, ATS3=/S4=/S5=
            return m.mode, m.busy, p is not None, need, partial, settings, m.sregs[3], m.sregs[5]
        return self.emu.loop.call(get, timeout=5)

    def _describe(self) -> str:
        """The DCE's state in words, for a finding."""
        m = self.emu.modem

        def get():
            return (f"mode={m.mode} busy={m.busy} dead={m.dead} held={m._hold is not None} "
                    f"queued={len(m._queued)} echo={m.echo} verbose={m.verbose} quiet={m.quiet} "
                    f"sregs={m.sregs} line={bytes(m._line)[:40]!r} prompt={m._prompt is not None} "
                    f"output_queued={len(self.emu.port._out)}")
        try:
            return self.emu.loop.call(get, timeout=5)
        except Exception as e:
            return f"(state unknown: {e!r})"

    @staticmethod
    def _rx(ch) -> bytes:
        return b"".join(x.data for x in ch.transcript.entries() if x.direction == "rx")[-300:]

    @staticmethod
    def _total(ch, direction: str) -> int:
        return sum(len(x.data) for x in ch.transcript.entries() if x.direction == direction)

    def _drain(self, cap: float = 2.0) -> None:
        """Until this channel has read all the emulator wrote, so that no answer of the
        batch reaches the next channel."""
        deadline = time.monotonic() + cap
        while time.monotonic() < deadline:
            self.emu.loop.call(lambda: None, timeout=5)
            if self._total(self.ch, "rx") >= self.dce_out:
                return
            time.sleep(0.002)

    def _sync(self, cap: float = 5.0) -> bool:
        """Until the emulator has read and handled every byte the channel wrote."""
        want = self._total(self.ch, "tx")
        deadline = time.monotonic() + cap
        while time.monotonic() < deadline:
            if self.dce_in >= want:
                self.emu.loop.call(lambda: None, timeout=5)     # its handling is done
                return True
            time.sleep(0.001)
        return False

    def _write(self, data: bytes, res: BatchResult) -> None:
        t0 = time.perf_counter()
        self.ch.write(data)
        if not self._sync():
            res.problems.append(f"the emulator did not read {len(data)} written bytes within 5 s")
        dt = time.perf_counter() - t0
        if dt > res.slowest_input_s:
            res.slowest_input_s, res.slowest_input = dt, data[:200]

    def _setup(self, setup: str, res: BatchResult) -> None:
        if setup == "none":
            return
        ch = self.ch
        if not ch.command("AT+QIACT=1", timeout=5).ok:
            res.problems.append("setup: AT+QIACT=1 failed")
            return
        if setup == "context":
            return
        mode = {"buffer": 0, "push": 1, "transparent": 2}[setup]
        r = ch.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{self.echo_port},0,{mode}', timeout=5)
        if mode == 2:
            if r.final.kind != "connect":
                res.problems.append(f"setup: transparent QIOPEN got {r.final.text}")
        elif not r.ok or ch.wait_urc("qiopen", 5) is None:
            res.problems.append("setup: no +QIOPEN URC")

    def _recover(self, res: BatchResult) -> None:
        """Bring the DCE back to command mode as a DTE would."""
        g = self.GUARD
        for _ in range(8):
            mode, busy, prompt, need, partial, settings, s3, s5 = self._state()
            if mode == "off":
                # AT+CFUN=1,1 reboots: a DTE waits for the module to come back (RDY)
                deadline = time.monotonic() + 15.0
                while time.monotonic() < deadline and self._state()[0] == "off":
                    time.sleep(0.05)
            elif mode == "data":
                time.sleep(g * 1.5)
                self.ch.write(b"+++")
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline and self._state()[0] == "data":
                    time.sleep(g / 2)
            elif prompt:
                self.ch.write(b"\x1b" if need is None else b"0" * max(need, 1))
            elif busy:
                time.sleep(0.05)
            elif partial:
                self.ch.write(bytes([s3]))
            elif settings:
                # ATQ1 or another S3/S4/S5: a DTE that set them knows them and sets them
                # back, each line ended with the S3 in force; when S3 or S5 (delete) is
                # one of the characters of those lines there is no such line, and the
                # rig resets them on the loop (counted)
                if s3 in _RESTORE_CHARS or s5 in _RESTORE_CHARS:
                    self.emu.loop.call(self.emu.modem.reset_settings, timeout=5)
                    res.settings_reset += 1
                else:
                    self.ch.write(b"".join(line + bytes([s3]) for line in _RESTORE))
            elif mode == "command":
                return
            else:
                res.problems.append(f"the DCE is in mode {mode!r}")
                return
            self._sync()
        res.problems.append(f"could not bring the DCE back to command mode: {self._state()}")

    def run(self, batch: Batch) -> BatchResult:
        """Run ``batch``; the result's ``problems`` list every broken property."""
        from atconform.transport.channel import Channel, ChannelError
        res = BatchResult(inputs=batch.inputs)
        emu = self.emu
        errors0 = (len(emu.loop.errors), len(emu.modem.handler_errors))
        try:
            self._setup(batch.setup, res)
            for a in batch.actions:
                if a.kind == "sleep":
                    time.sleep(a.seconds)
                elif a.kind == "escape":
                    time.sleep(self.GUARD * 1.3)
                    self._write(a.data, res)
                    time.sleep(self.GUARD * 1.3)
                else:
                    self._write(a.data, res)
            self._recover(res)
        except ChannelError as e:
            res.problems.append(f"the channel failed: {e}")
        # a fresh DTE side: this channel's engine saw raw writes it could not track
        self._drain()
        self.ch.close()
        ch = self.ch = Channel(self.family, emu.path).open()
        ch.add_problem_listener(self._problem)
        try:
            v1 = ch.command("ATV1", timeout=5)
            at = ch.command("AT", timeout=5)
            res.at_answered = v1.ok and at.ok
            if not res.at_answered:
                res.problems.append(f"ATV1 got {v1.final.text}, AT got {at.final.text}")
                res.details.append(f"DCE: {self._describe()}; the channel read {self._rx(ch)!r}")
        except ChannelError as e:
            state = self._describe()
            time.sleep(1.0)
            try:
                late = "answered" if ch.command("AT", timeout=5).ok else "not OK"
            except ChannelError:
                late = "not answered"
            res.problems.append(f"AT not answered: {type(e).__name__}: {e}")
            res.details.append(f"DCE: {state}; the channel read {self._rx(ch)!r}; "
                               f"a second AT 1 s later: {late}")
        loop_errors = emu.loop.errors[errors0[0]:]
        handler_errors = emu.loop.call(lambda: list(emu.modem.handler_errors[errors0[1]:]), timeout=5)
        res.problems += [f"emulator loop callback raised {type(e).__name__}: {e}" for e in loop_errors]
        res.problems += [f"emulator handler raised {type(e).__name__}: {e}" for e in handler_errors]
        res.problems += [f"channel: {p}" for p in self.engine_problems]
        res.sandboxed = self.sandboxed
        return res


def run_batch(family: Family, echo_port: int, batch: Batch) -> BatchResult:
    rig = EmulatorRig(family, echo_port).start()
    try:
        return rig.run(batch)
    finally:
        rig.stop()
