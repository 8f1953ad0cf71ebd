"""Power control and finding the port again: lab commands from the IXIT, udev-style
patterns, and a channel that survives its port vanishing and coming back elsewhere."""
from __future__ import annotations

import pytest

from atconform.emulator import Emulator
from atconform.ixit import Ixit
from atconform.power import CommandPower, EmulatorPower, PortLocator, PowerError
from atconform.spec import load_family
from atconform.transport.channel import Channel, ChannelError


def test_command_power_runs_the_ixit_commands_in_order(tmp_path):
    ixit = Ixit.model_validate({"power": {"off": f"touch {tmp_path}/off", "on": f"touch {tmp_path}/on",
                                          "port": "/dev/serial/by-id/usb-Quectel_*-if02-port0"}})
    p = CommandPower(ixit.power.off, ixit.power.on)
    p.off()
    assert (tmp_path / "off").exists() and not (tmp_path / "on").exists()
    p.on()
    assert (tmp_path / "on").exists()


def test_a_failing_or_hanging_power_command_is_a_clear_error():
    with pytest.raises(PowerError, match="exited 1"):
        CommandPower("false", "true").off()
    with pytest.raises(PowerError, match="timed out"):
        CommandPower("sleep 5", "true", timeout=0.2).off()
    with pytest.raises(PowerError, match="no-such-relay-tool"):
        CommandPower("no-such-relay-tool --off", "true").off()


def test_port_locator_follows_a_pattern_and_a_stable_path(tmp_path):
    loc = PortLocator(str(tmp_path / "ttyUSB*"))
    assert loc() is None
    (tmp_path / "ttyUSB7").touch()
    (tmp_path / "ttyUSB3").touch()
    assert loc() == str(tmp_path / "ttyUSB3")
    assert PortLocator(str(tmp_path / "ttyUSB7"))() == str(tmp_path / "ttyUSB7")
    assert PortLocator(str(tmp_path / "ttyACM0"))() is None


def test_channel_survives_the_port_vanishing_and_coming_back_elsewhere():
    emu = Emulator("bg96", reenumerate=True).start()
    ch = Channel(load_family("bg96"), emu.path).open()
    try:
        assert ch.command("AT", timeout=5).ok
        first = ch.url
        power = EmulatorPower(emu)
        power.off()
        with pytest.raises(ChannelError):
            ch.command("AT", timeout=5)
        assert not ch.is_open
        power.on()
        assert ch.reopen(lambda: emu.path if emu.powered else None, timeout=10, interval=0.1)
        assert ch.url == emu.path and ch.url != first   # the old number is still held by the DTE
        assert ch.command("AT", timeout=5).ok
    finally:
        ch.close()
        emu.stop()


def test_reopen_gives_up_after_its_timeout():
    emu = Emulator("bg96").start()
    ch = Channel(load_family("bg96"), emu.path).open()
    try:
        assert ch.reopen(lambda: None, timeout=0.3, interval=0.1) is False
    finally:
        ch.close()
        emu.stop()


def test_power_cycle_flow_cuts_power_12s_after_qpowd_and_finds_the_new_port():
    """The policy's power cycle, also used for a lab's IXIT power commands."""
    from atconform.families.bg96.bench import FlowBench
    b = FlowBench()
    try:
        b.clock.sleep(100)                 # a power cycle later in a run: times from now
        first = b.channel.url
        p = b.policy()
        b.run(p.power_cycle())
        assert [(d.t, d.action) for d in p.trace] == [
            (100, "power cycle: AT+QPOWD"), (112, "power off"), (112, "power on"), (112, "find port")]
        assert b.channel.url != first and b.channel.command("AT", timeout=5).ok
    finally:
        b.close()
