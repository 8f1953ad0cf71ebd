"""BG96 TCP/IP error codes (manual chapter 4, "Summary of Error Codes"), named after
the manual's texts.

AT+QIGETERROR (§2.1.17) reports the last one as ``<err>, <description>``; ``+QIOPEN``,
``+QIURC: "dnsgip"``, ``+QPING`` and ``+QNTP`` carry one as ``<err>``. The names are the
manual's meanings upper-cased; ``specs/bg96.yaml`` holds the same table (``error_codes``),
and a self-test checks the two agree.
"""
from __future__ import annotations

from enum import IntEnum


class Err(IntEnum):
    """Chapter 4's ``<err>`` codes 550-574 (0, "operation successful", is no error)."""

    UNKNOWN_ERROR = 550
    OPERATION_BLOCKED = 551
    INVALID_PARAMETERS = 552
    MEMORY_NOT_ENOUGH = 553
    CREATE_SOCKET_FAILED = 554
    OPERATION_NOT_SUPPORTED = 555
    SOCKET_BIND_FAILED = 556
    SOCKET_LISTEN_FAILED = 557
    SOCKET_WRITE_FAILED = 558
    SOCKET_READ_FAILED = 559
    SOCKET_ACCEPT_FAILED = 560
    OPEN_PDP_CONTEXT_FAILED = 561
    CLOSE_PDP_CONTEXT_FAILED = 562
    SOCKET_IDENTITY_HAS_BEEN_USED = 563
    DNS_BUSY = 564
    DNS_PARSE_FAILED = 565
    SOCKET_CONNECT_FAILED = 566
    SOCKET_HAS_BEEN_CLOSED = 567
    OPERATION_BUSY = 568
    OPERATION_TIMEOUT = 569
    PDP_CONTEXT_BROKEN_DOWN = 570
    CANCEL_SEND = 571
    OPERATION_NOT_ALLOWED = 572
    APN_NOT_CONFIGURED = 573
    PORT_BUSY = 574

    @property
    def text(self) -> str:
        """The manual's meaning, e.g. ``"Invalid parameters"`` for 552."""
        words = [_ACRONYMS.get(w, w) for w in self.name.lower().split("_")]
        return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


_ACRONYMS = {"pdp": "PDP", "dns": "DNS", "apn": "APN"}

SUCCESS = 0    # <err> 0: "Operation successful"
