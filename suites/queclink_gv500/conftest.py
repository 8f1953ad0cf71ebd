"""GV500 suite fixtures: the backend servers the unit connects to.

Built-in emulator: both servers are started on loopback and the emulator's primary server
(AT@BSS is not in the seed) is pointed at the first, in process. ``--port``: the unit's
primary server is the IXIT's ``peers.backend_primary`` (the unit must already be set to
reach it there; the harness listens on its port), the backup listens on
``peers.backend_backup`` (default: loopback, a free port)."""
from __future__ import annotations

import ipaddress

import pytest

from atconform.families.queclink_gv500.peers import BackendPeer
from atconform.verdicts import Inconclusive

MODEL = "queclink_gv500"


def _bind(host: str) -> str:
    try:
        return host if ipaddress.ip_address(host).is_loopback else "0.0.0.0"
    except ValueError:
        return "0.0.0.0"        # a name the unit resolves to this machine


class Backends:
    """The primary and backup servers of one scenario, on the link's clock."""

    def __init__(self, primary: BackendPeer, backup: BackendPeer):
        self.primary = primary
        self.backup = backup

    def stop(self) -> None:
        for p in (self.primary, self.backup):
            p.stop()


@pytest.fixture
def backends(modem, links, ixit):
    """Both servers refusing at first; the emulator (when built in) set to the primary."""
    link = links(MODEL)
    clock = modem.ch.clock
    emu = link.emulator
    named = ixit.peers
    if emu is None and named.backend_primary is None:
        raise Inconclusive("the unit's primary backend server is not known: name it in the IXIT "
                           "(peers.backend_primary: host and port the unit connects to)")
    if named.backend_primary is not None:
        p = named.backend_primary
        primary = BackendPeer(clock, "primary", p.host, p.port, bind=_bind(p.host))
    else:
        primary = BackendPeer(clock, "primary")
    b = named.backend_backup
    backup = (BackendPeer(clock, "backup", b.host, b.port, bind=_bind(b.host)) if b is not None
              else BackendPeer(clock, "backup"))
    servers = Backends(primary, backup)
    if emu is not None and named.backend_primary is None:
        emu.call(lambda m: m.configure(primary_host=primary.host, primary_port=primary.port))
    try:
        yield servers
    finally:
        if emu is not None and named.backend_primary is None:
            emu.call(lambda m: m.configure(primary_host=None, primary_port=0))
        servers.stop()
