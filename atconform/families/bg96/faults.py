"""BG96 fault kinds (see :mod:`atconform.emulator.faults` for the plan format), each
naming the Figure 1 rule it exercises (BG96 TCP/IP AT Commands Manual §1.1)."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from atconform.emulator.faults import FormName, _Counted, _Fault

RegCommand = Literal["+CREG", "+CGREG", "+CEREG"]


class QiactHang(_Counted):
    """AT+QIACT=<contextID> never answers (a no_response on +QIACT write). Figure 1:
    "Reboot the module if there is no response for AT+QIACT in 150s." """

    kind: Literal["qiact_hang"]
    swallows: ClassVar[bool] = True
    command: ClassVar[str] = "+QIACT"
    form: ClassVar[FormName | None] = "write"


class QiopenUrc(_Counted):
    """AT+QIOPEN answers as usual but the connection fails with ``err`` in
    ``+QIOPEN: <connectID>,<err>`` (transparent mode: ``ERROR``); with ``err`` None no
    URC ever comes and the socket stays Opening (transparent mode: no final result code,
    but the modem takes the next line). Figure 1: "If failed to get response of AT+QIOPEN
    in 150s, then close connection." and "If failed to open connection for 5 times
    continuously, deactivate the PDP context first, and then re-activate the PDP context
    and open connection again." """

    kind: Literal["qiopen_urc"]
    timing: ClassVar[str] = "command"
    command: ClassVar[str] = "+QIOPEN"
    form: ClassVar[FormName | None] = "write"
    err: int | None = Field(None, ge=1, le=574)


class SimNotReady(_Fault):
    """For ``seconds`` after power-on AT+CPIN? answers ``+CME ERROR: 14`` (SIM busy).

    reading: 27.007 §8.3 has no +CPIN code for "not yet initialised"; a module still
    reading its (U)SIM refuses the query, and §9.2.1 code 14 "SIM busy" is what modules
    report then (plain ``ERROR`` under AT+CMEE=0). Figure 1: "If failed to identify (U)SIM
    card in 20s, then reboot the module." """

    kind: Literal["sim_not_ready"]
    seconds: float = Field(ge=0.0)


class RegistrationSearching(_Fault):
    """The read form of ``commands`` reports <stat> 2 (not registered, searching) for
    ``seconds`` after power-on (None: all boot long). Figure 1: "If failed to register on
    CS domain service in 90s, then reboot the module." and "Query PS service in 60s by
    AT+CGREG?/AT+CEREG? ... Go to next step no matter whether it is registered on PS
    domain service or not in 60s." """

    kind: Literal["registration_searching"]
    commands: list[RegCommand] = Field(default_factory=lambda: ["+CREG", "+CGREG", "+CEREG"])
    seconds: float | None = Field(None, ge=0.0)


class NoAck(_Fault):
    """The peer never acknowledges: AT+QISEND=<connectID>,0 reports every sent byte as
    unacked (``connect_ids`` None: every TCP socket). The data is still sent. Figure 1:
    "If the package is still not acknowledged after two minutes (query every 5 seconds,
    24 times in total), the TCP connection may be abnormal." """

    kind: Literal["no_ack"]
    connect_ids: list[Annotated[int, Field(ge=0, le=11)]] | None = None


class Pdpdeact(_Fault):
    """The network deactivates context ``cid`` ``at`` seconds after power-on:
    ``+QIURC: "pdpdeact",<cid>``, its sockets close (§2.2.5). Figure 1: on "pdpdeact",
    "deactivate the PDP context first, and then re-activate" (AT+QIDEACT, AT+QIACT)."""

    kind: Literal["pdpdeact"]
    timing: ClassVar[str] = "timed"
    at: float = Field(ge=0.0)
    cid: int = Field(1, ge=1, le=16)
