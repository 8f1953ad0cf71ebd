"""IXIT: implementation extra information for testing, the lab's parameters (YAML).

Example (a real modem on a lab SIM)::

    apn: internet
    username: ""
    password: secret          # redacted in transcripts
    sim_pin: null
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

import yaml
from pydantic import BaseModel, ConfigDict, Field


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


class Ixit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    apn: str = "internet"
    username: str = ""
    password: str = ""
    sim_pin: str | None = None
    context_id: int = 1
    udp_service_port: int = 3030
    # port of the loopback DNS server the fixtures start (0: any free port); give the
    # same number to `atconform emulate --dns-port N` when testing it through --port
    local_dns_port: int = 0
    peers: Peers = Field(default_factory=Peers)
    power: Power = Field(default_factory=lambda: Power())

    @classmethod
    def load(cls, path: str | Path | None) -> "Ixit":
        """Read and validate an IXIT file; None gives the loopback defaults. Raises
        pydantic.ValidationError naming the bad field, OSError if unreadable."""
        if path is None:
            return cls()
        with open(path, encoding="utf-8") as f:
            return cls.model_validate(yaml.safe_load(f) or {})
