"""BG96 framing state the sans-I/O engine follows (BG96 TCP/IP AT Commands Manual, seed 002).

* §2.1.15 ``AT+QICFG="dataformat",<send>,<recv>``: with ``<recv>`` 1 an announced
  payload of n bytes arrives as 2n hex digits.
* §2.1.4 / §2.1.10 direct push mode (``<access_mode>`` 1): only a push socket's
  ``+QIURC: "recv",<id>,<len>`` carries payload; the same line without payload is buffer
  access mode with ``recvind`` on (§2.1.15).
"""
from __future__ import annotations

from atconform.families.base import EngineHooks
from atconform.spec.models import Urc


class Bg96EngineHooks(EngineHooks):
    def __init__(self, family):
        super().__init__(family)
        self.push_sockets: set[int] = set()     # connectIDs in direct push mode

    def urc_payload(self, urc: Urc, values: dict) -> int | None:
        if urc.payload is None:
            return None
        if urc.name == "recv-push" and values.get("connectID") not in self.push_sockets:
            return None
        n = values.get(urc.payload.length_field)
        return n * self.framer.payload_scale if isinstance(n, int) else None

    def command_sent(self, m) -> None:
        if not m.ok or m.form.kind.value != "write":
            return
        name, v = m.command.name, m.values
        if name == "+QICFG" and "recv_data_format" in v:
            self.framer.payload_scale = 2 if v["recv_data_format"] == 1 else 1
        if name in ("+QIOPEN", "+QISWTMD") and "connectID" in v:
            (self.push_sockets.add if v.get("access_mode") == 1 else self.push_sockets.discard)(v["connectID"])
