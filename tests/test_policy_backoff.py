"""Reboot back-off (BG96 Figure 1 note 3) from the spec's flow_chart numbers."""
import re
from pathlib import Path

import pytest

from atconform.policy.backoff import BackoffRule
from atconform.spec import load_family

BG96 = load_family("bg96")


def test_schedule_over_seven_consecutive_reboots():
    rule = BackoffRule.from_spec(BG96)
    # 3 reboots, then immediately, 10 min, 30 min, 1 h; "etc." read as 1 h from then on
    assert [rule.delay(n) for n in range(1, 10)] == [0, 0, 0, 0, 600, 1800, 3600, 3600, 3600]
    with pytest.raises(ValueError):
        rule.delay(0)


def test_policy_numbers_follow_the_spec_not_the_code():
    rule = BackoffRule.from_spec(BG96)
    mutated = BackoffRule(rule.free_reboots, (0, 300, 1800, 3600), rule.after)   # 10 min -> 5 min
    assert mutated.delay(5) == 300 != rule.delay(5)


def test_every_flow_chart_number_is_quoted_from_the_figure():
    seeds = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "002_0fb801db6955a51c.txt"
    if not seeds.is_file():
        pytest.skip("BG96 manual not beside the repository")
    text = re.sub(r"\s+", " ", seeds.read_text())
    for r in BG96.flow_chart:
        values = r.value if isinstance(r.value, list) else [r.value]
        assert r.quote, r.name
        # every non-zero number of the rule appears in its quote (in s, minutes or hours)
        for v in values:
            if v:
                forms = {f"{int(v)}s", f"{int(v)} ", f"{int(v)} seconds", f"{int(v)} times"}
                if v % 60 == 0:
                    forms |= {f"{int(v // 60)} minutes", "one hour" if v == 3600 else "", "two minutes"}
                assert any(f and f in r.quote for f in forms), (r.name, v, r.quote)
        # the quote's distinctive words are in the figure's OCR text
        key = re.sub(r"[^a-z ]", "", r.quote.lower().split("...")[0])[:25].strip()
        assert key and key in re.sub(r"[^a-z ]", "", text.lower()), (r.name, key)
