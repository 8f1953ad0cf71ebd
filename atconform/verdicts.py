"""Conformance verdicts (ISO/IEC 9646 / TTCN-3 terms) and the exceptions that set them.

* pass: the test purpose was met;
* fail: the modem deviates from the spec (``Deviation``, any AssertionError, or no final
  result code within the maximum response time);
* inconclusive: the precondition could not be reached (``Inconclusive``), e.g. no network;
* error: the harness itself broke (any other exception);
* not applicable: the ICS says the feature is absent;
* skipped: not run in this configuration (e.g. emulator-only with ``--port``), reason given.
"""
from __future__ import annotations

import pytest

VERDICTS = ("pass", "fail", "inconclusive", "error", "not applicable", "skipped")


class Deviation(AssertionError):
    """The modem's behaviour deviates from the spec: verdict fail."""


class Inconclusive(pytest.skip.Exception):
    """A precondition could not be established: verdict inconclusive. pytest shows it
    as a skip whose reason starts with ``inconclusive:``; the report says inconclusive."""

    def __init__(self, msg: str):
        super().__init__(msg=f"inconclusive: {msg}")


def verdict_of(exc: BaseException | None, when: str) -> str:
    """The verdict for an exception raised in pytest phase ``when`` (setup/call/teardown)."""
    if exc is None:
        return "pass"
    if isinstance(exc, Inconclusive):
        return "inconclusive"
    if isinstance(exc, pytest.skip.Exception):
        return "skipped"
    if isinstance(exc, AssertionError) and when == "call":
        return "fail"
    from atconform.transport.channel import NoFinalResult
    if isinstance(exc, NoFinalResult) and when == "call":
        return "fail"
    return "error"
