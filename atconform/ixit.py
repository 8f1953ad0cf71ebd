"""IXIT: implementation extra information for testing, the lab's parameters (YAML).

Example (a real modem on a lab SIM)::

    apn: internet
    username: ""
    password: secret          # secrets: redacted in every output (atconform.redact)
    sim_pin: "1234"           # quoted: YAML reads 0123 as a number
    device_password: null     # Queclink AT@ password (default gv500cna)
    ics: {bad_input_reply: silent}   # ICS declarations of the modem (spec ics:), by name
    peers:
      tcp_echo: {host: tcpbin.com, port: 4242}
      udp_echo: {host: udp-echo.example.net, port: 7}
      ntp: {host: pool.ntp.org, port: 123}
      dns: {host: 8.8.8.8, port: 53, name: example.com}
      ping: {host: 8.8.8.8}
    power:                    # for the flow chart's reboots (optional)
      off: uhubctl -l 1-1 -p 2 -a off
      on: uhubctl -l 1-1 -p 2 -a on
      port: /dev/serial/by-id/usb-Quectel_*-if02-port0

Peers left out are started on loopback by the fixtures (default run).
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from atconform import redact


class Peer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str
    port: int = 0
    name: str | None = None        # DNS: a name the server resolves
    address: str | None = None     # DNS: the address it resolves to


class Peers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tcp_echo: Peer | None = None
    udp_echo: Peer | None = None
    ntp: Peer | None = None
    dns: Peer | None = None
    ping: Peer | None = None
    # Queclink backend servers: the harness listens on these ports and the unit must reach
    # them at these hosts; backend_primary is the unit's primary server (AT@BSS, set on the
    # unit beforehand), backend_backup where the suite points AT@BSS2 (port 0: any free one)
    backend_primary: Peer | None = None
    backend_backup: Peer | None = None


class Power(BaseModel):
    """Power control and port discovery for reboots (BG96 Figure 1, "Recommended Power
    on/off"). ``off``/``on``: shell commands that cut and restore the modem's power (a
    relay, ``uhubctl -a off -p 2``); ``port``: a stable device path
    (``/dev/serial/by-id/...``) or a udev-style glob (``/dev/ttyUSB*``,
    ``/dev/serial/by-id/usb-Quectel_*-if02-port0``) that finds the AT port again after
    USB re-enumeration. Without ``off``/``on`` the policy tests are skipped."""

    model_config = ConfigDict(extra="forbid")
    off: str | None = None
    on: str | None = None
    port: str | None = None
    command_timeout: float = 30.0   # seconds a power command may take


SECRETS = ("password", "sim_pin", "device_password")


class Ixit(BaseModel):
    """The lab's parameters. Secrets are :class:`SecretStr` (``repr``/``str`` show
    ``**********``; ``.get_secret_value()`` where the real value goes on the wire, or
    :meth:`revealed`); building an Ixit registers them with :mod:`atconform.redact`,
    so they are ``***`` in every output. Validation errors never echo an input."""

    # hide_input_in_errors: a mistyped secret must not be printed by the error about it
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    apn: str = "internet"
    username: str = ""
    password: SecretStr = SecretStr("")          # APN password (AT+QICSGP)
    sim_pin: SecretStr | None = None             # SIM PIN (AT+CPIN)
    device_password: SecretStr | None = None     # Queclink AT@ password (AT@...)
    # the modem's answers to the spec's ICS declarations (``ics:`` of specs/<model>.yaml),
    # name -> value; checked against the declaration's choices when a test reads one
    ics: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    context_id: int = 1
    udp_service_port: int = 3030
    # port of the loopback DNS server the fixtures start (0: any free port); give the
    # same number to `atconform emulate --dns-port N` when testing it through --port
    local_dns_port: int = 0
    peers: Peers = Field(default_factory=Peers)
    power: Power = Field(default_factory=lambda: Power())

    @field_validator(*SECRETS, mode="before")
    @classmethod
    def _quoted(cls, v, info):
        # YAML reads an unquoted PIN as a number (0123 even as octal 83): refuse it
        # rather than guess the digits
        if v is not None and not isinstance(v, (str, SecretStr)):
            raise ValueError(f"{info.field_name} must be a string: quote it in the IXIT file (\"0123\")")
        return v

    def model_post_init(self, context: object, /) -> None:
        redact.register(*self.secrets())

    def secrets(self) -> list[str]:
        """The non-empty secret values (password, sim_pin, device_password)."""
        out = []
        for name in SECRETS:
            v = getattr(self, name)
            if v is not None and v.get_secret_value():
                out.append(v.get_secret_value())
        return out

    def revealed(self) -> SimpleNamespace:
        """The fields as attributes with secrets as plain ``str``, for ``{ixit.x}``
        placeholders whose text goes on the wire."""
        values = {k: getattr(self, k) for k in type(self).model_fields}
        return SimpleNamespace(**{k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in values.items()})

    @classmethod
    def load(cls, path: str | Path | None) -> "Ixit":
        """Read and validate an IXIT file; None gives the loopback defaults. Raises
        pydantic.ValidationError naming the bad field, OSError if unreadable."""
        if path is None:
            return cls()
        with open(path, encoding="utf-8") as f:
            return cls.model_validate(yaml.safe_load(f) or {})
