"""GV500 AT@BSS2 behaviour with real TCP peers (seed 000): the backup server takes over when
the primary fails, its local port, the long-term and short-term modes, the query after a
write and the reply count. Each check is made where it can be seen: at the servers (which
one the unit connects to, from which source port) or in the replies.

Waits are bounded by the ICS ``reconnect_time`` and end as soon as the connection is
seen; "the unit stays" is watched for ``hold_time``. Runs on a real unit too, with the
servers of the IXIT (``peers.backend_primary``, ``peers.backend_backup``).
"""
from __future__ import annotations

import pytest

from atconform.families.queclink_gv500.peers import free_port
from atconform.verdicts import Deviation

MODEL = "queclink_gv500"
SRC = "000_1ef06cfe87724e4d.txt"
SECTION = "BSS2 (Backup Backend Server Settings)"
pytestmark = pytest.mark.family(MODEL)


def purpose(pid: str, lines: str, title: str):
    return pytest.mark.purpose(f"QUECLINK_GV500/SCENARIO/{pid}", title=title, family=MODEL, command="AT@BSS2",
                               form="scenario", section=f"{SECTION} {lines}", source=f"{SRC} §{SECTION} {lines}",
                               kind="scenario")


def within(modem) -> float:
    """Longest wait for a (re)connection: the ICS reconnect_time."""
    return float(modem.ics("reconnect_time"))


def expect_connection(modem, peer, n: int, what: str):
    """The ``n``-th connection (1-based) at ``peer`` within reconnect_time."""
    if not peer.wait_connections(n, within(modem)):
        raise Deviation(f"{what}: no connection at the {peer.name} server ({peer.host}:{peer.port}) "
                        f"within {within(modem):g} s (ICS reconnect_time)")
    return peer.connections[n - 1]


def on_backup(modem, servers, mode: int, local: int | None = None):
    """Primary refusing, backup listening, AT@BSS2 pointing at the backup with ``mode``:
    the unit ends up connected to the backup (L3: the backup takes over)."""
    servers.backup.listen()
    port = f"{servers.backup.port}|{local}" if local else str(servers.backup.port)
    modem.write(servers.backup.host, port, mode)
    return expect_connection(modem, servers.backup, 1,
                             f"primary refusing, AT@BSS2 backup {servers.backup.host}:{port} mode {mode}")


def stays(modem, servers, where: str) -> None:
    """For hold_time: no connection at the primary and the backup connection kept,
    although the primary accepts again."""
    hold = float(modem.ics("hold_time"))
    modem.ch.clock.sleep(hold)
    if servers.primary.connections:
        raise Deviation(f"{where}: connected to the primary while the backup connection was up "
                        f"(L125: it continues with the backup)")
    if not servers.backup.open_connections():
        raise Deviation(f"{where}: the unit closed the backup connection within {hold:g} s")


@purpose("failover-to-backup", "L3", "with the primary server refusing, the unit connects to the backup AT@BSS2 set")
def test_failover_to_backup(modem, backends):
    on_backup(modem, backends, 0)


@purpose("local-port", "L111-119",
         "'Server Port|Local Port': the connection to the backup comes from Local Port")
def test_local_port(modem, backends):
    local = free_port()
    c = on_backup(modem, backends, 0, local=local)
    if c.source_port != local:
        raise Deviation(f"AT@BSS2 port '{backends.backup.port}|{local}': the backup server sees the connection "
                        f"from port {c.source_port}, not the Local Port {local} (L119)")


@purpose("mode0-stays-on-backup", "L121-125",
         "mode 0 (long-term): after the backup drops the unit reconnects to the backup, not the primary")
def test_mode0_stays_on_backup(modem, backends):
    on_backup(modem, backends, 0)
    backends.primary.listen()
    stays(modem, backends, "mode 0")
    backends.backup.drop()
    if not backends.backup.wait_connections(2, within(modem)):
        where = "the primary" if backends.primary.connections else "no server"
        raise Deviation(f"mode 0: after the backup server closed the connection the unit went to {where} "
                        f"within {within(modem):g} s; long-term mode continues with the backup (L125)")
    if backends.primary.connections:
        raise Deviation("mode 0: the unit tried the primary before reconnecting to the backup (L125)")


@purpose("mode1-returns-to-primary", "L121, L127-129",
         "mode 1 (short-term): after the backup drops the unit connects to the primary first")
def test_mode1_returns_to_primary(modem, backends):
    on_backup(modem, backends, 1)
    backends.primary.listen()
    stays(modem, backends, "mode 1")
    backends.backup.drop()
    if not backends.primary.wait_connections(1, within(modem)):
        where = "the backup" if len(backends.backup.connections) > 1 else "no server"
        raise Deviation(f"mode 1: after the backup server closed the connection the unit went to {where} "
                        f"within {within(modem):g} s; short-term mode tries the primary first (L129)")
    if len(backends.backup.connections) > 1 and backends.backup.connections[1].at < backends.primary.connections[0].at:
        raise Deviation("mode 1: the unit reconnected to the backup before trying the primary (L129)")


@purpose("mode1-backup-when-primary-fails", "L127-129",
         "mode 1: after the backup drops and the primary still fails, the unit connects to the backup again")
def test_mode1_backup_when_primary_fails(modem, backends):
    on_backup(modem, backends, 1)
    backends.backup.drop()
    expect_connection(modem, backends.backup, 2, "mode 1, primary refusing, backup dropped")


@purpose("query-reports-write", "L6-9", "the query reports the ip, port and mode the last write set")
def test_query_reports_write(modem):
    for ip, port, mode in (("10.1.2.3", "4000|4001", 1), ("192.168.1.12", "590", 0)):
        modem.write(ip, port, mode)
        got = modem.stored()
        want = {"ip": ip, "port": port, "mode": mode}
        if got != want:
            raise Deviation(f"after AT@BSS2=...,{ip},{port},{mode},... the query reports {got}")


@purpose("count-increments", "L7, L9", "each reply's count is the previous reply's plus the ICS count_step")
def test_count_increments(modem):
    step = int(modem.ics("count_step"))
    if step == 0:
        pytest.skip("ICS count_step 0: the count is not checked")
    counts = []
    for _ in range(3):
        counts.append(int(modem.query()["count"], 16))
    counts.append(int(modem.write("192.168.1.12", "590", 0)["count"], 16))
    for a, b in zip(counts, counts[1:]):
        if b != (a + step) & 0xFFFF:
            raise Deviation(f"reply counts {[f'{c:04X}' for c in counts]}: {b:04X} follows {a:04X}, "
                            f"expected {(a + step) & 0xFFFF:04X} (ICS count_step {step})")
