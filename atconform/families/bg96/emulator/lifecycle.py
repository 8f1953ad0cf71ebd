"""Power, runtime faults and error bookkeeping of the BG96 emulator.

Power: boot (``RDY``) resets every part's state; AT+QPOWD (§2.1 of the BG96 AT
manual, ``POWERED DOWN``) and power loss stop input and output.

Faults (:mod:`atconform.emulator.faults`, BG96 kinds in
:mod:`atconform.families.bg96.faults`) belong to the module, not to its state: they
survive power cycles. Command-line faults are applied by :class:`Dce`; the SIM,
registration, acknowledgement and QIOPEN ones by the parts that answer those commands;
the timed ones (pdpdeact, dead, reboot) here.

Errors: a TCP/IP command leaves its <err> (chapter 4, :class:`~.errors.Err`) for
AT+QIGETERROR (§2.1.17); a successful one clears it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from atconform.emulator.faults import FaultPlan
from atconform.emulator.runtime import Loop
from atconform.protocol.commands import Match

from .errors import SUCCESS, Err

RESET_DOWN = 0.3     # seconds an AT+CFUN=1,1 reset keeps the module off


@dataclass
class ErrorBook:
    """The <err> AT+QIGETERROR reports: 0 (success) or a chapter 4 code, 550-574 (a
    fault plan may set another)."""

    last: int = SUCCESS

    def clear(self) -> None:
        self.last = SUCCESS


@dataclass
class PowerState:
    """Timers that outlive a boot: the power-on of a spontaneous reboot, the boot URCs
    of a reset (Loop handles). The timed faults' timers are the generic DCE's."""

    auto_on: list | None = None
    boot_urcs: list[list] = field(default_factory=list)     # URCs of a reboot still to come


class Lifecycle:
    """Power on/off, fault timers and conditions, and ERROR/OK with <err> bookkeeping
    (a mixin of :class:`~.modem.Bg96`)."""

    power: PowerState
    errors: ErrorBook
    fault_plan: FaultPlan | None

    # ---------------------------------------------------------------------- power
    @property
    def powered(self) -> bool:
        return self.mode != "off"

    def power_on(self, announce: bool = True) -> None:
        """Boot: every setting and all state back to defaults, ``RDY`` to the DTE. The
        boot counter goes up; the faults of this boot are drawn and their timers set."""
        if self.powered and len(self.sockets):
            self.power_off()
        self.cancel_timer(self.power.auto_on)
        self.power.auto_on = None
        self._cancel_fault_timers()
        self._cancel_boot_urcs()
        self._drop_hold()
        self.dead = False
        self.boot_count += 1
        self.boot_time = self.clock.now()
        self.load_profile()             # V.250 §6.1.1: the stored profile (AT&W), else factory
        if self.power_hook is not None and self.boot_count > 1:
            self.power_hook("on")
        self.mode = "command"
        self.busy = False
        self._queued = []
        self.reset_line()
        self._fresh_state()
        if self.fault_state is not None:
            self.fault_state.begin_boot(self.boot_count)
            self._arm_timed_faults()
        if announce:
            self.urc("RDY")

    def restart(self, boot_urcs: list[tuple[float, str]]) -> None:
        """A reset (AT+CFUN=1,1): power off now, on again after :data:`RESET_DOWN` s,
        then each (delay s after power-on, text) URC: RDY ... APP RDY, on the loop's
        clock."""
        self.power_off()

        def up() -> None:
            self.power_on(announce=False)
            for delay, text in boot_urcs:
                self.power.boot_urcs.append(self.loop.call_later(delay, lambda t=text: self.urc(t)))

        self.power.auto_on = self.loop.call_later(RESET_DOWN, up)

    def _cancel_boot_urcs(self) -> None:
        for h in self.power.boot_urcs:
            Loop.cancel(h)
        self.power.boot_urcs = []

    def power_off(self, discard: bool = False) -> None:
        """Power off: sockets dropped, no input taken, no output. ``discard``: power loss,
        output the DTE has not yet taken is lost too (AT+QPOWD's own output is not)."""
        self.cancel_timer(self.power.auto_on)
        self.power.auto_on = None
        self._cancel_fault_timers()
        self._cancel_boot_urcs()
        self._drop_hold()
        for s in list(self.sockets):
            self._drop_socket(s)
        self._leave_data_mode()
        self.mode = "off"
        self.busy = False
        self._queued = []
        self.reset_line()
        if discard and self.power_hook is not None:
            self.power_hook("lost")

    def cmd_QPOWD_execute(self, m: Match) -> None:
        self._power_down()

    def cmd_QPOWD_write(self, m: Match) -> None:
        self._power_down()

    def _power_down(self) -> None:
        self.ok()
        self.urc("POWERED DOWN")
        self.power_off()

    # ------------------------------------------------------------------- faults
    def call_later(self, delay: float, cb):
        return self.loop.call_later(delay, cb)

    def cancel_timer(self, handle) -> None:
        Loop.cancel(handle)

    def family_timed_fault(self, f) -> None:
        if f.kind == "pdpdeact":
            was = self.contexts[f.cid].active
            self.fault_fired(f.kind, f"network deactivates context {f.cid}" if was
                             else f"context {f.cid} not active: nothing to deactivate")
            self.network_deactivate(f.cid)

    def schedule_power_on(self, delay: float) -> None:
        self.power.auto_on = self.loop.call_later(delay, self.power_on)

    def _condition(self, kind: str, pred=None):
        """The fault of ``kind`` in force now (optionally the first one ``pred``
        accepts), or None."""
        if self.fault_state is None:
            return None
        return self.fault_state.condition(kind, self.clock.now() - self.boot_time, pred)

    def fault_error(self, m: Match, cme: int | None) -> None:
        # a TCP/IP command also leaves its <err> for AT+QIGETERROR (§2.1.17)
        if m.command.tcpip:
            self.errors.last = cme if cme is not None and self.family.error_text(cme) else Err.UNKNOWN_ERROR
        self.error(cme)

    # ---------------------------------------------------------------- error handling
    def recover_from_handler_error(self) -> None:
        super().recover_from_handler_error()
        self.data.prompt = None

    def invalid(self, m: Match | None) -> None:
        # §3.9: a malformed command gets ERROR and AT+QIGETERROR then says 552
        if m is None or m.command.tcpip:
            self.errors.last = Err.INVALID_PARAMETERS
        self.error()

    def fail(self, code: int) -> None:
        """ERROR for a TCP/IP command, remembering ``code`` (chapter 4) for
        AT+QIGETERROR (§2.1.17)."""
        self.errors.last = code
        self.error()

    def unsupported(self, m: Match) -> None:
        self.fail(Err.OPERATION_NOT_SUPPORTED)

    def succeed(self, text: str = "OK") -> None:
        """``text`` as the final result; a TCP/IP command's success clears <err>."""
        if self.current is not None and self.current.command.tcpip:
            self.errors.clear()
        self.final(text)

    def cmd_QIGETERROR_execute(self, m: Match) -> None:
        code = self.errors.last
        if code == Err.INVALID_PARAMETERS and self.defect("qigeterror-wrong"):
            code = Err.MEMORY_NOT_ENOUGH
        text = self.family.error_text(code) or "Unknown error"
        # example §3.9 prints "552, invalid parameters": comma, space, lower case
        self.info(f"+QIGETERROR: {int(code)}, {text.lower()}")
        self.final("OK")

    def cmd_QIGETERROR_test(self, m: Match) -> None:
        self.final("OK")
