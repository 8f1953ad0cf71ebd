"""The Figure 1 policy with no I/O at all: its generator is fed scripted outcomes."""
from __future__ import annotations

import pytest

from atconform.families.bg96.policy import (
    Command, FlowChartPolicy, drive, GaveUp, Numbers, Outcome, PowerOff, PowerOn, Reopen, Sleep, Target, WaitUrc,
)
from atconform.spec import load_family


class Script:
    """A scripted modem: ``answers`` maps a command line to a list of outcomes
    (consumed in order, the last one repeats); time advances by Sleep and by timeouts."""

    def __init__(self, answers: dict[str, list]):
        self.answers = {k: list(v) for k, v in answers.items()}
        self.t = 0.0
        self.log: list[tuple[float, object]] = []

    def outcome(self, a) -> Outcome:
        self.log.append((self.t, a))
        if isinstance(a, Sleep):
            self.t += a.seconds
            return Outcome(self.t)
        if isinstance(a, (PowerOff, PowerOn, Reopen)):
            return Outcome(self.t, ok=True)
        key = a.line if isinstance(a, Command) else a.prefix
        seq = self.answers.get(key, [("OK", ())] if isinstance(a, Command) else [f"{a.prefix}0"])
        ans = seq.pop(0) if len(seq) > 1 else seq[0]
        if isinstance(a, WaitUrc):
            if ans is None:
                self.t += a.timeout
            return Outcome(self.t, urc=ans)
        if ans == "lost":
            return Outcome(self.t, port_lost=True)
        if ans is None:
            self.t += a.timeout
            return Outcome(self.t, final=None)
        final, info, fields = ans if len(ans) == 3 else (*ans, ())
        return Outcome(self.t, final=final, info=tuple(info), fields=tuple(fields))

    def drive(self, flow):
        return drive(flow, self.outcome)


FAMILY = load_family("bg96")
READY = {"AT+CPIN?": [("OK", ["+CPIN: READY"], [{"code": "READY"}])],
         "AT+CREG?": [("OK", ["+CREG: 0,1"], [{"n": 0, "stat": 1}])],
         "AT+CGREG?": [("OK", ["+CGREG: 0,1"], [{"n": 0, "stat": 1}])]}


def policy(**kw) -> FlowChartPolicy:
    return FlowChartPolicy(Numbers.from_spec(FAMILY), Target("192.0.2.1", 7), **kw)


def test_numbers_come_from_the_spec_and_a_missing_rule_is_named():
    n = Numbers.from_spec(FAMILY)
    assert (n.command_response_timeout, n.qiact_timeout, n.qiclose_timeout, n.ack_poll_count) == (60, 150, 10, 24)
    broken = FAMILY.model_copy(update={"flow_chart": [r for r in FAMILY.flow_chart if r.name != "qiact_timeout"]})
    with pytest.raises(KeyError, match="qiact_timeout"):
        Numbers.from_spec(broken)


def test_happy_path_sends_the_figure_in_order():
    s = Script(READY)
    p = policy()
    assert s.drive(p.run()) == 0
    lines = [a.line for _, a in s.log if isinstance(a, Command)]
    assert lines == ["AT", "AT+CPIN?", "AT+CREG?", "AT+CGREG?", 'AT+QICSGP=1,1,"internet","","",0',
                     "AT+QIACT=1", "AT+QIACT?", 'AT+QIOPEN=1,0,"TCP","192.0.2.1",7,0,0']
    assert p.trace[-1].action == "connected" and p.trace[-1].observation == "+QIOPEN: 0,0"


def test_each_command_waits_its_figure_time():
    s = Script(READY)
    s.drive(policy().run())
    timeouts = {a.line.split("=")[0]: a.timeout for _, a in s.log if isinstance(a, Command)}
    assert timeouts["AT+QIACT"] == 150 and timeouts["AT"] == 60
    waits = [a.timeout for _, a in s.log if isinstance(a, WaitUrc)]
    assert waits == [150]


def test_a_lost_port_is_found_again_without_a_reboot():
    s = Script({**READY, "AT+CREG?": ["lost", ("OK", ["+CREG: 0,5"], [{"n": 0, "stat": 5}])]})
    p = policy()
    s.drive(p.run())
    kinds = [type(a).__name__ for _, a in s.log]
    assert "Reopen" in kinds and "PowerOff" not in kinds
    assert p.total_reboots == 0


def test_max_reboots_gives_up():
    s = Script({"AT": [None]})
    p = policy(max_reboots=2)
    with pytest.raises(GaveUp, match="2 reboots"):
        s.drive(p.run())
    assert [d.action for d in p.trace].count("power on") == 2


def test_reboot_cuts_power_12s_after_qpowd_even_when_unanswered():
    s = Script({"AT": [None, ("OK", [])], "AT+QPOWD": [None], **READY})
    p = policy()
    s.drive(p.run())
    t_qpowd = next(t for t, a in s.log if isinstance(a, Command) and a.line == "AT+QPOWD")
    t_off = next(t for t, a in s.log if isinstance(a, PowerOff))
    assert (t_qpowd, t_off) == (60, 72)
