"""Emulated Queclink GV500: the AT@ configuration protocol of seed 000 (AT@BSS2) on its
serial port, and its TCP connection to the backend servers (:mod:`.backend`).

Input (readings, seed 000 and issue 9 §2): a command runs from ``AT@`` (the Header,
L23-29) to ``$`` (the Tail, L99-105). A CR or LF before the ``$`` drops the command, as
does a new ``AT@`` (a unit whose console is line based); a command longer than
``Framing.max_line_length`` is dropped. Nothing is echoed.

Output: ``+ACK:BSS2,...$`` for a valid write (L7), ``+QRY:BSS2,...$`` with the configured
values for a valid query (L9). Both carry the unit id, the fields of unknown meaning
(8203, 3, 0; 1, 1), the command's ``<seq>``, the send time and a count that grows by one
per reply (wrapping at FFFF); values from :class:`.config.Gv500Config`.

Bad input: no reply at all to a wrong password, a malformed or out-of-range field, or a
missing ``$`` (issue 9 §2: real units stay silent, there is no NACK); the configuration
keeps its old values. ``bad_input_reply: nack`` in the configuration answers a refused
command with ``+NACK:BSS2,<id>,<seq>,<time>,<count>$`` instead, for the ICS declaration of
the same name (the NACK format is the emulator's own: the seed has none); a line dropped
before its ``$`` was never a command and gets no NACK either.

Planted defects (``Defects.behaviour``, one per behaviour the suite checks) are listed in
:data:`BEHAVIOUR_DEFECTS` and tested through :meth:`Gv500.defect`.
"""
from __future__ import annotations

import sys
import time
from typing import Any

from atconform.emulator.dce import Dce, Defects
from atconform.emulator.faults import FaultPlan
from atconform.emulator.runtime import Loop
from atconform.families.queclink_gv500.backend import BackendLink
from atconform.families.queclink_gv500.config import Gv500Config
from atconform.protocol.commands import Match, UnknownCommand, match_line
from atconform.spec.models import Family, FormKind

BEHAVIOUR_DEFECTS = {
    "seq-not-echoed": "the reply's <seq> is not the command's (L6-9)",
    "wrong-password-answered": "a command with a wrong password is answered and applied",
    "port-out-of-range-accepted": "a port outside 1-65535 is acknowledged (L71)",
    "lower-case-seq-accepted": "a <seq> with lower-case hex digits is acknowledged (L97)",
    "unterminated-accepted": "a command ended by CR/LF without its '$' tail is run (L99-105)",
    "bad-input-nacked": "bad input gets a +NACK reply instead of silence",
    "refused-write-stored": "a write refused for its password still stores its values",
    "query-stale": "+QRY reports the settings the unit booted with, not the ones written (L9)",
    "count-not-incrementing": "every reply carries the same <count>",
    "unit-id-wrong-length": "the replies carry a 14-digit unit id (L7, L9: 15 digits)",
    "send-time-invalid": "the send time is not a valid YYYYMMDDHHMMSS (month 13)",
    "mode1-stays-on-backup": "mode 1 reconnects to the backup first after it drops, like mode 0 (L127-129)",
    "mode0-returns-to-primary": "mode 0 tries the primary first after the backup drops, like mode 1 (L123-125)",
    "local-port-ignored": "'Server Port|Local Port' connects from an automatic port (L119)",
    "backup-never-tried": "when the primary fails the unit retries the primary only (L3)",
}

# faults applied to a command line before it runs (the generic kinds; see faults.py)
LINE_FAULTS = ("no_response", "delayed_final", "error_result")


class Gv500(Dce):
    """The unit. Runs on ``loop``'s thread; ``output`` writes to the DTE.

    ``config``: a :class:`Gv500Config` (or a dict of its fields); default: the file named
    by ``$ATCONFORM_GV500_CONFIG``, else the defaults. Other keyword arguments of the
    emulator front end (``dns_port``...) are accepted and ignored."""

    def __init__(self, family: Family, loop: Loop, output, defects: Defects | None = None, *,
                 faults: FaultPlan | None = None, power_hook=None,
                 config: Gv500Config | dict | None = None, **_ignored: Any):
        self.loop = loop
        super().__init__(family, output, loop.clock, defects)
        # one defects file serves a run of every family: names of other families' defects
        # are not ours to refuse, but are said once
        foreign = sorted(set(self.defects.behaviour) - set(BEHAVIOUR_DEFECTS))
        if foreign:
            sys.stderr.write(f"atconform emulator (queclink_gv500): ignoring behaviour defects {foreign}\n")
        if config is None:
            config = Gv500Config.from_env()
        self.config = config if isinstance(config, Gv500Config) else Gv500Config.model_validate(config)
        self.power_hook = power_hook
        self._auto_on = None
        self._delay_timer = None
        # wall time of the loop clock's zero, for the reply's send time
        self._wall0 = time.time() - loop.clock.now()
        self.count = self.config.count
        # AT@BSS2 settings (ip, port, mode) persist across power cycles, as a unit's flash does
        self.backup: tuple[str, str, int] = (self.config.backup_ip, self.config.backup_port, self.config.backup_mode)
        self.link = BackendLink(loop, self)
        self._in = bytearray()
        self._collecting = False
        self.replies: list[str] = []         # every reply sent, for self-tests
        self.refused: list[str] = []         # every command refused, with the reason
        self.set_faults(faults)
        self.power_on()

    def defect(self, name: str) -> bool:
        """True when behaviour defect ``name`` is planted: the one hook every planted
        defect goes through. Raises KeyError for a name not in :data:`BEHAVIOUR_DEFECTS`
        (a check that names no defect would never fail)."""
        if name not in BEHAVIOUR_DEFECTS:
            raise KeyError(f"GV500 emulator: defect {name!r} is not in BEHAVIOUR_DEFECTS")
        return name in self.defects.behaviour

    def configure(self, **changes: Any) -> None:
        """Change configuration fields at run time (``primary_host``, ``count``...);
        the count and the backup settings follow their fields when given. Raises
        pydantic.ValidationError for a bad value."""
        self.config = self.config.model_copy(update=changes)
        Gv500Config.model_validate(self.config.model_dump())
        if "count" in changes:
            self.count = self.config.count
        if {"backup_ip", "backup_port", "backup_mode"} & set(changes):
            self.backup = (self.config.backup_ip, self.config.backup_port, self.config.backup_mode)
        self.link.poke()

    # ---------------------------------------------------------------------- power
    @property
    def powered(self) -> bool:
        return self.mode != "off"

    def power_on(self) -> None:
        """Boot: input buffer cleared, the backend connection started (primary first).
        Settings and the count survive a power cycle."""
        if self.powered and self.boot_count:
            self.power_off()
        Loop.cancel(self._auto_on)
        self._auto_on = None
        self.dead = False
        self.boot_count += 1
        self.boot_time = self.clock.now()
        if self.power_hook is not None and self.boot_count > 1:
            self.power_hook("on")
        self.mode = "command"
        self._in.clear()
        self._collecting = False
        if self.fault_state is not None:
            self.fault_state.begin_boot(self.boot_count)
            self._arm_timed_faults()
        self.link.start()

    def power_off(self, discard: bool = False) -> None:
        """Power off: the backend connection dropped, no input taken, no output.
        ``discard``: output the DTE has not yet taken is lost too."""
        Loop.cancel(self._auto_on)
        Loop.cancel(self._delay_timer)
        self._auto_on = self._delay_timer = None
        self._cancel_fault_timers()
        self.link.stop()
        self.mode = "off"
        self._in.clear()
        self._collecting = False
        if discard and self.power_hook is not None:
            self.power_hook("lost")

    # ------------------------------------------------------------------- faults
    def call_later(self, delay: float, cb):
        return self.loop.call_later(delay, cb)

    def cancel_timer(self, handle) -> None:
        Loop.cancel(handle)

    def schedule_power_on(self, delay: float) -> None:
        self._auto_on = self.loop.call_later(delay, self.power_on)

    # ---------------------------------------------------------------------- input
    def receive(self, data: bytes) -> None:
        """Bytes from the DTE. Commands run from ``AT@`` to the terminator."""
        if self.mode == "off" or self.dead:
            return
        self._in += data
        self._guarded(lambda _: self._scan(), b"")

    def _scan(self) -> None:
        fr = self.fr
        head, tail = fr.prefix.encode("latin-1"), fr.terminator.encode("latin-1")
        buf = self._in
        while buf:
            if not self._collecting:
                k = buf.find(head)
                if k < 0:
                    # keep what may be the start of a header cut by the read
                    keep = max((n for n in range(1, len(head)) if buf.endswith(head[:n])), default=0)
                    del buf[:len(buf) - keep]
                    return
                del buf[:k]
                self._collecting = True
            # the command's end: its tail, a line separator, or the next header
            ends = [(buf.find(tail, len(head)), "tail"), (buf.find(b"\r", len(head)), "sep"),
                    (buf.find(b"\n", len(head)), "sep"), (buf.find(head, len(head)), "head")]
            ends = [(k, why) for k, why in ends if k >= 0]
            if not ends:
                if len(buf) > fr.max_line_length:
                    self._refuse(None, bytes(buf[:40]).decode("latin-1"), "longer than Framing.max_line_length",
                                 answer=False)
                    buf.clear()
                    self._collecting = False
                return
            k, why = min(ends)
            line = bytes(buf[:k]).decode("latin-1")
            del buf[:k + (len(tail) if why == "tail" else 0)]
            self._collecting = False
            if len(line) + len(tail) > fr.max_line_length:
                self._refuse(None, line[:40], "longer than Framing.max_line_length")
            elif why == "tail" or (why == "sep" and self.defect("unterminated-accepted")):
                self._command(line)
            else:
                # an abandoned line was never a command: dropped, under nack too
                self._refuse(None, line[:40], f"no {fr.terminator!r} tail before {why}", answer=False)

    # -------------------------------------------------------------------- commands
    def _command(self, line: str, faults: bool = True) -> None:
        body = line[len(self.fr.prefix):]
        try:
            m = match_line(self.family, body)
        except UnknownCommand:
            self._refuse(None, line, "unknown command")
            return
        # <password>,...,<seq> after "BSS2=" or "BSS2?" (seed 000 L6, L8)
        fields = body[len(m.command.name) + 1:].split(",")
        if not (m.ok or self._accepted_anyway(m)):
            self._refuse(m, line, "; ".join(m.problems))
            return
        if fields[0] != self.config.password and not self.defect("wrong-password-answered"):
            if m.form.kind is FormKind.write and self.defect("refused-write-stored"):
                self._store(fields)
            self._refuse(m, line, "wrong password")
            return
        if faults and self.fault_state is not None and self._line_fault(m, line, fields):
            return
        if m.form.kind is FormKind.write:
            self._store(fields)
            self._reply("+ACK", f"{','.join(self.config.header_fields)},,{self._seq(fields[-1])}")
        else:
            ip, port, mode = self.backup
            if self.defect("query-stale"):
                ip, port, mode = self.config.backup_ip, self.config.backup_port, self.config.backup_mode
            self._reply("+QRY", f"{','.join(self.config.header_fields)},{','.join(self.config.query_fields)},"
                                f",,{ip},{port},{mode},,,{self._seq(fields[-1])}")

    def _accepted_anyway(self, m: Match) -> bool:
        """A planted defect takes a line the spec refuses."""
        probs = " ".join(m.problems)
        if self.defect("port-out-of-range-accepted") and m.problems and all("<port>" in p for p in m.problems):
            return True
        if self.defect("lower-case-seq-accepted") and m.problems and all("<seq>" in p for p in m.problems):
            return "upper-case" in probs
        return False

    def _store(self, fields: list[str]) -> None:
        # write syntax: <password>,,,<ip>,<port>,<mode>,,,<seq> (seed 000 L6)
        try:
            self.backup = (fields[3], fields[4], int(fields[5]))
        except (IndexError, ValueError):
            pass
        self.link.poke()

    def _seq(self, seq: str) -> str:
        if self.defect("seq-not-echoed"):
            return f"{(int(seq, 16) + 1) & 0xFFFF:04X}" if seq.isalnum() else "0000"
        return seq

    def _line_fault(self, m: Match, line: str, fields: list[str]) -> bool:
        form = m.form.kind.value
        f = self.fault_state.command(LINE_FAULTS, m.command.name, m.command.key, form, self.boot_count)
        if f is None:
            return False
        name = f"{self.fr.prefix}{m.command.name} ({form})"
        if f.kind == "no_response":
            self.fault_fired(f.kind, f"{name}: swallowed, no reply")
            return True
        if f.kind == "error_result":
            self.fault_fired(f.kind, f"{name}: +NACK instead of running")
            self._reply("+NACK", self._seq(fields[-1]))
            return True
        self.fault_fired(f.kind, f"{name}: reply held back {f.delay:g} s")
        held = bytearray()
        sink, self._sink = self._sink, held.extend
        try:
            self._command(line, faults=False)
        finally:
            self._sink = sink
        self._delay_timer = self.loop.call_later(f.delay, lambda: self.output(bytes(held)))
        return True

    def recover_from_handler_error(self) -> None:
        super().recover_from_handler_error()
        self._in.clear()
        self._collecting = False

    def _refuse(self, m: Match | None, line: str, why: str, answer: bool = True) -> None:
        """Bad input: silence (issue 9 §2), or a +NACK when so configured or planted
        (``answer`` False: a line that never ended is dropped without one)."""
        self.refused.append(f"{line[:60]}: {why}")
        if answer and (self.config.bad_input_reply == "nack" or self.defect("bad-input-nacked")):
            seq = line.rsplit(",", 1)[-1] if "," in line else ""
            self._reply("+NACK", seq if len(seq) == 4 else "")

    # ---------------------------------------------------------------------- replies
    def send_time(self) -> str:
        """YYYYMMDDHHMMSS (UTC) of the reply, or the configured fixed value."""
        if self.defect("send-time-invalid"):
            return "20211307101530"
        if self.config.send_time is not None:
            return self.config.send_time
        return time.strftime("%Y%m%d%H%M%S", time.gmtime(self._wall0 + self.clock.now()))

    def _reply(self, word: str, middle: str) -> None:
        uid = self.config.unit_id[:14] if self.defect("unit-id-wrong-length") else self.config.unit_id
        text = f"{word}:BSS2,{uid},{middle},{self.send_time()},{self.count:04X}{self.fr.terminator}"
        if not self.defect("count-not-incrementing"):
            self.count = (self.count + 1) & 0xFFFF
        self.replies.append(text)
        c = self.config
        self.output((c.reply_prefix + text + c.reply_suffix).encode("latin-1"))
