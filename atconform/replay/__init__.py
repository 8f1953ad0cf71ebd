"""Record and replay (issue 14 §3): a run's modem links kept byte for byte
(``pytest --record DIR``, :mod:`.recording`), played back as the modem by a sans-I/O
player (:mod:`.player`) behind a pty (:mod:`.server`: ``atconform emulate --replay DIR``,
or in process with ``pytest --replay DIR``). Where the harness now sends what the
recording does not have, the replay says so and the purpose's verdict is ``error``."""
