"""The Fibocom L610 suites end to end, as a user runs them, in subprocesses (issue 12 "done
when"): the default run (``pytest`` alone) passes every L610 purpose against the built-in
emulator, and ``pytest --port <pty> --model fibocom_l610`` against ``atconform emulate
--model fibocom_l610 --pty`` gives the same verdicts. A power cycle needs power control:
on the port without IXIT power commands those purposes are inconclusive, saying so.

Both runs start at collection (tests/suite_run.py :func:`early`) and are shared with the
other families' end-to-end tests."""
from atconform.casegen import generate
from atconform.spec import load_family
from suite_run import DEFAULT_RUN, early_result, port_early, skip_inside_a_run, verdict_differences

skip_inside_a_run()

PURPOSES = generate(load_family("fibocom_l610"))
FAMILY = "FIBOCOM_L610/"
PORT_RUN = port_early("fibocom_l610", "suites/fibocom_l610")


@DEFAULT_RUN
def test_default_run_passes_every_l610_purpose():
    verdicts = early_result("default").passes_every_purpose(PURPOSES, FAMILY)
    assert len([k for k in verdicts if k.startswith(FAMILY + "SCENARIO/")]) >= 20


@DEFAULT_RUN
@PORT_RUN
def test_port_mode_gives_the_same_verdicts():
    r = early_result("port-fibocom_l610")
    assert r.extra["emulator_returncode"] == 0
    default = {k: v for k, v in early_result("default").verdicts.items() if k.startswith(FAMILY)}
    assert set(r.verdicts) == set(default)

    def power_cycle(pid):
        return ("inconclusive", "power control") if pid.endswith("/PERSIST/power-cycle") else None

    assert not verdict_differences(r.verdicts, default, power_cycle)
