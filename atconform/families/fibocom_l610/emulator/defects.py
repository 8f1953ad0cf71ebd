"""Planted behaviour defects of the emulated L610, for self-tests that prove the suite
fails a bad modem (``Defects.behaviour`` names them; ``tests/test_l610_defects.py`` runs
the purpose each one must fail).

:data:`BEHAVIOUR_DEFECTS` is the one list; the emulator asks only through
``L610.defect(name)`` with the name as a string literal, which the package checks
against the list when it is imported (as the BG96 emulator does).
"""
from __future__ import annotations

from pathlib import Path

from atconform.families.bg96.emulator.defects import defect_calls

# name -> the behaviour it breaks, with the manual's section and line
BEHAVIOUR_DEFECTS: dict[str, str] = {
    "freesize-off-by-one": "+MIPSEND <freesize> one byte more than 2048 minus the buffered bytes (§1.1.6, L474)",
    "no-watermark-push": "the accumulating buffer is not pushed when it reaches the MIPSETS <size> (§1.1.4, L327)",
    "timeout-not-restarted": "new data does not restart the MIPSETS <timeout> countdown (§1.1.4, L329)",
    "left-wrong": "+MIPRTCP <left> counts the chunk itself too (§1.1.10, L622)",
    "xon-never-sent": "no +MIPXON after +MIPXOFF once the data has drained (§1.1.20, L1127)",
    "mipdata-missing": "no +MIPDATA for data arriving in pseudo-command mode (§1.1.24, L1272)",
    "wrong-error-table": "TCP/IP refusals come as +CMS ERROR: <2000-series code>, a CME-side table's code (§2.3)",
    "mipsets-accepted-with-data": "AT+MIPSETS is taken while the accumulating buffer holds data (§1.1.4, L335)",
    "hex-extra-bytes-kept": "HEX-mode fixed-length input keeps the bytes after <data_len> (§1.2.3, L1398)",
    "mipcall-line-missing": "AT+MIPCALL answers OK but no +MIPCALL line follows (§1.1.1, L106)",
    "ping-average-without-reply": "+MPINGSTAT prints <AverageRTT> 0 when no reply came (§1.1.15, L898)",
    "msdns-id-only-keeps": "AT+MSDNS=<socket_id> alone leaves the servers set (§1.1.16, L947)",
    "iprfmt2-encoded": "AT+GTSET=\"IPRFMT\",2 data comes hex-encoded, not raw (§1.2.4, L1470)",
    "sendtime-ignored": "HEX-mode input is not ended by the AT+GTSET=\"SENDTIME\" timer (§1.2.2, L1345)",
    "keepalive-ignored": "AT+MIPKEEPCONF is answered OK but the sockets get no TCP keep-alive (§1.1.13)",
    "mipconf-lost-on-link-down": "AT+MIPCONF values go back to the defaults when the link goes down (§1.1.12, L665)",
}


class UnknownDefect(ValueError):
    """A ``defect(...)`` call names a defect :data:`BEHAVIOUR_DEFECTS` does not list."""


def check_defect_calls() -> None:
    """Raises :class:`UnknownDefect` listing every ``defect(...)`` call in this package
    whose name is not a string literal of :data:`BEHAVIOUR_DEFECTS`."""
    bad = [f"{file}:{line}: " + ("not a string literal" if name is None else f"{name!r} not listed")
           for file, line, name in defect_calls(Path(__file__).parent) if name not in BEHAVIOUR_DEFECTS]
    if bad:
        raise UnknownDefect("L610 emulator: " + "; ".join(bad))
