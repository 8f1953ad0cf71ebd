"""Shared fixtures for the harness self-tests."""
import pytest

from atconform.emulator import Emulator
from atconform.peers import TcpEcho
from atconform.spec import load_family
from atconform.transport.channel import Channel


@pytest.fixture
def bg96_spec():
    return load_family("bg96")


@pytest.fixture
def emu():
    e = Emulator("bg96").start()
    yield e
    e.stop()
    assert not e.loop.errors, f"emulator callbacks raised: {e.loop.errors}"
    assert not e.modem.handler_errors, f"emulator handlers raised: {e.modem.handler_errors}"


@pytest.fixture
def ch(emu, bg96_spec):
    c = Channel(bg96_spec, emu.path).open()
    assert c.command("ATE0").ok
    yield c
    c.close()


@pytest.fixture
def echo():
    e = TcpEcho().start()
    yield e
    e.stop()
