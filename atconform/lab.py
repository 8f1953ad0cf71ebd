"""Modems in a labgrid lab (issue 14 §2): the port and the power of a labgrid place.

labgrid (https://labgrid.readthedocs.io) runs the lab: a coordinator, exporters on each
host sharing serial ports through ser2net (RFC 2217) and power switches, places that
clients acquire and release. atconform does not manage a lab; it takes the modem under
test from a place:

* ``pytest --lg-place NAME --model MODEL`` (coordinator: labgrid's ``--lg-coordinator``,
  else ``$LG_COORDINATOR``, else labgrid's default ``127.0.0.1:20408``);
* ``pytest --lg-env lab.yaml --model MODEL``: labgrid's own environment file, whose
  target holds a ``RemotePlace`` (and, optionally, the power driver to use).

The place is acquired for the run and released at its end, also when the run is
interrupted (:class:`PlaceLease`). From the place's resources :class:`LabModem` gives:

* ``url``: what pyserial opens. ``NetworkSerialPort`` -> ``rfc2217://HOST:PORT?ign_set_control``
  (labgrid's own serial driver opens it the same way: ser2net does not answer the
  modem-control requests on every device) or ``socket://`` for a raw TCP export;
  ``USBSerialPort``/``RawSerialPort`` on this host -> the device path;
* ``power``: a :class:`~atconform.families.base.PowerSwitch` over the target's
  ``PowerProtocol`` driver (the one the environment names, else one bound to the place's
  power resource, see :data:`POWER_DRIVERS`). The family's power cycle (BG96: Figure 1,
  AT+QPOWD first) and the recovery policy use it through the plug-in, as they use the
  IXIT's power commands;
* ``locate()``: the port's current URL once labgrid sees it again, for the reopen after
  a power cycle (USB re-enumeration: labgrid's udev matching finds the new device, and
  the exporter restarts ser2net, possibly on another TCP port).

labgrid is imported only here and only when a place is asked for: without it the rest
of atconform works, and asking for a place says how to install it (:class:`LabError`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from atconform.families.base import PowerSwitch

DEFAULT_COORDINATOR = "127.0.0.1:20408"     # labgrid's own default

# resource class of a place -> labgrid driver that implements PowerProtocol on it
POWER_DRIVERS = {
    "NetworkPowerPort": "NetworkPowerDriver",
    "USBPowerPort": "USBPowerDriver", "NetworkUSBPowerPort": "USBPowerDriver",
    "SiSPMPowerPort": "SiSPMPowerDriver", "NetworkSiSPMPowerPort": "SiSPMPowerDriver",
    "YKUSHPowerPort": "YKUSHPowerDriver", "NetworkYKUSHPowerPort": "YKUSHPowerDriver",
    "PDUDaemonPort": "PDUDaemonDriver",
}
SERIAL_RESOURCES = ("NetworkSerialPort", "USBSerialPort", "RawSerialPort")


class LabError(Exception):
    """labgrid is missing, the coordinator cannot be reached, the place cannot be
    acquired or has no serial port. The message is one line for the user."""


def require_labgrid() -> None:
    """Raises LabError when labgrid cannot be imported."""
    try:
        import labgrid  # noqa: F401
    except ImportError:
        raise LabError("labgrid is not installed (pip install 'atconform[lab]')") from None


def coordinator_address(option: str | None = None) -> str:
    """``HOST:PORT`` of the coordinator: the option, ``$LG_COORDINATOR``, labgrid's default."""
    return option or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR


def client_command() -> list[str]:
    """labgrid's client: ``labgrid-client`` beside this Python, else on PATH."""
    here = Path(sys.executable).with_name("labgrid-client")
    if here.exists():
        return [str(here)]
    found = shutil.which("labgrid-client")
    if found:
        return [found]
    raise LabError("labgrid-client not found (pip install 'atconform[lab]')")


class PlaceLease:
    """A labgrid place held for one run: :meth:`acquire` once, :meth:`release` any number
    of times (the second and later calls do nothing). Both go through ``labgrid-client``,
    labgrid's own code, with ``timeout`` seconds each."""

    def __init__(self, place: str, coordinator: str, timeout: float = 60.0):
        self.place = place
        self.coordinator = coordinator
        self.timeout = timeout
        self.held = False

    def _client(self, *args: str) -> subprocess.CompletedProcess:
        cmd = client_command() + ["-x", self.coordinator, "-p", self.place, *args]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise LabError(f"labgrid-client {' '.join(args)} on place {self.place!r} took over "
                           f"{self.timeout:g} s (coordinator {self.coordinator})") from None

    def acquire(self) -> None:
        """Raises LabError with labgrid's reason (no such place, held by someone else,
        coordinator unreachable)."""
        r = self._client("acquire")
        if r.returncode != 0 and "You have already acquired" in r.stderr + r.stdout:
            return      # the user holds it (labgrid-client acquire by hand): theirs to release
        if r.returncode != 0:
            why = (r.stderr.strip() or r.stdout.strip()).splitlines()
            raise LabError(f"cannot acquire labgrid place {self.place!r} at {self.coordinator}: "
                           f"{why[-1] if why else f'labgrid-client exited {r.returncode}'}")
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            self._client("release")
        except LabError:
            pass    # the coordinator is gone: nothing holds the place any more


class LabgridPower(PowerSwitch):
    """:class:`PowerSwitch` over a labgrid ``PowerProtocol`` driver (activated on first
    use). labgrid's errors propagate as they are."""

    def __init__(self, target, driver):
        self.target = target
        self.driver = driver

    def _active(self):
        self.target.activate(self.driver)
        return self.driver

    def off(self) -> None:
        self._active().off()

    def on(self) -> None:
        self._active().on()


class LabModem:
    """The modem of one labgrid target (whose resources a ``RemotePlace`` expanded, or
    local ones). ``url``: the port now; ``power``: a PowerSwitch or None; ``locate()``:
    the port's URL when labgrid sees it available, else None."""

    def __init__(self, target):
        self.target = target
        self.place: str | None = None          # for the report: which place, which coordinator
        self.coordinator: str | None = None
        self.serial = self._serial_resource()
        self.power = self._power()

    def _serial_resource(self):
        for r in self.target.resources:
            if type(r).__name__ in SERIAL_RESOURCES:
                return r
        names = ", ".join(type(r).__name__ for r in self.target.resources) or "none"
        raise LabError(f"labgrid target {self.target.name!r} has no serial port "
                       f"({'/'.join(SERIAL_RESOURCES)}); its resources: {names}")

    def _power(self) -> PowerSwitch | None:
        from labgrid.protocol import PowerProtocol
        try:
            driver = self.target.get_driver(PowerProtocol, activate=False)
        except Exception:   # none configured: bind one to the place's power resource
            driver = None
            import labgrid.driver
            for r in self.target.resources:
                cls = POWER_DRIVERS.get(type(r).__name__)
                if cls:
                    driver = getattr(labgrid.driver, cls)(self.target, name=None)
                    break
        return LabgridPower(self.target, driver) if driver is not None else None

    @staticmethod
    def url_of(resource) -> str:
        if type(resource).__name__ == "NetworkSerialPort":
            scheme = "socket" if getattr(resource, "protocol", "rfc2217") == "raw" else "rfc2217"
            tail = "?ign_set_control" if scheme == "rfc2217" else ""
            return f"{scheme}://{resource.host}:{resource.port}{tail}"
        return resource.port

    @property
    def url(self) -> str:
        return self.url_of(self.serial)

    def locate(self) -> str | None:
        try:
            self.target.update_resources()      # the coordinator's news, udev's events
        except Exception:
            return None
        if not self.serial.avail or not getattr(self.serial, "port", None):
            return None
        return self.url

    def close(self) -> None:
        try:
            self.target.deactivate_all_drivers()
        except Exception:
            pass


def place_target(place: str, coordinator: str):
    """A labgrid Target holding ``RemotePlace(place)`` (the place must be acquired).
    Raises LabError when the coordinator or the place does not answer."""
    require_labgrid()
    from labgrid import Target
    from labgrid.resource import RemotePlace
    # RemotePlaceManager takes the coordinator from labgrid's own variable when a target
    # has no environment file
    os.environ["LG_COORDINATOR"] = coordinator
    target = Target(f"atconform-{place}")
    try:
        RemotePlace(target, name=place)
    except Exception as e:
        raise LabError(f"labgrid place {place!r} at {coordinator}: {e}") from None
    return target


def env_place(env) -> tuple[str, str | None]:
    """``(target name, place name)`` of a labgrid Environment's first target; the place
    is None for a target of local resources (no ``RemotePlace``). Raises LabError when
    the environment has no target."""
    for name in env.config.get_targets():
        resources = env.config.get_targets()[name].get("resources") or {}
        items = resources.items() if isinstance(resources, dict) else \
            [kv for r in resources for kv in r.items()]
        for cls, args in items:
            if cls == "RemotePlace":
                return name, (args or {}).get("name")
        return name, None
    raise LabError("the labgrid environment has no targets")
