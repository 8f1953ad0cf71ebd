"""Process-wide secret redaction: one registry for every text that leaves the process.

Secrets (the IXIT's APN password, SIM PIN, device password; values of spec parameters
marked ``secret``) are registered once; every output (transcripts, failure reasons,
results.jsonl, compliance.json/.html, allure results, JUnit XML, pytest's terminal
output) passes through :func:`redact`, which replaces each with ``***``::

    register("s3cret")
    redact('AT+QICSGP=1,1,"internet","","s3cret",0')   # -> '...,"***",0'

A secret is also found in the forms other layers give it before it reaches us:
``repr()`` (a traceback's ``line = '...'``, a ``!r`` in a message), JSON, HTML/XML
escaping. Empty secrets are ignored.
"""
from __future__ import annotations

import dataclasses
import html
import json
import re
import threading
from typing import Any

MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()
_text_re: re.Pattern[str] | None = None
_bytes_re: re.Pattern[bytes] | None = None


def _escaped(s: str, ascii_only: bool) -> str:
    # a character as repr() writes it inside a longer string, quotes left bare
    f = ascii if ascii_only else repr
    return "".join(c if c in "'\"" else f(c)[1:-1] for c in s)


def _variants(s: str) -> set[str]:
    out = {s, html.escape(s), html.escape(s, quote=False), json.dumps(s)[1:-1],
           json.dumps(s, ensure_ascii=False)[1:-1]}
    for ascii_only in (False, True):
        e = _escaped(s, ascii_only)
        # repr() escapes the quote it chose as delimiter when the string holds both
        out |= {e, e.replace("'", "\\'"), e.replace('"', '\\"')}
    return {v for v in out if v}


def _alternation(items) -> str:
    # longest first, so a secret's escaped form wins over a shorter secret inside it
    return "|".join(re.escape(v) for v in sorted(items, key=lambda v: (-len(v), v)))


def register(*secrets: str | None) -> None:
    """Add secrets to the registry (None and "" are ignored). Thread-safe."""
    global _text_re, _bytes_re
    new = {s for s in secrets if isinstance(s, str) and s} - _secrets
    if not new:
        return
    with _lock:
        _secrets.update(new)
        texts = set().union(*(_variants(s) for s in _secrets))
        raw: set[bytes] = set()
        for s in _secrets:
            for enc in ("utf-8", "latin-1"):
                try:
                    raw.add(s.encode(enc))
                except UnicodeEncodeError:
                    pass
        _text_re = re.compile(_alternation(texts))
        _bytes_re = re.compile(b"|".join(re.escape(b) for b in sorted(raw, key=lambda b: (-len(b), b))))


def secrets() -> frozenset[str]:
    """The registered secrets."""
    return frozenset(_secrets)


def redact(text: str) -> str:
    """``text`` with every registered secret (and its escaped forms) replaced by ``***``."""
    pattern = _text_re
    if pattern is None or not isinstance(text, str):
        return text
    return pattern.sub(MASK, text)


def redact_bytes(data: bytes) -> bytes:
    """``data`` with every registered secret (UTF-8 or Latin-1 encoded) replaced by ``***``."""
    pattern = _bytes_re
    if pattern is None:
        return data
    return pattern.sub(MASK.encode(), data)


def redact_data(obj: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples as lists, strings) with every
    string redacted, keys too; other values are returned as they are."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact_data(k): redact_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_data(v) for v in obj]
    return obj


def redact_exception(exc: BaseException | None) -> None:
    """Redact an exception in place, with its causes and contexts: string ``args``, a
    ``msg`` attribute (pytest outcomes), ``__notes__``. What ``str(exc)`` and
    ``traceback.format_exception_only`` print is then clean."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and _text_re is not None:
        seen.add(id(exc))
        try:
            exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
            if isinstance(getattr(exc, "msg", None), str):
                exc.msg = redact(exc.msg)
            notes = getattr(exc, "__notes__", None)
            if isinstance(notes, list):
                notes[:] = [redact(n) if isinstance(n, str) else n for n in notes]
        except (AttributeError, TypeError):
            pass   # an exception type with read-only attributes: its text stays as is
        exc = exc.__cause__ or exc.__context__


def scrub(obj: Any) -> Any:
    """Redact every string reachable from ``obj`` through lists, dicts, tuples and the
    attributes of dataclass instances (pytest's traceback reprs), in place where the
    container is mutable. Returns the redacted object (a new one for strings and
    tuples). Other objects are left alone."""
    if _text_re is None:
        return obj
    return _scrub(obj, set())


def _scrub(obj: Any, seen: set[int]) -> Any:
    if isinstance(obj, str):
        return redact(obj)
    if id(obj) in seen:
        return obj
    seen.add(id(obj))
    if isinstance(obj, list):
        obj[:] = [_scrub(v, seen) for v in obj]
    elif isinstance(obj, dict):
        for k, v in list(obj.items()):
            obj[k] = _scrub(v, seen)
    elif isinstance(obj, tuple):
        items = [_scrub(v, seen) for v in obj]
        if any(a is not b for a, b in zip(items, obj)):
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for k, v in list(vars(obj).items()):
            new = _scrub(v, seen)
            if new is not v:
                object.__setattr__(obj, k, new)   # frozen dataclasses refuse setattr
    return obj
