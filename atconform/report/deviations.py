"""Deviation kinds: what sort of thing a failing purpose's reason says went wrong.

The compliance report tags each ``fail``/``fail (waived)`` purpose with one kind, and the
pytest plugin gives the allure result a ``deviation`` label with the same value, so the
Allure categories and the compliance HTML group failures alike. Classification is by the
reason's words (the checkers' messages, :mod:`atconform.protocol.engine` problems); the
first matching kind wins.
"""
from __future__ import annotations

import re

__all__ = ["DEVIATION_KINDS", "deviation_kind"]

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ICS mismatch", re.compile(r"^ICS |\bICS\b.*declares")),
    ("undeclared URC", re.compile(r"unknown URC|undeclared URC|URC .* does not match|URC .*: <|DCE output monitor", re.I)),
    ("missing final result", re.compile(r"no final result code|no reply|no '>'|stopped answering", re.I)),
    ("malformed response", re.compile(r"unparseable|matches no response|missing information text|framing|"
                                      r"appeared \d+ times|free text|stage result code", re.I)),
    ("range", re.compile(r"reported as|outside|out of range|is not one of|not in the set|range|"
                         r"expected an error result|was accepted with|<\w+> is ", re.I)),
    ("wrong result code", re.compile(r"expected .*\bgot\b|\bgot .*, expected|, expected (SEND OK|CONNECT|OK|NO CARRIER)")),
    ("timing", re.compile(r"within [0-9.]+ ?(s|ms|seconds|minutes)|maximum response time|late|guard|"
                          r"before <\w+>|after [0-9.]+ s", re.I)),
    ("data integrity", re.compile(r"bytes|differ|echo|payload|counters|received|read back|integrity|datagram", re.I)),
)

#: Every kind, in classification order, then the catch-all.
DEVIATION_KINDS: tuple[str, ...] = tuple(k for k, _ in _RULES) + ("other deviation",)


def deviation_kind(reason: str) -> str:
    """The kind of deviation ``reason`` (a fail verdict's reason) describes: one of
    :data:`DEVIATION_KINDS`. Never raises."""
    text = str(reason or "")
    for kind, rx in _RULES:
        if rx.search(text):
            return kind
    return "other deviation"
