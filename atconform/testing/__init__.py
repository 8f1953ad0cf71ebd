"""Helpers shared by the self-tests (``tests/``) and the benchmarks (``bench/``); they
need the ``dev`` extra (hypothesis). Nothing in the suites imports this package."""
