"""What a family plug-in is, and the small capability protocols generic layers use.

Capabilities (protocols, as labgrid's ``protocol/`` beside its ``driver/``):

* :class:`SocketService`: open a socket and wait until it is open, send, read, close,
  query the state. The suites, the case generator and the host policy use it; each
  family implements it with its own commands (BG96: AT+QIOPEN and ``+QIOPEN``).
* :class:`PowerSwitch`: cut and restore the modem's power (``atconform.power``).
* the clock: :class:`atconform.clock.Clock`, a complete abstract base.

A family implements the ones it has. Nothing here names a family or a command.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

if TYPE_CHECKING:
    from atconform.protocol.framer import Framer
    from atconform.spec.models import Family, Urc


@runtime_checkable
class SocketService(Protocol):
    """Sockets through the modem's TCP/IP stack, by the family's own commands.

    ``open`` returns once the modem says the socket is open, raising
    :class:`~atconform.verdicts.Inconclusive` when it cannot be opened and
    :class:`~atconform.verdicts.Deviation` when the answer breaks the spec. Sizes are
    bytes, times seconds."""

    def open(self, cnid: int, service: str, host: str, port: int, *, local_port: int = 0,
             mode: int = 0) -> None: ...

    def send(self, cnid: int, data: bytes) -> None: ...

    def read(self, cnid: int, n: int) -> bytes: ...

    def close(self, cnid: int) -> None: ...

    def state(self, cnid: int) -> str | None: ...


@runtime_checkable
class PowerSwitch(Protocol):
    """Cuts and restores a modem's power (an emulator in process, a relay, a USB hub),
    like labgrid's PowerProtocol."""

    def off(self) -> None: ...

    def on(self) -> None: ...


class EngineHooks:
    """Per-link protocol state a family adds to the sans-I/O engine (default: none).

    ``urc_payload(urc, values)`` says how many payload bytes follow a URC line (None:
    no payload); ``command_sent(match)`` sees every command line the DTE sends, so a
    family can follow settings that change how later bytes are framed (BG96: hex
    receive format, direct push sockets). ``framer`` is set by the engine."""

    def __init__(self, family: "Family"):
        self.family = family
        self.framer: "Framer | None" = None

    def urc_payload(self, urc: "Urc", values: dict) -> int | None:
        if urc.payload is None:
            return None
        n = values.get(urc.payload.length_field)
        return n if isinstance(n, int) else None

    def command_sent(self, match) -> None:
        pass


def _resolve(ref: str | Any) -> Any:
    """``"package.module:attr"`` imported on first use (so the pytest plugin and the
    CLI can list families without importing every emulator)."""
    if not isinstance(ref, str):
        return ref
    mod, _, attr = ref.partition(":")
    return getattr(importlib.import_module(mod), attr)


@dataclass(frozen=True)
class FamilyPlugin:
    """A modem family, registered as ``PLUGIN`` in ``atconform.families.<model>``.

    ``session``: the :class:`~atconform.session.ModemSession` subclass with the family's
    precondition steps and capabilities; ``engine_hooks``: an :class:`EngineHooks`
    subclass; ``emulator``: the DCE class of its built-in emulator, or None;
    ``fault_kinds``: its fault models for :mod:`atconform.emulator.faults`;
    ``lab_power_cycle``: how a lab reboots it with the IXIT's power commands. References are
    ``"module:attr"`` strings, imported when first used."""

    model: str
    session: str = "atconform.session:ModemSession"
    engine_hooks: str = "atconform.families.base:EngineHooks"
    emulator: str | None = None
    fault_kinds: tuple[str, ...] = ()
    lab_power_cycle: str = "atconform.power:lab_power_cycle"
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def has_emulator(self) -> bool:
        return self.emulator is not None

    def spec(self) -> "Family":
        from atconform.spec import load_family
        return load_family(self.model)

    def session_class(self):
        return _resolve(self.session)

    def make_engine_hooks(self, family: "Family") -> EngineHooks:
        return _resolve(self.engine_hooks)(family)

    def emulator_class(self):
        if self.emulator is None:
            raise LookupError(f"no built-in emulator for {self.model}")
        return _resolve(self.emulator)

    def fault_models(self) -> list[type]:
        return [_resolve(k) for k in self.fault_kinds]

    def lab_power_cycle_fn(self):
        """``fn(channel, family, power, locator)``: reboot a lab modem and reopen its port."""
        return _resolve(self.lab_power_cycle)


Factory = Callable[..., Any]
