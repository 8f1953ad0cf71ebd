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


# -- suite runs started at collection (tests/suite_run.py: early, early_result) -------------

def pytest_configure(config):
    config.addinivalue_line("markers", "early(name): the test reads the suite run NAME, started at collection "
                                       "(tests/suite_run.py)")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    import suite_run

    names = {m.args[0] for item in items for m in item.iter_markers("early")}
    # the tests that wait for those runs go last: the runs overlap every other test
    items.sort(key=lambda item: item.get_closest_marker("early") is not None)
    if names and not config.option.collectonly:
        base = config._tmp_path_factory.getbasetemp()
        # xdist workers share the parent of their base temporary directories
        suite_run.start_early(base.parent if hasattr(config, "workerinput") else base, names)


def pytest_sessionfinish(session, exitstatus):
    import suite_run

    suite_run.wait_early(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
