"""Power control and port discovery: what "reboot" needs besides AT+QPOWD.

* :class:`EmulatorPower` switches the built-in emulator in-process.
* :class:`CommandPower` runs the lab's own commands from the IXIT (a relay, a
  switchable USB hub port such as ``uhubctl``).
* :class:`PortLocator` finds the AT port again after power-up, when USB re-enumeration
  may have given it another path: a stable path or a udev-style glob from the IXIT.
"""
from __future__ import annotations

import glob
import os
import shlex
import subprocess

from atconform.families.base import PowerSwitch


class PowerError(Exception):
    """A power command failed or timed out."""


class EmulatorPower(PowerSwitch):
    """Cuts and restores the emulator's power (``Emulator.power_off``/``power_on``)."""

    def __init__(self, emulator):
        self.emulator = emulator

    def off(self) -> None:
        self.emulator.power_off()

    def on(self) -> None:
        self.emulator.power_on()


class CommandPower(PowerSwitch):
    """Runs ``off``/``on`` shell command lines (no shell: split with shlex). Raises
    PowerError on a non-zero exit or after ``timeout`` seconds."""

    def __init__(self, off: str, on: str, timeout: float = 30.0):
        self.off_cmd, self.on_cmd, self.timeout = off, on, timeout

    def _run(self, line: str) -> None:
        try:
            r = subprocess.run(shlex.split(line), capture_output=True, text=True, timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise PowerError(f"{line!r}: {e}") from e
        if r.returncode != 0:
            raise PowerError(f"{line!r} exited {r.returncode}: {r.stderr.strip()[:200]}")

    def off(self) -> None:
        self._run(self.off_cmd)

    def on(self) -> None:
        self._run(self.on_cmd)


def lab_power_cycle(channel, family, power: PowerSwitch, locate, *, settle: float = 1.0) -> None:
    """The family-neutral lab reboot: cut the power, restore it ``settle`` s later, and
    reopen the port where ``locate`` finds it (within the spec's default maximum response
    time). Raises Inconclusive when the port does not come back. Families with their own
    power-down procedure (BG96: AT+QPOWD first) register theirs on the plug-in."""
    from atconform.verdicts import Inconclusive
    power.off()
    channel.clock.sleep(settle)
    power.on()
    if not channel.reopen(locate, family.timing.default_max_response_time):
        raise Inconclusive("after the power cycle the port did not come back")


class PortLocator:
    """Callable returning the AT port's current path, or None when it is not there.

    ``pattern`` is a path or a glob (``*``, ``?``, ``[...]``); several matches resolve
    to the first in sorted order, following symlinks (``/dev/serial/by-id``)."""

    def __init__(self, pattern: str):
        self.pattern = pattern

    def __call__(self) -> str | None:
        if not glob.has_magic(self.pattern):
            return self.pattern if os.path.exists(self.pattern) else None
        found = sorted(glob.glob(self.pattern))
        return found[0] if found else None
