"""pytest entry-point plugin (``pytest11``): the suite's command-line options.

Registered as an entry point rather than in conftest.py because of how pytest finds its
configuration: it looks for ``pytest.ini`` from the paths on the command line *before*
it loads conftest files, so in ``pytest --port /dev/ttyUSB2 --model bg96`` (or
``--reports DIR`` with an existing DIR) it takes the value for a test path, searches
``/dev`` upwards, finds no ini and ignores the project's: no testpaths, no markers. Options known from an entry point are parsed correctly on pytest's second
pass; :func:`pytest_load_initial_conftests` then redoes the ini lookup from the
invocation directory when the first pass went astray.
"""
from __future__ import annotations

import copy

import pytest

from atconform import families


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("atconform", "modem under test (atconform)")
    g.addoption("--port", metavar="DEVICE", help="serial device or pyserial URL of a real modem (or an emulator's pty); default: built-in emulators")
    g.addoption("--model", choices=families.models(), help="modem family on --port (required with --port); without --port: only this family's suites")
    g.addoption("--baud", type=int, default=115200, help="baud rate on --port (default 115200)")
    g.addoption("--ixit", metavar="FILE", help="IXIT YAML: APN and credentials, SIM PIN, peers (default: loopback peers)")
    g.addoption("--reports", metavar="DIR", default="reports", help="where compliance.json/.html and results.jsonl go (default reports/)")
    g.addoption("--ics", metavar="FILE", action="append", default=[],
                help="ICS YAML of a module (atconform ics --model M writes one); once per family. Purposes of "
                     "features it declares absent are not applicable; the static conformance review runs")
    g.addoption("--waivers", metavar="FILE", action="append", default=[],
                help="waivers YAML: known deviations reported as 'fail (waived)' until they expire")
    g.addoption("--gate", metavar="FILE", help="quality gate YAML: the run's exit status follows its rules")
    g.addoption("--pool", metavar="FILE",
                help="pool YAML of modems (name, model, port or 'emulator', ixit, ics, power): with pytest-xdist, "
                     "one worker per modem runs its family's suite; a report per modem and reports/pool.html")
    g.addoption("--record", metavar="DIR",
                help="keep each test's bytes on the modem link (timestamped, secrets redacted), its purpose and "
                     "verdict, and the prologue in DIR/<model>.jsonl, for --replay or atconform emulate --replay")
    g.addoption("--replay", metavar="DIR",
                help="play a recorded run (--record) in place of the built-in emulators, on the virtual clock; "
                     "a purpose whose harness sends what the recording does not have is 'error'")
    g.addoption("--lg-place", metavar="NAME",
                help="take the modem from this labgrid place (acquired for the run, released after): its "
                     "serial port (RFC 2217 or local) as --port, its power driver for power cycles; "
                     "coordinator from --lg-coordinator or $LG_COORDINATOR. Or labgrid's own --lg-env FILE")
    g.addoption("--seed", type=int, metavar="N",
                help="seed of the payloads the suites make (default: the recording's with --replay, else a new "
                     "one per run; the report shows it)")
    g.addoption("--emulator-defects", metavar="FILE", help="YAML of defects to plant in the built-in emulator (self-tests)")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    if early_config.inipath is not None:
        return
    here = early_config.invocation_params.dir
    if not (here / "pytest.ini").is_file():
        return
    from _pytest.config.findpaths import determine_setup

    ns = early_config.known_args_namespace
    rootpath, inipath, inicfg, _ = determine_setup(
        inifile=None, override_ini=ns.override_ini, args=list(ns.file_or_dir), rootdir_cmd_arg=ns.rootdir or None,
        invocation_dir=here)
    if inipath is None:
        return
    early_config._rootpath = rootpath
    early_config._inipath = inipath
    early_config._inicfg = inicfg
    early_config._inicache.clear()
    args[:] = early_config._validate_args(early_config.getini("addopts"), "via addopts config") + args
    early_config.known_args_namespace = parser.parse_known_args(args, namespace=copy.copy(early_config.option))
    early_config.known_args_namespace.confcutdir = str(rootpath)
