"""The run's seed (fixtures/seed.py): the suites' payloads come from it, the report and a
recording keep it, and a replay sends the recorded bytes again."""
from __future__ import annotations

import json

from suite_run import run_suite

SELECT = ["suites/bg96/test_scenarios.py", "-k", "partial_reads", "-p", "no:randomly"]
PURPOSE = "BG96/SCENARIO/3.2/partial-read"


def test_a_replay_takes_the_recorded_seed_and_another_seed_diverges(tmp_path):
    rec = tmp_path / "rec"
    proc, verdicts, report = run_suite(tmp_path / "r1", *SELECT, "--seed", "5", "--record", str(rec))
    assert proc.returncode == 0 and verdicts[PURPOSE][0] == "pass", proc.stdout[-2000:]
    assert report["runs"][0]["seed"] == 5
    header = json.loads((rec / "bg96.jsonl").read_text().splitlines()[0])
    assert header["seed"] == 5
    # no --seed: the recording's, so the payloads are the recorded bytes
    proc, verdicts, report = run_suite(tmp_path / "r2", *SELECT, "--replay", str(rec))
    assert verdicts[PURPOSE][0] == "pass", proc.stdout[-2000:]
    assert report["runs"][0]["seed"] == 5
    # another seed: other payloads, which the recording does not have
    proc, verdicts, _ = run_suite(tmp_path / "r3", *SELECT, "--replay", str(rec), "--seed", "6")
    verdict, reason = verdicts[PURPOSE]
    assert verdict == "error" and "replay divergence" in reason, (verdict, reason)


def test_without_a_seed_each_run_draws_its_own(tmp_path):
    seeds = set()
    for k in range(2):
        proc, verdicts, report = run_suite(tmp_path / f"r{k}", *SELECT)
        assert verdicts[PURPOSE][0] == "pass", proc.stdout[-2000:]
        seeds.add(report["runs"][0]["seed"])
    assert len(seeds) == 2 and all(isinstance(s, int) for s in seeds)
