"""The GV500 purposes and scenarios on the virtual clock (atconform.clock.VirtualClock):
the same verdicts as on real time, for a fraction of the wall time (the suite's waits
are T of silence and reconnections, all timers). A planted defect still fails its
scenario there."""
import importlib.util
import inspect
import time
import warnings
from pathlib import Path

import pytest

from atconform.casegen import generate
from atconform.casegen.execute import run
from atconform.families.queclink_gv500.rig import Gv500Rig

_path = Path(__file__).resolve().parents[1] / "suites" / "queclink_gv500" / "test_scenarios.py"
_spec = importlib.util.spec_from_file_location("gv500_scenarios", _path)
scenarios = importlib.util.module_from_spec(_spec)
with warnings.catch_warnings():       # its markers are registered by the suites' pytest.ini
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    _spec.loader.exec_module(scenarios)
SCENARIOS = {name: fn for name, fn in vars(scenarios).items() if name.startswith("test_") and callable(fn)}


def run_scenario(rig, fn):
    if "backends" in inspect.signature(fn).parameters:
        with rig.backends() as b:
            return rig.verdict(fn, rig.modem, b)
    return rig.verdict(fn, rig.modem)


def test_every_purpose_and_scenario_passes_on_the_virtual_clock():
    t0 = time.monotonic()
    with Gv500Rig(virtual=True) as rig:
        got = {p.id: rig.verdict(run, p, rig.modem)[0] for p in generate(rig.family)}
        got.update({name: run_scenario(rig, fn)[0] for name, fn in SCENARIOS.items()})
        virtual = rig.clock.now()
    assert set(got.values()) == {"pass"}, {k: v for k, v in got.items() if v != "pass"}
    assert len(got) == 48 + 7
    assert virtual > 30 and time.monotonic() - t0 < virtual / 2     # T of silence cost no wall time


@pytest.mark.parametrize("defect, scenario", [("mode1-stays-on-backup", "test_mode1_returns_to_primary"),
                                              ("local-port-ignored", "test_local_port"),
                                              ("count-not-incrementing", "test_count_increments")])
def test_a_planted_defect_fails_its_scenario_on_the_virtual_clock(defect, scenario):
    with Gv500Rig(virtual=True, defects=[defect]) as rig:
        verdict, why = run_scenario(rig, SCENARIOS[scenario])
    assert verdict == "fail", why
