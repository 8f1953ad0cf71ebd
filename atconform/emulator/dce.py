"""A spec-driven V.250 DCE: command-line assembly, echo, result-code formatting, and
dispatch of each matched command to a handler of the family module.

What it accepts comes from the same spec the harness checks against: a line that no
variant of the spec matches gets ERROR here. Handlers are methods named
``cmd_<KEY>_<form>`` (``cmd_QIOPEN_write``); a test form without a handler is answered
from the spec's test-response templates.

Command-line handling follows ITU-T V.250 (clauses cited where applied): a line starts
at ``AT`` and ends at S3 (§5.2.1); what arrives between S3 and the next ``AT`` (the S4
a host sends after S3 included) belongs to no command and is neither executed, echoed
nor taken as ``>`` payload; ``A/`` repeats the last line (§5.2.4); S3, S4, S5 are
S-parameters (§6.2.1-6.2.3, ``ATS3?``, ``ATS3=<n>``); ATQ1 suppresses result codes
(§6.2.5); ATE1 echoes the characters of command lines (§6.2.4).

Runtime faults (:mod:`atconform.emulator.faults`) that match command lines are applied
here, between matching a line and running its handler; the family module applies the
rest.
"""
from __future__ import annotations

import re
import sys
import traceback
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field

from atconform.emulator.faults import FaultEvent, FaultState, kinds_of
from atconform.protocol.commands import Match, UnknownCommand, match_line, response_templates
from atconform.spec.models import Family, FormKind


class Defects(BaseModel):
    """Planted defects, for self-tests that prove the suite fails a bad modem.

    ``test_ranges``: command -> parameter -> the supported-values text to print instead
    of the spec's (``{"+QIOPEN": {"connectID": "(0-12)"}}``).
    ``drop_final_ok``: commands whose final ``OK`` is never sent.
    ``urc_after``: command -> a URC line sent right after its final result code.
    ``accept_invalid``: commands that answer OK to a line the spec rejects.
    ``reject_valid``: commands that answer ERROR to every write the spec accepts.
    ``behaviour``: named behaviour defects of the family module (``BEHAVIOUR_DEFECTS``
    in ``atconform.families.bg96.emulator`` lists them), one per checked behaviour.
    """

    model_config = ConfigDict(extra="forbid")
    test_ranges: dict[str, dict[str, str]] = Field(default_factory=dict)
    drop_final_ok: list[str] = Field(default_factory=list)
    urc_after: dict[str, str] = Field(default_factory=dict)
    accept_invalid: list[str] = Field(default_factory=list)
    reject_valid: list[str] = Field(default_factory=list)
    behaviour: list[str] = Field(default_factory=list)




# seconds a ``>`` prompt waits for the S4 of its command line before it goes out anyway:
# from a DTE that ended its last line with S3 S4 (its S4 may come in a later write), and
# from any other DTE (one that sends S3 alone pays only this)
S4_WAIT = 0.5
S4_GRACE = 0.0


class Dce:
    """Generic DCE. ``output`` receives bytes for the DTE; ``clock`` gives seconds.

    Nothing goes out while the DCE is off (``mode`` "off") or ``dead`` (a fault); while a
    delayed final result code is held, output collects behind it.

    Command-line state (V.250 §5.2.1): ``_line`` holds the line being typed, from its
    ``AT``; outside a line (``_in_line`` False) characters are discarded until ``AT`` or
    ``A/``. ``_last_line`` is what ``A/`` repeats (§5.2.4)."""

    def __init__(self, family: Family, output: Callable[[bytes], None], clock, defects: Defects | None = None):
        self.family = family
        self.fr = family.framing
        self._sink = output
        self.clock = clock
        self.defects = defects or Defects()
        # faults: the family module sets fault_state and counts boots
        self.fault_state: FaultState | None = None
        self.fault_plan = None
        self._fault_timers: list = []            # timer handles of this boot's timed faults
        self.fault_log: list[FaultEvent] = []
        self.on_fault: Callable[[FaultEvent], None] | None = None
        self.boot_count = 0
        self.boot_time = clock.now()
        self.dead = False
        self._hold: bytearray | None = None      # output held behind a delayed final
        self._hold_timer = None
        self._final_delay: float | None = None   # delay for the current command's final
        self._line = bytearray()
        self._in_line = False           # between "AT" and S3 (V.250 §5.2.1)
        self._got_a = False             # an "A" outside a line: "AT" or "A/" may follow
        self._last_line: bytes | None = None   # for A/ (V.250 §5.2.4)
        self._after_s3 = False          # the last input byte was the S3 ending a line
        self._dte_sends_s4 = False      # this DTE followed its last S3 with S4
        self._prompt_held = False       # a ">" waits for the S4 of its command line
        self._prompt_timer = None
        self._overflow = False          # the command line outgrew Framing.max_line_length
        self.handler_errors: list[BaseException] = []   # exceptions our handlers raised
        self.mode = "command"           # command | prompt | data | off
        self.busy = False               # a command awaits its (deferred) final result
        self._queued: list[bytes] = []
        self.current: Match | None = None
        self.reset_settings()

    def reset_settings(self) -> None:
        """Settings back to their defaults (power-on, ATZ, AT&F): E, V, Q, +CMEE and the
        S-parameters S3, S4, S5 (V.250 §6.2.1-6.2.3: 13, 10, 8 unless the spec's
        framing says otherwise)."""
        self.echo = self.fr.echo_default
        self.verbose = self.fr.verbose_default
        self.quiet = False              # ATQ1: no result codes (V.250 §6.2.5)
        self.cmee = 0
        self.sregs = {3: ord(self.fr.s3), 4: ord(self.fr.s4), 5: 0x08}

    @property
    def s3(self) -> int:
        """S3, the command line termination character (V.250 §6.2.1)."""
        return self.sregs[3]

    @property
    def s4(self) -> int:
        """S4, the response formatting character (V.250 §6.2.2)."""
        return self.sregs[4]

    def reset_line(self) -> None:
        """Forget the command line being typed and a held prompt (power-on, power-off)."""
        self._line.clear()
        self._in_line = self._got_a = self._after_s3 = self._overflow = False
        self._prompt_held = False
        self.cancel_timer(self._prompt_timer)
        self._prompt_timer = None

    # -- input ----------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        """Bytes from the DTE, in any chunking. In command state they are assembled into
        command lines (V.250 §5.2.1); after a ``>`` prompt they go to
        :meth:`prompt_input`, in online data state to :meth:`data_input`."""
        if self.mode == "off" or self.dead or not data:
            return
        if self._prompt_held:
            # the prompt waited for the rest of its command line: an S4 right after S3
            # belongs to the line (V.250 §5.2.1); anything else is the payload of a DTE
            # that did not wait for ">"
            if data[0] == self.s4:
                data = data[1:]
            self._after_s3 = False
            self._release_prompt()
            if not data:
                return
        if self.mode in ("data", "prompt"):
            self._after_s3 = False      # what follows S3 here is payload, not a line's S4
        if self.mode == "data":
            self._guarded(self.data_input, data)
            return
        if self.mode == "prompt":
            self._guarded(self.prompt_input, data)
            return
        for i, b in enumerate(data):
            if self.mode != "command":
                # a command switched mode mid-chunk (">" prompt): the rest is payload
                self.receive(data[i:])
                return
            after_s3, self._after_s3 = self._after_s3, False
            if after_s3:
                self._dte_sends_s4 = b == self.s4
            if not self._in_line:
                self._between_lines(b)
            else:
                self._in_command_line(b)

    def _between_lines(self, b: int) -> None:
        # V.250 §5.2.1: characters before the prefix "AT" (or "A/", §5.2.4) are not part
        # of a command line: not echoed, not executed
        if b in (0x41, 0x61):                         # A / a
            self._got_a = True
            if self.echo:
                self.output(bytes([b]))
            return
        if self._got_a and b in (0x54, 0x74):         # T / t: a command line starts
            self._got_a = False
            self._in_line = True
            self._line[:] = b"AT"
            if self.echo:
                self.output(bytes([b]))
            return
        if self._got_a and b == 0x2F:                 # "/": repeat the last line now
            self._got_a = False
            if self.echo:
                self.output(b"/")
            if self._last_line is not None:
                self._line_done(self._last_line)
            return
        self._got_a = False

    def _in_command_line(self, b: int) -> None:
        if self.echo:
            self.output(bytes([b]))       # V.250 §6.2.4: echo the line as it is typed
        if b == self.s3:
            line = bytes(self._line)
            self._line.clear()
            self._in_line = False
            self._after_s3 = True
            if self._overflow:
                # V.250 §5.2.1: a body longer than the DCE accepts gets ERROR once the
                # line is terminated; an empty marker line stands for it in the queue
                self._overflow = False
                line = _OVERFLOW
            self._line_done(line)
        elif b == self.sregs[5]:
            # V.250 §6.2.3: S5 deletes the last character; the prefix "AT" stays
            if len(self._line) > 2:
                del self._line[-1:]
        elif len(self._line) >= self.fr.max_line_length:
            self._overflow = True
            self._line[:] = b"AT"         # bounded memory: the line is lost anyway
        elif not self._overflow:
            self._line.append(b)

    def _line_done(self, line: bytes) -> None:
        if line is not _OVERFLOW:
            self._last_line = line
        if self.busy or self._hold is not None:
            self._queued.append(line)
        else:
            self.execute_line(line)

    def data_input(self, data: bytes) -> None:   # transparent mode: family module
        pass

    def prompt_input(self, data: bytes) -> None:  # payload after ">": family module
        pass

    # -- output ---------------------------------------------------------------------
    def output(self, data: bytes) -> None:
        """Bytes to the DTE: none while off or dead; behind a held final while one is."""
        if self.mode == "off" or self.dead or not data:
            return
        if self._hold is not None:
            self._hold += data
            return
        self._sink(data)

    @property
    def _eol(self) -> bytes:
        """S3 S4, the header and trailer of responses (V.250 §5.7.1, §6.2.1-6.2.2)."""
        return bytes([self.s3, self.s4])

    def _frame(self, text: str) -> bytes:
        if self.verbose:
            return self._eol + text.encode("latin-1") + self._eol
        return text.encode("latin-1") + self._eol

    def info(self, text: str, payload: bytes | None = None) -> None:
        self.output(self._frame(text) + (payload or b""))

    def info_block(self, lines: list[str]) -> None:
        """One information text of several lines (V.250 §5.7.1): one header, the lines
        separated by S3 S4, one trailer (ATI)."""
        self.output(self._frame((self._eol.decode("latin-1")).join(lines)))

    def urc(self, text: str, payload: bytes | None = None) -> None:
        # URCs always use the verbose frame so the DTE can find their start
        self.output(b"\r\n" + text.encode("latin-1") + b"\r\n" + (payload or b""))

    def final(self, text: str) -> None:
        """Send a final result code and end the current command."""
        cmd = self.current.command.name if self.current else None
        self.busy = False
        self.current = None
        delay, self._final_delay = self._final_delay, None
        if delay is not None and self._hold is None:
            # delayed_final fault: this result code and everything after it wait
            self._hold = bytearray()
            self._hold_timer = self.call_later(delay, self._release_hold)
        if self.quiet:
            pass                    # V.250 §6.2.5: ATQ1, result codes are not transmitted
        elif not (text == "OK" and cmd in self.defects.drop_final_ok):
            if self.verbose:
                self.output(self._eol + text.encode("latin-1") + self._eol)
            else:
                rc = self.family.result_code(text)
                if rc is not None and rc.numeric is not None:
                    self.output(f"{rc.numeric}".encode() + bytes([self.s3]))
                else:
                    self.output(text.encode("latin-1") + self._eol)
        if cmd in self.defects.urc_after:
            self.urc(self.defects.urc_after[cmd])
        if self._hold is None:      # a held final keeps the DCE busy until it is out
            self._run_queued()

    def _release_hold(self) -> None:
        data, self._hold, self._hold_timer = self._hold, None, None
        if data:
            self.output(data)
        self._run_queued()

    def _drop_hold(self) -> None:
        """Forget held output and any pending delay (power loss)."""
        self.cancel_timer(self._hold_timer)
        self._hold = self._hold_timer = self._final_delay = None

    def ok(self) -> None:
        self.final("OK")

    def error(self, cme: int | None = None) -> None:
        """ERROR, or ``+CME ERROR: <n>`` when AT+CMEE is 1 (numeric) or 2 (verbose)."""
        if cme is not None and self.cmee == 1:
            self.final(f"+CME ERROR: {cme}")
        elif cme is not None and self.cmee == 2:
            self.final(f"+CME ERROR: {CME_TEXT.get(cme, cme)}")
        else:
            self.final("ERROR")

    def prompt(self) -> None:
        """Send the ``>`` prompt once the command line is complete: after the S4 that
        follows its S3, or when none came within :data:`S4_GRACE` s (:data:`S4_WAIT` s
        for a DTE that ended its last line with S3 S4). That S4 is never taken as
        payload (V.250 §5.2.1: it belongs to no command)."""
        if self._after_s3 and self.s4_ends_line():
            self._prompt_held = True
            self._prompt_timer = self.call_later(S4_WAIT if self._dte_sends_s4 else S4_GRACE,
                                                 self._release_prompt)
            return
        self.output(self._eol + self.fr.prompt.encode())

    def match_settings(self) -> dict | None:
        """The module settings (``Family.settings``) in force, which select the variant a
        line is read by (GSM AT+QISEND=<n>: a length or an index); None: none kept."""
        return None

    def s4_ends_line(self) -> bool:
        """Whether an S4 right after S3 belongs to the command line (V.250 §5.2.1); a
        family plants its defect here."""
        return True

    def _release_prompt(self) -> None:
        if not self._prompt_held:
            return
        self._prompt_held = False
        self.cancel_timer(self._prompt_timer)
        self._prompt_timer = None
        if self.mode == "prompt":
            self.output(self._eol + self.fr.prompt.encode())

    def _run_queued(self) -> None:
        while self._queued and not self.busy and self._hold is None and self.mode == "command":
            self.execute_line(self._queued.pop(0))

    # -- dispatch -------------------------------------------------------------------
    def execute_line(self, raw: bytes) -> None:
        """Run one command line. A handler that raises (a bug of the emulator, met by
        input nobody foresaw) answers like an invalid line (ERROR; BG96: 552 for
        AT+QIGETERROR), its traceback goes to stderr once, and the DCE takes the next
        line: one bad line must not hang the modem for the rest of the run."""
        self._guarded(self._execute_line, raw)

    def _guarded(self, fn: Callable[[bytes], None], data: bytes) -> None:
        try:
            fn(data)
        except Exception as e:
            self.handler_errors.append(e)
            sys.stderr.write(f"atconform emulator: handler error on {bytes(data[:80])!r}\n")
            traceback.print_exc(file=sys.stderr)
            m, pending = self.current, self.busy or self.current is not None
            self.recover_from_handler_error()
            if pending:
                self.invalid(m)
            else:
                self.busy = False
                self.current = None

    def recover_from_handler_error(self) -> None:
        """Leave the state a raising handler may have left half-made (a ``>`` prompt
        opened, a delay armed). Families extend this for their own state."""
        self._final_delay = None
        self._prompt_held = False
        if self.mode == "prompt":
            self.mode = "command"

    def _execute_line(self, raw: bytes) -> None:
        self._final_delay = None     # a delay is for the final of the line that armed it
        if raw is _OVERFLOW:
            self.current = None
            self.invalid(None)
            return
        text = raw.decode("latin-1").strip()
        if not text:
            return
        if text[:2].upper() != self.fr.prefix.upper():
            return  # V.250 §5.2.1: characters before "AT" are ignored; no AT, no answer
        body = text[2:]
        sm = _SPARAM.fullmatch(body)
        if sm:
            self._s_parameter(int(sm.group(1)), sm.group(2) or "=", sm.group(3) or "")
            return
        try:
            m = match_line(self.family, body, self.match_settings())
        except UnknownCommand:
            self.current = None
            self.invalid(None)
            return
        self.current = m
        self.busy = True
        if not m.ok:
            if m.command.name in self.defects.accept_invalid:
                self.ok()
                return
            self.invalid(m)
            return
        if self.fault_state is not None and self.line_fault(m):
            return
        if m.form.kind is FormKind.write and m.command.name in self.defects.reject_valid:
            self.error()
            return
        handler = getattr(self, f"cmd_{_ident(m.command.key)}_{m.form.kind.value}", None)
        if handler is None and m.form.kind is FormKind.test:
            self.answer_test(m)
            return
        if handler is None:
            self.unsupported(m)
            return
        handler(m)

    # -- faults ---------------------------------------------------------------------
    def call_later(self, delay: float, cb: Callable[[], None]):
        """A timer on the DCE's clock: ``cb`` after ``delay`` seconds (the family module
        has the event loop)."""
        raise NotImplementedError

    def cancel_timer(self, handle) -> None:
        raise NotImplementedError

    def set_faults(self, plan) -> None:
        """Run ``plan`` (:class:`~atconform.emulator.faults.FaultPlan`) from now on: fresh
        generator and counters; None: no faults. Timed faults are armed for the current
        boot, relative to its power-on; one whose time has passed fires at once. Raises
        ValueError for a kind or a command the family lacks."""
        if plan is not None:
            plan.check(self.family)
        self._cancel_fault_timers()
        self.fault_plan = plan
        self.fault_state = FaultState(plan) if plan is not None else None
        if self.fault_state is not None and self.powered and self.boot_count:
            self.fault_state.begin_boot(self.boot_count)
            self._arm_timed_faults()

    def _arm_timed_faults(self) -> None:
        elapsed = self.clock.now() - self.boot_time
        for f in self.fault_state.on:
            if f.timing == "timed":
                self._fault_timers.append(self.call_later(max(0.0, f.at - elapsed), lambda f=f: self._timed_fault(f)))

    def _cancel_fault_timers(self) -> None:
        for h in self._fault_timers:
            self.cancel_timer(h)
        self._fault_timers = []

    def _timed_fault(self, f) -> None:
        """A timed fault's moment has come. The generic kinds: ``dead`` (no input taken,
        no output, until power-cycled) and ``reboot`` (power lost, on again ``down`` s
        later); a family's own timed kinds go to :meth:`family_timed_fault`."""
        if not self.powered:
            return
        if f.kind == "dead":
            self.fault_fired(f.kind, "hangs: no input taken, no output, until power-cycled")
            self.dead = True
        elif f.kind == "reboot":
            self.fault_fired(f.kind, f"spontaneous reboot: power off, on again after {f.down:g} s")
            self.power_off(discard=True)
            self.schedule_power_on(f.down)
        else:
            self.family_timed_fault(f)

    def family_timed_fault(self, f) -> None:
        raise NotImplementedError(f"no handler for timed fault {f.kind!r}")

    def schedule_power_on(self, delay: float) -> None:
        """Power on again ``delay`` seconds from now (the end of a spontaneous reboot)."""
        raise NotImplementedError

    def fault_fired(self, kind: str, what: str) -> None:
        ev = FaultEvent(self.clock.now(), kind, what)
        self.fault_log.append(ev)
        if self.on_fault is not None:
            self.on_fault(ev)

    def line_fault(self, m: Match) -> bool:
        """Apply a command-line fault to an accepted line; True when it took the line.
        Only lines the spec accepts are matched: a malformed line keeps its ERROR."""
        form = m.form.kind.value
        # faults applied to a command line before its handler runs (timing "line")
        f = self.fault_state.command(kinds_of("line"), m.command.name, m.command.key, form, self.boot_count)
        if f is None:
            return False
        name = f"{m.command.at_name} ({form})"
        if f.swallows:
            self.fault_fired(f.kind, f"{name}: swallowed, no response")
            self.current = None
            self.busy = False
            return True
        if f.kind == "error_result":
            self.fault_fired(f.kind, f"{name}: error instead of running (cme {f.cme})")
            self.fault_error(m, f.cme)
            return True
        self.fault_fired(f.kind, f"{name}: final result code held back {f.delay:g} s")
        self._final_delay = f.delay
        return False

    def fault_error(self, m: Match, cme: int | None) -> None:
        """The error_result fault's answer."""
        self.error(cme)

    def invalid(self, m: Match | None) -> None:
        """A line the spec does not accept: wrong syntax, type or range."""
        self.error()

    def unsupported(self, m: Match) -> None:
        self.error()

    def answer_test(self, m: Match) -> None:
        """Test command: the spec's test-response lines with supported-value lists."""
        override = self.defects.test_ranges.get(m.command.name, {})
        for tpl in response_templates(m.command, m.form, m.variant):
            self.info(tpl.render(dict(override)))
        self.ok()

    # -- basic commands every V.250 DCE has ------------------------------------------
    def _s_parameter(self, n: int, op: str, value: str) -> None:
        """``ATS<n>?`` reads S-parameter n as three digits, ``ATS<n>=<v>`` sets it
        (V.250 §5.3.2, §6.2.1-6.2.3: S3, S4, S5, each 0-127). A new S3/S4 frames the
        result code of the very line that set it (§6.2.1). Others: ERROR."""
        if n not in self.sregs:
            self.error()
        elif op == "?":
            self.info(f"{self.sregs[n]:03d}")
            self.ok()
        elif value.isdigit() and int(value) <= 127:
            self.sregs[n] = int(value)
            self.ok()
        elif value == "":
            self.sregs[n] = {3: 13, 4: 10, 5: 8}[n]    # §5.3.1: an omitted value is the default
            self.ok()
        else:
            self.error()

    def cmd_Q_write(self, m: Match) -> None:
        """ATQ<n> (V.250 §6.2.5): 0 result codes transmitted, 1 suppressed. The OK of
        ATQ1 itself is suppressed too."""
        self.quiet = bool(m.values.get("value", 0))
        self.ok()

    def cmd_AT_execute(self, m: Match) -> None:
        self.ok()

    def cmd_E_write(self, m: Match) -> None:
        self.echo = bool(m.values.get("value", 0))
        self.ok()

    def cmd_V_write(self, m: Match) -> None:
        self.verbose = bool(m.values.get("value", 0))
        self.ok()

    def cmd_CMEE_write(self, m: Match) -> None:
        self.cmee = m.values.get("n", 0)
        self.ok()

    def cmd_CMEE_read(self, m: Match) -> None:
        self.info(f"+CMEE: {self.cmee}")
        self.ok()


_OVERFLOW = b"<command line longer than Framing.max_line_length>"   # identity-compared
_SPARAM = re.compile(r"[Ss]([0-9]+)(?:(\?)|=([0-9]*))")   # ATS3? / ATS3=13 (V.250 §5.3.2)


def _ident(key: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in key)


# 3GPP TS 27.007 §9.2.1 texts for the codes the emulator uses
CME_TEXT = {3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
            13: "SIM failure", 14: "SIM busy", 30: "no network service", 100: "unknown"}
