"""Quectel GSM modules (M95 era): the AT+QI* TCP/IP stack of the GSM TCPIP Application
Note, seed 003.

Dialect: the session (:mod:`.session`: settings, stack and connection steps, the socket
service); the emulator (:mod:`.emulator`: the stack of Figures 3-4 behind real loopback
sockets); fault kinds (:mod:`.faults`). The module settings (AT+QIMUX, AT+QIMODE,
AT+QIHEAD ...) that change framing are the spec's ``settings:``, which the generic engine
follows itself: no engine hooks.
"""
from atconform.families.base import FamilyPlugin

PLUGIN = FamilyPlugin(
    model="quectel_gsm",
    session="atconform.families.quectel_gsm.session:GsmSession",
    emulator="atconform.families.quectel_gsm.emulator:Gsm",
    fault_kinds=tuple(f"atconform.families.quectel_gsm.faults:{k}" for k in ("SilentPeer", "HalfOpen", "PdpDeact")),
)
