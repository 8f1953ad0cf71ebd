"""Conformance verdicts (ISO/IEC 9646 / TTCN-3 terms) and the exceptions that set them.

* pass: the test purpose was met;
* fail: the modem deviates from the spec (:class:`Deviation`, any AssertionError, or an
  exception whose ``verdict_in_call`` is "fail", such as no final result code within the
  maximum response time);
* inconclusive: the precondition could not be reached (:class:`Inconclusive`), e.g. no
  network;
* error: the harness itself broke (any other exception, a lost port among them);
* not applicable: the ICS says the feature is absent (:class:`NotApplicable`; to pytest a
  skip whose reason starts with ``not applicable:``);
* skipped: not run in this configuration (e.g. emulator-only with ``--port``), reason given.

The exceptions are plain: library code catches them with ``except Exception``. The pytest
plugin (``fixtures/reporting.py``) maps them to pytest outcomes: Inconclusive becomes a
skip whose reason starts with ``inconclusive:``.
"""
from __future__ import annotations

VERDICTS = ("pass", "fail", "inconclusive", "error", "not applicable", "skipped")


class Deviation(Exception):
    """The modem's behaviour deviates from the spec: verdict fail."""

    verdict_in_call = "fail"


class Inconclusive(Exception):
    """A precondition could not be established: verdict inconclusive."""

    verdict_in_call = "inconclusive"


class NotApplicable(Exception):
    """The ICS declares the feature a purpose tests absent: verdict not applicable."""

    verdict_in_call = "not applicable"


def verdict_of(exc: BaseException | None, when: str, *, skipped: bool = False) -> str:
    """The verdict for an exception raised in pytest phase ``when`` (setup/call/teardown).
    ``skipped``: pytest reported the phase as skipped (a skip marker or ``pytest.skip``)."""
    if exc is None:
        return "skipped" if skipped else "pass"
    if isinstance(exc, Inconclusive) or str(exc).startswith("inconclusive:"):
        return "inconclusive"
    if isinstance(exc, NotApplicable) or str(exc).startswith("not applicable:"):
        return "not applicable"
    if skipped:
        return "skipped"
    if isinstance(exc, AssertionError) and when == "call":
        return "fail"
    if getattr(exc, "verdict_in_call", None) == "fail" and when == "call":
        return "fail"
    return "error"
