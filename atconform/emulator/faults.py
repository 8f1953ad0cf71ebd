"""Fault injection: runtime conditions a conformant host must survive, declared in YAML,
seeded and reproducible.

Faults are not :class:`~atconform.emulator.dce.Defects`. A defect is permanent
non-conformance planted to prove the suite fails a bad modem; a fault is something a
good modem on a real network does now and then (no answer to AT+QIACT, a SIM that is
slow to come up, a dropped PDP context, a module that hangs) and that BG96 Figure 1 tells
the host how to recover from. Each kind names the Figure 1 rule it exercises.

A plan::

    seed: 7
    faults:
      - {kind: qiact_hang, times: 1}           # BG96: first AT+QIACT=<cid> never answers
      - {kind: sim_not_ready, seconds: 5, boots: 1}
      - {kind: reboot, at: 30, down: 5, probability: 0.5}

Common fields: ``boots`` (the fault applies only during the first N power-on cycles; 1 is
the boot at emulator start, so ``boots: 1`` is "clears after a reboot"; None: every boot)
and ``probability`` (per matching event, drawn from the one ``random.Random(seed)`` of the
plan's run, so a run is reproducible).

What the "matching event" is:

Kinds: the generic ones here (no_response, delayed_final, error_result, dead, reboot)
and each family's own, registered on its plug-in (BG96: ``atconform.families.bg96.faults``).

* command faults (no_response, delayed_final, error_result; BG96 qiact_hang, qiopen_urc):
  every command line the spec accepts for that command (and form). ``skip`` lets the
  first N through, ``times`` limits how often the fault fires (counted across boots),
  then it is spent. In plan order, the first fault that fires takes the command; faults
  after it do not see that command.
* condition and timed faults (sim_not_ready, registration_searching, no_ack, pdpdeact,
  dead, reboot): the power-on. Whether the fault is on for a boot is drawn once, at boot,
  in plan order.

Only probabilities strictly between 0 and 1 draw from the generator, so adding a
certain fault to a plan does not change the draws of the others.

A :class:`FaultPlan` is configuration only; the emulator runs it through a
:class:`FaultState` (generator, counters), which it keeps across power cycles. Giving
the same plan to two emulators gives both the same run.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated, ClassVar, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator

FormName = Literal["test", "read", "write", "execute"]


class _Fault(BaseModel):
    """A fault kind. ``timing`` says when it is matched: "line" (an accepted command
    line, before its handler: the DCE applies it), "command" (in the family's handler),
    "boot" (a condition drawn at power-on), "timed" (a timer armed at power-on).
    ``swallows``: a line fault that takes the line without any answer."""

    model_config = ConfigDict(extra="forbid")
    timing: ClassVar[str] = "boot"
    swallows: ClassVar[bool] = False
    boots: int | None = Field(None, ge=1)
    probability: float = Field(1.0, ge=0.0, le=1.0)

    def in_boot(self, boot: int) -> bool:
        return self.boots is None or boot <= self.boots


class _Counted(_Fault):
    """A fault that fires on matching command lines, ``skip`` and ``times`` applying."""

    timing: ClassVar[str] = "line"

    times: int | None = Field(None, ge=0)
    skip: int = Field(0, ge=0)
    command: ClassVar[str]
    form: ClassVar[FormName | None]

    def matches(self, name: str, key: str, form: str) -> bool:
        want = self.command.upper()
        return ((want == name.upper() or want.lstrip("+") == key.upper())
                and (self.form is None or self.form == form))


class _CommandFault(_Counted):
    # "+QIACT", "+CPIN", "E", "AT" (the bare AT command); names as in specs/<model>.yaml
    command: str                                   # type: ignore[misc]
    form: FormName | None = None                   # type: ignore[misc]


class NoResponse(_CommandFault):
    """The command line is swallowed: no information text, no final result code; the
    modem takes the next line as usual. Figure 1 note 1: "You can reboot the module if
    the module fails to get response in 60s." (and the per-command timeouts)."""

    kind: Literal["no_response"]
    swallows: ClassVar[bool] = True


class DelayedFinal(_CommandFault):
    """The command runs, but its final result code and all output after it (URCs too)
    are held back ``delay`` seconds; information text sent before the final goes out at
    once. The modem stays busy meanwhile (later lines wait). Figure 1 note 1: a response
    within the command's maximum response time is not a failure; "60s" is the bound."""

    kind: Literal["delayed_final"]
    delay: float = Field(ge=0.0)


class ErrorResult(_CommandFault):
    """``ERROR`` (``+CME ERROR: <cme>`` under AT+CMEE=1/2) instead of running the command;
    a TCP/IP command also sets AT+QIGETERROR's <err> (``cme`` when it is a TCP/IP error
    code, else 550). Figure 1: "If failed to deactivate the PDP context for 3 times
    continuously, then reboot the module." (AT+QIDEACT, cme 562) and the AT+QIACT failure
    path (cme 561)."""

    kind: Literal["error_result"]
    cme: int | None = Field(None, ge=0)


class Dead(_Fault):
    """From ``at`` seconds after power-on the module ignores all input and sends nothing
    until it is power-cycled. Figure 1 note 1: "You can reboot the module if the module
    fails to get response in 60s." """

    kind: Literal["dead"]
    timing: ClassVar[str] = "timed"
    at: float = Field(0.0, ge=0.0)


class Reboot(_Fault):
    """``at`` seconds after power-on the module reboots by itself: power off (sockets
    gone, output stops, unsent output lost), ``down`` seconds later power on (all state
    reset, ``RDY``). Figure 1: "Power on the module" ... the host must notice the ``RDY``
    and start again from AT (the boot sequence of the figure)."""

    kind: Literal["reboot"]
    timing: ClassVar[str] = "timed"
    at: float = Field(ge=0.0)
    down: float = Field(5.0, ge=0.0)


GENERIC_KINDS: tuple[type[_Fault], ...] = (NoResponse, DelayedFinal, ErrorResult, Dead, Reboot)


def _kind(cls: type[_Fault]) -> str:
    return cls.model_fields["kind"].annotation.__args__[0]


def fault_kinds(model: str | None = None) -> dict[str, type[_Fault]]:
    """kind -> model: the generic kinds plus those of ``model``'s plug-in (every
    registered family's when None), so one plan format serves all families."""
    from atconform import families
    kinds = {_kind(c): c for c in GENERIC_KINDS}
    for m in [model] if model else families.models():
        for c in families.get(m).fault_models():
            kinds[_kind(c)] = c
    return kinds


def kinds_of(timing: str) -> tuple[str, ...]:
    """Every known kind matched at ``timing`` ("line", "command", "boot", "timed")."""
    return tuple(k for k, c in fault_kinds().items() if c.timing == timing
                 or (timing == "boot" and c.timing == "timed"))


class FaultPlan(BaseModel):
    """A seeded list of faults (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    faults: list[SerializeAsAny[_Fault]] = Field(default_factory=list)

    @field_validator("faults", mode="before")
    @classmethod
    def _typed(cls, raw):
        # validated by "kind" against every registered family's kinds (check() then
        # refuses kinds the emulated family does not have)
        if not isinstance(raw, list):
            return raw
        kinds = fault_kinds()
        out = []
        for i, f in enumerate(raw):
            if isinstance(f, _Fault):
                out.append(f)
                continue
            kind = f.get("kind") if isinstance(f, dict) else None
            if kind not in kinds:
                raise ValueError(f"faults[{i}]: unknown kind {kind!r} (known: {', '.join(sorted(kinds))})")
            try:
                out.append(kinds[kind].model_validate(f))
            except ValidationError as e:     # keep the fault's index in the message
                why = "; ".join(f"faults[{i}].{'.'.join(map(str, x['loc']))} ({kind}): {x['msg']}"
                                for x in e.errors())
                raise ValueError(why) from None
        return out

    @classmethod
    def load(cls, path: str | Path) -> FaultPlan:
        """Read a YAML plan. Raises OSError, yaml.YAMLError or pydantic's
        ValidationError (a ValueError)."""
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        return cls.model_validate(data if data is not None else {})

    def check(self, family) -> None:
        """Raise ValueError when a command fault names a command (or form) the family's
        spec does not have."""
        own = fault_kinds(family.model)
        for i, f in enumerate(self.faults):
            if f.kind not in own:
                raise ValueError(f"faults[{i}]: {f.kind!r} is not a fault kind of {family.model}")
            if not isinstance(f, _CommandFault):
                continue
            try:
                cmd = family.command(f.command.upper())
            except KeyError:
                raise ValueError(f"faults[{i}] ({f.kind}): {family.model} has no command {f.command!r}") from None
            if f.form is not None and cmd.form(f.form) is None:
                raise ValueError(f"faults[{i}] ({f.kind}): {cmd.at_name} has no {f.form} form")


class FaultEvent(NamedTuple):
    """One firing of a fault: the emulator clock's time, the kind, what happened."""

    time: float
    kind: str
    what: str


class FaultState:
    """One run of a plan: the seeded generator and the per-fault counters."""

    def __init__(self, plan: FaultPlan):
        self.plan = plan
        self.rng = random.Random(plan.seed)
        n = len(plan.faults)
        self._seen = [0] * n        # matching command lines, within the boots window
        self._fired = [0] * n
        self._on: list[int] = []    # boot faults drawn on for the current boot

    def _draw(self, f: _Fault) -> bool:
        p = f.probability
        if p >= 1.0:
            return True
        if p <= 0.0:
            return False
        return self.rng.random() < p

    def command(self, kinds: tuple[str, ...], name: str, key: str, form: str, boot: int) -> _Counted | None:
        """The fault that takes this command line, if any (counts and draws)."""
        for i, f in enumerate(self.plan.faults):
            if f.kind not in kinds or not f.in_boot(boot) or not f.matches(name, key, form):
                continue
            if f.times is not None and self._fired[i] >= f.times:
                continue                                   # spent
            self._seen[i] += 1
            if self._seen[i] <= f.skip or not self._draw(f):
                continue
            self._fired[i] += 1
            return f
        return None

    def begin_boot(self, boot: int) -> list[_Fault]:
        """Draw the condition and timed faults for power-on number ``boot``; returns the
        ones that are on, in plan order."""
        self._on = [i for i, f in enumerate(self.plan.faults)
                    if f.timing in ("boot", "timed") and f.in_boot(boot) and self._draw(f)]
        return [self.plan.faults[i] for i in self._on]

    @property
    def on(self) -> list[_Fault]:
        """The condition and timed faults on in the current boot."""
        return [self.plan.faults[i] for i in self._on]

    def condition(self, kind: str, elapsed: float, pred=None) -> _Fault | None:
        """The first fault of ``kind`` on in this boot whose ``seconds`` (if any) have not
        yet passed ``elapsed`` seconds after power-on and that satisfies ``pred``."""
        for i in self._on:
            f = self.plan.faults[i]
            if f.kind != kind:
                continue
            seconds = getattr(f, "seconds", None)
            if seconds is not None and elapsed >= seconds:
                continue
            if pred is None or pred(f):
                return f
        return None
