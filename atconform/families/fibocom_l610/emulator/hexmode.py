"""HEX-mode AT+MIPSEND (seed 004 §1.2.1-1.2.3): the ``>`` prompt, hex digits typed after
it, ended by Ctrl-Z (§1.2.1), by the AT+GTSET="SENDTIME" timer (§1.2.2, 12 s by default,
counted from the prompt) or by <data_len> bytes (§1.2.3: "The redundant data will be
lost"). The data goes into the accumulating buffer and is pushed at once; the answer is
two-staged: OK, "+MIPPUSH: <id>,<status>" (TCP only), "+MIPSEND: <id>,<status>,<freesize>", OK.

Readings (spec notes): the input is hex digits in all three variants, two a byte; CR, LF
and spaces between them are ignored; any other character makes the send fail (ERROR).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from atconform.emulator.dce import S4_WAIT
from atconform.emulator.runtime import Loop
from atconform.protocol.commands import Match

from .errors import Err
from .sockets import BUFFER_SIZE, Socket

CTRL_Z = 0x1A
HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
IGNORED = frozenset(b"\r\n ")


@dataclass
class HexInput:
    """What is typed after the prompt: ``digits`` so far; ``length`` the bytes §1.2.3
    waits for (None: up to Ctrl-Z or the timer); ``bad`` a character that is no hex digit."""

    socket: Socket
    length: int | None
    digits: bytearray = field(default_factory=bytearray)
    bad: bool = False
    timer: list | None = None

    def feed(self, data: bytes) -> tuple[int, bool]:
        """Take input; (bytes of ``data`` used, whether the input is complete)."""
        for i, b in enumerate(data):
            if self.length is None and b == CTRL_Z:
                return i + 1, True
            if b in IGNORED:
                continue
            if b not in HEX_DIGITS:
                self.bad = True
            elif len(self.digits) < 2 * BUFFER_SIZE:     # 0 <= buffer <= 2048 bytes (L1298)
                self.digits.append(b)
            if self.length is not None and len(self.digits) >= 2 * self.length:
                return i + 1, True
        return len(data), False


class HexModeCommands:
    """The HEX-mode variants of AT+MIPSEND (a mixin of :class:`~.modem.L610`)."""

    hexin: HexInput | None = None

    def hex_prompt(self, m: Match) -> None:
        s = self._open_socket(m.values["socket_id"])
        if s is None:
            return
        length = m.values.get("data_len")
        self.hexin = HexInput(s, length)
        self.mode = "prompt"
        self.prompt()
        if length == 0:
            # nothing to wait for: done once the prompt is out (it may wait for the line's S4)
            h = self.hexin
            self.loop.call_later(S4_WAIT + 0.1, lambda: self._hex_done() if self.hexin is h else None)
            return
        if not self.defect("sendtime-ignored"):
            self.hexin.timer = self.loop.call_later(self.persist["SENDTIME"], self._hex_timeout)

    def prompt_input(self, data: bytes) -> None:
        h = self.hexin
        used, done = h.feed(data)
        if done:
            rest = data[used:]
            if rest and h.length is not None:
                if self.defect("hex-extra-bytes-kept"):
                    h.digits += bytes(b for b in rest if b in HEX_DIGITS)
                rest = b""             # §1.2.3: "The redundant data will be lost."
            self._hex_done()
            if rest:
                self.receive(rest)

    def _hex_timeout(self) -> None:
        if self.hexin is not None and self.mode == "prompt":
            self._hex_done()

    def _hex_done(self) -> None:
        """The input is complete: OK, the data into the buffer and pushed, then the push
        and send lines and the final OK."""
        h, self.hexin = self.hexin, None
        Loop.cancel(h.timer)
        self.mode = "command"
        s = h.socket
        if h.bad or len(h.digits) % 2 or not self.sockets.holds(s):
            self.fail(Err.PARAM_WRONG if self.sockets.holds(s) else Err.SOCKET_NOT_OPENED)
            return
        data = bytes.fromhex(h.digits.decode())
        self.stage_result("OK")
        if s.xoff:
            status = 1                     # flowed off: the input is not taken
        else:
            s.acc += data[:s.free]         # what does not fit the 2048-byte buffer is lost
            status = 0 if s.acc else 2
            if s.acc:
                payload = bytes(s.acc)
                s.acc.clear()
                Loop.cancel(s.push_timer)
                s.push_timer = None
                self.push(s, payload)
        if not s.udp:                      # "(Depends on TCP Protocol)" L1312
            self.info(f"+MIPPUSH: {s.sid},{status}")
        self.info(f"+MIPSEND: {s.sid},{status},{self.freesize(s)}")
        self.ok()

    def recover_from_handler_error(self) -> None:
        super().recover_from_handler_error()
        if self.hexin is not None:
            Loop.cancel(self.hexin.timer)
        self.hexin = None
