"""The Quectel GSM suites end to end, as a user runs them, in subprocesses:

* the default run (``pytest`` alone: every family against its built-in emulator) passes
  every GSM purpose (generated, scenarios, chapter 6, integrity) and reports the module's
  identity;
* ``pytest --port <pty> --model quectel_gsm`` against ``atconform emulate --model
  quectel_gsm --pty`` gives the same verdicts, the emulator-only purposes skipped with
  their reason.

Both runs start at collection (tests/suite_run.py :func:`early`) and are shared with the
other families' end-to-end tests.
"""
import json

from atconform.casegen import generate
from atconform.spec import load_family
from suite_run import DEFAULT_RUN, early_result, port_early, skip_inside_a_run, verdict_differences

skip_inside_a_run()

PURPOSES = generate(load_family("quectel_gsm"))
FAMILY = "QUECTEL_GSM/"
PORT_RUN = port_early("quectel_gsm", "suites/quectel_gsm", "--ignore", "suites/quectel_gsm/test_integrity.py")


@DEFAULT_RUN
def test_default_run_passes_every_gsm_purpose():
    r = early_result("default")
    verdicts = r.passes_every_purpose(PURPOSES, FAMILY)
    kinds = {k.split("/")[1] for k in verdicts}
    assert {"SCENARIO", "CHAPTER6"} <= kinds
    assert len([k for k in verdicts if "/SCENARIO/" in k]) >= 20
    assert "M95FAR02A08" in json.dumps(r.family("quectel_gsm")["firmware"])


@DEFAULT_RUN
@PORT_RUN
def test_port_mode_gives_the_same_verdicts():
    r = early_result("port-quectel_gsm")
    assert r.proc.returncode == 0, r.tail()
    assert r.report["runs"][0]["mode"] == "port"
    verdicts = r.verdicts

    def emulator_only(pid):
        return ("skipped", "emulator only") if pid.startswith(FAMILY + "CHAPTER6/") else None

    assert not verdict_differences(verdicts, early_result("default").verdicts, emulator_only)
    assert len(verdicts) >= len(PURPOSES) + 16
