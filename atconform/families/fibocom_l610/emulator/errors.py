"""The TCP/IP error codes of seed 004 §2.3 (2000-2033) by name, and which refusal the
emulated L610 reports with which.

The seed lists the codes (L1735-1775) but neither how they reach the DTE nor which
command gives which. Readings (specs/fibocom_l610.yaml, error_tables notes): they come as
``+CME ERROR: <err>`` under AT+CMEE=1 (the table's text under AT+CMEE=2, plain ERROR
under AT+CMEE=0); the code each refusal gives is chosen here, by the table's wording.
"""
from __future__ import annotations

from enum import IntEnum


class Err(IntEnum):
    """§2.3 codes the emulator gives (the table's texts, its spelling kept)."""

    PARAM_WRONG = 2000                  # "TCPIP Param wrong": a line the spec rejects
    DNS_FAIL = 2002                     # "TCPIP dns convert to ip fail"
    SOCKET_NUMBER_LIMITED = 2003        # a second online-data-mode socket (004 L1021)
    INVALID_OPERATION = 2004            # refused in this state (ping busy, no ping to abort)
    PROTOCOL_ERROR = 2005               # "TCPIP protol error": SSL, which the emulator lacks
    SEND_DATA_TOO_LONG = 2006           # more than the accumulating buffer's free space
    SOCKET_CONNECT_FAIL = 2012
    SOCKET_USED = 2017                  # AT+MIPOPEN on a socket id already open
    SOCKET_NOT_OPENED = 2024
    PING_ERROR = 2029
    MIPCALL_NOT_ACTIVE = 2031           # a TCP/IP command while the AT+MIPCALL link is down


# the result code that carries them (reading, see the module docstring)
CARRIER = "+CME ERROR: "
