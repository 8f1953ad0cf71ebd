"""Reboot back-off of BG96 Figure 1 note 3, from the spec's numbers.

    "When the module has been continuously rebooted for 3 times due to failed AT command
    execution, it can be rebooted immediately for the first time after that. If it still
    fails, reboot the module after 10 minutes for the second time, and reboot after 30
    minutes for the third time, one hour for the fourth time, etc."

Pure functions; times in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

from atconform.spec.models import Family


@dataclass(frozen=True)
class BackoffRule:
    free_reboots: int                 # reboots allowed before back-off starts (3)
    schedule: tuple[float, ...]       # delays of the 1st, 2nd ... reboot after those (0, 600, 1800, 3600)
    after: float                      # delay of every later reboot ("etc.": 3600)

    @classmethod
    def from_spec(cls, family: Family) -> "BackoffRule":
        """Raises KeyError when the spec lacks a rule."""
        return cls(int(family.rule("reboots_before_backoff").value),
                   tuple(float(x) for x in family.rule("reboot_backoff").value),
                   float(family.rule("reboot_backoff_after").value))

    def delay(self, consecutive: int) -> float:
        """Seconds to wait before reboot number ``consecutive`` (1-based) of an unbroken
        run of reboots for failed commands. Raises ValueError for consecutive < 1."""
        if consecutive < 1:
            raise ValueError("reboots are counted from 1")
        k = consecutive - self.free_reboots       # 1 = "the first time after that"
        if k <= 0:
            return 0.0
        return self.schedule[k - 1] if k <= len(self.schedule) else self.after
