"""Quectel GSM fault kinds (see :mod:`atconform.emulator.faults` for the plan format), each
naming the chapter 6 procedure of the GSM TCPIP Application Note (seed 003) it exercises."""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from atconform.emulator.faults import _Fault


class SilentPeer(_Fault):
    """The peer never acknowledges: AT+QISACK reports every byte sent on a TCP connection
    as unacknowledged; the data still goes out. §6.1 L637: "If some sent data still wait for
    the acknowledgement from the remote end, the TCP connection MUST be abnormal. Then it is
    strongly recommended to re-establish the TCP connection." """

    kind: Literal["silent_peer"]


class HalfOpen(_Fault):
    """``at`` seconds after power-on the network drops every TCP connection without telling
    either end: no CLOSED, the stack still says CONNECT OK, sent data reaches nobody and
    stays unacknowledged. §6.1 L630: "the TCP connection may be disconnected by GSM network
    without any notification"; §6.2 detects it by AT+QISACK (L664)."""

    kind: Literal["half_open"]
    timing: ClassVar[str] = "timed"
    at: float = Field(ge=0.0)


class PdpDeact(_Fault):
    """``at`` seconds after power-on the network deactivates the foreground context:
    ``+PDP DEACT``, its connections close, the stack is in PDP DEACT until AT+QIDEACT
    (Figure 2 L126, §6.3 L681-686). In data mode the module leaves data mode first (L370)."""

    kind: Literal["pdp_deact"]
    timing: ClassVar[str] = "timed"
    at: float = Field(ge=0.0)
