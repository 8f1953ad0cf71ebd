"""Typed values of AT parameters: checking, formatting and parsing.

Pure functions; no I/O. ``check_value`` returns a reason string or None, so callers
(emulator validation, response checker, case generator) can say *why* a value is bad.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from atconform.spec.models import Parameter, ParamType

# All used with fullmatch: "$" also matches before a trailing "\n", which let "414\n"
# pass as hex and crash bytes.fromhex. Digits are ASCII only ("\d" takes "²" too).
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_HEX = re.compile(r"[0-9A-Fa-f]*")
_TIME = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2},[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{1,2}")
_INT = re.compile(r"-?[0-9]+")
_HEXDIGITS = re.compile(r"[0-9A-F]*")           # upper case only (Queclink <seq>, seed 000 L97)
_DIGITS = re.compile(r"[0-9]*")
_TIMESTAMP = re.compile(r"[0-9]{14}")           # YYYYMMDDHHMMSS
# Longest integer taken from a line when the parameter has no range: more digits than
# any 64-bit value has are a finding, never converted (Python refuses > 4300 digits).
MAX_INT_DIGITS = 20


def bounded_int(text: str, rng=None) -> int | None:
    """``text`` as an int when it is ``-?[0-9]+`` with no more digits than ``rng``'s
    bounds have (or :data:`MAX_INT_DIGITS`); None otherwise. Never raises, so a line of
    4,301 nines costs a string length check, not a conversion."""
    if _INT.fullmatch(text) is None:
        return None
    digits = text.lstrip("-").lstrip("0") or "0"
    limit = MAX_INT_DIGITS
    if rng is not None:
        limit = max(len(str(abs(rng.min))), len(str(abs(rng.max))))
    if len(digits) > limit:
        return None
    return int(text)


def is_ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
        return True
    except ValueError:
        return False


def is_ipv6(s: str) -> bool:
    try:
        ipaddress.IPv6Address(s)
        return True
    except ValueError:
        return False


def is_hostname(s: str) -> bool:
    if not s or len(s) > 253:
        return False
    if is_ipv4(s) or is_ipv6(s):
        return True
    return all(_HOST_LABEL.fullmatch(label) for label in s.rstrip(".").split("."))


def check_value(p: Parameter, v: Any) -> str | None:
    """Why ``v`` is not a valid value of ``p``, or None when it is valid."""
    t = p.type
    if p.is_numeric:
        if isinstance(v, bool) or not isinstance(v, int):
            return f"<{p.name}> must be an integer, got {v!r}"
        if p.values and v not in [e.value for e in p.values]:
            return f"<{p.name}>={v} is not one of {[e.value for e in p.values]}"
        if p.range is not None and v not in p.range:
            return f"<{p.name}>={v} is outside {p.range.min}-{p.range.max}"
        return None
    if not isinstance(v, str):
        return f"<{p.name}> must be a string, got {v!r}"
    if p.values and v not in [e.value for e in p.values]:
        return f"<{p.name}>={v!r} is not one of {[e.value for e in p.values]}"
    if p.max_length is not None and len(v) > p.max_length:
        return f"<{p.name}> is {len(v)} characters, longer than {p.max_length}"
    if p.min_length is not None and len(v) < p.min_length:
        return f"<{p.name}> is {len(v)} characters, shorter than {p.min_length}"
    if t is ParamType.ipv4 and not is_ipv4(v):
        return f"<{p.name}>={v!r} is not a dotted IPv4 address"
    if t is ParamType.ipv6 and not is_ipv6(v):
        return f"<{p.name}>={v!r} is not an IPv6 address"
    if t is ParamType.ip and not (is_ipv4(v) or is_ipv6(v)):
        return f"<{p.name}>={v!r} is not an IP address"
    if t is ParamType.host and not is_hostname(v):
        return f"<{p.name}>={v!r} is not a host name or IP address"
    if t is ParamType.hex:
        if not _HEX.fullmatch(v):
            return f"<{p.name}> contains non-hex characters"
        if len(v) % 2:
            return f"<{p.name}> has an odd number of hex digits"
    if t is ParamType.time and not _TIME.fullmatch(v):
        return f"<{p.name}>={v!r} is not YYYY/MM/DD,hh:mm:ss+zz"
    if t is ParamType.port_pair:
        return _check_port_pair(p, v)
    if t is ParamType.hexdigits and not _HEXDIGITS.fullmatch(v):
        return f"<{p.name}>={_short(v)} is not upper-case hex digits ('0'-'9', 'A'-'F')"
    if t is ParamType.digits and not _DIGITS.fullmatch(v):
        return f"<{p.name}>={_short(v)} is not decimal digits"
    if t is ParamType.timestamp:
        return _check_timestamp(p, v)
    return None


def _check_port_pair(p: Parameter, v: str) -> str | None:
    """``<port>`` or ``<port>|<port>``, each part ASCII digits within ``p.range``."""
    parts = v.split("|")
    if len(parts) > 2:
        return f"<{p.name}>={_short(v)} has {len(parts)} '|'-separated parts, at most 2"
    names = ("server port", "local port")
    for name, part in zip(names, parts):
        n = bounded_int(part, p.range) if _DIGITS.fullmatch(part) and part else None
        if n is None or (p.range is not None and n not in p.range):
            lim = f"{p.range.min}-{p.range.max}" if p.range is not None else "a number"
            return f"<{p.name}> {name} {_short(part)} is not {lim}"
    return None


def _check_timestamp(p: Parameter, v: str) -> str | None:
    import datetime
    if not _TIMESTAMP.fullmatch(v):
        return f"<{p.name}>={_short(v)} is not YYYYMMDDHHMMSS (14 digits)"
    try:
        datetime.datetime.strptime(v, "%Y%m%d%H%M%S")
    except ValueError:
        return f"<{p.name}>={v!r} is not a valid date and time (YYYYMMDDHHMMSS)"
    return None


def format_value(p: Parameter, v: Any) -> str:
    """The value as written on a command line or in a response: quoted by type."""
    if p.quoted:
        s = str(v)
        if '"' in s:
            raise ValueError(f"<{p.name}>: a quoted AT string cannot contain '\"'")
        return f'"{s}"'
    return str(v)


def parse_token(p: Parameter, raw: str) -> tuple[Any, str | None]:
    """Convert one comma-separated token to a typed value.

    Returns ``(value, problem)``; ``problem`` is None when the token is well formed for
    the parameter's type and quoting (range is not checked here: see ``check_value``).
    """
    raw = raw.strip(" ")
    quoted = len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"'
    if p.is_numeric:
        if quoted:
            return raw, f"<{p.name}> is numeric but was quoted"
        if _INT.fullmatch(raw) is None:
            return raw, f"<{p.name}>={_short(raw)} is not an integer"
        value = bounded_int(raw, p.range)
        if value is None:
            # out of range by its length alone: say so without converting
            bound = f"outside {p.range.min}-{p.range.max}" if p.range is not None else "too long"
            return raw, f"<{p.name}> has {len(raw.lstrip('-'))} digits: {bound}"
        return value, None
    if p.type is ParamType.raw:
        return (raw[1:-1] if quoted else raw), None
    if p.quoted and not quoted:
        return raw, f"<{p.name}> must be quoted"
    return (raw[1:-1] if quoted else raw), None


def _short(raw: str, n: int = 40) -> str:
    """repr of a token, cut to ``n`` characters for messages."""
    return repr(raw) if len(raw) <= n else repr(raw[:n]) + f"... ({len(raw)} characters)"


def reported_values(p: Parameter):
    """The values a test command reports for ``p``: its ``test_range`` where the manual's
    test response differs from the parameter table, else its domain."""
    if p.test_range is not None:
        return range(p.test_range.min, p.test_range.max + 1)
    return p.supported_values()


def bounds(vals) -> tuple[int, int]:
    """(min, max) of a list or range of ints, without iterating a range."""
    if isinstance(vals, range):
        return vals.start, vals[-1]
    return min(vals), max(vals)


def render_supported(p: Parameter) -> str:
    """A parameter's supported values as a test command prints them: ``(1-16)``, ``(0,1)``,
    ``(0-2)`` ; string enums as ``"TCP/UDP"`` lists are written literally in templates."""
    vals = reported_values(p)
    if vals is None:
        raise ValueError(f"<{p.name}> has no finite domain to report")
    if isinstance(vals, range):
        if len(vals) >= 3:
            return f"({vals.start}-{vals[-1]})"
        return "(" + ",".join(str(i) for i in vals) + ")"
    if all(isinstance(v, int) for v in vals):
        ints = sorted(set(vals))  # type: ignore[arg-type]
        if len(ints) >= 3 and ints == list(range(ints[0], ints[-1] + 1)):
            return f"({ints[0]}-{ints[-1]})"
        return "(" + ",".join(str(i) for i in ints) + ")"
    return "(" + ",".join(format_value(p, v) for v in vals) + ")"


# One item of a supported-values list, already stripped: "5" or "0-4294967295". No two
# adjacent unbounded repeats can share characters, so matching is linear (the old
# "^\s*(-?\d+)\s*(?:-\s*(-?\d+))?\s*$" backtracked quadratically on long blanks).
_RANGE_ITEM = re.compile(r"(-?[0-9]+)(?:[ \t]*-[ \t]*(-?[0-9]+))?")


class IntervalSet:
    """A set of integers kept as merged inclusive intervals, so ``(0-4294967295)`` costs
    two numbers, not four billion. Compares equal to a set, list or range of the same
    integers."""

    __slots__ = ("intervals",)

    def __init__(self, intervals):
        merged: list[list[int]] = []
        for lo, hi in sorted(intervals):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.intervals = tuple((a, b) for a, b in merged)

    @classmethod
    def of(cls, values) -> "IntervalSet":
        if isinstance(values, IntervalSet):
            return values
        if isinstance(values, range):
            return cls([(values.start, values[-1])] if len(values) else [])
        return cls([(v, v) for v in values])

    def __contains__(self, v) -> bool:
        return any(lo <= v <= hi for lo, hi in self.intervals)

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.intervals)

    def __iter__(self):
        for lo, hi in self.intervals:
            yield from range(lo, hi + 1)

    def __eq__(self, other) -> bool:
        if isinstance(other, (IntervalSet, range, set, frozenset, list, tuple)):
            try:
                return self.intervals == IntervalSet.of(other).intervals
            except TypeError:
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.intervals)

    def __repr__(self) -> str:
        return "(" + ",".join(f"{a}-{b}" if a != b else str(a) for a, b in self.intervals) + ")"


def parse_supported(text: str) -> "IntervalSet | set[str]":
    """Parse ``(1-16)``, ``(0,1)``, ``(0-3,5)`` into an :class:`IntervalSet`, or
    ``("a","b")`` into a set of strings. Raises ValueError on anything else."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        raise ValueError(f"not a supported-values list: {_short(text)}")
    body = text[1:-1]
    if not body:
        return IntervalSet([])
    items = [i.strip() for i in body.split(",")]
    if all(i.startswith('"') and i.endswith('"') for i in items):
        return {i[1:-1] for i in items}
    spans: list[tuple[int, int]] = []
    for item in items:
        m = _RANGE_ITEM.fullmatch(item)
        if not m:
            raise ValueError(f"bad item {_short(item)} in a supported-values list")
        lo = bounded_int(m.group(1))
        hi = bounded_int(m.group(2)) if m.group(2) is not None else lo
        if lo is None or hi is None:
            raise ValueError(f"number too long in item {_short(item)} of a supported-values list")
        if hi < lo:
            raise ValueError(f"descending range {_short(item)} in a supported-values list")
        spans.append((lo, hi))
    return IntervalSet(spans)
