"""pytest wiring of the conformance suites: options, fixtures, verdicts and reports.

`pytest` alone runs every family's suites against the built-in emulators through a real
pty; `pytest --port DEVICE --model MODEL` runs them against a modem on a serial port.
"""
pytest_plugins = ["fixtures.parallel", "fixtures.options", "fixtures.lab", "fixtures.modem", "fixtures.peers",
                  "fixtures.ics", "fixtures.reporting", "fixtures.progress", "fixtures.replay", "fixtures.seed"]
