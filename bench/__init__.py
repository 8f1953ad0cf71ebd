"""Benchmarks for atconform. Run ``python -m bench`` from the repo root (``make bench``).

Nothing here is a test: timings are reported (``bench/results/latest.json``), never
asserted. See ``bench/README.md``.
"""
