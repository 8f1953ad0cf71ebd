"""The emulated GV500 in process, over its real pty: the seed's two examples replayed byte
for byte, replies and silence, the count, identity from the configuration, power, faults,
and the backend-server connection with real TCP peers on loopback."""
import os
import time

import pytest

from atconform.clock import RealClock, VirtualClock
from atconform.emulator import Emulator
from atconform.emulator.dce import Defects
from atconform.emulator.faults import FaultPlan
from atconform.families.queclink_gv500.config import CONFIG_ENV, Gv500Config
from atconform.families.queclink_gv500.emulator import BEHAVIOUR_DEFECTS
from atconform.families.queclink_gv500.peers import BackendPeer, free_port
from atconform.spec import load_family
from atconform.transport.channel import Channel, NoFinalResult

GV = load_family("queclink_gv500")
# seed 000 L6-9
EXAMPLES = [("AT@BSS2=gv500cna,,,192.168.1.12,590,0,,,012F",
             b"+ACK:BSS2,123456789012345,8203,3,0,,012F,20210407101530,1234$"),
            ("AT@BSS2?gv500cna,,0C37",
             b"+QRY:BSS2,123456789012345,8203,3,0,1,1,,,192.168.1.12,590,0,,,0C37,20210407101530,1234$")]
EXAMPLE_CONFIG = dict(unit_id="123456789012345", send_time="20210407101530", count=0x1234)


@pytest.fixture
def rig():
    """(emulator, channel) with the defaults; checks the emulator raised nothing."""
    emu = Emulator("queclink_gv500").start()
    ch = Channel(GV, emu.path).open()
    yield emu, ch
    ch.close()
    emu.stop()
    assert not emu.loop.errors and not emu.modem.handler_errors


def raw_exchange(emu, ch, line: str, timeout: float = 2.0) -> bytes:
    """The bytes the DTE received for ``line``, from the transcript."""
    mark = ch.transcript.mark()
    try:
        ch.command(line, timeout=timeout)
    except NoFinalResult:
        pass
    return b"".join(e.data for e in ch.transcript.entries(mark) if e.direction == "rx")


def test_the_seed_examples_replay_byte_for_byte(rig):
    emu, ch = rig
    for line, reply in EXAMPLES:
        emu.call(lambda m: m.configure(**EXAMPLE_CONFIG))     # each example shows count 1234
        assert raw_exchange(emu, ch, line) == reply
    tx = [e.data for e in ch.transcript.entries() if e.direction == "tx"]
    assert tx[-2:] == [EXAMPLES[0][0].encode() + b"$", EXAMPLES[1][0].encode() + b"$"]


def test_count_increments_per_reply_and_wraps(rig):
    emu, ch = rig
    emu.call(lambda m: m.configure(count=0xFFFE))
    counts = [ch.command(f"AT@BSS2?gv500cna,,{i:04X}").info[0].text.rsplit(",", 1)[1] for i in range(3)]
    assert counts == ["FFFE$", "FFFF$", "0000$"]


def test_identity_and_reply_fields_come_from_the_configuration():
    cfg = Gv500Config(unit_id="860000000000001", header_fields=("9999", "1", "2"), query_fields=("7", "8"),
                      reply_suffix="\r\n")
    with Emulator("queclink_gv500") as emu:
        emu.call(lambda m: m.configure(**cfg.model_dump()))
        with Channel(GV, emu.path) as ch:
            r = ch.command("AT@BSS2?gv500cna,,0001")
            assert r.info[0].text.startswith("+QRY:BSS2,860000000000001,9999,1,2,7,8,,,,30059,0,,,0001,")


def test_config_file_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "gv.yaml"
    path.write_text("unit_id: '111111111111111'\npassword: s3cretpass\n")
    monkeypatch.setenv(CONFIG_ENV, str(path))
    with Emulator("queclink_gv500") as emu, Channel(GV, emu.path) as ch:
        assert ch.command("AT@BSS2?s3cretpass,,0001").info[0].text.startswith("+QRY:BSS2,111111111111111,")
    path.write_text("unit_id: 12\n")
    from atconform.errors import BadInput
    with pytest.raises(BadInput, match="unit_id"):
        Emulator("queclink_gv500")


def test_write_then_query_reports_the_values(rig):
    emu, ch = rig
    assert ch.command("AT@BSS2=gv500cna,,,backup.example.com,4000|4001,1,,,0001").ok
    assert ",,,backup.example.com,4000|4001,1,,,0002," in ch.command("AT@BSS2?gv500cna,,0002").info[0].text


@pytest.mark.parametrize("line", [
    "AT@BSS2=wrongpass,,,1.2.3.4,590,0,,,0001",          # wrong password
    "AT@BSS2?wrongpass,,0001",
    "AT@BSS2=gv500cna,,,1.2.3.4,65536,0,,,0001",         # out of range
    "AT@BSS2=gv500cna,,,1.2.3.4,590|0,0,,,0001",
    "AT@BSS2=gv500cna,,,1.2.3.4,590,2,,,0001",
    "AT@BSS2=gv500cna,,,1.2.3.4,590,0,,,00a1",           # lower-case seq
    "AT@BSS2=gv500cna,,,1.2.3.4,590,0,,,001",            # 3-digit seq
    "AT@BSS2=gv500c,,,1.2.3.4,590,0,,,0001",             # too short
    "AT@BSS2=gv500cna,1,,1.2.3.4,590,0,,,0001",          # a reserved field set
    "AT@BSS3=gv500cna,,,1.2.3.4,590,0,,,0001",           # unknown word
    "AT@bss2?gv500cna,,0001",
])
def test_bad_input_gets_no_reply_and_changes_nothing(rig, line):
    emu, ch = rig
    before = ch.command("AT@BSS2?gv500cna,,0100").info[0].text
    assert raw_exchange(emu, ch, line, timeout=0.3) == b""
    after = ch.command("AT@BSS2?gv500cna,,0100").info[0].text
    # same settings; only the count moved on, by one per reply
    assert before.split(",")[:15] == after.split(",")[:15]
    assert emu.modem.refused


def test_missing_tail_crlf_or_a_new_header_drops_the_line(rig):
    emu, ch = rig
    ch.write(b"AT@BSS2?gv500cna,,0001\r\n")
    ch.write(b"AT@BSS2?gv500cna,,0002AT@BSS2?gv500cna,,0003$")
    r = ch.wait_urc(lambda u: True, 1.0)
    assert r is not None and ",0003," in r.text
    assert ch.wait_urc(lambda u: True, 0.3) is None
    assert [x.split(":")[-1] for x in emu.modem.refused] == [" no '$' tail before sep", " no '$' tail before head"]


def test_over_long_input_is_dropped_and_the_unit_answers_after(rig):
    emu, ch = rig
    ch.write(b"AT@BSS2?" + b"x" * 100_000)
    ch.write(b"$")
    assert ch.command("AT@BSS2?gv500cna,,0001").ok
    assert len(emu.modem._in) <= GV.framing.max_line_length + 1


def test_nack_configuration_answers_bad_input():
    with Emulator("queclink_gv500") as emu, Channel(GV, emu.path) as ch:
        emu.call(lambda m: m.configure(bad_input_reply="nack"))
        r = ch.command("AT@BSS2=wrongpass,,,1.2.3.4,590,0,,,0001")
        assert r.info[0].text.startswith("+NACK:BSS2,123456789012345,0001,") and not r.ok


def test_every_defect_check_names_a_listed_defect(capsys):
    """Each ``defect("...")`` call of the package names a listed defect (ast check), the
    hook refuses other names, and another family's defect names are ignored, said once."""
    import ast
    from pathlib import Path
    import atconform.families.queclink_gv500 as pkg
    names = set()
    for path in Path(pkg.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "defect":
                assert isinstance(node.args[0], ast.Constant), f"{path.name}:{node.lineno}"
                names.add(node.args[0].value)
    assert names == set(BEHAVIOUR_DEFECTS)
    with Emulator("queclink_gv500", defects=Defects(behaviour=["escape-ignored"])) as emu:
        with pytest.raises(KeyError):
            emu.call(lambda m: m.defect("no-such-defect"))
    assert "ignoring behaviour defects ['escape-ignored']" in capsys.readouterr().err


def test_power_cycle_keeps_settings_and_faults_swallow_or_nack(rig):
    emu, ch = rig
    assert ch.command("AT@BSS2=gv500cna,,,127.0.0.9,7,1,,,0001").ok
    emu.power_off()
    assert not emu.powered
    with pytest.raises(NoFinalResult):
        ch.command("AT@BSS2?gv500cna,,0002", timeout=0.3)
    emu.power_on()
    assert ",127.0.0.9,7,1," in ch.command("AT@BSS2?gv500cna,,0003").info[0].text
    emu.set_faults(FaultPlan.model_validate({"faults": [
        {"kind": "no_response", "command": "BSS2", "form": "read", "times": 1},
        {"kind": "error_result", "command": "BSS2", "form": "read", "times": 1, "skip": 0}]}))
    with pytest.raises(NoFinalResult):
        ch.command("AT@BSS2?gv500cna,,0004", timeout=0.3)
    assert ch.command("AT@BSS2?gv500cna,,0005").info[0].text.startswith("+NACK:")
    assert ch.command("AT@BSS2?gv500cna,,0006").ok
    assert [e.kind for e in emu.fault_log] == ["no_response", "error_result"]


# ------------------------------------------------------------------- backend servers
@pytest.fixture
def net():
    """Emulator + channel + primary and backup peers on loopback (real clock)."""
    clock = RealClock()
    primary, backup = BackendPeer(clock, "primary"), BackendPeer(clock, "backup")
    emu = Emulator("queclink_gv500", clock=clock).start()
    emu.call(lambda m: m.configure(primary_host="127.0.0.1", primary_port=primary.port,
                                   retry_interval=0.2, reconnect_delay=0.05))
    ch = Channel(GV, emu.path, clock=clock).open()
    yield emu, ch, primary, backup
    ch.close()
    emu.stop()
    primary.stop()
    backup.stop()
    assert not emu.loop.errors and not emu.modem.handler_errors


def point_at_backup(ch, backup, mode, local=None):
    port = f"{backup.port}|{local}" if local else str(backup.port)
    assert ch.command(f"AT@BSS2=gv500cna,,,127.0.0.1,{port},{mode},,,0001").ok


def test_primary_first_then_backup_when_it_refuses(net):
    emu, ch, primary, backup = net
    primary.listen()
    assert primary.wait_connections(1, 5)
    primary.refuse()
    point_at_backup(ch, backup, 0)
    backup.listen()
    primary.drop()
    assert backup.wait_connections(1, 5)
    deadline = time.monotonic() + 5       # the peer may see the connection before the unit does
    while emu.call(lambda m: (m.link.state, m.link.server)) != ("connected", "backup") and time.monotonic() < deadline:
        time.sleep(0.01)
    log = emu.call(lambda m: [(e.what, e.server) for e in m.link.log])
    assert ("connected", "primary") in log and log[-1] == ("connected", "backup")


def test_local_port_is_the_source_port(net):
    emu, ch, primary, backup = net
    local = free_port()
    backup.listen()
    point_at_backup(ch, backup, 0, local)
    assert backup.wait_connections(1, 5)
    assert backup.connections[0].source_port == local


@pytest.mark.parametrize("mode, goes_to", [(0, "backup"), (1, "primary")])
def test_after_the_backup_drops(net, mode, goes_to):
    emu, ch, primary, backup = net
    backup.listen()
    point_at_backup(ch, backup, mode)
    assert backup.wait_connections(1, 5)
    primary.listen()
    time.sleep(0.3)
    assert not primary.connections            # connected: it stays on the backup
    backup.drop()
    peer, n = (backup, 2) if goes_to == "backup" else (primary, 1)
    assert peer.wait_connections(n, 5)
    other = primary if goes_to == "backup" else backup
    assert len(other.connections) == (0 if goes_to == "backup" else 1)


def test_no_primary_no_connection_and_sandbox(rig):
    emu, ch = rig
    assert ch.command("AT@BSS2=gv500cna,,,127.0.0.1,9,0,,,0001").ok
    time.sleep(0.2)
    assert emu.modem.link.state == "idle" and not emu.modem.link.log
    emu.call(lambda m: m.configure(primary_host="192.0.2.1", primary_port=9, retry_interval=0.05))
    time.sleep(0.2)
    assert any("sandbox" in e.detail for e in emu.modem.link.log)


def test_failover_on_the_virtual_clock_costs_no_wall_time():
    clock = VirtualClock()
    clock.attach("harness")
    primary, backup = BackendPeer(clock, "primary"), BackendPeer(clock, "backup")
    emu = Emulator("queclink_gv500", clock=clock).start()
    ch = Channel(GV, emu.path, clock=clock).open()
    try:
        emu.call(lambda m: m.configure(primary_host="127.0.0.1", primary_port=primary.port, retry_interval=30.0))
        t0 = time.monotonic()
        backup.listen()
        point_at_backup(ch, backup, 1)
        assert backup.wait_connections(1, 60)
        with pytest.raises(NoFinalResult):          # silence for 20 virtual seconds
            ch.command("AT@BSS2?wrongpass,,0001", timeout=20)
        assert clock.now() >= 20 and time.monotonic() - t0 < 10
    finally:
        ch.close()
        emu.stop()
        primary.stop()
        backup.stop()
        clock.detach()
